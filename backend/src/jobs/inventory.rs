//! The generated inventory of one run: the job's node, read from the database. The local node
//! (`is_local`) uses the local connection; any other is reached over SSH with host keys
//! accepted on first use and pinned in `<data_dir>/known_hosts`.

use crate::error::AppError;
use rusqlite::{Connection, OptionalExtension};
use serde_json::{json, Value};
use std::path::Path;

/// Python on every node (interpreter discovery can pick a broken shim; PITFALLS.md).
pub const PYTHON: &str = "/usr/bin/python3";

#[derive(Debug, Clone)]
pub struct NodeTarget {
    pub id: String,
    pub name: String,
    pub hostname: String,
    pub ssh_port: u16,
    pub ssh_user: String,
    pub ssh_key_path: Option<String>,
    pub is_local: bool,
}

pub fn load_node(conn: &Connection, id: &str) -> Result<Option<NodeTarget>, AppError> {
    Ok(conn
        .query_row(
            "SELECT id, name, hostname, ssh_port, ssh_user, ssh_key_path, is_local FROM nodes WHERE id = ?1",
            [id],
            |r| {
                Ok(NodeTarget {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    hostname: r.get(2)?,
                    ssh_port: r.get::<_, i64>(3)?.clamp(1, 65535) as u16,
                    ssh_user: r.get(4)?,
                    ssh_key_path: r.get(5)?,
                    is_local: r.get::<_, i64>(6)? != 0,
                })
            },
        )
        .optional()?)
}

/// Inventory alias of a node: its name, restricted to characters Ansible accepts.
pub fn host_alias(node: &NodeTarget) -> String {
    let alias: String = node
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if alias.is_empty() {
        node.id.clone()
    } else {
        alias
    }
}

/// The inventory JSON (`-i inventory.json`) for `node`.
pub fn inventory(node: &NodeTarget, data_dir: &Path) -> Value {
    let mut vars = serde_json::Map::new();
    vars.insert("ansible_python_interpreter".into(), json!(PYTHON));
    vars.insert("pressluft_node_id".into(), json!(node.id));
    if node.is_local {
        vars.insert("ansible_connection".into(), json!("local"));
    } else {
        vars.insert("ansible_connection".into(), json!("ssh"));
        vars.insert("ansible_host".into(), json!(node.hostname));
        vars.insert("ansible_port".into(), json!(node.ssh_port));
        vars.insert("ansible_user".into(), json!(node.ssh_user));
        if let Some(key) = &node.ssh_key_path {
            vars.insert("ansible_ssh_private_key_file".into(), json!(key));
        }
        let known_hosts = data_dir.join("known_hosts");
        vars.insert(
            "ansible_ssh_common_args".into(),
            json!(format!(
                "-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile={} -o BatchMode=yes",
                known_hosts.display()
            )),
        );
    }
    json!({ "all": { "hosts": { host_alias(node): Value::Object(vars) } } })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(is_local: bool) -> NodeTarget {
        NodeTarget {
            id: "n-1".into(),
            name: "web 1".into(),
            hostname: "10.0.0.5".into(),
            ssh_port: 2222,
            ssh_user: "root".into(),
            ssh_key_path: Some("/keys/id".into()),
            is_local,
        }
    }

    #[test]
    fn local_node_uses_the_local_connection() {
        let inv = inventory(&node(true), Path::new("/d"));
        let host = &inv["all"]["hosts"]["web_1"];
        assert_eq!(host["ansible_connection"], "local");
        assert_eq!(host["ansible_python_interpreter"], PYTHON);
        assert!(host.get("ansible_host").is_none());
    }

    #[test]
    fn remote_node_uses_ssh_with_pinned_host_keys() {
        let inv = inventory(&node(false), Path::new("/d"));
        let host = &inv["all"]["hosts"]["web_1"];
        assert_eq!(host["ansible_host"], "10.0.0.5");
        assert_eq!(host["ansible_port"], 2222);
        assert_eq!(host["ansible_ssh_private_key_file"], "/keys/id");
        let args = host["ansible_ssh_common_args"].as_str().unwrap();
        assert!(args.contains("StrictHostKeyChecking=accept-new"));
        assert!(args.contains("UserKnownHostsFile=/d/known_hosts"));
    }
}
