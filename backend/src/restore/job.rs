//! The `env_restore` job: preflight, verify the artifact against its record, take a pre-restore
//! checkpoint backup, then `env-restore.yml` (apply: unpack into staging, normalize, swap files
//! and database, health checks). Any failure after the checkpoint runs the playbook's rollback
//! phase before the job is settled; a retried or recovered attempt rolls back first.

use crate::backups::job::{complete_from_result, produce};
use crate::backups::{service as bsvc, store as bstore, target};
use crate::error::AppError;
use crate::jobs::handler::{BoxFuture, JobContext, JobFailure, JobHandler, Settlement};
use crate::jobs::store::JobRow;
use pressluft_common::{
    Backup, BackupScope, BackupStatus, JobType, ResourceStatus, StepStatus, StorageType,
};
use rusqlite::{OptionalExtension, Transaction};
use serde_json::{json, Value};
use std::path::PathBuf;

pub struct EnvRestore;

/// Playbook result codes that another attempt may fix: none — every restore failure is
/// deterministic for its backup (a dump that fails to import fails again), and a half-done
/// restore is rolled back before the job fails. Unreachable nodes and timeouts are retried by
/// the runner.
fn retryable(_code: &str) -> bool {
    false
}

impl JobHandler for EnvRestore {
    fn job_type(&self) -> JobType {
        JobType::EnvRestore
    }

    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<Value, JobFailure>> {
        Box::pin(run(ctx))
    }

    fn retryable_result_code(&self, code: &str) -> bool {
        retryable(code)
    }

    fn on_start(&self, tx: &Transaction<'_>, job: &JobRow) -> Result<(), AppError> {
        if let (Some(env), Some(site)) = (&job.environment_id, &job.site_id) {
            target::set_status(tx, env, site, ResourceStatus::Restoring)?;
        }
        Ok(())
    }

    fn on_failure<'a>(
        &'a self,
        ctx: &'a JobContext,
        failure: &'a JobFailure,
        _last: bool,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            // Cancel or timeout mid-run: put the previous state back (idempotent). A failure
            // inside `run` already rolled back and says so in its code.
            if failure.code != "RESTORE_ROLLBACK_FAILED" && !rolled_back(failure) {
                if let Err(f) = rollback(ctx).await {
                    mark_failed(ctx, &f).await;
                }
            }
        })
    }

    fn settle(
        &self,
        tx: &Transaction<'_>,
        job: &JobRow,
        outcome: &Settlement<'_>,
    ) -> Result<(), AppError> {
        let (Some(env), Some(site)) = (&job.environment_id, &job.site_id) else {
            return Ok(());
        };
        let next = match outcome {
            Settlement::Succeeded { .. } => ResourceStatus::Active,
            Settlement::Retrying { .. } => return Ok(()),
            Settlement::Failed { failure } | Settlement::Cancelled { failure } => {
                if failure.code == "RESTORE_ROLLBACK_FAILED" || failure.code == "JOB_ABANDONED" {
                    ResourceStatus::Failed
                } else {
                    ResourceStatus::Active
                }
            }
        };
        // Never turn a `failed` left by a failed rollback back into `active`.
        let current: String = tx.query_row(
            "SELECT status FROM environments WHERE id = ?1",
            [env],
            |r| r.get(0),
        )?;
        if current == ResourceStatus::Failed.as_str() && next == ResourceStatus::Active {
            return Ok(());
        }
        target::set_status(tx, env, site, next)
    }
}

/// Marker in a failure message: the previous state was put back before the job failed.
const ROLLED_BACK: &str = "The previous files and database were put back";

fn rolled_back(f: &JobFailure) -> bool {
    f.message.contains(ROLLED_BACK) || f.message.contains("Nothing was changed")
}

async fn run(ctx: &JobContext) -> Result<Value, JobFailure> {
    let (backup, t) = load(ctx).await?;
    if ctx.job.attempt > 1 {
        // A retried or recovered attempt: converge to the pre-restore state first, unless the
        // restore had been applied and finished (its worker died before the job was settled).
        if rollback(ctx).await?["already_finished"] == json!(true) {
            return finished_earlier(ctx, &backup, &t).await;
        }
    }
    preflight(ctx, &backup, &t).await?;
    let result = restore_verified(ctx, &backup, &t).await;
    drop_fetched(ctx, &backup);
    result
}

