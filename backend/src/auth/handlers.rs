//! `POST /api/login`, `POST /api/logout`.

use crate::error::AppError;

pub async fn login() -> Result<(), AppError> {
    Err(AppError::internal("not implemented"))
}

pub async fn logout() -> Result<(), AppError> {
    Err(AppError::internal("not implemented"))
}
