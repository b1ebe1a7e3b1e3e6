//! Every user-facing text of the terminal UI, in one place so wording is reviewed together.
//! Functions build the texts that carry data; constants are the fixed ones.

use pressluft_common::{BackupStatus, JobType, ResourceStatus};

pub const APP_NAME: &str = "Pressluft";
pub const ABOUT: &str = "Terminal client of the Pressluft control plane: sites, backups, restores.";
pub const CLI_AFTER_HELP: &str = "\
Environment:
  PRESSLUFT_URL        server base URL (same as --url; default http://127.0.0.1:8080)
  PRESSLUFT_TOKEN      session token, sent as `Authorization: Bearer`
  PRESSLUFT_EMAIL      admin e-mail, logs in at start together with PRESSLUFT_PASSWORD
  PRESSLUFT_PASSWORD   admin password
Without a token or e-mail + password the client starts with a login form.

Keys:
  up/down, j/k   move            Tab      switch pane (environments / backups)
  Enter          open site       b        create a backup (choose full / db / files)
  r              restore the selected backup (preflight, then type the slug to confirm)
  c              cancel the running job    R   refresh
  ?              help            q, Esc   back / quit    Ctrl-C   quit";

// Titles
pub const LOGIN_TITLE: &str = " Log in to Pressluft ";
pub const SITES_TITLE: &str = " Sites ";
pub const ENVIRONMENTS_TITLE: &str = " Environments ";
pub const BACKUPS_TITLE: &str = " Backups (newest first) ";
pub const JOB_TITLE: &str = " Job ";
pub const HELP_TITLE: &str = " Help ";
pub const SCOPE_TITLE: &str = " Create backup ";
pub const RESTORE_TITLE: &str = " Restore backup ";
pub const CANCEL_TITLE: &str = " Cancel job ";

// Login
pub const LOGIN_EMAIL: &str = "E-mail";
pub const LOGIN_PASSWORD: &str = "Password";
pub const LOGIN_HINT: &str = "Tab next field · Enter log in · Esc quit";
pub const LOGIN_BUSY: &str = "Logging in…";
pub const LOGIN_EMPTY: &str = "Enter e-mail and password.";
pub const SESSION_EXPIRED: &str = "The server refused the session (unauthorized): log in again.";

// Table headers
pub const SITE_COLUMNS: [&str; 3] = ["Name", "Slug", "Status"];
pub const ENV_COLUMNS: [&str; 4] = ["Name", "Type", "Status", "Preview URL"];
pub const BACKUP_COLUMNS: [&str; 7] = [
    "ID",
    "Status",
    "Scope",
    "Size",
    "Created",
    "Keep until",
    "Checksum",
];

// Empty and loading states
pub const LOADING: &str = "Loading…";
pub const NO_SITES: &str = "No sites registered yet.";
pub const NO_ENVIRONMENTS: &str = "This site has no environments.";
pub const NO_BACKUPS: &str = "No backups yet. Press b to create one.";
pub const NO_JOB: &str = "No job running. b creates a backup, r restores the selected one.";

// Key bars
pub const KEYS_SITES: &[(&str, &str)] = &[
    ("↑↓/jk", "move"),
    ("Enter", "open"),
    ("R", "refresh"),
    ("?", "help"),
    ("q", "quit"),
];
pub const KEY_MOVE: (&str, &str) = ("↑↓/jk", "move");
pub const KEY_PANE: (&str, &str) = ("Tab", "pane");
pub const KEY_BACKUP: (&str, &str) = ("b", "backup");
pub const KEY_RESTORE: (&str, &str) = ("r", "restore");
pub const KEY_CANCEL: (&str, &str) = ("c", "cancel");
pub const KEY_REFRESH: (&str, &str) = ("R", "refresh");
pub const KEY_HELP: (&str, &str) = ("?", "help");
pub const KEY_BACK: (&str, &str) = ("q", "back");

pub const HELP_LINES: &[(&str, &str)] = &[
    ("↑/↓  j/k", "move the selection"),
    ("Tab", "switch between environments and backups"),
    ("Enter", "open the selected site (sites list)"),
    ("b", "create a backup of the selected environment"),
    ("r", "restore the selected backup into its environment"),
    ("c", "cancel the running job (asks y/n)"),
    ("R", "refresh from the server"),
    ("?", "show or hide this help"),
    ("q / Esc", "back to the sites list, or quit"),
    ("Ctrl-C", "quit at once"),
];
pub const HELP_RESTORE: &str = "Restore: r runs a preflight (no changes), shows checks and steps; \
type the environment slug and press Enter. A full pre-restore backup is taken first and put back \
if the restore fails.";
pub const HELP_CLOSE: &str = "Esc or ? closes this help.";

// Backup scope dialog
pub const SCOPE_CHOICES: [(&str, &str); 3] = [
    ("full", "database and files"),
    ("db", "database only"),
    ("files", "files only"),
];
pub const SCOPE_HINT: &str = "↑↓ choose · Enter create · Esc cancel";

// Restore dialog
pub const RESTORE_TARGET: &str = "Target  ";
pub const RESTORE_BACKUP: &str = "Backup  ";
pub const RESTORE_CHECKS: &str = "Preflight checks";
pub const RESTORE_STEPS: &str = "Planned steps";
pub const RESTORE_CHECKING: &str = "Running preflight checks (nothing is changed)…";
pub const RESTORE_KEYS: &str = "Enter restore · Esc cancel (nothing is sent)";
pub const RESTORE_KEYS_BLOCKED: &str = "Esc close (nothing is sent)";
pub const RESTORE_WAIT_PREFLIGHT: &str = "Wait for the preflight checks to finish.";
pub const RESTORE_NOT_OK: &str = "Preflight did not pass: this restore cannot be confirmed.";

// Cancel dialog
pub const CANCEL_KEYS: &str = "y cancel the job · n / Esc keep it running";

// Status line
pub const NO_JOB_TO_CANCEL: &str = "No job is running: nothing to cancel.";
pub const NO_ENV_SELECTED: &str = "Select an environment first.";
pub const NO_BACKUP_SELECTED: &str = "No backup selected: create one with b.";
pub const STREAM_LOST: &str = "Live job stream unavailable; polling every second";

pub fn target_line(env_name: &str, env_slug: &str, site_name: &str, site_slug: &str) -> String {
    format!("{env_name} ({env_slug}) of site {site_name} ({site_slug})")
}

pub fn pre_restore_note(env_name: &str) -> String {
    format!(
        "A full pre-restore backup of {env_name} is taken first; if the restore fails, \
         that state is put back."
    )
}

pub fn type_slug_prompt(slug: &str) -> String {
    format!("Type {slug} to confirm: ")
}

pub fn slug_mismatch(slug: &str) -> String {
    format!("The typed text does not match {slug}: type the slug exactly.")
}

pub fn preflight_refused(code: &str, message: &str) -> String {
    format!("Preflight refused: {code}: {message}")
}

pub fn preflight_failed(message: &str) -> String {
    format!("Preflight could not run: {message}")
}

pub fn cannot_restore_status(short_id: &str, status: BackupStatus) -> String {
    format!("Backup {short_id} is {status}: only completed backups can be restored.")
}

pub fn env_not_active(name: &str, status: ResourceStatus) -> String {
    format!("Environment {name} is {status}: it must be active for this action.")
}

pub fn job_busy(kind: &str) -> String {
    format!("A {kind} job is still running for this site: wait for it, or cancel it with c.")
}

pub fn site_not_found(slug: &str) -> String {
    format!("No site with slug {slug}: choose one from the list.")
}

pub fn cancel_question(kind: &str, short_id: &str) -> String {
    format!("Cancel the {kind} job {short_id}? A running job is stopped safely.")
}

pub fn job_kind(t: JobType) -> &'static str {
    match t {
        JobType::BackupCreate => "backup",
        JobType::EnvRestore => "restore",
        JobType::BackupCleanup => "cleanup",
        JobType::NodeCheck => "node check",
    }
}