async fn restore_verified(
    ctx: &JobContext,
    backup: &Backup,
    t: &target::Target,
) -> Result<Value, JobFailure> {
    let (backup, t) = (backup.clone(), t.clone());
    verify_artifact(ctx, &backup).await?;
    let checkpoint = checkpoint(ctx, &t).await?;
    let vars = playbook_vars(ctx, &backup, &t, "apply");
    match ctx.run_playbook("env-restore.yml", vars).await {
        Ok(applied) => {
            let finish = ctx
                .run_playbook("env-restore.yml", playbook_vars(ctx, &backup, &t, "finish"))
                .await;
            if let Err(f) = finish {
                // The restore is live and healthy; leftovers only cost disk.
                tracing::warn!(job.id = %ctx.job.id, code = %f.code, "restore finish phase failed");
            }
            Ok(json!({
                "backup_id": backup.id,
                "checkpoint_backup_id": checkpoint,
                "preview_url": t.preview_url,
                "applied": applied.result,
            }))
        }
        Err(failure) => {
            if ctx.is_cancelled() {
                return Err(failure); // on_failure rolls back with a fresh token.
            }
            match rollback(ctx).await {
                Ok(_) => Err(JobFailure {
                    message: format!(
                        "{}. {ROLLED_BACK} (checkpoint backup {checkpoint}); the environment is active again.",
                        failure.message.trim_end().trim_end_matches('.')
                    ),
                    ..failure
                }),
                Err(rb) => Err(rb),
            }
        }
    }
}

/// The result of a restore that an earlier attempt applied and finished.
async fn finished_earlier(
    ctx: &JobContext,
    backup: &Backup,
    t: &target::Target,
) -> Result<Value, JobFailure> {
    let job_id = ctx.job.id.clone();
    let checkpoint: Option<String> = ctx
        .state
        .db
        .run(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT id FROM backups WHERE checkpoint_for_job_id = ?1 AND status = 'completed'",
                    [&job_id],
                    |r| r.get(0),
                )
                .optional()?)
        })
        .await
        .map_err(|e| JobFailure::internal(&ctx.job.id, &e))?;
    Ok(json!({
        "backup_id": backup.id,
        "checkpoint_backup_id": checkpoint,
        "preview_url": t.preview_url,
        "recovered": "an earlier attempt had applied and finished the restore",
    }))
}

async fn load(ctx: &JobContext) -> Result<(Backup, target::Target), JobFailure> {
    let job = ctx.job.clone();
    let found = ctx
        .state
        .db
        .run(move |conn| {
            let (Some(bid), Some(eid)) = (&job.backup_id, &job.environment_id) else {
                return Ok(None);
            };
            let (Some(b), Some(t)) = (bstore::get(conn, bid)?, target::load(conn, eid)?) else {
                return Ok(None);
            };
            Ok(Some((b, t)))
        })
        .await
        .map_err(|e| JobFailure::internal(&ctx.job.id, &e))?;
    found.ok_or_else(|| {
        JobFailure::new(
            "RESTORE_INVALID_REQUEST",
            "the backup or the environment of this restore no longer exists. Nothing was changed.",
            false,
        )
    })
}

async fn preflight(ctx: &JobContext, b: &Backup, t: &target::Target) -> Result<(), JobFailure> {
    let seq = ctx.step_start("preflight checks").await?;
    let checks = super::service::run_checks(&ctx.state, t, b).await;
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect();
    if failed.is_empty() {
        let detail = format!("{} checks passed", checks.len());
        ctx.step_finish(seq, StepStatus::Succeeded, Some(detail))
            .await?;
        return Ok(());
    }
    let detail = failed.join("; ");
    ctx.step_finish(seq, StepStatus::Failed, Some(detail.clone()))
        .await?;
    Err(JobFailure::new(
        "RESTORE_PREFLIGHT_FAILED",
        format!("{detail}. Nothing was changed; fix this and start the restore again."),
        false,
    ))
}

