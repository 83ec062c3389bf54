//! The crate's own date, time and decimal types: what MySQL/MariaDB can hold, no
//! more and no less.
//!
//! - [`Date`]: `DATE`, including the zero date `0000-00-00` and dates with zero parts
//!   (`2024-00-00`), which MySQL allows and most date libraries do not.
//! - [`Time`]: `TIME`, which is a signed duration rather than a time of day:
//!   `-838:59:59.999999` to `838:59:59.999999`.
//! - [`DateTime`]: `DATETIME(6)` and `TIMESTAMP` (as the server shows it, in the
//!   session time zone), with microseconds.
//! - [`Decimal`]: an exact `DECIMAL`, kept as its decimal text.
//!
//! Each parses the text the server sends without allocating, prints in the form the
//! server accepts ([`Display`](std::fmt::Display)), and parses that form back
//! ([`FromStr`]). With the cargo features `chrono`, `time` and `rust_decimal`, the
//! corresponding types of those crates convert too.

use std::fmt;
use std::str::FromStr;

use crate::row::ColumnType;
use crate::value::{FromValue, FromValueError, ValueRef};

/// A `DATE`. Zero parts are allowed (MySQL's `0000-00-00` and `2024-05-00`);
/// the ranges are year 0–9999, month 0–12, day 0–31.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// The zero date `0000-00-00`.
    pub const ZERO: Date = Date {
        year: 0,
        month: 0,
        day: 0,
    };

    /// A date, or `None` when a part is out of range (year 0–9999, month 0–12,
    /// day 0–31; the day is not checked against the month, as MySQL's
    /// `ALLOW_INVALID_DATES` does not either).
    pub const fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        if year > 9999 || month > 12 || day > 31 {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// The year (0–9999).
    pub const fn year(&self) -> u16 {
        self.year
    }
    /// The month (1–12, or 0 in a zero date).
    pub const fn month(&self) -> u8 {
        self.month
    }
    /// The day of the month (1–31, or 0 in a zero date).
    pub const fn day(&self) -> u8 {
        self.day
    }
    /// Whether any part is zero (`0000-00-00`, `2024-00-10`, …): such dates exist
    /// in MySQL but not in calendar libraries.
    pub const fn has_zero_part(&self) -> bool {
        self.year == 0 || self.month == 0 || self.day == 0
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl FromStr for Date {
    type Err = FromValueError;
    /// Parses `YYYY-MM-DD`.
    fn from_str(s: &str) -> Result<Date, FromValueError> {
        parse_date(s.as_bytes()).ok_or_else(|| invalid("a date (YYYY-MM-DD)", s.as_bytes()))
    }
}

/// A `TIME`: a signed duration of up to 838 hours, 59 minutes, 59.999999 seconds.
///
/// The value is `sign × (hours:minutes:seconds.micros)`; a zero time is never
/// negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Time {
    negative: bool,
    hours: u16,
    minutes: u8,
    seconds: u8,
    micros: u32,
}

impl Time {
    /// The largest hour count MySQL's `TIME` can hold.
    pub const MAX_HOURS: u16 = 838;

    /// A time, or `None` when a part is out of range (hours 0–838, minutes and
    /// seconds 0–59, micros 0–999999). A negative zero becomes zero.
    pub const fn new(
        negative: bool,
        hours: u16,
        minutes: u8,
        seconds: u8,
        micros: u32,
    ) -> Option<Time> {
        if hours > Self::MAX_HOURS || minutes > 59 || seconds > 59 || micros > 999_999 {
            return None;
        }
        let zero = hours == 0 && minutes == 0 && seconds == 0 && micros == 0;
        Some(Time {
            negative: negative && !zero,
            hours,
            minutes,
            seconds,
            micros,
        })
    }

    /// A time from a signed number of microseconds, or `None` when out of range.
    pub const fn from_micros(total: i64) -> Option<Time> {
        let negative = total < 0;
        let m = total.unsigned_abs();
        let micros = (m % 1_000_000) as u32;
        let secs = m / 1_000_000;
        let hours = secs / 3600;
        if hours > Self::MAX_HOURS as u64 {
            return None;
        }
        Time::new(
            negative,
            hours as u16,
            ((secs / 60) % 60) as u8,
            (secs % 60) as u8,
            micros,
        )
    }

    /// The signed total in microseconds.
    pub const fn as_micros(&self) -> i64 {
        let m = ((self.hours as i64 * 60 + self.minutes as i64) * 60 + self.seconds as i64)
            * 1_000_000
            + self.micros as i64;
        if self.negative {
            -m
        } else {
            m
        }
    }

    /// Whether the time is below zero.
    pub const fn is_negative(&self) -> bool {
        self.negative
    }
    /// Hours (0–838), without the sign.
    pub const fn hours(&self) -> u16 {
        self.hours
    }
    /// Minutes (0–59).
    pub const fn minutes(&self) -> u8 {
        self.minutes
    }
    /// Seconds (0–59).
    pub const fn seconds(&self) -> u8 {
        self.seconds
    }
    /// Microseconds (0–999999).
    pub const fn micros(&self) -> u32 {
        self.micros
    }
}

impl PartialOrd for Time {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Time {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_micros().cmp(&other.as_micros())
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negative {
            f.write_str("-")?;
        }
        write!(
            f,
            "{:02}:{:02}:{:02}",
            self.hours, self.minutes, self.seconds
        )?;
        if self.micros != 0 {
            write!(f, ".{:06}", self.micros)?;
        }
        Ok(())
    }
}

impl FromStr for Time {
    type Err = FromValueError;
    /// Parses `[-]H…H:MM:SS[.ffffff]`.
    fn from_str(s: &str) -> Result<Time, FromValueError> {
        parse_time(s.as_bytes())
            .ok_or_else(|| invalid("a time ([-]HHH:MM:SS[.ffffff])", s.as_bytes()))
    }
}

/// A `DATETIME(6)` or `TIMESTAMP`: a [`Date`] (zero parts allowed) and a time of day
/// with microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct DateTime {
    date: Date,
    hour: u8,
    minute: u8,
    second: u8,
    micros: u32,
}

