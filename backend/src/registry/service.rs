//! Registration rules: validation, idempotent re-registration (same id, or same name/slug
//! without an id, with identical fields answers the existing resource), 409 `conflict` on
//! anything else that collides, at most one local node, the first environment of a site becomes
//! its primary one. Runs on a blocking thread inside one transaction (API and CLI alike).

use super::{store, validate};
use crate::audit;
use crate::db::tx_sync;
use crate::error::AppError;
use pressluft_common::{
    Environment, Node, NodeStatus, RegisterEnvironment, RegisterNode, RegisterSite, ResourceStatus,
    Site,
};
use rusqlite::{Connection, Transaction};

/// A registration's answer: the resource, and whether this call created it (201) or found it
/// already registered with identical fields (200).
#[derive(Debug, Clone)]
pub struct Registered<T> {
    pub value: T,
    pub created: bool,
}

/// Runs `f` in one transaction; when it fails, records a `denied` (4xx) or `error` (5xx)
/// audit row for the attempt in a transaction of its own, and returns the error.
pub fn audited<T>(
    conn: &mut Connection,
    actor: Option<&str>,
    action: &str,
    resource: (&str, Option<&str>),
    f: impl FnOnce(&Transaction<'_>) -> Result<T, AppError>,
) -> Result<T, AppError> {
    let err = match tx_sync(conn, f) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let result = if err.status.is_server_error() {
        "error"
    } else {
        "denied"
    };
    let (rtype, rid) = resource;
    if let Err(e) = tx_sync(conn, |tx| {
        audit::record(tx, actor, action, rtype, rid, result)
    }) {
        tracing::error!(error = %e, action, "cannot write audit row");
    }
    Err(err)
}

fn conflict(message: String) -> AppError {
    AppError::conflict("conflict", message)
}

pub fn register_node(
    tx: &Transaction<'_>,
    actor: Option<&str>,
    req: RegisterNode,
) -> Result<Registered<Node>, AppError> {
    let id = validate::id("id", req.id.as_deref())?;
    validate::name("name", &req.name)?;
    validate::hostname(&req.hostname)?;
    if let Some(ip) = &req.public_ip {
        validate::ip(ip)?;
    }
    validate::port(req.ssh_port)?;
    validate::user("ssh_user", &req.ssh_user)?;
    if let Some(key) = &req.ssh_key_path {
        validate::abs_path("ssh_key_path", key)?;
    }
    let now = crate::util::now();
    let wanted = store::NodeRecord {
        node: Node {
            id: id.clone().unwrap_or_else(crate::util::new_id),
            name: req.name.trim().to_string(),
            hostname: req.hostname,
            public_ip: req.public_ip,
            ssh_port: req.ssh_port,
            ssh_user: req.ssh_user,
            status: NodeStatus::Active,
            is_local: req.is_local,
            created_at: now,
        },
        ssh_key_path: req.ssh_key_path,
    };
    let same = |a: &store::NodeRecord| {
        let (x, y) = (&a.node, &wanted.node);
        (
            &x.name,
            &x.hostname,
            &x.public_ip,
            x.ssh_port,
            &x.ssh_user,
            x.is_local,
            &a.ssh_key_path,
        ) == (
            &y.name,
            &y.hostname,
            &y.public_ip,
            y.ssh_port,
            &y.ssh_user,
            y.is_local,
            &wanted.ssh_key_path,
        )
    };
    if let Some(id) = &id {
        if let Some(existing) = store::find_node(tx, "id", id)? {
            return if same(&existing) {
                Ok(Registered {
                    value: existing.node,
                    created: false,
                })
            } else {
                Err(conflict(format!("node {id} is already registered with different fields; register it unchanged or use a new id")))
            };
        }
    }
    if let Some(existing) = store::find_node(tx, "name", &wanted.node.name)? {
        if id.is_none() && same(&existing) {
            return Ok(Registered {
                value: existing.node,
                created: false,
            });
        }
        return Err(conflict(format!(
            "a node named `{}` already exists (id {}); choose another name",
            existing.node.name, existing.node.id
        )));
    }
    if wanted.node.is_local {
        if let Some(local) = store::local_node(tx)? {
            return Err(conflict(format!(
                "node `{}` ({}) is already the local node; at most one node can be local",
                local.name, local.id
            )));
        }
    }
    store::insert_node(tx, &wanted)?;
    audit::record(
        tx,
        actor,
        "node.register",
        "node",
        Some(&wanted.node.id),
        "ok",
    )?;
    Ok(Registered {
        value: wanted.node,
        created: true,
    })
}

pub fn register_site(
    tx: &Transaction<'_>,
    actor: Option<&str>,
    req: RegisterSite,
) -> Result<Registered<Site>, AppError> {
    let id = validate::id("id", req.id.as_deref())?;
    validate::name("name", &req.name)?;
    validate::slug(&req.slug)?;
    let now = crate::util::now();
    let wanted = Site {
        id: id.clone().unwrap_or_else(crate::util::new_id),
        name: req.name.trim().to_string(),
        slug: req.slug,
        status: ResourceStatus::Active,
        primary_environment_id: None,
        state_version: 1,
        created_at: now.clone(),
        updated_at: now,
    };
    let same = |s: &Site| (&s.name, &s.slug) == (&wanted.name, &wanted.slug);
    if let Some(id) = &id {
        if let Some(existing) = store::find_site(tx, "id", id)? {
            return if same(&existing) {
                Ok(Registered {
                    value: existing,
                    created: false,
                })
            } else {
                Err(conflict(format!("site {id} is already registered with different fields; register it unchanged or use a new id")))
            };
        }
    }
    if let Some(existing) = store::find_site(tx, "slug", &wanted.slug)? {
        if id.is_none() && same(&existing) {
            return Ok(Registered {
                value: existing,
                created: false,
            });
        }
        return Err(conflict(format!(
            "the slug `{}` is taken by site {}; choose another slug",
            existing.slug, existing.id
        )));
    }
    store::insert_site(tx, &wanted)?;
    audit::record(tx, actor, "site.register", "site", Some(&wanted.id), "ok")?;
    Ok(Registered {
        value: wanted,
        created: true,
    })
}

pub fn register_environment(
    tx: &Transaction<'_>,
    actor: Option<&str>,
    site_id: &str,
    req: RegisterEnvironment,
) -> Result<Registered<Environment>, AppError> {
    let id = validate::id("id", req.id.as_deref())?;
    let node_id = validate::id("node_id", Some(&req.node_id))?.unwrap_or_default();
    validate::name("name", &req.name)?;
    validate::slug(&req.slug)?;
    validate::preview_url(&req.preview_url)?;
    validate::abs_path("files_root", &req.files_root)?;
    validate::db_name(&req.db_name)?;
    validate::user("system_user", &req.system_user)?;
    let site =
        store::find_site(tx, "id", site_id)?.ok_or_else(|| super::site_not_found(site_id))?;
    if store::find_node(tx, "id", &node_id)?.is_none() {
        return Err(super::node_not_found(&node_id));
    }
    let now = crate::util::now();
    let wanted = Environment {
        id: id.clone().unwrap_or_else(crate::util::new_id),
        site_id: site.id.clone(),
        name: req.name.trim().to_string(),
        slug: req.slug,
        environment_type: req.environment_type,
        status: ResourceStatus::Active,
        node_id,
        preview_url: req.preview_url,
        current_release_id: None,
        files_root: req.files_root,
        db_name: req.db_name,
        system_user: req.system_user,
        state_version: 1,
        created_at: now.clone(),
        updated_at: now,
    };
    let same = |e: &Environment| {
        (
            &e.site_id,
            &e.name,
            &e.slug,
            e.environment_type,
            &e.node_id,
            &e.preview_url,
        ) == (
            &wanted.site_id,
            &wanted.name,
            &wanted.slug,
            wanted.environment_type,
            &wanted.node_id,
            &wanted.preview_url,
        ) && (&e.files_root, &e.db_name, &e.system_user)
            == (&wanted.files_root, &wanted.db_name, &wanted.system_user)
    };
    if let Some(id) = &id {
        if let Some(existing) = store::get_environment(tx, id)? {
            return if same(&existing) {
                Ok(Registered {
                    value: existing,
                    created: false,
                })
            } else {
                Err(conflict(format!("environment {id} is already registered with different fields; register it unchanged or use a new id")))
            };
        }
    }
    if let Some(existing) = store::find_environment_by_slug(tx, &site.id, &wanted.slug)? {
        if id.is_none() && same(&existing) {
            return Ok(Registered {
                value: existing,
                created: false,
            });
        }
        return Err(conflict(format!(
            "site `{}` already has an environment with slug `{}` (id {}); choose another slug",
            site.slug, existing.slug, existing.id
        )));
    }
    store::insert_environment(tx, &wanted)?;
    store::set_primary_if_unset(tx, &site.id, &wanted.id)?;
    audit::record(
        tx,
        actor,
        "environment.register",
        "environment",
        Some(&wanted.id),
        "ok",
    )?;
    Ok(Registered {
        value: wanted,
        created: true,
    })
}