/// The local file the node unpacks: the store's file, or a copy fetched from S3.
fn local_artifact(ctx: &JobContext, b: &Backup) -> PathBuf {
    match b.storage_type {
        StorageType::Local => PathBuf::from(&b.storage_path),
        StorageType::S3 => ctx
            .state
            .config
            .backup_dir
            .join(".s3-staging")
            .join(format!("restore-{}.tar.zst", ctx.job.id)),
    }
}

/// Fetches an S3 artifact to its local staging file (a no-op for the local store).
async fn fetch_artifact(ctx: &JobContext, b: &Backup) -> Result<(), JobFailure> {
    if b.storage_type != StorageType::S3 {
        return Ok(());
    }
    let seq = ctx.step_start("fetch artifact").await?;
    let dest = local_artifact(ctx, b);
    if let Some(dir) = dest.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match ctx
        .state
        .storage
        .fetch_to_file(&b.storage_path, &dest)
        .await
    {
        Ok(()) => {
            let detail = format!("from {}", ctx.state.storage.describe());
            ctx.step_finish(seq, StepStatus::Succeeded, Some(detail))
                .await
        }
        Err(e) => {
            let f = JobFailure::new(
                "RESTORE_ARTIFACT_MISSING",
                format!(
                    "the artifact of backup {} cannot be fetched ({}: {e}). Nothing was changed; check the store or pick another backup.",
                    b.id,
                    e.code()
                ),
                e.retryable(),
            );
            ctx.step_finish(seq, StepStatus::Failed, Some(f.message.clone()))
                .await?;
            Err(f)
        }
    }
}

fn drop_fetched(ctx: &JobContext, b: &Backup) {
    if b.storage_type == StorageType::S3 {
        crate::backups::job::remove_if_exists(&local_artifact(ctx, b));
    }
}

async fn verify_artifact(ctx: &JobContext, b: &Backup) -> Result<(), JobFailure> {
    fetch_artifact(ctx, b).await?;
    let seq = ctx.step_start("verify artifact").await?;
    let path = local_artifact(ctx, b);
    let measured = tokio::task::spawn_blocking(move || pressluft_artifact::hash_file(&path))
        .await
        .map_err(|e| JobFailure::new("JOB_INTERNAL_ERROR", format!("hash task: {e}"), true))?;
    let want_sha = b.checksum.clone().unwrap_or_default();
    let want_size = b.size_bytes.unwrap_or(0);
    let failure = match measured {
        Err(e) => Some(JobFailure::new(
            "RESTORE_ARTIFACT_MISSING",
            format!(
                "the artifact of backup {} cannot be read ({e}). Nothing was changed; pick another backup.",
                b.id
            ),
            false,
        )),
        Ok((sha, size)) if sha != want_sha || size != want_size => Some(JobFailure::new(
            "RESTORE_ARTIFACT_CHECKSUM_MISMATCH",
            format!(
                "backup {} is damaged: its artifact has sha256 {sha} and {size} bytes, the record says {want_sha} and {want_size}. Nothing was changed; pick another backup.",
                b.id
            ),
            false,
        )),
        Ok(_) => None,
    };
    match failure {
        Some(f) => {
            ctx.step_finish(seq, StepStatus::Failed, Some(f.message.clone()))
                .await?;
            Err(f)
        }
        None => {
            let detail = format!(
                "sha256 and size match ({})",
                super::checks::human(want_size)
            );
            ctx.step_finish(seq, StepStatus::Succeeded, Some(detail))
                .await?;
            Ok(())
        }
    }
}

