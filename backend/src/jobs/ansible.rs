//! The Ansible runner: one `ansible-playbook` subprocess per call, in a private run directory
//! (inventory, 0600 extra-vars, events file, result file), its own process group, output
//! drained concurrently into the log and a redacted 10 KB tail, `step:` tasks recorded live,
//! stopped on timeout / cancel with SIGTERM, 5 s grace, SIGKILL and a sweep of every process
//! carrying the run's marker variable. Contract: docs/design-notes.md, "Ansible runner".

use super::classify::{classify, RunFacts};
use super::control::StopReason;
use super::events_file::EventsTail;
use super::handler::{JobContext, JobFailure, PlaybookOutcome};
use super::inventory;
use super::output::{redact, Tail};
use super::procs::{self, RUN_MARKER};
use super::rundir::{prepare_dir, write_inputs};
use crate::config::Config;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

const TERM_GRACE: Duration = Duration::from_secs(5);
const EVENTS_POLL: Duration = Duration::from_millis(250);

fn invalid(message: String) -> JobFailure {
    JobFailure::new("JOB_INVALID", message, false)
}

/// Runs `<ansible_dir>/playbooks/<playbook>` against the job's node (see `JobContext`).
pub(super) async fn run_playbook(
    ctx: &JobContext,
    playbook: &str,
    extra_vars: Value,
) -> Result<PlaybookOutcome, JobFailure> {
    let job = &ctx.job;
    if playbook.contains('/') || playbook.starts_with('.') || !playbook.ends_with(".yml") {
        return Err(invalid(format!("`{playbook}` is not a playbook file name")));
    }
    let Value::Object(mut vars) = extra_vars else {
        return Err(invalid(
            "a playbook's extra-vars must be a JSON object".into(),
        ));
    };
    let node_id = job
        .node_id
        .clone()
        .ok_or_else(|| invalid(format!("job {} has no node to run {playbook} on", job.id)))?;
    let lookup = node_id.clone();
    let node = ctx
        .state
        .db
        .run(move |c| inventory::load_node(c, &lookup))
        .await
        .map_err(|e| JobFailure::internal(&job.id, &e))?
        .ok_or_else(|| {
            invalid(format!(
                "node {node_id} of job {} is not registered",
                job.id
            ))
        })?;
    let config = &ctx.state.config;
    let dir = prepare_dir(config, &job.id).await?;
    let result_file = dir.path().join("result.json");
    vars.insert("pressluft_result_file".into(), json!(result_file));
    vars.insert("pressluft_job_id".into(), json!(job.id));
    vars.insert("pressluft_attempt".into(), json!(job.attempt));
    write_inputs(
        dir.path(),
        &inventory::inventory(&node, &config.data_dir),
        &Value::Object(vars),
    )
    .await?;

    let run_id = format!("{}:{}:{}", job.id, job.attempt, &crate::util::new_id()[..8]);
    let playbook_path = config.ansible_dir.join("playbooks").join(playbook);
    let mut cmd = command(config, dir.path(), &playbook_path, &run_id);
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|e| {
        JobFailure::new(
            "ANSIBLE_UNEXPECTED_ERROR",
            format!(
                "failed to run `{}` for job {}: {e}; install ansible-core (scripts/install-deps.sh) or set PRESSLUFT_ANSIBLE_PLAYBOOK",
                config.ansible_playbook.display(),
                job.id
            ),
            false,
        )
    })?;
    ctx.set_playbook_active(true);
    let pgid = child.id().map(|p| p as i32).unwrap_or(0);
    let guard = GroupGuard {
        pgid,
        run_id: run_id.clone(),
        armed: true,
    };
    tracing::info!(job.id = %job.id, playbook, node = %node.name, pid = pgid, "ansible-playbook started");

    let tail = Arc::new(Mutex::new(Tail::default()));
    let readers = [
        child
            .stdout
            .take()
            .map(|s| tokio::spawn(drain(s, tail.clone(), job.id.clone(), "stdout"))),
        child
            .stderr
            .take()
            .map(|s| tokio::spawn(drain(s, tail.clone(), job.id.clone(), "stderr"))),
    ];
    let mut events = EventsTail::new(dir.path().join("events.jsonl"));
    let mut facts = RunFacts::default();
    let status = wait_or_stop(ctx, &mut child, &mut events, &mut facts, pgid).await;
    sweep(pgid, &run_id).await;
    for reader in readers.into_iter().flatten() {
        let _ = tokio::time::timeout(Duration::from_secs(2), reader).await;
    }
    drop(guard.disarm());
    events.poll(ctx, &mut facts).await;
    ctx.set_playbook_active(false);
    let duration_ms = started.elapsed().as_millis() as u64;
    let tail_text = tail.lock().map(|t| t.text()).unwrap_or_default();
    let with_tail = |mut f: JobFailure| {
        f.output_tail = Some(tail_text.clone());
        f
    };
    let exit_code = status.as_ref().ok().and_then(ExitStatus::code);
    tracing::info!(job.id = %job.id, playbook, exit_code, duration_ms, "ansible-playbook ended");
    if let Some(reason) = ctx.stop_reason() {
        events.close(ctx, false).await;
        return Err(with_tail(stopped_failure(reason, playbook, config)));
    }
    if let Err(e) = &status {
        events.close(ctx, false).await;
        return Err(with_tail(JobFailure::new(
            "ANSIBLE_UNEXPECTED_ERROR",
            format!("waiting for ansible-playbook failed: {e}"),
            false,
        )));
    }
    facts.exit_code = exit_code;
    read_result(&result_file, &mut facts).await;
    let classified = classify(&facts, &node.name, playbook, &|code| {
        ctx.handler.retryable_result_code(code)
    });
    events.close(ctx, classified.is_ok()).await;
    classified
        .map(|result| PlaybookOutcome {
            result,
            duration_ms,
        })
        .map_err(with_tail)
}

