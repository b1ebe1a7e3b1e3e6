//! Test support for the real local WordPress node: one cross-process lock (every test that
//! touches MariaDB, nginx, php-fpm or /srv/pressluft holds it), a node reset to its baseline
//! and registration into the test's own server, and fingerprints to prove what did not change.

#![allow(dead_code)]

use crate::support::{repo_root, TestServer, ADMIN_EMAIL, ADMIN_PASSWORD};
use serde_json::Value;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::Command;

const LOCK_PATH: &str = "/tmp/pressluft-test-node.lock";

/// Held for the whole test: the node is this test's alone.
pub struct NodeLock(File);

impl NodeLock {
    pub fn acquire() -> NodeLock {
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(LOCK_PATH)
            .expect("open node lock");
        // SAFETY: flock on a file descriptor we own; blocks until the lock is ours.
        let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(rc, 0, "flock {LOCK_PATH}");
        NodeLock(f)
    }
}

/// One environment of the node as `scripts/local-node.sh --print` describes it.
#[derive(Debug, Clone)]
pub struct NodeEnv {
    pub key: String,
    pub site_id: String,
    pub environment_id: String,
    pub preview_url: String,
    pub files_root: String,
    pub db_name: String,
    pub system_user: String,
}

/// The node, reset to its baseline and registered into `server`.
pub struct Node {
    pub _lock: NodeLock,
    pub state: Value,
}

impl Node {
    /// Locks the node, resets every environment to its baseline and registers it in `server`.
    pub fn provision(server: &TestServer) -> Node {
        let lock = NodeLock::acquire();
        let out = Command::new("bash")
            .arg(repo_root().join("scripts/local-node.sh"))
            .arg("--reset")
            .env("PRESSLUFT_URL", &server.url)
            .env("PRESSLUFT_EMAIL", ADMIN_EMAIL)
            .env("PRESSLUFT_PASSWORD", ADMIN_PASSWORD)
            .output()
            .expect("run local-node.sh");
        assert!(
            out.status.success(),
            "local-node.sh --reset failed (is scripts/install-deps.sh --start-services done?):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let printed = Command::new("bash")
            .arg(repo_root().join("scripts/local-node.sh"))
            .arg("--print")
            .output()
            .expect("local-node.sh --print");
        assert!(printed.status.success(), "local-node.sh --print failed");
        let state: Value = serde_json::from_slice(&printed.stdout).expect("state JSON");
        Node { _lock: lock, state }
    }

    /// `site/env`, e.g. `demo/production`.
    pub fn env(&self, key: &str) -> NodeEnv {
        let e = self.state["environments"]
            .as_array()
            .and_then(|a| a.iter().find(|e| e["key"] == key))
            .unwrap_or_else(|| panic!("no environment {key} on the node"));
        let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
        NodeEnv {
            key: key.to_string(),
            site_id: s("site_id"),
            environment_id: s("environment_id"),
            preview_url: s("preview_url"),
            files_root: s("files_root"),
            db_name: s("db_name"),
            system_user: s("system_user"),
        }
    }
}

/// Runs SQL as root through the unix socket; returns stdout (tab-separated, no headers).
pub fn sql(db: &str, query: &str) -> String {
    let out = Command::new("mariadb")
        .args(["-N", "-B", db, "-e", query])
        .output()
        .expect("run mariadb");
    assert!(
        out.status.success(),
        "mariadb {db} -e {query:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A fingerprint of an environment: every file under `current/` and `shared/` (path, type,
/// mode, owner, size, sha256 or link target) and every table's CHECKSUM.
pub fn fingerprint(env: &NodeEnv) -> String {
    let script = format!(
        "cd {root} && for d in current/ shared/; do find -L \"$d\" -path '*/wp-content/cache' -prune -o \\( -type f -o -type d \\) -printf '%p %y %m %U %s\\n' | sort; done; \
         find -L current/ shared/ -path '*/wp-content/cache' -prune -o -type f -print0 | sort -z | xargs -0 sha256sum",
        root = env.files_root
    );
    let files = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("fingerprint files");
    assert!(
        files.status.success(),
        "fingerprint of {}: {}",
        env.key,
        String::from_utf8_lossy(&files.stderr)
    );
    let tables = sql(&env.db_name, "SHOW TABLES");
    let list: Vec<&str> = tables.lines().collect();
    let checksums = if list.is_empty() {
        String::new()
    } else {
        sql(&env.db_name, &format!("CHECKSUM TABLE {}", list.join(", ")))
    };
    format!(
        "{}\n--tables--\n{checksums}",
        String::from_utf8_lossy(&files.stdout)
    )
}

/// GET `url`, returning (status, body).
pub async fn http_get(url: &str) -> (u16, String) {
    let resp = reqwest::get(url).await.expect("GET preview URL");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}
