//! The durable job queue (SQLite), its workers, the Ansible runner, job progress and the HTTP
//! endpoints that expose jobs. `docs/job-execution.md` describes the machinery as built.
//!
//! Public API for the modules that create jobs (backups, restores):
//! - [`store::enqueue`]`(tx, NewJob { .. }) -> Result<String, AppError>` inside the caller's
//!   `BEGIN IMMEDIATE` transaction (writes the job and its first `status` event), then
//!   [`JobsHandle::wake`] after the commit;
//! - [`store::active_job_for_site`]`(conn, site_id) -> Result<Option<ActiveJob>, AppError>`
//!   (a queued or running job of the site);
//! - a [`handler::JobHandler`] per job type, registered in [`handler::registry`]; it gets a
//!   [`handler::JobContext`] (steps, progress, `run_playbook`, cancellation) and settles its
//!   resource rows in the job's final transaction ([`handler::JobHandler::settle`]).

pub mod ansible;
pub mod classify;
mod control;
mod events_file;
pub mod handler;
pub mod handlers;
pub mod inventory;
pub mod kinds;
mod output;
mod procs;
pub mod progress;
pub mod query;
mod recovery;
mod rundir;
mod scheduler;
mod settle;
mod sse;
pub mod store;
mod worker;

pub use control::{StopReason, StopSignal};
pub use handler::{JobContext, JobFailure, JobHandler, PlaybookOutcome, Settlement};
pub use store::{ActiveJob, JobRow, NewJob};

use crate::app::AppState;
use pressluft_common::{JobEvent, JobType};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Every `error_code` the job machinery itself sets on a job. Playbooks add their own codes
/// through their result file (`docs/job-types.md`).
pub const JOB_ERROR_CODES: &[&str] = &[
    "ANSIBLE_PLAY_ERROR",
    "ANSIBLE_HOST_FAILED",
    "ANSIBLE_HOST_UNREACHABLE",
    "ANSIBLE_SYNTAX_ERROR",
    "ANSIBLE_UNEXPECTED_ERROR",
    "ANSIBLE_UNKNOWN_EXIT",
    "ANSIBLE_TIMEOUT",
    "JOB_TIMEOUT",
    "JOB_ABANDONED",
    "JOB_CANCELLED",
    "JOB_INTERNAL_ERROR",
    "JOB_INVALID",
    "JOB_UNSUPPORTED_TYPE",
];

/// A job event published after its transaction committed (SSE streams listen to these).
#[derive(Debug, Clone)]
pub struct Published {
    pub job_id: String,
    pub event: JobEvent,
}

/// Shared handle: wakes workers, publishes job events, reaches running attempts to stop them,
/// and holds the handler registry.
#[derive(Clone)]
pub struct JobsHandle {
    pub notify: Arc<Notify>,
    events: broadcast::Sender<Published>,
    running: Arc<Mutex<HashMap<String, StopSignal>>>,
    handlers: Arc<handler::Registry>,
}

impl Default for JobsHandle {
    fn default() -> Self {
        Self::new()
    }
}

impl JobsHandle {
    pub fn new() -> Self {
        let (events, _) = broadcast::channel(1024);
        JobsHandle {
            notify: Arc::new(Notify::new()),
            events,
            running: Arc::new(Mutex::new(HashMap::new())),
            handlers: Arc::new(handler::registry()),
        }
    }

    /// Wakes a worker: call after committing an enqueue.
    pub fn wake(&self) {
        self.notify.notify_one();
    }

    /// Publishes committed events (no receiver is fine).
    pub fn publish(&self, job_id: &str, events: impl IntoIterator<Item = JobEvent>) {
        for event in events {
            let _ = self.events.send(Published {
                job_id: job_id.to_string(),
                event,
            });
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Published> {
        self.events.subscribe()
    }

    /// The handler of a job type, if one is registered.
    pub fn handler(&self, job_type: JobType) -> Option<Arc<dyn JobHandler>> {
        self.handlers.get(&job_type).cloned()
    }

    /// Stops the running attempt of `job_id` in this process, if any. True when one was found.
    pub fn stop_running(&self, job_id: &str, reason: StopReason) -> bool {
        let signal = self
            .running
            .lock()
            .ok()
            .and_then(|m| m.get(job_id).cloned());
        match signal {
            Some(s) => {
                s.stop(reason);
                true
            }
            None => false,
        }
    }

    fn register_running(&self, job_id: &str, signal: StopSignal) {
        if let Ok(mut m) = self.running.lock() {
            m.insert(job_id.to_string(), signal);
        }
    }

    fn unregister_running(&self, job_id: &str) {
        if let Ok(mut m) = self.running.lock() {
            m.remove(job_id);
        }
    }
}

/// `hostname:pid`, the `locked_by` of jobs this process runs.
pub fn worker_id() -> String {
    format!("{}:{}", procs::hostname(), std::process::id())
}

/// The running workers, the recovery loop and the scheduler.
pub struct Engine {
    stop: CancellationToken,
    supervisor: JoinHandle<()>,
}

impl Engine {
    /// Recovers jobs abandoned by a dead process, then starts `config.workers` workers, the
    /// periodic lease recovery and the scheduler. Stops when `state.shutdown` is cancelled.
    pub fn start(state: AppState) -> Engine {
        let stop = state.shutdown.child_token();
        let supervisor = tokio::spawn(worker::supervise(state, stop.clone()));
        Engine { stop, supervisor }
    }

    /// Stops the workers (running attempts are stopped and put back in the queue), bounded.
    pub async fn stop(self) {
        self.stop.cancel();
        if tokio::time::timeout(Duration::from_secs(15), self.supervisor)
            .await
            .is_err()
        {
            tracing::warn!("job engine did not stop within 15 s");
        }
    }
}
