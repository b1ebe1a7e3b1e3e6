//! Registry of nodes, sites and environments: registration (API and CLI through the same
//! service functions), read models, the reset of failed resources and the metrics counts.
//! Layers: `handlers` (HTTP) -> `service` / `reset` (rules, audit) -> `store` (SQL).

pub mod cli;
pub mod handlers;
pub mod reset;
pub mod service;
pub mod store;
pub mod validate;

use crate::error::AppError;

pub fn site_not_found(id: &str) -> AppError {
    AppError::not_found(
        "site_not_found",
        format!("no site with id {id}; list them with GET /api/sites"),
    )
}

pub fn environment_not_found(id: &str) -> AppError {
    AppError::not_found(
        "environment_not_found",
        format!(
            "no environment with id {id}; list a site's with GET /api/sites/{{id}}/environments"
        ),
    )
}

pub fn node_not_found(id: &str) -> AppError {
    AppError::not_found(
        "node_not_found",
        format!("no node with id {id}; list them with GET /api/nodes"),
    )
}
