//! The login form: server URL, e-mail and a masked password (tui-input fields), with the last
//! login error. The password is drawn as bullets only.

use crate::app::App;
use crate::strings;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph, Wrap};
use ratatui::Frame;
use tui_input::Input;

fn field(label: &str, input: &Input, masked: bool, focused: bool, width: u16) -> Line<'static> {
    let shown: String = if masked {
        "•".repeat(input.value().chars().count())
    } else {
        input.value().to_string()
    };
    let scroll = input.visual_scroll(width as usize);
    let shown: String = shown.chars().skip(scroll).collect();
    let label_style = if focused {
        Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
    } else {
        Style::new().fg(Color::Gray)
    };
    Line::from(vec![
        Span::styled(
            format!("{}{label:<9}", if focused { "› " } else { "  " }),
            label_style,
        ),
        Span::styled(shown, Style::new().add_modifier(Modifier::UNDERLINED)),
    ])
}

pub(super) fn render(app: &App, frame: &mut Frame, screen: Rect) {
    let area = super::centered(screen, 60, 11);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(Color::Cyan))
        .title(strings::LOGIN_TITLE);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [server, _, email, password, _, message, hint] =
        Layout::vertical([Constraint::Length(1); 7]).areas(inner);
    let form = &app.login;
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("  server   ", Style::new().fg(Color::DarkGray)),
            Span::raw(app.server_url.clone()),
        ])),
        server,
    );
    let field_width = inner.width.saturating_sub(12);
    let pw = form.password_focused;
    frame.render_widget(
        Paragraph::new(field(
            strings::LOGIN_EMAIL,
            &form.email,
            false,
            !pw,
            field_width,
        )),
        email,
    );
    frame.render_widget(
        Paragraph::new(field(
            strings::LOGIN_PASSWORD,
            &form.password,
            true,
            pw,
            field_width,
        )),
        password,
    );
    let (input, row) = if pw {
        (&form.password, password)
    } else {
        (&form.email, email)
    };
    let offset = input.visual_cursor() - input.visual_scroll(field_width as usize);
    frame.set_cursor_position((row.x + 11 + offset as u16, row.y));
    let status = if form.busy {
        Line::styled(
            format!("  {}", strings::LOGIN_BUSY),
            Style::new().fg(Color::Yellow),
        )
    } else if let Some(err) = &form.error {
        Line::styled(format!("  {err}"), Style::new().fg(Color::Red))
    } else {
        Line::raw("")
    };
    frame.render_widget(Paragraph::new(status).wrap(Wrap { trim: false }), message);
    frame.render_widget(
        Paragraph::new(Line::styled(
            format!("  {}", strings::LOGIN_HINT),
            Style::new().fg(Color::DarkGray),
        )),
        hint,
    );
}
