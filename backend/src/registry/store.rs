//! SQL of the registry: nodes, sites and environments mapped exactly to the `common` read
//! models (never a password), plus the counts behind `/api/metrics`. No rules live here.

use crate::error::AppError;
use pressluft_common::{
    Environment, EnvironmentType, Metrics, Node, NodeStatus, ResourceStatus, Site,
};
use rusqlite::types::Type;
use rusqlite::{params, Connection, OptionalExtension, Row};

fn parse<T>(idx: usize, text: String, f: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    f(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            Type::Text,
            format!("unexpected value `{text}`").into(),
        )
    })
}

const NODE_COLS: &str =
    "id, name, hostname, public_ip, ssh_port, ssh_user, status, is_local, created_at, ssh_key_path";

/// A node with the fields the read model leaves out.
#[derive(Debug, Clone)]
pub struct NodeRecord {
    pub node: Node,
    pub ssh_key_path: Option<String>,
}

fn node_row(r: &Row<'_>) -> rusqlite::Result<NodeRecord> {
    Ok(NodeRecord {
        node: Node {
            id: r.get(0)?,
            name: r.get(1)?,
            hostname: r.get(2)?,
            public_ip: r.get(3)?,
            ssh_port: r.get(4)?,
            ssh_user: r.get(5)?,
            status: parse(6, r.get(6)?, NodeStatus::parse)?,
            is_local: r.get(7)?,
            created_at: r.get(8)?,
        },
        ssh_key_path: r.get(9)?,
    })
}

pub fn list_nodes(conn: &Connection) -> Result<Vec<Node>, AppError> {
    let mut st = conn.prepare(&format!("SELECT {NODE_COLS} FROM nodes ORDER BY name"))?;
    let rows = st.query_map([], node_row)?;
    Ok(rows.map(|r| r.map(|n| n.node)).collect::<Result<_, _>>()?)
}

/// The node whose `column` (`id`, `name`) equals `value`.
pub fn find_node(
    conn: &Connection,
    column: &str,
    value: &str,
) -> Result<Option<NodeRecord>, AppError> {
    let column = if column == "name" { "name" } else { "id" };
    let sql = format!("SELECT {NODE_COLS} FROM nodes WHERE {column} = ?1");
    Ok(conn.query_row(&sql, params![value], node_row).optional()?)
}

pub fn local_node(conn: &Connection) -> Result<Option<Node>, AppError> {
    let sql = format!("SELECT {NODE_COLS} FROM nodes WHERE is_local = 1");
    Ok(conn
        .query_row(&sql, [], node_row)
        .optional()?
        .map(|n| n.node))
}

pub fn insert_node(conn: &Connection, rec: &NodeRecord) -> Result<(), AppError> {
    let n = &rec.node;
    conn.execute(
        "INSERT INTO nodes (id, name, hostname, public_ip, ssh_port, ssh_user, ssh_key_path, \
         status, is_local, created_at, updated_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?10)",
        params![
            n.id,
            n.name,
            n.hostname,
            n.public_ip,
            n.ssh_port,
            n.ssh_user,
            rec.ssh_key_path,
            n.status.as_str(),
            n.is_local,
            n.created_at
        ],
    )?;
    Ok(())
}

const SITE_COLS: &str =
    "id, name, slug, status, primary_environment_id, state_version, created_at, updated_at";

fn site_row(r: &Row<'_>) -> rusqlite::Result<Site> {
    Ok(Site {
        id: r.get(0)?,
        name: r.get(1)?,
        slug: r.get(2)?,
        status: parse(3, r.get(3)?, ResourceStatus::parse)?,
        primary_environment_id: r.get(4)?,
        state_version: r.get(5)?,
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
    })
}

