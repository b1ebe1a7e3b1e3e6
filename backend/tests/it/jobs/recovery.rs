//! Recovery: a job running when the server is SIGKILLed is taken back at the next start —
//! re-queued and completed while attempts remain, else failed `JOB_ABANDONED` — and the dead
//! run's processes are killed.

use super::{node_check, pids_running, JobsEnv};
use crate::support::eventually;
use pressluft_common::{JobStatus, StepStatus};
use serde_json::json;

async fn kill_server_mid_job(env: &mut JobsEnv, id: &str, sleep: &str) {
    env.wait_for(id, "the hang step running", |j| {
        j.steps
            .iter()
            .any(|s| s.name == "hang" && s.status == StepStatus::Running)
    })
    .await;
    eventually(super::JOB_WAIT, "the playbook's sleep started", || async {
        !pids_running(&["sleep", sleep]).is_empty()
    })
    .await;
    env.server.kill();
    env.server.spawn();
    env.client = env.server.client().await;
}

#[tokio::test]
async fn a_job_running_when_the_server_is_killed_is_requeued_and_completes_after_restart() {
    let mut env = JobsEnv::start("sleep.yml", &[]).await;
    let id = env.enqueue(node_check(
        &env.local_node,
        None,
        json!({"sleep_secs": 973, "sleep_on": [1]}),
        3,
    ));
    kill_server_mid_job(&mut env, &id, "973").await;
    let job = env.wait(&id).await;
    assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
    assert_eq!(job.attempt_count, 2);
    assert_eq!(
        job.steps[0].status,
        StepStatus::Failed,
        "the interrupted step is closed"
    );
    assert!(
        pids_running(&["sleep", "973"]).is_empty(),
        "the dead run's sleep was killed"
    );
    assert!(env.server.log_text().contains("took back an abandoned job"));
}

#[tokio::test]
async fn a_job_killed_on_its_last_attempt_fails_job_abandoned() {
    let mut env = JobsEnv::start("sleep.yml", &[]).await;
    let id = env.enqueue(node_check(
        &env.local_node,
        None,
        json!({"sleep_secs": 974}),
        1,
    ));
    kill_server_mid_job(&mut env, &id, "974").await;
    let job = env.wait(&id).await;
    assert_eq!(job.status, JobStatus::Failed, "{job:?}");
    assert_eq!(job.error_code.as_deref(), Some("JOB_ABANDONED"));
    assert!(job
        .error_message
        .unwrap_or_default()
        .contains("no attempts remain"));
    assert!(pids_running(&["sleep", "974"]).is_empty());
}

#[tokio::test]
async fn a_graceful_shutdown_stops_a_running_job_and_puts_it_back_without_using_an_attempt() {
    let mut env = JobsEnv::start("sleep.yml", &[]).await;
    let skip = env.scratch("skip");
    let id = env.enqueue(node_check(
        &env.local_node,
        None,
        json!({"sleep_secs": 975, "skip_file": skip}),
        3,
    ));
    env.wait_for(&id, "the hang step running", |j| {
        j.steps
            .iter()
            .any(|s| s.name == "hang" && s.status == StepStatus::Running)
    })
    .await;
    eventually(super::JOB_WAIT, "the playbook's sleep started", || async {
        !pids_running(&["sleep", "975"]).is_empty()
    })
    .await;
    let started = std::time::Instant::now();
    let status = env.server.stop().expect("server stopped");
    assert!(status.success(), "clean exit: {status:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "shutdown took {:?}",
        started.elapsed()
    );
    assert!(
        pids_running(&["sleep", "975"]).is_empty(),
        "the run was stopped; log:\n{}",
        env.server.log_text()
    );
    let (status, attempts): (String, i64) = env
        .db()
        .conn()
        .expect("conn")
        .query_row(
            "SELECT status, attempt_count FROM jobs WHERE id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("job row");
    assert_eq!((status.as_str(), attempts), ("queued", 0));
    std::fs::write(&skip, b"").expect("skip file");
    env.server.spawn();
    env.client = env.server.client().await;
    let job = env.wait(&id).await;
    assert_eq!(
        (job.status, job.attempt_count),
        (JobStatus::Succeeded, 1),
        "{job:?}"
    );
}
