//! The environment a backup or restore job works on, with what the playbooks need to find it on
//! its node (read in one query so a job sees one consistent row).

use crate::error::AppError;
use pressluft_common::ResourceStatus;
use rusqlite::{Connection, OptionalExtension};

#[derive(Debug, Clone)]
pub struct Target {
    pub environment_id: String,
    pub environment_slug: String,
    pub environment_name: String,
    pub site_id: String,
    pub site_slug: String,
    pub status: ResourceStatus,
    pub site_status: ResourceStatus,
    pub node_id: String,
    pub node_is_local: bool,
    pub node_status: String,
    pub files_root: String,
    pub db_name: String,
    pub system_user: String,
    pub preview_url: String,
}

pub fn load(conn: &Connection, environment_id: &str) -> Result<Option<Target>, AppError> {
    Ok(conn
        .query_row(
            "SELECT e.id, e.slug, e.name, e.site_id, s.slug, e.status, s.status, e.node_id, \
             n.is_local, n.status, e.files_root, e.db_name, e.system_user, e.preview_url \
             FROM environments e JOIN sites s ON s.id = e.site_id JOIN nodes n ON n.id = e.node_id \
             WHERE e.id = ?1",
            [environment_id],
            |r| {
                let status: String = r.get(5)?;
                let site_status: String = r.get(6)?;
                Ok(Target {
                    environment_id: r.get(0)?,
                    environment_slug: r.get(1)?,
                    environment_name: r.get(2)?,
                    site_id: r.get(3)?,
                    site_slug: r.get(4)?,
                    status: ResourceStatus::parse(&status).unwrap_or(ResourceStatus::Failed),
                    site_status: ResourceStatus::parse(&site_status)
                        .unwrap_or(ResourceStatus::Failed),
                    node_id: r.get(7)?,
                    node_is_local: r.get::<_, i64>(8)? == 1,
                    node_status: r.get(9)?,
                    files_root: r.get(10)?,
                    db_name: r.get(11)?,
                    system_user: r.get(12)?,
                    preview_url: r.get(13)?,
                })
            },
        )
        .optional()?)
}

/// Sets the status of an environment and of its site (the site mirrors its most impactful
/// running environment mutation), bumping `state_version`.
pub fn set_status(
    conn: &Connection,
    environment_id: &str,
    site_id: &str,
    status: ResourceStatus,
) -> Result<(), AppError> {
    let now = crate::util::now();
    conn.execute(
        "UPDATE environments SET status = ?2, state_version = state_version + 1, updated_at = ?3 \
         WHERE id = ?1",
        rusqlite::params![environment_id, status.as_str(), now],
    )?;
    conn.execute(
        "UPDATE sites SET status = ?2, state_version = state_version + 1, updated_at = ?3 \
         WHERE id = ?1",
        rusqlite::params![site_id, status.as_str(), now],
    )?;
    Ok(())
}
