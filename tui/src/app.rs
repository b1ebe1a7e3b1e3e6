//! The whole UI state (`App`) and `App::update`, the only place it changes. `update` is pure: it
//! returns the `Effect`s (network calls) to run instead of running them.

use crate::action::{Action, Effect, Op};
use crate::job::JobView;
pub use crate::state::*;
use crate::strings;
use pressluft_common::{Backup, Environment, JobStatus, Site};
use tui_input::Input;

#[derive(Debug, Clone)]
pub struct App {
    pub server_url: String,
    pub screen: Screen,
    pub login: LoginForm,
    pub sites: Vec<Site>,
    pub site_index: usize,
    pub sites_loading: bool,
    pub open_slug: Option<String>,
    pub site: Option<Site>,
    pub environments: Vec<Environment>,
    pub env_index: usize,
    pub backups: Vec<Backup>,
    pub backup_index: usize,
    pub backups_loading: bool,
    /// The site detail request is in flight.
    pub detail_loading: bool,
    pub pane: Pane,
    pub dialog: Option<Dialog>,
    pub job: Option<JobView>,
    pub status: Option<(StatusKind, String)>,
    pub should_quit: bool,
    /// Steps of the last confirmed preflight, given to the restore job it starts.
    pub(crate) pending_plan: usize,
}

impl App {
    pub fn new(config: Config) -> Self {
        App {
            server_url: config.server_url,
            screen: Screen::Login,
            login: LoginForm::default(),
            sites: Vec::new(),
            site_index: 0,
            sites_loading: false,
            open_slug: config.site_slug,
            site: None,
            environments: Vec::new(),
            env_index: 0,
            backups: Vec::new(),
            backup_index: 0,
            backups_loading: false,
            detail_loading: false,
            pane: Pane::Backups,
            dialog: None,
            job: None,
            status: None,
            should_quit: false,
            pending_plan: 0,
        }
    }

