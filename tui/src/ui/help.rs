//! The `?` help overlay: every key with what it does, and how a restore is confirmed.

use crate::strings;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};
use ratatui::Frame;

pub(super) fn render(frame: &mut Frame, screen: Rect) {
    let height = strings::HELP_LINES.len() as u16 + 7;
    let area = super::centered(screen, 72, height);
    let block = Block::bordered()
        .border_type(BorderType::Double)
        .border_style(Style::new().fg(Color::Cyan))
        .title(strings::HELP_TITLE);
    let key_style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
    let mut lines: Vec<Line> = strings::HELP_LINES
        .iter()
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(format!(" {key:<10}"), key_style),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::raw(strings::HELP_RESTORE));
    lines.push(Line::styled(
        strings::HELP_CLOSE,
        Style::new().fg(Color::DarkGray),
    ));
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}