pub fn list_sites(conn: &Connection) -> Result<Vec<Site>, AppError> {
    let mut st = conn.prepare(&format!("SELECT {SITE_COLS} FROM sites ORDER BY slug"))?;
    let rows = st.query_map([], site_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The site whose `column` (`id`, `slug`) equals `value`.
pub fn find_site(conn: &Connection, column: &str, value: &str) -> Result<Option<Site>, AppError> {
    let column = if column == "slug" { "slug" } else { "id" };
    let sql = format!("SELECT {SITE_COLS} FROM sites WHERE {column} = ?1");
    Ok(conn.query_row(&sql, params![value], site_row).optional()?)
}

pub fn insert_site(conn: &Connection, s: &Site) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO sites (id, name, slug, status, primary_environment_id, state_version, \
         created_at, updated_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
        params![
            s.id,
            s.name,
            s.slug,
            s.status.as_str(),
            s.primary_environment_id,
            s.state_version,
            s.created_at,
            s.updated_at
        ],
    )?;
    Ok(())
}

/// Sets the site's primary environment when it has none yet.
pub fn set_primary_if_unset(
    conn: &Connection,
    site_id: &str,
    env_id: &str,
) -> Result<(), AppError> {
    conn.execute(
        "UPDATE sites SET primary_environment_id = ?2, state_version = state_version + 1, \
         updated_at = ?3 WHERE id = ?1 AND primary_environment_id IS NULL",
        params![site_id, env_id, crate::util::now()],
    )?;
    Ok(())
}

const ENV_COLS: &str = "id, site_id, name, slug, environment_type, status, node_id, preview_url, \
     current_release_id, files_root, db_name, system_user, state_version, created_at, updated_at";

fn env_row(r: &Row<'_>) -> rusqlite::Result<Environment> {
    Ok(Environment {
        id: r.get(0)?,
        site_id: r.get(1)?,
        name: r.get(2)?,
        slug: r.get(3)?,
        environment_type: parse(4, r.get(4)?, EnvironmentType::parse)?,
        status: parse(5, r.get(5)?, ResourceStatus::parse)?,
        node_id: r.get(6)?,
        preview_url: r.get(7)?,
        current_release_id: r.get(8)?,
        files_root: r.get(9)?,
        db_name: r.get(10)?,
        system_user: r.get(11)?,
        state_version: r.get(12)?,
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
    })
}

pub fn list_environments(conn: &Connection, site_id: &str) -> Result<Vec<Environment>, AppError> {
    let sql =
        format!("SELECT {ENV_COLS} FROM environments WHERE site_id = ?1 ORDER BY created_at, slug");
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map(params![site_id], env_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get_environment(conn: &Connection, id: &str) -> Result<Option<Environment>, AppError> {
    let sql = format!("SELECT {ENV_COLS} FROM environments WHERE id = ?1");
    Ok(conn.query_row(&sql, params![id], env_row).optional()?)
}

pub fn find_environment_by_slug(
    conn: &Connection,
    site_id: &str,
    slug: &str,
) -> Result<Option<Environment>, AppError> {
    let sql = format!("SELECT {ENV_COLS} FROM environments WHERE site_id = ?1 AND slug = ?2");
    Ok(conn
        .query_row(&sql, params![site_id, slug], env_row)
        .optional()?)
}

pub fn insert_environment(conn: &Connection, e: &Environment) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO environments (id, site_id, name, slug, environment_type, status, node_id, \
         preview_url, current_release_id, files_root, db_name, system_user, state_version, \
         created_at, updated_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
        params![
            e.id,
            e.site_id,
            e.name,
            e.slug,
            e.environment_type.as_str(),
            e.status.as_str(),
            e.node_id,
            e.preview_url,
            e.current_release_id,
            e.files_root,
            e.db_name,
            e.system_user,
            e.state_version,
            e.created_at,
            e.updated_at
        ],
    )?;
    Ok(())
}

/// Sets the status of a site or environment (`table` is `sites` or `environments`), bumping
/// `state_version`; fenced by the version read before so a concurrent change is not overwritten.
pub fn set_status(
    conn: &Connection,
    table: &str,
    id: &str,
    status: ResourceStatus,
    expected_version: i64,
) -> Result<bool, AppError> {
    let table = if table == "sites" {
        "sites"
    } else {
        "environments"
    };
    let sql = format!(
        "UPDATE {table} SET status = ?2, state_version = state_version + 1, updated_at = ?3 \
         WHERE id = ?1 AND state_version = ?4"
    );
    let n = conn.execute(
        &sql,
        params![id, status.as_str(), crate::util::now(), expected_version],
    )?;
    Ok(n == 1)
}

/// A queued or running job of the site: (id, job_type, status).
pub fn active_job_of_site(
    conn: &Connection,
    site_id: &str,
) -> Result<Option<(String, String, String)>, AppError> {
    Ok(conn
        .query_row(
            "SELECT id, job_type, status FROM jobs WHERE site_id = ?1 \
             AND status IN ('queued','running') ORDER BY created_at LIMIT 1",
            params![site_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?)
}

pub fn metrics(conn: &Connection) -> Result<Metrics, AppError> {
    Ok(conn.query_row(
        "SELECT (SELECT COUNT(*) FROM jobs WHERE status = 'running'), \
                (SELECT COUNT(*) FROM jobs WHERE status = 'queued'), \
                (SELECT COUNT(*) FROM nodes WHERE status = 'active'), \
                (SELECT COUNT(*) FROM sites)",
        [],
        |r| {
            Ok(Metrics {
                jobs_running: r.get(0)?,
                jobs_queued: r.get(1)?,
                nodes_active: r.get(2)?,
                sites_total: r.get(3)?,
            })
        },
    )?)
}
