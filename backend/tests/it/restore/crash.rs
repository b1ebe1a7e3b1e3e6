//! A server killed (SIGKILL) in the middle of a restore: after the restart the job is recovered
//! and the environment ends up entirely in one state, never half restored.

use super::{leftovers, post_titles, EnvState, Rig};
use crate::node::{http_get, sql};
use pressluft_common::{BackupScope, JobStatus, ResourceStatus};
use std::time::{Duration, Instant};

/// Waits until the job has a step named `name` (running or finished), polling the server's
/// SQLite file directly so that the kill lands as close to the step as possible.
async fn wait_for_step(rig: &Rig, job_id: &str, name: &str) {
    let conn = rig.db();
    let deadline = Instant::now() + super::JOB_WAIT;
    loop {
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM job_steps WHERE job_id = ?1 AND name = ?2",
                [job_id, name],
                |r| r.get(0),
            )
            .unwrap();
        if n > 0 {
            return;
        }
        let status: String = conn
            .query_row("SELECT status FROM jobs WHERE id = ?1", [job_id], |r| {
                r.get(0)
            })
            .unwrap();
        assert!(
            status == "queued" || status == "running",
            "the job ended ({status}) before step {name}"
        );
        assert!(Instant::now() < deadline, "no step {name} in time");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_killed_mid_restore_converges_after_restart() {
    let mut rig = Rig::start().await;
    let prod = rig.env("demo/production");
    let backup = rig.backup(&prod, BackupScope::Full).await;
    let restored = EnvState::of(&prod);
    sql(
        &prod.db_name,
        "UPDATE wp_posts SET post_title = 'Changed before the crash' \
         WHERE post_type = 'post' AND post_status = 'publish' ORDER BY ID LIMIT 1",
    );
    std::fs::write(
        std::path::Path::new(&prod.files_root).join("shared/uploads/added-before-the-crash.txt"),
        b"x",
    )
    .unwrap();
    let previous = EnvState::of(&prod);
    assert_ne!(previous, restored);

    let accepted = rig
        .client
        .restore(&prod.environment_id, &backup.id)
        .await
        .unwrap();
    wait_for_step(&rig, &accepted.job_id, "swap files").await;
    rig.server.kill();
    let killed_at = recorded_steps(&rig, &accepted.job_id);
    rig.server.spawn();
    rig.client = rig.server.client().await;
    let job = rig.wait(&accepted.job_id).await;
    eprintln!(
        "killed at {killed_at:?}; job {} after {} attempts ({:?}: {:?})",
        job.status, job.attempt_count, job.error_code, job.error_message
    );

    let now = EnvState::of(&prod);
    let env = rig.client.environment(&prod.environment_id).await.unwrap();
    assert_ne!(
        job.error_code.as_deref(),
        Some("RESTORE_ROLLBACK_FAILED"),
        "the rollback after the crash failed: {:?}",
        job.error_message
    );
    assert_eq!(
        env.status,
        ResourceStatus::Active,
        "job {:?}",
        job.error_code
    );
    rig.assert_active(&prod).await;
    if job.status == JobStatus::Succeeded {
        now.assert_same(&restored, "demo/production after the recovered restore");
        assert!(!post_titles(&prod)
            .iter()
            .any(|t| t == "Changed before the crash"));
    } else {
        now.assert_same(
            &previous,
            "demo/production after the failed, rolled back restore",
        );
    }
    assert!(
        job.attempt_count >= 2,
        "the crashed attempt counts: {}",
        job.attempt_count
    );
    let (status, _) = http_get(&prod.preview_url).await;
    assert_eq!(status, 200);
    assert_eq!(leftovers(&prod), Vec::<String>::new());
}

/// The job's steps (name, status) as the server's database has them, also while it is down.
fn recorded_steps(rig: &Rig, job_id: &str) -> Vec<(String, String)> {
    let conn = rig.db();
    let mut stmt = conn
        .prepare("SELECT name, status FROM job_steps WHERE job_id = ?1 ORDER BY seq")
        .unwrap();
    let rows = stmt
        .query_map([job_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    rows.map(|r| r.unwrap()).collect()
}

/// Puts a succeeded restore job back to `running` under a worker whose heartbeat stopped long
/// ago, and its environment to `restoring`: exactly what the database holds when a server dies
/// after the restore's finish phase but before the job's success was committed.
fn unsettle(rig: &Rig, job_id: &str, env: &crate::node::NodeEnv) {
    let conn = rig.db();
    conn.execute(
        "UPDATE jobs SET status = 'running', finished_at = NULL, result_json = NULL, \
         locked_by = 'crashed-worker:1', locked_at = '2000-01-01T00:00:00Z', \
         heartbeat_at = '2000-01-01T00:00:00Z' WHERE id = ?1 AND status = 'succeeded'",
        [job_id],
    )
    .unwrap();
    for (table, id) in [
        ("environments", &env.environment_id),
        ("sites", &env.site_id),
    ] {
        conn.execute(
            &format!("UPDATE {table} SET status = 'restoring' WHERE id = ?1"),
            [id],
        )
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restore_whose_worker_died_after_it_finished_is_not_undone_or_misreported() {
    let rig = Rig::start().await;
    let prod = rig.env("demo/production");
    let backup = rig.backup(&prod, BackupScope::Full).await;
    let restored = EnvState::of(&prod);
    sql(
        &prod.db_name,
        "UPDATE wp_posts SET post_title = 'Changed before the restore' \
         WHERE post_type = 'post' AND post_status = 'publish' ORDER BY ID LIMIT 1",
    );
    let job = rig.restore(&prod, &backup.id).await;
    assert_eq!(job.status, JobStatus::Succeeded, "{:?}", job.error_message);

    // The lease recovery takes the job back and runs a second attempt.
    unsettle(&rig, &job.id, &prod);
    super::super::support::eventually(Duration::from_secs(60), "the job is taken back", || async {
        rig.client
            .job(&job.id)
            .await
            .is_ok_and(|j| j.attempt_count >= 2)
    })
    .await;
    let job = rig.wait(&job.id).await;
    assert_eq!(
        (job.status, job.error_code.as_deref()),
        (JobStatus::Succeeded, None),
        "a finished restore was reported as failed: {:?}",
        job.error_message
    );
    EnvState::of(&prod).assert_same(
        &restored,
        "demo/production after the recovered, finished restore",
    );
    rig.assert_active(&prod).await;
    assert_eq!(http_get(&prod.preview_url).await.0, 200);
    assert_eq!(leftovers(&prod), Vec::<String>::new());
    assert_eq!(
        rig.checkpoints(&prod, &job.id).await.len(),
        1,
        "the checkpoint is reused"
    );
}
