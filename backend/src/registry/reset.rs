//! The explicit way out of `failed`: `failed -> active` for a site or an environment, only when
//! nothing is still working on it (no queued/running job of the site, no environment still
//! restoring, the environment's node active). Bumps `state_version`; audited by the caller.

use super::store;
use crate::audit;
use crate::error::AppError;
use pressluft_common::{Environment, NodeStatus, ResourceStatus, Site};
use rusqlite::Transaction;

fn not_failed(kind: &str, id: &str, status: ResourceStatus) -> AppError {
    AppError::conflict(
        "resource_not_failed",
        format!("{kind} {id} is {status}, not failed; only a failed {kind} can be reset"),
    )
}

fn invalid(message: String) -> AppError {
    AppError::conflict("reset_validation_failed", message)
}

/// Refuses while a job is queued or running for the site.
fn no_active_job(tx: &Transaction<'_>, site_id: &str) -> Result<(), AppError> {
    match store::active_job_of_site(tx, site_id)? {
        Some((job_id, job_type, status)) => Err(invalid(format!(
            "job {job_id} ({job_type}) is still {status} for site {site_id}; wait for it to \
             finish or cancel it (POST /api/jobs/{job_id}/cancel), then reset again"
        ))),
        None => Ok(()),
    }
}

pub fn reset_environment(
    tx: &Transaction<'_>,
    actor: Option<&str>,
    id: &str,
) -> Result<Environment, AppError> {
    let env = store::get_environment(tx, id)?.ok_or_else(|| super::environment_not_found(id))?;
    if env.status != ResourceStatus::Failed {
        return Err(not_failed("environment", id, env.status));
    }
    no_active_job(tx, &env.site_id)?;
    let node = store::find_node(tx, "id", &env.node_id)?;
    match node.map(|n| n.node) {
        Some(n) if n.status == NodeStatus::Active => {}
        Some(n) => {
            return Err(invalid(format!(
                "node `{}` ({}) of environment {id} is {}; bring the node back to active first",
                n.name, n.id, n.status
            )))
        }
        None => return Err(invalid(format!("environment {id} has no registered node"))),
    }
    if !store::set_status(
        tx,
        "environments",
        id,
        ResourceStatus::Active,
        env.state_version,
    )? {
        return Err(AppError::conflict(
            "conflict",
            format!("environment {id} changed meanwhile; retry"),
        ));
    }
    audit::record(
        tx,
        actor,
        "environment.reset",
        "environment",
        Some(id),
        "ok",
    )?;
    store::get_environment(tx, id)?.ok_or_else(|| super::environment_not_found(id))
}

pub fn reset_site(tx: &Transaction<'_>, actor: Option<&str>, id: &str) -> Result<Site, AppError> {
    let site = store::find_site(tx, "id", id)?.ok_or_else(|| super::site_not_found(id))?;
    if site.status != ResourceStatus::Failed {
        return Err(not_failed("site", id, site.status));
    }
    no_active_job(tx, id)?;
    if let Some(env) = store::list_environments(tx, id)?
        .into_iter()
        .find(|e| e.status == ResourceStatus::Restoring)
    {
        return Err(invalid(format!(
            "environment `{}` ({}) of site {id} is still restoring; wait for its restore to end",
            env.slug, env.id
        )));
    }
    if !store::set_status(tx, "sites", id, ResourceStatus::Active, site.state_version)? {
        return Err(AppError::conflict(
            "conflict",
            format!("site {id} changed meanwhile; retry"),
        ));
    }
    audit::record(tx, actor, "site.reset", "site", Some(id), "ok")?;
    store::find_site(tx, "id", id)?.ok_or_else(|| super::site_not_found(id))
}
