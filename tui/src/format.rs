//! Small text formatters for ids, sizes, timestamps and durations. Pure functions of their input
//! (never the wall clock) so snapshots stay deterministic.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// First 8 characters of an id (a UUID's first group).
pub fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// First 12 hex digits of a checksum, or a dash when there is none yet.
pub fn short_checksum(checksum: Option<&str>) -> String {
    match checksum {
        Some(c) => c.get(..12).unwrap_or(c).to_string(),
        None => "—".to_string(),
    }
}

/// Binary-prefixed size: `512 B`, `1.5 KiB`, `12.3 MiB`.
pub fn human_size(bytes: Option<u64>) -> String {
    let Some(bytes) = bytes else {
        return "—".to_string();
    };
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

fn parse(ts: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(ts, &Rfc3339).ok()
}

/// `2026-01-05 12:00` (UTC, as the server sends it); the raw text when it does not parse.
pub fn datetime(ts: &str) -> String {
    match parse(ts) {
        Some(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        ),
        None => ts.to_string(),
    }
}

/// `2026-02-04`; the raw text when it does not parse.
pub fn date(ts: &str) -> String {
    match parse(ts) {
        Some(t) => format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()),
        None => ts.to_string(),
    }
}

/// Time between two timestamps: `0.4s`, `12s`, `3m05s`, `1h02m`; `None` if either is unreadable.
/// Tenths only when a timestamp has them: the server writes whole seconds, so a step within one
/// second is `<1s` and not a made-up `0.0s`.
pub fn duration(start: &str, end: &str) -> Option<String> {
    let d = parse(end)? - parse(start)?;
    let ms = d.whole_milliseconds().max(0);
    let secs = ms / 1000;
    let fractional = start.contains('.') || end.contains('.');
    Some(if ms < 10_000 && fractional {
        format!("{}.{}s", ms / 1000, (ms % 1000) / 100)
    } else if secs == 0 {
        "<1s".to_string()
    } else if secs < 60 {
        format!("{secs}s")
    } else if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(human_size(None), "—");
        assert_eq!(human_size(Some(512)), "512 B");
        assert_eq!(human_size(Some(1536)), "1.5 KiB");
        assert_eq!(human_size(Some(12_900_000)), "12.3 MiB");
    }

    #[test]
    fn timestamps_and_durations_come_from_the_data() {
        assert_eq!(datetime("2026-01-05T12:03:09Z"), "2026-01-05 12:03");
        assert_eq!(date("2026-02-04T12:03:09Z"), "2026-02-04");
        assert_eq!(datetime("garbage"), "garbage");
        let d = |a, b| duration(a, b).unwrap_or_default();
        assert_eq!(
            d("2026-01-05T12:00:00Z", "2026-01-05T12:00:01.250Z"),
            "1.2s"
        );
        assert_eq!(d("2026-01-05T12:00:00Z", "2026-01-05T12:00:42Z"), "42s");
        // Whole-second timestamps (as the server writes them) give whole seconds.
        assert_eq!(d("2026-01-05T12:00:00Z", "2026-01-05T12:00:00Z"), "<1s");
        assert_eq!(d("2026-01-05T12:00:00Z", "2026-01-05T12:00:02Z"), "2s");
        assert_eq!(d("2026-01-05T12:00:00Z", "2026-01-05T12:03:05Z"), "3m05s");
        assert_eq!(short_id("1a2b3c4d-0000-0000-0000-000000000000"), "1a2b3c4d");
        assert_eq!(short_checksum(Some("abcdef0123456789ff")), "abcdef012345");
    }
}
