//! `backup_cleanup` (scheduled): expires completed backups whose `retention_until` has passed,
//! except the newest completed backup of each environment (one transaction: the database is the
//! source of truth), then deletes the artifacts of expired backups that still exist: local-store
//! files through `backup-cleanup.yml` on the local (is_local) node, where the store lives, and S3
//! objects through the control plane's storage client. Idempotent: a rerun finishes deletions an
//! interrupted run left behind. Never deletes outside the local backup store (checked here and
//! again, on resolved paths, by the playbook).

use crate::db::tx_sync;
use crate::jobs::handler::{BoxFuture, JobContext, JobFailure, JobHandler};
use pressluft_common::{JobType, StepStatus};
use rusqlite::{params, OptionalExtension};
use serde_json::{json, Value};
use std::path::{Component, Path, PathBuf};

pub const PLAYBOOK: &str = "backup-cleanup.yml";
/// The playbook's step, also recorded by the handler when the playbook is not needed.
const DELETE_STEP: &str = "delete expired artifacts";
const FAILED: &str = "BACKUP_CLEANUP_FAILED";

pub struct BackupCleanup;

impl JobHandler for BackupCleanup {
    fn job_type(&self) -> JobType {
        JobType::BackupCleanup
    }

    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<Value, JobFailure>> {
        Box::pin(run(ctx))
    }

    /// A file the playbook could not delete (I/O, permissions) may be deletable later.
    fn retryable_result_code(&self, code: &str) -> bool {
        code == FAILED
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

    let (local, keys, local_node) = ctx
        .state
        .db
        .run(|c| {
            let expired_paths = |storage_type: &str| -> Result<Vec<String>, rusqlite::Error> {
                let mut stmt = c.prepare(
                    "SELECT storage_path FROM backups WHERE status = 'expired' AND storage_type = ?1 \
                     ORDER BY created_at, rowid",
                )?;
                let rows = stmt.query_map([storage_type], |r| r.get::<_, String>(0))?;
                rows.collect()
            };
            let local = expired_paths("local")?;
            let keys = expired_paths("s3")?;
            let node: Option<String> = c
                .query_row("SELECT id FROM nodes WHERE is_local = 1", [], |r| r.get(0))
                .optional()?;
            Ok((local, keys, node))
        })
        .await
        .map_err(internal)?;

    // Local store: only files that still exist, only inside the store.
    let store = std::path::absolute(&ctx.state.config.backup_dir)
        .unwrap_or_else(|_| ctx.state.config.backup_dir.clone());
    let (paths, refused) = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || existing_artifacts(&store, &local))
            .await
            .map_err(|e| {
                JobFailure::new(
                    "JOB_INTERNAL_ERROR",
                    format!("artifact listing task: {e}"),
                    true,
                )
            })?
    };
    let refused_note = if refused > 0 {
        format!(
            "; {refused} recorded path(s) outside the store {} refused",
            store.display()
        )
    } else {
        String::new()
    };
    let local_result = if paths.is_empty() {
        let seq = ctx.step_start(DELETE_STEP).await?;
        ctx.step_finish(
            seq,
            StepStatus::Skipped,
            Some(format!(
                "no expired artifact left in the local store; {PLAYBOOK} not run{refused_note}"
            )),
        )
        .await?;
        json!({ "deleted": [], "missing": [], "refused": [] })
    } else {
        let node = match local_node {
            Some(node) if ctx.job.node_id.as_deref() == Some(node.as_str()) => node,
            other => {
                let message = match other {
                    None => format!(
                        "{} expired backup artifact(s) in the local store {} wait for deletion, \
                         but no local node is registered; register the control plane's own node \
                         (is_local) so {PLAYBOOK} can run on it; the backups stay expired and the \
                         next scheduled cleanup deletes them",
                        paths.len(),
                        store.display()
                    ),
                    Some(node) => format!(
                        "{} expired backup artifact(s) in the local store {} wait for deletion, \
                         but this cleanup job is not bound to the local node {node}; the backups \
                         stay expired and the next scheduled cleanup (which is) deletes them",
                        paths.len(),
                        store.display()
                    ),
                };
                let seq = ctx.step_start(DELETE_STEP).await?;
                ctx.step_finish(seq, StepStatus::Failed, Some(message.clone()))
                    .await?;
                return Err(JobFailure::new(FAILED, message, false));
            }
        };
        tracing::info!(job.id = %ctx.job.id, node = %node, files = paths.len(), "deleting expired backup artifacts");
        let vars = json!({ "backup_root": store, "paths": paths });
        ctx.run_playbook(PLAYBOOK, vars).await?.result
    };
    let count = |key: &str| local_result[key].as_array().map_or(0, Vec::len);
    for path in local_result["refused"].as_array().into_iter().flatten() {
        tracing::warn!(job.id = %ctx.job.id, path = %path, "the playbook refused to delete a backup file (symlink, not a file, or outside the store)");
    }

    // Expired objects in S3: the control plane talks to S3, not a node (delete is idempotent).
    let mut objects = 0usize;
    if !keys.is_empty() {
        let seq = ctx.step_start("delete expired S3 objects").await?;
        for key in &keys {
            if let Err(e) = ctx.state.storage.delete(key).await {
                let f =
                    JobFailure::new(e.code(), format!("cannot delete {key}: {e}"), e.retryable());
                ctx.step_finish(seq, StepStatus::Failed, Some(f.message.clone()))
                    .await?;
                return Err(f);
            }
            objects += 1;
        }
        ctx.step_finish(
            seq,
            StepStatus::Succeeded,
            Some(format!("{objects} S3 object(s) deleted")),
        )
        .await?;
    }
    Ok(json!({
        "expired": expired,
        "files_deleted": count("deleted"),
        "files_missing": count("missing"),
        "paths_refused": refused + count("refused"),
        "objects_deleted": objects,
    }))
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

/// The absolute paths, inside the store, of the expired artifacts that still exist (a symlink
/// counts: the playbook refuses it and reports it), and how many recorded paths were refused.
fn existing_artifacts(store: &Path, storage_paths: &[String]) -> (Vec<String>, usize) {
    let (mut paths, mut refused) = (Vec::new(), 0);
    for sp in storage_paths {
        let Some(path) = resolve(store, sp) else {
            tracing::warn!(storage_path = %sp, "refusing to delete a backup file outside the store");
            refused += 1;
            continue;
        };
        if std::fs::symlink_metadata(&path).is_ok() {
            paths.push(path.to_string_lossy().into_owned());
        }
    }
    (paths, refused)
}

#[cfg(test)]
mod tests {
    use super::{existing_artifacts, resolve};
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
        assert!(resolve(store, "/data/backups/a/../../x").is_none());
        assert!(resolve(store, "/data/backups-other/x").is_none());
        assert!(resolve(store, "/data/backups").is_none());
    }

    #[test]
    fn only_existing_files_inside_the_store_go_to_the_playbook() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("backups");
        std::fs::create_dir_all(&store).unwrap();
        std::fs::write(store.join("a.tar.zst"), b"x").unwrap();
        std::fs::write(dir.path().join("outside"), b"x").unwrap();
        let recorded = [
            store.join("a.tar.zst").to_string_lossy().into_owned(),
            "missing.tar.zst".to_string(),
            dir.path().join("outside").to_string_lossy().into_owned(),
        ];
        let (paths, refused) = existing_artifacts(&store, &recorded);
        assert_eq!(paths, [recorded[0].clone()]);
        assert_eq!(refused, 1);
    }
}
