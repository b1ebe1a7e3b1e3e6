//! Restore rules: the validation of SPEC section 7 in its order (one stable code each), the
//! preflight checks, and the transaction that marks the target `restoring` and enqueues the job.

use crate::app::AppState;
use crate::backups::{service as bsvc, store as bstore, target};
use crate::error::AppError;
use pressluft_common::{
    Backup, BackupScope, BackupStatus, ErrorBody, JobType, PreflightCheck, PreflightResponse,
    ResourceStatus,
};
use rusqlite::Transaction;

/// Validates a restore request in the order of SPEC section 7; returns target and backup.
pub fn validate(
    tx: &Transaction<'_>,
    environment_id: &str,
    backup_id: &str,
) -> Result<(target::Target, Backup), AppError> {
    let t = bsvc::load_target(tx, environment_id)?;
    if !crate::util::is_uuid(backup_id) {
        return Err(AppError::bad_request(format!(
            "backup_id `{backup_id}` is not a valid id (a UUID)"
        )));
    }
    let b = bstore::get(tx, backup_id)?.ok_or_else(|| {
        AppError::not_found(
            "backup_not_found",
            format!(
                "backup {backup_id} does not exist; list the environment's backups with \
                 GET /api/environments/{environment_id}/backups"
            ),
        )
    })?;
    if b.site_id != t.site_id {
        return Err(AppError::conflict(
            "backup_wrong_site",
            format!(
                "backup {backup_id} belongs to another site; a restore may only use backups of \
                 site {} (cross-site restore is not supported)",
                t.site_slug
            ),
        ));
    }
    let expired = b.status == BackupStatus::Expired
        || crate::util::parse(&b.retention_until)
            .is_some_and(|until| until < time::OffsetDateTime::now_utc());
    if b.status == BackupStatus::Completed && expired || b.status == BackupStatus::Expired {
        return Err(AppError::conflict(
            "backup_expired",
            format!(
                "backup {backup_id} passed its retention ({}); pick a newer backup",
                b.retention_until
            ),
        ));
    }
    if b.status != BackupStatus::Completed {
        return Err(AppError::conflict(
            "backup_not_completed",
            format!(
                "backup {backup_id} is {}, not completed; only completed backups can be restored",
                b.status
            ),
        ));
    }
    bsvc::check_active(&t)?;
    bsvc::check_node(&t)?;
    bsvc::check_no_active_job(tx, &t)?;
    Ok((t, b))
}

/// The steps a restore of a backup with `scope` runs, in order.
pub fn planned_steps(scope: BackupScope) -> Vec<String> {
    let files = scope != BackupScope::Db;
    let db = scope != BackupScope::Files;
    let mut steps = vec![
        "preflight checks",
        "verify artifact",
        "pre-restore backup",
        "unpack to staging",
    ];
    if files {
        steps.extend(["normalize ownership", "swap files"]);
    }
    if db {
        steps.push("import database");
    }
    steps.extend(["health checks", "finish"]);
    steps.into_iter().map(String::from).collect()
}

/// `POST /api/environments/{id}/restore`: validate, mark environment and site `restoring` and
/// enqueue `env_restore`, all in one transaction. Returns the job id.
pub async fn request_restore(
    state: &AppState,
    environment_id: String,
    backup_id: String,
    user_id: Option<String>,
) -> Result<String, AppError> {
    let job_id = state
        .db
        .tx(move |tx| {
            let (t, b) = validate(tx, &environment_id, &backup_id)?;
            let job_id = crate::jobs::store::enqueue(
                tx,
                crate::jobs::store::NewJob {
                    job_type: JobType::EnvRestore,
                    site_id: Some(t.site_id.clone()),
                    environment_id: Some(t.environment_id.clone()),
                    node_id: Some(t.node_id.clone()),
                    backup_id: Some(b.id.clone()),
                    payload: serde_json::json!({ "backup_id": b.id }),
                    max_attempts: 3,
                },
            )?;
            target::set_status(tx, &t.environment_id, &t.site_id, ResourceStatus::Restoring)?;
            crate::audit::record(
                tx,
                user_id.as_deref(),
                "environment.restore",
                "environment",
                Some(&t.environment_id),
                "ok",
            )?;
            Ok(job_id)
        })
        .await?;
    state.jobs.wake();
    Ok(job_id)
}

/// `POST /api/environments/{id}/restore/preflight`: the same validation plus the checks the
/// restore depends on, without side effects.
pub async fn preflight(
    state: &AppState,
    environment_id: String,
    backup_id: String,
) -> Result<PreflightResponse, AppError> {
    let validated = state
        .db
        .run(move |conn| {
            // A read-only transaction: validation reads several rows consistently.
            let tx = conn.transaction()?;
            let out = validate(&tx, &environment_id, &backup_id);
            drop(tx);
            Ok(out)
        })
        .await?;
    let (t, b) = match validated {
        Ok(v) => v,
        Err(e) if e.status.is_server_error() => return Err(e),
        Err(e) => {
            return Ok(PreflightResponse {
                ok: false,
                error: Some(ErrorBody {
                    code: e.code.to_string(),
                    message: e.message,
                }),
                checks: Vec::new(),
                steps: Vec::new(),
            })
        }
    };
    let checks = run_checks(state, &t, &b).await;
    Ok(PreflightResponse {
        ok: checks.iter().all(|c| c.ok),
        error: None,
        checks,
        steps: planned_steps(b.backup_scope),
    })
}

/// The checks a restore depends on; the job runs them again as its first step.
pub async fn run_checks(state: &AppState, t: &target::Target, b: &Backup) -> Vec<PreflightCheck> {
    let stored_size = crate::backups::service::stored_size(state, b).await;
    let t = t.clone();
    let b = b.clone();
    let backup_dir = state.config.backup_dir.clone();
    tokio::task::spawn_blocking(move || super::checks::all(&t, &b, &backup_dir, stored_size))
        .await
        .unwrap_or_else(|e| {
            vec![PreflightCheck {
                name: "preflight".into(),
                ok: false,
                detail: format!("the checks could not run: {e}"),
            }]
        })
}
