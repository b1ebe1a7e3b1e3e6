//! Restore endpoints.

use crate::error::AppError;

pub async fn restore() -> Result<(), AppError> {
    Err(AppError::internal("not implemented"))
}
pub async fn preflight() -> Result<(), AppError> {
    Err(AppError::internal("not implemented"))
}
