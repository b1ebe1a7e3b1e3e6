//! The `JobHandler` trait (one implementation per job type, in `kinds/`), what a handler gets
//! while it runs (`JobContext`: steps, progress, playbooks, cancellation), how an attempt
//! fails (`JobFailure`), and the one registry of handlers by `JobType`.

use super::control::{StopReason, StopSignal};
use super::store::JobRow;
use super::{kinds, progress};
use crate::app::AppState;
use crate::db::tx_sync;
use crate::error::AppError;
use pressluft_common::{JobType, StepStatus};
use rusqlite::Transaction;
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why an attempt failed. `code` is a job error code (`JOB_ERROR_CODES` or a playbook's own);
/// `message` tells the operator what to do; `output_tail` is the redacted end of the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFailure {
    pub code: String,
    pub message: String,
    pub retryable: bool,
    pub output_tail: Option<String>,
}

impl JobFailure {
    pub fn new(code: &str, message: impl Into<String>, retryable: bool) -> Self {
        JobFailure {
            code: code.to_string(),
            message: message.into(),
            retryable,
            output_tail: None,
        }
    }

    /// A database or other internal error while running a job (retryable).
    pub fn internal(job_id: &str, e: &AppError) -> Self {
        tracing::error!(job.id = %job_id, error = %e, "internal error while running a job");
        JobFailure::new(
            "JOB_INTERNAL_ERROR",
            "the control plane hit an internal error while running the job; see the server log",
            true,
        )
    }
}

/// How a job ends, given to [`JobHandler::settle`] inside the job's final transaction.
#[derive(Debug, Clone, Copy)]
pub enum Settlement<'a> {
    Succeeded {
        result: &'a Value,
    },
    /// The attempt failed (or its worker died: code `JOB_ABANDONED`) and the job is re-queued.
    Retrying {
        failure: &'a JobFailure,
    },
    /// The job failed for good (also `JOB_ABANDONED` when its last attempt's worker died).
    Failed {
        failure: &'a JobFailure,
    },
    /// Cancelled by an admin, while queued or running.
    Cancelled {
        failure: &'a JobFailure,
    },
}

/// One job type. Handlers must be idempotent: an attempt may be re-run after a crash.
pub trait JobHandler: Send + Sync + 'static {
    fn job_type(&self) -> JobType;

    /// Runs one attempt; the `Ok` value becomes the job's `result_json`.
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<Value, JobFailure>>;

    /// Whether a playbook result code (`{"ok": false, "code": ..}`) is worth retrying.
    fn retryable_result_code(&self, _code: &str) -> bool {
        false
    }

    /// Inside the claim transaction, when an attempt starts (e.g. environment `restoring`).
    fn on_start(&self, _tx: &Transaction<'_>, _job: &JobRow) -> Result<(), AppError> {
        Ok(())
    }

    /// After a failed, timed-out or cancelled attempt, before it is settled: clean up on the
    /// node (runs with a fresh cancellation token and its own timeout). `last` is true when
    /// the job will not be retried.
    fn on_failure<'a>(
        &'a self,
        _ctx: &'a JobContext,
        _failure: &'a JobFailure,
        _last: bool,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }

    /// Inside the job's final transaction (also for cancel-while-queued and for jobs recovered
    /// from a dead worker): move environment / site / backup rows to match the job.
    fn settle(
        &self,
        _tx: &Transaction<'_>,
        _job: &JobRow,
        _outcome: &Settlement<'_>,
    ) -> Result<(), AppError> {
        Ok(())
    }
}

pub type Registry = HashMap<JobType, Arc<dyn JobHandler>>;

/// Every job handler, by type: the one place to register one.
pub fn registry() -> Registry {
    let handlers: Vec<Arc<dyn JobHandler>> = vec![
        Arc::new(kinds::node_check::NodeCheck),
        Arc::new(kinds::backup_cleanup::BackupCleanup),
        Arc::new(crate::backups::job::BackupCreate),
        Arc::new(crate::restore::job::EnvRestore),
    ];
    handlers.into_iter().map(|h| (h.job_type(), h)).collect()
}

/// What a playbook run returned.
#[derive(Debug, Clone)]
pub struct PlaybookOutcome {
    /// The JSON the playbook wrote to `pressluft_result_file`.
    pub result: Value,
    pub duration_ms: u64,
}

