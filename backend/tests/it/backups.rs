//! `backup_create` and `backup_cleanup` end to end on the real local WordPress node: the real
//! server binary, the real `backup-create.yml` and `pressluft-artifact`, MariaDB and the local
//! store. Every test holds the node (`Node::provision`) for its whole duration; artifacts are
//! opened with stock tools (`zstd`, `tar`, `mariadb`), never with our own crate.

use crate::node::{fingerprint, http_get, sql, Node, NodeEnv};
use crate::support::{repo_root, TestServer};
use futures_util::StreamExt;
use pressluft_backend::db::{tx_sync, Db};
use pressluft_backend::jobs::store::{enqueue, NewJob};
use pressluft_common::{
    Backup, BackupScope, BackupStatus, Client, Job, JobEvent, JobStatus, JobType, StepStatus,
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const JOB_WAIT: Duration = Duration::from_secs(180);
const DEMO_PROD: &str = "demo/production";
const DEMO_STAGING: &str = "demo/staging";
const OTHER_PROD: &str = "other/production";
const ALL_ENVS: [&str; 3] = [DEMO_PROD, DEMO_STAGING, OTHER_PROD];

// ---------------------------------------------------------------------------------------------
// helpers

/// A server, its admin client and the node registered into it (node lock held).
async fn start(env: &[(&str, &str)]) -> (TestServer, Client, Node) {
    let server = TestServer::start_with(env);
    let node = Node::provision(&server);
    let client = server.client().await;
    (server, client, node)
}

/// Requests a backup of `env` and returns its job id.
async fn request(client: &Client, env: &NodeEnv, scope: BackupScope) -> String {
    client
        .create_backup(&env.environment_id, scope)
        .await
        .unwrap_or_else(|e| panic!("POST backups of {} ({scope:?}): {e}", env.key))
        .job_id
}

async fn wait(client: &Client, job_id: &str) -> Job {
    client
        .wait_job(job_id, JOB_WAIT)
        .await
        .unwrap_or_else(|e| panic!("job {job_id} did not end: {e}"))
}

/// The backup that `job_id` creates, from the environment's backup list.
async fn backup_of(client: &Client, env: &NodeEnv, job_id: &str) -> Backup {
    client
        .backups(&env.environment_id)
        .await
        .expect("list backups")
        .into_iter()
        .find(|b| b.job_id.as_deref() == Some(job_id))
        .unwrap_or_else(|| panic!("no backup of {} for job {job_id}", env.key))
}

/// The backup `id` of `env` as the API lists it now.
async fn current(client: &Client, env: &NodeEnv, id: &str) -> Backup {
    client
        .backups(&env.environment_id)
        .await
        .expect("list backups")
        .into_iter()
        .find(|b| b.id == id)
        .unwrap_or_else(|| panic!("backup {id} is no longer listed"))
}

/// Requests a backup, waits for its job (which must succeed) and returns both.
async fn backup_ok(client: &Client, env: &NodeEnv, scope: BackupScope) -> (Job, Backup) {
    let job_id = request(client, env, scope).await;
    let job = wait(client, &job_id).await;
    assert_eq!(
        job.status,
        JobStatus::Succeeded,
        "backup job of {} ({scope:?}) failed: {:?} {:?}\n{}",
        env.key,
        job.error_code,
        job.error_message,
        job.output_tail.as_deref().unwrap_or_default()
    );
    let backup = backup_of(client, env, &job_id).await;
    (job, backup)
}

/// sha256 (hex) and size of a file, read by the test itself.
fn sha256_file(path: &Path) -> (String, u64) {
    let mut f =
        std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    (hex::encode(hasher.finalize()), size)
}

fn sha256_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `bash -c script`, which must succeed; returns stdout.
fn sh(script: &str) -> Vec<u8> {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("set -o pipefail; {script}"))
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "`{script}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn quote(p: &Path) -> String {
    format!("'{}'", p.to_string_lossy().replace('\'', "'\\''"))
}

