//! The UI state's parts besides `App` itself: screens, panes, the login form, dialogs and how
//! the app was started. Plain data; all changes go through `App::update`.

use crate::action::Secret;
use pressluft_common::{BackupScope, PreflightResponse};
use tui_input::Input;

/// How the app was started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub server_url: String,
    /// `--site SLUG`: open this site's detail view as soon as the sites are loaded.
    pub site_slug: Option<String>,
}

/// Credentials known at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartAuth {
    /// A session token is already in the client.
    Token,
    /// Log in with these, without showing the form unless it fails.
    Credentials { email: String, password: Secret },
    /// Show the login form.
    Form,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Login,
    Sites,
    SiteDetail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Environments,
    Backups,
}

#[derive(Debug, Clone, Default)]
pub struct LoginForm {
    pub email: Input,
    pub password: Input,
    pub password_focused: bool,
    pub busy: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RestoreDialog {
    pub environment_id: String,
    pub backup_id: String,
    /// `None` while the preflight request is in flight.
    pub preflight: Option<PreflightResponse>,
    /// The preflight request itself failed (network, auth).
    pub fetch_error: Option<String>,
    pub confirm: Input,
    /// Why the last Enter did not send the restore.
    pub hint: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Dialog {
    Help,
    BackupScope { selected: usize },
    Restore(Box<RestoreDialog>),
    CancelJob { job_id: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    Info,
    Error,
}

pub const SCOPES: [BackupScope; 3] = [BackupScope::Full, BackupScope::Db, BackupScope::Files];
