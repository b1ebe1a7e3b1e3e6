//! Job endpoints.

use crate::error::AppError;

pub async fn list() -> Result<(), AppError> {
    Err(AppError::internal("not implemented"))
}
pub async fn get() -> Result<(), AppError> {
    Err(AppError::internal("not implemented"))
}
pub async fn events() -> Result<(), AppError> {
    Err(AppError::internal("not implemented"))
}
pub async fn cancel() -> Result<(), AppError> {
    Err(AppError::internal("not implemented"))
}
