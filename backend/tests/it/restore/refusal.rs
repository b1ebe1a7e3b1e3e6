//! Restores refused before anything live is touched: a damaged artifact (no checkpoint either)
//! and hostile archives (nothing written outside the staging area).

use super::hostile::{manifest, write_archive, Raw};
use super::{assert_failed_with, insert_backup, leftovers, store_artifact, EnvState, Rig};
use crate::node::NodeEnv;
use pressluft_common::{Backup, BackupScope};
use std::path::{Path, PathBuf};

/// Restores `backup_id` into `env` and asserts that it failed with `code` on its first and only
/// attempt, that nothing changed and that the environment is active again. Returns the message.
async fn refused(
    rig: &Rig,
    env: &NodeEnv,
    backup_id: &str,
    code: &str,
    before: &EnvState,
) -> String {
    let job = rig.restore(env, backup_id).await;
    assert_failed_with(&job, code);
    assert_eq!(job.attempt_count, 1, "{code} is not retried");
    EnvState::of(env).assert_same(
        before,
        &format!("{} after a refused restore ({code})", env.key),
    );
    rig.assert_active(env).await;
    assert_eq!(leftovers(env), Vec::<String>::new());
    job.error_message.unwrap_or_default()
}

/// A copy of `b`'s artifact, changed by `damage`, recorded with `b`'s checksum and size.
fn damaged_copy(rig: &Rig, b: &Backup, damage: impl FnOnce(&Path)) -> String {
    let path = PathBuf::from(format!(
        "{}.damaged-{}",
        b.storage_path,
        pressluft_backend::util::new_id()
    ));
    std::fs::copy(&b.storage_path, &path).unwrap();
    damage(&path);
    insert_backup(
        &rig.db(),
        (&b.environment_id, &b.site_id),
        "full",
        "completed",
        &path.to_string_lossy(),
        &b.retention_until,
        b.checksum.as_deref(),
        b.size_bytes,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corrupted_artifact_is_refused_before_anything_is_touched() {
    let rig = Rig::start().await;
    let prod = rig.env("demo/production");
    let backup = rig.backup(&prod, BackupScope::Full).await;
    let size = backup.size_bytes.unwrap();
    let flipped = damaged_copy(&rig, &backup, |p| {
        let mut bytes = std::fs::read(p).unwrap();
        bytes[(size / 2) as usize] ^= 0x01;
        std::fs::write(p, bytes).unwrap();
    });
    let truncated = damaged_copy(&rig, &backup, |p| {
        std::fs::OpenOptions::new()
            .write(true)
            .open(p)
            .unwrap()
            .set_len(size - 1)
            .unwrap();
    });
    let missing = damaged_copy(&rig, &backup, |p| std::fs::remove_file(p).unwrap());
    let before = EnvState::of(&prod);
    let backups = rig
        .client
        .backups(&prod.environment_id)
        .await
        .unwrap()
        .len();

    // Same size, one bit off: only the sha256 tells, in the job's own verification.
    let msg = refused(
        &rig,
        &prod,
        &flipped,
        "RESTORE_ARTIFACT_CHECKSUM_MISMATCH",
        &before,
    )
    .await;
    assert!(
        msg.contains("damaged") && msg.contains("Nothing was changed"),
        "{msg}"
    );
    // A size that differs from the record is caught one step earlier, by the preflight check
    // "artifact present" (docs/error-codes.md: RESTORE_PREFLIGHT_FAILED covers the artifact size).
    let msg = refused(&rig, &prod, &truncated, "RESTORE_PREFLIGHT_FAILED", &before).await;
    assert!(
        msg.contains("artifact present") && msg.contains("damaged"),
        "{msg}"
    );
    let msg = refused(&rig, &prod, &missing, "RESTORE_PREFLIGHT_FAILED", &before).await;
    assert!(
        msg.contains("artifact present") && msg.contains("missing"),
        "{msg}"
    );

    let after = rig.client.backups(&prod.environment_id).await.unwrap();
    assert_eq!(
        after.len(),
        backups,
        "no checkpoint backup was taken: {after:?}"
    );
    assert!(after.iter().all(|b| b.checkpoint_for_job_id.is_none()));
    // The intact original still restores.
    let pre = rig
        .client
        .restore_preflight(&prod.environment_id, &backup.id)
        .await
        .unwrap();
    assert!(pre.ok, "{pre:?}");
}

/// A file outside the environment that no restore may touch, removed again on drop.
struct Sentinel(PathBuf);

impl Sentinel {
    const TEXT: &'static [u8] = b"sentinel: must stay untouched\n";

    fn new(env: &NodeEnv) -> Sentinel {
        let site_dir = Path::new(&env.files_root).parent().unwrap();
        let s = Sentinel(site_dir.join("pressluft-test-sentinel"));
        std::fs::write(&s.0, Self::TEXT).unwrap();
        s
    }

    fn listing(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.0.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_archives_are_refused_and_nothing_outside_staging_changes() {
    let rig = Rig::start().await;
    let prod = rig.env("demo/production");
    let other = rig.env("other/production");
    let sentinel = Sentinel::new(&prod);
    let site_listing = sentinel.listing();
    let etc_listing = listing("/etc");
    let up6 = "../../../../../..";
    let up12 = format!("{up6}/{up6}");
    let abs = sentinel.0.to_string_lossy().into_owned();
    let cases: Vec<(&str, &str, Vec<Raw>)> = vec![
        (
            "a .. entry",
            "RESTORE_UNSAFE_ARCHIVE",
            vec![
                Raw::dir("files/current"),
                Raw::file(
                    &format!("files/current/{up6}/pressluft-test-sentinel"),
                    b"pwned\n",
                ),
            ],
        ),
        (
            "an absolute path",
            "RESTORE_UNSAFE_ARCHIVE",
            vec![Raw::dir("files/current"), Raw::file(&abs, b"pwned\n")],
        ),
        (
            "a symlink out of the environment, then a write through it",
            "RESTORE_UNSAFE_ARCHIVE",
            vec![
                Raw::dir("files/current"),
                Raw::symlink("files/current/evil", &format!("{up12}/etc")),
                Raw::file("files/current/evil/pressluft-pwned", b"pwned\n"),
            ],
        ),
        (
            "a hard link to a file outside",
            "RESTORE_UNSAFE_ARCHIVE",
            vec![
                Raw::dir("files/current"),
                Raw::hardlink("files/current/passwd", "/etc/passwd"),
            ],
        ),
        (
            "a character device",
            "RESTORE_UNSAFE_ARCHIVE",
            vec![
                Raw::dir("files/current"),
                Raw::char_device("files/current/null"),
            ],
        ),
        (
            // Each link stays inside lexically; together `a` resolves to the site directory.
            // Only the playbook's physical check after the swap catches it: rolled back.
            "a chain of links that leaves the environment only physically",
            "RESTORE_UNSAFE_ARCHIVE",
            vec![
                Raw::dir("files/current"),
                Raw::symlink("files/current/b", "../../shared/x"),
                Raw::symlink("files/current/a", "b/../../.."),
                Raw::dir("files/shared"),
                Raw::dir("files/shared/x"),
            ],
        ),
    ];
    let before = EnvState::of(&prod);
    for (case, code, entries) in cases {
        let id = store_artifact(&rig, &prod, "files", |p| {
            let mut all = vec![manifest(
                &prod.site_id,
                &prod.environment_id,
                "files",
                &entries,
                None,
            )];
            all.extend(entries);
            write_archive(p, &all);
        });
        let job = rig.restore(&prod, &id).await;
        assert_failed_with(&job, code);
        assert_eq!(job.attempt_count, 1, "{case}");
        let msg = job.error_message.unwrap_or_default();
        assert!(!msg.is_empty(), "{case}");
        EnvState::of(&prod).assert_same(&before, &format!("demo/production after {case}"));
        rig.assert_active(&prod).await;
        assert_eq!(leftovers(&prod), Vec::<String>::new(), "{case}");
        assert_eq!(
            std::fs::read(&sentinel.0).unwrap(),
            Sentinel::TEXT,
            "{case}"
        );
        assert_eq!(
            sentinel.listing(),
            site_listing,
            "{case}: the site directory changed"
        );
        assert_eq!(listing("/etc"), etc_listing, "{case}: /etc changed");
    }

    // A manifest that names the other site, in an object recorded for this one.
    let entries = vec![
        Raw::dir("files/current"),
        Raw::file("files/current/index.php", b"<?php echo 'other';\n"),
    ];
    let id = store_artifact(&rig, &prod, "files", |p| {
        let mut all = vec![manifest(
            &other.site_id,
            &other.environment_id,
            "files",
            &entries,
            None,
        )];
        all.extend(entries);
        write_archive(p, &all);
    });
    let job = rig.restore(&prod, &id).await;
    assert_failed_with(&job, "RESTORE_WRONG_SITE");
    EnvState::of(&prod).assert_same(&before, "demo/production after a wrong-site archive");
    rig.assert_active(&prod).await;
    assert_eq!(sentinel.listing(), site_listing);
}

fn listing(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
