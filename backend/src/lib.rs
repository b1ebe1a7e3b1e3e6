//! Pressluft control plane: REST API over SQLite, the job queue and its Ansible runner, backups
//! and restores. `main.rs` is the CLI; everything else lives here so tests can use it.

pub mod app;
pub mod audit;
pub mod auth;
pub mod backups;
pub mod config;
pub mod db;
pub mod doctor;
pub mod error;
pub mod jobs;
pub mod registry;
pub mod restore;
pub mod router;
pub mod storage;
pub mod util;

pub use app::{app, serve, AppState};
pub use config::Config;
