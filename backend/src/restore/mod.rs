//! Restores: validation in SPEC order, preflight checks, and the `env_restore` job.

pub mod checks;
pub mod handlers;
pub mod job;
pub mod service;
