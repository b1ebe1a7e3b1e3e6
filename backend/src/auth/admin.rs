//! `pressluft-server admin create`: creates the admin account (or resets its password with
//! `--reset-password`, which also revokes its sessions). Runs on the CLI's blocking thread.

use super::password;
use crate::audit;
use crate::db::tx_sync;
use crate::error::AppError;
use rusqlite::{params, Connection, OptionalExtension};

/// What `create_admin` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminOutcome {
    Created,
    PasswordReset,
}

/// Why `admin create` refused; the message is shown to the operator as is.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error("an admin with email {0} already exists; pass --reset-password to set a new password")]
    Exists(String),
    #[error("{0}")]
    Internal(#[from] AppError),
}

/// A plausible email: something@domain (`admin@localhost` too), no whitespace, at most 254
/// characters.
pub fn normalize_email(email: &str) -> Result<String, AdminError> {
    let e = email.trim().to_ascii_lowercase();
    let valid = e.len() <= 254
        && !e.chars().any(char::is_whitespace)
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    if valid {
        Ok(e)
    } else {
        Err(AdminError::Invalid(format!(
            "`{email}` is not a valid email address"
        )))
    }
}

pub fn create_admin(
    conn: &mut Connection,
    email: &str,
    new_password: &str,
    reset_password: bool,
) -> Result<AdminOutcome, AdminError> {
    let email = normalize_email(email)?;
    if new_password.chars().count() < password::MIN_PASSWORD_CHARS {
        return Err(AdminError::Invalid(format!(
            "the password must have at least {} characters",
            password::MIN_PASSWORD_CHARS
        )));
    }
    let existing: Option<String> = conn
        .query_row(
            "SELECT id FROM users WHERE email = ?1",
            params![email],
            |r| r.get(0),
        )
        .optional()
        .map_err(AppError::from)?;
    if existing.is_some() && !reset_password {
        return Err(AdminError::Exists(email));
    }
    let phc = password::hash(new_password)?;
    let now = crate::util::now();
    let outcome = tx_sync(conn, |tx| match &existing {
        Some(id) => {
            tx.execute(
                "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                params![id, phc],
            )?;
            tx.execute(
                "UPDATE auth_sessions SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
                params![id, now],
            )?;
            audit::record(
                tx,
                Some("cli"),
                "admin.reset_password",
                "user",
                Some(id),
                "ok",
            )?;
            Ok(AdminOutcome::PasswordReset)
        }
        None => {
            let id = crate::util::new_id();
            tx.execute(
                "INSERT INTO users (id, email, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, email, phc, now],
            )?;
            audit::record(tx, Some("cli"), "admin.create", "user", Some(&id), "ok")?;
            Ok(AdminOutcome::Created)
        }
    })?;
    Ok(outcome)
}

/// `pressluft-server admin ...`
#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Create the admin account. The password comes from PRESSLUFT_ADMIN_PASSWORD or the first
    /// line of standard input (at least 12 characters).
    Create {
        #[arg(long)]
        email: String,
        /// Set a new password for an existing admin (revokes its sessions).
        #[arg(long)]
        reset_password: bool,
    },
}

/// The new password: `PRESSLUFT_ADMIN_PASSWORD`, else the first line of standard input.
pub fn read_password() -> Result<String, AdminError> {
    if let Ok(p) = std::env::var("PRESSLUFT_ADMIN_PASSWORD") {
        return Ok(p);
    }
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        eprint!("New admin password (input is shown): ");
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| AdminError::Invalid(format!("cannot read the password from stdin: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

impl AdminCommand {
    /// Runs the command; returns the line to print on success.
    pub fn run(self, conn: &mut Connection) -> Result<String, AdminError> {
        match self {
            AdminCommand::Create {
                email,
                reset_password,
            } => {
                let pw = read_password()?;
                let outcome = create_admin(conn, &email, &pw, reset_password)?;
                let email = normalize_email(&email)?;
                Ok(match outcome {
                    AdminOutcome::Created => format!("created admin {email}"),
                    AdminOutcome::PasswordReset => {
                        format!("set a new password for admin {email}; its sessions were revoked")
                    }
                })
            }
        }
    }
}
