//! Input rules of registration, each failing with 400 `bad_request` and a message that names
//! the field and the expected shape. Hand-written matchers instead of a regex dependency.

use crate::error::AppError;

fn bad(field: &str, rule: &str, value: &str) -> AppError {
    let shown: String = value.chars().take(80).collect();
    AppError::bad_request(format!("{field} `{shown}` is invalid: {rule}"))
}

/// An optional client-chosen id: a canonical UUID, returned lowercased.
pub fn id(field: &str, value: Option<&str>) -> Result<Option<String>, AppError> {
    match value {
        None => Ok(None),
        Some(v) if crate::util::is_uuid(v) => Ok(Some(v.to_ascii_lowercase())),
        Some(v) => Err(bad(
            field,
            "expected a UUID like 3f2b6c1e-8d4a-4c1b-9e2f-0a1b2c3d4e5f",
            v,
        )),
    }
}

/// `^[a-z0-9][a-z0-9-]{0,62}$`
pub fn slug(value: &str) -> Result<(), AppError> {
    let b = value.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    ok.then_some(()).ok_or_else(|| {
        bad(
            "slug",
            "use 1-63 characters a-z, 0-9 and '-', starting with a letter or digit",
            value,
        )
    })
}

/// A display name: not blank, at most 200 characters, no control characters.
pub fn name(field: &str, value: &str) -> Result<(), AppError> {
    let ok = !value.trim().is_empty()
        && value.chars().count() <= 200
        && !value.chars().any(char::is_control);
    ok.then_some(()).ok_or_else(|| {
        bad(
            field,
            "must be 1-200 printable characters, not blank",
            value,
        )
    })
}

/// A DNS name or address to reach a node: 1-253 characters, no whitespace or '/'.
pub fn hostname(value: &str) -> Result<(), AppError> {
    let ok = !value.is_empty()
        && value.len() <= 253
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    ok.then_some(())
        .ok_or_else(|| bad("hostname", "expected a host name or IP address", value))
}

pub fn ip(value: &str) -> Result<(), AppError> {
    value
        .parse::<std::net::IpAddr>()
        .map(|_| ())
        .map_err(|_| bad("public_ip", "expected an IPv4 or IPv6 address", value))
}

pub fn port(value: u16) -> Result<(), AppError> {
    (value != 0).then_some(()).ok_or_else(|| {
        bad(
            "ssh_port",
            "must be between 1 and 65535",
            &value.to_string(),
        )
    })
}

/// `^[a-z_][a-z0-9_-]{0,31}$` (a POSIX user name).
pub fn user(field: &str, value: &str) -> Result<(), AppError> {
    let b = value.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 32
        && (b[0].is_ascii_lowercase() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-');
    ok.then_some(()).ok_or_else(|| {
        bad(
            field,
            "use 1-32 characters a-z, 0-9, '_' and '-', starting with a letter or '_'",
            value,
        )
    })
}

/// `^[A-Za-z0-9_]{1,64}$`
pub fn db_name(value: &str) -> Result<(), AppError> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_');
    ok.then_some(()).ok_or_else(|| {
        bad(
            "db_name",
            "use 1-64 characters A-Z, a-z, 0-9 and '_'",
            value,
        )
    })
}

/// An absolute path without `..` components (and not `/` itself).
pub fn abs_path(field: &str, value: &str) -> Result<(), AppError> {
    let ok = value.starts_with('/')
        && !value.trim_end_matches('/').is_empty()
        && !value.split('/').any(|part| part == "..")
        && !value.chars().any(char::is_control);
    ok.then_some(()).ok_or_else(|| {
        bad(
            field,
            "must be an absolute path (not `/`) without `..` components",
            value,
        )
    })
}

/// `http://` or `https://` followed by a host, no whitespace.
pub fn preview_url(value: &str) -> Result<(), AppError> {
    let rest = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"));
    let ok = rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
        && value.len() <= 2048
        && !value.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then_some(()).ok_or_else(|| {
        bad(
            "preview_url",
            "must start with http:// or https:// and name a host",
            value,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_accept_good_and_refuse_bad_values() {
        assert!(slug("shop-1").is_ok());
        for s in ["", "-a", "Shop", "a_b", &"a".repeat(64)] {
            assert!(slug(s).is_err(), "{s}");
        }
        assert!(user("system_user", "www-data").is_ok());
        assert!(user("system_user", "1abc").is_err());
        assert!(db_name("wp_shop").is_ok());
        assert!(db_name("wp-shop").is_err());
        assert!(abs_path("files_root", "/srv/www/shop").is_ok());
        for p in ["srv", "/", "/srv/../etc", "/srv/.."] {
            assert!(abs_path("files_root", p).is_err(), "{p}");
        }
        assert!(preview_url("http://127.0.0.1:8081/").is_ok());
        assert!(preview_url("ftp://x").is_err());
        assert!(preview_url("https://").is_err());
        assert!(id("id", Some("nope")).is_err());
        assert!(port(0).is_err());
    }
}
