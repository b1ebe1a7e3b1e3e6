//! Restores that succeed: a full backup into its own environment, and a database backup of
//! staging into production.

use super::{assert_steps_in_order, leftovers, post_titles, EnvState, Rig};
use crate::node::{fingerprint, http_get, sql};
use pressluft_common::{BackupScope, BackupStatus, JobStatus, ResourceStatus};
use std::path::Path;

const CHANGED_TITLE: &str = "Changed after the backup";
const ADDED_TITLE: &str = "Added after the backup";

/// Edits a post, adds one, swaps an upload for a new one and adds a file to the release.
fn change_everything(env: &crate::node::NodeEnv) {
    sql(
        &env.db_name,
        &format!(
            "UPDATE wp_posts SET post_title = '{CHANGED_TITLE}' \
             WHERE post_type = 'post' AND post_status = 'publish' ORDER BY ID LIMIT 1"
        ),
    );
    sql(
        &env.db_name,
        &format!(
            "INSERT INTO wp_posts (post_author, post_date, post_date_gmt, post_content, post_title, \
             post_excerpt, post_status, post_name, to_ping, pinged, post_modified, post_modified_gmt, \
             post_content_filtered, post_type) VALUES (1, NOW(), UTC_TIMESTAMP(), 'added', \
             '{ADDED_TITLE}', '', 'publish', 'added-after-the-backup', '', '', NOW(), UTC_TIMESTAMP(), '', 'post')"
        ),
    );
    let uploads = Path::new(&env.files_root).join("shared/uploads");
    let upload = first_file(&uploads).expect("the baseline has uploads");
    std::fs::remove_file(&upload).unwrap();
    std::fs::write(uploads.join("added-after-the-backup.txt"), b"new upload").unwrap();
    std::fs::write(
        Path::new(&env.files_root).join("current/added-after-the-backup.php"),
        b"<?php echo 'new';\n",
    )
    .unwrap();
}

fn first_file(dir: &Path) -> Option<std::path::PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(dir).ok()?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let t = e.file_type().ok()?;
        if t.is_file() {
            return Some(e.path());
        }
        if t.is_dir() {
            if let Some(f) = first_file(&e.path()) {
                return Some(f);
            }
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread")]
async fn restoring_a_full_backup_brings_back_posts_and_uploads_and_touches_nothing_else() {
    let rig = Rig::start().await;
    let prod = rig.env("demo/production");
    let (staging, other) = (rig.env("demo/staging"), rig.env("other/production"));
    let backup = rig.backup(&prod, BackupScope::Full).await;
    let backed_up = EnvState::of(&prod);
    let titles = post_titles(&prod);

    change_everything(&prod);
    let changed = EnvState::of(&prod);
    assert_ne!(changed.files, backed_up.files, "the test changed files");
    assert_ne!(changed.tables, backed_up.tables, "the test changed posts");
    let (staging_before, other_before) = (fingerprint(&staging), fingerprint(&other));

    let accepted = rig
        .client
        .restore(&prod.environment_id, &backup.id)
        .await
        .unwrap();
    let env = rig.client.environment(&prod.environment_id).await.unwrap();
    let site = rig.client.site(&prod.site_id).await.unwrap();
    assert_eq!(
        (env.status, site.status),
        (ResourceStatus::Restoring, ResourceStatus::Restoring)
    );
    let job = rig.wait(&accepted.job_id).await;
    assert_eq!(
        job.status,
        JobStatus::Succeeded,
        "{:?}: {:?}",
        job.error_code,
        job.error_message
    );
    assert_eq!(job.attempt_count, 1);
    assert_steps_in_order(
        &job,
        &[
            "preflight checks",
            "verify artifact",
            "pre-restore backup",
            "unpack to staging",
            "normalize ownership",
            "import database",
            "swap files",
            "swap database",
            "health checks",
        ],
    );
    rig.assert_active(&prod).await;

    EnvState::of(&prod).assert_same(
        &backed_up,
        "demo/production after the restore vs right after the backup",
    );
    assert_eq!(post_titles(&prod), titles);
    let (status, body) = http_get(&prod.preview_url).await;
    assert_eq!(status, 200);
    for t in titles.iter().filter(|t| t.starts_with("Hello from")) {
        assert!(body.contains(t.as_str()), "the preview shows {t}");
    }
    assert!(
        !body.contains(CHANGED_TITLE) && !body.contains(ADDED_TITLE),
        "the preview still shows the changes"
    );

    assert_eq!(
        fingerprint(&staging),
        staging_before,
        "demo/staging changed"
    );
    assert_eq!(
        fingerprint(&other),
        other_before,
        "other/production changed"
    );

    let checkpoints = rig.checkpoints(&prod, &job.id).await;
    assert_eq!(
        checkpoints.len(),
        1,
        "one checkpoint backup: {checkpoints:?}"
    );
    assert_eq!(checkpoints[0].status, BackupStatus::Completed);
    assert_eq!(checkpoints[0].backup_scope, BackupScope::Full);
    assert_eq!(leftovers(&prod), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_staging_db_backup_restores_into_production_touching_only_the_database() {
    let rig = Rig::start().await;
    let (prod, staging) = (rig.env("demo/production"), rig.env("demo/staging"));
    let backup = rig.backup(&staging, BackupScope::Db).await;
    let staging_titles = post_titles(&staging);
    let prod_before = EnvState::of(&prod);
    let urls = "SELECT option_name, option_value FROM wp_options WHERE option_name IN ('siteurl', 'home') ORDER BY option_name";
    let prod_urls = sql(&prod.db_name, urls);
    assert_ne!(
        post_titles(&prod),
        staging_titles,
        "the two environments differ to begin with"
    );
    assert_ne!(sql(&staging.db_name, urls), prod_urls);

    let job = rig.restore(&prod, &backup.id).await;
    assert_eq!(
        job.status,
        JobStatus::Succeeded,
        "{:?}: {:?}",
        job.error_code,
        job.error_message
    );
    assert_steps_in_order(
        &job,
        &[
            "preflight checks",
            "verify artifact",
            "pre-restore backup",
            "unpack to staging",
            "import database",
            "swap database",
            "health checks",
        ],
    );
    assert!(
        !job.steps
            .iter()
            .any(|s| s.name == "swap files" && s.status == pressluft_common::StepStatus::Succeeded),
        "a db restore swapped files: {:?}",
        super::steps(&job)
    );
    rig.assert_active(&prod).await;

    assert_eq!(
        post_titles(&prod),
        staging_titles,
        "production now has staging's posts"
    );
    assert_eq!(
        sql(&prod.db_name, urls),
        prod_urls,
        "production keeps its own siteurl/home"
    );
    let after = EnvState::of(&prod);
    assert_eq!(
        after.files, prod_before.files,
        "a db restore changed production's files"
    );
    let (status, body) = http_get(&prod.preview_url).await;
    assert_eq!(status, 200);
    assert!(
        body.contains(staging_titles.last().unwrap().as_str()),
        "the preview shows staging's posts"
    );
    assert_eq!(leftovers(&prod), Vec::<String>::new());
}
