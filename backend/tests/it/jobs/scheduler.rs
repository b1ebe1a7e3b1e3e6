//! The scheduler enqueues `backup_cleanup` periodically, never two at once, bound to the local
//! node; the cleanup expires old backups but keeps each environment's newest completed one and
//! every backup still within retention, and deletes expired local artifacts through
//! `backup-cleanup.yml` (never anything outside the store, never through a symlink).

use super::{step_names, JobsEnv};
use crate::api::register_env;
use crate::support::eventually;
use pressluft_common::{Job, JobStatus, JobType, StepStatus};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn cleanup_job(node: Option<&str>) -> pressluft_backend::jobs::NewJob {
    pressluft_backend::jobs::NewJob {
        job_type: JobType::BackupCleanup,
        site_id: None,
        environment_id: None,
        node_id: node.map(str::to_string),
        backup_id: None,
        payload: serde_json::json!({}),
        max_attempts: 3,
    }
}

async fn cleanup_jobs(env: &JobsEnv) -> Vec<Job> {
    let mut jobs: Vec<Job> = env.client.jobs().await.expect("jobs");
    jobs.retain(|j| j.job_type == JobType::BackupCleanup);
    jobs.reverse(); // oldest first
    jobs
}

#[tokio::test]
async fn scheduler_enqueues_backup_cleanup_periodically_and_never_two_at_once() {
    let env = JobsEnv::start("ok.yml", &[("PRESSLUFT_CLEANUP_INTERVAL_SECS", "1")]).await;
    eventually(
        Duration::from_secs(30),
        "two scheduled cleanups succeeded",
        || async {
            cleanup_jobs(&env)
                .await
                .iter()
                .filter(|j| j.status == JobStatus::Succeeded)
                .count()
                >= 2
        },
    )
    .await;
    let jobs = cleanup_jobs(&env).await;
    let conn = env.db().conn().expect("conn");
    let bound: Option<String> = conn
        .query_row(
            "SELECT node_id FROM jobs WHERE id = ?1",
            [&jobs.last().expect("a cleanup").id],
            |r| r.get(0),
        )
        .expect("job row");
    assert_eq!(
        bound.as_deref(),
        Some(env.local_node.as_str()),
        "bound to the local node"
    );
    for pair in jobs.windows(2) {
        let prev_end = pair[0].finished_at.clone().unwrap_or_default();
        assert!(
            pair[1].created_at >= prev_end,
            "a cleanup was queued while another was active: {pair:?}"
        );
    }
    // A blocked (not yet due) cleanup keeps the scheduler from adding another.
    let blocked = env.enqueue_not_due(cleanup_job(None));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let active: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM jobs WHERE job_type = 'backup_cleanup' AND status IN ('queued','running')",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(active, 1, "only the blocked cleanup {blocked} is active");
}

/// A completed local backup row of `env_id`, created (and completed) at `created`.
fn insert_backup(
    conn: &rusqlite::Connection,
    id: &str,
    (site, env_id): (&str, &str),
    path: &Path,
    retention: &str,
    created: &str,
) {
    conn.execute(
        "INSERT INTO backups (id, environment_id, site_id, backup_scope, status, storage_type, \
         storage_path, retention_until, created_at, completed_at) \
         VALUES (?1, ?2, ?3, 'full', 'completed', 'local', ?4, ?5, ?6, ?6)",
        rusqlite::params![id, env_id, site, path.to_string_lossy(), retention, created],
    )
    .expect("backup row");
}

fn artifact(path: &Path) -> PathBuf {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("store dir");
    std::fs::write(path, b"artifact").expect("artifact");
    path.to_path_buf()
}

/// Waits for the cleanup the scheduler enqueues at start-up, so it cannot race the test's own.
async fn scheduled_cleanup_done(env: &JobsEnv) {
    eventually(
        Duration::from_secs(30),
        "the start-up cleanup ended",
        || async {
            let jobs = cleanup_jobs(env).await;
            !jobs.is_empty() && jobs.iter().all(|j| j.status.is_terminal())
        },
    )
    .await;
}

