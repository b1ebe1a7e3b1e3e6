//! Job progress in the database: `job_steps` rows and the `job_events` log (one `JobEvent` per
//! step start/finish and per status change, `seq` increasing per job). Functions here run inside
//! the caller's transaction and return the events to publish after the commit.

use crate::error::AppError;
use crate::util;
use pressluft_common::{JobEvent, JobStatus, JobStep, StepStatus};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

fn next_seq(tx: &Transaction<'_>, job_id: &str) -> Result<i64, AppError> {
    Ok(tx.query_row(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM job_events WHERE job_id = ?1",
        [job_id],
        |r| r.get(0),
    )?)
}

fn append(
    tx: &Transaction<'_>,
    job_id: &str,
    make: impl FnOnce(i64) -> JobEvent,
) -> Result<JobEvent, AppError> {
    let seq = next_seq(tx, job_id)?;
    let event = make(seq);
    let json = serde_json::to_string(&event)
        .map_err(|e| AppError::internal(format!("cannot encode job event: {e}")))?;
    tx.execute(
        "INSERT INTO job_events (job_id, seq, event_json, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![job_id, seq, json, util::now()],
    )?;
    Ok(event)
}

/// Appends a `status` event with the job's current status, attempt and error.
pub fn status_event(tx: &Transaction<'_>, job_id: &str) -> Result<JobEvent, AppError> {
    let (status, attempt_count, error_code, error_message) = tx.query_row(
        "SELECT status, attempt_count, error_code, error_message FROM jobs WHERE id = ?1",
        [job_id],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        },
    )?;
    let status = JobStatus::parse(&status)
        .ok_or_else(|| AppError::internal(format!("job {job_id} has unknown status {status}")))?;
    append(tx, job_id, |seq| JobEvent::Status {
        seq,
        status,
        attempt_count,
        error_code,
        error_message,
    })
}

/// True when `attempt` still owns the running job (progress of a stale attempt is dropped).
fn owns(tx: &Transaction<'_>, job_id: &str, attempt: i64) -> Result<bool, AppError> {
    Ok(tx
        .query_row(
            "SELECT 1 FROM jobs WHERE id = ?1 AND attempt_count = ?2 AND status = 'running'",
            params![job_id, attempt],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

pub(crate) const STEP_COLUMNS: &str =
    "seq, name, status, detail, bytes_done, bytes_total, started_at, finished_at";

pub(crate) fn step_row(r: &Row<'_>) -> rusqlite::Result<JobStep> {
    let status: String = r.get(2)?;
    Ok(JobStep {
        seq: r.get(0)?,
        name: r.get(1)?,
        status: StepStatus::parse(&status).unwrap_or(StepStatus::Failed),
        detail: r.get(3)?,
        bytes_done: r.get::<_, Option<i64>>(4)?.map(|v| v.max(0) as u64),
        bytes_total: r.get::<_, Option<i64>>(5)?.map(|v| v.max(0) as u64),
        started_at: r.get(6)?,
        finished_at: r.get(7)?,
    })
}

fn step(tx: &Transaction<'_>, job_id: &str, seq: i64) -> Result<JobStep, AppError> {
    Ok(tx.query_row(
        &format!("SELECT {STEP_COLUMNS} FROM job_steps WHERE job_id = ?1 AND seq = ?2"),
        params![job_id, seq],
        step_row,
    )?)
}

fn step_event(tx: &Transaction<'_>, job_id: &str, seq: i64) -> Result<JobEvent, AppError> {
    let step = step(tx, job_id, seq)?;
    append(tx, job_id, |seq| JobEvent::Step { seq, step })
}

/// Starts a step of the running `attempt`; `None` when the attempt lost the job.
pub fn step_start(
    tx: &Transaction<'_>,
    job_id: &str,
    attempt: i64,
    name: &str,
) -> Result<Option<(i64, JobEvent)>, AppError> {
    if !owns(tx, job_id, attempt)? {
        return Ok(None);
    }
    let seq: i64 = tx.query_row(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM job_steps WHERE job_id = ?1",
        [job_id],
        |r| r.get(0),
    )?;
    tx.execute(
        "INSERT INTO job_steps (job_id, seq, attempt, name, status, started_at) \
         VALUES (?1, ?2, ?3, ?4, 'running', ?5)",
        params![job_id, seq, attempt, name, util::now()],
    )?;
    Ok(Some((seq, step_event(tx, job_id, seq)?)))
}

/// Finishes a step; `None` when the attempt lost the job or the step is not running.
pub fn step_finish(
    tx: &Transaction<'_>,
    job_id: &str,
    attempt: i64,
    seq: i64,
    status: StepStatus,
    detail: Option<&str>,
) -> Result<Option<JobEvent>, AppError> {
    if !owns(tx, job_id, attempt)? {
        return Ok(None);
    }
    let n = tx.execute(
        "UPDATE job_steps SET status = ?3, detail = COALESCE(?4, detail), finished_at = ?5 \
         WHERE job_id = ?1 AND seq = ?2 AND status = 'running'",
        params![job_id, seq, status.as_str(), detail, util::now()],
    )?;
    if n == 0 {
        return Ok(None);
    }
    Ok(Some(step_event(tx, job_id, seq)?))
}

/// Records byte progress of a running step (no event: progress is polled via `GET /jobs/{id}`).
pub fn step_progress(
    conn: &Connection,
    job_id: &str,
    attempt: i64,
    seq: i64,
    done: u64,
    total: Option<u64>,
) -> Result<(), AppError> {
    conn.execute(
        "UPDATE job_steps SET bytes_done = ?4, bytes_total = COALESCE(?5, bytes_total) \
         WHERE job_id = ?1 AND seq = ?2 AND attempt = ?3 AND status = 'running'",
        params![job_id, seq, attempt, done as i64, total.map(|t| t as i64)],
    )?;
    Ok(())
}

/// Closes every step still `running` (an attempt ended without finishing them).
pub fn close_open_steps(
    tx: &Transaction<'_>,
    job_id: &str,
    status: StepStatus,
    detail: &str,
) -> Result<Vec<JobEvent>, AppError> {
    let seqs: Vec<i64> = {
        let mut stmt = tx.prepare(
            "SELECT seq FROM job_steps WHERE job_id = ?1 AND status = 'running' ORDER BY seq",
        )?;
        let rows = stmt.query_map([job_id], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut events = Vec::with_capacity(seqs.len());
    for seq in seqs {
        tx.execute(
            "UPDATE job_steps SET status = ?3, detail = COALESCE(detail, ?4), finished_at = ?5 \
             WHERE job_id = ?1 AND seq = ?2",
            params![job_id, seq, status.as_str(), detail, util::now()],
        )?;
        events.push(step_event(tx, job_id, seq)?);
    }
    Ok(events)
}

/// Events of a job after `after_seq`, in order.
pub fn events_after(
    conn: &Connection,
    job_id: &str,
    after_seq: i64,
) -> Result<Vec<JobEvent>, AppError> {
    let mut stmt = conn
        .prepare("SELECT event_json FROM job_events WHERE job_id = ?1 AND seq > ?2 ORDER BY seq")?;
    let rows = stmt.query_map(params![job_id, after_seq], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for json in rows {
        let json = json?;
        match serde_json::from_str::<JobEvent>(&json) {
            Ok(ev) => out.push(ev),
            Err(e) => tracing::warn!(job.id = %job_id, error = %e, "skipping unreadable job event"),
        }
    }
    Ok(out)
}
