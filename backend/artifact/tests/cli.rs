//! The binary: one JSON object on stdout, stable codes and exit codes, help texts.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn run(args: &[&str]) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_pressluft-artifact"))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.trim_end().lines().count(),
        1,
        "exactly one line of JSON: {stdout}"
    );
    let v: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
    (out.status.code().unwrap(), v)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn pack_verify_inspect_unpack_via_cli() {
    let t = tempfile::tempdir().unwrap();
    let env = common::build_env(t.path());
    let dump = common::write_dump(t.path());
    let out = t.path().join("store/b.tar.zst");
    let (code, v) = run(&[
        "pack",
        "--scope",
        "full",
        "--site-id",
        "site-1",
        "--environment-id",
        "env-1",
        "--backup-id",
        "bk-1",
        "--env-root",
        s(&env),
        "--db-dump",
        s(&dump),
        "--out",
        s(&out),
        "--level",
        "5",
        "--exclude",
        "current/wp-content/themes",
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["ok"], true);
    assert_eq!(v["storage_path"], s(&out));
    assert_eq!(v["manifest"]["scope"], "full");
    assert_eq!(v["manifest"]["wordpress_version"], "6.1.9");
    let sha = v["sha256"].as_str().unwrap().to_string();
    let size = v["size_bytes"].as_u64().unwrap();
    assert_eq!(fs::metadata(&out).unwrap().len(), size);

    let (code, v) = run(&[
        "verify",
        "--artifact",
        s(&out),
        "--sha256",
        &sha,
        "--size",
        &size.to_string(),
    ]);
    assert_eq!(
        (code, v["ok"].clone(), v["sha256"].as_str()),
        (0, Value::Bool(true), Some(sha.as_str()))
    );

    let (code, v) = run(&[
        "verify",
        "--artifact",
        s(&out),
        "--sha256",
        &"0".repeat(64),
        "--size",
        &size.to_string(),
    ]);
    assert_eq!(
        (code, v["ok"].clone(), v["code"].as_str()),
        (4, Value::Bool(false), Some("ARTIFACT_CHECKSUM_MISMATCH"))
    );
    let (code, v) = run(&[
        "verify",
        "--artifact",
        s(&out),
        "--sha256",
        &sha,
        "--size",
        "1",
    ]);
    assert_eq!(
        (code, v["code"].as_str()),
        (5, Some("ARTIFACT_SIZE_MISMATCH"))
    );

    let (code, v) = run(&["inspect", "--artifact", s(&out)]);
    assert_eq!(code, 0);
    assert_eq!(v["manifest"]["site_id"], "site-1");

    let dest = t.path().join("staging");
    let (code, v) = run(&[
        "unpack",
        "--artifact",
        s(&out),
        "--dest",
        s(&dest),
        "--expect-site",
        "other",
    ]);
    assert_eq!((code, v["code"].as_str()), (7, Some("ARTIFACT_WRONG_SITE")));
    assert!(!dest.exists());
    let (code, v) = run(&[
        "unpack",
        "--artifact",
        s(&out),
        "--dest",
        s(&dest),
        "--expect-site",
        "site-1",
        "--sha256",
        &sha,
        "--size",
        &size.to_string(),
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(
        (v["has_db"].as_bool(), v["has_files"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(v["entries"].as_u64().unwrap() > 5);
    assert!(dest.join("files/current/index.php").is_file());

    // refusing to overwrite
    let (code, v) = run(&[
        "pack",
        "--scope",
        "db",
        "--site-id",
        "s",
        "--environment-id",
        "e",
        "--backup-id",
        "b",
        "--db-dump",
        s(&dump),
        "--out",
        s(&out),
    ]);
    assert_eq!((code, v["code"].as_str()), (3, Some("ARTIFACT_IO")));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec![],
        vec!["frobnicate"],
        vec!["pack", "--scope", "all"],
        vec![
            "verify",
            "--artifact",
            "x",
            "--sha256",
            "00",
            "--size",
            "nope",
        ],
        vec!["inspect", "--artifact"],
        vec!["inspect", "--artifact", "a", "--artifact", "b"],
        vec![
            "unpack",
            "--artifact",
            "a",
            "--dest",
            "d",
            "--expect-site",
            "s",
            "--sha256",
            "x",
        ],
        vec![
            "pack",
            "--scope",
            "db",
            "--site-id",
            "s",
            "--environment-id",
            "e",
            "--backup-id",
            "b",
            "--out",
            "o",
        ],
    ] {
        let (code, v) = run(&args);
        assert_eq!(code, 2, "{args:?}: {v}");
        assert_eq!(v["code"], "ARTIFACT_USAGE", "{args:?}");
        assert_eq!(v["ok"], false);
        assert!(!v["message"].as_str().unwrap().is_empty());
    }
}

#[test]
fn help_exits_0() {
    for args in [
        vec!["--help"],
        vec!["help"],
        vec!["help", "unpack"],
        vec!["pack", "--help"],
        vec!["verify", "-h"],
        vec!["inspect", "--help"],
        vec!["unpack", "--help"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_pressluft-artifact"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("USAGE"), "{args:?}: {text}");
    }
}

#[test]
fn io_errors_are_reported_as_json() {
    let (code, v) = run(&["inspect", "--artifact", "/nonexistent/x.tar.zst"]);
    assert_eq!((code, v["code"].as_str()), (3, Some("ARTIFACT_IO")));
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("/nonexistent/x.tar.zst"));
    let t = tempfile::tempdir().unwrap();
    let junk = t.path().join("junk");
    fs::write(&junk, b"this is not zstd").unwrap();
    let (code, v) = run(&["inspect", "--artifact", s(&junk)]);
    assert_eq!(
        (code, v["code"].as_str()),
        (8, Some("ARTIFACT_CORRUPT")),
        "{v}"
    );
}
