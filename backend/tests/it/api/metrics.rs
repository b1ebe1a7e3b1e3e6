//! `GET /api/metrics` counts straight from the tables.

use super::{db, random_id, world};
use crate::support::TestServer;
use pressluft_common::RegisterSite;

#[tokio::test]
async fn metrics_count_running_and_queued_jobs_active_nodes_and_sites() {
    let s = TestServer::start();
    let w = world(&s).await;
    let m = w.client.metrics().await.unwrap();
    assert_eq!(
        (m.jobs_running, m.jobs_queued, m.nodes_active, m.sites_total),
        (0, 0, 1, 1)
    );
    let conn = db(&s);
    // Never due and with a fresh-looking heartbeat, so no worker claims or recovers them.
    for (status, n) in [("queued", 2), ("running", 1), ("succeeded", 1)] {
        for _ in 0..n {
            conn.execute(
                "INSERT INTO jobs (id, job_type, status, created_at, run_after, locked_at, \
                 locked_by, heartbeat_at) VALUES (?1, 'node_check', ?2, '2026-01-01T00:00:00Z', \
                 '2999-01-01T00:00:00Z', '2999-01-01T00:00:00Z', 'test', '2999-01-01T00:00:00Z')",
                [random_id(), status.to_string()],
            )
            .unwrap();
        }
    }
    conn.execute("UPDATE nodes SET status = 'unreachable'", [])
        .unwrap();
    w.client
        .register_site(&RegisterSite {
            id: None,
            name: "Blog".into(),
            slug: "blog".into(),
        })
        .await
        .unwrap();
    let m = w.client.metrics().await.unwrap();
    assert_eq!(
        (m.jobs_running, m.jobs_queued, m.nodes_active, m.sites_total),
        (1, 2, 0, 2)
    );
}
