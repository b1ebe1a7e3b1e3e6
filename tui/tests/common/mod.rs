//! Fixtures shared by the TUI tests: one site with two environments, a few backups, preflight
//! answers and restore job events, all with fixed ids and timestamps so snapshots are stable.
#![allow(dead_code)] // each test binary uses a different part of the fixtures

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use pressluft_common::*;
use pressluft_tui::{Action, App, Config, Effect, StartAuth};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

mod jobs;
pub use jobs::*;

pub const SITE_ID: &str = "5173e0a2-7d4b-4c1e-9a60-3f2b8c9d0e11";
pub const PROD_ID: &str = "e1f0c2d3-1111-4a2b-8c3d-4e5f60718293";
pub const STAGING_ID: &str = "e2a1b3c4-2222-4b3c-9d4e-5f6071829304";
pub const FULL_ID: &str = "b7c91d2e-3a4b-4c5d-8e6f-708192a3b4c5";
pub const DB_ID: &str = "a3d4e5f6-4b5c-4d6e-9f70-8192a3b4c5d6";
pub const FAILED_ID: &str = "c0ffee12-5c6d-4e7f-8091-a2b3c4d5e6f7";
pub const JOB_ID: &str = "9a8b7c6d-6e7f-4a81-92a3-b4c5d6e7f809";
pub const SERVER: &str = "http://127.0.0.1:8080";

pub fn site() -> Site {
    Site {
        id: SITE_ID.into(),
        name: "Acme Shop".into(),
        slug: "acme-shop".into(),
        status: ResourceStatus::Active,
        primary_environment_id: Some(PROD_ID.into()),
        state_version: 3,
        created_at: "2026-01-02T09:00:00Z".into(),
        updated_at: "2026-01-05T12:00:00Z".into(),
    }
}

fn env(id: &str, name: &str, slug: &str, t: EnvironmentType, url: &str) -> Environment {
    Environment {
        id: id.into(),
        site_id: SITE_ID.into(),
        name: name.into(),
        slug: slug.into(),
        environment_type: t,
        status: ResourceStatus::Active,
        node_id: "node-local".into(),
        preview_url: url.into(),
        current_release_id: None,
        files_root: format!("/srv/pressluft/{slug}"),
        db_name: slug.replace('-', "_"),
        system_user: slug.into(),
        state_version: 1,
        created_at: "2026-01-02T09:00:00Z".into(),
        updated_at: "2026-01-05T12:00:00Z".into(),
    }
}

pub fn environments() -> Vec<Environment> {
    vec![
        env(
            PROD_ID,
            "production",
            "acme-prod",
            EnvironmentType::Production,
            "http://acme-prod.localhost:8081",
        ),
        env(
            STAGING_ID,
            "staging",
            "acme-staging",
            EnvironmentType::Staging,
            "http://acme-staging.localhost:8081",
        ),
    ]
}

fn backup(
    id: &str,
    scope: BackupScope,
    status: BackupStatus,
    created: &str,
    size: Option<u64>,
) -> Backup {
    let done = status == BackupStatus::Completed;
    Backup {
        id: id.into(),
        environment_id: PROD_ID.into(),
        site_id: SITE_ID.into(),
        backup_scope: scope,
        status,
        storage_type: StorageType::Local,
        storage_path: format!("backups/{id}.tar.zst"),
        retention_until: "2026-02-04T12:00:00Z".into(),
        checksum: done.then(|| format!("{}{}", id.replace('-', ""), "00ff")),
        size_bytes: size,
        created_at: created.into(),
        completed_at: done.then(|| created.to_string()),
        job_id: None,
        checkpoint_for_job_id: None,
    }
}

