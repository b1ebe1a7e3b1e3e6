//! Backups: creation requests, the `backup_create` job, the local store and retention.

pub mod handlers;
pub mod job;
pub mod service;
pub mod store;
pub mod target;