/// The pre-restore full backup of the target: reused when an earlier attempt of this job
/// already completed it, else created now. Returns its id.
async fn checkpoint(ctx: &JobContext, t: &target::Target) -> Result<String, JobFailure> {
    let seq = ctx.step_start("pre-restore backup").await?;
    let (job_id, st, tt) = (ctx.job.id.clone(), ctx.state.clone(), t.clone());
    let existing = ctx
        .state
        .db
        .tx(move |tx| {
            let done: Option<String> = tx
                .query_row(
                    "SELECT id FROM backups WHERE checkpoint_for_job_id = ?1 AND status = 'completed'",
                    [&job_id],
                    |r| r.get(0),
                )
                .ok();
            if let Some(id) = done {
                return Ok((id, true));
            }
            let id = crate::util::new_id();
            bsvc::insert_pending(tx, &st, &tt, BackupScope::Full, &id, &job_id, Some(&job_id))?;
            bstore::set_status(tx, &id, BackupStatus::Running)?;
            Ok((id, false))
        })
        .await
        .map_err(|e| JobFailure::internal(&ctx.job.id, &e))?;
    let (id, reused) = existing;
    if reused {
        ctx.step_finish(
            seq,
            StepStatus::Succeeded,
            Some(format!("checkpoint backup {id} (from an earlier attempt)")),
        )
        .await?;
        return Ok(id);
    }
    match produce(ctx, &id).await {
        Ok(produced) => {
            let (bid, result) = (
                id.clone(),
                json!({
                    "checksum": produced.checksum,
                    "size_bytes": produced.size_bytes,
                    "manifest": produced.manifest,
                }),
            );
            ctx.state
                .db
                .tx(move |tx| complete_from_result(tx, &bid, &result))
                .await
                .map_err(|e| JobFailure::internal(&ctx.job.id, &e))?;
            ctx.step_finish(
                seq,
                StepStatus::Succeeded,
                Some(format!("checkpoint backup {id}")),
            )
            .await?;
            Ok(id)
        }
        Err(f) => {
            let bid = id.clone();
            let _ = ctx
                .state
                .db
                .tx(move |tx| bstore::set_status(tx, &bid, BackupStatus::Failed))
                .await;
            crate::backups::job::discard_object(ctx, &id).await;
            ctx.step_finish(seq, StepStatus::Failed, Some(f.message.clone()))
                .await?;
            Err(JobFailure::new(
                "RESTORE_PRE_BACKUP_FAILED",
                format!(
                    "the pre-restore backup failed ({}: {}). Nothing was changed; fix the cause and start the restore again.",
                    f.code, f.message
                ),
                false,
            ))
        }
    }
}

fn playbook_vars(ctx: &JobContext, b: &Backup, t: &target::Target, phase: &str) -> Value {
    json!({
        "job_id": ctx.job.id,
        "site_id": t.site_id,
        "environment_id": t.environment_id,
        "backup_id": b.id,
        "backup_scope": b.backup_scope,
        "artifact_bin": ctx.state.config.artifact_bin,
        "artifact_path": local_artifact(ctx, b),
        "artifact_sha256": b.checksum,
        "artifact_size": b.size_bytes,
        "env_root": t.files_root,
        "db_name": t.db_name,
        "system_user": t.system_user,
        "preview_url": t.preview_url,
        "restore_phase": phase,
    })
}

/// Runs the rollback phase (idempotent: a no-op when nothing was swapped; finishes instead a
/// restore that was applied). Returns the phase's result (`already_finished`, `rolled_back`).
async fn rollback(ctx: &JobContext) -> Result<Value, JobFailure> {
    let (backup, t) = load(ctx).await?;
    let vars = playbook_vars(ctx, &backup, &t, "rollback");
    match ctx.run_playbook("env-restore.yml", vars).await {
        Ok(done) => Ok(done.result),
        Err(f) => Err(JobFailure::new(
            "RESTORE_ROLLBACK_FAILED",
            format!(
                "the restore failed and putting the previous state back failed too ({}: {}). The environment needs manual attention: its previous files and tables are kept under {}/.pressluft/restore-{}; fix it, then reset it (POST /api/environments/{}/reset).",
                f.code, f.message, t.files_root, ctx.job.id, t.environment_id
            ),
            false,
        )),
    }
}

async fn mark_failed(ctx: &JobContext, f: &JobFailure) {
    tracing::error!(job.id = %ctx.job.id, code = %f.code, "rollback after a stopped restore failed");
    if let (Some(env), Some(site)) = (ctx.job.environment_id.clone(), ctx.job.site_id.clone()) {
        let _ = ctx
            .state
            .db
            .tx(move |tx| target::set_status(tx, &env, &site, ResourceStatus::Failed))
            .await;
    }
}
