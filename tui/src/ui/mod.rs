//! Drawing: `render(&App, &mut Frame)` reads the state and never changes it. One module per
//! component; this one lays out the screens and holds the shared styles and helpers.

mod backups;
mod chrome;
mod dialogs;
mod environments;
mod help;
mod job_panel;
mod login;
mod sites;

use crate::app::{App, Dialog, Screen};
use pressluft_common::{BackupStatus, JobStatus, ResourceStatus};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, BorderType};
use ratatui::Frame;

pub fn render(app: &App, frame: &mut Frame) {
    match app.screen {
        Screen::Login => login::render(app, frame, frame.area()),
        Screen::Sites => sites::render(app, frame, frame.area()),
        Screen::SiteDetail => render_detail(app, frame, frame.area()),
    }
    match &app.dialog {
        None => {}
        Some(Dialog::Help) => help::render(frame, frame.area()),
        Some(Dialog::BackupScope { selected }) => dialogs::render_scope(app, *selected, frame),
        Some(Dialog::Restore(d)) => dialogs::render_restore(app, d, frame),
        Some(Dialog::CancelJob { job_id }) => dialogs::render_cancel(app, job_id, frame),
    }
}

fn render_detail(app: &App, frame: &mut Frame, area: Rect) {
    let env_rows = app.environments.len().clamp(1, 4) as u16;
    let job_height = job_panel::height(app, area);
    let [header, envs, backups, job, status, keys] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(env_rows + 3),
        Constraint::Min(4),
        Constraint::Length(job_height),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    chrome::render_header(app, frame, header);
    environments::render(app, frame, envs);
    backups::render(app, frame, backups);
    job_panel::render(app, frame, job);
    chrome::render_status(app, frame, status);
    chrome::render_detail_keys(app, frame, keys);
}

pub(crate) fn pane_block(title: &str, focused: bool) -> Block<'_> {
    let style = if focused {
        Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
    } else {
        Style::new().fg(Color::DarkGray)
    };
    Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(style)
        .title(title)
}

pub(crate) fn header_style() -> Style {
    Style::new().add_modifier(Modifier::BOLD).fg(Color::Gray)
}

pub(crate) fn selected_style() -> Style {
    Style::new()
        .bg(Color::DarkGray)
        .add_modifier(Modifier::BOLD)
}

pub(crate) fn resource_color(status: ResourceStatus) -> Color {
    match status {
        ResourceStatus::Active => Color::Green,
        ResourceStatus::Failed => Color::Red,
        _ => Color::Yellow,
    }
}

pub(crate) fn backup_color(status: BackupStatus) -> Color {
    match status {
        BackupStatus::Completed => Color::Green,
        BackupStatus::Failed => Color::Red,
        BackupStatus::Expired => Color::DarkGray,
        _ => Color::Yellow,
    }
}

pub(crate) fn job_color(status: JobStatus) -> Color {
    match status {
        JobStatus::Succeeded => Color::Green,
        JobStatus::Failed => Color::Red,
        JobStatus::Cancelled => Color::DarkGray,
        _ => Color::Yellow,
    }
}

/// A rectangle of at most `width` x `height` centred in `area`.
pub(crate) fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}
