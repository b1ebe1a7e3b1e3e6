//! Registry endpoints.

use crate::error::AppError;

macro_rules! stub { ($($n:ident),*) => { $(pub async fn $n() -> Result<(), AppError> { Err(AppError::internal("not implemented")) })* } }
stub!(
    list_nodes,
    register_node,
    list_sites,
    register_site,
    get_site,
    reset_site,
    list_environments,
    register_environment,
    get_environment,
    reset_environment,
    metrics
);
