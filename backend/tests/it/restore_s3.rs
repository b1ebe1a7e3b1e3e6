//! Backups to and restores from an S3-compatible store (a real `moto_server` on loopback)
//! against the real local node.

use crate::node::{sql, Node};
use crate::s3::Moto;
use crate::support::TestServer;
use pressluft_common::{BackupScope, BackupStatus, JobStatus, StorageType};
use sha2::{Digest, Sha256};
use std::time::Duration;

const BUCKET: &str = "pl-node-backups";

fn s3_env(moto: &Moto) -> Vec<(&'static str, String)> {
    vec![
        ("PRESSLUFT_STORAGE", "s3".into()),
        ("PRESSLUFT_S3_ENDPOINT", moto.url()),
        ("PRESSLUFT_S3_BUCKET", BUCKET.into()),
        ("PRESSLUFT_S3_ACCESS_KEY_ID", "testing".into()),
        ("PRESSLUFT_S3_SECRET_ACCESS_KEY", "testing-secret".into()),
        ("PRESSLUFT_S3_ALLOW_HTTP", "true".into()),
        ("PRESSLUFT_S3_MAX_RETRIES", "1".into()),
        ("PRESSLUFT_S3_RETRY_TIMEOUT_SECS", "2".into()),
    ]
}

fn start(moto: &Moto) -> TestServer {
    let env = s3_env(moto);
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestServer::start_with(&pairs)
}

fn staging_files(server: &TestServer) -> Vec<String> {
    std::fs::read_dir(server.data_dir.join("backups/.s3-staging"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_backup_goes_to_s3_verified_and_restores_from_there() {
    let moto = Moto::start();
    moto.create_bucket(BUCKET).await;
    let server = start(&moto);
    let node = Node::provision(&server);
    let prod = node.env("demo/production");
    let client = server.client().await;

    let accepted = client
        .create_backup(&prod.environment_id, BackupScope::Full)
        .await
        .expect("backup accepted");
    let job = client
        .wait_job(&accepted.job_id, Duration::from_secs(240))
        .await
        .expect("backup job ends");
    assert_eq!(
        job.status,
        JobStatus::Succeeded,
        "{job:#?}\n{}",
        server.log_text()
    );
    assert!(
        job.steps.iter().any(|s| s.name == "upload to store"),
        "{:?}",
        job.steps
    );

    let backups = client.backups(&prod.environment_id).await.expect("list");
    let b = &backups[0];
    assert_eq!(b.status, BackupStatus::Completed);
    assert_eq!(b.storage_type, StorageType::S3);
    assert_eq!(
        b.storage_path,
        format!("{}/{}/{}.tar.zst", prod.site_id, prod.environment_id, b.id)
    );
    // The object in the bucket has exactly the recorded checksum and size.
    let body = reqwest::get(format!("{}/{BUCKET}/{}", moto.url(), b.storage_path))
        .await
        .expect("GET object")
        .bytes()
        .await
        .expect("object body");
    assert_eq!(Some(body.len() as u64), b.size_bytes);
    assert_eq!(Some(hex::encode(Sha256::digest(&body))), b.checksum);
    assert!(
        staging_files(&server).is_empty(),
        "local staging left behind"
    );

    let original = sql(
        &prod.db_name,
        "SELECT post_title FROM wp_posts WHERE ID = 1",
    );
    sql(
        &prod.db_name,
        "UPDATE wp_posts SET post_title = 'changed after the S3 backup' WHERE ID = 1",
    );
    let accepted = client
        .restore(&prod.environment_id, &b.id)
        .await
        .expect("restore accepted");
    let job = client
        .wait_job(&accepted.job_id, Duration::from_secs(300))
        .await
        .expect("restore ends");
    assert_eq!(
        job.status,
        JobStatus::Succeeded,
        "{job:#?}\n{}",
        server.log_text()
    );
    assert!(
        job.steps.iter().any(|s| s.name == "fetch artifact"),
        "{:?}",
        job.steps
    );
    assert_eq!(
        sql(
            &prod.db_name,
            "SELECT post_title FROM wp_posts WHERE ID = 1"
        ),
        original
    );
    let env = client.environment(&prod.environment_id).await.expect("env");
    assert_eq!(env.status.as_str(), "active");
    assert!(
        staging_files(&server).is_empty(),
        "fetched artifact left behind"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_down_fails_the_backup_with_storage_failed_and_no_completed_record_or_object() {
    let mut moto = Moto::start();
    moto.create_bucket(BUCKET).await;
    let server = start(&moto);
    let node = Node::provision(&server);
    let prod = node.env("demo/production");
    let client = server.client().await;
    moto.stop();

    let accepted = client
        .create_backup(&prod.environment_id, BackupScope::Db)
        .await
        .expect("backup accepted");
    let job = client
        .wait_job(&accepted.job_id, Duration::from_secs(240))
        .await
        .expect("backup job ends");
    assert_eq!(job.status, JobStatus::Failed, "{job:#?}");
    assert_eq!(
        job.error_code.as_deref(),
        Some("BACKUP_STORAGE_FAILED"),
        "{job:#?}"
    );
    assert!(
        job.error_message
            .as_deref()
            .unwrap_or_default()
            .contains("STORAGE_UNAVAILABLE"),
        "{job:#?}"
    );
    let backups = client.backups(&prod.environment_id).await.expect("list");
    assert_eq!(backups.len(), 1);
    assert_eq!(backups[0].status, BackupStatus::Failed);
    assert_eq!(backups[0].checksum, None);
    assert!(
        staging_files(&server).is_empty(),
        "local staging left behind"
    );
}
