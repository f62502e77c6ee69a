//! Time helpers without a date crate.
//!
//! Fixtures give ages relative to when the fake starts ("7d"), so every run
//! sees the same relative picture however long ago the fixture was written.
//! GitLab prints times in a few distinct shapes, and clients parse them, so
//! the exact formats live here in one place.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The instant fixture ages count back from: when this process built its first fixture.
/// Every fake a process starts sees the same instants, so two fakes of one fixture hold
/// byte-identical images (a cosign tag's name is its subject's digest, and a test that
/// compares the registries of two runs must find the same names); ages stay relative to
/// the present, so a fixture never goes stale.
pub(crate) fn epoch_ms() -> i64 {
    static EPOCH: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(now_ms)
}

/// Parses a relative age: `45s`, `90m`, `12h`, `7d`, `2w`.
pub(crate) fn parse_age_ms(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("age {s:?} has no unit (use s, m, h, d or w)"))?;
    let (num, unit) = s.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| format!("age {s:?} does not start with a number"))?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => {
            return Err(format!(
                "age {s:?}: unknown unit {unit:?} (use s, m, h, d or w)"
            ))
        }
    };
    Ok(n * unit_ms)
}

struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    min: u32,
    sec: u32,
    milli: u32,
    weekday: u32, // 0 = Sunday
}

fn civil(ms: i64) -> Civil {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: sod / 3600,
        min: sod / 60 % 60,
        sec: sod % 60,
        milli,
        weekday: (days + 4).rem_euclid(7) as u32,
    }
}

/// `2019-01-10T13:39:08.229Z`: how GitLab's API prints ActiveRecord
/// timestamps (repository and project `created_at`, `next_run_at`), see the
/// examples in doc/api/container_registry.md and doc/api/projects.md.
pub(crate) fn rfc3339_z(ms: i64) -> String {
    let c = civil(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year, c.month, c.day, c.hour, c.min, c.sec, c.milli
    )
}

/// `2019-01-06T16:49:51.272+00:00`: a tag's `created_at` is a Ruby DateTime
/// parsed from the image config, which ActiveSupport prints with a numeric
/// offset (example response of "Get details of a registry repository tag" in
/// doc/api/container_registry.md).
pub(crate) fn rfc3339_offset(ms: i64) -> String {
    let c = civil(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+00:00",
        c.year, c.month, c.day, c.hour, c.min, c.sec, c.milli
    )
}

/// `2019-01-06T16:49:51+00:00`: Ruby's `#iso8601` (whole seconds), as
/// GitLab's GraphQL `Time` scalar prints values (app/graphql/types/
/// time_type.rb). `suffix` is `Z` for a Time in UTC, `+00:00` for a
/// DateTime such as the registry's tag dates.
pub(crate) fn iso8601(ms: i64, suffix: &str) -> String {
    let c = civil(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{suffix}",
        c.year, c.month, c.day, c.hour, c.min, c.sec
    )
}

/// RFC 2616 date, e.g. `Tue, 05 Jan 2021 11:00:00 GMT`.
pub(crate) fn http_date(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let c = civil(ms);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[c.weekday as usize],
        c.day,
        MONTHS[(c.month - 1) as usize],
        c.year,
        c.hour,
        c.min,
        c.sec
    )
}

/// Parses the `YYYY-MM-DDTHH:MM:SS[.fff](Z|+00:00)` shapes this crate
/// prints, so fixtures may pin an absolute `next_run_at`.
pub(crate) fn parse_rfc3339_utc(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    let mut milli = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(frac.len());
        let f = &frac[..digits];
        let padded = format!("{f:0<3}");
        milli = padded[..3].parse().ok()?;
        rest = &frac[digits..];
    }
    if rest != "Z" && rest != "+00:00" {
        return None;
    }
    // days_from_civil
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + se) * 1000) + milli)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_match_gitlab_examples() {
        // 2021-01-05T11:00:00Z, from GitLab's rack_attack spec.
        let ms = 1_609_844_400_000;
        assert_eq!(http_date(ms), "Tue, 05 Jan 2021 11:00:00 GMT");
        assert_eq!(rfc3339_z(ms + 229), "2021-01-05T11:00:00.229Z");
        assert_eq!(rfc3339_offset(ms), "2021-01-05T11:00:00.000+00:00");
        assert_eq!(
            parse_rfc3339_utc("2021-01-05T11:00:00.229Z"),
            Some(ms + 229)
        );
        assert_eq!(parse_rfc3339_utc("2021-01-05T11:00:00+00:00"), Some(ms));
    }

    #[test]
    fn ages() {
        assert_eq!(parse_age_ms("90m").unwrap(), 90 * 60_000);
        assert_eq!(parse_age_ms("2w").unwrap(), 14 * 86_400_000);
        assert!(parse_age_ms("7").is_err());
        assert!(parse_age_ms("7y").is_err());
    }
}
