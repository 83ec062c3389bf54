//! The crate's own date and time types: what MySQL/MariaDB can hold, no more and no
//! less.
//!
//! - [`Date`]: `DATE`, including the zero date `0000-00-00` and dates with zero parts
//!   (`2024-00-00`), which MySQL allows and most date libraries do not.
//! - [`Time`]: `TIME`, which is a signed duration rather than a time of day:
//!   `-838:59:59.999999` to `838:59:59.999999`.
//! - [`DateTime`]: `DATETIME(6)` and `TIMESTAMP` (as the server shows it, in the
//!   session time zone), with microseconds.
//!
//! Each parses the text the server sends without allocating, prints in the form the
//! server accepts ([`Display`](std::fmt::Display)), and parses that form back
//! ([`FromStr`]).

use std::fmt;
use std::str::FromStr;

use super::from_value::{invalid, FromValue};
use super::value_ref::{FromValueError, ValueRef};
use crate::column::ColumnType;

/// A `DATE`. Zero parts are allowed (MySQL's `0000-00-00` and `2024-05-00`);
/// the ranges are year 0–9999, month 0–12, day 0–31.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Date {
    pub(super) year: u16,
    pub(super) month: u8,
    pub(super) day: u8,
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
    pub(super) negative: bool,
    pub(super) hours: u16,
    pub(super) minutes: u8,
    pub(super) seconds: u8,
    pub(super) micros: u32,
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
    pub(super) date: Date,
    pub(super) hour: u8,
    pub(super) minute: u8,
    pub(super) second: u8,
    pub(super) micros: u32,
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

// ----- parsing the text protocol, without allocating -----

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
}
