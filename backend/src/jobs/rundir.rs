//! The private directory of one playbook run under `<data_dir>/runs/` (0700): generated
//! inventory and extra-vars (0600, created exclusively), events and result files. Removed when
//! the run ends; leftovers of a dead process are removed at start-up.

use super::handler::JobFailure;
use crate::config::Config;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn runs_dir(config: &Config) -> PathBuf {
    config.data_dir.join("runs")
}

pub(super) async fn prepare_dir(
    config: &Config,
    job_id: &str,
) -> Result<tempfile::TempDir, JobFailure> {
    let base = runs_dir(config);
    let prefix = format!("job-{}-", &job_id[..job_id.len().min(8)]);
    tokio::task::spawn_blocking(move || -> std::io::Result<tempfile::TempDir> {
        std::fs::create_dir_all(&base)?;
        set_mode(&base, 0o700)?;
        let dir = tempfile::Builder::new().prefix(&prefix).tempdir_in(&base)?;
        set_mode(dir.path(), 0o700)?;
        std::fs::create_dir(dir.path().join("ansible-local"))?;
        Ok(dir)
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r.map_err(|e| e.to_string()))
    .map_err(|e| {
        JobFailure::new(
            "JOB_INTERNAL_ERROR",
            format!("cannot create the run directory: {e}"),
            true,
        )
    })
}

pub(super) async fn write_inputs(
    dir: &Path,
    inventory: &Value,
    vars: &Value,
) -> Result<(), JobFailure> {
    let files = [
        (dir.join("inventory.json"), inventory.to_string()),
        (dir.join("vars.json"), vars.to_string()),
    ];
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        for (path, text) in files {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)?;
            f.write_all(text.as_bytes())?;
        }
        Ok(())
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r.map_err(|e| e.to_string()))
    .map_err(|e| {
        JobFailure::new(
            "JOB_INTERNAL_ERROR",
            format!("cannot write the run's inventory and vars: {e}"),
            true,
        )
    })
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Removes run directories left by a process that died (called before workers start).
pub(super) async fn clean_run_dirs(config: &Config) {
    let base = runs_dir(config);
    let _ = tokio::task::spawn_blocking(move || {
        if let Ok(entries) = std::fs::read_dir(&base) {
            for e in entries.flatten() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    })
    .await;
}
