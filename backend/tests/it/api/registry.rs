//! Registration (readable, idempotent, conflicting, validated, audited), reset and metrics.

use super::{audit_rows, db, env_body, random_id, raw, register_env, world, Auth};
use crate::support::TestServer;
use pressluft_common::{RegisterSite, ResourceStatus};
use serde_json::json;

const JSON: Option<&str> = Some("application/json");

#[tokio::test]
async fn registered_nodes_sites_and_environments_are_readable_idempotent_conflicting_and_audited() {
    let s = TestServer::start();
    let w = world(&s).await;
    let c = &w.client;
    assert_eq!(c.nodes().await.unwrap().len(), 1);
    let site = c.site(&w.site_id).await.unwrap();
    assert_eq!(
        site.primary_environment_id.as_deref(),
        Some(w.env_id.as_str()),
        "first env is primary"
    );
    let env = c.environment(&w.env_id).await.unwrap();
    assert_eq!(
        (env.files_root.as_str(), env.db_name.as_str()),
        ("/srv/www/prod", "wp_prod")
    );
    assert_eq!(
        c.site_environments(&w.site_id).await.unwrap(),
        vec![env.clone()]
    );

    // Same id and fields again: 200 with the existing resource; no second row.
    let id = random_id();
    let body = json!({"id": id, "name": "Blog", "slug": "blog"}).to_string();
    let token = c.token().unwrap();
    let (st, _, first) = raw(&s, "POST", "/api/sites", Auth::Bearer(token), JSON, &body).await;
    assert_eq!(st, 201);
    let (st, _, again) = raw(&s, "POST", "/api/sites", Auth::Bearer(token), JSON, &body).await;
    assert_eq!((st, &again), (200, &first));
    let path = format!("/api/sites/{}/environments", w.site_id);
    let env_again = serde_json::to_string(&env_body(&w.node_id, "prod")).unwrap();
    let (st, _, same_env) = raw(&s, "POST", &path, Auth::Bearer(token), JSON, &env_again).await;
    assert_eq!(
        (st, same_env["id"].as_str()),
        (200, Some(w.env_id.as_str()))
    );

    // Changed fields or a taken slug: 409 conflict.
    let changed = json!({"id": id, "name": "Blog 2", "slug": "blog"}).to_string();
    let (st, _, b) = raw(
        &s,
        "POST",
        "/api/sites",
        Auth::Bearer(token),
        JSON,
        &changed,
    )
    .await;
    assert_eq!((st, b["code"].as_str()), (409, Some("conflict")));
    let taken = RegisterSite {
        id: None,
        name: "Other".into(),
        slug: "shop".into(),
    };
    let err = c.register_site(&taken).await.unwrap_err();
    assert_eq!(err.code(), Some("conflict"));
    assert!(err.to_string().contains("slug `shop` is taken"), "{err}");
    let mut other_env = register_env(&w.node_id, "prod");
    other_env.db_name = "wp_other".into();
    assert_eq!(
        c.register_environment(&w.site_id, &other_env)
            .await
            .unwrap_err()
            .code(),
        Some("conflict")
    );
    let second_local = json!({"name": "another", "hostname": "h2", "is_local": true}).to_string();
    let (st, _, b) = raw(
        &s,
        "POST",
        "/api/nodes",
        Auth::Bearer(token),
        JSON,
        &second_local,
    )
    .await;
    assert_eq!(st, 409, "{b}");
    assert!(b["message"]
        .as_str()
        .unwrap()
        .contains("at most one node can be local"));

    let rows = audit_rows(&s, "site.register");
    let ok: Vec<_> = rows.iter().filter(|r| r.2 == "ok").collect();
    assert_eq!(ok.len(), 2, "{rows:?}");
    assert!(ok
        .iter()
        .all(|r| r.0.is_some() && r.0.as_deref() != Some("cli")));
    assert_eq!(
        rows.iter().filter(|r| r.2 == "denied").count(),
        2,
        "{rows:?}"
    );
    assert_eq!(
        audit_rows(&s, "node.register")
            .iter()
            .filter(|r| r.2 == "ok")
            .count(),
        1
    );
    let env_rows = audit_rows(&s, "environment.register");
    assert_eq!(
        env_rows[0],
        (env_rows[0].0.clone(), Some(w.env_id.clone()), "ok".into())
    );
}

