//! Backup rules: who may ask for a backup and when, where its artifact goes, and the one
//! transaction that records the pending backup and enqueues its `backup_create` job.

use super::{store, target};
use crate::app::AppState;
use crate::error::AppError;
use pressluft_common::{BackupScope, JobType, ResourceStatus, StorageType};
use rusqlite::Transaction;
use std::path::{Path, PathBuf};

/// Object key of a backup's artifact in the store.
pub fn object_key(site_id: &str, env_id: &str, backup_id: &str) -> String {
    format!("{site_id}/{env_id}/{backup_id}.tar.zst")
}

/// Local store path of a backup's artifact.
pub fn storage_path(backup_dir: &Path, site_id: &str, env_id: &str, backup_id: &str) -> PathBuf {
    backup_dir.join(object_key(site_id, env_id, backup_id))
}

/// Where a backup's artifact is recorded: the file path for the local store, the object key
/// for S3.
pub fn recorded_location(
    state: &AppState,
    site_id: &str,
    env_id: &str,
    backup_id: &str,
) -> (StorageType, String) {
    match state.storage.storage_type() {
        StorageType::Local => (
            StorageType::Local,
            storage_path(&state.config.backup_dir, site_id, env_id, backup_id)
                .to_string_lossy()
                .into_owned(),
        ),
        StorageType::S3 => (StorageType::S3, object_key(site_id, env_id, backup_id)),
    }
}

/// The environment, or 404 `environment_not_found`.
pub fn load_target(tx: &Transaction<'_>, environment_id: &str) -> Result<target::Target, AppError> {
    target::load(tx, environment_id)?.ok_or_else(|| {
        AppError::not_found(
            "environment_not_found",
            format!("environment {environment_id} does not exist; list them with GET /api/sites/{{site_id}}/environments"),
        )
    })
}

/// 409 `environment_not_active` unless the environment is active.
pub fn check_active(t: &target::Target) -> Result<(), AppError> {
    if t.status == ResourceStatus::Active {
        return Ok(());
    }
    Err(AppError::conflict(
        "environment_not_active",
        format!(
            "environment {} is {}, not active; wait for its job to finish, or reset it \
             (POST /api/environments/{}/reset) once it is repaired",
            t.environment_slug, t.status, t.environment_id
        ),
    ))
}

/// 409 `node_not_supported` for environments on remote nodes (the local store lives here).
pub fn check_node(t: &target::Target) -> Result<(), AppError> {
    if t.node_is_local {
        return Ok(());
    }
    Err(AppError::conflict(
        "node_not_supported",
        "backups and restores run on the control plane's own (is_local) node in this version; \
         this environment lives on a remote node",
    ))
}

/// 409 `job_already_active` when the site has a job queued or running.
pub fn check_no_active_job(tx: &Transaction<'_>, t: &target::Target) -> Result<(), AppError> {
    match crate::jobs::store::active_job_for_site(tx, &t.site_id)? {
        None => Ok(()),
        Some(crate::jobs::store::ActiveJob {
            id: job_id,
            job_type,
            status,
        }) => Err(AppError::conflict(
            "job_already_active",
            format!(
                "site {} already has a {job_type} job {status} ({job_id}); wait for it to finish \
                 or cancel it (POST /api/jobs/{job_id}/cancel)",
                t.site_slug
            ),
        )),
    }
}

/// Checks that a backup may start now; returns the environment.
pub fn ensure_ready(
    tx: &Transaction<'_>,
    environment_id: &str,
) -> Result<target::Target, AppError> {
    let t = load_target(tx, environment_id)?;
    check_active(&t)?;
    check_node(&t)?;
    check_no_active_job(tx, &t)?;
    Ok(t)
}

/// Records a pending backup row for the job that will produce it.
pub fn insert_pending(
    tx: &Transaction<'_>,
    state: &AppState,
    t: &target::Target,
    scope: BackupScope,
    id: &str,
    job_id: &str,
    checkpoint_for_job_id: Option<&str>,
) -> Result<(), AppError> {
    let (storage_type, path) = recorded_location(state, &t.site_id, &t.environment_id, id);
    // One clock reading: retention_until is exactly created_at + retention.
    let created = time::OffsetDateTime::now_utc();
    let retention = crate::util::fmt(created + time::Duration::days(state.config.retention_days));
    let created_at = crate::util::fmt(created);
    store::insert(
        tx,
        &store::NewBackup {
            id,
            environment_id: &t.environment_id,
            site_id: &t.site_id,
            scope,
            storage_type,
            storage_path: &path,
            retention_until: &retention,
            job_id: Some(job_id),
            checkpoint_for_job_id,
            created_at: &created_at,
        },
    )
}

/// `POST /api/environments/{id}/backups`: validates, records the pending backup and enqueues
/// its job in one transaction. Returns the job id.
pub async fn request_backup(
    state: &AppState,
    environment_id: String,
    scope: BackupScope,
    user_id: Option<String>,
) -> Result<String, AppError> {
    let st = state.clone();
    let job_id = state
        .db
        .tx(move |tx| {
            let t = ensure_ready(tx, &environment_id)?;
            let backup_id = crate::util::new_id();
            let job_id = crate::jobs::store::enqueue(
                tx,
                crate::jobs::store::NewJob {
                    job_type: JobType::BackupCreate,
                    site_id: Some(t.site_id.clone()),
                    environment_id: Some(t.environment_id.clone()),
                    node_id: Some(t.node_id.clone()),
                    backup_id: Some(backup_id.clone()),
                    payload: serde_json::json!({ "backup_id": backup_id, "backup_scope": scope }),
                    max_attempts: 3,
                },
            )?;
            insert_pending(tx, &st, &t, scope, &backup_id, &job_id, None)?;
            crate::audit::record(
                tx,
                user_id.as_deref(),
                "backup.create",
                "backup",
                Some(&backup_id),
                "ok",
            )?;
            Ok(job_id)
        })
        .await?;
    state.jobs.wake();
    Ok(job_id)
}

/// The size of a backup's stored object (`None`: missing), from the store it was written to.
pub async fn stored_size(
    state: &AppState,
    b: &pressluft_common::Backup,
) -> Result<Option<u64>, String> {
    match b.storage_type {
        StorageType::Local => match tokio::fs::metadata(&b.storage_path).await {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.to_string()),
        },
        StorageType::S3 => state
            .storage
            .stat(&b.storage_path)
            .await
            .map_err(|e| format!("{}: {e}", e.code())),
    }
}
