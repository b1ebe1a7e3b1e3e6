//! Real answers of a running server, for every endpoint, validated against the contract.

use super::validator::Contract;
use crate::support::TestServer;
use serde_json::{json, Value};

/// Sends `method path` with the bearer token and checks the answer against the contract.
async fn check(
    c: &Contract,
    s: &TestServer,
    token: &str,
    method: &str,
    path: &str,
    id: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let http = reqwest::Client::new();
    let url = format!("{}{}", s.url, path.replace("{id}", id));
    let mut rb = http
        .request(method.parse().unwrap(), url)
        .bearer_auth(token);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let is_sse = resp
        .headers()
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/event-stream"));
    if is_sse {
        assert!(
            c.response(method, path, status).is_some(),
            "{method} {path} {status} undocumented"
        );
        return (status, Value::Null);
    }
    let text = resp.text().await.unwrap();
    c.check_response(method, path, status, &text);
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn real_answers_of_every_endpoint_match_the_contract() {
    let c = Contract::load();
    let s = TestServer::start();
    let http = reqwest::Client::new();
    let login = http
        .post(format!("{}/api/login", s.url))
        .json(&json!({"email": crate::support::ADMIN_EMAIL, "password": crate::support::ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    let status = login.status().as_u16();
    let token = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("session_token=")
        .to_string();
    c.check_response("POST", "/api/login", status, &login.text().await.unwrap());
    let bad = http
        .post(format!("{}/api/login", s.url))
        .json(&json!({"email": "x@y.z", "password": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    c.check_response("POST", "/api/login", 401, &bad.text().await.unwrap());

    let t = token.as_str();
    let none = "";
    let node_body = json!({"name": "local", "hostname": "localhost", "is_local": true});
    let (st, node) = check(
        &c,
        &s,
        t,
        "POST",
        "/api/nodes",
        none,
        Some(node_body.clone()),
    )
    .await;
    assert_eq!(st, 201);
    assert_eq!(
        check(&c, &s, t, "POST", "/api/nodes", none, Some(node_body))
            .await
            .0,
        200
    );
    check(
        &c,
        &s,
        t,
        "POST",
        "/api/nodes",
        none,
        Some(json!({"name": "other", "hostname": "h", "is_local": true})),
    )
    .await;
    check(
        &c,
        &s,
        t,
        "POST",
        "/api/nodes",
        none,
        Some(json!({"name": "x"})),
    )
    .await;
    check(&c, &s, t, "GET", "/api/nodes", none, None).await;
    let (st, site) = check(
        &c,
        &s,
        t,
        "POST",
        "/api/sites",
        none,
        Some(json!({"name": "Shop", "slug": "shop"})),
    )
    .await;
    assert_eq!(st, 201);
    let sid = site["id"].as_str().unwrap().to_string();
    check(&c, &s, t, "GET", "/api/sites", none, None).await;
    check(&c, &s, t, "GET", "/api/sites/{id}", &sid, None).await;
    check(&c, &s, t, "GET", "/api/sites/{id}", "nope", None).await;
    check(
        &c,
        &s,
        t,
        "GET",
        "/api/sites/{id}",
        &crate::api::random_id(),
        None,
    )
    .await;
    let env_body = crate::api::env_body(node["id"].as_str().unwrap(), "prod");
    let (st, env) = check(
        &c,
        &s,
        t,
        "POST",
        "/api/sites/{id}/environments",
        &sid,
        Some(env_body),
    )
    .await;
    assert_eq!(st, 201);
    let eid = env["id"].as_str().unwrap().to_string();
    check(
        &c,
        &s,
        t,
        "POST",
        "/api/sites/{id}/environments",
        &sid,
        Some(crate::api::env_body(&crate::api::random_id(), "stage")),
    )
    .await;
    check(&c, &s, t, "GET", "/api/sites/{id}/environments", &sid, None).await;
    check(&c, &s, t, "GET", "/api/environments/{id}", &eid, None).await;
    check(
        &c,
        &s,
        t,
        "GET",
        "/api/environments/{id}",
        &crate::api::random_id(),
        None,
    )
    .await;
    assert_eq!(
        check(
            &c,
            &s,
            t,
            "POST",
            "/api/sites/{id}/reset",
            &sid,
            Some(json!({}))
        )
        .await
        .0,
        409
    );
    assert_eq!(
        check(
            &c,
            &s,
            t,
            "POST",
            "/api/environments/{id}/reset",
            &eid,
            Some(json!({}))
        )
        .await
        .0,
        409
    );
    check(&c, &s, t, "GET", "/api/metrics", none, None).await;
    // Routes owned by the jobs, backups and restore areas: whatever they answer is documented.
    let other = crate::api::random_id();
    check(
        &c,
        &s,
        t,
        "GET",
        "/api/environments/{id}/backups",
        &eid,
        None,
    )
    .await;
    check(
        &c,
        &s,
        t,
        "POST",
        "/api/environments/{id}/backups",
        &other,
        Some(json!({"backup_scope": "full"})),
    )
    .await;
    check(
        &c,
        &s,
        t,
        "POST",
        "/api/environments/{id}/restore",
        &eid,
        Some(json!({"backup_id": other})),
    )
    .await;
    check(
        &c,
        &s,
        t,
        "POST",
        "/api/environments/{id}/restore/preflight",
        &eid,
        Some(json!({"backup_id": other})),
    )
    .await;
    check(&c, &s, t, "GET", "/api/jobs", none, None).await;
    check(&c, &s, t, "GET", "/api/jobs/{id}", &other, None).await;
    check(&c, &s, t, "GET", "/api/jobs/{id}/events", &other, None).await;
    check(
        &c,
        &s,
        t,
        "POST",
        "/api/jobs/{id}/cancel",
        &other,
        Some(json!({})),
    )
    .await;
    assert_eq!(
        check(&c, &s, t, "POST", "/api/logout", none, Some(json!({})))
            .await
            .0,
        200
    );
    assert_eq!(
        check(&c, &s, t, "GET", "/api/metrics", none, None).await.0,
        401
    );
}
