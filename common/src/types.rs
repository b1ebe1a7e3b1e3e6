//! Wire types of the Pressluft API: every request and response body the server and its clients
//! exchange. Timestamps are UTC ISO-8601 strings ending in `Z`; ids are UUID strings.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The error body of every non-2xx answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// Status of a node.
    NodeStatus { Active => "active", Provisioning => "provisioning", Unreachable => "unreachable", Decommissioned => "decommissioned" }
);
wire_enum!(
    /// Status shared by sites and environments.
    ResourceStatus { Active => "active", Cloning => "cloning", Deploying => "deploying", Restoring => "restoring", Failed => "failed" }
);
wire_enum!(
    /// Kind of environment.
    EnvironmentType { Production => "production", Staging => "staging", Clone => "clone" }
);
wire_enum!(
    /// What a backup holds.
    BackupScope { Db => "db", Files => "files", Full => "full" }
);
wire_enum!(
    /// Lifecycle of a backup.
    BackupStatus { Pending => "pending", Running => "running", Completed => "completed", Failed => "failed", Expired => "expired" }
);
wire_enum!(
    /// Where a backup artifact is stored.
    StorageType { Local => "local", S3 => "s3" }
);
wire_enum!(
    /// Lifecycle of a job.
    JobStatus { Queued => "queued", Running => "running", Succeeded => "succeeded", Failed => "failed", Cancelled => "cancelled" }
);
wire_enum!(
    /// Kinds of job, one playbook each.
    JobType { BackupCreate => "backup_create", EnvRestore => "env_restore", BackupCleanup => "backup_cleanup", NodeCheck => "node_check" }
);
wire_enum!(
    /// State of one named step of a job.
    StepStatus { Running => "running", Succeeded => "succeeded", Failed => "failed", Skipped => "skipped" }
);

impl JobStatus {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginResponse {
    pub email: String,
    pub expires_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuccessResponse {
    pub success: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub id: String,
    pub name: String,
    pub hostname: String,
    pub public_ip: Option<String>,
    pub ssh_port: u16,
    pub ssh_user: String,
    pub status: NodeStatus,
    pub is_local: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterNode {
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    pub hostname: String,
    #[serde(default)]
    pub public_ip: Option<String>,
    #[serde(default = "default_ssh_port")]
    pub ssh_port: u16,
    #[serde(default = "default_ssh_user")]
    pub ssh_user: String,
    /// Private key file on the control-plane host used to reach a remote node.
    #[serde(default)]
    pub ssh_key_path: Option<String>,
    #[serde(default)]
    pub is_local: bool,
}

fn default_ssh_port() -> u16 {
    22
}

fn default_ssh_user() -> String {
    "root".to_string()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub status: ResourceStatus,
    pub primary_environment_id: Option<String>,
    pub state_version: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterSite {
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    pub slug: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    pub id: String,
    pub site_id: String,
    pub name: String,
    pub slug: String,
    pub environment_type: EnvironmentType,
    pub status: ResourceStatus,
    pub node_id: String,
    pub preview_url: String,
    pub current_release_id: Option<String>,
    /// Directory on the node holding `releases/`, `current` and `shared/`.
    pub files_root: String,
    /// Name of the environment's database on the node (never its password).
    pub db_name: String,
    /// System user owning the environment's files.
    pub system_user: String,
    pub state_version: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterEnvironment {
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    pub slug: String,
    pub environment_type: EnvironmentType,
    pub node_id: String,
    pub preview_url: String,
    pub files_root: String,
    pub db_name: String,
    pub system_user: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backup {
    pub id: String,
    pub environment_id: String,
    pub site_id: String,
    pub backup_scope: BackupScope,
    pub status: BackupStatus,
    pub storage_type: StorageType,
    pub storage_path: String,
    pub retention_until: String,
    pub checksum: Option<String>,
    pub size_bytes: Option<u64>,
    pub created_at: String,
    pub completed_at: Option<String>,
    /// The job that creates this backup.
    pub job_id: Option<String>,
    /// Set when this backup is the pre-restore checkpoint of a restore job.
    pub checkpoint_for_job_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBackupRequest {
    pub backup_scope: BackupScope,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobAccepted {
    pub job_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    pub backup_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreflightCheck {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreflightResponse {
    /// True when the restore would be accepted and every check passed.
    pub ok: bool,
    /// The validation error the restore request would get, if any.
    pub error: Option<ErrorBody>,
    pub checks: Vec<PreflightCheck>,
    /// The steps the restore job will run, in order.
    pub steps: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobStep {
    pub seq: i64,
    pub name: String,
    pub status: StepStatus,
    pub detail: Option<String>,
    pub bytes_done: Option<u64>,
    pub bytes_total: Option<u64>,
    pub started_at: String,
    pub finished_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub job_type: JobType,
    pub status: JobStatus,
    pub site_id: Option<String>,
    pub environment_id: Option<String>,
    pub node_id: Option<String>,
    pub backup_id: Option<String>,
    pub attempt_count: i64,
    pub max_attempts: i64,
    pub run_after: Option<String>,
    pub locked_at: Option<String>,
    pub locked_by: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// Filtered tail of the last run's output (secrets redacted), on failure.
    pub output_tail: Option<String>,
    pub steps: Vec<JobStep>,
}

/// One Server-Sent Event of `GET /api/jobs/{id}/events` (`data:` is this JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobEvent {
    /// The job's status changed (or the current status when the stream opens).
    Status {
        seq: i64,
        status: JobStatus,
        attempt_count: i64,
        error_code: Option<String>,
        error_message: Option<String>,
    },
    /// A step started or finished.
    Step { seq: i64, step: JobStep },
}

impl JobEvent {
    pub fn seq(&self) -> i64 {
        match self {
            JobEvent::Status { seq, .. } | JobEvent::Step { seq, .. } => *seq,
        }
    }

    /// True for the status event that ends a stream.
    pub fn is_terminal(&self) -> bool {
        matches!(self, JobEvent::Status { status, .. } if status.is_terminal())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelResponse {
    pub success: bool,
    pub status: JobStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metrics {
    pub jobs_running: i64,
    pub jobs_queued: i64,
    pub nodes_active: i64,
    pub sites_total: i64,
}
