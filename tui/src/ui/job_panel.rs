//! The job panel: the followed job's steps as they happen (✓ ✗ ⟳ with duration and detail), a
//! progress gauge or step count, and the terminal outcome with what to do next.

use crate::app::App;
use crate::format;
use crate::job::JobView;
use crate::strings;
use pressluft_common::{JobStatus, JobStep, StepStatus};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Gauge, Paragraph, Wrap};
use ratatui::Frame;

/// Rows the panel wants in `area` (the whole detail view), capped so the tables stay usable.
pub(super) fn height(app: &App, area: Rect) -> u16 {
    let Some(job) = &app.job else {
        return 3;
    };
    let width = area.width.saturating_sub(2).max(1) as usize;
    let wanted = 1 + job.steps.len() + outcome_lines(job, width) + 2;
    let cap = (area.height * 2 / 5).max(6) as usize;
    wanted.min(cap) as u16
}

fn outcome_text(job: &JobView) -> Vec<String> {
    if job.status != JobStatus::Failed {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let Some(message) = &job.error_message {
        out.push(message.clone());
    }
    out.push(strings::next_step(job.job_type).to_string());
    out
}

fn outcome_lines(job: &JobView, width: usize) -> usize {
    outcome_text(job)
        .iter()
        .map(|t| t.chars().count().div_ceil(width).max(1))
        .sum()
}

pub(super) fn render(app: &App, frame: &mut Frame, area: Rect) {
    let Some(job) = &app.job else {
        let block = super::pane_block(strings::JOB_TITLE, false);
        frame.render_widget(Paragraph::new(strings::NO_JOB).block(block), area);
        return;
    };
    let kind = strings::job_kind(job.job_type);
    let title = format!(
        "{}· {kind} {} ",
        strings::JOB_TITLE,
        format::short_id(&job.id)
    );
    let block = super::pane_block(&title, false)
        .border_style(Style::new().fg(super::job_color(job.status)));
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let outcome_h = outcome_lines(job, inner.width.max(1) as usize) as u16;
    let [headline, steps, outcome] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(outcome_h),
    ])
    .areas(inner);
    render_headline(app, job, frame, headline);

    let visible = visible_steps(&job.steps, steps.height as usize);
    let lines: Vec<Line> = visible.into_iter().map(step_line).collect();
    frame.render_widget(Paragraph::new(lines), steps);

    let text: Vec<Line> = outcome_text(job).into_iter().map(Line::raw).collect();
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), outcome);
}

fn render_headline(app: &App, job: &JobView, frame: &mut Frame, area: Rect) {
    let bold = |c: Color| Style::new().fg(c).add_modifier(Modifier::BOLD);
    if let Some((status, text)) = app.job_outcome() {
        let (mark, color) = match status {
            JobStatus::Succeeded => ("✓", Color::Green),
            JobStatus::Failed => ("✗", Color::Red),
            _ => ("–", Color::DarkGray),
        };
        let line = Line::styled(format!("{mark} {text}"), bold(color));
        frame.render_widget(Paragraph::new(line), area);
        return;
    }
    let kind = strings::job_kind(job.job_type);
    let progress = strings::steps_progress(job.steps_done(), job.planned_steps);
    let mut label = format!("{kind} {} · {progress}", job.status);
    if job.polling {
        label = format!("{label} · {}", strings::STREAM_LOST);
    }
    match job.ratio() {
        Some(ratio) => {
            let gauge = Gauge::default()
                .gauge_style(Style::new().fg(Color::Cyan).bg(Color::Black))
                .ratio(ratio)
                .label(label);
            frame.render_widget(gauge, area);
        }
        None => {
            let line = Line::styled(format!("⟳ {label}"), bold(Color::Yellow));
            frame.render_widget(Paragraph::new(line), area);
        }
    }
}

/// The steps that fit in `rows`: the newest ones, but never hiding a failed step.
fn visible_steps(steps: &[JobStep], rows: usize) -> Vec<&JobStep> {
    let mut shown: Vec<usize> = (steps.len().saturating_sub(rows)..steps.len()).collect();
    for failed in (0..steps.len())
        .rev()
        .filter(|&i| steps[i].status == StepStatus::Failed)
    {
        if shown.contains(&failed) {
            continue;
        }
        match shown
            .iter()
            .position(|&i| steps[i].status != StepStatus::Failed)
        {
            Some(pos) => {
                shown.remove(pos);
                shown.push(failed);
                shown.sort_unstable();
            }
            None => break,
        }
    }
    shown.into_iter().map(|i| &steps[i]).collect()
}

fn step_line(step: &JobStep) -> Line<'static> {
    let (mark, color) = match step.status {
        StepStatus::Succeeded => ("✓", Color::Green),
        StepStatus::Failed => ("✗", Color::Red),
        StepStatus::Running => ("⟳", Color::Yellow),
        StepStatus::Skipped => ("–", Color::DarkGray),
    };
    let took = match (&step.finished_at, step.status) {
        (Some(end), _) => format::duration(&step.started_at, end).unwrap_or_default(),
        (None, StepStatus::Running) => "…".to_string(),
        (None, _) => String::new(),
    };
    let mut detail = step.detail.clone().unwrap_or_default();
    if let (Some(done), Some(total)) = (step.bytes_done, step.bytes_total) {
        let pct = (done.saturating_mul(100)).checked_div(total).unwrap_or(0);
        detail = format!(
            "{pct}% {}/{} {detail}",
            format::human_size(Some(done)),
            format::human_size(Some(total))
        );
    }
    Line::from(vec![
        Span::styled(format!(" {mark} "), Style::new().fg(color)),
        Span::raw(format!("{:<24}", step.name)),
        Span::styled(format!("{took:>7}  "), Style::new().fg(Color::DarkGray)),
        Span::raw(detail),
    ])
}
