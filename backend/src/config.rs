//! Server configuration: flags and `PRESSLUFT_*` variables with embedded defaults
//! (SQLite file and local backup store under the data dir). `Debug` never shows secrets.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Root of the local backup store (default `<data_dir>/backups`).
    pub backup_dir: PathBuf,
    /// Directory holding `ansible.cfg` and `playbooks/`.
    pub ansible_dir: PathBuf,
    /// `ansible-playbook` executable.
    pub ansible_playbook: PathBuf,
    /// The `pressluft-artifact` binary the playbooks run on the node.
    pub artifact_bin: PathBuf,
    pub workers: usize,
    pub job_timeout: Duration,
    /// Backoff before retry attempts 2, 3, ... (default 1 min, 5 min, 15 min).
    pub retry_backoff: Vec<Duration>,
    pub heartbeat_interval: Duration,
    /// A running job whose heartbeat is older than this is taken back.
    pub lease_timeout: Duration,
    pub poll_interval: Duration,
    pub retention_days: i64,
    pub cleanup_interval: Duration,
    pub cookie_secure: bool,
    /// Where backup artifacts are stored (local directory by default, or S3).
    pub storage: crate::storage::StorageConfig,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("backup_dir", &self.backup_dir)
            .field("ansible_dir", &self.ansible_dir)
            .field("workers", &self.workers)
            .field("job_timeout", &self.job_timeout)
            .field("retention_days", &self.retention_days)
            .field("storage", &self.storage)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Defaults for a data dir; every field can be overridden by flags / environment.
    pub fn with_data_dir(data_dir: PathBuf) -> Config {
        let repo = default_repo_dir();
        let backups = data_dir.join("backups");
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            backup_dir: backups.clone(),
            data_dir,
            ansible_dir: repo.join("ansible"),
            ansible_playbook: PathBuf::from("ansible-playbook"),
            artifact_bin: default_artifact_bin(),
            workers: 2,
            job_timeout: Duration::from_secs(30 * 60),
            retry_backoff: vec![
                Duration::from_secs(60),
                Duration::from_secs(5 * 60),
                Duration::from_secs(15 * 60),
            ],
            heartbeat_interval: Duration::from_secs(5),
            lease_timeout: Duration::from_secs(60),
            poll_interval: Duration::from_secs(5),
            retention_days: 30,
            cleanup_interval: Duration::from_secs(6 * 3600),
            cookie_secure: false,
            storage: crate::storage::StorageConfig::Local { root: backups },
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("pressluft.db")
    }

    /// Backoff before the attempt after `attempt_count` failed attempts.
    pub fn backoff_after(&self, attempt_count: i64) -> Duration {
        let i = (attempt_count.max(1) as usize - 1).min(self.retry_backoff.len().saturating_sub(1));
        self.retry_backoff
            .get(i)
            .copied()
            .unwrap_or(Duration::from_secs(60))
    }
}

/// The repository root: `PRESSLUFT_HOME`, else the directory above the executable's `target/`,
/// else the current directory.
fn default_repo_dir() -> PathBuf {
    if let Ok(home) = std::env::var("PRESSLUFT_HOME") {
        return PathBuf::from(home);
    }
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors() {
            if dir.join("ansible/ansible.cfg").is_file() {
                return dir.to_path_buf();
            }
        }
    }
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}

/// `pressluft-artifact` next to the running executable, else on PATH.
fn default_artifact_bin() -> PathBuf {
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            let candidate = dir.join("pressluft-artifact");
            if candidate.is_file() {
                return candidate;
            }
            // Test binaries live in target/<profile>/deps.
            if let Some(up) = dir.parent() {
                let candidate = up.join("pressluft-artifact");
                if candidate.is_file() {
                    return candidate;
                }
            }
        }
    }
    PathBuf::from("pressluft-artifact")
}
