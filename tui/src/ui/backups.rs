//! The selected environment's backups, newest first: short id, status, scope, size, created,
//! retention date and short checksum. `r` restores the highlighted row.

use crate::app::{App, Pane};
use crate::format;
use crate::strings;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

pub(super) fn render(app: &App, frame: &mut Frame, area: Rect) {
    let focused = app.pane == Pane::Backups;
    let title = match app.selected_env() {
        Some(env) => format!("{}· {} ", strings::BACKUPS_TITLE, env.name),
        None => strings::BACKUPS_TITLE.to_string(),
    };
    let block = super::pane_block(&title, focused);
    if app.backups.is_empty() {
        let text = if app.backups_loading {
            strings::LOADING
        } else {
            strings::NO_BACKUPS
        };
        frame.render_widget(Paragraph::new(Line::raw(text)).block(block), area);
        return;
    }
    let rows = app.backups.iter().map(|b| {
        Row::new(vec![
            Cell::from(format::short_id(&b.id).to_string()),
            Cell::from(Line::styled(
                b.status.as_str(),
                Style::new().fg(super::backup_color(b.status)),
            )),
            Cell::from(b.backup_scope.as_str()),
            Cell::from(Line::raw(format::human_size(b.size_bytes)).right_aligned()),
            Cell::from(format::datetime(&b.created_at)),
            Cell::from(format::date(&b.retention_until)),
            Cell::from(format::short_checksum(b.checksum.as_deref())),
        ])
    });
    let header = Row::new(strings::BACKUP_COLUMNS).style(super::header_style());
    let widths = [
        Constraint::Length(8),
        Constraint::Length(9),
        Constraint::Length(5),
        Constraint::Length(9),
        Constraint::Length(16),
        Constraint::Length(10),
        Constraint::Length(12),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .row_highlight_style(super::selected_style())
        .highlight_symbol("› ");
    let mut state = TableState::default().with_selected(Some(app.backup_index));
    frame.render_stateful_widget(table, area, &mut state);
}