#[tokio::test]
async fn registration_validates_every_field_and_reference() {
    let s = TestServer::start();
    let w = world(&s).await;
    let token = w.client.token().unwrap().to_string();
    let path = format!("/api/sites/{}/environments", w.site_id);
    let cases = [
        ("slug", json!("Bad_Slug"), 400, "bad_request"),
        ("name", json!("  "), 400, "bad_request"),
        ("preview_url", json!("ftp://x"), 400, "bad_request"),
        ("files_root", json!("/srv/../etc"), 400, "bad_request"),
        ("files_root", json!("relative/path"), 400, "bad_request"),
        ("db_name", json!("wp-shop"), 400, "bad_request"),
        ("system_user", json!("Root"), 400, "bad_request"),
        ("environment_type", json!("qa"), 400, "bad_request"),
        ("node_id", json!("not-a-uuid"), 400, "bad_request"),
        ("id", json!("42"), 400, "bad_request"),
        ("node_id", json!(random_id()), 404, "node_not_found"),
    ];
    for (field, value, status, code) in cases {
        let mut body = env_body(&w.node_id, "stage");
        body[field] = value.clone();
        let (st, _, b) = raw(
            &s,
            "POST",
            &path,
            Auth::Bearer(&token),
            JSON,
            &body.to_string(),
        )
        .await;
        assert_eq!(
            (st, b["code"].as_str()),
            (status, Some(code)),
            "{field}={value}: {b}"
        );
    }
    let unknown_site = format!("/api/sites/{}/environments", random_id());
    let body = env_body(&w.node_id, "stage").to_string();
    let (st, _, b) = raw(&s, "POST", &unknown_site, Auth::Bearer(&token), JSON, &body).await;
    assert_eq!((st, b["code"].as_str()), (404, Some("site_not_found")));
    for node in [
        json!({"name": "n", "hostname": "h", "ssh_port": 0}),
        json!({"name": "n", "hostname": "h", "ssh_port": 70000}),
        json!({"name": "n", "hostname": "h", "public_ip": "300.1.1.1"}),
        json!({"name": "n", "hostname": "h", "ssh_key_path": "id_rsa"}),
        json!({"name": "", "hostname": "h"}),
    ] {
        let (st, _, b) = raw(
            &s,
            "POST",
            "/api/nodes",
            Auth::Bearer(&token),
            JSON,
            &node.to_string(),
        )
        .await;
        assert_eq!(
            (st, b["code"].as_str()),
            (400, Some("bad_request")),
            "{node}: {b}"
        );
    }
    assert_eq!(
        w.client.site(&random_id()).await.unwrap_err().code(),
        Some("site_not_found")
    );
    assert_eq!(
        w.client.environment(&random_id()).await.unwrap_err().code(),
        Some("environment_not_found")
    );
    assert_eq!(
        w.client
            .site_environments(&random_id())
            .await
            .unwrap_err()
            .code(),
        Some("site_not_found")
    );
}

#[tokio::test]
async fn reset_answers_resource_not_failed_for_active_and_moves_failed_back_to_active() {
    let s = TestServer::start();
    let w = world(&s).await;
    let c = &w.client;
    assert_eq!(
        c.reset_site(&w.site_id).await.unwrap_err().code(),
        Some("resource_not_failed")
    );
    assert_eq!(
        c.reset_environment(&w.env_id).await.unwrap_err().code(),
        Some("resource_not_failed")
    );

    let conn = db(&s);
    conn.execute(
        "UPDATE environments SET status = 'failed' WHERE id = ?1",
        [&w.env_id],
    )
    .unwrap();
    conn.execute(
        "UPDATE sites SET status = 'failed' WHERE id = ?1",
        [&w.site_id],
    )
    .unwrap();
    // A queued job of the site blocks both resets, and the message names it.
    let job = random_id();
    conn.execute(
        "INSERT INTO jobs (id, job_type, status, site_id, environment_id, created_at, run_after) \
         VALUES (?1, 'backup_create', 'queued', ?2, ?3, '2026-01-01T00:00:00Z', '2999-01-01T00:00:00Z')",
        [&job, &w.site_id, &w.env_id],
    )
    .unwrap();
    for err in [
        c.reset_environment(&w.env_id).await.unwrap_err(),
        c.reset_site(&w.site_id).await.unwrap_err(),
    ] {
        assert_eq!(err.code(), Some("reset_validation_failed"));
        assert!(err.to_string().contains(&job), "{err}");
    }
    conn.execute("UPDATE jobs SET status = 'failed' WHERE id = ?1", [&job])
        .unwrap();
    // The environment's node must be active.
    conn.execute(
        "UPDATE nodes SET status = 'unreachable' WHERE id = ?1",
        [&w.node_id],
    )
    .unwrap();
    let err = c.reset_environment(&w.env_id).await.unwrap_err();
    assert_eq!(err.code(), Some("reset_validation_failed"));
    assert!(err.to_string().contains("unreachable"), "{err}");
    conn.execute(
        "UPDATE nodes SET status = 'active' WHERE id = ?1",
        [&w.node_id],
    )
    .unwrap();

    let before = c.environment(&w.env_id).await.unwrap().state_version;
    let env = c.reset_environment(&w.env_id).await.unwrap();
    assert_eq!(
        (env.status, env.state_version),
        (ResourceStatus::Active, before + 1)
    );
    // A site with an environment still restoring cannot be reset.
    conn.execute(
        "UPDATE environments SET status = 'restoring' WHERE id = ?1",
        [&w.env_id],
    )
    .unwrap();
    let err = c.reset_site(&w.site_id).await.unwrap_err();
    assert_eq!(err.code(), Some("reset_validation_failed"));
    assert!(err.to_string().contains("restoring"), "{err}");
    conn.execute(
        "UPDATE environments SET status = 'active' WHERE id = ?1",
        [&w.env_id],
    )
    .unwrap();
    let site = c.reset_site(&w.site_id).await.unwrap();
    assert_eq!(site.status, ResourceStatus::Active);

    let rows = audit_rows(&s, "environment.reset");
    assert_eq!(
        rows.iter().map(|r| r.2.as_str()).collect::<Vec<_>>(),
        ["denied", "denied", "denied", "ok"]
    );
    assert_eq!(audit_rows(&s, "site.reset").last().unwrap().2, "ok");
}
