//! `execute_effect` against a tiny in-process HTTP server: answers become the right `Action`s,
//! a job is followed over Server-Sent Events, and polling takes over when the stream fails.

use pressluft_common::*;
use pressluft_tui::{execute_effect, Action, Effect, Op};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

type Route = dyn Fn(&str) -> (u16, &'static str, String) + Send + Sync;

/// Serves `route(request_line)` on a loopback port, one answer per connection.
async fn serve(route: Arc<Route>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let route = route.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let line = head.lines().next().unwrap_or("").to_string();
                let (status, ctype, body) = route(&line);
                let resp = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

async fn run(base: &str, effect: Effect) -> Vec<Action> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    execute_effect(Client::new(base).with_token("t"), effect, tx).await;
    let mut out = Vec::new();
    while let Some(a) = rx.recv().await {
        out.push(a);
    }
    out
}

fn job(status: JobStatus) -> String {
    serde_json::to_string(&Job {
        id: "j1".into(),
        job_type: JobType::EnvRestore,
        status,
        site_id: Some("s1".into()),
        environment_id: Some("e1".into()),
        node_id: None,
        backup_id: Some("b1".into()),
        attempt_count: 1,
        max_attempts: 1,
        run_after: None,
        locked_at: None,
        locked_by: None,
        created_at: "2026-01-05T12:00:00Z".into(),
        started_at: None,
        finished_at: None,
        error_code: None,
        error_message: None,
        output_tail: None,
        steps: Vec::new(),
    })
    .expect("json")
}

fn sse(events: &[JobEvent]) -> String {
    events
        .iter()
        .map(|e| {
            format!(
                "id: {}\ndata: {}\n\n",
                e.seq(),
                serde_json::to_string(e).expect("json")
            )
        })
        .collect()
}

#[tokio::test]
async fn a_restore_answer_becomes_job_started_for_that_environment() {
    let base = serve(Arc::new(|line| {
        assert!(
            line.starts_with("POST /api/environments/e1/restore "),
            "{line}"
        );
        (202, "application/json", r#"{"job_id":"j1"}"#.into())
    }))
    .await;
    let actions = run(
        &base,
        Effect::Restore {
            environment_id: "e1".into(),
            backup_id: "b1".into(),
        },
    )
    .await;
    assert_eq!(
        actions,
        [Action::JobStarted {
            job_id: "j1".into(),
            job_type: JobType::EnvRestore,
            environment_id: "e1".into()
        }]
    );
}

#[tokio::test]
async fn an_api_error_keeps_its_code_and_message() {
    let base = serve(Arc::new(|_| {
        (
            409,
            "application/json",
            r#"{"code":"site_job_running","message":"wait"}"#.into(),
        )
    }))
    .await;
    let actions = run(
        &base,
        Effect::CreateBackup {
            environment_id: "e1".into(),
            scope: BackupScope::Db,
        },
    )
    .await;
    assert_eq!(
        actions,
        [Action::Failed {
            op: Op::CreateBackup,
            code: Some("site_job_running".into()),
            message: "wait".into()
        }]
    );
}

#[tokio::test]
async fn a_job_is_followed_over_the_event_stream_until_it_is_terminal() {
    let events = vec![
        JobEvent::Status {
            seq: 1,
            status: JobStatus::Running,
            attempt_count: 1,
            error_code: None,
            error_message: None,
        },
        JobEvent::Status {
            seq: 2,
            status: JobStatus::Succeeded,
            attempt_count: 1,
            error_code: None,
            error_message: None,
        },
    ];
    let body = sse(&events);
    let base = serve(Arc::new(move |line| {
        assert!(line.starts_with("GET /api/jobs/j1/events "), "{line}");
        (200, "text/event-stream", body.clone())
    }))
    .await;
    let actions = run(
        &base,
        Effect::FollowJob {
            job_id: "j1".into(),
        },
    )
    .await;
    let expected: Vec<Action> = events
        .into_iter()
        .map(|event| Action::JobEvent {
            job_id: "j1".into(),
            event,
        })
        .collect();
    assert_eq!(actions, expected);
}

#[tokio::test]
async fn polling_takes_over_when_the_event_stream_fails() {
    let polls = Arc::new(AtomicUsize::new(0));
    let counter = polls.clone();
    let base = serve(Arc::new(move |line| {
        if line.contains("/events") {
            return (500, "text/plain", "boom".into());
        }
        let n = counter.fetch_add(1, Ordering::SeqCst);
        let status = if n == 0 {
            JobStatus::Running
        } else {
            JobStatus::Succeeded
        };
        (200, "application/json", job(status))
    }))
    .await;
    let actions = run(
        &base,
        Effect::FollowJob {
            job_id: "j1".into(),
        },
    )
    .await;
    assert!(matches!(&actions[0], Action::JobStreamLost { job_id, .. } if job_id == "j1"));
    let statuses: Vec<JobStatus> = actions[1..]
        .iter()
        .filter_map(|a| match a {
            Action::JobSnapshot(j) => Some(j.status),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, [JobStatus::Running, JobStatus::Succeeded]);
    assert_eq!(polls.load(Ordering::SeqCst), 2);
}
