//! Password hashing with argon2id (PHC strings in `users.password_hash`). Hashing is slow on
//! purpose: callers run it on a blocking thread (`hash_blocking` / `verify_blocking`).
//! Unknown emails are verified against a dummy hash so the timing does not reveal them.

use crate::error::AppError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;
use std::sync::OnceLock;

/// Shortest password `admin create` accepts, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// argon2id with the crate's defaults (v19, m=19 MiB, t=2, p=1: OWASP's minimum profile).
fn hasher() -> Argon2<'static> {
    Argon2::default()
}

/// A fresh PHC hash of `password` with a random 16-byte salt.
pub fn hash(password: &str) -> Result<String, AppError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| AppError::internal(format!("password salt: {e}")))?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal(format!("password hashing: {e}")))
}

/// True when `password` matches `phc`; a malformed stored hash counts as a mismatch (logged).
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(e) => {
            tracing::error!(error = %e, "stored password hash is malformed");
            false
        }
    }
}

/// A hash no password matches in practice, with the same cost as a real one.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut random = [0u8; 32];
        rand::rng().fill_bytes(&mut random);
        hash(&hex::encode(random)).unwrap_or_default()
    })
}

/// Verifies on a blocking thread; `stored` is `None` for an unknown email (dummy verification).
pub async fn verify_blocking(password: String, stored: Option<String>) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || match stored {
        Some(phc) => verify(&password, &phc),
        None => {
            let _ = verify(&password, dummy_hash());
            false
        }
    })
    .await
    .map_err(|e| AppError::internal(format!("password task: {e}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn hash_verifies_only_its_password_and_is_argon2id() {
        let h = super::hash("correct horse battery staple").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(super::verify("correct horse battery staple", &h));
        assert!(!super::verify("wrong horse battery staple", &h));
        assert!(!super::verify("x", "not a phc string"));
    }
}