fn statuses(conn: &rusqlite::Connection) -> Vec<(String, String)> {
    let mut stmt = conn
        .prepare("SELECT id, status FROM backups ORDER BY id")
        .expect("prepare");
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query");
    rows.map(|r| r.expect("row")).collect()
}

#[tokio::test]
async fn cleanup_through_its_playbook_deletes_expired_artifacts_and_keeps_the_newest_and_unexpired()
{
    let env = JobsEnv::start("ok.yml", &[("PRESSLUFT_CLEANUP_INTERVAL_SECS", "3600")]).await;
    scheduled_cleanup_done(&env).await;
    let site = env.site("gamma").await;
    let prod = env
        .client
        .register_environment(&site, &register_env(&env.local_node, "prod"))
        .await
        .expect("env")
        .id;
    let staging = env
        .client
        .register_environment(&site, &register_env(&env.local_node, "staging"))
        .await
        .expect("env")
        .id;
    let store = env.server.data_dir.join("backups");
    let at = |env_id: &str, id: &str| store.join(&site).join(env_id).join(format!("{id}.tar.zst"));
    let id = |n: u32| format!("00000000-0000-4000-8000-00000000000{n}");
    let past = "2000-01-01T00:00:00Z";
    let conn = env.db().conn().expect("conn");
    // b1: old and past retention -> expired, file deleted.
    let b1 = artifact(&at(&prod, &id(1)));
    insert_backup(
        &conn,
        &id(1),
        (&site, &prod),
        &b1,
        past,
        "2020-01-01T00:00:00Z",
    );
    // b2: still within retention -> untouched.
    let b2 = artifact(&at(&prod, &id(2)));
    insert_backup(
        &conn,
        &id(2),
        (&site, &prod),
        &b2,
        "2999-01-01T00:00:00Z",
        "2020-01-02T00:00:00Z",
    );
    // b3: past retention but the newest completed backup of prod -> stays, with its file.
    let b3 = artifact(&at(&prod, &id(3)));
    insert_backup(
        &conn,
        &id(3),
        (&site, &prod),
        &b3,
        past,
        "2020-01-03T00:00:00Z",
    );
    // b4: expired, but its recorded path lies outside the store -> the file is not deleted.
    let outside = artifact(&env.scratch("outside.tar.zst"));
    insert_backup(
        &conn,
        &id(4),
        (&site, &prod),
        &outside,
        past,
        "2019-12-01T00:00:00Z",
    );
    // b5: expired, its path inside the store is a symlink to a file outside -> both stay.
    let target = artifact(&env.scratch("target.tar.zst"));
    let link = at(&prod, &id(5));
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    insert_backup(
        &conn,
        &id(5),
        (&site, &prod),
        &link,
        past,
        "2019-12-02T00:00:00Z",
    );
    // b6: the only (old) backup of staging -> the newest of its environment, stays.
    let b6 = artifact(&at(&staging, &id(6)));
    insert_backup(
        &conn,
        &id(6),
        (&site, &staging),
        &b6,
        past,
        "2019-01-01T00:00:00Z",
    );
    // b7: expired by an earlier run whose file is gone already -> nothing to do, no error.
    insert_backup(
        &conn,
        &id(7),
        (&site, &prod),
        &at(&prod, &id(7)),
        past,
        "2019-11-01T00:00:00Z",
    );
    conn.execute(
        "UPDATE backups SET status = 'expired' WHERE id = ?1",
        [id(7)],
    )
    .expect("pre-expired");

    let job_id = env.enqueue(cleanup_job(Some(&env.local_node)));
    let job = env.wait(&job_id).await;
    assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
    assert_eq!(
        step_names(&job),
        ["expire backups", "delete expired artifacts"]
    );
    assert!(
        job.steps.iter().all(|s| s.status == StepStatus::Succeeded),
        "{job:?}"
    );
    let result = env.result_json(&job_id).expect("result");
    assert_eq!(result["expired"], 3, "{result}");
    assert_eq!(result["files_deleted"], 1, "{result}");
    assert_eq!(result["paths_refused"], 2, "{result}");
    let want: Vec<(String, String)> = [
        (1, "expired"),
        (2, "completed"),
        (3, "completed"),
        (4, "expired"),
        (5, "expired"),
        (6, "completed"),
        (7, "expired"),
    ]
    .iter()
    .map(|(n, s)| (id(*n), s.to_string()))
    .collect();
    assert_eq!(statuses(&conn), want);
    assert!(!b1.exists(), "the expired artifact is deleted");
    assert!(b2.exists(), "an artifact within retention is kept");
    assert!(b3.exists(), "the newest backup's artifact is kept");
    assert!(
        b6.exists(),
        "the newest backup of another environment is kept"
    );
    assert!(
        outside.exists(),
        "a file outside the store is never deleted"
    );
    assert!(
        link.symlink_metadata().is_ok() && target.exists(),
        "a symlink in the store is refused, its target untouched"
    );

    // Once the operator removed the refused symlink, a rerun has nothing left to delete: the
    // playbook is skipped and the step says so.
    std::fs::remove_file(&link).expect("remove the symlink");
    let rerun = env.enqueue(cleanup_job(Some(&env.local_node)));
    let job = env.wait(&rerun).await;
    assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
    let delete = &job.steps[1];
    assert_eq!(delete.status, StepStatus::Skipped, "{job:?}");
    assert!(
        delete.detail.as_deref().unwrap_or("").contains("not run"),
        "{job:?}"
    );
    assert_eq!(statuses(&conn), want);
}

