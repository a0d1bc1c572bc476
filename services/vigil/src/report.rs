//! `vigil report transparency`: the period from the command line, the
//! report from the store, written as JSON or self-contained HTML.

use anyhow::Context;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use vigil_accountability::TransparencyReport;
use vigil_store::accountability::Period;
use vigil_store::Store;

/// Output format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Json,
    Html,
}

/// A bound as given on the command line: an RFC 3339 time, or a date
/// (`YYYY-MM-DD`, UTC). `end` makes a date mean the end of that day.
pub fn parse_bound(s: &str, end: bool) -> anyhow::Result<String> {
    let t: DateTime<Utc> = if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        t.with_timezone(&Utc)
    } else {
        let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").with_context(|| {
            format!("{s:?} is neither a date (YYYY-MM-DD) nor an RFC 3339 time")
        })?;
        let d = if end {
            d.succ_opt().context("date out of range")?
        } else {
            d
        };
        d.and_hms_opt(0, 0, 0)
            .context("date out of range")?
            .and_utc()
    };
    Ok(t.to_rfc3339_opts(SecondsFormat::Micros, true))
}

/// The period `[from, to)` from optional command-line bounds.
pub fn period(from: Option<&str>, to: Option<&str>) -> anyhow::Result<Period> {
    let p = Period {
        from: from.map(|f| parse_bound(f, false)).transpose()?,
        to: to.map(|t| parse_bound(t, true)).transpose()?,
    };
    if let (Some(f), Some(t)) = (&p.from, &p.to) {
        anyhow::ensure!(f < t, "--from must be before --to");
    }
    Ok(p)
}

/// Build the report for a period.
pub async fn transparency(store: &Store, period: &Period) -> anyhow::Result<TransparencyReport> {
    Ok(store.transparency_report(period, Utc::now()).await?)
}

/// Render a report.
pub fn render(report: &TransparencyReport, format: ReportFormat) -> String {
    match format {
        ReportFormat::Json => report.to_json() + "\n",
        ReportFormat::Html => report.to_html(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_periods() {
        assert_eq!(
            parse_bound("2026-03-01", false).unwrap(),
            "2026-03-01T00:00:00.000000Z"
        );
        assert_eq!(
            parse_bound("2026-03-01", true).unwrap(),
            "2026-03-02T00:00:00.000000Z"
        );
        assert_eq!(
            parse_bound("2026-03-01T10:00:00+02:00", false).unwrap(),
            "2026-03-01T08:00:00.000000Z"
        );
        assert!(parse_bound("yesterday", false).is_err());
        assert!(period(Some("2026-03-02"), Some("2026-03-01")).is_err());
        assert_eq!(period(None, None).unwrap(), Period::default());
    }
}
