//! Bad input gets a stable 4xx code, never a 500.

use super::{raw, world, Auth};
use crate::support::TestServer;

/// (what, method, path, content type, body, expected status, expected code)
type Case<'a> = (
    &'a str,
    &'a str,
    &'a str,
    Option<&'a str>,
    String,
    u16,
    &'a str,
);

#[tokio::test]
async fn bad_input_gets_a_stable_4xx_code_never_a_500() {
    let s = TestServer::start();
    let w = world(&s).await;
    let t = w.client.token().unwrap().to_string();
    let env = format!("/api/environments/{}", w.env_id);
    let envs = format!("/api/sites/{}/environments", w.site_id);
    let json = Some("application/json");
    let big = format!(
        "{{\"name\":\"{}\",\"slug\":\"big\"}}",
        "x".repeat(70 * 1024)
    );
    let cases: Vec<Case> = vec![
        ("malformed JSON", "POST", "/api/sites", json, "{\"name\":".into(), 400, "bad_request"),
        ("not an object", "POST", "/api/sites", json, "[1,2]".into(), 400, "bad_request"),
        ("missing field", "POST", "/api/sites", json, r#"{"name":"A"}"#.into(), 400, "bad_request"),
        ("unknown field", "POST", "/api/sites", json, r#"{"name":"A","slug":"a","x":1}"#.into(), 400, "bad_request"),
        ("wrong type", "POST", "/api/nodes", json, r#"{"name":"n","hostname":"h","ssh_port":"22"}"#.into(), 400, "bad_request"),
        ("wrong enum", "POST", &envs, json, r#"{"name":"A","slug":"a","environment_type":"qa","node_id":"x","preview_url":"http://a","files_root":"/a","db_name":"a","system_user":"a"}"#.into(), 400, "bad_request"),
        ("wrong content type", "POST", "/api/sites", Some("text/plain"), r#"{"name":"A","slug":"a"}"#.into(), 415, "unsupported_media_type"),
        ("no content type", "POST", "/api/sites", None, r#"{"name":"A","slug":"a"}"#.into(), 415, "unsupported_media_type"),
        ("oversized body", "POST", "/api/sites", json, big, 413, "payload_too_large"),
        ("non-UUID id", "GET", "/api/sites/shop", None, String::new(), 400, "bad_request"),
        ("non-UUID env id", "POST", "/api/environments/1/reset", json, "{}".into(), 400, "bad_request"),
        ("unknown route", "GET", "/api/nope", None, String::new(), 404, "not_found"),
        ("unknown route outside /api", "GET", "/", None, String::new(), 404, "not_found"),
        ("wrong method", "DELETE", &env, None, String::new(), 405, "method_not_allowed"),
        ("wrong method on a list", "PUT", "/api/sites", json, "{}".into(), 405, "method_not_allowed"),
    ];
    for (what, method, path, ct, body, status, code) in cases {
        let (st, _, b) = raw(&s, method, path, Auth::Bearer(&t), ct, &body).await;
        assert_eq!(
            (st, b["code"].as_str()),
            (status, Some(code)),
            "{what}: {b}"
        );
        assert!(!b["message"].as_str().unwrap_or("").is_empty(), "{what}");
    }
    let body = r#"{"email":"a@b.c","password":1}"#;
    let (st, _, b) = raw(
        &s,
        "POST",
        "/api/login",
        Auth::None,
        Some("application/json"),
        body,
    )
    .await;
    assert_eq!((st, b["code"].as_str()), (400, Some("bad_request")));
    assert!(
        !s.log_text().contains(crate::support::ADMIN_PASSWORD),
        "no password in the log"
    );
    assert!(!s.log_text().contains(&t), "no token in the log");
}
