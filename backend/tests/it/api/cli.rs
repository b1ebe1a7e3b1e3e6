//! The command line: `admin create` rules and registration straight on the database file.

use crate::support::{server_bin, TestServer};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn run(data_dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(server_bin())
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("PRESSLUFT_ADMIN_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pressluft-server");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn admin_create_refuses_a_short_password_and_a_duplicate_unless_reset_password() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let create = ["admin", "create", "--email", "ops@example.test"];
    let short = run(&dir, &create, "short pw\n");
    assert_eq!(short.status.code(), Some(1));
    assert!(
        stderr(&short).contains("at least 12 characters"),
        "{}",
        stderr(&short)
    );
    assert!(run(&dir, &create, "a long enough password\n")
        .status
        .success());
    let dup = run(&dir, &create, "another long password\n");
    assert_eq!(dup.status.code(), Some(1));
    assert!(stderr(&dup).contains("already exists"), "{}", stderr(&dup));
    assert!(stderr(&dup).contains("--reset-password"));
    let mut reset = create.to_vec();
    reset.push("--reset-password");
    let out = run(&dir, &reset, "another long password\n");
    assert!(out.status.success(), "{}", stderr(&out));
    let bad_email = run(
        &dir,
        &["admin", "create", "--email", "nope"],
        "a long enough password\n",
    );
    assert_eq!(bad_email.status.code(), Some(1));
}

#[tokio::test]
async fn cli_registration_works_on_the_database_and_answers_json() {
    let s = TestServer::start();
    let dir = s.data_dir.clone();
    let node = run(
        &dir,
        &[
            "node",
            "register",
            "--name",
            "local",
            "--hostname",
            "localhost",
            "--local",
        ],
        "",
    );
    assert!(node.status.success(), "{}", stderr(&node));
    let node: pressluft_common::Node = serde_json::from_slice(&node.stdout).expect("node JSON");
    let site = run(
        &dir,
        &["site", "register", "--name", "Shop", "--slug", "shop"],
        "",
    );
    let site: pressluft_common::Site = serde_json::from_slice(&site.stdout).expect("site JSON");
    let env_args = [
        "environment",
        "register",
        "--site",
        "shop",
        "--name",
        "Production",
        "--slug",
        "prod",
        "--type",
        "production",
        "--node",
        "local",
        "--preview-url",
        "http://127.0.0.1:8081/",
        "--files-root",
        "/srv/www/shop",
        "--db-name",
        "wp_shop",
        "--system-user",
        "www-data",
    ];
    let env = run(&dir, &env_args, "");
    assert!(env.status.success(), "{}", stderr(&env));
    let env: pressluft_common::Environment = serde_json::from_slice(&env.stdout).expect("env JSON");
    assert_eq!(
        (env.site_id.as_str(), env.node_id.as_str()),
        (site.id.as_str(), node.id.as_str())
    );
    // Idempotent: the same command again prints the same environment.
    let again: pressluft_common::Environment =
        serde_json::from_slice(&run(&dir, &env_args, "").stdout).expect("env JSON");
    assert_eq!(again, env);
    let list = run(&dir, &["site", "list"], "");
    let sites: Vec<pressluft_common::Site> =
        serde_json::from_slice(&list.stdout).expect("list JSON");
    assert_eq!(sites.len(), 1);
    assert_eq!(
        sites[0].primary_environment_id.as_deref(),
        Some(env.id.as_str())
    );
    let dup = run(
        &dir,
        &["site", "register", "--name", "Other", "--slug", "shop"],
        "",
    );
    assert_eq!(dup.status.code(), Some(1));
    assert!(stderr(&dup).contains("conflict"), "{}", stderr(&dup));
    // The running server sees what the command line registered.
    let c = s.client().await;
    assert_eq!(c.environment(&env.id).await.unwrap(), env);
    let rows = super::audit_rows(&s, "environment.register");
    assert_eq!(rows[0].0.as_deref(), Some("cli"));
}
