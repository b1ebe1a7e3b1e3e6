//! Login, sessions, logout, the CSRF rule and login throttling.

use super::{raw, Auth};
use crate::support::{TestServer, ADMIN_EMAIL, ADMIN_PASSWORD};
use pressluft_backend::router::ROUTES;
use serde_json::json;

const JSON: Option<&str> = Some("application/json");

async fn login_token(s: &TestServer) -> String {
    let body = json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).to_string();
    let (status, headers, resp) = raw(s, "POST", "/api/login", Auth::None, JSON, &body).await;
    assert_eq!(status, 200, "{resp}");
    let cookie = headers["set-cookie"].to_str().unwrap().to_string();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=86400"] {
        assert!(
            cookie.split("; ").any(|a| a == attr),
            "{attr} missing in {cookie}"
        );
    }
    assert!(
        !cookie.contains("Secure"),
        "not Secure unless --cookie-secure"
    );
    let token = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("session_token=");
    assert_eq!(token.len(), 64, "256-bit hex token");
    assert_eq!(resp["email"], ADMIN_EMAIL);
    assert!(resp["expires_at"].as_str().unwrap().ends_with('Z'));
    token.to_string()
}

#[tokio::test]
async fn login_sets_a_strict_httponly_cookie_that_works_and_logout_revokes_it() {
    let s = TestServer::start();
    let token = login_token(&s).await;
    assert_eq!(
        raw(&s, "GET", "/api/sites", Auth::Cookie(&token), None, "")
            .await
            .0,
        200
    );
    assert_eq!(
        raw(&s, "GET", "/api/sites", Auth::Bearer(&token), None, "")
            .await
            .0,
        200
    );
    let (status, headers, body) =
        raw(&s, "POST", "/api/logout", Auth::Cookie(&token), JSON, "{}").await;
    assert_eq!((status, body), (200, json!({"success": true})));
    assert!(headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    for auth in [Auth::Cookie(&token), Auth::Bearer(&token)] {
        let (status, _, body) = raw(&s, "GET", "/api/sites", auth, None, "").await;
        assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
    }
    let rows = super::audit_rows(&s, "auth.logout");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].2, "ok");
}

#[tokio::test]
async fn every_protected_route_answers_401_without_or_with_an_unknown_or_revoked_session() {
    let s = TestServer::start();
    let revoked = login_token(&s).await;
    assert_eq!(
        raw(&s, "POST", "/api/logout", Auth::Bearer(&revoked), None, "")
            .await
            .0,
        200
    );
    let unknown = "0".repeat(64);
    let id = super::random_id();
    for (method, path) in ROUTES.iter().filter(|(_, p)| *p != "/api/login") {
        let path = path.replace("{id}", &id);
        for auth in [
            Auth::None,
            Auth::Bearer(&unknown),
            Auth::Cookie(&unknown),
            Auth::Bearer(&revoked),
            Auth::Cookie(&revoked),
        ] {
            let (status, _, body) = raw(&s, method, &path, auth, JSON, "{}").await;
            assert_eq!(status, 401, "{method} {path}: {body}");
            assert_eq!(body["code"], "unauthorized", "{method} {path}");
        }
    }
}

#[tokio::test]
async fn cookie_authenticated_posts_must_be_json_but_bearer_posts_need_not() {
    let s = TestServer::start();
    let token = login_token(&s).await;
    let path = format!("/api/sites/{}/reset", super::random_id());
    let (status, _, body) = raw(
        &s,
        "POST",
        &path,
        Auth::Cookie(&token),
        Some("text/plain"),
        "{}",
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    let (status, _, body) = raw(&s, "POST", &path, Auth::Cookie(&token), None, "").await;
    assert_eq!(status, 415, "{body}");
    let (status, _, body) = raw(&s, "POST", &path, Auth::Cookie(&token), JSON, "{}").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("site_not_found"))
    );
    let (status, _, body) = raw(&s, "POST", &path, Auth::Bearer(&token), None, "").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("site_not_found"))
    );
}

#[tokio::test]
async fn wrong_credentials_answer_the_same_401_whether_or_not_the_email_exists() {
    let s = TestServer::start();
    let mut answers = Vec::new();
    for email in [ADMIN_EMAIL, "nobody@example.test"] {
        let body = json!({"email": email, "password": "not the password"}).to_string();
        let (status, headers, body) = raw(&s, "POST", "/api/login", Auth::None, JSON, &body).await;
        assert!(headers.get("set-cookie").is_none());
        answers.push((status, body));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].0, 401);
    assert_eq!(answers[0].1["code"], "unauthorized");
    let denied = super::audit_rows(&s, "auth.login");
    assert_eq!(denied.len(), 2);
    assert!(denied.iter().all(|r| r.2 == "denied"));
}

#[tokio::test]
async fn repeated_failed_logins_get_429_with_a_growing_retry_after() {
    let s = TestServer::start();
    let wrong = json!({"email": ADMIN_EMAIL, "password": "not the password"}).to_string();
    for _ in 0..5 {
        assert_eq!(
            raw(&s, "POST", "/api/login", Auth::None, JSON, &wrong)
                .await
                .0,
            401
        );
    }
    let (status, headers, body) = raw(&s, "POST", "/api/login", Auth::None, JSON, &wrong).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("too_many_requests"))
    );
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    // Even the right password waits now: the lock is per account.
    let right = json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).to_string();
    assert_eq!(
        raw(&s, "POST", "/api/login", Auth::None, JSON, &right)
            .await
            .0,
        429
    );
    // Another account from the same address is not locked by these five.
    let other = json!({"email": "other@example.test", "password": "x"}).to_string();
    assert_eq!(
        raw(&s, "POST", "/api/login", Auth::None, JSON, &other)
            .await
            .0,
        401
    );
    // One more failure after the lock doubles it.
    let c = super::db(&s);
    c.execute(
        "UPDATE login_attempts SET locked_until = '2000-01-01T00:00:00Z' WHERE key LIKE 'email:%'",
        [],
    )
    .unwrap();
    assert_eq!(
        raw(&s, "POST", "/api/login", Auth::None, JSON, &wrong)
            .await
            .0,
        401
    );
    let (status, headers, _) = raw(&s, "POST", "/api/login", Auth::None, JSON, &wrong).await;
    assert_eq!(status, 429);
    let longer: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(longer > 30, "{longer}");
}