pub fn job_started(kind: &str, short_id: &str) -> String {
    format!("Started {kind} job {short_id}; following it live.")
}

pub fn restore_succeeded(env: &str, url: &str) -> String {
    format!("Restore succeeded: {env} is live at {url}")
}

pub fn backup_succeeded(env: &str) -> String {
    format!("Backup succeeded: {env} has a new backup in the list.")
}

pub fn job_failed(kind: &str, code: &str) -> String {
    let mut k = kind.to_string();
    if let Some(first) = k.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    format!("{k} failed: {code}")
}

pub fn job_cancelled(kind: &str) -> String {
    format!("The {kind} job was cancelled.")
}

pub fn next_step(t: JobType) -> &'static str {
    match t {
        JobType::EnvRestore => {
            "Next: see the environment status above. active: the pre-restore state is back; \
             failed: check the node, then reset the environment. R refreshes."
        }
        _ => "Next: nothing on the site was changed. Fix the cause above, then press b to retry.",
    }
}

pub fn steps_progress(done: usize, total: usize) -> String {
    if total > 0 {
        format!("{done}/{total} steps")
    } else {
        format!("{done} steps done")
    }
}

pub fn request_failed(what: &str, code: Option<&str>, message: &str) -> String {
    match code {
        Some(code) => format!("{what} failed: {code}: {message}"),
        None => format!("{what} failed: {message}"),
    }
}

pub const CANCEL_SENT: &str = "Cancel requested…";
pub const RESTORE_SENT: &str = "Restore requested…";
pub const RESTORE_ABORTED: &str = "Restore not started: nothing was sent.";

pub fn backup_requested(scope: &str, env: &str) -> String {
    format!("Requested a {scope} backup of {env}…")
}

pub const THE_ENVIRONMENT: &str = "the environment";
pub const NO_CODE: &str = "UNKNOWN_ERROR";
