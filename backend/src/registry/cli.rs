//! The registry from the command line (`pressluft-server node|site|environment ...`): works on
//! the database file directly through the same service functions as the API, audited as user
//! `cli`. Sites and nodes may be named by slug/name or id.

use super::{service, store};
use crate::error::AppError;
use pressluft_common::{Environment, Node, RegisterEnvironment, RegisterNode, RegisterSite, Site};
use rusqlite::Connection;

/// The `user_id` of audit rows written by the command line.
pub const CLI_ACTOR: &str = "cli";

pub fn register_node(conn: &mut Connection, req: RegisterNode) -> Result<Node, AppError> {
    let rid = req.id.clone();
    service::audited(
        conn,
        Some(CLI_ACTOR),
        "node.register",
        ("node", rid.as_deref()),
        |tx| service::register_node(tx, Some(CLI_ACTOR), req),
    )
    .map(|r| r.value)
}

pub fn register_site(conn: &mut Connection, req: RegisterSite) -> Result<Site, AppError> {
    let rid = req.id.clone();
    service::audited(
        conn,
        Some(CLI_ACTOR),
        "site.register",
        ("site", rid.as_deref()),
        |tx| service::register_site(tx, Some(CLI_ACTOR), req),
    )
    .map(|r| r.value)
}

/// The site named by `slug_or_id`.
pub fn resolve_site(conn: &Connection, slug_or_id: &str) -> Result<Site, AppError> {
    let column = if crate::util::is_uuid(slug_or_id) {
        "id"
    } else {
        "slug"
    };
    store::find_site(conn, column, &slug_or_id.to_ascii_lowercase())?.ok_or_else(|| {
        AppError::not_found(
            "site_not_found",
            format!("no site with slug or id `{slug_or_id}`; see `pressluft-server site list`"),
        )
    })
}

/// The node named by `name_or_id`.
pub fn resolve_node(conn: &Connection, name_or_id: &str) -> Result<Node, AppError> {
    let found = if crate::util::is_uuid(name_or_id) {
        store::find_node(conn, "id", &name_or_id.to_ascii_lowercase())?
    } else {
        store::find_node(conn, "name", name_or_id)?
    };
    found.map(|n| n.node).ok_or_else(|| {
        AppError::not_found(
            "node_not_found",
            format!("no node with name or id `{name_or_id}`; see `pressluft-server node list`"),
        )
    })
}

/// Registers an environment of the site `site` on the node `node` (each by name or id);
/// `req.node_id` is replaced by the resolved node's id.
pub fn register_environment(
    conn: &mut Connection,
    site: &str,
    node: &str,
    mut req: RegisterEnvironment,
) -> Result<Environment, AppError> {
    let site = resolve_site(conn, site)?;
    req.node_id = resolve_node(conn, node)?.id;
    let rid = req.id.clone();
    let res = ("environment", rid.as_deref());
    service::audited(conn, Some(CLI_ACTOR), "environment.register", res, |tx| {
        service::register_environment(tx, Some(CLI_ACTOR), &site.id, req)
    })
    .map(|r| r.value)
}

pub fn list_sites(conn: &Connection) -> Result<Vec<Site>, AppError> {
    store::list_sites(conn)
}

pub fn list_nodes(conn: &Connection) -> Result<Vec<Node>, AppError> {
    store::list_nodes(conn)
}

pub fn list_environments(conn: &Connection, site: &str) -> Result<Vec<Environment>, AppError> {
    let site = resolve_site(conn, site)?;
    store::list_environments(conn, &site.id)
}

/// `pressluft-server node ...`
#[derive(Debug, clap::Subcommand)]
pub enum NodeCommand {
    /// Register a node (idempotent: the same fields again print the existing node).
    Register {
        #[arg(long)]
        name: String,
        #[arg(long)]
        hostname: String,
        /// This is the control-plane host itself (at most one node).
        #[arg(long)]
        local: bool,
        #[arg(long, default_value_t = 22)]
        ssh_port: u16,
        #[arg(long, default_value = "root")]
        ssh_user: String,
        /// Private key file used to reach the node.
        #[arg(long)]
        ssh_key: Option<String>,
        #[arg(long)]
        public_ip: Option<String>,
        /// Client-chosen UUID [default: a new one].
        #[arg(long)]
        id: Option<String>,
    },
    /// Print every node as JSON.
    List,
}

/// `pressluft-server site ...`
#[derive(Debug, clap::Subcommand)]
pub enum SiteCommand {
    /// Register a site (idempotent: the same fields again print the existing site).
    Register {
        #[arg(long)]
        name: String,
        #[arg(long)]
        slug: String,
        #[arg(long)]
        id: Option<String>,
    },
    /// Print every site as JSON.
    List,
}

/// `pressluft-server environment ...`
#[derive(Debug, clap::Subcommand)]
pub enum EnvironmentCommand {
    /// Register an existing environment of a site.
    Register {
        /// The site's slug or id.
        #[arg(long)]
        site: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        slug: String,
        /// production, staging or clone.
        #[arg(long = "type", value_parser = parse_type)]
        environment_type: pressluft_common::EnvironmentType,
        /// The node's name or id.
        #[arg(long)]
        node: String,
        #[arg(long)]
        preview_url: String,
        #[arg(long)]
        files_root: String,
        #[arg(long)]
        db_name: String,
        #[arg(long)]
        system_user: String,
        #[arg(long)]
        id: Option<String>,
    },
    /// Print the environments of a site as JSON.
    List {
        #[arg(long)]
        site: String,
    },
}

fn parse_type(s: &str) -> Result<pressluft_common::EnvironmentType, String> {
    pressluft_common::EnvironmentType::parse(s)
        .ok_or_else(|| format!("`{s}` is not one of production, staging, clone"))
}

/// Pretty JSON in the wire's field order.
fn json<T: serde::Serialize>(v: T) -> Result<String, AppError> {
    serde_json::to_string_pretty(&v).map_err(|e| AppError::internal(format!("json: {e}")))
}

impl NodeCommand {
    pub fn run(self, conn: &mut Connection) -> Result<String, AppError> {
        match self {
            NodeCommand::Register {
                name,
                hostname,
                local,
                ssh_port,
                ssh_user,
                ssh_key,
                public_ip,
                id,
            } => {
                let req = RegisterNode {
                    id,
                    name,
                    hostname,
                    public_ip,
                    ssh_port,
                    ssh_user,
                    ssh_key_path: ssh_key,
                    is_local: local,
                };
                json(register_node(conn, req)?)
            }
            NodeCommand::List => json(list_nodes(conn)?),
        }
    }
}

impl SiteCommand {
    pub fn run(self, conn: &mut Connection) -> Result<String, AppError> {
        match self {
            SiteCommand::Register { name, slug, id } => {
                json(register_site(conn, RegisterSite { id, name, slug })?)
            }
            SiteCommand::List => json(list_sites(conn)?),
        }
    }
}

impl EnvironmentCommand {
    pub fn run(self, conn: &mut Connection) -> Result<String, AppError> {
        match self {
            EnvironmentCommand::Register {
                site,
                name,
                slug,
                environment_type,
                node,
                preview_url,
                files_root,
                db_name,
                system_user,
                id,
            } => {
                let req = RegisterEnvironment {
                    id,
                    name,
                    slug,
                    environment_type,
                    node_id: String::new(),
                    preview_url,
                    files_root,
                    db_name,
                    system_user,
                };
                json(register_environment(conn, &site, &node, req)?)
            }
            EnvironmentCommand::List { site } => json(list_environments(conn, &site)?),
        }
    }
}
