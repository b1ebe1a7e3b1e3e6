//! Workers: claim a job (woken by `Notify`, polling as a fallback), run its handler raced
//! against the attempt timeout, cancel and shutdown, keep the lease alive with heartbeats, let
//! the handler clean up after a failure, then settle the attempt in one transaction.

use super::control::{StopReason, StopSignal};
use super::handler::{JobContext, JobFailure, JobHandler};
use super::settle::{settle, Outcome};
use super::store::{self, JobRow};
use super::{recovery, scheduler};
use crate::app::AppState;
use crate::db::tx_sync;
use crate::error::AppError;
use crate::util;
use pressluft_common::JobType;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Time a stopped playbook gets to end its process group (SIGTERM, 5 s, SIGKILL, reap).
const RUNNER_GRACE: Duration = Duration::from_secs(15);

/// Recovers abandoned jobs, then runs the workers, the lease recovery loop and the scheduler
/// until `stop` is cancelled.
pub(super) async fn supervise(state: AppState, stop: CancellationToken) {
    match recovery::recover(&state, true).await {
        Ok(n) if n > 0 => tracing::info!(jobs = n, "recovered jobs of a dead worker"),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "start-up job recovery failed"),
    }
    super::rundir::clean_run_dirs(&state.config).await;
    let worker = super::worker_id();
    let mut set = tokio::task::JoinSet::new();
    for n in 0..state.config.workers {
        set.spawn(worker_loop(state.clone(), stop.clone(), worker.clone(), n));
    }
    set.spawn(recovery::recovery_loop(state.clone(), stop.clone()));
    set.spawn(scheduler::run(state.clone(), stop.clone()));
    while set.join_next().await.is_some() {}
}

