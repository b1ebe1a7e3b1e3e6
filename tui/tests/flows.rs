//! Key flows through `App::update`: which keys produce which effects, and how job events change
//! the state. No server and no terminal: effects are only inspected.

mod common;

use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use pressluft_common::{BackupScope, JobStatus, JobType};
use pressluft_tui::{Action, App, Config, Dialog, Effect, Op, Screen, Secret, StartAuth};

fn restores(effects: &[Effect]) -> usize {
    effects
        .iter()
        .filter(|e| matches!(e, Effect::Restore { .. }))
        .count()
}

#[test]
fn site_flag_opens_the_site_detail_with_backups_newest_first() {
    let app = detail_app();
    assert_eq!(app.screen, Screen::SiteDetail);
    assert_eq!(
        app.selected_env().map(|e| e.slug.as_str()),
        Some("acme-prod")
    );
    let ids: Vec<&str> = app.backups.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids, [FULL_ID, FAILED_ID, DB_ID]);
}

#[test]
fn r_on_a_completed_backup_asks_for_a_preflight_and_opens_the_dialog() {
    let mut app = detail_app();
    let effects = app.update(key('r'));
    assert_eq!(
        effects,
        [Effect::Preflight {
            environment_id: PROD_ID.into(),
            backup_id: FULL_ID.into()
        }]
    );
    assert!(matches!(app.dialog, Some(Dialog::Restore(_))));
}

#[test]
fn typing_the_slug_and_enter_sends_exactly_one_restore_for_the_right_ids() {
    let mut app = restore_dialog_app(preflight_ok());
    let mut effects = type_text(&mut app, "acme-prod");
    effects.extend(app.update(code(KeyCode::Enter)));
    assert_eq!(
        effects,
        [Effect::Restore {
            environment_id: PROD_ID.into(),
            backup_id: FULL_ID.into()
        }]
    );
    assert!(app.dialog.is_none());
    // A second Enter after the dialog closed sends nothing more.
    assert_eq!(restores(&app.update(code(KeyCode::Enter))), 0);
}

#[test]
fn esc_closes_the_restore_dialog_without_sending_anything() {
    let mut app = restore_dialog_app(preflight_ok());
    let mut effects = type_text(&mut app, "acme-prod");
    effects.extend(app.update(code(KeyCode::Esc)));
    assert!(effects.is_empty(), "{effects:?}");
    assert!(app.dialog.is_none());
}

#[test]
fn a_mismatching_slug_does_not_send_the_restore_and_says_why() {
    let mut app = restore_dialog_app(preflight_ok());
    let mut effects = type_text(&mut app, "acme-staging");
    effects.extend(app.update(code(KeyCode::Enter)));
    assert_eq!(restores(&effects), 0);
    let Some(Dialog::Restore(d)) = &app.dialog else {
        panic!("dialog closed")
    };
    assert!(d.hint.as_deref().unwrap_or("").contains("acme-prod"));
}

#[test]
fn enter_before_the_preflight_answered_sends_nothing() {
    let mut app = detail_app();
    app.update(key('r'));
    let mut effects = type_text(&mut app, "acme-prod");
    effects.extend(app.update(code(KeyCode::Enter)));
    assert_eq!(restores(&effects), 0);
}

#[test]
fn a_preflight_error_cannot_be_confirmed_even_with_the_right_slug() {
    let mut app = restore_dialog_app(preflight_refused());
    let mut effects = type_text(&mut app, "acme-prod");
    effects.extend(app.update(code(KeyCode::Enter)));
    assert_eq!(restores(&effects), 0);
}

#[test]
fn r_on_a_failed_backup_offers_nothing_and_says_why() {
    let mut app = detail_app();
    app.update(code(KeyCode::Down)); // the failed files backup
    assert_eq!(
        app.selected_backup().map(|b| b.id.as_str()),
        Some(FAILED_ID)
    );
    let effects = app.update(key('r'));
    assert!(effects.is_empty());
    assert!(app.dialog.is_none());
    let (_, text) = app.status.clone().expect("a status line");
    assert!(
        text.contains("failed") && text.contains("only completed"),
        "{text}"
    );
    assert!(app.restore_blocker().is_some());
}

#[test]
fn b_then_db_then_enter_creates_a_db_backup() {
    let mut app = detail_app();
    assert!(app.update(key('b')).is_empty());
    assert!(matches!(
        app.dialog,
        Some(Dialog::BackupScope { selected: 0 })
    ));
    app.update(code(KeyCode::Down));
    let effects = app.update(code(KeyCode::Enter));
    assert_eq!(
        effects,
        [Effect::CreateBackup {
            environment_id: PROD_ID.into(),
            scope: BackupScope::Db
        }]
    );
}

#[test]
fn esc_in_the_scope_dialog_creates_nothing() {
    let mut app = detail_app();
    app.update(key('b'));
    assert!(app.update(code(KeyCode::Esc)).is_empty());
    assert!(app.dialog.is_none());
}

