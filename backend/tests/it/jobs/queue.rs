//! Queue rules: one job per site and per node at a time, jobs of other sites on other nodes in
//! parallel (one over real SSH), oldest first, and retries wait for their backoff.

use super::sshd::Sshd;
use super::{node_check, JobsEnv};
use pressluft_common::JobStatus;
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// label -> (start, end) seconds from a stamp file written by `ok.yml`.
fn intervals(path: &std::path::Path) -> HashMap<String, (f64, f64)> {
    let text = std::fs::read_to_string(path).expect("stamp file");
    let mut out: HashMap<String, (f64, f64)> = HashMap::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let t: f64 = parts[2].parse().expect("time");
        let e = out.entry(parts[0].to_string()).or_insert((0.0, 0.0));
        if parts[1] == "start" {
            e.0 = t;
        } else {
            e.1 = t;
        }
    }
    out
}

#[tokio::test]
async fn jobs_of_one_site_never_overlap_while_other_sites_on_other_nodes_do() {
    let sshd = Sshd::start();
    let env = JobsEnv::start("ok.yml", &[("PRESSLUFT_WORKERS", "3")]).await;
    let remote = env.ssh_node("remote", sshd.port, Some(&sshd.key)).await;
    let (site_a, site_b) = (env.site("alpha").await, env.site("beta").await);
    let stamps = env.scratch("stamps.txt");
    let vars = |label: &str| json!({"stamp_file": stamps, "label": label, "hold_secs": 3});
    let ids = env.enqueue_all(vec![
        node_check(&env.local_node, Some(&site_a), vars("a1"), 1),
        node_check(&remote, Some(&site_a), vars("a2"), 1),
        node_check(&remote, Some(&site_b), vars("b1"), 1),
    ]);
    for id in &ids {
        let job = env.wait(id).await;
        assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
    }
    let iv = intervals(&stamps);
    let (a1, a2, b1) = (iv["a1"], iv["a2"], iv["b1"]);
    assert!(
        a1.1 <= a2.0 || a2.1 <= a1.0,
        "jobs of one site overlapped: {a1:?} {a2:?}"
    );
    assert!(
        b1.1 <= a2.0 || a2.1 <= b1.0,
        "jobs of one node overlapped: {b1:?} {a2:?}"
    );
    assert!(
        a1.0 < b1.1 && b1.0 < a1.1,
        "jobs of other sites on other nodes ran one after the other: {a1:?} {b1:?}"
    );
    let known_hosts = env.server.data_dir.join("known_hosts");
    assert!(
        std::fs::read_to_string(known_hosts).is_ok_and(|k| !k.is_empty()),
        "host key pinned"
    );
}

#[tokio::test]
async fn claim_takes_the_oldest_job_first() {
    let env = JobsEnv::start("ok.yml", &[("PRESSLUFT_WORKERS", "1")]).await;
    let stamps = env.scratch("order.txt");
    let jobs = ["j1", "j2", "j3"]
        .iter()
        .map(|l| {
            node_check(
                &env.local_node,
                None,
                json!({"stamp_file": stamps, "label": l}),
                1,
            )
        })
        .collect();
    let ids = env.enqueue_all(jobs);
    for id in &ids {
        env.wait(id).await;
    }
    let text = std::fs::read_to_string(&stamps).expect("stamps");
    let starts: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" start "))
        .map(|l| &l[..2])
        .collect();
    assert_eq!(starts, ["j1", "j2", "j3"]);
}

#[tokio::test]
async fn a_retried_job_waits_for_its_backoff() {
    let env = JobsEnv::start("fail.yml", &[("PRESSLUFT_RETRY_BACKOFF_MS", "3000")]).await;
    let id = env.enqueue(node_check(&env.local_node, None, json!({}), 2));
    let queued = env
        .wait_for(&id, "attempt 1 failed and re-queued", |j| {
            j.status == JobStatus::Queued && j.attempt_count == 1
        })
        .await;
    let since = Instant::now();
    assert_eq!(
        queued.error_code.as_deref(),
        Some("ANSIBLE_HOST_FAILED"),
        "the error is kept while queued"
    );
    assert!(queued.run_after.is_some());
    env.wait_for(&id, "attempt 2 started", |j| j.attempt_count == 2)
        .await;
    let waited = since.elapsed();
    assert!(
        waited >= Duration::from_millis(1500),
        "retried after {waited:?}, before its backoff"
    );
    let job = env.wait(&id).await;
    assert_eq!((job.status, job.attempt_count), (JobStatus::Failed, 2));
}
