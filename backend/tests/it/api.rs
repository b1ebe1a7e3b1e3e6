//! API tests through the real binary: auth and sessions, registration, bad input, reset,
//! metrics and the command line. Shared helpers live here.

mod auth;
mod cli;
mod input;
mod metrics;
mod registry;

use crate::support::TestServer;
use pressluft_common::{Client, EnvironmentType, RegisterEnvironment, RegisterNode, RegisterSite};
use serde_json::{json, Value};

pub fn random_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A valid environment registration body on `node_id`.
pub fn env_body(node_id: &str, slug: &str) -> Value {
    json!({
        "name": format!("Env {slug}"), "slug": slug, "environment_type": "production",
        "node_id": node_id, "preview_url": "http://127.0.0.1:8081/",
        "files_root": format!("/srv/www/{slug}"), "db_name": format!("wp_{slug}"),
        "system_user": "www-data"
    })
}

pub fn register_env(node_id: &str, slug: &str) -> RegisterEnvironment {
    serde_json::from_value(env_body(node_id, slug)).expect("valid body")
}

/// A logged-in client plus a registered local node, site `shop` and its environment `prod`.
pub struct World {
    pub client: Client,
    pub node_id: String,
    pub site_id: String,
    pub env_id: String,
}

pub async fn world(s: &TestServer) -> World {
    let client = s.client().await;
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
        .expect("register node");
    let site = client
        .register_site(&RegisterSite {
            id: None,
            name: "Shop".into(),
            slug: "shop".into(),
        })
        .await
        .expect("register site");
    let mut req = register_env(&node.id, "prod");
    req.environment_type = EnvironmentType::Production;
    let env = client
        .register_environment(&site.id, &req)
        .await
        .expect("register environment");
    World {
        client,
        node_id: node.id,
        site_id: site.id,
        env_id: env.id,
    }
}

/// A raw request: (status, headers, JSON body or Null).
pub async fn raw(
    s: &TestServer,
    method: &str,
    path: &str,
    auth: Auth<'_>,
    content_type: Option<&str>,
    body: &str,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let http = reqwest::Client::new();
    let mut rb = http.request(method.parse().expect("method"), format!("{}{path}", s.url));
    match auth {
        Auth::None => {}
        Auth::Bearer(t) => rb = rb.bearer_auth(t),
        Auth::Cookie(t) => rb = rb.header("cookie", format!("session_token={t}")),
    }
    if let Some(ct) = content_type {
        rb = rb.header("content-type", ct);
    }
    let resp = rb.body(body.to_string()).send().await.expect("send");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

#[derive(Clone, Copy)]
pub enum Auth<'a> {
    None,
    Bearer(&'a str),
    Cookie(&'a str),
}

/// Opens the server's database for direct reads and writes (the server keeps running).
pub fn db(s: &TestServer) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(s.db_path()).expect("open db");
    c.busy_timeout(std::time::Duration::from_secs(10))
        .expect("busy timeout");
    c
}

/// The audit rows of `action`: (user_id, resource_id, result).
pub fn audit_rows(s: &TestServer, action: &str) -> Vec<(Option<String>, Option<String>, String)> {
    let c = rusqlite::Connection::open_with_flags(
        s.db_path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open db read-only");
    let mut st = c
        .prepare(
            "SELECT user_id, resource_id, result FROM audit_logs WHERE action = ?1 ORDER BY id",
        )
        .expect("prepare");
    st.query_map([action], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}
