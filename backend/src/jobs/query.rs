//! Read models of jobs for the API: `Job` with its steps, and the recent-jobs list.

use super::progress::{step_row, STEP_COLUMNS};
use crate::error::AppError;
use pressluft_common::{Job, JobStatus, JobStep, JobType};
use rusqlite::{Connection, OptionalExtension, Row};

const JOB_COLUMNS: &str = "id, job_type, status, site_id, environment_id, node_id, backup_id, \
     attempt_count, max_attempts, run_after, locked_at, locked_by, created_at, started_at, \
     finished_at, error_code, error_message, output_tail";

fn job_from_row(r: &Row<'_>) -> rusqlite::Result<Job> {
    let job_type: String = r.get(1)?;
    let status: String = r.get(2)?;
    let bad = |col: usize, v: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            col,
            rusqlite::types::Type::Text,
            format!("unknown value `{v}`").into(),
        )
    };
    Ok(Job {
        id: r.get(0)?,
        job_type: JobType::parse(&job_type).ok_or_else(|| bad(1, &job_type))?,
        status: JobStatus::parse(&status).ok_or_else(|| bad(2, &status))?,
        site_id: r.get(3)?,
        environment_id: r.get(4)?,
        node_id: r.get(5)?,
        backup_id: r.get(6)?,
        attempt_count: r.get(7)?,
        max_attempts: r.get(8)?,
        run_after: r.get(9)?,
        locked_at: r.get(10)?,
        locked_by: r.get(11)?,
        created_at: r.get(12)?,
        started_at: r.get(13)?,
        finished_at: r.get(14)?,
        error_code: r.get(15)?,
        error_message: r.get(16)?,
        output_tail: r.get(17)?,
        steps: Vec::new(),
    })
}

/// One job with all its steps (every attempt's, in order).
pub fn get_job(conn: &Connection, id: &str) -> Result<Option<Job>, AppError> {
    let job = conn
        .query_row(
            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"),
            [id],
            job_from_row,
        )
        .optional()?;
    let Some(mut job) = job else {
        return Ok(None);
    };
    job.steps = steps(conn, id)?;
    Ok(Some(job))
}

pub fn steps(conn: &Connection, job_id: &str) -> Result<Vec<JobStep>, AppError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {STEP_COLUMNS} FROM job_steps WHERE job_id = ?1 ORDER BY seq"
    ))?;
    let rows = stmt.query_map([job_id], step_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The 200 newest jobs (optionally of one site), newest first; `steps` is left empty.
pub fn list_jobs(conn: &Connection, site_id: Option<&str>) -> Result<Vec<Job>, AppError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE (?1 IS NULL OR site_id = ?1) \
         ORDER BY created_at DESC, rowid DESC LIMIT 200"
    ))?;
    let rows = stmt.query_map([site_id], job_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}