    /// The effects to run at start for the given credentials.
    pub fn start(&mut self, auth: StartAuth) -> Vec<Effect> {
        match auth {
            StartAuth::Token => {
                self.screen = Screen::Sites;
                self.sites_loading = true;
                vec![Effect::LoadSites]
            }
            StartAuth::Credentials { email, password } => {
                self.login.email = Input::new(email.clone());
                self.login.busy = true;
                vec![Effect::Login { email, password }]
            }
            StartAuth::Form => Vec::new(),
        }
    }

    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Key(key) => self.on_key(key),
            Action::Resize => Vec::new(),
            Action::LoggedIn { .. } => {
                self.login = LoginForm::default();
                self.screen = Screen::Sites;
                self.sites_loading = true;
                vec![Effect::LoadSites]
            }
            Action::SitesLoaded(sites) => self.on_sites(sites),
            Action::SiteDetailLoaded {
                site,
                environments,
                active_job,
            } => self.on_site_detail(site, environments, active_job),
            Action::BackupsLoaded {
                environment_id,
                mut backups,
            } => {
                if self.selected_env().map(|e| e.id.as_str()) == Some(environment_id.as_str()) {
                    let keep = self.selected_backup().map(|b| b.id.clone());
                    backups.sort_by(|a, b| b.created_at.cmp(&a.created_at));
                    self.backup_index = keep
                        .and_then(|id| backups.iter().position(|b| b.id == id))
                        .unwrap_or(0);
                    self.backups = backups;
                    self.backups_loading = false;
                }
                Vec::new()
            }
            Action::PreflightLoaded {
                environment_id,
                backup_id,
                preflight,
            } => {
                if let Some(Dialog::Restore(d)) = &mut self.dialog {
                    if d.environment_id == environment_id && d.backup_id == backup_id {
                        d.preflight = Some(preflight);
                    }
                }
                Vec::new()
            }
            Action::JobStarted {
                job_id,
                job_type,
                environment_id,
            } => {
                let kind = strings::job_kind(job_type);
                self.info(strings::job_started(kind, crate::format::short_id(&job_id)));
                let mut view = JobView::new(job_id.clone(), job_type, Some(environment_id));
                view.planned_steps = std::mem::take(&mut self.pending_plan);
                self.job = Some(view);
                let mut effects = vec![Effect::FollowJob { job_id }];
                // Show the new state (environment `restoring`, a pending backup) right away.
                if let Some(site) = &self.site {
                    effects.push(Effect::LoadSiteDetail {
                        site_id: site.id.clone(),
                    });
                }
                effects
            }
            Action::JobEvent { job_id, event } => {
                let terminal = match self.job.as_mut() {
                    Some(job) if job.id == job_id => job.apply_event(&event),
                    _ => false,
                };
                self.after_job_change(terminal)
            }
            Action::JobSnapshot(snapshot) => {
                let terminal = match self.job.as_mut() {
                    Some(job) if job.id == snapshot.id => job.apply_snapshot(&snapshot),
                    _ => false,
                };
                self.after_job_change(terminal)
            }
            Action::JobStreamLost { job_id, .. } => {
                if let Some(job) = self.job.as_mut().filter(|j| j.id == job_id) {
                    job.polling = true;
                }
                Vec::new()
            }
            Action::CancelAnswered { job_id, status } => {
                if let Some(job) = self.job.as_mut().filter(|j| j.id == job_id) {
                    let terminal = !job.is_terminal() && status.is_terminal();
                    job.status = status;
                    return self.after_job_change(terminal);
                }
                Vec::new()
            }
            Action::Failed { op, code, message } => self.on_failed(op, code, message),
        }
    }

    fn on_sites(&mut self, sites: Vec<Site>) -> Vec<Effect> {
        self.sites = sites;
        self.sites_loading = false;
        self.site_index = self.site_index.min(self.sites.len().saturating_sub(1));
        let Some(slug) = self.open_slug.take() else {
            return Vec::new();
        };
        match self.sites.iter().position(|s| s.slug == slug) {
            Some(i) => {
                self.site_index = i;
                self.open_site()
            }
            None => {
                self.error(strings::site_not_found(&slug));
                Vec::new()
            }
        }
    }

    fn on_site_detail(
        &mut self,
        site: Site,
        environments: Vec<Environment>,
        active_job: Option<pressluft_common::Job>,
    ) -> Vec<Effect> {
        let keep = self.selected_env().map(|e| e.id.clone());
        let preferred = keep.or_else(|| site.primary_environment_id.clone());
        self.env_index = preferred
            .and_then(|id| environments.iter().position(|e| e.id == id))
            .unwrap_or(0);
        self.site = Some(site);
        self.environments = environments;
        self.detail_loading = false;
        let mut effects = self.load_backups();
        if let Some(job) = active_job {
            if self.job.as_ref().map(|j| j.id.as_str()) != Some(job.id.as_str()) {
                self.job = Some(JobView::from_job(&job));
                effects.push(Effect::FollowJob { job_id: job.id });
            }
        }
        effects
    }

    fn on_failed(&mut self, op: Op, code: Option<String>, message: String) -> Vec<Effect> {
        if code.as_deref() == Some("unauthorized") && op != Op::Login {
            self.screen = Screen::Login;
            self.dialog = None;
            self.login.busy = false;
            self.login.error = Some(strings::SESSION_EXPIRED.to_string());
            return Vec::new();
        }
        match op {
            Op::Login => {
                self.screen = Screen::Login;
                self.login.busy = false;
                self.login.error = Some(strings::request_failed(
                    op.label(),
                    code.as_deref(),
                    &message,
                ));
            }
            Op::Preflight => match &mut self.dialog {
                Some(Dialog::Restore(d)) => {
                    d.fetch_error = Some(strings::preflight_failed(&message))
                }
                _ => self.error(strings::preflight_failed(&message)),
            },
            _ => {
                self.sites_loading = false;
                self.backups_loading = false;
                self.detail_loading = false;
                self.error(strings::request_failed(
                    op.label(),
                    code.as_deref(),
                    &message,
                ));
            }
        }
        Vec::new()
    }

    fn after_job_change(&mut self, became_terminal: bool) -> Vec<Effect> {
        if !became_terminal {
            return Vec::new();
        }
        if let Some((status, text)) = self.job_outcome() {
            let kind = match status {
                JobStatus::Failed => StatusKind::Error,
                _ => StatusKind::Info,
            };
            self.status = Some((kind, text));
        }
        match &self.site {
            Some(site) => vec![Effect::LoadSiteDetail {
                site_id: site.id.clone(),
            }],
            None => Vec::new(),
        }
    }

    pub(crate) fn info(&mut self, text: String) {
        self.status = Some((StatusKind::Info, text));
    }

    pub(crate) fn error(&mut self, text: String) {
        self.status = Some((StatusKind::Error, text));
    }

    /// The followed job's terminal outcome in one sentence, once it has one.
    pub fn job_outcome(&self) -> Option<(JobStatus, String)> {
        let job = self.job.as_ref()?;
        let env = job
            .environment_id
            .as_deref()
            .and_then(|id| self.env_by_id(id));
        job.outcome(env)
    }

    pub fn selected_env(&self) -> Option<&Environment> {
        self.environments.get(self.env_index)
    }

    pub fn selected_backup(&self) -> Option<&Backup> {
        self.backups.get(self.backup_index)
    }

    pub fn env_by_id(&self, id: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.id == id)
    }

    /// The job that blocks new mutations of this site, if one is queued or running.
    pub fn running_job(&self) -> Option<&JobView> {
        self.job.as_ref().filter(|j| !j.is_terminal())
    }
}
