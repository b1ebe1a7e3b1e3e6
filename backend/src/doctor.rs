//! `pressluft-server doctor`: checks what the server needs (control database, admin account,
//! backup store, Ansible, the artifact tool, registered nodes and environments) and prints one
//! line per check: `ok  `, `warn` or `FAIL`, what was checked and, on trouble, how to fix it.
//! Exit status: 0 when nothing FAILed (warnings do not count), 1 otherwise. Never prints secrets.

use crate::config::Config;
use crate::db::Db;
use crate::registry::store;
use crate::storage::{BackupStore, StorageConfig};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Timeout of every network probe and of `mariadb-admin ping`.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Paths the server would use; flags and variables as for `serve`.
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Local backup store directory [default: <data-dir>/backups].
    #[arg(long, env = "PRESSLUFT_BACKUP_DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Directory with ansible.cfg and playbooks/ [default: the repository's ansible/].
    #[arg(long, env = "PRESSLUFT_ANSIBLE_DIR")]
    pub ansible_dir: Option<PathBuf>,
    /// The ansible-playbook executable.
    #[arg(
        long,
        env = "PRESSLUFT_ANSIBLE_PLAYBOOK",
        default_value = "ansible-playbook"
    )]
    pub ansible_playbook: PathBuf,
    /// The pressluft-artifact binary [default: next to this executable].
    #[arg(long, env = "PRESSLUFT_ARTIFACT_BIN")]
    pub artifact_bin: Option<PathBuf>,
}

/// Counts and prints the results.
#[derive(Default)]
struct Report {
    failed: usize,
}

impl Report {
    fn ok(&mut self, what: &str, detail: impl std::fmt::Display) {
        println!("ok   {what}: {detail}");
    }
    fn warn(&mut self, what: &str, detail: impl std::fmt::Display, fix: &str) {
        println!("warn {what}: {detail} -> {fix}");
    }
    fn fail(&mut self, what: &str, detail: impl std::fmt::Display, fix: &str) {
        self.failed += 1;
        println!("FAIL {what}: {detail} -> {fix}");
    }
}

/// Runs every check for `data_dir`; returns true when none failed.
pub async fn run(data_dir: PathBuf, args: DoctorArgs) -> bool {
    let mut config = Config::with_data_dir(data_dir);
    config.backup_dir = args.backup_dir.unwrap_or(config.backup_dir);
    config.ansible_dir = args.ansible_dir.unwrap_or(config.ansible_dir);
    config.artifact_bin = args.artifact_bin.unwrap_or(config.artifact_bin);
    config.ansible_playbook = args.ansible_playbook;
    let mut r = Report::default();
    let db = check_database(&mut r, &config);
    if let Some(db) = &db {
        check_admin(&mut r, db);
    }
    check_store(&mut r, &config.backup_dir).await;
    check_ansible(&mut r, &config);
    check_artifact(&mut r, &config.artifact_bin);
    if let Some(db) = &db {
        if let Err(e) = check_nodes(&mut r, db) {
            r.fail("nodes", e, "see the database check above");
        }
    }
    println!("{} check(s) failed", r.failed);
    r.failed == 0
}

fn check_database(r: &mut Report, config: &Config) -> Option<Db> {
    const WHAT: &str = "database";
    let path = config.db_path();
    if !path.is_file() {
        let fix = "create it with `pressluft-server admin create --data-dir DIR` (or `serve`) \
                   first, or pass the right --data-dir / PRESSLUFT_DATA_DIR";
        r.fail(WHAT, format!("{} does not exist", path.display()), fix);
        return None;
    }
    let fix = "the server's user needs read-write access to the file and its directory; \
               restore a damaged file from a backup (docs/operations.md)";
    let checked = Db::open(&path).and_then(|db| {
        let conn = db.conn()?;
        let integrity: String = conn.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
        drop(conn);
        Ok((db, integrity, version, mode))
    });
    let (db, integrity, version, mode) = checked
        .map_err(|e| r.fail(WHAT, format!("{}: {e}", path.display()), fix))
        .ok()?;
    if integrity != "ok" {
        r.fail(WHAT, format!("integrity check: {integrity}"), fix);
        return None;
    }
    let (file, detail) = (path.display(), "schema version");
    r.ok(
        WHAT,
        format!("{file}: integrity ok, {detail} {version}, journal mode {mode}"),
    );
    Some(db)
}

