//! One file per job type implementing `JobHandler` (registered in `jobs::handler::registry`).

pub mod backup_cleanup;
pub mod node_check;
