//! `chrono`: `NaiveDate` (DATE), `NaiveTime` (TIME within 0–24 h),
//! `NaiveDateTime` (DATETIME/TIMESTAMP) and `TimeDelta` (TIME as a duration).

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike};

use super::from_value::FromValue;
use super::temporal::{Date, DateTime, Time};
use super::to_value::{time_or_text, ToValue};
use super::value::Value;
use super::value_ref::{FromValueError, ValueRef};

fn naive_date(d: Date) -> Result<NaiveDate, FromValueError> {
    NaiveDate::from_ymd_opt(d.year() as i32, d.month() as u32, d.day() as u32).ok_or_else(|| {
        FromValueError::Invalid(format!("{d} is not a calendar date (zero or invalid)"))
    })
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
        time_or_text(micros)
    }
}