fn check_admin(r: &mut Report, db: &Db) {
    let fix = "create it with `pressluft-server admin create --email you@example.com`";
    let count = db.conn().and_then(|c| {
        Ok(c.query_row("SELECT COUNT(*) FROM users", [], |row| row.get::<_, i64>(0))?)
    });
    match count {
        Ok(0) => r.fail("admin", "no admin account exists", fix),
        Ok(n) => r.ok("admin", format!("{n} account(s)")),
        Err(e) => r.fail("admin", e, fix),
    }
}

async fn check_store(r: &mut Report, backup_dir: &Path) {
    const WHAT: &str = "backup store";
    let store = StorageConfig::from_env(backup_dir).and_then(|c| BackupStore::from_config(&c));
    let store = match store {
        Ok(s) => s,
        Err(e) => {
            let fix = "fix PRESSLUFT_STORAGE / PRESSLUFT_S3_* (docs/backup-storage.md)";
            return r.fail(WHAT, format!("{}: {e}", e.code()), fix);
        }
    };
    match store.probe().await {
        Ok(()) => r.ok(WHAT, format!("{}: probe object ok", store.describe())),
        Err(e) => {
            let fix = match store {
                BackupStore::Local(_) => {
                    "fix the directory or use another (--backup-dir / PRESSLUFT_BACKUP_DIR)"
                }
                BackupStore::S3(_) => {
                    "check PRESSLUFT_S3_ENDPOINT, PRESSLUFT_S3_BUCKET and the access keys \
                     (docs/backup-storage.md)"
                }
            };
            r.fail(WHAT, format!("{}: {} {e}", store.describe(), e.code()), fix);
        }
    }
}

fn check_ansible(r: &mut Report, config: &Config) {
    let bin = &config.ansible_playbook;
    let fix = "install Ansible (scripts/install-deps.sh) or set PRESSLUFT_ANSIBLE_PLAYBOOK";
    match run_with_timeout(Command::new(bin).arg("--version"), Duration::from_secs(30)) {
        Ok((true, out)) => {
            let line = out.lines().next().unwrap_or("").trim().to_string();
            r.ok("ansible", format!("{}: {line}", bin.display()))
        }
        Ok((false, out)) => r.fail("ansible", format!("{}: {out}", bin.display()), fix),
        Err(e) => r.fail("ansible", format!("cannot run {}: {e}", bin.display()), fix),
    }
    let dir = &config.ansible_dir;
    let missing: Vec<&str> = [
        "ansible.cfg",
        "playbooks/backup-create.yml",
        "playbooks/env-restore.yml",
        "playbooks/node-check.yml",
    ]
    .into_iter()
    .filter(|p| !dir.join(p).is_file())
    .collect();
    if missing.is_empty() {
        r.ok("ansible dir", format!("{}: complete", dir.display()));
    } else {
        let fix = "point --ansible-dir / PRESSLUFT_ANSIBLE_DIR (or PRESSLUFT_HOME) at the \
                   repository's ansible/ directory";
        let detail = format!("{} lacks {}", dir.display(), missing.join(", "));
        r.fail("ansible dir", detail, fix);
    }
}

fn check_artifact(r: &mut Report, bin: &Path) {
    let (w, fix) = (
        "artifact tool",
        "build it (`cargo build --release -p pressluft-artifact`) and put it next to \
         pressluft-server, or set PRESSLUFT_ARTIFACT_BIN",
    );
    match run_with_timeout(Command::new(bin).arg("--version"), Duration::from_secs(10)) {
        Ok((true, out)) => {
            let version = serde_json::from_str::<serde_json::Value>(out.trim())
                .ok()
                .and_then(|v| v.get("version")?.as_str().map(str::to_string))
                .unwrap_or_else(|| out.trim().to_string());
            r.ok(w, format!("{}: version {version}", bin.display()))
        }
        Ok((false, out)) => r.fail(w, format!("{}: {out}", bin.display()), fix),
        Err(e) => r.fail(w, format!("cannot run {}: {e}", bin.display()), fix),
    }
}

