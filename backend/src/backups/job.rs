//! The `backup_create` job: runs `backup-create.yml` (database export + `pressluft-artifact
//! pack` straight into the store), then re-hashes the stored object and only then lets the backup
//! become `completed` — in the same transaction that ends the job.

use super::store;
use crate::backups::target;
use crate::error::AppError;
use crate::jobs::handler::{BoxFuture, JobContext, JobFailure, JobHandler, Settlement};
use crate::jobs::store::JobRow;
use pressluft_common::{Backup, BackupStatus, JobType, StepStatus, StorageType};
use rusqlite::Transaction;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

pub struct BackupCreate;

/// What a verified backup run produced.
#[derive(Debug, Clone)]
pub struct Produced {
    pub checksum: String,
    pub size_bytes: u64,
    pub manifest: Value,
}

impl Produced {
    fn to_json(&self, backup_id: &str) -> Value {
        json!({
            "backup_id": backup_id,
            "checksum": self.checksum,
            "size_bytes": self.size_bytes,
            "manifest": self.manifest,
        })
    }
}

/// Codes of `backup-create.yml` worth another attempt (the node or its database may recover).
fn retryable(code: &str) -> bool {
    matches!(
        code,
        "BACKUP_DB_UNAVAILABLE" | "BACKUP_DB_EXPORT_FAILED" | "BACKUP_VERIFY_FAILED"
    )
}

impl JobHandler for BackupCreate {
    fn job_type(&self) -> JobType {
        JobType::BackupCreate
    }

    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<Value, JobFailure>> {
        Box::pin(async move {
            let backup_id = ctx.job.backup_id.clone().ok_or_else(|| {
                JobFailure::new("BACKUP_INVALID_REQUEST", "the job names no backup", false)
            })?;
            let produced = produce(ctx, &backup_id).await?;
            Ok(produced.to_json(&backup_id))
        })
    }

    fn retryable_result_code(&self, code: &str) -> bool {
        retryable(code)
    }

    fn on_start(&self, tx: &Transaction<'_>, job: &JobRow) -> Result<(), AppError> {
        if let Some(id) = &job.backup_id {
            store::set_status(tx, id, BackupStatus::Running)?;
        }
        Ok(())
    }

    fn on_failure<'a>(
        &'a self,
        ctx: &'a JobContext,
        _failure: &'a JobFailure,
        _last: bool,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Some(id) = ctx.job.backup_id.clone() {
                discard_object(ctx, &id).await;
            }
        })
    }

    fn settle(
        &self,
        tx: &Transaction<'_>,
        job: &JobRow,
        outcome: &Settlement<'_>,
    ) -> Result<(), AppError> {
        let Some(id) = &job.backup_id else {
            return Ok(());
        };
        match outcome {
            Settlement::Succeeded { result } => complete_from_result(tx, id, result),
            Settlement::Retrying { .. } => store::set_status(tx, id, BackupStatus::Pending),
            Settlement::Failed { .. } | Settlement::Cancelled { .. } => {
                store::set_status(tx, id, BackupStatus::Failed)
            }
        }
    }
}

/// Records `completed` with the checksum and size measured on the stored object.
pub fn complete_from_result(
    tx: &Transaction<'_>,
    id: &str,
    result: &Value,
) -> Result<(), AppError> {
    let checksum = result["checksum"].as_str().unwrap_or_default();
    let size = result["size_bytes"].as_u64();
    match size {
        Some(size) if checksum.len() == 64 => store::complete(
            tx,
            id,
            checksum,
            size,
            &result["manifest"].to_string(),
            &crate::util::now(),
        ),
        _ => Err(AppError::internal(format!(
            "backup {id}: job result without checksum/size"
        ))),
    }
}

/// Local file the packer writes: the store's own file for the local store, a staging file for
/// S3 (uploaded, verified remotely, then removed).
pub fn packed_path(ctx: &JobContext, backup: &Backup) -> PathBuf {
    match backup.storage_type {
        StorageType::Local => PathBuf::from(&backup.storage_path),
        StorageType::S3 => s3_staging_path(ctx, &backup.id),
    }
}

fn s3_staging_path(ctx: &JobContext, backup_id: &str) -> PathBuf {
    ctx.state
        .config
        .backup_dir
        .join(".s3-staging")
        .join(format!("{backup_id}.tar.zst"))
}

fn storage_failure(e: &crate::storage::StorageError) -> JobFailure {
    JobFailure::new(
        "BACKUP_STORAGE_FAILED",
        format!("{}: {e}", e.code()),
        e.retryable(),
    )
}

