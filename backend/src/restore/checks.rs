//! Preflight checks of a restore (blocking; run off the async runtime): the artifact is present
//! with its recorded size, there is disk for staging, the node and its database answer, and the
//! backup store can take the pre-restore backup.

use crate::backups::target::Target;
use pressluft_common::{Backup, PreflightCheck};
use std::path::Path;
use std::process::Command;

/// `stored_size`: the artifact's size as the store reports it (`Ok(None)`: no such object).
pub fn all(
    t: &Target,
    b: &Backup,
    backup_dir: &Path,
    stored_size: Result<Option<u64>, String>,
) -> Vec<PreflightCheck> {
    vec![
        artifact_present(b, stored_size),
        free_disk(t, b),
        node_reachable(t),
        database_reachable(t),
        store_writable(backup_dir),
    ]
}

fn check(name: &str, result: Result<String, String>) -> PreflightCheck {
    match result {
        Ok(detail) => PreflightCheck {
            name: name.into(),
            ok: true,
            detail,
        },
        Err(detail) => PreflightCheck {
            name: name.into(),
            ok: false,
            detail,
        },
    }
}

fn artifact_present(b: &Backup, stored_size: Result<Option<u64>, String>) -> PreflightCheck {
    let res = match stored_size {
        Err(e) => Err(format!(
            "the artifact {} cannot be read ({e}); pick another backup",
            b.storage_path
        )),
        Ok(None) => Err(format!(
            "the artifact {} is missing from the store; pick another backup",
            b.storage_path
        )),
        Ok(Some(len)) if Some(len) != b.size_bytes => Err(format!(
            "the artifact has {len} bytes but {} were recorded: it is damaged; pick another backup",
            b.size_bytes.unwrap_or(0)
        )),
        Ok(Some(len)) => Ok(format!("{len} bytes as recorded")),
    };
    check("artifact present", res)
}

/// Bytes the restore needs on the environment's file system: the unpacked backup plus a
/// pre-restore backup of about the same size, with 10 % slack.
pub fn needed_bytes(b: &Backup) -> u64 {
    // The manifest is read from a local artifact; for S3 assume a 4x compression ratio.
    let unpacked = pressluft_artifact::read_manifest(&b.storage_path)
        .map(|m| m.files_bytes + m.db_dump_size.unwrap_or(0))
        .unwrap_or(b.size_bytes.unwrap_or(0).saturating_mul(4));
    let artifact = b.size_bytes.unwrap_or(0);
    (unpacked.saturating_add(artifact)).saturating_mul(11) / 10
}

fn free_disk(t: &Target, b: &Backup) -> PreflightCheck {
    let need = needed_bytes(b);
    let res = match pressluft_artifact::unpack::free_bytes(Path::new(&t.files_root)) {
        Err(e) => Err(format!(
            "cannot measure free space under {}: {e}",
            t.files_root
        )),
        Ok(free) if free < need => Err(format!(
            "{} free under {} but the restore needs about {}; free some space first",
            human(free),
            t.files_root,
            human(need)
        )),
        Ok(free) => Ok(format!(
            "{} free, about {} needed",
            human(free),
            human(need)
        )),
    };
    check("free disk for staging", res)
}

fn node_reachable(t: &Target) -> PreflightCheck {
    let res = if t.node_status != "active" {
        Err(format!("the node is {}, not active", t.node_status))
    } else if !Path::new(&t.files_root).join("current").exists() {
        Err(format!(
            "{}/current does not exist on the node; is the environment provisioned?",
            t.files_root
        ))
    } else {
        Ok("local node active, environment files present".into())
    };
    check("node reachable", res)
}

fn database_reachable(t: &Target) -> PreflightCheck {
    let out = Command::new("timeout")
        .args(["10", "mariadb", "-N", "-B", "-e"])
        .arg(format!(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '{}'",
            t.db_name.replace('\'', "")
        ))
        .output();
    let res = match out {
        Err(e) => Err(format!("cannot run the mariadb client: {e}")),
        Ok(o) if !o.status.success() => Err(format!(
            "MariaDB does not answer ({}); check `mariadb-admin ping` on the node",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Ok(o) => {
            let n = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if n == "0" {
                Err(format!(
                    "database {} has no tables or does not exist",
                    t.db_name
                ))
            } else {
                Ok(format!("database {} answers ({n} tables)", t.db_name))
            }
        }
    };
    check("database reachable", res)
}

fn store_writable(backup_dir: &Path) -> PreflightCheck {
    let probe = backup_dir.join(format!(".probe-{}", std::process::id()));
    let res = std::fs::create_dir_all(backup_dir)
        .and_then(|_| std::fs::write(&probe, b"probe"))
        .and_then(|_| std::fs::remove_file(&probe))
        .map(|_| {
            format!(
                "{} writable for the pre-restore backup",
                backup_dir.display()
            )
        })
        .map_err(|e| {
            format!(
                "the backup store {} is not writable: {e}",
                backup_dir.display()
            )
        });
    check("backup store writable", res)
}

pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}
