//! Queue SQL: enqueue, the one-statement claim, heartbeat, finish, release and recovery.
//! Rules: every change after the claim is fenced with `AND status = 'running' AND
//! attempt_count = ?` so a stale worker can never overwrite a newer attempt; callers run these
//! inside one `BEGIN IMMEDIATE` transaction together with the job's status event.

use crate::error::AppError;
use crate::util;
use pressluft_common::{JobStatus, JobType};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use serde_json::Value;

/// A job to create (see [`enqueue`]).
#[derive(Debug, Clone)]
pub struct NewJob {
    pub job_type: JobType,
    pub site_id: Option<String>,
    pub environment_id: Option<String>,
    pub node_id: Option<String>,
    pub backup_id: Option<String>,
    pub payload: Value,
    /// Attempts before the job fails for good (SPEC: 3).
    pub max_attempts: i64,
}

/// The queue's view of one job row.
#[derive(Debug, Clone)]
pub struct JobRow {
    pub id: String,
    /// Raw `job_type` (a type this build does not know fails with `JOB_UNSUPPORTED_TYPE`).
    pub job_type: String,
    pub status: String,
    pub site_id: Option<String>,
    pub environment_id: Option<String>,
    pub node_id: Option<String>,
    pub backup_id: Option<String>,
    pub payload: Value,
    /// The attempt being run (1 for the first).
    pub attempt: i64,
    pub max_attempts: i64,
    /// Error of the previous attempt, kept when a job is re-queued.
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub cancel_requested: bool,
    pub locked_by: Option<String>,
}

const ROW_COLUMNS: &str = "id, job_type, status, site_id, environment_id, node_id, backup_id, \
     payload_json, attempt_count, max_attempts, error_code, error_message, cancel_requested, \
     locked_by";

fn job_row(r: &Row<'_>) -> rusqlite::Result<JobRow> {
    let payload: String = r.get(7)?;
    Ok(JobRow {
        id: r.get(0)?,
        job_type: r.get(1)?,
        status: r.get(2)?,
        site_id: r.get(3)?,
        environment_id: r.get(4)?,
        node_id: r.get(5)?,
        backup_id: r.get(6)?,
        payload: serde_json::from_str(&payload).unwrap_or(Value::Null),
        attempt: r.get(8)?,
        max_attempts: r.get(9)?,
        error_code: r.get(10)?,
        error_message: r.get(11)?,
        cancel_requested: r.get::<_, i64>(12)? != 0,
        locked_by: r.get(13)?,
    })
}

/// Inserts a queued job and its first `status` event inside the caller's transaction; returns
/// its id. Call `state.jobs.wake()` after the commit.
pub fn enqueue(tx: &Transaction<'_>, job: NewJob) -> Result<String, AppError> {
    let id = util::new_id();
    tx.execute(
        "INSERT INTO jobs (id, job_type, status, site_id, environment_id, node_id, backup_id, \
         payload_json, max_attempts, created_at) VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            id,
            job.job_type.as_str(),
            job.site_id,
            job.environment_id,
            job.node_id,
            job.backup_id,
            job.payload.to_string(),
            job.max_attempts.max(1),
            util::now()
        ],
    )?;
    super::progress::status_event(tx, &id)?;
    tracing::info!(job.id = %id, job.r#type = %job.job_type, "job queued");
    Ok(id)
}

/// A queued or running job of a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveJob {
    pub id: String,
    pub job_type: String,
    pub status: JobStatus,
}

/// The oldest queued or running job of `site_id`, if any.
pub fn active_job_for_site(
    conn: &Connection,
    site_id: &str,
) -> Result<Option<ActiveJob>, AppError> {
    let found = conn
        .query_row(
            "SELECT id, job_type, status FROM jobs WHERE site_id = ?1 \
             AND status IN ('queued', 'running') ORDER BY created_at, rowid LIMIT 1",
            [site_id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            },
        )
        .optional()?;
    Ok(found.map(|(id, job_type, status)| ActiveJob {
        id,
        job_type,
        status: JobStatus::parse(&status).unwrap_or(JobStatus::Queued),
    }))
}

/// Claims the oldest runnable job in one statement: queued, due, and no running job on the
/// same site or the same node. Run inside a `BEGIN IMMEDIATE` transaction.
pub fn claim(tx: &Transaction<'_>, worker: &str) -> Result<Option<JobRow>, AppError> {
    let now = util::now();
    let sql = format!(
        "UPDATE jobs SET status = 'running', attempt_count = attempt_count + 1, \
         locked_at = ?1, locked_by = ?2, heartbeat_at = ?1, started_at = COALESCE(started_at, ?1), \
         output_tail = NULL \
         WHERE id = (SELECT j.id FROM jobs j WHERE j.status = 'queued' \
           AND (j.run_after IS NULL OR j.run_after <= ?1) \
           AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.status = 'running' AND r.site_id = j.site_id) \
           AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.status = 'running' AND r.node_id = j.node_id) \
           ORDER BY j.created_at, j.rowid LIMIT 1) \
         RETURNING {ROW_COLUMNS}"
    );
    Ok(tx
        .query_row(&sql, params![now, worker], job_row)
        .optional()?)
}