impl DateTime {
    /// A date and time, or `None` when a part is out of range (hour 0–23, minute
    /// and second 0–59, micros 0–999999).
    pub const fn new(
        date: Date,
        hour: u8,
        minute: u8,
        second: u8,
        micros: u32,
    ) -> Option<DateTime> {
        if hour > 23 || minute > 59 || second > 59 || micros > 999_999 {
            return None;
        }
        Some(DateTime {
            date,
            hour,
            minute,
            second,
            micros,
        })
    }

    /// The date part.
    pub const fn date(&self) -> Date {
        self.date
    }
    /// Hour (0–23).
    pub const fn hour(&self) -> u8 {
        self.hour
    }
    /// Minute (0–59).
    pub const fn minute(&self) -> u8 {
        self.minute
    }
    /// Second (0–59).
    pub const fn second(&self) -> u8 {
        self.second
    }
    /// Microseconds (0–999999).
    pub const fn micros(&self) -> u32 {
        self.micros
    }
}

impl From<Date> for DateTime {
    /// Midnight of that day.
    fn from(date: Date) -> DateTime {
        DateTime {
            date,
            hour: 0,
            minute: 0,
            second: 0,
            micros: 0,
        }
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:02}:{:02}:{:02}",
            self.date, self.hour, self.minute, self.second
        )?;
        if self.micros != 0 {
            write!(f, ".{:06}", self.micros)?;
        }
        Ok(())
    }
}

impl FromStr for DateTime {
    type Err = FromValueError;
    /// Parses `YYYY-MM-DD HH:MM:SS[.ffffff]` (a `T` instead of the space is accepted
    /// too), or a bare `YYYY-MM-DD` (midnight).
    fn from_str(s: &str) -> Result<DateTime, FromValueError> {
        let b = s.as_bytes();
        let r = if b.len() == 10 {
            parse_date(b).map(DateTime::from)
        } else {
            parse_datetime(b)
        };
        r.ok_or_else(|| invalid("a date and time (YYYY-MM-DD HH:MM:SS[.ffffff])", b))
    }
}