/// What a running attempt can use.
pub struct JobContext {
    pub state: AppState,
    pub job: JobRow,
    pub(crate) handler: Arc<dyn JobHandler>,
    pub(crate) stop: StopSignal,
    pub(crate) deadline: tokio::time::Instant,
    pub(crate) playbook_active: AtomicBool,
}

impl JobContext {
    pub(crate) fn new(
        state: AppState,
        job: JobRow,
        handler: Arc<dyn JobHandler>,
        stop: StopSignal,
    ) -> Self {
        let deadline = tokio::time::Instant::now() + state.config.job_timeout;
        JobContext {
            state,
            job,
            handler,
            stop,
            deadline,
            playbook_active: AtomicBool::new(false),
        }
    }

    pub fn job_type(&self) -> Option<JobType> {
        JobType::parse(&self.job.job_type)
    }

    /// True once the attempt was asked to stop (cancel, timeout, shutdown).
    pub fn is_cancelled(&self) -> bool {
        self.stop.is_stopped()
    }

    pub fn stop_reason(&self) -> Option<StopReason> {
        self.stop.reason()
    }

    /// Resolves when the attempt is asked to stop.
    pub async fn cancelled(&self) {
        self.stop.stopped().await
    }

    pub(crate) fn stop_signal(&self) -> &StopSignal {
        &self.stop
    }

    pub(crate) fn set_playbook_active(&self, active: bool) {
        self.playbook_active.store(active, Ordering::SeqCst);
    }

    pub(crate) fn playbook_active(&self) -> bool {
        self.playbook_active.load(Ordering::SeqCst)
    }

    /// Starts a named step; returns its `seq`.
    pub async fn step_start(&self, name: &str) -> Result<i64, JobFailure> {
        let (id, attempt, name) = (self.job.id.clone(), self.job.attempt, name.to_string());
        let res = self
            .state
            .db
            .run(move |c| tx_sync(c, |tx| progress::step_start(tx, &id, attempt, &name)))
            .await;
        match res {
            Ok(Some((seq, event))) => {
                self.state.jobs.publish(&self.job.id, [event]);
                Ok(seq)
            }
            Ok(None) => Err(lost(&self.job)),
            Err(e) => Err(JobFailure::internal(&self.job.id, &e)),
        }
    }

    /// Finishes a step started by [`Self::step_start`].
    pub async fn step_finish(
        &self,
        seq: i64,
        status: StepStatus,
        detail: Option<String>,
    ) -> Result<(), JobFailure> {
        let (id, attempt) = (self.job.id.clone(), self.job.attempt);
        let res = self
            .state
            .db
            .run(move |c| {
                tx_sync(c, |tx| {
                    progress::step_finish(tx, &id, attempt, seq, status, detail.as_deref())
                })
            })
            .await;
        match res {
            Ok(event) => {
                self.state.jobs.publish(&self.job.id, event);
                Ok(())
            }
            Err(e) => Err(JobFailure::internal(&self.job.id, &e)),
        }
    }

    /// Records byte progress of a running step.
    pub async fn step_progress(
        &self,
        seq: i64,
        bytes_done: u64,
        bytes_total: Option<u64>,
    ) -> Result<(), JobFailure> {
        let (id, attempt) = (self.job.id.clone(), self.job.attempt);
        self.state
            .db
            .run(move |c| progress::step_progress(c, &id, attempt, seq, bytes_done, bytes_total))
            .await
            .map_err(|e| JobFailure::internal(&self.job.id, &e))
    }

    /// Runs `ansible/playbooks/<playbook>` against the job's node with `extra_vars` (see
    /// `jobs::ansible`); `step:` tasks become job steps as they run.
    pub async fn run_playbook(
        &self,
        playbook: &str,
        extra_vars: Value,
    ) -> Result<PlaybookOutcome, JobFailure> {
        super::ansible::run_playbook(self, playbook, extra_vars).await
    }
}

fn lost(job: &JobRow) -> JobFailure {
    JobFailure::new(
        "JOB_ABANDONED",
        format!(
            "attempt {} of job {} lost its lease to another worker",
            job.attempt, job.id
        ),
        true,
    )
}
