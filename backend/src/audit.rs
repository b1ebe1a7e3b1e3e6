//! The audit log: one row per mutating action, written in the same transaction as the change.

use crate::error::AppError;
use rusqlite::{params, Connection};

/// The admin behind a request, put into request extensions by the auth middleware.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: String,
}

pub fn record(
    conn: &Connection,
    user_id: Option<&str>,
    action: &str,
    resource_type: &str,
    resource_id: Option<&str>,
    result: &str,
) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO audit_logs (user_id, action, resource_type, resource_id, result, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            user_id,
            action,
            resource_type,
            resource_id,
            result,
            crate::util::now()
        ],
    )?;
    Ok(())
}
