//! SQL of the backups table: insert, read models, status transitions.

use crate::error::AppError;
use pressluft_common::{Backup, BackupScope, BackupStatus, StorageType};
use rusqlite::{params, Connection, OptionalExtension, Row};

const COLUMNS: &str = "id, environment_id, site_id, backup_scope, status, storage_type, storage_path, \
     retention_until, checksum, size_bytes, created_at, completed_at, job_id, checkpoint_for_job_id";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Backup> {
    let scope: String = r.get(3)?;
    let status: String = r.get(4)?;
    let storage: String = r.get(5)?;
    let size: Option<i64> = r.get(9)?;
    Ok(Backup {
        id: r.get(0)?,
        environment_id: r.get(1)?,
        site_id: r.get(2)?,
        backup_scope: BackupScope::parse(&scope).unwrap_or(BackupScope::Full),
        status: BackupStatus::parse(&status).unwrap_or(BackupStatus::Failed),
        storage_type: StorageType::parse(&storage).unwrap_or(StorageType::Local),
        storage_path: r.get(6)?,
        retention_until: r.get(7)?,
        checksum: r.get(8)?,
        size_bytes: size.map(|s| s.max(0) as u64),
        created_at: r.get(10)?,
        completed_at: r.get(11)?,
        job_id: r.get(12)?,
        checkpoint_for_job_id: r.get(13)?,
    })
}

pub struct NewBackup<'a> {
    pub id: &'a str,
    pub environment_id: &'a str,
    pub site_id: &'a str,
    pub scope: BackupScope,
    pub storage_type: StorageType,
    pub storage_path: &'a str,
    pub retention_until: &'a str,
    pub job_id: Option<&'a str>,
    pub checkpoint_for_job_id: Option<&'a str>,
    pub created_at: &'a str,
}

pub fn insert(conn: &Connection, b: &NewBackup<'_>) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO backups (id, environment_id, site_id, backup_scope, status, storage_type, \
         storage_path, retention_until, job_id, checkpoint_for_job_id, created_at) \
         VALUES (?1, ?2, ?3, ?4, 'pending', ?10, ?5, ?6, ?7, ?8, ?9)",
        params![
            b.id,
            b.environment_id,
            b.site_id,
            b.scope.as_str(),
            b.storage_path,
            b.retention_until,
            b.job_id,
            b.checkpoint_for_job_id,
            b.created_at,
            b.storage_type.as_str()
        ],
    )?;
    Ok(())
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<Backup>, AppError> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM backups WHERE id = ?1"),
            [id],
            from_row,
        )
        .optional()?)
}

/// Backups of an environment, newest first.
pub fn list_for_environment(conn: &Connection, env_id: &str) -> Result<Vec<Backup>, AppError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM backups WHERE environment_id = ?1 \
         ORDER BY created_at DESC, rowid DESC"
    ))?;
    let rows = stmt.query_map([env_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub fn set_status(conn: &Connection, id: &str, status: BackupStatus) -> Result<(), AppError> {
    conn.execute(
        "UPDATE backups SET status = ?2 WHERE id = ?1",
        params![id, status.as_str()],
    )?;
    Ok(())
}

/// Marks a backup completed with the checksum and size measured on the stored object.
pub fn complete(
    conn: &Connection,
    id: &str,
    checksum: &str,
    size_bytes: u64,
    manifest_json: &str,
    completed_at: &str,
) -> Result<(), AppError> {
    conn.execute(
        "UPDATE backups SET status = 'completed', checksum = ?2, size_bytes = ?3, \
         manifest_json = ?4, completed_at = ?5 WHERE id = ?1",
        params![id, checksum, size_bytes as i64, manifest_json, completed_at],
    )?;
    Ok(())
}
