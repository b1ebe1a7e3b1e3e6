//! The scheduler enqueues `backup_cleanup` periodically, never two at once; the cleanup
//! expires old backups but keeps each environment's newest completed one.

use super::JobsEnv;
use crate::api::register_env;
use crate::support::eventually;
use pressluft_common::{Job, JobStatus, JobType};
use std::time::Duration;

fn cleanup_job() -> pressluft_backend::jobs::NewJob {
    pressluft_backend::jobs::NewJob {
        job_type: JobType::BackupCleanup,
        site_id: None,
        environment_id: None,
        node_id: None,
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
    for pair in jobs.windows(2) {
        let prev_end = pair[0].finished_at.clone().unwrap_or_default();
        assert!(
            pair[1].created_at >= prev_end,
            "a cleanup was queued while another was active: {pair:?}"
        );
    }
    // A blocked (not yet due) cleanup keeps the scheduler from adding another.
    let conn = env.db().conn().expect("conn");
    let blocked = env.enqueue_not_due(cleanup_job());
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

#[tokio::test]
async fn backup_cleanup_expires_old_backups_but_keeps_the_newest_of_each_environment() {
    let env = JobsEnv::start("ok.yml", &[("PRESSLUFT_CLEANUP_INTERVAL_SECS", "3600")]).await;
    let site = env.site("gamma").await;
    let envr = env
        .client
        .register_environment(&site, &register_env(&env.local_node, "prod"))
        .await
        .expect("env");
    let store = env.server.data_dir.join("backups");
    std::fs::create_dir_all(&store).expect("store");
    let conn = env.db().conn().expect("conn");
    let mut files = Vec::new();
    for (i, (retention, created)) in [
        ("2000-01-01T00:00:00Z", "2020-01-01T00:00:00Z"),
        ("2000-01-01T00:00:00Z", "2020-01-02T00:00:00Z"),
        ("2999-01-01T00:00:00Z", "2020-01-03T00:00:00Z"),
    ]
    .iter()
    .enumerate()
    {
        let path = store.join(format!("b{i}.tar.zst"));
        std::fs::write(&path, b"artifact").expect("artifact");
        files.push(path.clone());
        conn.execute(
            "INSERT INTO backups (id, environment_id, site_id, backup_scope, status, storage_type, \
             storage_path, retention_until, created_at, completed_at) \
             VALUES (?1, ?2, ?3, 'full', 'completed', 'local', ?4, ?5, ?6, ?6)",
            rusqlite::params![format!("00000000-0000-4000-8000-00000000000{i}"), envr.id, site, path.to_string_lossy(), retention, created],
        )
        .expect("backup row");
    }
    // The newest backup (b2) is also past retention: it must stay.
    conn.execute(
        "UPDATE backups SET retention_until = '2000-01-01T00:00:00Z'",
        [],
    )
    .expect("age all");
    let id = env.enqueue(cleanup_job());
    let job = env.wait(&id).await;
    assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
    assert_eq!(job.steps.len(), 2);
    assert_eq!(env.result_json(&id).expect("result")["expired"], 2);
    let statuses: Vec<String> = {
        let mut stmt = conn
            .prepare("SELECT status FROM backups ORDER BY created_at")
            .expect("prepare");
        let rows = stmt.query_map([], |r| r.get(0)).expect("query");
        rows.map(|r| r.expect("row")).collect()
    };
    assert_eq!(statuses, ["expired", "expired", "completed"]);
    assert!(
        !files[0].exists() && !files[1].exists(),
        "expired artifacts are deleted"
    );
    assert!(files[2].exists(), "the newest backup's artifact is kept");
}
