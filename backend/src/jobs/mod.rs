//! The durable job queue, its workers, the Ansible runner and job progress.

pub mod handlers;

use crate::app::AppState;
use std::sync::Arc;

/// Shared handle to wake workers and publish job events.
#[derive(Clone, Default)]
pub struct JobsHandle {
    pub notify: Arc<tokio::sync::Notify>,
}

impl JobsHandle {
    pub fn new() -> Self {
        Self::default()
    }

    /// Wakes a worker: call after committing an enqueue.
    pub fn wake(&self) {
        self.notify.notify_one();
    }
}

/// The running workers and scheduler.
pub struct Engine;

impl Engine {
    pub fn start(_state: AppState) -> Engine {
        Engine
    }

    pub async fn stop(self) {}
}
