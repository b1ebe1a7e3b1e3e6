//! Restore tests (`env_restore`) against the real local WordPress node: request validation,
//! full and cross-environment restores, refusal of damaged and hostile artifacts, rollback after
//! a failed import or health check, and a server killed mid-restore. Shared helpers live here.
//!
//! "Unchanged" is judged with [`EnvState`]: the node fingerprint's file part plus every table's
//! checksum, except `wp_options`, which is compared row by row without the rows WordPress rewrites
//! by itself on any page view (`_transient*`, `_site_transient*`, `cron`): the restore's own
//! health check and our preview GETs load pages. Directory sizes are left out of the file part
//! (see [`without_dir_sizes`]).

mod apply;
mod crash;
mod hostile;
mod refusal;
mod rollback;
mod validation;

use crate::node::{fingerprint, sql, Node, NodeEnv};
use crate::support::TestServer;
use pressluft_common::{Backup, BackupScope, Client, Job, JobStatus, ResourceStatus, StepStatus};
use rusqlite::params;
use std::path::Path;
use std::time::Duration;

/// Backups and restores of the demo WordPress take seconds; leave room for a slow shared box.
pub const JOB_WAIT: Duration = Duration::from_secs(300);

/// A server with the real node reset to its baseline and registered; the node is ours until
/// the rig is dropped.
pub struct Rig {
    pub server: TestServer,
    pub client: Client,
    pub node: Node,
}

impl Rig {
    pub async fn start() -> Rig {
        let server = TestServer::start();
        let t0 = std::time::Instant::now();
        let node = Node::provision(&server);
        eprintln!("node locked and reset after {:.1?}", t0.elapsed());
        let client = server.client().await;
        Rig {
            server,
            client,
            node,
        }
    }

    pub fn env(&self, key: &str) -> NodeEnv {
        self.node.env(key)
    }

    /// A connection to the server's SQLite file, for states the API cannot produce.
    pub fn db(&self) -> rusqlite::Connection {
        open_db(&self.server.db_path())
    }

    /// Creates a backup of `env` and waits for it: the completed backup.
    pub async fn backup(&self, env: &NodeEnv, scope: BackupScope) -> Backup {
        let accepted = self
            .client
            .create_backup(&env.environment_id, scope)
            .await
            .expect("create backup");
        let job = self.wait(&accepted.job_id).await;
        assert_eq!(
            job.status,
            JobStatus::Succeeded,
            "backup of {} failed: {:?} {:?}",
            env.key,
            job.error_code,
            job.error_message
        );
        let backup = self
            .client
            .backups(&env.environment_id)
            .await
            .expect("list backups")
            .into_iter()
            .find(|b| b.job_id.as_deref() == Some(accepted.job_id.as_str()))
            .expect("the job's backup is listed");
        assert_eq!(backup.status, pressluft_common::BackupStatus::Completed);
        backup
    }

    /// Starts a restore (202) and waits for its terminal state.
    pub async fn restore(&self, env: &NodeEnv, backup_id: &str) -> Job {
        let accepted = self
            .client
            .restore(&env.environment_id, backup_id)
            .await
            .expect("restore accepted");
        self.wait(&accepted.job_id).await
    }

    pub async fn wait(&self, job_id: &str) -> Job {
        self.client
            .wait_job(job_id, JOB_WAIT)
            .await
            .unwrap_or_else(|e| panic!("{e}\nserver log:\n{}", tail(&self.server.log_text())))
    }

    /// Asserts that the environment and its site are `active` again.
    pub async fn assert_active(&self, env: &NodeEnv) {
        let e = self.client.environment(&env.environment_id).await.unwrap();
        assert_eq!(e.status, ResourceStatus::Active, "environment {}", env.key);
        let s = self.client.site(&env.site_id).await.unwrap();
        assert_eq!(s.status, ResourceStatus::Active, "site of {}", env.key);
    }

    /// The checkpoint (pre-restore) backups of restore job `job_id`.
    pub async fn checkpoints(&self, env: &NodeEnv, job_id: &str) -> Vec<Backup> {
        self.client
            .backups(&env.environment_id)
            .await
            .unwrap()
            .into_iter()
            .filter(|b| b.checkpoint_for_job_id.as_deref() == Some(job_id))
            .collect()
    }
}

pub fn open_db(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).expect("open the server's database");
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn
}

/// Records a backup row the way the store would (for hand-built artifacts and odd states).
#[allow(clippy::too_many_arguments)]
pub fn insert_backup(
    conn: &rusqlite::Connection,
    env: (&str, &str),
    scope: &str,
    status: &str,
    storage_path: &str,
    retention_until: &str,
    checksum: Option<&str>,
    size: Option<u64>,
) -> String {
    let id = pressluft_backend::util::new_id();
    conn.execute(
        "INSERT INTO backups (id, environment_id, site_id, backup_scope, status, storage_type, \
         storage_path, retention_until, checksum, size_bytes, created_at, completed_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, 'local', ?6, ?7, ?8, ?9, ?10, ?10)",
        params![
            id,
            env.0,
            env.1,
            scope,
            status,
            storage_path,
            retention_until,
            checksum,
            size.map(|s| s as i64),
            pressluft_backend::util::now()
        ],
    )
    .expect("insert backup row");
    id
}

/// A hand-built artifact placed in the server's store and recorded as a `completed` backup
/// with its real sha256 and size. Returns the backup id.
pub fn store_artifact(rig: &Rig, env: &NodeEnv, scope: &str, build: impl FnOnce(&Path)) -> String {
    let dir = rig
        .server
        .data_dir
        .join("backups")
        .join(&env.site_id)
        .join(&env.environment_id);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.tar.zst", pressluft_backend::util::new_id()));
    build(&path);
    let (sha, size) = pressluft_artifact::hash_file(&path).expect("hash the artifact");
    insert_backup(
        &rig.db(),
        (&env.environment_id, &env.site_id),
        scope,
        "completed",
        &path.to_string_lossy(),
        "2999-01-01T00:00:00Z",
        Some(&sha),
        Some(size),
    )
}