/// Oldest first on purpose: the app sorts newest first.
pub fn backups() -> Vec<Backup> {
    vec![
        backup(
            DB_ID,
            BackupScope::Db,
            BackupStatus::Completed,
            "2026-01-04T03:00:00Z",
            Some(3_400_000),
        ),
        backup(
            FAILED_ID,
            BackupScope::Files,
            BackupStatus::Failed,
            "2026-01-04T18:30:00Z",
            None,
        ),
        backup(
            FULL_ID,
            BackupScope::Full,
            BackupStatus::Completed,
            "2026-01-05T03:00:00Z",
            Some(50_540_000),
        ),
    ]
}

pub fn check(name: &str, ok: bool, detail: &str) -> PreflightCheck {
    PreflightCheck {
        name: name.into(),
        ok,
        detail: detail.into(),
    }
}

pub fn planned_steps() -> Vec<String> {
    [
        "verify_artifact",
        "pre_restore_backup",
        "unpack_staging",
        "swap_files",
        "import_database",
        "health_check",
    ]
    .map(String::from)
    .to_vec()
}

pub fn preflight_ok() -> PreflightResponse {
    PreflightResponse {
        ok: true,
        error: None,
        checks: vec![
            check("backup_same_site", true, "backup belongs to site acme-shop"),
            check("backup_completed", true, "completed, kept until 2026-02-04"),
            check("environment_active", true, "production is active"),
            check(
                "no_running_job",
                true,
                "no job queued or running for the site",
            ),
            check("artifact_present", true, "48.2 MiB, sha256 recorded"),
        ],
        steps: planned_steps(),
    }
}

pub fn preflight_refused() -> PreflightResponse {
    PreflightResponse {
        ok: false,
        error: Some(ErrorBody {
            code: "site_job_running".into(),
            message: "A backup_create job is running for this site; wait for it to finish or \
                      cancel it, then try again."
                .into(),
        }),
        checks: vec![
            check("backup_same_site", true, "backup belongs to site acme-shop"),
            check("backup_completed", true, "completed, kept until 2026-02-04"),
            check("environment_active", true, "production is active"),
            check("no_running_job", false, "backup_create 7c1e90aa is running"),
        ],
        steps: planned_steps(),
    }
}

pub fn key(c: char) -> Action {
    Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

pub fn code(code: KeyCode) -> Action {
    Action::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub fn type_text(app: &mut App, text: &str) -> Vec<Effect> {
    text.chars().flat_map(|c| app.update(key(c))).collect()
}

/// The app as a user sees it after `pressluft --site acme-shop` with a token: site detail of
/// Acme Shop, production selected, backups loaded.
pub fn detail_app() -> App {
    let mut app = App::new(Config {
        server_url: SERVER.into(),
        site_slug: Some("acme-shop".into()),
    });
    app.start(StartAuth::Token);
    app.update(Action::SitesLoaded(vec![site()]));
    app.update(Action::SiteDetailLoaded {
        site: site(),
        environments: environments(),
        active_job: None,
    });
    app.update(Action::BackupsLoaded {
        environment_id: PROD_ID.into(),
        backups: backups(),
    });
    app
}

/// The restore dialog open on the newest (full, completed) backup with the preflight answered.
pub fn restore_dialog_app(preflight: PreflightResponse) -> App {
    let mut app = detail_app();
    app.update(key('r'));
    app.update(Action::PreflightLoaded {
        environment_id: PROD_ID.into(),
        backup_id: FULL_ID.into(),
        preflight,
    });
    app
}

/// A restore confirmed and accepted by the server; the job panel follows `JOB_ID`.
pub fn restoring_app() -> App {
    let mut app = restore_dialog_app(preflight_ok());
    type_text(&mut app, "acme-prod");
    app.update(code(KeyCode::Enter));
    app.update(Action::JobStarted {
        job_id: JOB_ID.into(),
        job_type: JobType::EnvRestore,
        environment_id: PROD_ID.into(),
    });
    app
}

pub fn apply(app: &mut App, actions: Vec<Action>) -> Vec<Effect> {
    actions.into_iter().flat_map(|a| app.update(a)).collect()
}

pub fn draw(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal
        .draw(|f| pressluft_tui::render(app, f))
        .expect("draw");
    terminal
}
