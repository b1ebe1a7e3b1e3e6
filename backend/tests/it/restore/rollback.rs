//! Restores that fail after staging began: the previous files and database are put back
//! before the job fails, and the environment is active again.

use super::hostile::{dump_of, with_dump};
use super::{assert_failed_with, insert_backup, leftovers, EnvState, Rig};
use crate::node::http_get;
use pressluft_common::BackupScope;
use std::path::{Path, PathBuf};

const ROLLED_BACK: &str = "The previous files and database were put back";

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_health_check_rolls_back_files_and_database() {
    let rig = Rig::start().await;
    let prod = rig.env("demo/production");
    // A full backup taken while the front page answers 500: valid, but it fails the preview
    // check once restored (WordPress itself still loads, and the database answers).
    let index = Path::new(&prod.files_root).join("current/index.php");
    let original = std::fs::read(&index).unwrap();
    std::fs::write(
        &index,
        b"<?php http_response_code(500); echo 'broken on purpose';\n",
    )
    .unwrap();
    assert_eq!(http_get(&prod.preview_url).await.0, 500);
    let broken = rig.backup(&prod, BackupScope::Full).await;
    std::fs::write(&index, &original).unwrap();
    assert_eq!(http_get(&prod.preview_url).await.0, 200);
    let before = EnvState::of(&prod);

    let job = rig.restore(&prod, &broken.id).await;
    assert_failed_with(&job, "RESTORE_HEALTH_CHECK_FAILED");
    assert_eq!(job.attempt_count, 1);
    let msg = job.error_message.clone().unwrap_or_default();
    assert!(msg.contains("500") && msg.contains(ROLLED_BACK), "{msg}");
    let swapped = job
        .steps
        .iter()
        .any(|s| s.name == "swap files" && s.status == pressluft_common::StepStatus::Succeeded)
        && job.steps.iter().any(|s| {
            s.name == "swap database" && s.status == pressluft_common::StepStatus::Succeeded
        });
    assert!(
        swapped,
        "the health check ran on the swapped state: {:?}",
        super::steps(&job)
    );

    EnvState::of(&prod).assert_same(&before, "demo/production after the rollback");
    rig.assert_active(&prod).await;
    assert_eq!(http_get(&prod.preview_url).await.0, 200);
    assert_eq!(leftovers(&prod), Vec::<String>::new());
    let checkpoints = rig.checkpoints(&prod, &job.id).await;
    assert_eq!(checkpoints.len(), 1, "{checkpoints:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_database_import_rolls_back_files_and_database() {
    let rig = Rig::start().await;
    let prod = rig.env("demo/production");
    let good = rig.backup(&prod, BackupScope::Full).await;
    // The real dump with a statement MariaDB rejects at its end: the staging database is half
    // loaded when the import stops. The manifest's dump sha256/size match the new dump, so
    // every check before the import passes.
    let mut dump = dump_of(Path::new(&good.storage_path));
    dump.extend_from_slice(b"\nINSERT INTO wp_posts VALUES (this is not SQL);\n");
    let path = PathBuf::from(format!("{}.broken-dump.tar.zst", good.storage_path));
    with_dump(Path::new(&good.storage_path), &path, &dump);
    let (sha, size) = pressluft_artifact::hash_file(&path).unwrap();
    let broken = insert_backup(
        &rig.db(),
        (&prod.environment_id, &prod.site_id),
        "full",
        "completed",
        &path.to_string_lossy(),
        &good.retention_until,
        Some(&sha),
        Some(size),
    );
    let before = EnvState::of(&prod);

    let job = rig.restore(&prod, &broken).await;
    assert_failed_with(&job, "RESTORE_DB_IMPORT_FAILED");
    // Not retried: the same dump fails the same way (restore/job.rs, docs/error-codes.md).
    assert_eq!(job.attempt_count, 1);
    let msg = job.error_message.clone().unwrap_or_default();
    assert!(msg.contains("ERROR") && msg.contains(ROLLED_BACK), "{msg}");
    assert!(
        job.steps.iter().any(|s| s.name == "unpack to staging"
            && s.status == pressluft_common::StepStatus::Succeeded),
        "the artifact unpacked: {:?}",
        super::steps(&job)
    );

    EnvState::of(&prod).assert_same(&before, "demo/production after the failed import");
    rig.assert_active(&prod).await;
    assert_eq!(http_get(&prod.preview_url).await.0, 200);
    assert_eq!(
        leftovers(&prod),
        Vec::<String>::new(),
        "the half-loaded staging database is dropped"
    );
}