/// Entry names of an artifact, in archive order, as `zstd -dc | tar -t` lists them.
fn tar_list(artifact: &Path) -> Vec<String> {
    let out = sh(&format!("zstd -q -dc -- {} | tar -tf -", quote(artifact)));
    String::from_utf8(out)
        .expect("utf-8 names")
        .lines()
        .map(str::to_string)
        .collect()
}

/// One member of an artifact, extracted with `zstd -dc | tar -xO`.
fn tar_member(artifact: &Path, name: &str) -> Vec<u8> {
    sh(&format!(
        "zstd -q -dc -- {} | tar -xOf - {}",
        quote(artifact),
        quote(Path::new(name))
    ))
}

fn manifest_of(artifact: &Path) -> Value {
    serde_json::from_slice(&tar_member(artifact, "manifest.json")).expect("manifest is JSON")
}

fn ts(s: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("timestamp {s:?}: {e}"))
}

/// Every path under `dir` (recursively), relative to it; empty when `dir` does not exist.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap_or(&p).to_path_buf());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Asserts that nothing of a failed backup stays in storage: no object, no partial object.
fn assert_no_object(b: &Backup) {
    let path = Path::new(&b.storage_path);
    assert!(
        std::fs::symlink_metadata(path).is_err(),
        "a failed backup left its object at {}",
        path.display()
    );
    if let Some(dir) = path.parent() {
        let leftovers: Vec<_> = tree(dir)
            .into_iter()
            .filter(|p| {
                p.to_string_lossy().contains(&b.id) || p.to_string_lossy().contains("partial")
            })
            .collect();
        assert!(
            leftovers.is_empty(),
            "a failed backup left files in {}: {leftovers:?}",
            dir.display()
        );
    }
}

/// Asserts that the backup's work dir inside the environment is gone.
fn assert_no_work_dir(env: &NodeEnv, backup_id: &str) {
    let work = Path::new(&env.files_root)
        .join(".pressluft")
        .join(format!("backup-{backup_id}"));
    assert!(
        !work.exists(),
        "the backup's work dir {} was left behind",
        work.display()
    );
}

