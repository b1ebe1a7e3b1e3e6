//! The Ansible runner against real playbooks: success, failed task, syntax error, unreachable
//! host and timeout, each classified into its job error code.

use super::{node_check, pids_running, step_names, JobsEnv};
use pressluft_common::{JobStatus, NodeStatus, StepStatus};
use serde_json::json;

#[tokio::test]
async fn succeeding_playbook_succeeds_at_attempt_1_with_its_result_and_steps() {
    let env = JobsEnv::start("ok.yml", &[]).await;
    let id = env.enqueue(node_check(&env.local_node, None, json!({}), 3));
    let job = env.wait(&id).await;
    assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
    assert_eq!(job.attempt_count, 1);
    assert_eq!(job.error_code, None);
    assert_eq!(step_names(&job), ["first", "second"]);
    assert_eq!(job.steps[0].status, StepStatus::Succeeded);
    assert_eq!(
        job.steps[1].status,
        StepStatus::Skipped,
        "second is skipped without stamp_file"
    );
    assert!(job.started_at.is_some() && job.finished_at.is_some());
    let result = env.result_json(&id).expect("result");
    assert_eq!(result["ok"], true);
    assert_eq!(result["answer"], 42);
}

#[tokio::test]
async fn failing_task_is_retried_to_attempt_3_then_fails_host_failed_with_output_tail() {
    let env = JobsEnv::start("fail.yml", &[]).await;
    let id = env.enqueue(node_check(&env.local_node, None, json!({}), 3));
    let job = env.wait(&id).await;
    assert_eq!(job.status, JobStatus::Failed, "{job:?}");
    assert_eq!(job.attempt_count, 3);
    assert_eq!(job.error_code.as_deref(), Some("ANSIBLE_HOST_FAILED"));
    let message = job.error_message.unwrap_or_default();
    assert!(
        message.contains("break"),
        "names the failed task: {message}"
    );
    let tail = job.output_tail.expect("output tail");
    assert!(
        tail.contains("FAILED") && tail.contains("PLAY RECAP"),
        "{tail}"
    );
    let failed_steps = job
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Failed)
        .count();
    assert_eq!(failed_steps, 3, "one failed `break` step per attempt");
}

#[tokio::test]
async fn syntax_error_fails_at_once_without_retry() {
    let env = JobsEnv::start("syntax-error.yml", &[]).await;
    let id = env.enqueue(node_check(&env.local_node, None, json!({}), 3));
    let job = env.wait(&id).await;
    assert_eq!(job.status, JobStatus::Failed, "{job:?}");
    assert_eq!(job.attempt_count, 1);
    assert_eq!(job.error_code.as_deref(), Some("ANSIBLE_SYNTAX_ERROR"));
    assert!(job.steps.is_empty());
}

#[tokio::test]
async fn unreachable_node_is_retried_then_fails_host_unreachable_and_is_marked_unreachable() {
    let env = JobsEnv::start("ok.yml", &[]).await;
    let node = env.ssh_node("nowhere", 1, None).await;
    let id = env.enqueue(node_check(&node, None, json!({}), 3));
    let job = env.wait(&id).await;
    assert_eq!(job.status, JobStatus::Failed, "{job:?}");
    assert_eq!(job.attempt_count, 3);
    assert_eq!(job.error_code.as_deref(), Some("ANSIBLE_HOST_UNREACHABLE"));
    assert!(job.error_message.unwrap_or_default().contains("nowhere"));
    let nodes = env.client.nodes().await.expect("nodes");
    let n = nodes.iter().find(|n| n.id == node).expect("node");
    assert_eq!(
        n.status,
        NodeStatus::Unreachable,
        "node_check settles the node status"
    );
}

#[tokio::test]
async fn hanging_playbook_times_out_and_its_processes_are_gone() {
    let env = JobsEnv::start("sleep.yml", &[("PRESSLUFT_JOB_TIMEOUT_SECS", "3")]).await;
    let id = env.enqueue(node_check(
        &env.local_node,
        None,
        json!({"sleep_secs": 971}),
        1,
    ));
    let job = env.wait(&id).await;
    assert_eq!(job.status, JobStatus::Failed, "{job:?}");
    assert_eq!(job.error_code.as_deref(), Some("ANSIBLE_TIMEOUT"));
    assert_eq!(job.attempt_count, 1);
    assert_eq!(job.steps[0].name, "hang");
    assert_eq!(job.steps[0].status, StepStatus::Failed);
    assert!(
        pids_running(&["sleep", "971"]).is_empty(),
        "the playbook's sleep survived"
    );
}