fn command(config: &Config, dir: &Path, playbook: &Path, run_id: &str) -> Command {
    let mut cmd = Command::new(&config.ansible_playbook);
    cmd.arg("-i")
        .arg(dir.join("inventory.json"))
        .arg("-e")
        .arg(format!("@{}", dir.join("vars.json").display()))
        .arg(playbook)
        .current_dir(dir)
        .env("ANSIBLE_CONFIG", config.ansible_dir.join("ansible.cfg"))
        .env(
            "ANSIBLE_CALLBACK_PLUGINS",
            config.ansible_dir.join("callback_plugins"),
        )
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_FORCE_COLOR", "0")
        .env("PYTHONUNBUFFERED", "1")
        .env("ANSIBLE_LOCAL_TEMP", dir.join("ansible-local"))
        .env("PRESSLUFT_EVENTS_FILE", dir.join("events.jsonl"))
        .env(RUN_MARKER, run_id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    cmd
}

async fn wait_or_stop(
    ctx: &JobContext,
    child: &mut Child,
    events: &mut EventsTail,
    facts: &mut RunFacts,
    pgid: i32,
) -> std::io::Result<ExitStatus> {
    let mut tick = tokio::time::interval(EVENTS_POLL);
    loop {
        tokio::select! {
            status = child.wait() => return status,
            _ = tick.tick() => events.poll(ctx, facts).await,
            _ = ctx.stop_signal().stopped() => break,
        }
    }
    tracing::warn!(job.id = %ctx.job.id, reason = ?ctx.stop_reason(), "stopping ansible-playbook");
    procs::signal_group(pgid, libc::SIGTERM);
    match tokio::time::timeout(TERM_GRACE, child.wait()).await {
        Ok(status) => status,
        Err(_) => {
            procs::signal_group(pgid, libc::SIGKILL);
            child.wait().await
        }
    }
}

/// Kills whatever is left of the run: its process group and every marked process.
async fn sweep(pgid: i32, run_id: &str) {
    let run_id = run_id.to_string();
    let _ = tokio::task::spawn_blocking(move || {
        procs::signal_group(pgid, libc::SIGKILL);
        procs::kill_marked(&run_id, false)
    })
    .await;
}

fn stopped_failure(reason: StopReason, playbook: &str, config: &Config) -> JobFailure {
    match reason {
        StopReason::Timeout => JobFailure::new(
            "ANSIBLE_TIMEOUT",
            format!(
                "playbook {playbook} ran longer than the job timeout of {} s and was stopped; check the node, the job is retried while attempts remain",
                config.job_timeout.as_secs()
            ),
            true,
        ),
        StopReason::Cancelled => JobFailure::new("JOB_CANCELLED", format!("cancelled by an admin; {playbook} was stopped"), false),
        StopReason::Shutdown | StopReason::LeaseLost => {
            JobFailure::new("JOB_ABANDONED", format!("{playbook} was interrupted ({reason:?})"), true)
        }
    }
}

async fn drain(
    stream: impl AsyncRead + Unpin,
    tail: Arc<Mutex<Tail>>,
    job_id: String,
    pipe: &'static str,
) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf);
                let line = line.trim_end();
                if line.is_empty() {
                    continue;
                }
                let line = redact(line);
                tracing::info!(target: "pressluft::ansible", { job.id = %job_id, fd = pipe }, "{line}");
                if let Ok(mut t) = tail.lock() {
                    t.push(&line);
                }
            }
        }
    }
}

async fn read_result(path: &Path, facts: &mut RunFacts) {
    match tokio::fs::read(path).await {
        Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) => facts.result = Some(v),
            Err(e) => facts.result_error = Some(format!("result file is not JSON: {e}")),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => facts.result_error = Some(format!("cannot read the result file: {e}")),
    }
}

/// Kills the run's processes if the runner future is dropped mid-run.
struct GroupGuard {
    pgid: i32,
    run_id: String,
    armed: bool,
}

impl GroupGuard {
    fn disarm(mut self) -> Self {
        self.armed = false;
        self
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            procs::signal_group(self.pgid, libc::SIGKILL);
            procs::kill_marked(&self.run_id, false);
        }
    }
}
