//! Restore job fixtures: step and status events of a restore that runs, succeeds or fails, with
//! fixed timestamps so durations in snapshots never depend on the clock.

use super::JOB_ID;
use pressluft_common::*;
use pressluft_tui::Action;

pub fn step(
    seq: i64,
    name: &str,
    status: StepStatus,
    start: &str,
    end: Option<&str>,
    detail: &str,
) -> JobStep {
    JobStep {
        seq,
        name: name.into(),
        status,
        detail: (!detail.is_empty()).then(|| detail.to_string()),
        bytes_done: None,
        bytes_total: None,
        started_at: start.into(),
        finished_at: end.map(String::from),
    }
}

pub fn step_event(seq: i64, step: JobStep) -> Action {
    Action::JobEvent {
        job_id: JOB_ID.into(),
        event: JobEvent::Step { seq, step },
    }
}

pub fn status_event(
    seq: i64,
    status: JobStatus,
    code: Option<&str>,
    message: Option<&str>,
) -> Action {
    Action::JobEvent {
        job_id: JOB_ID.into(),
        event: JobEvent::Status {
            seq,
            status,
            attempt_count: 1,
            error_code: code.map(String::from),
            error_message: message.map(String::from),
        },
    }
}

/// The first steps of a restore: two done, the unpack running with byte progress.
pub fn restore_progress() -> Vec<Action> {
    let mut unpack = step(
        3,
        "unpack_staging",
        StepStatus::Running,
        "2026-01-05T12:01:00Z",
        None,
        "",
    );
    unpack.bytes_done = Some(21_000_000);
    unpack.bytes_total = Some(50_540_000);
    vec![
        status_event(1, JobStatus::Running, None, None),
        step_event(
            2,
            step(
                1,
                "verify_artifact",
                StepStatus::Succeeded,
                "2026-01-05T12:00:10Z",
                Some("2026-01-05T12:00:11.300Z"),
                "sha256 and size match",
            ),
        ),
        step_event(
            3,
            step(
                2,
                "pre_restore_backup",
                StepStatus::Succeeded,
                "2026-01-05T12:00:11.300Z",
                Some("2026-01-05T12:00:59Z"),
                "full backup 5e6f7a8b, 51.0 MiB",
            ),
        ),
        step_event(
            4,
            step(
                3,
                "unpack_staging",
                StepStatus::Running,
                "2026-01-05T12:01:00Z",
                None,
                "",
            ),
        ),
        step_event(5, unpack),
    ]
}

pub fn restore_rest_succeeded() -> Vec<Action> {
    vec![
        step_event(
            6,
            step(
                3,
                "unpack_staging",
                StepStatus::Succeeded,
                "2026-01-05T12:01:00Z",
                Some("2026-01-05T12:01:20Z"),
                "1,204 entries",
            ),
        ),
        step_event(
            7,
            step(
                4,
                "swap_files",
                StepStatus::Succeeded,
                "2026-01-05T12:01:20Z",
                Some("2026-01-05T12:01:20.400Z"),
                "",
            ),
        ),
        step_event(
            8,
            step(
                5,
                "import_database",
                StepStatus::Succeeded,
                "2026-01-05T12:01:20.400Z",
                Some("2026-01-05T12:01:31Z"),
                "84 tables",
            ),
        ),
        step_event(
            9,
            step(
                6,
                "health_check",
                StepStatus::Succeeded,
                "2026-01-05T12:01:31Z",
                Some("2026-01-05T12:01:32Z"),
                "HTTP 200, WordPress installed, DB ok",
            ),
        ),
        status_event(10, JobStatus::Succeeded, None, None),
    ]
}

pub fn restore_rest_failed() -> Vec<Action> {
    vec![
        step_event(6, step(3, "unpack_staging", StepStatus::Succeeded, "2026-01-05T12:01:00Z", Some("2026-01-05T12:01:20Z"), "1,204 entries")),
        step_event(7, step(4, "swap_files", StepStatus::Succeeded, "2026-01-05T12:01:20Z", Some("2026-01-05T12:01:20.400Z"), "")),
        step_event(8, step(5, "import_database", StepStatus::Succeeded, "2026-01-05T12:01:20.400Z", Some("2026-01-05T12:01:31Z"), "84 tables")),
        step_event(9, step(6, "health_check", StepStatus::Failed, "2026-01-05T12:01:31Z", Some("2026-01-05T12:01:53Z"), "preview URL answered HTTP 500")),
        step_event(10, step(7, "rollback", StepStatus::Succeeded, "2026-01-05T12:01:53Z", Some("2026-01-05T12:02:05Z"), "pre-restore files and database put back")),
        status_event(
            11,
            JobStatus::Failed,
            Some("RESTORE_HEALTH_CHECK_FAILED"),
            Some("The restored site answered HTTP 500 at its preview URL, so the pre-restore state was put back. Check the PHP error log of acme-prod on the node, then restore again."),
        ),
    ]
}