#[test]
fn a_started_job_is_followed_and_step_events_fill_the_job_panel() {
    let mut app = restore_dialog_app(preflight_ok());
    type_text(&mut app, "acme-prod");
    app.update(code(KeyCode::Enter));
    let effects = app.update(Action::JobStarted {
        job_id: JOB_ID.into(),
        job_type: JobType::EnvRestore,
        environment_id: PROD_ID.into(),
    });
    assert_eq!(
        effects,
        [
            Effect::FollowJob {
                job_id: JOB_ID.into()
            },
            Effect::LoadSiteDetail {
                site_id: SITE_ID.into()
            },
        ]
    );
    let effects = apply(&mut app, restore_progress());
    assert!(effects.is_empty());
    let job = app.job.as_ref().expect("job view");
    assert_eq!(job.status, JobStatus::Running);
    assert_eq!(job.steps.len(), 3, "the repeated unpack step is merged");
    assert_eq!(job.steps_done(), 2);
    assert_eq!(job.planned_steps, 6);
    // While it runs, new mutations are refused with a reason.
    assert!(app.update(key('b')).is_empty());
    assert!(app
        .backup_blocker()
        .is_some_and(|why| why.contains("restore")));
}

#[test]
fn a_terminal_status_event_shows_the_outcome_and_refreshes_the_site() {
    let mut app = restoring_app();
    apply(&mut app, restore_progress());
    let effects = apply(&mut app, restore_rest_succeeded());
    assert_eq!(
        effects,
        [Effect::LoadSiteDetail {
            site_id: SITE_ID.into()
        }]
    );
    assert_eq!(
        app.job.as_ref().map(|j| j.status),
        Some(JobStatus::Succeeded)
    );
    // A replayed terminal event does not refresh twice.
    assert!(app
        .update(status_event(10, JobStatus::Succeeded, None, None))
        .is_empty());
}

#[test]
fn polling_snapshots_after_a_lost_stream_also_end_the_job() {
    let mut app = restoring_app();
    app.update(Action::JobStreamLost {
        job_id: JOB_ID.into(),
        reason: "closed".into(),
    });
    assert!(app.job.as_ref().is_some_and(|j| j.polling));
    let job = pressluft_common::Job {
        id: JOB_ID.into(),
        job_type: JobType::EnvRestore,
        status: JobStatus::Failed,
        site_id: Some(SITE_ID.into()),
        environment_id: Some(PROD_ID.into()),
        node_id: None,
        backup_id: Some(FULL_ID.into()),
        attempt_count: 1,
        max_attempts: 1,
        run_after: None,
        locked_at: None,
        locked_by: None,
        created_at: "2026-01-05T12:00:00Z".into(),
        started_at: None,
        finished_at: None,
        error_code: Some("ARTIFACT_CHECKSUM_MISMATCH".into()),
        error_message: Some("nothing was touched".into()),
        output_tail: None,
        steps: Vec::new(),
    };
    let effects = app.update(Action::JobSnapshot(job));
    assert_eq!(
        effects,
        [Effect::LoadSiteDetail {
            site_id: SITE_ID.into()
        }]
    );
    let view = app.job.as_ref().expect("job view");
    assert_eq!(
        view.error_code.as_deref(),
        Some("ARTIFACT_CHECKSUM_MISMATCH")
    );
}

#[test]
fn c_asks_before_cancelling_and_y_sends_the_cancel() {
    let mut app = restoring_app();
    assert!(app.update(key('c')).is_empty());
    assert!(matches!(app.dialog, Some(Dialog::CancelJob { .. })));
    assert!(app.update(key('n')).is_empty());
    app.update(key('c'));
    assert_eq!(
        app.update(key('y')),
        [Effect::CancelJob {
            job_id: JOB_ID.into()
        }]
    );
}

#[test]
fn c_without_a_running_job_says_there_is_nothing_to_cancel() {
    let mut app = detail_app();
    assert!(app.update(key('c')).is_empty());
    assert!(app.dialog.is_none());
    assert!(app.status.is_some());
}

#[test]
fn the_login_form_sends_credentials_and_then_loads_the_sites() {
    let mut app = App::new(Config {
        server_url: SERVER.into(),
        site_slug: None,
    });
    assert!(app.start(StartAuth::Form).is_empty());
    type_text(&mut app, "admin@example.com");
    app.update(code(KeyCode::Tab));
    type_text(&mut app, "s3cret");
    let effects = app.update(code(KeyCode::Enter));
    assert_eq!(
        effects,
        [Effect::Login {
            email: "admin@example.com".into(),
            password: Secret("s3cret".into())
        }]
    );
    assert!(
        !format!("{effects:?}").contains("s3cret"),
        "secrets never show in Debug"
    );
    let effects = app.update(Action::LoggedIn {
        email: "admin@example.com".into(),
        token: Secret("t".into()),
    });
    assert_eq!(effects, [Effect::LoadSites]);
    assert_eq!(app.screen, Screen::Sites);
}

#[test]
fn an_unauthorized_answer_goes_back_to_the_login_form() {
    let mut app = detail_app();
    app.update(Action::Failed {
        op: Op::LoadBackups,
        code: Some("unauthorized".into()),
        message: "no".into(),
    });
    assert_eq!(app.screen, Screen::Login);
    assert!(app.login.error.is_some());
}

#[test]
fn q_goes_back_to_the_sites_list_and_then_quits() {
    let mut app = detail_app();
    app.update(key('q'));
    assert_eq!(app.screen, Screen::Sites);
    assert!(!app.should_quit);
    app.update(key('q'));
    assert!(app.should_quit);
}

#[test]
fn ctrl_c_quits_from_anywhere() {
    let mut app = restore_dialog_app(preflight_ok());
    app.update(Action::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    )));
    assert!(app.should_quit);
}

#[test]
fn moving_to_another_environment_loads_its_backups() {
    let mut app = detail_app();
    app.update(code(KeyCode::Tab));
    let effects = app.update(key('j'));
    assert_eq!(
        effects,
        [Effect::LoadBackups {
            environment_id: STAGING_ID.into()
        }]
    );
    assert!(app.backups.is_empty());
}