/// An exact `DECIMAL`, kept as its decimal text (`-12.50`, `0.001`). The text is
/// checked (an optional `-`, digits, an optional fraction) and never goes through a
/// float. Equality compares the text, so `1.5` and `1.50` differ, as their scales do.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Decimal(Box<str>);

impl Decimal {
    /// The decimal text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the number is below zero (a `-` sign and a non-zero digit).
    pub fn is_negative(&self) -> bool {
        self.0.starts_with('-') && self.0.bytes().any(|c| matches!(c, b'1'..=b'9'))
    }

    /// Digits after the decimal point.
    pub fn scale(&self) -> usize {
        self.0.split_once('.').map_or(0, |(_, f)| f.len())
    }

    /// Check and normalise decimal text: an optional sign, digits, an optional
    /// `.` and fraction. `+1` becomes `1`, `.5` becomes `0.5`, `5.` becomes `5`.
    fn parse(b: &[u8]) -> Option<Decimal> {
        let (neg, rest) = match b.first()? {
            b'-' => (true, &b[1..]),
            b'+' => (false, &b[1..]),
            _ => (false, b),
        };
        let (int, frac) = match rest.iter().position(|&c| c == b'.') {
            Some(p) => (&rest[..p], &rest[p + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        if !int.iter().chain(frac).all(u8::is_ascii_digit) {
            return None;
        }
        let mut s = String::with_capacity(b.len() + 2);
        if neg {
            s.push('-');
        }
        if int.is_empty() {
            s.push('0');
        }
        // All ASCII digits (checked above).
        s.push_str(std::str::from_utf8(int).ok()?);
        if !frac.is_empty() {
            s.push('.');
            s.push_str(std::str::from_utf8(frac).ok()?);
        }
        Some(Decimal(s.into()))
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Decimal {
    type Err = FromValueError;
    /// Parses `[-]digits[.digits]` (no exponent).
    fn from_str(s: &str) -> Result<Decimal, FromValueError> {
        Decimal::parse(s.as_bytes()).ok_or_else(|| invalid("a decimal number", s.as_bytes()))
    }
}

macro_rules! decimal_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Decimal {
            fn from(n: $t) -> Decimal {
                Decimal(n.to_string().into())
            }
        }
    )*};
}

decimal_from_int!(i8, i16, i32, i64, i128, u8, u16, u32, u64, u128);

// ----- parsing the text protocol, without allocating -----

fn invalid(what: &str, b: &[u8]) -> FromValueError {
    FromValueError::Invalid(format!("`{}` is not {what}", String::from_utf8_lossy(b)))
}

/// Exactly `b.len()` ASCII digits as a number.
#[inline]
fn digits(b: &[u8]) -> Option<u32> {
    let mut n = 0u32;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + d as u32;
    }
    Some(n)
}

/// `.f` … `.ffffff` (or nothing) as microseconds.
#[inline]
fn fraction(b: &[u8]) -> Option<u32> {
    match b {
        [] => Some(0),
        [b'.', f @ ..] if !f.is_empty() && f.len() <= 6 => {
            const SCALE: [u32; 7] = [1, 100_000, 10_000, 1000, 100, 10, 1];
            Some(digits(f)? * SCALE[f.len()])
        }
        _ => None,
    }
}

/// `YYYY-MM-DD`.
#[inline]
pub(crate) fn parse_date(b: &[u8]) -> Option<Date> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    Date::new(
        digits(&b[0..4])? as u16,
        digits(&b[5..7])? as u8,
        digits(&b[8..10])? as u8,
    )
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]`.
#[inline]
pub(crate) fn parse_datetime(b: &[u8]) -> Option<DateTime> {
    if b.len() < 19 || !matches!(b[10], b' ' | b'T') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    DateTime::new(
        parse_date(&b[..10])?,
        digits(&b[11..13])? as u8,
        digits(&b[14..16])? as u8,
        digits(&b[17..19])? as u8,
        fraction(&b[19..])?,
    )
}

/// `[-]H…H:MM:SS[.ffffff]` (one to three hour digits).
#[inline]
pub(crate) fn parse_time(b: &[u8]) -> Option<Time> {
    let (negative, b) = match b.first()? {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    let colon = b.iter().position(|&c| c == b':')?;
    if colon == 0 || colon > 3 || b.len() < colon + 6 {
        return None;
    }
    let rest = &b[colon..];
    if rest[3] != b':' {
        return None;
    }
    let hours = digits(&b[..colon])?;
    if hours > Time::MAX_HOURS as u32 {
        return None;
    }
    Time::new(
        negative,
        hours as u16,
        digits(&rest[1..3])? as u8,
        digits(&rest[4..6])? as u8,
        fraction(&rest[6..])?,
    )
}

// ----- FromValue -----

fn temporal_bytes<'a>(v: &ValueRef<'a>, want: &str) -> Result<&'a [u8], FromValueError> {
    let b = v.raw().ok_or(FromValueError::Null)?;
    let t = v.column().column_type();
    if !t.is_temporal() {
        return Err(FromValueError::WrongType(format!(
            "{t:?} column is not {want}"
        )));
    }
    Ok(b)
}

impl FromValue for Date {
    fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
        let b = temporal_bytes(&v, "a DATE")?;
        match v.column().column_type() {
            ColumnType::Date | ColumnType::NewDate => {
                parse_date(b).ok_or_else(|| invalid("a date", b))
            }
            t => Err(FromValueError::WrongType(format!(
                "{t:?} column is not a DATE; read it as DateTime or Time"
            ))),
        }
    }
}

impl FromValue for DateTime {
    fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
        let b = temporal_bytes(&v, "a DATETIME")?;
        match v.column().column_type() {
            ColumnType::DateTime | ColumnType::Timestamp => {
                parse_datetime(b).ok_or_else(|| invalid("a date and time", b))
            }
            ColumnType::Date | ColumnType::NewDate => parse_date(b)
                .map(DateTime::from)
                .ok_or_else(|| invalid("a date", b)),
            t => Err(FromValueError::WrongType(format!(
                "{t:?} column is not a DATETIME; read it as Time"
            ))),
        }
    }
}

impl FromValue for Time {
    fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
        let b = temporal_bytes(&v, "a TIME")?;
        match v.column().column_type() {
            ColumnType::Time => parse_time(b).ok_or_else(|| invalid("a time", b)),
            t => Err(FromValueError::WrongType(format!(
                "{t:?} column is not a TIME; read it as DateTime or Date"
            ))),
        }
    }
}

impl FromValue for Decimal {
    fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
        let b = v.raw().ok_or(FromValueError::Null)?;
        let t = v.column().column_type();
        if t.is_decimal() || t.is_integer() {
            return Decimal::parse(b).ok_or_else(|| invalid("a decimal number", b));
        }
        if t == ColumnType::Bit {
            return crate::value::bit_value(b).map(Decimal::from);
        }
        Err(FromValueError::WrongType(format!(
            "{t:?} column is not an exact number{}",
            if t.is_float() {
                "; FLOAT/DOUBLE are approximate, read it as f64"
            } else {
                ""
            }
        )))
    }
}

// ----- optional crates -----

#[cfg(feature = "chrono")]
mod chrono_impls {
    //! `chrono`: `NaiveDate` (DATE), `NaiveTime` (TIME within 0–24 h),
    //! `NaiveDateTime` (DATETIME/TIMESTAMP) and `TimeDelta` (TIME as a duration).
    use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike};

    use super::{Date, DateTime, Time};
    use crate::params::ToValue;
    use crate::value::{FromValue, FromValueError, Value, ValueRef};

    fn naive_date(d: Date) -> Result<NaiveDate, FromValueError> {
        NaiveDate::from_ymd_opt(d.year() as i32, d.month() as u32, d.day() as u32).ok_or_else(
            || FromValueError::Invalid(format!("{d} is not a calendar date (zero or invalid)")),
        )
    }

    impl FromValue for NaiveDate {
        fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
            naive_date(Date::from_value(v)?)
        }
    }

    impl FromValue for NaiveDateTime {
        fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
            let dt = DateTime::from_value(v)?;
            let t = NaiveTime::from_hms_micro_opt(
                dt.hour() as u32,
                dt.minute() as u32,
                dt.second() as u32,
                dt.micros(),
            )
            .ok_or_else(|| FromValueError::Invalid(format!("{dt} has an invalid time")))?;
            Ok(naive_date(dt.date())?.and_time(t))
        }
    }

    impl FromValue for NaiveTime {
        fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
            let t = Time::from_value(v)?;
            if t.is_negative() || t.hours() > 23 {
                return Err(FromValueError::Overflow);
            }
            NaiveTime::from_hms_micro_opt(
                t.hours() as u32,
                t.minutes() as u32,
                t.seconds() as u32,
                t.micros(),
            )
            .ok_or(FromValueError::Overflow)
        }
    }

    impl FromValue for TimeDelta {
        fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
            Ok(TimeDelta::microseconds(Time::from_value(v)?.as_micros()))
        }
    }

    fn date_of(d: &NaiveDate) -> Date {
        // chrono's years can lie outside 0..=9999; such a date renders as an
        // out-of-range literal that the server refuses.
        Date {
            year: d.year().clamp(0, u16::MAX as i32) as u16,
            month: d.month() as u8,
            day: d.day() as u8,
        }
    }

    /// Microseconds of a chrono time (a leap second's nanoseconds are clamped).
    fn micros_of(nanos: u32) -> u32 {
        (nanos / 1000).min(999_999)
    }

    impl ToValue for NaiveDate {
        fn to_value(&self) -> Value {
            Value::Date(date_of(self))
        }
    }

    impl ToValue for NaiveTime {
        fn to_value(&self) -> Value {
            Value::Time(Time {
                negative: false,
                hours: self.hour() as u16,
                minutes: self.minute() as u8,
                seconds: self.second() as u8,
                micros: micros_of(self.nanosecond()),
            })
        }
    }

    impl ToValue for NaiveDateTime {
        fn to_value(&self) -> Value {
            Value::DateTime(DateTime {
                date: date_of(&self.date()),
                hour: self.hour() as u8,
                minute: self.minute() as u8,
                second: self.second() as u8,
                micros: micros_of(self.nanosecond()),
            })
        }
    }

    impl ToValue for TimeDelta {
        /// A `TIME` (truncated to microseconds). Beyond ±838:59:59.999999 the
        /// duration is sent as text and the server decides (an error in strict mode).
        fn to_value(&self) -> Value {
            let micros = self.num_microseconds().unwrap_or(i64::MAX);
            super::time_or_text(micros)
        }
    }
}

#[cfg(feature = "time")]
mod time_impls {
    //! `time`: `Date` (DATE), `Time` (TIME within 0–24 h), `PrimitiveDateTime`
    //! (DATETIME/TIMESTAMP) and `Duration` (TIME as a duration).
    use super::{Date, DateTime, Time};
    use crate::params::ToValue;
    use crate::value::{FromValue, FromValueError, Value, ValueRef};

    fn to_date(d: Date) -> Result<time::Date, FromValueError> {
        let month = time::Month::try_from(d.month()).map_err(|_| {
            FromValueError::Invalid(format!("{d} is not a calendar date (zero or invalid)"))
        })?;
        time::Date::from_calendar_date(d.year() as i32, month, d.day())
            .map_err(|_| FromValueError::Invalid(format!("{d} is not a calendar date")))
    }

    impl FromValue for time::Date {
        fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
            to_date(Date::from_value(v)?)
        }
    }

    impl FromValue for time::PrimitiveDateTime {
        fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
            let dt = DateTime::from_value(v)?;
            let t = time::Time::from_hms_micro(dt.hour(), dt.minute(), dt.second(), dt.micros())
                .map_err(|_| FromValueError::Invalid(format!("{dt} has an invalid time")))?;
            Ok(time::PrimitiveDateTime::new(to_date(dt.date())?, t))
        }
    }

    impl FromValue for time::Time {
        fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
            let t = Time::from_value(v)?;
            if t.is_negative() || t.hours() > 23 {
                return Err(FromValueError::Overflow);
            }
            time::Time::from_hms_micro(t.hours() as u8, t.minutes(), t.seconds(), t.micros())
                .map_err(|_| FromValueError::Overflow)
        }
    }

    impl FromValue for time::Duration {
        fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
            Ok(time::Duration::microseconds(
                Time::from_value(v)?.as_micros(),
            ))
        }
    }

    fn date_of(d: &time::Date) -> Date {
        Date {
            year: d.year().clamp(0, u16::MAX as i32) as u16,
            month: d.month() as u8,
            day: d.day(),
        }
    }

    impl ToValue for time::Date {
        fn to_value(&self) -> Value {
            Value::Date(date_of(self))
        }
    }

    impl ToValue for time::Time {
        fn to_value(&self) -> Value {
            Value::Time(Time {
                negative: false,
                hours: self.hour() as u16,
                minutes: self.minute(),
                seconds: self.second(),
                micros: self.microsecond(),
            })
        }
    }

    impl ToValue for time::PrimitiveDateTime {
        fn to_value(&self) -> Value {
            Value::DateTime(DateTime {
                date: date_of(&self.date()),
                hour: self.hour(),
                minute: self.minute(),
                second: self.second(),
                micros: self.microsecond(),
            })
        }
    }

    impl ToValue for time::Duration {
        /// A `TIME` (truncated to microseconds). Beyond ±838:59:59.999999 the
        /// duration is sent as text and the server decides (an error in strict mode).
        fn to_value(&self) -> Value {
            let micros = i64::try_from(self.whole_microseconds()).unwrap_or(i64::MAX);
            super::time_or_text(micros)
        }
    }
}

/// A duration in microseconds as a TIME value, or as `[-]H:MM:SS.ffffff` text when
/// it is out of TIME's range (the server then clamps or refuses it).
#[cfg(any(feature = "chrono", feature = "time"))]
fn time_or_text(micros: i64) -> crate::value::Value {
    match Time::from_micros(micros) {
        Some(t) => crate::value::Value::Time(t),
        None => {
            let m = micros.unsigned_abs();
            let s = m / 1_000_000;
            crate::value::Value::Text(format!(
                "{}{}:{:02}:{:02}.{:06}",
                if micros < 0 { "-" } else { "" },
                s / 3600,
                (s / 60) % 60,
                s % 60,
                m % 1_000_000
            ))
        }
    }
}

#[cfg(feature = "rust_decimal")]
mod rust_decimal_impls {
    //! `rust_decimal::Decimal` for DECIMAL (and integer) columns.
    use std::str::FromStr;

    use crate::params::ToValue;
    use crate::value::{FromValue, FromValueError, Value, ValueRef};

    impl FromValue for rust_decimal::Decimal {
        /// Exact: a value with more than 28 significant digits is an overflow,
        /// never rounded.
        fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
            let d = super::Decimal::from_value(v)?;
            rust_decimal::Decimal::from_str_exact(d.as_str()).map_err(|_| FromValueError::Overflow)
        }
    }

    impl ToValue for rust_decimal::Decimal {
        fn to_value(&self) -> Value {
            let s = self.to_string();
            match super::Decimal::from_str(&s) {
                Ok(d) => Value::Decimal(d),
                Err(_) => Value::Text(s),
            }
        }
    }
}

#[cfg(feature = "serde_json")]
mod serde_json_impls {
    //! `serde_json::Value` for JSON (and any text) columns.
    use crate::params::ToValue;
    use crate::value::{FromValue, FromValueError, Value, ValueRef};

    impl FromValue for serde_json::Value {
        fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
            let b = v.raw().ok_or(FromValueError::Null)?;
            if !v.column().column_type().is_string_like() {
                return Err(FromValueError::WrongType(format!(
                    "{:?} column does not hold JSON text",
                    v.column().column_type()
                )));
            }
            serde_json::from_slice(b).map_err(|e| FromValueError::Invalid(format!("not JSON: {e}")))
        }
    }

    impl ToValue for serde_json::Value {
        /// The JSON text, as a string parameter.
        fn to_value(&self) -> Value {
            Value::Text(self.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dates() {
        assert_eq!(parse_date(b"2024-02-29"), Date::new(2024, 2, 29));
        assert_eq!(parse_date(b"0000-00-00"), Some(Date::ZERO));
        assert_eq!(parse_date(b"2024-13-01"), None);
        assert_eq!(parse_date(b"2024-1-01"), None);
        assert_eq!(parse_date(b"2024-01-0x"), None);
        assert_eq!(Date::new(9999, 12, 31).unwrap().to_string(), "9999-12-31");
        assert_eq!("0000-00-00".parse::<Date>().unwrap(), Date::ZERO);
    }

    #[test]
    fn parses_times() {
        let t = parse_time(b"-838:59:59.000000").unwrap();
        assert!(t.is_negative());
        assert_eq!(
            (t.hours(), t.minutes(), t.seconds(), t.micros()),
            (838, 59, 59, 0)
        );
        assert_eq!(t.to_string(), "-838:59:59");
        let t = parse_time(b"23:59:59.999999").unwrap();
        assert_eq!(t.to_string(), "23:59:59.999999");
        assert_eq!(parse_time(b"12:00:00.5").unwrap().micros(), 500_000);
        assert_eq!(parse_time(b"5:06:07").unwrap().to_string(), "05:06:07");
        assert_eq!(parse_time(b"-00:00:00").unwrap(), Time::default());
        assert!(!parse_time(b"-00:00:00").unwrap().is_negative());
        assert_eq!(parse_time(b"839:00:00"), None);
        assert_eq!(parse_time(b"1:2:3"), None);
        assert_eq!(parse_time(b"12:00:00."), None);
        assert_eq!(parse_time(b"12:00:00.1234567"), None);
        assert_eq!(parse_time(b""), None);
        assert_eq!(parse_time(b"-"), None);
        let t = Time::new(true, 838, 59, 59, 999_999).unwrap();
        assert_eq!(Time::from_micros(t.as_micros()), Some(t));
        assert_eq!(Time::from_micros(-3_020_400_000_000), None);
        assert!(Time::new(true, 1, 0, 0, 0).unwrap() < Time::new(false, 0, 0, 0, 1).unwrap());
    }

    #[test]
    fn parses_datetimes() {
        let dt = parse_datetime(b"2038-01-19 03:14:07.499999").unwrap();
        assert_eq!(dt.to_string(), "2038-01-19 03:14:07.499999");
        assert_eq!(dt.date(), Date::new(2038, 1, 19).unwrap());
        assert_eq!(
            parse_datetime(b"0000-00-00 00:00:00").unwrap(),
            DateTime::from(Date::ZERO)
        );
        assert_eq!(parse_datetime(b"2024-01-01 24:00:00"), None);
        assert_eq!(parse_datetime(b"2024-01-01"), None);
        assert_eq!(
            "2024-01-01".parse::<DateTime>().unwrap().to_string(),
            "2024-01-01 00:00:00"
        );
        assert_eq!(
            "2024-01-01T10:11:12.1"
                .parse::<DateTime>()
                .unwrap()
                .micros(),
            100_000
        );
    }

    #[test]
    fn decimals() {
        let d: Decimal = "-12.50".parse().unwrap();
        assert_eq!(d.as_str(), "-12.50");
        assert!(d.is_negative());
        assert_eq!(d.scale(), 2);
        assert_eq!("+.5".parse::<Decimal>().unwrap().as_str(), "0.5");
        assert_eq!("5.".parse::<Decimal>().unwrap().as_str(), "5");
        assert!(!"-0.00".parse::<Decimal>().unwrap().is_negative());
        for bad in ["", "-", ".", "1e5", "1.2.3", "1,5", " 1", "0x10"] {
            assert!(bad.parse::<Decimal>().is_err(), "{bad:?}");
        }
        assert_eq!(Decimal::from(u64::MAX).as_str(), "18446744073709551615");
    }
}