/// Renews the lease of a running attempt. `None` when the attempt no longer owns the job;
/// otherwise whether a cancel was requested.
pub fn heartbeat(conn: &Connection, id: &str, attempt: i64) -> Result<Option<bool>, AppError> {
    Ok(conn
        .query_row(
            "UPDATE jobs SET heartbeat_at = ?1 WHERE id = ?2 AND attempt_count = ?3 \
             AND status = 'running' RETURNING cancel_requested",
            params![util::now(), id, attempt],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .map(|c| c != 0))
}

/// How an attempt ends, as written to the row.
#[derive(Debug, Clone)]
pub enum Finish<'a> {
    Succeeded {
        result: &'a Value,
    },
    /// Back to `queued` after `run_after`, keeping the error of this attempt.
    Retry {
        code: &'a str,
        message: &'a str,
        tail: Option<&'a str>,
        run_after: String,
    },
    Failed {
        code: &'a str,
        message: &'a str,
        tail: Option<&'a str>,
    },
    Cancelled {
        message: &'a str,
        tail: Option<&'a str>,
    },
    /// Shutdown: back to `queued` now, the attempt not counted.
    Release,
}

/// Applies `finish` to the running attempt; false when the attempt no longer owns the job.
pub fn finish(
    tx: &Transaction<'_>,
    id: &str,
    attempt: i64,
    finish: &Finish<'_>,
) -> Result<bool, AppError> {
    let now = util::now();
    let fence = "WHERE id = ?1 AND attempt_count = ?2 AND status = 'running'";
    let unlock = "locked_at = NULL, locked_by = NULL, heartbeat_at = NULL";
    let n = match finish {
        Finish::Succeeded { result } => tx.execute(
            &format!("UPDATE jobs SET status = 'succeeded', finished_at = ?3, result_json = ?4, \
                      error_code = NULL, error_message = NULL, output_tail = NULL, {unlock} {fence}"),
            params![id, attempt, now, result.to_string()],
        )?,
        Finish::Retry { code, message, tail, run_after } => tx.execute(
            &format!("UPDATE jobs SET status = 'queued', run_after = ?3, error_code = ?4, \
                      error_message = ?5, output_tail = ?6, {unlock} {fence}"),
            params![id, attempt, run_after, code, message, tail],
        )?,
        Finish::Failed { code, message, tail } => tx.execute(
            &format!("UPDATE jobs SET status = 'failed', finished_at = ?3, error_code = ?4, \
                      error_message = ?5, output_tail = ?6, {unlock} {fence}"),
            params![id, attempt, now, code, message, tail],
        )?,
        Finish::Cancelled { message, tail } => tx.execute(
            &format!("UPDATE jobs SET status = 'cancelled', finished_at = ?3, \
                      error_code = 'JOB_CANCELLED', error_message = ?4, output_tail = ?5, {unlock} {fence}"),
            params![id, attempt, now, message, tail],
        )?,
        Finish::Release => tx.execute(
            &format!("UPDATE jobs SET status = 'queued', run_after = ?3, \
                      attempt_count = attempt_count - 1, {unlock} {fence}"),
            params![id, attempt, now],
        )?,
    };
    Ok(n == 1)
}

/// Cancels a queued job at once; false when it was not queued (anymore).
pub fn cancel_queued(tx: &Transaction<'_>, id: &str, message: &str) -> Result<bool, AppError> {
    let n = tx.execute(
        "UPDATE jobs SET status = 'cancelled', finished_at = ?2, error_code = 'JOB_CANCELLED', \
         error_message = ?3, cancel_requested = 1 WHERE id = ?1 AND status = 'queued'",
        params![id, util::now(), message],
    )?;
    Ok(n == 1)
}

/// Marks a running job for cancellation (its worker stops it and settles it `cancelled`).
pub fn request_cancel(tx: &Transaction<'_>, id: &str) -> Result<bool, AppError> {
    let n = tx.execute(
        "UPDATE jobs SET cancel_requested = 1 WHERE id = ?1 AND status = 'running'",
        [id],
    )?;
    Ok(n == 1)
}

/// One job row by id.
pub fn job(conn: &Connection, id: &str) -> Result<Option<JobRow>, AppError> {
    Ok(conn
        .query_row(
            &format!("SELECT {ROW_COLUMNS} FROM jobs WHERE id = ?1"),
            [id],
            job_row,
        )
        .optional()?)
}

/// Running jobs whose lease expired (`heartbeat_at` before `cutoff`, flagged true), plus, when
/// `host` is given, running jobs locked by that host (flagged false; the caller checks pids).
pub fn running_candidates(
    conn: &Connection,
    cutoff: &str,
    host: Option<&str>,
) -> Result<Vec<(JobRow, bool)>, AppError> {
    let pattern = host.map(|h| format!("{h}:%")).unwrap_or_default();
    let mut stmt = conn.prepare(&format!(
        "SELECT {ROW_COLUMNS}, (heartbeat_at IS NULL OR heartbeat_at < ?1) FROM jobs \
         WHERE status = 'running' AND \
         (heartbeat_at IS NULL OR heartbeat_at < ?1 OR (?2 <> '' AND locked_by LIKE ?2)) \
         ORDER BY created_at, rowid"
    ))?;
    let rows = stmt.query_map(params![cutoff, pattern], |r| {
        Ok((job_row(r)?, r.get::<_, bool>(14)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whether a scheduled job of `job_type` is queued or running already.
pub fn has_active_of_type(conn: &Connection, job_type: JobType) -> Result<bool, AppError> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE job_type = ?1 AND status IN ('queued','running'))",
        [job_type.as_str()],
        |r| r.get::<_, bool>(0),
    )?)
}
