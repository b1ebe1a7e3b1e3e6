//! The environments table of the site detail: name, type, status and preview URL. Moving the
//! selection here loads that environment's backups.

use crate::app::{App, Pane};
use crate::strings;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

pub(super) fn render(app: &App, frame: &mut Frame, area: Rect) {
    let focused = app.pane == Pane::Environments;
    let block = super::pane_block(strings::ENVIRONMENTS_TITLE, focused);
    if app.environments.is_empty() {
        let text = if app.detail_loading {
            strings::LOADING
        } else {
            strings::NO_ENVIRONMENTS
        };
        frame.render_widget(Paragraph::new(Line::raw(text)).block(block), area);
        return;
    }
    let rows = app.environments.iter().map(|env| {
        Row::new(vec![
            Cell::from(env.name.clone()),
            Cell::from(env.environment_type.as_str()),
            Cell::from(Line::styled(
                env.status.as_str(),
                Style::new().fg(super::resource_color(env.status)),
            )),
            Cell::from(env.preview_url.clone()),
        ])
    });
    let header = Row::new(strings::ENV_COLUMNS).style(super::header_style());
    let widths = [
        Constraint::Length(16),
        Constraint::Length(10),
        Constraint::Length(9),
        Constraint::Fill(1),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .row_highlight_style(super::selected_style())
        .highlight_symbol("› ");
    let mut state = TableState::default().with_selected(Some(app.env_index));
    frame.render_stateful_widget(table, area, &mut state);
}
