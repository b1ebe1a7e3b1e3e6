//! The frame around the site detail: the header (site, slug, status, server), the status line
//! and the key bar, where actions that are not possible right now are dimmed.

use crate::app::{App, StatusKind};
use crate::strings;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub(super) fn render_header(app: &App, frame: &mut Frame, area: Rect) {
    let mut first = vec![Span::styled(
        format!(" {} › ", strings::APP_NAME),
        Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
    )];
    match &app.site {
        Some(site) => {
            first.push(Span::styled(
                site.name.clone(),
                Style::new().add_modifier(Modifier::BOLD),
            ));
            first.push(Span::raw(format!("  ({})  ", site.slug)));
            first.push(Span::styled(
                format!("● {}", site.status),
                Style::new().fg(super::resource_color(site.status)),
            ));
        }
        None => first.push(Span::raw(strings::LOADING)),
    }
    let second = Line::from(vec![
        Span::styled(" server ", Style::new().fg(Color::DarkGray)),
        Span::raw(app.server_url.clone()),
    ]);
    frame.render_widget(Paragraph::new(vec![Line::from(first), second]), area);
}

pub(super) fn render_status(app: &App, frame: &mut Frame, area: Rect) {
    let Some((kind, text)) = &app.status else {
        return;
    };
    let style = match kind {
        StatusKind::Info => Style::new().fg(Color::Cyan),
        StatusKind::Error => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
    };
    frame.render_widget(
        Paragraph::new(Line::styled(format!(" {text}"), style)),
        area,
    );
}

/// A key bar from `(key, label, enabled)` triples.
pub(super) fn key_bar(keys: &[(&str, &str, bool)]) -> Line<'static> {
    let mut spans = Vec::new();
    for (key, label, enabled) in keys {
        let (key_style, label_style) = if *enabled {
            (Style::new().fg(Color::Black).bg(Color::Cyan), Style::new())
        } else {
            (
                Style::new().fg(Color::DarkGray),
                Style::new().fg(Color::DarkGray),
            )
        };
        spans.push(Span::raw(" "));
        spans.push(Span::styled(key.to_string(), key_style));
        spans.push(Span::styled(format!(" {label}"), label_style));
    }
    Line::from(spans)
}

pub(super) fn render_detail_keys(app: &App, frame: &mut Frame, area: Rect) {
    let keys = [
        strings::KEY_MOVE,
        strings::KEY_PANE,
        strings::KEY_BACKUP,
        strings::KEY_RESTORE,
        strings::KEY_CANCEL,
        strings::KEY_REFRESH,
        strings::KEY_HELP,
        strings::KEY_BACK,
    ];
    let enabled = |key: &str| match key {
        "b" => app.backup_blocker().is_none(),
        "r" => app.restore_blocker().is_none(),
        "c" => app.running_job().is_some(),
        _ => true,
    };
    let triples: Vec<(&str, &str, bool)> = keys.iter().map(|(k, l)| (*k, *l, enabled(k))).collect();
    frame.render_widget(Paragraph::new(key_bar(&triples)), area);
}
