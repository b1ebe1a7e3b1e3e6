//! `POST /api/login` (throttled, answers the same 401 whether or not the email exists) and
//! `POST /api/logout` (revokes the session of the request).

use super::{password, session, throttle, AuthSession};
use crate::app::AppState;
use crate::audit;
use crate::error::{AppError, Json};
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use pressluft_common::{LoginRequest, LoginResponse, SuccessResponse};
use rusqlite::{params, OptionalExtension};
use std::net::SocketAddr;

/// The client's address when the server was started with connect info (the real server).
pub struct ClientAddr(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(a)| a.ip().to_string()),
        ))
    }
}

fn bad_credentials() -> AppError {
    AppError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "wrong email or password",
    )
}

fn throttled(retry_after: u64) -> Response {
    let mut resp = AppError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        format!("too many failed logins; try again in {retry_after} s"),
    )
    .into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    resp
}

pub async fn login(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    Json(body): Json<LoginRequest>,
) -> Result<Response, AppError> {
    let email = body.email.trim().to_ascii_lowercase();
    let keys = vec![
        throttle::account_key(&email),
        throttle::address_key(addr.as_deref().unwrap_or("unknown")),
    ];
    let (lock, user) = {
        let (email, keys) = (email.clone(), keys.clone());
        state
            .db
            .run(move |conn| {
                let lock = throttle::locked_for(conn, &keys)?;
                let user: Option<(String, String)> = conn
                    .query_row(
                        "SELECT id, password_hash FROM users WHERE email = ?1",
                        params![email],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                if lock.is_some() {
                    let uid = user.as_ref().map(|(id, _)| id.as_str());
                    audit::record(conn, uid, "auth.login", "session", None, "denied")?;
                }
                Ok((lock, user))
            })
            .await?
    };
    if let Some(secs) = lock {
        return Ok(throttled(secs));
    }
    let (user_id, stored) = user.unzip();
    let ok = password::verify_blocking(body.password, stored).await?;
    let token = session::new_token();
    let outcome = {
        let token = token.clone();
        state
            .db
            .tx(move |tx| match (ok, user_id) {
                (true, Some(uid)) => {
                    throttle::clear(tx, &keys[0])?;
                    let (sid, expires_at) = session::create(tx, &uid, &token)?;
                    audit::record(tx, Some(&uid), "auth.login", "session", Some(&sid), "ok")?;
                    Ok(Some(expires_at))
                }
                (_, uid) => {
                    throttle::record_failure(tx, &keys[0], throttle::ACCOUNT_THRESHOLD)?;
                    throttle::record_failure(tx, &keys[1], throttle::ADDRESS_THRESHOLD)?;
                    audit::record(tx, uid.as_deref(), "auth.login", "session", None, "denied")?;
                    Ok(None)
                }
            })
            .await?
    };
    let Some(expires_at) = outcome else {
        tracing::info!("login refused: wrong email or password");
        return Err(bad_credentials());
    };
    tracing::info!("admin logged in");
    let cookie = session::set_cookie(&token, state.config.cookie_secure);
    let mut resp = axum::Json(LoginResponse { email, expires_at }).into_response();
    let value = HeaderValue::from_str(&cookie)
        .map_err(|e| AppError::internal(format!("session cookie header: {e}")))?;
    resp.headers_mut().insert(header::SET_COOKIE, value);
    Ok(resp)
}

pub async fn logout(
    State(state): State<AppState>,
    Extension(auth): Extension<AuthSession>,
) -> Result<Response, AppError> {
    state
        .db
        .tx(move |tx| {
            session::revoke(tx, &auth.session_id)?;
            audit::record(
                tx,
                Some(&auth.user_id),
                "auth.logout",
                "session",
                Some(&auth.session_id),
                "ok",
            )
        })
        .await?;
    let mut resp = axum::Json(SuccessResponse { success: true }).into_response();
    let value = HeaderValue::from_str(&session::clear_cookie(state.config.cookie_secure))
        .map_err(|e| AppError::internal(format!("session cookie header: {e}")))?;
    resp.headers_mut().insert(header::SET_COOKIE, value);
    Ok(resp)
}
