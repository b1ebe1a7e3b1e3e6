//! Login throttling in the `login_attempts` table, keyed per account (`email:<email>`) and per
//! client address (`ip:<addr>`). Past the threshold within the window a key is locked for a
//! time that doubles with every further failure (capped); a success clears the account key.
//! Behind an SSH tunnel every client is 127.0.0.1, so the address limit is looser.

use crate::error::AppError;
use rusqlite::{params, Connection, OptionalExtension};
use time::{Duration, OffsetDateTime};

/// Failures counted together when they fall within this window of the first one.
pub const WINDOW: Duration = Duration::minutes(15);
/// Failures per account before it is locked.
pub const ACCOUNT_THRESHOLD: i64 = 5;
/// Failures per client address before it is locked.
pub const ADDRESS_THRESHOLD: i64 = 20;
/// First lock; doubled for every failure past the threshold, capped at `MAX_LOCK`.
pub const BASE_LOCK: Duration = Duration::seconds(30);
pub const MAX_LOCK: Duration = Duration::minutes(15);

pub fn account_key(email: &str) -> String {
    format!("email:{email}")
}

pub fn address_key(addr: &str) -> String {
    format!("ip:{addr}")
}

/// Seconds until the longest lock among `keys` ends, if any is locked now.
pub fn locked_for(conn: &Connection, keys: &[String]) -> Result<Option<u64>, AppError> {
    let now = OffsetDateTime::now_utc();
    let mut longest: Option<u64> = None;
    for key in keys {
        let until: Option<Option<String>> = conn
            .query_row(
                "SELECT locked_until FROM login_attempts WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()?;
        let Some(until) = until.flatten().and_then(|u| crate::util::parse(&u)) else {
            continue;
        };
        if until > now {
            let secs = (until - now).whole_seconds().max(1) as u64;
            longest = Some(longest.map_or(secs, |l| l.max(secs)));
        }
    }
    Ok(longest)
}

/// Counts one failure for `key`; locks it once `threshold` failures fall within the window.
pub fn record_failure(conn: &Connection, key: &str, threshold: i64) -> Result<(), AppError> {
    let now = OffsetDateTime::now_utc();
    let row: Option<(i64, String)> = conn
        .query_row(
            "SELECT failures, window_start FROM login_attempts WHERE key = ?1",
            params![key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (failures, window_start) = match row {
        Some((n, start)) => match crate::util::parse(&start) {
            Some(s) if now - s <= WINDOW => (n + 1, start),
            _ => (1, crate::util::fmt(now)),
        },
        None => (1, crate::util::fmt(now)),
    };
    let locked_until = (failures >= threshold).then(|| {
        let doublings = (failures - threshold).min(10) as u32;
        let lock = (BASE_LOCK * 2i32.pow(doublings)).min(MAX_LOCK);
        crate::util::fmt(now + lock)
    });
    conn.execute(
        "INSERT INTO login_attempts (key, failures, window_start, locked_until) \
         VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT(key) DO UPDATE SET failures = ?2, window_start = ?3, locked_until = ?4",
        params![key, failures, window_start, locked_until],
    )?;
    if locked_until.is_some() {
        tracing::warn!(failures, "login throttled after repeated failures");
    }
    Ok(())
}

/// Forgets the failures of `key` (after a successful login).
pub fn clear(conn: &Connection, key: &str) -> Result<(), AppError> {
    conn.execute("DELETE FROM login_attempts WHERE key = ?1", params![key])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifth_failure_locks_the_key_and_the_lock_grows() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::Db::open(&dir.path().join("t.db")).unwrap();
        let conn = db.conn().unwrap();
        let keys = vec![account_key("a@b.c")];
        for _ in 0..4 {
            record_failure(&conn, &keys[0], ACCOUNT_THRESHOLD).unwrap();
        }
        assert_eq!(locked_for(&conn, &keys).unwrap(), None);
        record_failure(&conn, &keys[0], ACCOUNT_THRESHOLD).unwrap();
        let first = locked_for(&conn, &keys).unwrap().unwrap();
        assert!((29..=30).contains(&first), "{first}");
        record_failure(&conn, &keys[0], ACCOUNT_THRESHOLD).unwrap();
        let second = locked_for(&conn, &keys).unwrap().unwrap();
        assert!(second > first, "{second} > {first}");
        clear(&conn, &keys[0]).unwrap();
        assert_eq!(locked_for(&conn, &keys).unwrap(), None);
    }
}
