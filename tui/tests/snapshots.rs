//! The real app drawn on ratatui's `TestBackend` at 80x24 (the SSH minimum) and 140x40, pinned
//! with insta. Every visible UI change ships with its snapshot.

mod common;

use common::*;
use crossterm::event::KeyCode;
use pressluft_tui::{Action, App, Config, StartAuth};

macro_rules! snap {
    ($name:literal, $app:expr, $w:expr, $h:expr) => {
        insta::assert_snapshot!(
            format!("{}_{}x{}", $name, $w, $h),
            draw(&$app, $w, $h).backend()
        )
    };
}

#[test]
fn site_detail_with_backups() {
    let app = detail_app();
    snap!("site_detail", app, 80, 24);
    snap!("site_detail", app, 140, 40);
}

#[test]
fn site_detail_with_no_backups() {
    let mut app = detail_app();
    app.update(Action::BackupsLoaded {
        environment_id: PROD_ID.into(),
        backups: Vec::new(),
    });
    snap!("empty_backups", app, 80, 24);
}

#[test]
fn restore_confirmation_dialog_with_preflight_checks() {
    let mut app = restore_dialog_app(preflight_ok());
    type_text(&mut app, "acme-prod");
    snap!("restore_confirm", app, 80, 24);
    snap!("restore_confirm", app, 140, 40);
}

#[test]
fn restore_confirmation_while_the_preflight_runs() {
    let mut app = detail_app();
    app.update(key('r'));
    snap!("restore_preflight_pending", app, 80, 24);
}

#[test]
fn restore_confirmation_with_a_mismatching_slug() {
    let mut app = restore_dialog_app(preflight_ok());
    type_text(&mut app, "acme-stag");
    app.update(code(KeyCode::Enter));
    snap!("restore_mismatch", app, 80, 24);
}

#[test]
fn restore_confirmation_with_a_preflight_error() {
    let app = restore_dialog_app(preflight_refused());
    snap!("restore_preflight_error", app, 80, 24);
}

#[test]
fn job_running_with_some_steps_done() {
    let mut app = restoring_app();
    apply(&mut app, restore_progress());
    snap!("job_running", app, 80, 24);
    snap!("job_running", app, 140, 40);
}

#[test]
fn restore_succeeded() {
    let mut app = restoring_app();
    apply(&mut app, restore_progress());
    apply(&mut app, restore_rest_succeeded());
    snap!("restore_succeeded", app, 80, 24);
    snap!("restore_succeeded", app, 140, 40);
}

#[test]
fn restore_failed_with_code_and_message() {
    let mut app = restoring_app();
    apply(&mut app, restore_progress());
    apply(&mut app, restore_rest_failed());
    snap!("restore_failed", app, 80, 24);
    snap!("restore_failed", app, 140, 40);
}

#[test]
fn restore_refused_on_a_failed_backup_says_why() {
    let mut app = detail_app();
    app.update(code(KeyCode::Down));
    app.update(key('r'));
    snap!("restore_refused_failed_backup", app, 80, 24);
}

#[test]
fn backup_scope_dialog() {
    let mut app = detail_app();
    app.update(key('b'));
    app.update(code(KeyCode::Down));
    snap!("backup_scope", app, 80, 24);
}

#[test]
fn help_overlay() {
    let mut app = detail_app();
    app.update(key('?'));
    snap!("help", app, 80, 24);
}

#[test]
fn login_form_masks_the_password() {
    let mut app = App::new(Config {
        server_url: SERVER.into(),
        site_slug: None,
    });
    app.start(StartAuth::Form);
    type_text(&mut app, "admin@example.com");
    app.update(code(KeyCode::Tab));
    type_text(&mut app, "s3cret");
    snap!("login", app, 80, 24);
}

#[test]
fn sites_list() {
    let mut app = App::new(Config {
        server_url: SERVER.into(),
        site_slug: None,
    });
    app.start(StartAuth::Token);
    let mut other = site();
    other.id = "6284f1b3-0000-4000-8000-000000000002".into();
    other.name = "Bakery Blog".into();
    other.slug = "bakery".into();
    other.status = pressluft_common::ResourceStatus::Restoring;
    app.update(Action::SitesLoaded(vec![site(), other]));
    snap!("sites", app, 80, 24);
}
