//! Sessions: random 256-bit tokens handed out once (cookie `session_token`, or Bearer for
//! scripts); only their sha256 is stored. A session lives 24 h unless revoked at logout.

use crate::error::AppError;
use rand::RngCore;
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

pub const COOKIE_NAME: &str = "session_token";
pub const SESSION_SECONDS: i64 = 24 * 3600;

/// A fresh token: 32 random bytes as 64 lowercase hex characters.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The live session a token belongs to.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
}

/// Stores a new session for `user_id`; returns (session id, expires_at).
pub fn create(conn: &Connection, user_id: &str, token: &str) -> Result<(String, String), AppError> {
    let id = crate::util::new_id();
    let expires_at = crate::util::now_plus(time::Duration::seconds(SESSION_SECONDS));
    conn.execute(
        "INSERT INTO auth_sessions (id, user_id, token_sha256, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            id,
            user_id,
            token_sha256(token),
            crate::util::now(),
            expires_at
        ],
    )?;
    Ok((id, expires_at))
}

/// The session of `token` when it exists, is not revoked and has not expired. The lookup goes
/// through the unique index on the token's sha256, so no token bytes are compared directly.
pub fn lookup(conn: &Connection, token: &str) -> Result<Option<SessionRow>, AppError> {
    let row = conn
        .query_row(
            "SELECT id, user_id, expires_at FROM auth_sessions \
             WHERE token_sha256 = ?1 AND revoked_at IS NULL",
            params![token_sha256(token)],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            },
        )
        .optional()?;
    let Some((id, user_id, expires_at)) = row else {
        return Ok(None);
    };
    let live = crate::util::parse(&expires_at).is_some_and(|t| t > time::OffsetDateTime::now_utc());
    Ok(live.then_some(SessionRow { id, user_id }))
}

/// Marks the session revoked; later requests with its token get 401.
pub fn revoke(conn: &Connection, session_id: &str) -> Result<(), AppError> {
    conn.execute(
        "UPDATE auth_sessions SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![session_id, crate::util::now()],
    )?;
    Ok(())
}

/// `Set-Cookie` value carrying a new session token.
pub fn set_cookie(token: &str, secure: bool) -> String {
    let mut c = format!(
        "{COOKIE_NAME}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={SESSION_SECONDS}"
    );
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// `Set-Cookie` value that makes the browser drop the session cookie.
pub fn clear_cookie(secure: bool) -> String {
    let mut c = format!("{COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// The `session_token` value in a `Cookie:` request header.
pub fn token_from_cookie_header(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_hex_and_cookie_is_strict_httponly() {
        let t = new_token();
        assert_eq!(t.len(), 64);
        assert_ne!(t, new_token());
        let c = set_cookie(&t, true);
        assert!(c.contains("HttpOnly; SameSite=Strict; Path=/; Max-Age=86400; Secure"));
        assert_eq!(
            token_from_cookie_header(&format!("a=b; session_token={t}; c=d")),
            Some(t.as_str())
        );
        assert_eq!(token_from_cookie_header("session_token="), None);
    }
}
