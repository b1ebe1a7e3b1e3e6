//! Keys while a dialog is open. The dialog was taken out of the `App`; each handler puts it back
//! unless the key closes it. Esc always closes without sending anything.

use crate::action::Effect;
use crate::app::{App, Dialog, RestoreDialog, SCOPES};
use crate::strings;
use crossterm::event::{Event, KeyCode, KeyEvent};
use tui_input::backend::crossterm::to_input_request;

impl App {
    pub(crate) fn on_dialog_key(&mut self, dialog: Dialog, key: KeyEvent) -> Vec<Effect> {
        match dialog {
            Dialog::Help => {
                if !matches!(
                    key.code,
                    KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q')
                ) {
                    self.dialog = Some(Dialog::Help);
                }
                Vec::new()
            }
            Dialog::BackupScope { selected } => self.on_scope_key(selected, key),
            Dialog::Restore(d) => self.on_restore_key(d, key),
            Dialog::CancelJob { job_id } => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => {
                    self.info(strings::CANCEL_SENT.to_string());
                    vec![Effect::CancelJob { job_id }]
                }
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => Vec::new(),
                _ => {
                    self.dialog = Some(Dialog::CancelJob { job_id });
                    Vec::new()
                }
            },
        }
    }

    fn on_scope_key(&mut self, selected: usize, key: KeyEvent) -> Vec<Effect> {
        let last = SCOPES.len() - 1;
        let selected = match key.code {
            KeyCode::Esc => return Vec::new(),
            KeyCode::Enter => {
                let Some(env) = self.selected_env() else {
                    return Vec::new();
                };
                let environment_id = env.id.clone();
                let scope = SCOPES[selected.min(last)];
                self.info(strings::backup_requested(scope.as_str(), &env.name));
                return vec![Effect::CreateBackup {
                    environment_id,
                    scope,
                }];
            }
            KeyCode::Up | KeyCode::Char('k') => selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => (selected + 1).min(last),
            KeyCode::Char('f') => 0,
            KeyCode::Char('d') => 1,
            KeyCode::Char('i') => 2,
            _ => selected,
        };
        self.dialog = Some(Dialog::BackupScope { selected });
        Vec::new()
    }

    fn on_restore_key(&mut self, mut d: Box<RestoreDialog>, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc => {
                self.info(strings::RESTORE_ABORTED.to_string());
                return Vec::new();
            }
            KeyCode::Enter => {
                let slug = self
                    .env_by_id(&d.environment_id)
                    .map(|e| e.slug.clone())
                    .unwrap_or_default();
                let hint = match &d.preflight {
                    None => Some(strings::RESTORE_WAIT_PREFLIGHT.to_string()),
                    Some(p) if !p.ok || p.error.is_some() => {
                        Some(strings::RESTORE_NOT_OK.to_string())
                    }
                    Some(_) if slug.is_empty() || d.confirm.value() != slug => {
                        Some(strings::slug_mismatch(&slug))
                    }
                    Some(p) => {
                        self.pending_plan = p.steps.len();
                        self.info(strings::RESTORE_SENT.to_string());
                        return vec![Effect::Restore {
                            environment_id: d.environment_id,
                            backup_id: d.backup_id,
                        }];
                    }
                };
                d.hint = hint;
            }
            _ => {
                if let Some(req) = to_input_request(&Event::Key(key)) {
                    d.confirm.handle(req);
                    d.hint = None;
                }
            }
        }
        self.dialog = Some(Dialog::Restore(d));
        Vec::new()
    }
}
