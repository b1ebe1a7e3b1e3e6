//! Every route the API serves, wired in one place. `ROUTES` lists them for the contract test.

use crate::app::AppState;
use crate::error::AppError;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;

/// (method, path) of every route, as written in `contracts/openapi.yaml`.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/login"),
    ("POST", "/api/logout"),
    ("GET", "/api/nodes"),
    ("POST", "/api/nodes"),
    ("GET", "/api/sites"),
    ("POST", "/api/sites"),
    ("GET", "/api/sites/{id}"),
    ("POST", "/api/sites/{id}/reset"),
    ("GET", "/api/sites/{id}/environments"),
    ("POST", "/api/sites/{id}/environments"),
    ("GET", "/api/environments/{id}"),
    ("POST", "/api/environments/{id}/reset"),
    ("GET", "/api/environments/{id}/backups"),
    ("POST", "/api/environments/{id}/backups"),
    ("POST", "/api/environments/{id}/restore"),
    ("POST", "/api/environments/{id}/restore/preflight"),
    ("GET", "/api/jobs"),
    ("GET", "/api/jobs/{id}"),
    ("GET", "/api/jobs/{id}/events"),
    ("POST", "/api/jobs/{id}/cancel"),
    ("GET", "/api/metrics"),
];

pub fn router(state: AppState) -> Router {
    use crate::{auth, backups, jobs, registry, restore};
    let protected = Router::new()
        .route("/api/logout", post(auth::handlers::logout))
        .route(
            "/api/nodes",
            get(registry::handlers::list_nodes).post(registry::handlers::register_node),
        )
        .route(
            "/api/sites",
            get(registry::handlers::list_sites).post(registry::handlers::register_site),
        )
        .route("/api/sites/{id}", get(registry::handlers::get_site))
        .route(
            "/api/sites/{id}/reset",
            post(registry::handlers::reset_site),
        )
        .route(
            "/api/sites/{id}/environments",
            get(registry::handlers::list_environments)
                .post(registry::handlers::register_environment),
        )
        .route(
            "/api/environments/{id}",
            get(registry::handlers::get_environment),
        )
        .route(
            "/api/environments/{id}/reset",
            post(registry::handlers::reset_environment),
        )
        .route(
            "/api/environments/{id}/backups",
            get(backups::handlers::list).post(backups::handlers::create),
        )
        .route(
            "/api/environments/{id}/restore",
            post(restore::handlers::restore),
        )
        .route(
            "/api/environments/{id}/restore/preflight",
            post(restore::handlers::preflight),
        )
        .route("/api/jobs", get(jobs::handlers::list))
        .route("/api/jobs/{id}", get(jobs::handlers::get))
        .route("/api/jobs/{id}/events", get(jobs::handlers::events))
        .route("/api/jobs/{id}/cancel", post(jobs::handlers::cancel))
        .route("/api/metrics", get(registry::handlers::metrics))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_session,
        ));
    Router::new()
        .route("/api/login", post(auth::handlers::login))
        .merge(protected)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(
            tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer::new([
                axum::http::header::AUTHORIZATION,
                axum::http::header::COOKIE,
            ]),
        )
        .with_state(state)
}

async fn not_found() -> AppError {
    AppError::not_found("not_found", "no such endpoint; see contracts/openapi.yaml")
}

async fn method_not_allowed() -> AppError {
    AppError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not accept that method; see contracts/openapi.yaml",
    )
}
