//! Taking back jobs whose worker died: at start-up (any job locked by this host whose pid is
//! gone) and periodically (any running job whose heartbeat is older than the lease timeout).
//! Such a job is re-queued while attempts remain, else failed with `JOB_ABANDONED`; a pending
//! cancel turns it `cancelled`. The handler's `settle` runs in the same transaction.

use super::handler::JobFailure;
use super::procs;
use super::settle::{settle, Outcome};
use super::store::{self, JobRow};
use crate::app::AppState;
use crate::db::tx_sync;
use crate::error::AppError;
use crate::util;
use pressluft_common::JobType;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Recovers abandoned jobs; returns how many were taken back.
pub(super) async fn recover(state: &AppState, at_startup: bool) -> Result<usize, AppError> {
    let lease = time::Duration::milliseconds(state.config.lease_timeout.as_millis() as i64);
    let cutoff = util::now_plus(-lease);
    let host = procs::hostname();
    let host_filter = at_startup.then(|| host.clone());
    let candidates = state
        .db
        .run(move |c| store::running_candidates(c, &cutoff, host_filter.as_deref()))
        .await?;
    let mut recovered = 0;
    for (job, lease_expired) in candidates {
        let local_pid = job
            .locked_by
            .as_deref()
            .and_then(|l| l.rsplit_once(':'))
            .filter(|(h, _)| *h == host)
            .and_then(|(_, pid)| pid.parse::<i32>().ok());
        let dead_here = at_startup
            && local_pid
                .is_some_and(|pid| pid as u32 == std::process::id() || !procs::pid_alive(pid));
        if !(lease_expired || dead_here) {
            continue;
        }
        if local_pid.is_some() {
            // An orphaned ansible run of the dead worker must not keep touching the node.
            procs::kill_job_processes(&job.id).await;
        }
        if take_back(state, job).await? {
            recovered += 1;
        }
    }
    if recovered > 0 {
        state.jobs.wake();
    }
    Ok(recovered)
}

fn abandoned_outcome(job: &JobRow) -> Outcome {
    let who = job.locked_by.as_deref().unwrap_or("unknown worker");
    if job.cancel_requested {
        return Outcome::Cancelled(JobFailure::new(
            "JOB_CANCELLED",
            format!("cancelled by an admin; its worker ({who}) stopped before the job ended"),
            false,
        ));
    }
    if job.attempt < job.max_attempts {
        Outcome::Retry {
            failure: JobFailure::new(
                "JOB_ABANDONED",
                format!(
                    "the worker running attempt {} ({who}) stopped (server crash or restart); the job was re-queued",
                    job.attempt
                ),
                true,
            ),
            run_after: util::now(),
        }
    } else {
        Outcome::Failed(JobFailure::new(
            "JOB_ABANDONED",
            format!(
                "the worker running the last attempt ({} of {}, {who}) stopped (server crash or restart) \
                 and no attempts remain; check the environment and the node, then start the job again",
                job.attempt, job.max_attempts
            ),
            false,
        ))
    }
}

async fn take_back(state: &AppState, job: JobRow) -> Result<bool, AppError> {
    let handler = JobType::parse(&job.job_type).and_then(|t| state.jobs.handler(t));
    let outcome = abandoned_outcome(&job);
    let label = outcome.label();
    let row = job.clone();
    let events = state
        .db
        .run(move |c| tx_sync(c, |tx| settle(tx, handler.as_deref(), &row, &outcome)))
        .await?;
    match events {
        Some(events) => {
            state.jobs.publish(&job.id, events);
            tracing::warn!(job.id = %job.id, job.attempt = job.attempt, outcome = label, "took back an abandoned job");
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Periodic lease recovery until `stop` is cancelled.
pub(super) async fn recovery_loop(state: AppState, stop: CancellationToken) {
    let every = (state.config.lease_timeout / 2).max(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.cancelled() => return,
        }
        if let Err(e) = recover(&state, false).await {
            tracing::error!(error = %e, "job lease recovery failed");
        }
    }
}
