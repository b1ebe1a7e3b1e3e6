//! What the job panel knows about the followed job. Step events are merged by step `seq`, so the
//! same event arriving twice (stream replay, polling after the stream) changes nothing.

use crate::strings;
use pressluft_common::{Environment, Job, JobEvent, JobStatus, JobStep, JobType, StepStatus};

#[derive(Debug, Clone, PartialEq)]
pub struct JobView {
    pub id: String,
    pub job_type: JobType,
    pub environment_id: Option<String>,
    pub status: JobStatus,
    pub steps: Vec<JobStep>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub attempt_count: i64,
    /// Number of steps the preflight planned (0 when unknown, e.g. for a backup).
    pub planned_steps: usize,
    /// True once the live stream failed and the follower polls instead.
    pub polling: bool,
}

impl JobView {
    pub fn new(id: String, job_type: JobType, environment_id: Option<String>) -> Self {
        JobView {
            id,
            job_type,
            environment_id,
            status: JobStatus::Queued,
            steps: Vec::new(),
            error_code: None,
            error_message: None,
            attempt_count: 0,
            planned_steps: 0,
            polling: false,
        }
    }

    pub fn from_job(job: &Job) -> Self {
        let mut view = JobView::new(job.id.clone(), job.job_type, job.environment_id.clone());
        view.apply_snapshot(job);
        view
    }

    pub fn is_terminal(&self) -> bool {
        self.status.is_terminal()
    }

    /// Applies one stream event; returns true when it made the job terminal.
    pub fn apply_event(&mut self, event: &JobEvent) -> bool {
        let was_terminal = self.is_terminal();
        match event {
            JobEvent::Status {
                status,
                attempt_count,
                error_code,
                error_message,
                ..
            } => {
                if was_terminal {
                    return false;
                }
                self.status = *status;
                self.attempt_count = *attempt_count;
                self.error_code.clone_from(error_code);
                self.error_message.clone_from(error_message);
            }
            JobEvent::Step { step, .. } => self.upsert_step(step.clone()),
        }
        !was_terminal && self.is_terminal()
    }

    /// Replaces everything with a full read of the job; returns true when it became terminal.
    pub fn apply_snapshot(&mut self, job: &Job) -> bool {
        let was_terminal = self.is_terminal();
        self.status = job.status;
        self.attempt_count = job.attempt_count;
        self.error_code.clone_from(&job.error_code);
        self.error_message.clone_from(&job.error_message);
        for step in &job.steps {
            self.upsert_step(step.clone());
        }
        !was_terminal && self.is_terminal()
    }

    fn upsert_step(&mut self, step: JobStep) {
        match self.steps.iter_mut().find(|s| s.seq == step.seq) {
            Some(existing) => *existing = step,
            None => {
                self.steps.push(step);
                self.steps.sort_by_key(|s| s.seq);
            }
        }
    }

    pub fn steps_done(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s.status, StepStatus::Succeeded | StepStatus::Skipped))
            .count()
    }

    /// Progress between 0 and 1 when the number of steps is known.
    pub fn ratio(&self) -> Option<f64> {
        let total = self.planned_steps.max(self.steps.len());
        if self.planned_steps == 0 || total == 0 {
            return None;
        }
        Some((self.steps_done() as f64 / total as f64).clamp(0.0, 1.0))
    }

    /// The terminal outcome in one sentence (`env` is the job's environment, if known).
    pub fn outcome(&self, env: Option<&Environment>) -> Option<(JobStatus, String)> {
        if !self.is_terminal() {
            return None;
        }
        let kind = strings::job_kind(self.job_type);
        let env_name = env.map_or(strings::THE_ENVIRONMENT, |e| e.name.as_str());
        let text = match (self.status, self.job_type) {
            (JobStatus::Succeeded, JobType::EnvRestore) => {
                strings::restore_succeeded(env_name, env.map_or("", |e| &e.preview_url))
            }
            (JobStatus::Succeeded, _) => strings::backup_succeeded(env_name),
            (JobStatus::Failed, _) => {
                strings::job_failed(kind, self.error_code.as_deref().unwrap_or(strings::NO_CODE))
            }
            _ => strings::job_cancelled(kind),
        };
        Some((self.status, text))
    }
}