/// Runs the backup playbook for the (pending) backup `backup_id` and verifies the stored object.
/// Used by `backup_create` and by `env_restore` for its pre-restore checkpoint.
pub async fn produce(ctx: &JobContext, backup_id: &str) -> Result<Produced, JobFailure> {
    let (backup, t) = load(ctx, backup_id).await?;
    let packed = packed_path(ctx, &backup);
    // An earlier attempt may have left its object: start clean (idempotent re-run).
    remove_if_exists(&packed);
    let vars = json!({
        "job_id": ctx.job.id,
        "backup_id": backup.id,
        "site_id": t.site_id,
        "environment_id": t.environment_id,
        "backup_scope": backup.backup_scope,
        "env_root": t.files_root,
        "db_name": t.db_name,
        "artifact_bin": ctx.state.config.artifact_bin,
        "artifact_path": packed,
    });
    let outcome = ctx.run_playbook("backup-create.yml", vars).await?;
    let reported_sha = outcome.result["sha256"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let reported_size = outcome.result["size_bytes"].as_u64().unwrap_or(0);

    if backup.storage_type == StorageType::S3 {
        let seq = ctx.step_start("upload to store").await?;
        let put = ctx
            .state
            .storage
            .put_file(&packed, &backup.storage_path)
            .await;
        remove_if_exists(&packed);
        if let Err(e) = put {
            let f = storage_failure(&e);
            ctx.step_finish(seq, StepStatus::Failed, Some(f.message.clone()))
                .await?;
            return Err(f);
        }
        let detail = format!(
            "{} to {}",
            crate::restore::checks::human(reported_size),
            ctx.state.storage.describe()
        );
        ctx.step_finish(seq, StepStatus::Succeeded, Some(detail))
            .await?;
    }

    let seq = ctx.step_start("verify stored object").await?;
    let measured = match backup.storage_type {
        StorageType::Local => {
            let path = packed.clone();
            match tokio::task::spawn_blocking(move || pressluft_artifact::hash_file(&path)).await {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(e)) => Err(format!("the stored object cannot be read back: {e}")),
                Err(e) => Err(format!("hash task failed: {e}")),
            }
        }
        StorageType::S3 => ctx
            .state
            .storage
            .hash(&backup.storage_path)
            .await
            .map_err(|e| format!("the stored object cannot be read back: {}: {e}", e.code())),
    };
    let (sha, size) = match measured {
        Ok(v) => v,
        Err(detail) => {
            ctx.step_finish(seq, StepStatus::Failed, Some(detail.clone()))
                .await?;
            return Err(JobFailure::new(
                "BACKUP_VERIFY_FAILED",
                format!("{detail}; check the backup store and retry"),
                true,
            ));
        }
    };
    if sha != reported_sha || size != reported_size {
        let detail = format!(
            "the stored object has sha256 {sha} and {size} bytes but the packer reported {reported_sha} and {reported_size}"
        );
        ctx.step_finish(seq, StepStatus::Failed, Some(detail.clone()))
            .await?;
        discard(ctx, &backup).await;
        return Err(JobFailure::new(
            "BACKUP_VERIFY_FAILED",
            format!("{detail}; the object was discarded: check the backup store's disk and retry"),
            true,
        ));
    }
    ctx.step_finish(
        seq,
        StepStatus::Succeeded,
        Some(format!(
            "sha256 {} · {}",
            &sha[..12.min(sha.len())],
            crate::restore::checks::human(size)
        )),
    )
    .await?;
    Ok(Produced {
        checksum: sha,
        size_bytes: size,
        manifest: outcome.result["manifest"].clone(),
    })
}

async fn load(ctx: &JobContext, backup_id: &str) -> Result<(Backup, target::Target), JobFailure> {
    let id = backup_id.to_string();
    let found = ctx
        .state
        .db
        .run(move |conn| {
            let Some(b) = store::get(conn, &id)? else {
                return Ok(None);
            };
            Ok(target::load(conn, &b.environment_id)?.map(|t| (b, t)))
        })
        .await
        .map_err(|e| JobFailure::internal(&ctx.job.id, &e))?;
    found.ok_or_else(|| {
        JobFailure::new(
            "BACKUP_INVALID_REQUEST",
            format!("backup {backup_id} or its environment no longer exists"),
            false,
        )
    })
}

/// Deletes the object of a failed backup so no partial object stays behind.
pub async fn discard_object(ctx: &JobContext, backup_id: &str) {
    let id = backup_id.to_string();
    if let Ok(Some(b)) = ctx.state.db.run(move |c| store::get(c, &id)).await {
        if b.status != BackupStatus::Completed {
            discard(ctx, &b).await;
        }
    }
}

async fn discard(ctx: &JobContext, b: &Backup) {
    match b.storage_type {
        StorageType::Local => remove_if_exists(Path::new(&b.storage_path)),
        StorageType::S3 => {
            remove_if_exists(&s3_staging_path(ctx, &b.id));
            if let Err(e) = ctx.state.storage.delete(&b.storage_path).await {
                tracing::warn!(backup.id = %b.id, code = e.code(), "cannot delete a failed backup's object");
            }
        }
    }
}

pub fn remove_if_exists(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => tracing::info!(path = %path.display(), "removed an unfinished backup object"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove a backup object")
        }
    }
}
