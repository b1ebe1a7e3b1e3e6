//! The popups of the site detail: backup scope choice, restore confirmation (target, backup,
//! pre-restore note, preflight checks and steps, slug to type) and the cancel question.

use crate::app::{App, RestoreDialog};
use crate::format;
use crate::strings;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Padding, Paragraph, Wrap};
use ratatui::Frame;

fn popup(frame: &mut Frame, area: Rect, title: &str, color: Color) -> Rect {
    let block = Block::bordered()
        .border_type(BorderType::Double)
        .border_style(Style::new().fg(color).add_modifier(Modifier::BOLD))
        .padding(Padding::horizontal(1))
        .title(title.to_string());
    let inner = block.inner(area);
    frame.render_widget(Clear, area);
    frame.render_widget(block, area);
    inner
}

fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

pub(super) fn render_scope(app: &App, selected: usize, frame: &mut Frame) {
    let area = super::centered(frame.area(), 44, 8);
    let inner = popup(frame, area, strings::SCOPE_TITLE, Color::Cyan);
    let env = app.selected_env().map_or("", |e| e.name.as_str());
    let mut lines = vec![Line::raw(format!("Environment {env}"))];
    for (i, (scope, what)) in strings::SCOPE_CHOICES.iter().enumerate() {
        let text = format!(
            "{} {scope:<6} {what}",
            if i == selected { "›" } else { " " }
        );
        let style = if i == selected {
            super::selected_style()
        } else {
            Style::new()
        };
        lines.push(Line::styled(text, style));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(strings::SCOPE_HINT, dim()));
    frame.render_widget(Paragraph::new(lines), inner);
}

pub(super) fn render_cancel(app: &App, job_id: &str, frame: &mut Frame) {
    let area = super::centered(frame.area(), 60, 6);
    let inner = popup(frame, area, strings::CANCEL_TITLE, Color::Yellow);
    let kind = app
        .job
        .as_ref()
        .map_or("", |j| strings::job_kind(j.job_type));
    let lines = vec![
        Line::raw(strings::cancel_question(kind, format::short_id(job_id))),
        Line::raw(""),
        Line::styled(strings::CANCEL_KEYS, dim()),
    ];
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), inner);
}

fn check_mark(ok: bool) -> Span<'static> {
    if ok {
        Span::styled(" ✓ ", Style::new().fg(Color::Green))
    } else {
        Span::styled(
            " ✗ ",
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        )
    }
}

fn restore_body(app: &App, d: &RestoreDialog) -> Vec<Line<'static>> {
    let label = |s: &'static str| Span::styled(s, Style::new().add_modifier(Modifier::BOLD));
    let env = app.env_by_id(&d.environment_id);
    let (env_name, env_slug) = env.map_or(("?", "?"), |e| (e.name.as_str(), e.slug.as_str()));
    let (site_name, site_slug) = app
        .site
        .as_ref()
        .map_or(("?", "?"), |s| (&*s.name, &*s.slug));
    let mut lines = vec![Line::from(vec![
        label(strings::RESTORE_TARGET),
        Span::raw(strings::target_line(
            env_name, env_slug, site_name, site_slug,
        )),
    ])];
    let backup = app.backups.iter().find(|b| b.id == d.backup_id);
    let backup_text = match backup {
        Some(b) => format!(
            "{} · {} · created {} · {}",
            b.id,
            b.backup_scope,
            format::datetime(&b.created_at),
            format::human_size(b.size_bytes)
        ),
        None => d.backup_id.clone(),
    };
    lines.push(Line::from(vec![
        label(strings::RESTORE_BACKUP),
        Span::raw(backup_text),
    ]));
    lines.push(Line::styled(
        format!("! {}", strings::pre_restore_note(env_name)),
        Style::new().fg(Color::Yellow),
    ));
    lines.push(Line::raw(""));
    if let Some(err) = &d.fetch_error {
        lines.push(Line::styled(err.clone(), Style::new().fg(Color::Red)));
        return lines;
    }
    let Some(p) = &d.preflight else {
        lines.push(Line::styled(strings::RESTORE_CHECKING, dim()));
        return lines;
    };
    if let Some(e) = &p.error {
        lines.push(Line::styled(
            format!("✗ {}", strings::preflight_refused(&e.code, &e.message)),
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    }
    lines.push(Line::from(label(strings::RESTORE_CHECKS)));
    for check in &p.checks {
        lines.push(Line::from(vec![
            check_mark(check.ok),
            Span::raw(format!("{:<22} ", check.name)),
            Span::styled(check.detail.clone(), dim()),
        ]));
    }
    if !p.steps.is_empty() {
        lines.push(Line::from(vec![
            label(strings::RESTORE_STEPS),
            Span::raw(format!("  {}", p.steps.join(" → "))),
        ]));
    }
    lines
}

fn wrapped_height(lines: &[Line], width: u16) -> u16 {
    let width = width.max(1) as usize;
    lines
        .iter()
        .map(|l| l.width().div_ceil(width).max(1))
        .sum::<usize>() as u16
}

pub(super) fn render_restore(app: &App, d: &RestoreDialog, frame: &mut Frame) {
    let screen = frame.area();
    let width = screen.width.saturating_sub(4).min(100);
    let body = restore_body(app, d);
    let confirmable = d.fetch_error.is_none()
        && d.preflight
            .as_ref()
            .is_some_and(|p| p.ok && p.error.is_none());
    let footer_rows = if confirmable { 3 } else { 1 };
    let height = wrapped_height(&body, width.saturating_sub(4)) + footer_rows + 2;
    let area = super::centered(screen, width, height);
    let color = if confirmable || d.preflight.is_none() {
        Color::Cyan
    } else {
        Color::Red
    };
    let inner = popup(frame, area, strings::RESTORE_TITLE, color);
    let [body_area, footer] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(footer_rows)]).areas(inner);
    frame.render_widget(Paragraph::new(body).wrap(Wrap { trim: false }), body_area);
    if !confirmable {
        frame.render_widget(
            Paragraph::new(Line::styled(strings::RESTORE_KEYS_BLOCKED, dim())),
            footer,
        );
        return;
    }
    let slug = app
        .env_by_id(&d.environment_id)
        .map_or("", |e| e.slug.as_str());
    let [prompt, hint, keys] = Layout::vertical([Constraint::Length(1); 3]).areas(footer);
    let prompt_text = strings::type_slug_prompt(slug);
    let matches = d.confirm.value() == slug;
    let value_style = Style::new()
        .fg(if matches { Color::Green } else { Color::White })
        .add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(
                prompt_text.clone(),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            Span::styled(d.confirm.value().to_string(), value_style),
        ])),
        prompt,
    );
    let cursor_x = prompt.x + (prompt_text.chars().count() + d.confirm.visual_cursor()) as u16;
    frame.set_cursor_position((cursor_x.min(prompt.right().saturating_sub(1)), prompt.y));
    if let Some(h) = &d.hint {
        frame.render_widget(
            Paragraph::new(Line::styled(h.clone(), Style::new().fg(Color::Red))),
            hint,
        );
    }
    frame.render_widget(
        Paragraph::new(Line::styled(strings::RESTORE_KEYS, dim())),
        keys,
    );
}
