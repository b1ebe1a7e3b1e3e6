//! `pressluft-server doctor`: the real binary against a temporary data dir.

use crate::support::{create_admin, repo_root, server_bin};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `pressluft-artifact` of this build: test binaries live in `<target>/<profile>/deps`, the
/// binaries in `<target>/<profile>` (built here when missing, e.g. with `-p pressluft-backend`).
fn artifact_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary in <target>/<profile>/deps");
    let bin = profile_dir.join("pressluft-artifact");
    if !bin.is_file() {
        let target_dir = profile_dir.parent().expect("<target>");
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args([
            "build",
            "-p",
            "pressluft-artifact",
            "--bin",
            "pressluft-artifact",
        ])
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(repo_root());
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build -p pressluft-artifact");
        assert!(
            status.success() && bin.is_file(),
            "cannot build {}",
            bin.display()
        );
    }
    bin
}

fn doctor(data_dir: &Path, env: &[(&str, &Path)]) -> (Output, String) {
    let mut cmd = Command::new(server_bin());
    cmd.arg("doctor")
        .arg("--data-dir")
        .arg(data_dir)
        .env("PRESSLUFT_ANSIBLE_DIR", repo_root().join("ansible"))
        .env("PRESSLUFT_ARTIFACT_BIN", artifact_bin())
        .env("NO_COLOR", "1")
        .env_remove("PRESSLUFT_BACKUP_DIR")
        .env_remove("PRESSLUFT_STORAGE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run pressluft-server doctor");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, stdout)
}

fn line<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with `{prefix}` in:\n{stdout}"))
}

#[test]
fn doctor_passes_on_a_fresh_data_dir_with_an_admin() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    create_admin(&data);
    let (out, stdout) = doctor(&data, &[]);
    for what in [
        "database",
        "admin",
        "backup store",
        "ansible",
        "ansible dir",
        "artifact tool",
    ] {
        line(&stdout, &format!("ok   {what}: "));
    }
    // Every migration in backend/migrations is applied.
    let migrations = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "sql")
        })
        .count();
    assert!(
        line(&stdout, "ok   database: ")
            .contains(&format!("integrity ok, schema version {migrations}")),
        "{stdout}"
    );
    assert!(!stdout.contains("FAIL"), "{stdout}");
    assert_eq!(out.status.code(), Some(0), "{stdout}");
}

#[test]
fn doctor_fails_when_the_backup_dir_is_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    create_admin(&data);
    let file = tmp.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let (out, stdout) = doctor(&data, &[("PRESSLUFT_BACKUP_DIR", &file)]);
    let fail = line(&stdout, "FAIL backup store: ");
    assert!(fail.contains("STORAGE_UNAVAILABLE"), "{stdout}");
    assert!(fail.contains(&*file.to_string_lossy()), "{stdout}");
    line(&stdout, "ok   database: ");
    assert_eq!(out.status.code(), Some(1), "{stdout}");
}

#[test]
fn doctor_fails_without_a_database() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let (out, stdout) = doctor(&data, &[]);
    let fail = line(&stdout, "FAIL database: ");
    assert!(fail.contains("admin create"), "{stdout}");
    assert!(
        !data.join("pressluft.db").exists(),
        "doctor must not create it"
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}");
}
