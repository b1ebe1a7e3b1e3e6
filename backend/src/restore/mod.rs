//! Restores: validation, preflight and the `env_restore` job.

pub mod handlers;
