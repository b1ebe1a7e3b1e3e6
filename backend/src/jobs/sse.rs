//! `GET /api/jobs/{id}/events`: replays the job's events from the database after
//! `Last-Event-ID`, then follows live ones (each live notification re-reads the database after
//! the last sent `seq`, so order and completeness never depend on the broadcast), ends after
//! the terminal status event, and ends at server shutdown so graceful shutdown never hangs.

use super::{progress, store, Published};
use crate::app::AppState;
use crate::error::AppError;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use futures_util::stream::{self, Stream};
use pressluft_common::{JobEvent, JobStatus};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};

struct Follow {
    state: AppState,
    job_id: String,
    last_seq: i64,
    pending: VecDeque<JobEvent>,
    rx: broadcast::Receiver<Published>,
    done: bool,
}

pub(super) async fn stream(
    state: AppState,
    job_id: String,
    last_seq: i64,
) -> Result<impl IntoResponse, AppError> {
    // Subscribe before the first read so nothing committed in between is missed.
    let rx = state.jobs.subscribe();
    let lookup = job_id.clone();
    let (status, replay) = state
        .db
        .run(move |c| {
            let job = store::job(c, &lookup)?;
            let events = progress::events_after(c, &lookup, last_seq)?;
            Ok(job.map(|j| (j.status, events)))
        })
        .await?
        .ok_or_else(|| super::handlers::job_not_found(&job_id))?;
    let ended = JobStatus::parse(&status).is_some_and(JobStatus::is_terminal);
    let follow = Follow {
        state,
        job_id,
        last_seq,
        done: ended && replay.is_empty(),
        pending: replay.into(),
        rx,
    };
    let keep_alive = KeepAlive::new()
        .interval(Duration::from_secs(15))
        .text("keep-alive");
    Ok(Sse::new(events(follow)).keep_alive(keep_alive))
}

fn events(follow: Follow) -> impl Stream<Item = Result<Event, Infallible>> + Send {
    stream::unfold(follow, |mut f| async move {
        loop {
            if let Some(ev) = f.pending.pop_front() {
                if ev.seq() <= f.last_seq {
                    continue;
                }
                f.last_seq = ev.seq();
                f.done = ev.is_terminal();
                return Some((Ok(to_sse(&ev)), f));
            }
            if f.done {
                return None;
            }
            let shutdown = f.state.shutdown.clone();
            let fresh = tokio::select! {
                _ = shutdown.cancelled() => return None,
                msg = f.rx.recv() => match msg {
                    Ok(p) => p.job_id == f.job_id && p.event.seq() > f.last_seq,
                    Err(RecvError::Lagged(_)) => true,
                    Err(RecvError::Closed) => return None,
                },
            };
            if fresh {
                let (id, after) = (f.job_id.clone(), f.last_seq);
                match f
                    .state
                    .db
                    .run(move |c| progress::events_after(c, &id, after))
                    .await
                {
                    Ok(evs) => f.pending.extend(evs),
                    Err(e) => {
                        tracing::warn!(job.id = %f.job_id, error = %e, "event stream read failed; closing it");
                        return None;
                    }
                }
            }
        }
    })
}

fn to_sse(ev: &JobEvent) -> Event {
    let data = serde_json::to_string(ev).unwrap_or_else(|_| "{}".to_string());
    Event::default()
        .id(ev.seq().to_string())
        .event("job")
        .data(data)
}
