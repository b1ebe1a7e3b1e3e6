//! Cancel: a queued job at once, a running one with its processes stopped, 409 once ended.

use super::{node_check, pids_running, JobsEnv};
use pressluft_common::{ClientError, JobStatus, StepStatus};
use serde_json::json;

fn audit_rows(env: &JobsEnv, job_id: &str) -> Vec<(Option<String>, String)> {
    let conn = env.db().conn().expect("conn");
    let mut stmt = conn
        .prepare("SELECT user_id, result FROM audit_logs WHERE action = 'job.cancel' AND resource_id = ?1 ORDER BY id")
        .expect("prepare");
    let rows = stmt
        .query_map([job_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query");
    rows.map(|r| r.expect("row")).collect()
}

#[tokio::test]
async fn a_queued_job_is_cancelled_at_once_and_audited() {
    let env = JobsEnv::start("ok.yml", &[]).await;
    let id = env.enqueue_not_due(node_check(&env.local_node, None, json!({}), 3));
    let resp = env.client.cancel_job(&id).await.expect("cancel");
    assert!(resp.success);
    assert_eq!(resp.status, JobStatus::Cancelled);
    let job = env.client.job(&id).await.expect("job");
    assert_eq!(job.status, JobStatus::Cancelled);
    assert_eq!(job.error_code.as_deref(), Some("JOB_CANCELLED"));
    assert_eq!(job.attempt_count, 0);
    let audit = audit_rows(&env, &id);
    assert_eq!(audit.len(), 1);
    assert!(audit[0].0.is_some(), "the admin's id is recorded");
    assert_eq!(audit[0].1, "success");
}

#[tokio::test]
async fn a_running_job_is_stopped_with_its_processes_then_a_second_cancel_is_409() {
    let env = JobsEnv::start("sleep.yml", &[]).await;
    let id = env.enqueue(node_check(
        &env.local_node,
        None,
        json!({"sleep_secs": 972}),
        3,
    ));
    env.wait_for(&id, "the hang step running", |j| {
        j.steps
            .iter()
            .any(|s| s.name == "hang" && s.status == StepStatus::Running)
    })
    .await;
    crate::support::eventually(super::JOB_WAIT, "sleep 972 started", || async {
        !pids_running(&["sleep", "972"]).is_empty()
    })
    .await;
    let resp = env.client.cancel_job(&id).await.expect("cancel");
    assert!(resp.success);
    assert_eq!(resp.status, JobStatus::Cancelled);
    let job = env.client.job(&id).await.expect("job");
    assert_eq!(job.status, JobStatus::Cancelled, "{job:?}");
    assert_eq!(job.attempt_count, 1, "a cancelled job is not retried");
    assert_eq!(job.steps[0].status, StepStatus::Failed);
    assert!(
        pids_running(&["sleep", "972"]).is_empty(),
        "the playbook's sleep survived the cancel"
    );

    match env.client.cancel_job(&id).await {
        Err(ClientError::Api { status, code, .. }) => {
            assert_eq!((status, code.as_str()), (409, "job_not_cancellable"));
        }
        other => panic!("expected 409, got {other:?}"),
    }
    let missing = uuid::Uuid::new_v4().to_string();
    match env.client.cancel_job(&missing).await {
        Err(ClientError::Api { status, code, .. }) => {
            assert_eq!((status, code.as_str()), (404, "job_not_found"))
        }
        other => panic!("expected 404, got {other:?}"),
    }
    let audit = audit_rows(&env, &id);
    assert_eq!(
        audit.iter().map(|a| a.1.as_str()).collect::<Vec<_>>(),
        ["success", "denied"]
    );
}
