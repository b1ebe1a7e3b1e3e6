//! `POST /environments/{id}/restore` refuses every invalid request with its own code, in SPEC
//! order, without enqueueing anything; the preflight reports the same code. No node is needed:
//! the sites are registered through the API and odd states are written into the server's
//! SQLite file.

use super::{insert_backup, open_db};
use crate::support::TestServer;
use pressluft_common::{
    Client, EnvironmentType, RegisterEnvironment, RegisterNode, RegisterSite, ResourceStatus,
};
use rusqlite::params;
use serde_json::{json, Value};

struct Env {
    id: String,
    site_id: String,
}

async fn register(client: &Client, node_id: &str, slug: &str) -> Env {
    let site = client
        .register_site(&RegisterSite {
            id: None,
            name: format!("Site {slug}"),
            slug: slug.into(),
        })
        .await
        .unwrap();
    let env = client
        .register_environment(
            &site.id,
            &RegisterEnvironment {
                id: None,
                name: "Production".into(),
                slug: "production".into(),
                environment_type: EnvironmentType::Production,
                node_id: node_id.into(),
                preview_url: "http://127.0.0.1:9/".into(),
                files_root: format!("/nonexistent/pressluft-test/{slug}"),
                db_name: format!("pl_validation_{slug}"),
                system_user: format!("pl-{slug}"),
            },
        )
        .await
        .unwrap();
    Env {
        id: env.id,
        site_id: site.id,
    }
}

/// POSTs a raw JSON body; returns (status, error code).
async fn post_raw(client: &Client, path: &str, body: &str) -> (u16, String) {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", client.base_url()))
        .bearer_auth(client.token().unwrap())
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    (status, v["code"].as_str().unwrap_or_default().to_string())
}

struct Checker<'a> {
    server: &'a TestServer,
    client: &'a Client,
    env: &'a Env,
}

