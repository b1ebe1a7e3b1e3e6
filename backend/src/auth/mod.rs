//! Admin authentication: argon2id passwords, 24 h sessions (cookie or Bearer), login
//! throttling, the `admin create` command and the middleware that guards every route but login.
//! CSRF rule: a request authenticated by the cookie with an unsafe method must carry
//! `Content-Type: application/json` (a cross-site form cannot send it without CORS, which the
//! server never grants); Bearer requests are not CSRF-prone and skip that check.

pub mod admin;
pub mod handlers;
pub mod password;
pub mod session;
pub mod throttle;

use crate::app::AppState;
use crate::audit::CurrentUser;
use crate::error::AppError;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

/// The session behind a request (request extension, beside [`CurrentUser`]).
#[derive(Debug, Clone)]
pub struct AuthSession {
    pub session_id: String,
    pub user_id: String,
}

/// Where the token of a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenSource {
    Bearer,
    Cookie,
}

/// The token of a request: `Authorization: Bearer` wins over the cookie. An Authorization
/// header of another scheme yields no token (401), never a fallback to the cookie.
fn request_token(headers: &HeaderMap) -> Option<(String, TokenSource)> {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let value = auth.to_str().ok()?.trim();
        let (scheme, token) = value.split_once(' ')?;
        let token = token.trim();
        return (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty())
            .then(|| (token.to_string(), TokenSource::Bearer));
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(session::token_from_cookie_header)
        .map(|t| (t.to_string(), TokenSource::Cookie))
}

/// True for `application/json` (parameters such as `; charset=utf-8` allowed).
pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Rejects requests without a live admin session (401 `unauthorized`), and cookie-authenticated
/// unsafe requests that are not JSON (415, the CSRF rule above).
pub async fn require_session(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, AppError> {
    let Some((token, source)) = request_token(req.headers()) else {
        return Err(AppError::unauthorized());
    };
    let found = state
        .db
        .run(move |conn| session::lookup(conn, &token))
        .await?;
    let Some(found) = found else {
        return Err(AppError::unauthorized());
    };
    if source == TokenSource::Cookie && !is_safe(req.method()) && !is_json(req.headers()) {
        return Err(AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "requests authenticated by the session cookie must send Content-Type: application/json \
             (CSRF protection); scripts can use Authorization: Bearer instead",
        ));
    }
    req.extensions_mut().insert(CurrentUser {
        id: found.user_id.clone(),
    });
    req.extensions_mut().insert(AuthSession {
        session_id: found.id,
        user_id: found.user_id,
    });
    Ok(next.run(req).await)
}