/// What a restore may or may not change in an environment, see the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvState {
    pub files: String,
    pub tables: String,
    pub options: String,
}

impl EnvState {
    pub fn of(env: &NodeEnv) -> EnvState {
        let full = fingerprint(env);
        let (files, _) = full
            .split_once("\n--tables--\n")
            .expect("fingerprint layout");
        let tables: Vec<String> = sql(&env.db_name, "SHOW TABLES")
            .lines()
            .filter(|t| *t != "wp_options")
            .map(|t| format!("`{t}`"))
            .collect();
        let tables = if tables.is_empty() {
            String::new()
        } else {
            sql(
                &env.db_name,
                &format!("CHECKSUM TABLE {}", tables.join(", ")),
            )
        };
        let options = sql(
            &env.db_name,
            "SELECT option_id, option_name, MD5(option_value), autoload FROM wp_options \
             WHERE option_name NOT LIKE '\\_transient%' AND option_name NOT LIKE '\\_site\\_transient%' \
             AND option_name <> 'cron' ORDER BY option_name",
        );
        EnvState {
            files: without_dir_sizes(files),
            tables,
            options,
        }
    }

    /// Panics with the first differing lines of each part.
    pub fn assert_same(&self, other: &EnvState, what: &str) {
        for (name, a, b) in [
            ("files", &self.files, &other.files),
            ("tables", &self.tables, &other.tables),
            ("wp_options", &self.options, &other.options),
        ] {
            if a != b {
                panic!("{what}: {name} differ:\n{}", first_diff(a, b));
            }
        }
    }
}

/// The fingerprint lists directories with their size, which is the file system's allocation
/// for the directory's entries (it depends on the directory's history, not on its content):
/// dropped, so a restored tree compares equal to the tree it was backed up from.
fn without_dir_sizes(files: &str) -> String {
    files
        .lines()
        .map(|l| match l.rsplitn(5, ' ').collect::<Vec<_>>().as_slice() {
            [_size, _uid, _mode, "d", _path] => l[..l.rfind(' ').unwrap()].to_string(),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn first_diff(a: &str, b: &str) -> String {
    let (al, bl): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let mut out = Vec::new();
    for i in 0..al.len().max(bl.len()) {
        let (x, y) = (al.get(i).copied(), bl.get(i).copied());
        if x != y {
            out.push(format!("  line {i}:\n    - {x:?}\n    + {y:?}"));
            if out.len() >= 8 {
                break;
            }
        }
    }
    format!("{} vs {} lines\n{}", al.len(), bl.len(), out.join("\n"))
}

/// Titles of the published posts, in id order.
pub fn post_titles(env: &NodeEnv) -> Vec<String> {
    sql(
        &env.db_name,
        "SELECT post_title FROM wp_posts WHERE post_type = 'post' AND post_status = 'publish' ORDER BY ID",
    )
    .lines()
    .map(String::from)
    .collect()
}

/// Work dirs, restore databases and import users a restore must not leave behind.
pub fn leftovers(env: &NodeEnv) -> Vec<String> {
    let mut found = Vec::new();
    if let Ok(rd) = std::fs::read_dir(Path::new(&env.files_root).join(".pressluft")) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("restore-") {
                found.push(format!(".pressluft/{name}"));
            }
        }
    }
    let db = env.db_name.replace('_', "\\_");
    for d in sql(
        "mysql",
        &format!(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE '{db}\\_rs%' \
             OR SCHEMA_NAME LIKE '{db}\\_old%' OR SCHEMA_NAME LIKE '{db}\\_rf%'"
        ),
    )
    .lines()
    {
        found.push(format!("database {d}"));
    }
    for u in sql(
        "mysql",
        "SELECT User FROM mysql.user WHERE User LIKE 'pressluft\\_rs%'",
    )
    .lines()
    {
        found.push(format!("user {u}"));
    }
    found
}

/// Names of the job's steps with their status, in order.
pub fn steps(job: &Job) -> Vec<(String, StepStatus)> {
    job.steps
        .iter()
        .map(|s| (s.name.clone(), s.status))
        .collect()
}

/// Asserts that `want` appear in this order among the job's steps, each succeeded.
pub fn assert_steps_in_order(job: &Job, want: &[&str]) {
    let got = steps(job);
    let mut at = 0;
    for w in want {
        match got[at..].iter().position(|(n, _)| n == w) {
            Some(i) => {
                let (_, status) = &got[at + i];
                assert_eq!(*status, StepStatus::Succeeded, "step {w}: {got:?}");
                at += i + 1;
            }
            None => panic!("step {w} missing or out of order in {got:?}"),
        }
    }
    assert!(
        got.iter().all(|(_, s)| *s != StepStatus::Failed),
        "a step failed: {got:?}"
    );
}

/// The failed job's code, with the message and log tail in the panic if it differs.
pub fn assert_failed_with(job: &Job, code: &str) {
    assert_eq!(
        (job.status, job.error_code.as_deref()),
        (JobStatus::Failed, Some(code)),
        "message: {:?}\nsteps: {:?}\ntail: {:?}",
        job.error_message,
        steps(job),
        job.output_tail
    );
}

pub fn tail(s: &str) -> &str {
    let start = s.len().saturating_sub(6000);
    let start = (start..s.len())
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(0);
    &s[start..]
}
