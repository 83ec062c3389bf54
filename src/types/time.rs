//! `time`: `Date` (DATE), `Time` (TIME within 0–24 h), `PrimitiveDateTime`
//! (DATETIME/TIMESTAMP) and `Duration` (TIME as a duration).

use super::from_value::FromValue;
use super::temporal::{Date, DateTime, Time};
use super::to_value::{time_or_text, ToValue};
use super::value::Value;
use super::value_ref::{FromValueError, ValueRef};

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
        time_or_text(micros)
    }
}
