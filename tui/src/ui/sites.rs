//! The sites list: name, slug and status of every site; Enter opens the site detail.

use crate::app::App;
use crate::strings;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

pub(super) fn render(app: &App, frame: &mut Frame, area: Rect) {
    let [header, body, status, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(
                format!(" {} ", strings::APP_NAME),
                Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            ),
            Span::styled("server ", Style::new().fg(Color::DarkGray)),
            Span::raw(app.server_url.clone()),
        ])),
        header,
    );
    let block = super::pane_block(strings::SITES_TITLE, true);
    if app.sites.is_empty() {
        let text = if app.sites_loading {
            strings::LOADING
        } else {
            strings::NO_SITES
        };
        frame.render_widget(Paragraph::new(text).block(block), body);
    } else {
        let rows = app.sites.iter().map(|s| {
            Row::new(vec![
                Cell::from(s.name.clone()),
                Cell::from(s.slug.clone()),
                Cell::from(Line::styled(
                    s.status.as_str(),
                    Style::new().fg(super::resource_color(s.status)),
                )),
            ])
        });
        let widths = [
            Constraint::Fill(2),
            Constraint::Fill(1),
            Constraint::Length(10),
        ];
        let table = Table::new(rows, widths)
            .header(Row::new(strings::SITE_COLUMNS).style(super::header_style()))
            .block(block)
            .row_highlight_style(super::selected_style())
            .highlight_symbol("› ");
        let mut state = TableState::default().with_selected(Some(app.site_index));
        frame.render_stateful_widget(table, body, &mut state);
    }
    super::chrome::render_status(app, frame, status);
    let triples: Vec<(&str, &str, bool)> = strings::KEYS_SITES
        .iter()
        .map(|(k, l)| (*k, *l, true))
        .collect();
    frame.render_widget(Paragraph::new(super::chrome::key_bar(&triples)), keys);
}