impl Checker<'_> {
    fn jobs(&self) -> i64 {
        open_db(&self.server.db_path())
            .query_row("SELECT COUNT(*) FROM jobs", [], |r| r.get(0))
            .unwrap()
    }

    async fn statuses(&self, env_id: &str) -> Option<(ResourceStatus, ResourceStatus)> {
        let e = self.client.environment(env_id).await.ok()?;
        let s = self.client.site(&e.site_id).await.ok()?;
        Some((e.status, s.status))
    }

    /// The restore of `backup_id` into `env_id` is refused with (`status`, `code`), nothing is
    /// enqueued, statuses stay, and the preflight names the same code.
    async fn refused(&self, case: &str, env_id: &str, backup_id: &str, status: u16, code: &str) {
        let (jobs, api_jobs) = (self.jobs(), self.client.jobs().await.unwrap().len());
        let before = self.statuses(env_id).await;
        let err = self
            .client
            .restore(env_id, backup_id)
            .await
            .expect_err(case);
        assert_eq!(
            (err.status(), err.code()),
            (Some(status), Some(code)),
            "{case}: {err}"
        );
        assert_eq!(self.jobs(), jobs, "{case}: a job row was added");
        assert_eq!(self.client.jobs().await.unwrap().len(), api_jobs, "{case}");
        assert_eq!(
            self.statuses(env_id).await,
            before,
            "{case}: statuses changed"
        );
        let pre = self
            .client
            .restore_preflight(env_id, backup_id)
            .await
            .unwrap_or_else(|e| panic!("{case}: preflight: {e}"));
        assert!(!pre.ok, "{case}: preflight ok");
        assert_eq!(
            pre.error.map(|e| e.code).as_deref(),
            Some(code),
            "{case}: preflight"
        );
        assert!(
            pre.steps.is_empty() && pre.checks.is_empty(),
            "{case}: preflight planned a restore"
        );
        assert_eq!(self.jobs(), jobs, "{case}: the preflight added a job row");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_invalid_restore_request_gets_its_own_code_and_enqueues_nothing() {
    let server = TestServer::start();
    let client = server.client().await;
    let node = client
        .register_node(&RegisterNode {
            id: None,
            name: "local".into(),
            hostname: "localhost".into(),
            public_ip: None,
            ssh_port: 22,
            ssh_user: "root".into(),
            ssh_key_path: None,
            is_local: true,
        })
        .await
        .unwrap();
    let demo = register(&client, &node.id, "demo").await;
    let other = register(&client, &node.id, "other").await;
    let db = open_db(&server.db_path());
    let row = |env: &Env, status: &str, retention: &str| {
        insert_backup(
            &db,
            (&env.id, &env.site_id),
            "full",
            status,
            "/nonexistent/artifact.tar.zst",
            retention,
            Some(&"0".repeat(64)),
            Some(1),
        )
    };
    let future = "2999-01-01T00:00:00Z";
    let good = row(&demo, "completed", future);
    let c = Checker {
        server: &server,
        client: &client,
        env: &demo,
    };
    let e = c.env.id.as_str();
    let unknown = pressluft_backend::util::new_id();

    c.refused(
        "unknown environment",
        &unknown,
        &good,
        404,
        "environment_not_found",
    )
    .await;
    c.refused("unknown backup", e, &unknown, 404, "backup_not_found")
        .await;
    let others = row(&other, "completed", future);
    c.refused(
        "backup of another site",
        e,
        &others,
        409,
        "backup_wrong_site",
    )
    .await;
    for status in ["failed", "pending", "running"] {
        let b = row(&demo, status, future);
        c.refused(
            &format!("backup {status}"),
            e,
            &b,
            409,
            "backup_not_completed",
        )
        .await;
    }
    let past = row(&demo, "completed", "2020-01-01T00:00:00Z");
    c.refused("retention passed", e, &past, 409, "backup_expired")
        .await;
    let expired = row(&demo, "expired", future);
    c.refused("backup expired", e, &expired, 409, "backup_expired")
        .await;
    c.refused("malformed backup id", e, "not-a-uuid", 400, "bad_request")
        .await;

    db.execute(
        "UPDATE environments SET status = 'failed' WHERE id = ?1",
        [e],
    )
    .unwrap();
    c.refused(
        "environment failed",
        e,
        &good,
        409,
        "environment_not_active",
    )
    .await;
    db.execute(
        "UPDATE environments SET status = 'active' WHERE id = ?1",
        [e],
    )
    .unwrap();

    // A job of the site that is queued (not due before 2999), then one running elsewhere with
    // a fresh heartbeat: neither is claimed nor recovered while the test runs.
    let job = pressluft_backend::util::new_id();
    db.execute(
        "INSERT INTO jobs (id, job_type, status, site_id, environment_id, node_id, run_after, created_at) \
         VALUES (?1, 'backup_create', 'queued', ?2, ?3, ?4, '2999-01-01T00:00:00Z', ?5)",
        params![job, demo.site_id, e, node.id, pressluft_backend::util::now()],
    )
    .unwrap();
    c.refused(
        "a job queued for the site",
        e,
        &good,
        409,
        "job_already_active",
    )
    .await;
    db.execute(
        "UPDATE jobs SET status = 'running', run_after = NULL, attempt_count = 1, \
         locked_by = 'elsewhere:1', locked_at = ?2, heartbeat_at = '2999-01-01T00:00:00Z' WHERE id = ?1",
        params![job, pressluft_backend::util::now()],
    )
    .unwrap();
    c.refused(
        "a job running for the site",
        e,
        &good,
        409,
        "job_already_active",
    )
    .await;
    db.execute("DELETE FROM jobs WHERE id = ?1", [&job])
        .unwrap();

    // Bodies that are not a restore request at all: HTTP 400 from both endpoints.
    let jobs = c.jobs();
    for (case, body) in [
        ("missing backup_id", json!({})),
        ("unknown field", json!({ "backup_id": good, "force": true })),
        ("backup_id not a string", json!({ "backup_id": 42 })),
    ] {
        for path in [
            format!("/api/environments/{e}/restore"),
            format!("/api/environments/{e}/restore/preflight"),
        ] {
            let (status, code) = post_raw(&client, &path, &body.to_string()).await;
            assert_eq!(
                (status, code.as_str()),
                (400, "bad_request"),
                "{case}: {path}"
            );
        }
    }
    let (status, code) = post_raw(
        &client,
        &format!("/api/environments/{e}/restore"),
        "{not json",
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (400, "bad_request"),
        "malformed JSON"
    );
    assert_eq!(c.jobs(), jobs, "a malformed body added a job row");

    // The control case: the same backup is accepted once nothing stands in the way.
    let before = c.jobs();
    let accepted = client
        .restore(e, &good)
        .await
        .expect("a valid request is accepted");
    assert_eq!(c.jobs(), before + 1);
    assert!(!accepted.job_id.is_empty());
    let _ = client.cancel_job(&accepted.job_id).await;
}
