//! Stopping a running attempt: one token plus the first reason given (cancel, timeout,
//! shutdown, lost lease). The Ansible runner and the worker both watch it.

use std::sync::{Arc, OnceLock};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// An admin cancelled the job.
    Cancelled,
    /// The attempt ran past `config.job_timeout`.
    Timeout,
    /// The server is shutting down: the job goes back to the queue.
    Shutdown,
    /// Another process took the job back (our heartbeat was fenced out).
    LeaseLost,
}

#[derive(Debug, Clone, Default)]
pub struct StopSignal {
    token: CancellationToken,
    reason: Arc<OnceLock<StopReason>>,
}

impl StopSignal {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops the attempt; the first reason wins.
    pub fn stop(&self, reason: StopReason) {
        let _ = self.reason.set(reason);
        self.token.cancel();
    }

    pub fn reason(&self) -> Option<StopReason> {
        self.reason.get().copied()
    }

    pub fn is_stopped(&self) -> bool {
        self.token.is_cancelled()
    }

    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    pub async fn stopped(&self) {
        self.token.cancelled().await
    }
}
