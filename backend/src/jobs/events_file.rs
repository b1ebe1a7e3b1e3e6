//! Tailing the run's `events.jsonl` (written by `ansible/callback_plugins/pressluft_events.py`)
//! while the playbook runs: tasks named `step: <name>` become job steps live, and the facts the
//! classifier needs (playbook started, stats, last failed task) are collected.

use super::classify::{RunFacts, Stats};
use super::handler::JobContext;
use pressluft_common::StepStatus;
use serde_json::Value;
use std::path::PathBuf;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

const STEP_PREFIX: &str = "step:";

pub(super) struct EventsTail {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
    /// (task name, step seq) of the step task that is running.
    open: Option<(String, i64)>,
}

impl EventsTail {
    pub fn new(path: PathBuf) -> Self {
        EventsTail {
            path,
            offset: 0,
            partial: Vec::new(),
            open: None,
        }
    }

    /// Reads the lines appended since the last call and applies them.
    pub async fn poll(&mut self, ctx: &JobContext, facts: &mut RunFacts) {
        let Ok(mut file) = tokio::fs::File::open(&self.path).await else {
            return; // not created yet
        };
        if file
            .seek(std::io::SeekFrom::Start(self.offset))
            .await
            .is_err()
        {
            return;
        }
        let mut buf = Vec::new();
        let Ok(n) = file.read_to_end(&mut buf).await else {
            return;
        };
        self.offset += n as u64;
        self.partial.extend_from_slice(&buf);
        while let Some(pos) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=pos).collect();
            match serde_json::from_slice::<Value>(&line) {
                Ok(ev) => self.apply(ctx, facts, &ev).await,
                Err(e) => {
                    tracing::debug!(job.id = %ctx.job.id, error = %e, "skipping unreadable event line")
                }
            }
        }
    }

    async fn apply(&mut self, ctx: &JobContext, facts: &mut RunFacts, ev: &Value) {
        let kind = ev.get("event").and_then(Value::as_str).unwrap_or("");
        let task = ev
            .get("task")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let msg = ev.get("msg").and_then(Value::as_str).map(str::to_string);
        match kind {
            "playbook_start" => facts.played = true,
            "task_start" => {
                if let Some(name) = task.strip_prefix(STEP_PREFIX).map(str::trim) {
                    self.finish_open(ctx, StepStatus::Succeeded, None).await;
                    match ctx.step_start(name).await {
                        Ok(seq) => self.open = Some((task.clone(), seq)),
                        Err(e) => {
                            tracing::debug!(job.id = %ctx.job.id, code = %e.code, "step not recorded")
                        }
                    }
                }
            }
            "task_ok" | "task_skipped" | "task_failed" | "task_unreachable" => {
                let ignored = ev.get("ignored").and_then(Value::as_bool).unwrap_or(false);
                let failed = matches!(kind, "task_failed" | "task_unreachable") && !ignored;
                if failed {
                    facts.failed_task = Some(task.clone());
                    facts.failed_msg = msg.clone();
                }
                if self.open.as_ref().is_some_and(|(t, _)| *t == task) {
                    let status = match kind {
                        _ if failed => StepStatus::Failed,
                        "task_skipped" => StepStatus::Skipped,
                        _ => StepStatus::Succeeded,
                    };
                    let detail = if failed {
                        msg.map(|m| super::output::redact(&m))
                    } else {
                        None
                    };
                    self.finish_open(ctx, status, detail).await;
                }
            }
            "stats" => facts.stats = Some(sum_stats(ev.get("stats"))),
            _ => {}
        }
    }

    async fn finish_open(&mut self, ctx: &JobContext, status: StepStatus, detail: Option<String>) {
        if let Some((_, seq)) = self.open.take() {
            if let Err(e) = ctx.step_finish(seq, status, detail).await {
                tracing::debug!(job.id = %ctx.job.id, code = %e.code, "step finish not recorded");
            }
        }
    }

    /// Closes a step left open when the run ended (killed, or its host failed mid-task).
    pub async fn close(&mut self, ctx: &JobContext, success: bool) {
        let status = if success {
            StepStatus::Succeeded
        } else {
            StepStatus::Failed
        };
        let detail = (!success).then(|| "the run ended before this step finished".to_string());
        self.finish_open(ctx, status, detail).await;
    }
}

fn sum_stats(stats: Option<&Value>) -> Stats {
    let mut total = Stats::default();
    let Some(hosts) = stats.and_then(Value::as_object) else {
        return total;
    };
    let n = |h: &Value, k: &str| h.get(k).and_then(Value::as_u64).unwrap_or(0);
    for h in hosts.values() {
        total.ok += n(h, "ok");
        total.failures += n(h, "failures");
        total.unreachable += n(h, "unreachable");
    }
    total
}