async fn worker_loop(state: AppState, stop: CancellationToken, worker: String, n: usize) {
    tracing::debug!(worker.n = n, "job worker started");
    let poll = state.config.poll_interval;
    while !stop.is_cancelled() {
        match claim(&state, &worker).await {
            Ok(Some((job, handler))) => {
                // More jobs may be runnable: let an idle worker look too.
                state.jobs.notify.notify_one();
                let span = tracing::info_span!("job", job.id = %job.id, job.r#type = %job.job_type, job.attempt = job.attempt);
                run_job(&state, &stop, job, handler).instrument(span).await;
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "claiming a job failed"),
        }
        tokio::select! {
            _ = state.jobs.notify.notified() => {}
            _ = tokio::time::sleep(poll) => {}
            _ = stop.cancelled() => break,
        }
    }
}

type Claimed = (JobRow, Option<Arc<dyn JobHandler>>);

/// Claims the next runnable job; the handler's `on_start` and the status event share the
/// claim's transaction.
async fn claim(state: &AppState, worker: &str) -> Result<Option<Claimed>, AppError> {
    let jobs = state.jobs.clone();
    let worker = worker.to_string();
    let claimed = state
        .db
        .run(move |c| {
            tx_sync(c, |tx| {
                let Some(job) = store::claim(tx, &worker)? else {
                    return Ok(None);
                };
                let handler = JobType::parse(&job.job_type).and_then(|t| jobs.handler(t));
                if let Some(h) = &handler {
                    h.on_start(tx, &job)?;
                }
                let event = super::progress::status_event(tx, &job.id)?;
                Ok(Some((job, handler, event)))
            })
        })
        .await?;
    Ok(claimed.map(|(job, handler, event)| {
        state.jobs.publish(&job.id, [event]);
        (job, handler)
    }))
}

async fn run_job(
    state: &AppState,
    engine_stop: &CancellationToken,
    job: JobRow,
    handler: Option<Arc<dyn JobHandler>>,
) {
    let started = Instant::now();
    tracing::info!(max_attempts = job.max_attempts, "job attempt started");
    let Some(handler) = handler else {
        let failure = JobFailure::new(
            "JOB_UNSUPPORTED_TYPE",
            format!(
                "this server has no handler for job type `{}`; upgrade the server",
                job.job_type
            ),
            false,
        );
        finish(state, None, &job, Outcome::Failed(failure), started).await;
        return;
    };
    let signal = StopSignal::new();
    state.jobs.register_running(&job.id, signal.clone());
    if job.cancel_requested {
        signal.stop(StopReason::Cancelled);
    }
    let heartbeat = tokio::spawn(heartbeat_loop(state.clone(), job.clone(), signal.clone()));
    let ctx = JobContext::new(state.clone(), job.clone(), handler.clone(), signal.clone());
    let result = bounded(&ctx, engine_stop, handler.run(&ctx))
        .await
        .unwrap_or_else(|| Err(stop_failure(state, signal.reason())));
    let outcome = decide(state, &job, result, signal.reason());
    if let Some(outcome) = outcome {
        let failure = match &outcome {
            Outcome::Retry { failure, .. } => Some((failure, false)),
            Outcome::Failed(f) | Outcome::Cancelled(f) => Some((f, true)),
            _ => None,
        };
        if let Some((failure, last)) = failure {
            let cleanup = JobContext::new(
                state.clone(),
                job.clone(),
                handler.clone(),
                StopSignal::new(),
            );
            let done = bounded(
                &cleanup,
                engine_stop,
                handler.on_failure(&cleanup, failure, last),
            )
            .await;
            if done.is_none() {
                tracing::warn!(code = %failure.code, "the handler's clean-up after a failure did not finish");
            }
        }
        finish(state, Some(handler.clone()), &job, outcome, started).await;
    } else {
        tracing::warn!("attempt lost its lease; another worker owns the job now");
    }
    heartbeat.abort();
    state.jobs.unregister_running(&job.id);
}

/// Runs `fut` until it ends, or until the attempt must stop (timeout, cancel, shutdown); then
/// gives it a grace period to stop on its own (a playbook kills its processes). `None` when
/// it had to be dropped.
async fn bounded<T>(
    ctx: &JobContext,
    engine_stop: &CancellationToken,
    fut: impl Future<Output = T>,
) -> Option<T> {
    tokio::pin!(fut);
    let stop = ctx.stop_signal();
    tokio::select! {
        r = &mut fut => return Some(r),
        _ = tokio::time::sleep_until(ctx.deadline) => stop.stop(StopReason::Timeout),
        _ = stop.stopped() => {}
        _ = engine_stop.cancelled() => stop.stop(StopReason::Shutdown),
    }
    let grace = if ctx.playbook_active() {
        RUNNER_GRACE
    } else {
        Duration::from_millis(500)
    };
    tokio::time::timeout(grace, fut).await.ok()
}

fn stop_failure(state: &AppState, reason: Option<StopReason>) -> JobFailure {
    match reason {
        Some(StopReason::Timeout) => timeout_failure(state),
        Some(StopReason::Cancelled) => {
            JobFailure::new("JOB_CANCELLED", "cancelled by an admin", false)
        }
        _ => JobFailure::new("JOB_ABANDONED", "the attempt was interrupted", true),
    }
}

fn timeout_failure(state: &AppState) -> JobFailure {
    JobFailure::new(
        "JOB_TIMEOUT",
        format!(
            "the job ran longer than its timeout of {} s and was stopped; it is retried while attempts remain",
            state.config.job_timeout.as_secs()
        ),
        true,
    )
}

/// The outcome of an attempt; `None` when it lost its lease (someone else settles the job).
fn decide(
    state: &AppState,
    job: &JobRow,
    result: Result<serde_json::Value, JobFailure>,
    reason: Option<StopReason>,
) -> Option<Outcome> {
    let failure = match (result, reason) {
        (Ok(v), _) => return Some(Outcome::Succeeded(v)),
        (Err(_), Some(StopReason::LeaseLost)) => return None,
        (Err(_), Some(StopReason::Shutdown)) => return Some(Outcome::Release),
        (Err(f), Some(StopReason::Cancelled)) => {
            let failure = JobFailure {
                code: "JOB_CANCELLED".into(),
                message: format!(
                    "cancelled by an admin during attempt {}; its processes were stopped",
                    job.attempt
                ),
                retryable: false,
                output_tail: f.output_tail,
            };
            return Some(Outcome::Cancelled(failure));
        }
        (Err(f), Some(StopReason::Timeout)) if f.code != "ANSIBLE_TIMEOUT" => JobFailure {
            output_tail: f.output_tail,
            ..timeout_failure(state)
        },
        (Err(f), _) => f,
    };
    if failure.retryable && job.attempt < job.max_attempts {
        let backoff = state.config.backoff_after(job.attempt);
        let run_after = util::now_plus(time::Duration::milliseconds(backoff.as_millis() as i64));
        Some(Outcome::Retry { failure, run_after })
    } else {
        Some(Outcome::Failed(failure))
    }
}

async fn finish(
    state: &AppState,
    handler: Option<Arc<dyn JobHandler>>,
    job: &JobRow,
    outcome: Outcome,
    started: Instant,
) {
    let label = outcome.label();
    let (code, message) = match &outcome {
        Outcome::Retry { failure: f, .. } | Outcome::Failed(f) | Outcome::Cancelled(f) => {
            (Some(f.code.clone()), Some(f.message.clone()))
        }
        _ => (None, None),
    };
    let row = job.clone();
    let res = state
        .db
        .run(move |c| tx_sync(c, |tx| settle(tx, handler.as_deref(), &row, &outcome)))
        .await;
    let duration_ms = started.elapsed().as_millis() as u64;
    match res {
        Ok(Some(events)) => {
            state.jobs.publish(&job.id, events);
            if label == "retry" || label == "released" {
                state.jobs.wake();
            }
            tracing::info!(
                outcome = label,
                error.code = code.as_deref(),
                error.message = message.as_deref(),
                duration_ms,
                "job attempt ended"
            );
        }
        Ok(None) => tracing::warn!(
            outcome = label,
            duration_ms,
            "attempt no longer owned the job; outcome dropped"
        ),
        Err(e) => {
            tracing::error!(error = %e, outcome = label, "settling the job failed; lease recovery will take it back")
        }
    }
}

async fn heartbeat_loop(state: AppState, job: JobRow, signal: StopSignal) {
    let mut tick = tokio::time::interval(state.config.heartbeat_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let (id, attempt) = (job.id.clone(), job.attempt);
        match state
            .db
            .run(move |c| store::heartbeat(c, &id, attempt))
            .await
        {
            Ok(None) => {
                signal.stop(StopReason::LeaseLost);
                return;
            }
            Ok(Some(true)) => signal.stop(StopReason::Cancelled),
            Ok(Some(false)) => {}
            Err(e) => tracing::warn!(job.id = %job.id, error = %e, "heartbeat failed"),
        }
    }
}