fn check_nodes(r: &mut Report, db: &Db) -> Result<(), crate::error::AppError> {
    let conn = db.conn()?;
    let nodes = store::list_nodes(&conn)?;
    if nodes.is_empty() {
        let fix = "register one: scripts/local-node.sh, or `pressluft-server node register`";
        r.warn("nodes", "no node is registered", fix);
    }
    for node in &nodes {
        let what = format!("node {}", node.name);
        if node.status == pressluft_common::NodeStatus::Decommissioned {
            r.ok(&what, "decommissioned, not checked");
        } else if node.is_local {
            check_local_node(r, &what);
        } else {
            let fix = "check the host is up, its SSH port is open and reachable from here";
            match tcp_connect(&node.hostname, node.ssh_port).and_then(|s| s.peer_addr()) {
                Ok(addr) => r.ok(&what, format!("SSH port answers at {addr}")),
                Err(e) => r.fail(&what, format!("{}: {e}", node.hostname), fix),
            }
        }
    }
    for site in store::list_sites(&conn)? {
        for env in store::list_environments(&conn, &site.id)? {
            let what = format!("environment {}/{}", site.slug, env.slug);
            let local = nodes.iter().any(|n| n.id == env.node_id && n.is_local);
            let current = Path::new(&env.files_root).join("current");
            if local && !current.exists() {
                let fix = "the environment is not provisioned (scripts/local-node.sh) or its \
                           files_root is wrong";
                r.fail(&what, format!("{} does not exist", current.display()), fix);
            } else if env.status == pressluft_common::ResourceStatus::Failed {
                let fix = "investigate its last job, then POST /api/environments/{id}/reset";
                r.warn(&what, format!("status failed (id {})", env.id), fix);
            }
            let (files, url) = (
                if local { "current/ exists, " } else { "" },
                &env.preview_url,
            );
            match http_status(url) {
                Ok(code) if code < 500 => r.ok(&what, format!("{files}{url} answers {code}")),
                Ok(code) => r.fail(&what, format!("{url} answers {code}"), WEB_FIX),
                Err(e) => r.fail(&what, format!("{url}: {e}"), WEB_FIX),
            }
        }
    }
    Ok(())
}

const WEB_FIX: &str = "check nginx and php-fpm on the node (local node: \
                       scripts/install-deps.sh --services-only)";

fn check_local_node(r: &mut Report, what: &str) {
    let mut ping = Command::new("mariadb-admin");
    ping.args(["--connect-timeout=5", "ping"]);
    let fix = "start MariaDB (scripts/install-deps.sh --services-only, or systemctl start mariadb)";
    match run_with_timeout(&mut ping, PROBE_TIMEOUT) {
        Ok((true, _)) => r.ok(what, "MariaDB answers (mariadb-admin ping)"),
        Ok((false, out)) => r.fail(what, format!("MariaDB: {}", out.trim()), fix),
        Err(e) => r.fail(what, format!("MariaDB: mariadb-admin ping: {e}"), fix),
    }
    let comms = process_names();
    for (name, prefix) in [("nginx", "nginx"), ("php-fpm", "php-fpm")] {
        if comms.iter().any(|c| c.starts_with(prefix)) {
            r.ok(what, format!("{name} is running"));
        } else {
            r.fail(what, format!("no {name} process"), WEB_FIX);
        }
    }
}

/// The command names (`/proc/<pid>/comm`) of every running process.
fn process_names() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("comm")).ok())
        .map(|c| c.trim().to_string())
        .collect()
}

/// Runs `cmd` (stdout and stderr captured), killing it after `timeout`; `(success, output)`.
fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> std::io::Result<(bool, String)> {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let msg = format!("no answer within {} s", timeout.as_secs());
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, msg));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output()?;
    let text = String::from_utf8_lossy(&[out.stdout, out.stderr].concat()).into_owned();
    Ok((status.success(), text.chars().take(400).collect()))
}

/// Connects to `host:port` within [`PROBE_TIMEOUT`] (per resolved address).
fn tcp_connect(host: &str, port: u16) -> std::io::Result<TcpStream> {
    let mut last = std::io::Error::other("the name resolves to no address");
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, PROBE_TIMEOUT) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The status code of `GET url` (plain `http://` only), within [`PROBE_TIMEOUT`] per step.
fn http_status(url: &str) -> Result<u16, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("only http:// preview URLs can be checked")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, p.parse().map_err(|_| "bad port in URL")?),
        _ => (authority, 80),
    };
    let io = |e: std::io::Error| e.to_string();
    let mut stream = tcp_connect(host.trim_matches(['[', ']']), port).map_err(io)?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT)).map_err(io)?;
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {authority}\r\nUser-Agent: pressluft-doctor\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(io)?;
    let mut head = Vec::new();
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 1024 {
        match stream.read(&mut buf).map_err(io)? {
            0 => break,
            n => head.extend_from_slice(&buf[..n]),
        }
    }
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace()
        .nth(1)
        .filter(|_| line.starts_with("HTTP/"))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| "no HTTP answer".to_string())
}
