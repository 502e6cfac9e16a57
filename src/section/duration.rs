//! Backstage duration values (`readDurationFromConfig`): an object of units, an `ms`-style
//! string (`2h`, `30 minutes`) or an ISO-8601 duration (`PT1H`).

use serde::Deserialize;

const MINUTE: f64 = 60.0;
const HOUR: f64 = 3600.0;
const DAY: f64 = 86_400.0;

/// The object form; months count as 30 days and years as 365, as Backstage converts them.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DurationObject {
    pub years: Option<f64>,
    pub months: Option<f64>,
    pub weeks: Option<f64>,
    pub days: Option<f64>,
    pub hours: Option<f64>,
    pub minutes: Option<f64>,
    pub seconds: Option<f64>,
    pub milliseconds: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DurationValue {
    Text(String),
    Object(DurationObject),
}

impl DurationValue {
    /// The duration in seconds, or a message that says what is wrong and what is accepted.
    pub fn to_seconds(&self) -> Result<f64, String> {
        match self {
            Self::Object(object) => Ok(object.to_seconds()),
            Self::Text(text) => parse_text(text.trim()),
        }
    }
}

impl DurationObject {
    fn to_seconds(&self) -> f64 {
        let parts = [
            (self.years, 365.0 * DAY),
            (self.months, 30.0 * DAY),
            (self.weeks, 7.0 * DAY),
            (self.days, DAY),
            (self.hours, HOUR),
            (self.minutes, MINUTE),
            (self.seconds, 1.0),
            (self.milliseconds, 0.001),
        ];
        parts
            .iter()
            .map(|(value, unit)| value.unwrap_or(0.0) * unit)
            .sum()
    }
}

fn parse_text(text: &str) -> Result<f64, String> {
    let invalid = || {
        format!(
            "\"{text}\" is not a duration; use a string like \"1h\" or \"30 minutes\", \
             an ISO-8601 duration like \"PT1H\", or an object like {{ hours: 1 }}"
        )
    };
    if text.starts_with('P') {
        return parse_iso8601(text).ok_or_else(invalid);
    }
    parse_ms_style(text).ok_or_else(invalid)
}

/// The `ms` package's grammar; a unit is required (Backstage rejects bare numbers).
fn parse_ms_style(text: &str) -> Option<f64> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let unit = unit.trim_start_matches(' ').to_ascii_lowercase();
    let scale = match unit.as_str() {
        "milliseconds" | "millisecond" | "msecs" | "msec" | "ms" => 0.001,
        "seconds" | "second" | "secs" | "sec" | "s" => 1.0,
        "minutes" | "minute" | "mins" | "min" | "m" => MINUTE,
        "hours" | "hour" | "hrs" | "hr" | "h" => HOUR,
        "days" | "day" | "d" => DAY,
        "weeks" | "week" | "w" => 7.0 * DAY,
        "years" | "year" | "yrs" | "yr" | "y" => 365.25 * DAY,
        _ => return None,
    };
    Some(value * scale)
}

/// `PnYnMnWnDTnHnMnS`, decimals allowed on any component.
fn parse_iso8601(text: &str) -> Option<f64> {
    let body = text.strip_prefix('P')?;
    let (date, time) = match body.split_once('T') {
        Some((date, time)) if !time.is_empty() => (date, Some(time)),
        Some(_) => return None,
        None => (body, None),
    };
    let date_units = [
        ('Y', 365.0 * DAY),
        ('M', 30.0 * DAY),
        ('W', 7.0 * DAY),
        ('D', DAY),
    ];
    let time_units = [('H', HOUR), ('M', MINUTE), ('S', 1.0)];
    let mut total = sum_components(date, &date_units)?;
    if let Some(time) = time {
        total += sum_components(time, &time_units)?;
    }
    (!body.is_empty()).then_some(total)
}

fn sum_components(mut text: &str, units: &[(char, f64)]) -> Option<f64> {
    let mut total = 0.0;
    let mut next_unit = 0;
    while !text.is_empty() {
        let end = text.find(|c: char| c.is_ascii_alphabetic())?;
        let value: f64 = text[..end].replace(',', ".").parse().ok()?;
        let designator = text[end..].chars().next()?;
        let position = units[next_unit..]
            .iter()
            .position(|(unit, _)| *unit == designator)?;
        total += value * units[next_unit + position].1;
        next_unit += position + 1;
        text = &text[end + 1..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> Result<f64, String> {
        DurationValue::Text(value.to_owned()).to_seconds()
    }

    #[test]
    fn ms_style_strings() {
        assert_eq!(text("2h"), Ok(7200.0));
        assert_eq!(text("30 minutes"), Ok(1800.0));
        assert_eq!(text("1.5 hours"), Ok(5400.0));
        assert_eq!(text("10m"), Ok(600.0));
        assert_eq!(text("1 day"), Ok(86_400.0));
        assert_eq!(text("500ms"), Ok(0.5));
    }

    #[test]
    fn iso8601_strings() {
        assert_eq!(text("PT1H"), Ok(3600.0));
        assert_eq!(text("P1DT2H30M"), Ok(86_400.0 + 9000.0));
        assert_eq!(text("PT0.5S"), Ok(0.5));
        assert_eq!(text("P2W"), Ok(14.0 * 86_400.0));
    }

    #[test]
    fn rejects_bare_numbers_and_garbage() {
        for bad in [
            "3600",
            "",
            "soon",
            "2 fortnights",
            "P",
            "PT",
            "PT1H2D",
            "P1H",
            "h",
        ] {
            assert!(text(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn object_form_uses_backstage_month_and_year_lengths() {
        let object = DurationObject {
            months: Some(1.0),
            minutes: Some(5.0),
            ..Default::default()
        };
        assert_eq!(
            DurationValue::Object(object).to_seconds(),
            Ok(30.0 * DAY + 300.0)
        );
    }
}
