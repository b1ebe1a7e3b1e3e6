//! Small shared helpers: UTC timestamps in the wire format and ids.

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// Now, UTC, second precision: `2026-02-18T12:34:56Z`.
pub fn now() -> String {
    fmt(OffsetDateTime::now_utc())
}

/// Now plus `d`, in the wire format.
pub fn now_plus(d: Duration) -> String {
    fmt(OffsetDateTime::now_utc() + d)
}

pub fn fmt(t: OffsetDateTime) -> String {
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

pub fn parse(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// True when `s` is a UUID in its canonical hyphenated form.
pub fn is_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok() && s.len() == 36
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_utc_seconds_with_z() {
        let n = super::now();
        assert_eq!(n.len(), 20, "{n}");
        assert!(n.ends_with('Z'));
        assert!(super::parse(&n).is_some());
    }
}
