//! The messages of the app: `Action`s come in (keys, server answers), `Effect`s go out (network
//! calls the runtime performs). Both are plain data so `App::update` stays pure and testable.

use crossterm::event::KeyEvent;
use pressluft_common::{
    Backup, BackupScope, Environment, Job, JobEvent, JobStatus, JobType, PreflightResponse, Site,
};
use std::fmt;

/// A secret string (password, session token) whose `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Something that happened: a key press or the answer to an `Effect`.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Key(KeyEvent),
    /// The terminal was resized; nothing changes but the next frame.
    Resize,
    /// Login worked; the runtime hands `token` to its client before the app sees this.
    LoggedIn {
        email: String,
        token: Secret,
    },
    SitesLoaded(Vec<Site>),
    SiteDetailLoaded {
        site: Site,
        environments: Vec<Environment>,
        /// The newest queued or running job of the site, if any.
        active_job: Option<Job>,
    },
    BackupsLoaded {
        environment_id: String,
        backups: Vec<Backup>,
    },
    PreflightLoaded {
        environment_id: String,
        backup_id: String,
        preflight: PreflightResponse,
    },
    JobStarted {
        job_id: String,
        job_type: JobType,
        environment_id: String,
    },
    JobEvent {
        job_id: String,
        event: JobEvent,
    },
    /// A full job read, from polling when the event stream is not available.
    JobSnapshot(Job),
    /// The event stream failed; the follower polls from now on.
    JobStreamLost {
        job_id: String,
        reason: String,
    },
    CancelAnswered {
        job_id: String,
        status: JobStatus,
    },
    Failed {
        op: Op,
        code: Option<String>,
        message: String,
    },
}

/// The network operation an `Action::Failed` belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Login,
    LoadSites,
    LoadSiteDetail,
    LoadBackups,
    Preflight,
    Restore,
    CreateBackup,
    FollowJob,
    CancelJob,
}

impl Op {
    pub fn label(self) -> &'static str {
        match self {
            Op::Login => "Login",
            Op::LoadSites => "Loading sites",
            Op::LoadSiteDetail => "Loading the site",
            Op::LoadBackups => "Loading backups",
            Op::Preflight => "Restore preflight",
            Op::Restore => "Starting the restore",
            Op::CreateBackup => "Starting the backup",
            Op::FollowJob => "Following the job",
            Op::CancelJob => "Cancelling the job",
        }
    }
}

/// A network call for the runtime to perform; its answer comes back as an `Action`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Login {
        email: String,
        password: Secret,
    },
    LoadSites,
    LoadSiteDetail {
        site_id: String,
    },
    LoadBackups {
        environment_id: String,
    },
    Preflight {
        environment_id: String,
        backup_id: String,
    },
    Restore {
        environment_id: String,
        backup_id: String,
    },
    CreateBackup {
        environment_id: String,
        scope: BackupScope,
    },
    /// Follow the job's events (SSE, polling as fallback) until it is terminal.
    FollowJob {
        job_id: String,
    },
    CancelJob {
        job_id: String,
    },
}
