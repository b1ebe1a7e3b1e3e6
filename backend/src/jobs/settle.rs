//! Ending an attempt: the job row, its open steps, the handler's resource rows and the status
//! event change together in the caller's one transaction.

use super::handler::{JobFailure, JobHandler, Settlement};
use super::progress;
use super::store::{self, Finish, JobRow};
use crate::error::AppError;
use pressluft_common::{JobEvent, StepStatus};
use rusqlite::Transaction;
use serde_json::Value;

/// How an attempt ends.
#[derive(Debug, Clone)]
pub enum Outcome {
    Succeeded(Value),
    Retry {
        failure: JobFailure,
        run_after: String,
    },
    Failed(JobFailure),
    Cancelled(JobFailure),
    /// Server shutdown: back to the queue, the attempt not counted.
    Release,
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Succeeded(_) => "succeeded",
            Outcome::Retry { .. } => "retry",
            Outcome::Failed(_) => "failed",
            Outcome::Cancelled(_) => "cancelled",
            Outcome::Release => "released",
        }
    }
}

/// Applies `outcome` to the running attempt `job.attempt`; `None` when that attempt no longer
/// owns the job (nothing changed). Returns the events to publish after the commit.
pub fn settle(
    tx: &Transaction<'_>,
    handler: Option<&dyn JobHandler>,
    job: &JobRow,
    outcome: &Outcome,
) -> Result<Option<Vec<JobEvent>>, AppError> {
    let finish = match outcome {
        Outcome::Succeeded(result) => Finish::Succeeded { result },
        Outcome::Retry { failure, run_after } => Finish::Retry {
            code: &failure.code,
            message: &failure.message,
            tail: failure.output_tail.as_deref(),
            run_after: run_after.clone(),
        },
        Outcome::Failed(f) => Finish::Failed {
            code: &f.code,
            message: &f.message,
            tail: f.output_tail.as_deref(),
        },
        Outcome::Cancelled(f) => Finish::Cancelled {
            message: &f.message,
            tail: f.output_tail.as_deref(),
        },
        Outcome::Release => Finish::Release,
    };
    if !store::finish(tx, &job.id, job.attempt, &finish)? {
        return Ok(None);
    }
    let (status, detail) = match outcome {
        Outcome::Succeeded(_) => (StepStatus::Succeeded, "finished with the job"),
        Outcome::Release => (StepStatus::Failed, "interrupted by a server shutdown"),
        _ => (StepStatus::Failed, "interrupted: the attempt ended"),
    };
    let mut events = progress::close_open_steps(tx, &job.id, status, detail)?;
    let settlement = match outcome {
        Outcome::Succeeded(result) => Some(Settlement::Succeeded { result }),
        Outcome::Retry { failure, .. } => Some(Settlement::Retrying { failure }),
        Outcome::Failed(failure) => Some(Settlement::Failed { failure }),
        Outcome::Cancelled(failure) => Some(Settlement::Cancelled { failure }),
        Outcome::Release => None,
    };
    if let (Some(h), Some(s)) = (handler, settlement) {
        h.settle(tx, job, &s)?;
    }
    events.push(progress::status_event(tx, &job.id)?);
    Ok(Some(events))
}

/// Cancels a queued job at once (with the handler's settle); `None` when it was not queued.
pub fn cancel_queued(
    tx: &Transaction<'_>,
    handler: Option<&dyn JobHandler>,
    job: &JobRow,
    message: &str,
) -> Result<Option<Vec<JobEvent>>, AppError> {
    if !store::cancel_queued(tx, &job.id, message)? {
        return Ok(None);
    }
    if let Some(h) = handler {
        let failure = JobFailure::new("JOB_CANCELLED", message, false);
        h.settle(tx, job, &Settlement::Cancelled { failure: &failure })?;
    }
    Ok(Some(vec![progress::status_event(tx, &job.id)?]))
}