/// Raw API call (for bodies the typed client cannot express); returns (status, body).
async fn raw_post(client: &Client, path: &str, body: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", client.base_url()))
        .bearer_auth(client.token().expect("logged in"))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("POST");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn backup_path(env_id: &str) -> String {
    format!("/api/environments/{env_id}/backups")
}

/// Sets a column of the server's database directly (what the API does not let a test do).
fn db_exec(server: &TestServer, sql: &str, params: &[&str]) -> usize {
    let conn = rusqlite::Connection::open(server.db_path()).expect("open the server's db");
    conn.busy_timeout(Duration::from_secs(10))
        .expect("busy timeout");
    conn.execute(sql, rusqlite::params_from_iter(params.iter()))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn job_result(server: &TestServer, job_id: &str) -> Value {
    let conn = rusqlite::Connection::open(server.db_path()).expect("open the server's db");
    let text: Option<String> = conn
        .query_row(
            "SELECT result_json FROM jobs WHERE id = ?1",
            [job_id],
            |r| r.get(0),
        )
        .expect("job row");
    serde_json::from_str(&text.expect("a result")).expect("result JSON")
}

/// Enqueues `backup_cleanup` bound to the local node, as the scheduler does.
fn enqueue_cleanup(server: &TestServer, node: &Node) -> String {
    let node_id = node.state["node"]["id"]
        .as_str()
        .expect("node id")
        .to_string();
    let db = Db::open(&server.db_path()).expect("open the server's database");
    let mut conn = db.conn().expect("conn");
    tx_sync(&mut conn, |tx| {
        enqueue(
            tx,
            NewJob {
                job_type: JobType::BackupCleanup,
                site_id: None,
                environment_id: None,
                node_id: Some(node_id),
                backup_id: None,
                payload: serde_json::json!({}),
                max_attempts: 1,
            },
        )
    })
    .expect("enqueue backup_cleanup")
}

/// `SELECT post_title … WHERE post_status='publish'` of a database.
fn published_titles(db: &str) -> String {
    sql(
        db,
        "SELECT post_title FROM wp_posts WHERE post_status='publish' ORDER BY ID",
    )
}

/// A scratch MariaDB database, dropped when this goes out of scope (also on panic).
struct ScratchDb(String);

impl ScratchDb {
    fn create() -> ScratchDb {
        let name = format!(
            "pl_test_load_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        sql("mysql", &format!("CREATE DATABASE `{name}`"));
        ScratchDb(name)
    }

    /// Loads a dump with the stock client.
    fn load(&self, dump: &[u8]) {
        let mut child = Command::new("mariadb")
            .arg(&self.0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mariadb");
        let mut stdin = child.stdin.take().expect("stdin");
        let dump = dump.to_vec();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            stdin.write_all(&dump)
        });
        let out = child.wait_with_output().expect("mariadb");
        writer.join().expect("writer").expect("write the dump");
        assert!(
            out.status.success(),
            "the dump does not load into an empty database: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        let _ = Command::new("mariadb")
            .args(["-e", &format!("DROP DATABASE IF EXISTS `{}`", self.0)])
            .status();
    }
}

fn mariadb_answers() -> bool {
    Command::new("mariadb-admin")
        .args(["--connect-timeout=2", "ping"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// MariaDB stopped for the lifetime of this value; started again on drop (also on panic).
struct MariaDbStopped;

impl MariaDbStopped {
    fn stop() -> MariaDbStopped {
        let guard = MariaDbStopped;
        let status = Command::new("mariadb-admin")
            .arg("shutdown")
            .status()
            .expect("mariadb-admin shutdown");
        assert!(status.success(), "mariadb-admin shutdown failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        while mariadb_answers() {
            assert!(
                Instant::now() < deadline,
                "MariaDB still answers after shutdown"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        guard
    }

    /// `install-deps.sh --services-only`, with its output in a file: the MariaDB it starts
    /// keeps a shell holding the caller's stdout/stderr for as long as MariaDB runs, so a pipe
    /// there (`Command::output`) would never reach EOF.
    fn restart() {
        let log = tempfile::NamedTempFile::new().expect("log file");
        let status = Command::new("bash")
            .arg(repo_root().join("scripts/install-deps.sh"))
            .arg("--services-only")
            .stdin(Stdio::null())
            .stdout(log.reopen().expect("log"))
            .stderr(log.reopen().expect("log"))
            .status();
        if !status.as_ref().is_ok_and(|s| s.success()) || !mariadb_answers() {
            eprintln!(
                "restarting MariaDB failed ({status:?}):\n{}",
                std::fs::read_to_string(log.path()).unwrap_or_default()
            );
        }
    }
}

impl Drop for MariaDbStopped {
    fn drop(&mut self) {
        if !mariadb_answers() {
            Self::restart();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// tests

#[tokio::test]
async fn full_backup_records_the_stored_objects_checksum_and_opens_with_stock_tools() {
    let (_server, client, node) = start(&[]).await;
    let env = node.env(DEMO_PROD);

    // An earlier (db) backup first, so "newest first" means something.
    let (_, older) = backup_ok(&client, &env, BackupScope::Db).await;
    let requested_at = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap();
    let (job, backup) = backup_ok(&client, &env, BackupScope::Full).await;

    // The list: newest first, the full backup completed with what the store holds.
    let list = client.backups(&env.environment_id).await.expect("list");
    let ids: Vec<&str> = list.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids, [backup.id.as_str(), older.id.as_str()], "newest first");
    assert_eq!(backup.status, BackupStatus::Completed);
    assert_eq!(backup.backup_scope, BackupScope::Full);
    assert_eq!(backup.environment_id, env.environment_id);
    assert_eq!(backup.site_id, env.site_id);
    assert_eq!(job.backup_id.as_deref(), Some(backup.id.as_str()));
    let artifact = PathBuf::from(&backup.storage_path);
    assert!(artifact.is_file(), "no object at {}", artifact.display());
    assert!(
        backup.storage_path.ends_with(&format!(
            "{}/{}/{}.tar.zst",
            env.site_id, env.environment_id, backup.id
        )),
        "unexpected storage path {}",
        backup.storage_path
    );
    let (sha, size) = sha256_file(&artifact);
    assert_eq!(
        backup.checksum.as_deref(),
        Some(sha.as_str()),
        "checksum = sha256 of the stored bytes"
    );
    assert_eq!(
        backup.size_bytes,
        Some(size),
        "size_bytes = size of the stored object"
    );

    // Dates: completed, retention 30 days after creation.
    let created = ts(&backup.created_at);
    assert!(
        created >= requested_at,
        "created_at {created} before the request"
    );
    let completed = ts(backup.completed_at.as_deref().expect("completed_at set"));
    assert!(completed >= created, "completed before it was created");
    assert_eq!(
        ts(&backup.retention_until) - created,
        time::Duration::days(30),
        "retention_until = created_at + 30 days"
    );

    // Stock tools open it; the manifest comes first and describes the rest.
    let names = tar_list(&artifact);
    assert_eq!(
        names.first().map(String::as_str),
        Some("manifest.json"),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n == "database.sql"));
    assert!(names.iter().any(|n| n.starts_with("files/current/")));
    assert!(names.iter().any(|n| n.starts_with("files/shared/")));
    assert!(
        names
            .iter()
            .any(|n| n == "files/current/wp-includes/version.php"),
        "the WordPress core is in the backup"
    );
    let cached: Vec<&String> = names
        .iter()
        .filter(|n| n.contains("wp-content/cache"))
        .collect();
    assert!(
        cached.is_empty(),
        "cache directories are excluded: {cached:?}"
    );
    let m = manifest_of(&artifact);
    assert_eq!(m["format_version"], 1);
    assert_eq!(m["site_id"], env.site_id.as_str());
    assert_eq!(m["environment_id"], env.environment_id.as_str());
    assert_eq!(m["backup_id"], backup.id.as_str());
    assert_eq!(m["scope"], "full");
    assert_eq!(
        m["entry_count"].as_u64(),
        Some(names.len() as u64 - 1),
        "entry_count = entries after the manifest"
    );
    assert!(m["wordpress_version"].is_string(), "{m}");
    let dump = tar_member(&artifact, "database.sql");
    assert_eq!(m["db_dump_sha256"], sha256_bytes(&dump).as_str());
    assert_eq!(m["db_dump_size"].as_u64(), Some(dump.len() as u64));

    // The dump loads into an empty database and holds the live content.
    let live = published_titles(&env.db_name);
    assert!(!live.is_empty(), "the demo site has published posts");
    {
        let scratch = ScratchDb::create();
        scratch.load(&dump);
        assert_eq!(published_titles(&scratch.0), live);
    }

    // The job shows its steps, all succeeded.
    let steps: Vec<(&str, StepStatus)> = job
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.status))
        .collect();
    assert_eq!(
        steps,
        [
            ("check database", StepStatus::Succeeded),
            ("export database", StepStatus::Succeeded),
            ("pack and store", StepStatus::Succeeded),
            ("verify stored object", StepStatus::Succeeded),
        ],
        "{:#?}",
        job.steps
    );
    assert_eq!(job.attempt_count, 1);
    assert!(job.error_code.is_none());
    assert_no_work_dir(&env, &backup.id);
}

#[tokio::test]
async fn db_and_files_scopes_hold_only_their_part() {
    let (_server, client, node) = start(&[]).await;
    let env = node.env(DEMO_PROD);

    let (_, db) = backup_ok(&client, &env, BackupScope::Db).await;
    let artifact = PathBuf::from(&db.storage_path);
    let (sha, size) = sha256_file(&artifact);
    assert_eq!(
        (db.checksum.as_deref(), db.size_bytes),
        (Some(sha.as_str()), Some(size))
    );
    assert_eq!(tar_list(&artifact), ["manifest.json", "database.sql"]);
    let m = manifest_of(&artifact);
    assert_eq!(m["scope"], "db");
    assert_eq!(m["entry_count"], 1);
    let dump = tar_member(&artifact, "database.sql");
    assert_eq!(m["db_dump_sha256"], sha256_bytes(&dump).as_str());
    assert!(m["wordpress_version"].is_null(), "{m}");

    let (files_job, files) = backup_ok(&client, &env, BackupScope::Files).await;
    let artifact = PathBuf::from(&files.storage_path);
    let (sha, size) = sha256_file(&artifact);
    assert_eq!(
        (files.checksum.as_deref(), files.size_bytes),
        (Some(sha.as_str()), Some(size))
    );
    let names = tar_list(&artifact);
    assert_eq!(names[0], "manifest.json");
    let stray: Vec<&String> = names[1..]
        .iter()
        .filter(|n| {
            let top = n.split('/').take(2).collect::<Vec<_>>().join("/");
            !(top == "files/current" || top == "files/shared")
        })
        .collect();
    assert!(
        stray.is_empty(),
        "a files backup holds only files/current and files/shared: {stray:?}"
    );
    assert!(names.iter().any(|n| n.starts_with("files/current/")));
    assert!(names.iter().any(|n| n.starts_with("files/shared/")));
    let m = manifest_of(&artifact);
    assert_eq!(m["scope"], "files");
    assert_eq!(m["entry_count"].as_u64(), Some(names.len() as u64 - 1));
    assert!(
        m["db_dump_sha256"].is_null() && m["db_dump_size"].is_null(),
        "{m}"
    );
    // A files backup does not touch the database at all.
    let steps: Vec<(&str, StepStatus)> = files_job
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.status))
        .collect();
    assert_eq!(
        steps,
        [
            ("check database", StepStatus::Skipped),
            ("export database", StepStatus::Skipped),
            ("pack and store", StepStatus::Succeeded),
            ("verify stored object", StepStatus::Succeeded),
        ]
    );
}

#[tokio::test]
async fn mariadb_stopped_fails_the_backup_with_a_db_code_and_leaves_no_object() {
    let (_server, client, node) = start(&[]).await;
    let env = node.env(DEMO_PROD);
    let job = {
        let _stopped = MariaDbStopped::stop();
        let job_id = request(&client, &env, BackupScope::Db).await;
        wait(&client, &job_id).await
    };
    assert!(mariadb_answers(), "MariaDB is running again");

    assert_eq!(job.status, JobStatus::Failed, "{job:#?}");
    assert_eq!(
        job.error_code.as_deref(),
        Some("BACKUP_DB_UNAVAILABLE"),
        "{job:#?}"
    );
    assert_eq!(job.attempt_count, 3, "retried up to max_attempts");
    assert_eq!(job.max_attempts, 3);
    let msg = job.error_message.as_deref().unwrap_or_default();
    assert!(
        msg.contains("MariaDB") && msg.contains("mariadb-admin ping") && msg.contains("retry"),
        "the message tells the operator what to do: {msg}"
    );
    assert!(
        msg.contains(&env.db_name),
        "the message names the database: {msg}"
    );
    let failed_step = job.steps.iter().find(|s| s.status == StepStatus::Failed);
    assert_eq!(
        failed_step.map(|s| s.name.as_str()),
        Some("check database"),
        "{:#?}",
        job.steps
    );

    let backup = backup_of(&client, &env, &job.id).await;
    assert_eq!(backup.status, BackupStatus::Failed);
    assert_eq!(backup.checksum, None);
    assert_eq!(backup.size_bytes, None);
    assert_eq!(backup.completed_at, None);
    assert_no_object(&backup);
    assert_no_work_dir(&env, &backup.id);
}

#[tokio::test]
async fn an_unwritable_store_fails_the_backup_with_storage_failed_and_no_completed_record() {
    let store_parent = tempfile::tempdir().expect("tempdir");
    let store = store_parent.path().join("store");
    std::fs::create_dir(&store).expect("store dir");
    let store_str = store.to_string_lossy().into_owned();
    let (_server, client, node) = start(&[("PRESSLUFT_BACKUP_DIR", &store_str)]).await;
    let env = node.env(DEMO_PROD);
    // The site's directory in the store is taken by a regular file: nothing can be stored.
    let in_the_way = store.join(&env.site_id);
    std::fs::write(&in_the_way, b"not a directory\n").expect("file in the way");

    let job_id = request(&client, &env, BackupScope::Full).await;
    let job = wait(&client, &job_id).await;
    assert_eq!(job.status, JobStatus::Failed, "{job:#?}");
    assert_eq!(
        job.error_code.as_deref(),
        Some("BACKUP_STORAGE_FAILED"),
        "{job:#?}"
    );
    let msg = job.error_message.as_deref().unwrap_or_default();
    assert!(
        msg.contains("not stored"),
        "the message says nothing was stored: {msg}"
    );
    let failed_step = job.steps.iter().find(|s| s.status == StepStatus::Failed);
    assert_eq!(
        failed_step.map(|s| s.name.as_str()),
        Some("pack and store"),
        "{:#?}",
        job.steps
    );

    let list = client.backups(&env.environment_id).await.expect("list");
    assert_eq!(list.len(), 1, "{list:#?}");
    let backup = &list[0];
    assert_eq!(backup.status, BackupStatus::Failed);
    assert!(
        backup.storage_path.starts_with(&store_str),
        "{}",
        backup.storage_path
    );
    assert_eq!(
        (backup.checksum.as_deref(), backup.size_bytes),
        (None, None)
    );
    assert_eq!(backup.completed_at, None);
    // Nothing was written to the store, the file in the way is untouched.
    assert_eq!(tree(&store), [PathBuf::from(&env.site_id)]);
    assert_eq!(std::fs::read(&in_the_way).unwrap(), b"not a directory\n");
    assert_no_work_dir(&env, &backup.id);
}

#[tokio::test]
async fn backup_requests_need_an_active_environment_and_no_pending_job_for_the_site() {
    let (server, client, node) = start(&[]).await;
    let prod = node.env(DEMO_PROD);
    let staging = node.env(DEMO_STAGING);
    let other = node.env(OTHER_PROD);

    let first = request(&client, &prod, BackupScope::Full).await;
    let jobs_before = client.jobs().await.expect("jobs").len();
    let backups_before = client.backups(&staging.environment_id).await.unwrap().len();
    // While the site has a job queued or running, no other backup of any of its environments.
    for (env, scope) in [
        (&prod, BackupScope::Full),
        (&prod, BackupScope::Db),
        (&staging, BackupScope::Files),
    ] {
        let err = client
            .create_backup(&env.environment_id, scope)
            .await
            .expect_err("a second backup of the site while one is pending");
        assert_eq!(
            (err.status(), err.code()),
            (Some(409), Some("job_already_active")),
            "{err}"
        );
        assert!(
            err.to_string().contains(&first),
            "the message names the active job: {err}"
        );
    }
    assert_eq!(
        client.jobs().await.unwrap().len(),
        jobs_before,
        "no job row for a refused request"
    );
    assert_eq!(
        client.backups(&staging.environment_id).await.unwrap().len(),
        backups_before
    );
    assert_eq!(client.backups(&prod.environment_id).await.unwrap().len(), 1);
    // Another site is not blocked (its job waits for the node, then runs).
    let other_job = request(&client, &other, BackupScope::Db).await;
    assert_eq!(wait(&client, &first).await.status, JobStatus::Succeeded);
    assert_eq!(wait(&client, &other_job).await.status, JobStatus::Succeeded);

    // Concurrent requests for the site: exactly one is accepted.
    let jobs_before = client.jobs().await.unwrap().len();
    let attempts = [&prod, &staging, &prod, &staging]
        .map(|env| client.create_backup(&env.environment_id, BackupScope::Db));
    let results = futures_util::future::join_all(attempts).await;
    let accepted: Vec<&String> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|a| &a.job_id)
        .collect();
    assert_eq!(accepted.len(), 1, "{results:?}");
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(r.code(), Some("job_already_active"), "{r}");
    }
    assert_eq!(client.jobs().await.unwrap().len(), jobs_before + 1);
    assert_eq!(
        wait(&client, accepted[0]).await.status,
        JobStatus::Succeeded
    );

    // An environment that is not active.
    db_exec(
        &server,
        "UPDATE environments SET status = 'failed' WHERE id = ?1",
        &[&staging.environment_id],
    );
    let jobs_before = client.jobs().await.unwrap().len();
    let staging_backups = client.backups(&staging.environment_id).await.unwrap().len();
    let err = client
        .create_backup(&staging.environment_id, BackupScope::Full)
        .await
        .expect_err("backup of a failed environment");
    assert_eq!(
        (err.status(), err.code()),
        (Some(409), Some("environment_not_active")),
        "{err}"
    );
    assert!(
        err.to_string().contains("reset"),
        "the message says how to get out: {err}"
    );
    assert_eq!(client.jobs().await.unwrap().len(), jobs_before);
    assert_eq!(
        client.backups(&staging.environment_id).await.unwrap().len(),
        staging_backups,
        "no backup row for a refused request"
    );
    db_exec(
        &server,
        "UPDATE environments SET status = 'active' WHERE id = ?1",
        &[&staging.environment_id],
    );

    // Unknown environment, bad scope, malformed id, missing scope.
    let unknown = uuid::Uuid::new_v4().to_string();
    let err = client
        .create_backup(&unknown, BackupScope::Full)
        .await
        .expect_err("unknown environment");
    assert_eq!(
        (err.status(), err.code()),
        (Some(404), Some("environment_not_found")),
        "{err}"
    );
    let (status, body) = raw_post(
        &client,
        &backup_path(&prod.environment_id),
        r#"{"backup_scope":"everything"}"#,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("bad_request")),
        "{body}"
    );
    let (status, body) = raw_post(&client, &backup_path(&prod.environment_id), r#"{}"#).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("bad_request")),
        "{body}"
    );
    let (status, body) = raw_post(
        &client,
        &backup_path("not-a-uuid"),
        r#"{"backup_scope":"full"}"#,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("bad_request")),
        "{body}"
    );
    assert_eq!(
        client.jobs().await.unwrap().len(),
        jobs_before,
        "no job row for a refused request"
    );

    // The environment is usable again once active.
    backup_ok(&client, &staging, BackupScope::Db).await;
}

#[tokio::test]
async fn lifecycle_and_retention() {
    let (server, client, node) = start(&[]).await;
    let prod = node.env(DEMO_PROD);
    let other = node.env(OTHER_PROD);

    // other/production runs first; the demo backup waits for the node, so `pending` is visible.
    let other_job = request(&client, &other, BackupScope::Full).await;
    let job_id = request(&client, &prod, BackupScope::Full).await;
    let events = client
        .job_events(&job_id, None)
        .await
        .expect("event stream");
    let collector = tokio::spawn(async move {
        let mut statuses = Vec::new();
        let mut events = Box::pin(events);
        while let Some(ev) = events.next().await {
            if let JobEvent::Status { status, .. } = ev.expect("event") {
                statuses.push(status);
            }
        }
        statuses
    });
    let mut seen: Vec<BackupStatus> = Vec::new();
    let deadline = Instant::now() + JOB_WAIT;
    loop {
        let b = backup_of(&client, &prod, &job_id).await;
        if seen.last() != Some(&b.status) {
            seen.push(b.status);
        }
        if matches!(b.status, BackupStatus::Completed | BackupStatus::Failed) {
            break;
        }
        assert!(Instant::now() < deadline, "backup still {:?}", b.status);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        seen,
        [
            BackupStatus::Pending,
            BackupStatus::Running,
            BackupStatus::Completed
        ]
    );
    let statuses = tokio::time::timeout(Duration::from_secs(30), collector)
        .await
        .expect("the event stream ends after the terminal status")
        .expect("collector");
    let mut deduped = statuses.clone();
    deduped.dedup();
    assert_eq!(
        deduped,
        [JobStatus::Queued, JobStatus::Running, JobStatus::Succeeded],
        "{statuses:?}"
    );
    assert_eq!(wait(&client, &other_job).await.status, JobStatus::Succeeded);
    let b1 = backup_of(&client, &prod, &job_id).await;
    let b_other = backup_of(&client, &other, &other_job).await;
    let (_, b2) = backup_ok(&client, &prod, BackupScope::Db).await;
    let (_, b3) = backup_ok(&client, &prod, BackupScope::Db).await;

    // b1 is past its retention; so is b3, but it is the newest completed backup of demo/production.
    // b2 and other/production's backup are within retention.
    let past = "2000-01-01T00:00:00Z";
    for b in [&b1, &b3] {
        db_exec(
            &server,
            "UPDATE backups SET retention_until = ?2 WHERE id = ?1",
            &[&b.id, past],
        );
    }
    let cleanup = enqueue_cleanup(&server, &node);
    let job = wait(&client, &cleanup).await;
    assert_eq!(job.status, JobStatus::Succeeded, "{job:#?}");
    let result = job_result(&server, &cleanup);
    assert_eq!(
        (result["expired"].as_u64(), result["files_deleted"].as_u64()),
        (Some(1), Some(1)),
        "{result}"
    );

    let b1_now = current(&client, &prod, &b1.id).await;
    assert_eq!(b1_now.status, BackupStatus::Expired);
    assert!(
        !Path::new(&b1.storage_path).exists(),
        "the expired object was deleted"
    );
    for (b, env) in [(&b2, &prod), (&b3, &prod), (&b_other, &other)] {
        let fresh = current(&client, env, &b.id).await;
        assert_eq!(fresh.status, BackupStatus::Completed, "{} must stay", b.id);
        assert_eq!(fresh.checksum, b.checksum);
        assert_eq!(
            sha256_file(Path::new(&b.storage_path)).0,
            b.checksum.clone().unwrap()
        );
    }

    // A second run changes nothing.
    let again = enqueue_cleanup(&server, &node);
    assert_eq!(wait(&client, &again).await.status, JobStatus::Succeeded);
    let result = job_result(&server, &again);
    assert_eq!(
        (result["expired"].as_u64(), result["files_deleted"].as_u64()),
        (Some(0), Some(0)),
        "{result}"
    );
    assert_eq!(
        current(&client, &prod, &b3.id).await.status,
        BackupStatus::Completed
    );
    assert!(Path::new(&b3.storage_path).is_file());
}

#[tokio::test]
async fn a_backup_never_touches_the_environment() {
    let (_server, client, node) = start(&[]).await;
    let envs: Vec<NodeEnv> = ALL_ENVS.iter().map(|k| node.env(k)).collect();
    let before: Vec<String> = envs.iter().map(fingerprint).collect();
    let prod = &envs[0];
    assert_eq!(http_get(&prod.preview_url).await.0, 200);

    let (_, backup) = backup_ok(&client, prod, BackupScope::Full).await;
    assert_eq!(backup.status, BackupStatus::Completed);

    for (env, before) in envs.iter().zip(&before) {
        assert!(
            *before == fingerprint(env),
            "{} changed during a backup",
            env.key
        );
    }
    assert_eq!(
        http_get(&prod.preview_url).await.0,
        200,
        "the site still serves"
    );
    let env_row = client
        .environment(&prod.environment_id)
        .await
        .expect("environment");
    assert_eq!(env_row.status, pressluft_common::ResourceStatus::Active);
    assert_no_work_dir(prod, &backup.id);
}
