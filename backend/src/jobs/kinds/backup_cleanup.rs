//! `backup_cleanup` (in-process, scheduled): expires completed backups whose `retention_until`
//! has passed, except the newest completed backup of each environment, then deletes the local
//! artifact of every expired backup that still has one. Idempotent: a rerun finishes deletions
//! an interrupted run left behind. Never deletes outside the local backup store.

use crate::db::tx_sync;
use crate::jobs::handler::{BoxFuture, JobContext, JobFailure, JobHandler};
use pressluft_common::{JobType, StepStatus};
use rusqlite::params;
use serde_json::{json, Value};
use std::path::{Component, Path, PathBuf};

pub struct BackupCleanup;

impl JobHandler for BackupCleanup {
    fn job_type(&self) -> JobType {
        JobType::BackupCleanup
    }

    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<Value, JobFailure>> {
        Box::pin(run(ctx))
    }
}

async fn run(ctx: &JobContext) -> Result<Value, JobFailure> {
    let internal = |e: crate::error::AppError| JobFailure::internal(&ctx.job.id, &e);
    let seq = ctx.step_start("expire backups").await?;
    let expired = ctx
        .state
        .db
        .run(|c| tx_sync(c, expire))
        .await
        .map_err(internal)?;
    ctx.step_finish(
        seq,
        StepStatus::Succeeded,
        Some(format!("{expired} backup(s) expired")),
    )
    .await?;

    let seq = ctx.step_start("delete expired artifacts").await?;
    let paths: Vec<String> = ctx
        .state
        .db
        .run(|c| {
            let mut stmt = c.prepare(
                "SELECT storage_path FROM backups WHERE status = 'expired' AND storage_type = 'local'",
            )?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
        .map_err(internal)?;
    let store = ctx.state.config.backup_dir.clone();
    let (deleted, refused) = tokio::task::spawn_blocking(move || delete_artifacts(&store, &paths))
        .await
        .map_err(|e| {
            JobFailure::new(
                "JOB_INTERNAL_ERROR",
                format!("artifact deletion task: {e}"),
                true,
            )
        })?;
    // Expired objects in S3 (delete is idempotent: a missing object is fine).
    let keys: Vec<String> = ctx
        .state
        .db
        .run(|c| {
            let mut stmt = c.prepare(
                "SELECT storage_path FROM backups WHERE status = 'expired' AND storage_type = 's3'",
            )?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
        .map_err(internal)?;
    let mut objects = 0usize;
    for key in &keys {
        match ctx.state.storage.delete(key).await {
            Ok(()) => objects += 1,
            Err(e) => {
                let f =
                    JobFailure::new(e.code(), format!("cannot delete {key}: {e}"), e.retryable());
                ctx.step_finish(seq, StepStatus::Failed, Some(f.message.clone()))
                    .await?;
                return Err(f);
            }
        }
    }
    let detail = format!(
        "{deleted} file(s) and {objects} S3 object(s) deleted, {refused} path(s) outside the store refused"
    );
    ctx.step_finish(seq, StepStatus::Succeeded, Some(detail))
        .await?;
    Ok(json!({ "expired": expired, "files_deleted": deleted, "paths_refused": refused }))
}

/// Marks expired backups in one transaction; returns how many.
fn expire(tx: &rusqlite::Transaction<'_>) -> Result<usize, crate::error::AppError> {
    let n = tx.execute(
        "UPDATE backups SET status = 'expired' WHERE status = 'completed' AND retention_until < ?1 \
         AND id <> (SELECT n.id FROM backups n WHERE n.environment_id = backups.environment_id \
                    AND n.status = 'completed' \
                    ORDER BY COALESCE(n.completed_at, n.created_at) DESC, n.created_at DESC, n.rowid DESC \
                    LIMIT 1)",
        params![crate::util::now()],
    )?;
    Ok(n)
}

/// The file of a local backup, only if it lies inside the store (no `..`, no escape).
fn resolve(store: &Path, storage_path: &str) -> Option<PathBuf> {
    let p = Path::new(storage_path);
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return None;
    }
    let full = if p.is_absolute() {
        p.to_path_buf()
    } else {
        store.join(p)
    };
    (full.starts_with(store) && full != store).then_some(full)
}

fn delete_artifacts(store: &Path, paths: &[String]) -> (usize, usize) {
    let (mut deleted, mut refused) = (0, 0);
    for sp in paths {
        let Some(path) = resolve(store, sp) else {
            tracing::warn!(storage_path = %sp, "refusing to delete a backup file outside the store");
            refused += 1;
            continue;
        };
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => match std::fs::remove_file(&path) {
                Ok(()) => deleted += 1,
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot delete expired backup")
                }
            },
            _ => {}
        }
    }
    (deleted, refused)
}

#[cfg(test)]
mod tests {
    use super::resolve;
    use std::path::Path;

    #[test]
    fn only_paths_inside_the_store_are_deleted() {
        let store = Path::new("/data/backups");
        assert_eq!(
            resolve(store, "a/b.tar.zst").unwrap(),
            Path::new("/data/backups/a/b.tar.zst")
        );
        assert!(resolve(store, "/data/backups/x.tar.zst").is_some());
        assert!(resolve(store, "/etc/passwd").is_none());
        assert!(resolve(store, "../x").is_none());
        assert!(resolve(store, "/data/backups").is_none());
    }
}
