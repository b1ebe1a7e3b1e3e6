//! Key handling: turns key presses into state changes and effects, per screen and dialog. Every
//! action that is not possible right now says why in the status line instead of doing anything.

use crate::action::{Effect, Secret};
use crate::app::{App, Dialog, Pane, RestoreDialog, Screen};
use crate::format::short_id;
use crate::strings;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use pressluft_common::{BackupStatus, ResourceStatus};
use tui_input::backend::crossterm::to_input_request;
use tui_input::Input;

fn edit(input: &mut Input, key: KeyEvent) {
    if let Some(req) = to_input_request(&Event::Key(key)) {
        input.handle(req);
    }
}

impl App {
    pub(crate) fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            self.should_quit = true;
            return Vec::new();
        }
        if let Some(dialog) = self.dialog.take() {
            return self.on_dialog_key(dialog, key);
        }
        match self.screen {
            Screen::Login => self.on_login_key(key),
            Screen::Sites => self.on_sites_key(key),
            Screen::SiteDetail => self.on_detail_key(key),
        }
    }

    fn on_login_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let form = &mut self.login;
        match key.code {
            KeyCode::Esc => self.should_quit = true,
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Up | KeyCode::Down => {
                form.password_focused = !form.password_focused;
            }
            KeyCode::Enter if !form.password_focused => form.password_focused = true,
            KeyCode::Enter if form.busy => {}
            KeyCode::Enter => {
                let email = form.email.value().trim().to_string();
                let password = form.password.value().to_string();
                if email.is_empty() || password.is_empty() {
                    form.error = Some(strings::LOGIN_EMPTY.to_string());
                    return Vec::new();
                }
                form.busy = true;
                form.error = None;
                return vec![Effect::Login {
                    email,
                    password: Secret(password),
                }];
            }
            _ if form.password_focused => edit(&mut form.password, key),
            _ => edit(&mut form.email, key),
        }
        Vec::new()
    }

    fn on_sites_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => self.should_quit = true,
            KeyCode::Char('?') => self.dialog = Some(Dialog::Help),
            KeyCode::Up | KeyCode::Char('k') => self.site_index = self.site_index.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                self.site_index = (self.site_index + 1).min(self.sites.len().saturating_sub(1));
            }
            KeyCode::Enter => return self.open_site(),
            KeyCode::Char('R') => {
                self.sites_loading = true;
                return vec![Effect::LoadSites];
            }
            _ => {}
        }
        Vec::new()
    }

    pub(crate) fn open_site(&mut self) -> Vec<Effect> {
        let Some(site) = self.sites.get(self.site_index).cloned() else {
            return Vec::new();
        };
        if self.site.as_ref().map(|s| &s.id) != Some(&site.id) {
            self.environments.clear();
            self.backups.clear();
            self.env_index = 0;
            self.backup_index = 0;
            self.job = None;
        }
        self.screen = Screen::SiteDetail;
        self.detail_loading = true;
        self.pane = Pane::Backups;
        self.status = None;
        let site_id = site.id.clone();
        self.site = Some(site);
        vec![Effect::LoadSiteDetail { site_id }]
    }

    pub(crate) fn load_backups(&mut self) -> Vec<Effect> {
        match self.selected_env() {
            Some(env) => {
                let environment_id = env.id.clone();
                self.backups_loading = true;
                vec![Effect::LoadBackups { environment_id }]
            }
            None => {
                self.backups.clear();
                Vec::new()
            }
        }
    }

    fn on_detail_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => {
                self.screen = Screen::Sites;
                self.status = None;
            }
            KeyCode::Char('?') => self.dialog = Some(Dialog::Help),
            KeyCode::Tab | KeyCode::BackTab => {
                self.pane = match self.pane {
                    Pane::Environments => Pane::Backups,
                    Pane::Backups => Pane::Environments,
                };
            }
            KeyCode::Up | KeyCode::Char('k') => return self.move_selection(-1),
            KeyCode::Down | KeyCode::Char('j') => return self.move_selection(1),
            KeyCode::Char('R') => {
                if let Some(site) = &self.site {
                    return vec![Effect::LoadSiteDetail {
                        site_id: site.id.clone(),
                    }];
                }
            }
            KeyCode::Char('b') => match self.backup_blocker() {
                Some(why) => self.error(why),
                None => self.dialog = Some(Dialog::BackupScope { selected: 0 }),
            },
            KeyCode::Char('r') => return self.begin_restore(),
            KeyCode::Char('c') => match self.running_job() {
                Some(job) => {
                    self.dialog = Some(Dialog::CancelJob {
                        job_id: job.id.clone(),
                    })
                }
                None => self.error(strings::NO_JOB_TO_CANCEL.to_string()),
            },
            _ => {}
        }
        Vec::new()
    }

    fn move_selection(&mut self, delta: isize) -> Vec<Effect> {
        let step = |i: usize, len: usize| i.saturating_add_signed(delta).min(len.saturating_sub(1));
        match self.pane {
            Pane::Backups => {
                self.backup_index = step(self.backup_index, self.backups.len());
                Vec::new()
            }
            Pane::Environments => {
                let before = self.env_index;
                self.env_index = step(self.env_index, self.environments.len());
                if before == self.env_index {
                    return Vec::new();
                }
                self.backups.clear();
                self.backup_index = 0;
                self.load_backups()
            }
        }
    }

    /// Why `b` is not possible right now, if it is not.
    pub fn backup_blocker(&self) -> Option<String> {
        let Some(env) = self.selected_env() else {
            return Some(strings::NO_ENV_SELECTED.to_string());
        };
        if let Some(job) = self.running_job() {
            return Some(strings::job_busy(strings::job_kind(job.job_type)));
        }
        (env.status != ResourceStatus::Active)
            .then(|| strings::env_not_active(&env.name, env.status))
    }

    /// Why `r` is not possible right now, if it is not.
    pub fn restore_blocker(&self) -> Option<String> {
        let Some(env) = self.selected_env() else {
            return Some(strings::NO_ENV_SELECTED.to_string());
        };
        let Some(backup) = self.selected_backup() else {
            return Some(strings::NO_BACKUP_SELECTED.to_string());
        };
        if backup.status != BackupStatus::Completed {
            return Some(strings::cannot_restore_status(
                short_id(&backup.id),
                backup.status,
            ));
        }
        if let Some(job) = self.running_job() {
            return Some(strings::job_busy(strings::job_kind(job.job_type)));
        }
        (env.status != ResourceStatus::Active)
            .then(|| strings::env_not_active(&env.name, env.status))
    }

    fn begin_restore(&mut self) -> Vec<Effect> {
        if let Some(why) = self.restore_blocker() {
            self.error(why);
            return Vec::new();
        }
        let (Some(env), Some(backup)) = (self.selected_env(), self.selected_backup()) else {
            return Vec::new();
        };
        let (environment_id, backup_id) = (env.id.clone(), backup.id.clone());
        self.dialog = Some(Dialog::Restore(Box::new(RestoreDialog {
            environment_id: environment_id.clone(),
            backup_id: backup_id.clone(),
            preflight: None,
            fetch_error: None,
            confirm: Input::default(),
            hint: None,
        })));
        vec![Effect::Preflight {
            environment_id,
            backup_id,
        }]
    }
}