#[tokio::test]
async fn cleanup_with_local_artifacts_but_no_local_node_fails_and_names_the_fix() {
    let env = JobsEnv::start("ok.yml", &[("PRESSLUFT_CLEANUP_INTERVAL_SECS", "3600")]).await;
    scheduled_cleanup_done(&env).await;
    let site = env.site("delta").await;
    let prod = env
        .client
        .register_environment(&site, &register_env(&env.local_node, "prod"))
        .await
        .expect("env")
        .id;
    let store = env.server.data_dir.join("backups");
    let conn = env.db().conn().expect("conn");
    let old = artifact(&store.join(&site).join(&prod).join("old.tar.zst"));
    let new = artifact(&store.join(&site).join(&prod).join("new.tar.zst"));
    let past = "2000-01-01T00:00:00Z";
    insert_backup(
        &conn,
        "00000000-0000-4000-8000-0000000000a1",
        (&site, &prod),
        &old,
        past,
        "2020-01-01T00:00:00Z",
    );
    insert_backup(
        &conn,
        "00000000-0000-4000-8000-0000000000a2",
        (&site, &prod),
        &new,
        past,
        "2020-01-02T00:00:00Z",
    );
    // The local node stops being local (there is no API to remove a node).
    conn.execute("UPDATE nodes SET is_local = 0", [])
        .expect("unlocal");

    let job_id = env.enqueue(cleanup_job(None));
    let job = env.wait(&job_id).await;
    assert_eq!(job.status, JobStatus::Failed, "{job:?}");
    assert_eq!(
        job.error_code.as_deref(),
        Some("BACKUP_CLEANUP_FAILED"),
        "{job:?}"
    );
    let message = job.error_message.as_deref().unwrap_or("");
    assert!(
        message.contains("register the control plane's own node"),
        "{job:?}"
    );
    assert_eq!(job.attempt_count, 1, "not retried: {job:?}");
    let statuses: Vec<String> = statuses(&conn).into_iter().map(|(_, s)| s).collect();
    assert_eq!(
        statuses,
        ["expired", "completed"],
        "the database stays the source of truth"
    );
    assert!(
        old.exists() && new.exists(),
        "nothing was deleted without the playbook"
    );
}
