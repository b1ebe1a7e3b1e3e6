//! The SSE stream: every step and status in order, ending with the terminal status, and a
//! replay of what came after `Last-Event-ID`.

use super::{node_check, JobsEnv};
use futures_util::StreamExt;
use pressluft_common::{JobEvent, JobStatus, StepStatus};
use serde_json::json;
use std::time::Duration;

async fn collect(env: &JobsEnv, id: &str, last: Option<i64>) -> Vec<JobEvent> {
    let stream = env.client.job_events(id, last).await.expect("event stream");
    let events = tokio::time::timeout(Duration::from_secs(120), stream.collect::<Vec<_>>())
        .await
        .expect("the stream ends after the terminal status");
    events.into_iter().map(|e| e.expect("event")).collect()
}

fn describe(ev: &JobEvent) -> String {
    match ev {
        JobEvent::Status {
            status,
            attempt_count,
            ..
        } => format!("status {status} {attempt_count}"),
        JobEvent::Step { step, .. } => format!("step {} {}", step.name, step.status),
    }
}

#[tokio::test]
async fn event_stream_delivers_every_step_and_status_in_order_and_replays_after_last_event_id() {
    let env = JobsEnv::start("ok.yml", &[]).await;
    let stamps = env.scratch("s.txt");
    let id = env.enqueue(node_check(
        &env.local_node,
        None,
        json!({"stamp_file": stamps, "hold_secs": 1}),
        3,
    ));
    let live = collect(&env, &id, None).await;
    let seqs: Vec<i64> = live.iter().map(JobEvent::seq).collect();
    assert_eq!(
        seqs,
        (1..=live.len() as i64).collect::<Vec<_>>(),
        "contiguous seqs from 1"
    );
    let seen: Vec<String> = live.iter().map(describe).collect();
    assert_eq!(
        seen,
        [
            "status queued 0",
            "status running 1",
            "step first running",
            "step first succeeded",
            "step second running",
            "step second succeeded",
            "status succeeded 1",
        ],
        "{seen:#?}"
    );
    assert!(
        matches!(&live[3], JobEvent::Step { step, .. } if step.status == StepStatus::Succeeded && step.finished_at.is_some())
    );

    let replay = collect(&env, &id, Some(3)).await;
    assert_eq!(replay, live[3..].to_vec(), "replay after Last-Event-ID 3");
    let job = env.client.job(&id).await.expect("job");
    assert_eq!(job.status, JobStatus::Succeeded);
    let again = collect(&env, &id, Some(live.len() as i64)).await;
    assert!(again.is_empty(), "nothing after the terminal event");
}
