//! Test support: start the real `pressluft-server` binary on 127.0.0.1:0 with a temporary data
//! dir and an admin account, find its address in its log, and log in with the shared client.

#![allow(dead_code)]

use pressluft_common::Client;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const ADMIN_EMAIL: &str = "admin@example.test";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

pub fn server_bin() -> &'static str {
    env!("CARGO_BIN_EXE_pressluft-server")
}

/// Repository root (for ansible/ and scripts/).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("backend has a parent")
        .to_path_buf()
}

pub struct TestServer {
    pub child: Option<Child>,
    pub url: String,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub log: Arc<Mutex<String>>,
    env: Vec<(String, String)>,
}

impl TestServer {
    /// A fresh server with short test timings and an admin account.
    pub fn start() -> TestServer {
        Self::start_with(&[])
    }

    pub fn start_with(env: &[(&str, &str)]) -> TestServer {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data_dir = tmp.path().join("data");
        create_admin(&data_dir);
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut server = TestServer {
            child: None,
            url: String::new(),
            data_dir,
            _tmp: Some(tmp),
            log: Arc::new(Mutex::new(String::new())),
            env,
        };
        server.spawn();
        server
    }

    /// Starts (or restarts) the server process on the same data dir.
    pub fn spawn(&mut self) {
        let mut cmd = Command::new(server_bin());
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .env("PRESSLUFT_ANSIBLE_DIR", repo_root().join("ansible"))
            .env("PRESSLUFT_RETRY_BACKOFF_MS", "200,400,600")
            .env("PRESSLUFT_HEARTBEAT_MS", "300")
            .env("PRESSLUFT_LEASE_TIMEOUT_MS", "3000")
            .env("PRESSLUFT_POLL_MS", "200")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn pressluft-server");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        let log = self.log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line
                    .split("addr=")
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next())
                {
                    if line.contains("listening") {
                        if let Some(tx) = tx.take() {
                            let _ = tx.send(addr.to_string());
                        }
                    }
                }
                if let Ok(mut l) = log.lock() {
                    l.push_str(&line);
                    l.push('\n');
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "pressluft-server did not report its address; log:\n{}",
                    self.log.lock().map(|l| l.clone()).unwrap_or_default()
                );
            }
        };
        self.url = format!("http://{addr}");
        self.child = Some(child);
    }

    /// An unauthenticated client.
    pub fn anon(&self) -> Client {
        Client::new(&self.url)
    }

    /// A client logged in as the admin.
    pub async fn client(&self) -> Client {
        let mut c = Client::new(&self.url);
        c.login(ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .expect("admin login");
        c
    }

    /// Sends SIGTERM and waits for the process to exit (returns its exit status).
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        child.wait().ok()
    }

    /// SIGKILL, as a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log_text(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("pressluft.db")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `pressluft-server admin create` with the password on stdin.
pub fn create_admin(data_dir: &Path) {
    let mut child = Command::new(server_bin())
        .args(["admin", "create", "--email", ADMIN_EMAIL, "--data-dir"])
        .arg(data_dir)
        .env_remove("PRESSLUFT_ADMIN_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn admin create");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{ADMIN_PASSWORD}\n").as_bytes())
        .expect("write password");
    let out = child.wait_with_output().expect("admin create");
    assert!(
        out.status.success(),
        "admin create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Polls `cond` until it is true or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if cond().await {
            return;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
