//! Backup endpoints.

use crate::error::AppError;

pub async fn list() -> Result<(), AppError> {
    Err(AppError::internal("not implemented"))
}
pub async fn create() -> Result<(), AppError> {
    Err(AppError::internal("not implemented"))
}
