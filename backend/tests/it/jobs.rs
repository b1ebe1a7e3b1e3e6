//! Job engine tests through the real binary and the real `ansible-playbook`: a temp copy of
//! `ansible/` whose `playbooks/node-check.yml` is one of `tests/fixtures/playbooks/`, jobs
//! enqueued straight into the server's database with `jobs::store::enqueue`, followed through
//! the API. Shared helpers live here; `sshd` runs a real SSH server for remote nodes.

mod cancel;
mod events;
mod queue;
mod recovery;
mod runner;
mod scheduler;
mod sshd;

use crate::support::TestServer;
use pressluft_backend::db::{tx_sync, Db};
use pressluft_backend::jobs::store::{enqueue, NewJob};
use pressluft_common::{Client, Job, JobType, RegisterNode, RegisterSite};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub const JOB_WAIT: Duration = Duration::from_secs(120);

pub struct JobsEnv {
    pub server: TestServer,
    pub client: Client,
    pub local_node: String,
    _ansible: tempfile::TempDir,
    pub scratch: tempfile::TempDir,
}

/// A copy of the repository's `ansible/` with `fixture` installed as `playbooks/node-check.yml`.
pub fn ansible_with(fixture: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = crate::support::repo_root();
    let ok = Command::new("cp")
        .arg("-r")
        .arg(root.join("ansible"))
        .arg(dir.path())
        .status()
        .expect("cp");
    assert!(ok.success());
    let src = root.join("backend/tests/fixtures/playbooks").join(fixture);
    std::fs::copy(&src, dir.path().join("ansible/playbooks/node-check.yml")).expect("fixture");
    dir
}

impl JobsEnv {
    /// A server running `fixture` for `node_check` jobs, with the local node registered.
    pub async fn start(fixture: &str, env: &[(&str, &str)]) -> JobsEnv {
        let ansible = ansible_with(fixture);
        let dir = ansible
            .path()
            .join("ansible")
            .to_string_lossy()
            .into_owned();
        let mut all: Vec<(&str, &str)> = vec![("PRESSLUFT_ANSIBLE_DIR", dir.as_str())];
        all.extend_from_slice(env);
        let server = TestServer::start_with(&all);
        let client = server.client().await;
        let local = client
            .register_node(&node_req("local", "127.0.0.1", 22, None, true))
            .await
            .expect("register local node");
        JobsEnv {
            server,
            client,
            local_node: local.id,
            _ansible: ansible,
            scratch: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn db(&self) -> Db {
        Db::open(&self.server.db_path()).expect("open the server's database")
    }

    pub async fn site(&self, slug: &str) -> String {
        let req = RegisterSite {
            id: None,
            name: format!("Site {slug}"),
            slug: slug.to_string(),
        };
        self.client
            .register_site(&req)
            .await
            .expect("register site")
            .id
    }

    pub async fn ssh_node(&self, name: &str, port: u16, key: Option<&Path>) -> String {
        let req = node_req(name, "127.0.0.1", port, key, false);
        self.client
            .register_node(&req)
            .await
            .expect("register ssh node")
            .id
    }

    /// Enqueues `jobs` in one transaction; returns their ids.
    pub fn enqueue_all(&self, jobs: Vec<NewJob>) -> Vec<String> {
        let db = self.db();
        let mut conn = db.conn().expect("conn");
        tx_sync(&mut conn, |tx| {
            jobs.into_iter().map(|j| enqueue(tx, j)).collect()
        })
        .expect("enqueue")
    }

    /// Enqueues a job that is not due before 2999 (it stays queued).
    pub fn enqueue_not_due(&self, job: NewJob) -> String {
        let db = self.db();
        let mut conn = db.conn().expect("conn");
        tx_sync(&mut conn, |tx| {
            let id = enqueue(tx, job)?;
            tx.execute(
                "UPDATE jobs SET run_after = '2999-01-01T00:00:00Z' WHERE id = ?1",
                [&id],
            )?;
            Ok(id)
        })
        .expect("enqueue")
    }

    pub fn enqueue(&self, job: NewJob) -> String {
        self.enqueue_all(vec![job]).remove(0)
    }

    pub async fn wait(&self, id: &str) -> Job {
        self.client.wait_job(id, JOB_WAIT).await.expect("job ends")
    }

    pub async fn wait_for(&self, id: &str, what: &str, cond: impl Fn(&Job) -> bool) -> Job {
        let deadline = std::time::Instant::now() + JOB_WAIT;
        loop {
            if let Ok(job) = self.client.job(id).await {
                if cond(&job) {
                    return job;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "timed out waiting for {what}: {job:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn scratch(&self, name: &str) -> PathBuf {
        self.scratch.path().join(name)
    }

    /// `result_json` of a job (not part of the wire type).
    pub fn result_json(&self, id: &str) -> Option<Value> {
        let conn = self.db().conn().expect("conn");
        let text: Option<String> = conn
            .query_row("SELECT result_json FROM jobs WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .expect("job row");
        text.map(|t| serde_json::from_str(&t).expect("json"))
    }
}

pub fn node_req(
    name: &str,
    host: &str,
    port: u16,
    key: Option<&Path>,
    is_local: bool,
) -> RegisterNode {
    RegisterNode {
        id: None,
        name: name.to_string(),
        hostname: host.to_string(),
        public_ip: None,
        ssh_port: port,
        ssh_user: "root".to_string(),
        ssh_key_path: key.map(|k| k.to_string_lossy().into_owned()),
        is_local,
    }
}

/// A `node_check` job on `node` (and optionally a site) with `payload` as extra-vars.
pub fn node_check(node: &str, site: Option<&str>, payload: Value, max_attempts: i64) -> NewJob {
    NewJob {
        job_type: JobType::NodeCheck,
        site_id: site.map(str::to_string),
        environment_id: None,
        node_id: Some(node.to_string()),
        backup_id: None,
        payload,
        max_attempts,
    }
}

/// Pids of processes whose command line is exactly `argv`.
pub fn pids_running(argv: &[&str]) -> Vec<u32> {
    let want: Vec<u8> = argv.iter().flat_map(|a| a.bytes().chain([0])).collect();
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter(|pid| {
                    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == want)
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn step_names(job: &Job) -> Vec<String> {
    job.steps.iter().map(|s| s.name.clone()).collect()
}
