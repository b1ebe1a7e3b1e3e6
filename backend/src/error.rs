//! The API's one error type: every failure becomes `{code, message}` with a stable code from
//! `docs/error-codes.md` and its HTTP status. Internal detail is logged once, never sent.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::FromRequest;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pressluft_common::ErrorBody;

/// Every error code the API can answer with (checked against docs/error-codes.md by a test).
pub const API_ERROR_CODES: &[&str] = &[
    "bad_request",
    "unauthorized",
    "not_found",
    "conflict",
    "method_not_allowed",
    "payload_too_large",
    "unsupported_media_type",
    "too_many_requests",
    "internal_error",
    "job_not_cancellable",
    "resource_not_failed",
    "reset_validation_failed",
    "environment_not_found",
    "site_not_found",
    "node_not_found",
    "job_not_found",
    "backup_not_found",
    "backup_wrong_site",
    "backup_not_completed",
    "backup_expired",
    "environment_not_active",
    "job_already_active",
    "node_not_supported",
];

#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AppError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "log in first: POST /api/login, then send the session cookie or Authorization: Bearer <token>",
        )
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// An unexpected failure: logged here with its detail; the client sees a generic message.
    pub fn internal(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the server hit an internal error; see its log for details",
        )
    }
}

impl From<rusqlite::Error> for AppError {
    fn from(e: rusqlite::Error) -> Self {
        AppError::internal(format!("database: {e}"))
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code.to_string(),
            message: self.message,
        };
        (self.status, axum::Json(body)).into_response()
    }
}

/// `Json<T>` whose rejections answer in our error shape with a stable code.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

impl From<JsonRejection> for AppError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => AppError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ),
            JsonRejection::BytesRejection(_) => AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is too large (limit 64 KiB)",
            ),
            other => AppError::bad_request(format!("invalid JSON body: {}", other.body_text())),
        }
    }
}

impl From<PathRejection> for AppError {
    fn from(r: PathRejection) -> Self {
        AppError::bad_request(format!("invalid path parameter: {}", r.body_text()))
    }
}

/// A path id that must be a UUID; anything else is a 400 before any lookup.
#[derive(Debug, Clone)]
pub struct Id(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Id {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state).await?;
        if crate::util::is_uuid(&raw) {
            Ok(Id(raw.to_ascii_lowercase()))
        } else {
            Err(AppError::bad_request(format!(
                "`{raw}` is not a valid id: ids are UUIDs like 3f2b6c1e-8d4a-4c1b-9e2f-0a1b2c3d4e5f"
            )))
        }
    }
}
