//! Backups: creation requests, the `backup_create` job, storage and retention.

pub mod handlers;
