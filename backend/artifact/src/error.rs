//! Owns the error type of the crate: `ArtifactError`, its stable codes and CLI exit codes.
//!
//! Every variant carries an operator-actionable message. The code strings are a stable contract
//! with the Ansible playbooks and the backend (they end up in `jobs.error_code`); never rename one.
//!
//! | code                          | exit | meaning                                                     |
//! |-------------------------------|------|-------------------------------------------------------------|
//! | `ARTIFACT_USAGE`              | 2    | bad command line / options                                  |
//! | `ARTIFACT_IO`                 | 3    | a file system operation failed (read, write, rename, fsync) |
//! | `ARTIFACT_CHECKSUM_MISMATCH`  | 4    | sha256 of the artifact differs from the expected one        |
//! | `ARTIFACT_SIZE_MISMATCH`      | 5    | size of the artifact differs from the expected one          |
//! | `ARTIFACT_UNSAFE_ENTRY`       | 6    | an entry would land outside the environment (or is special) |
//! | `ARTIFACT_WRONG_SITE`         | 7    | the artifact belongs to another site                        |
//! | `ARTIFACT_CORRUPT`            | 8    | the artifact is not a valid backup (zstd/tar/manifest)      |
//! | `ARTIFACT_TOO_LARGE`          | 9    | decompressed data exceeds the byte bound                    |
//! | `ARTIFACT_NO_SPACE`           | 10   | not enough free disk space                                  |

use std::fmt::Display;
use std::io;
use std::path::Path;

/// Error of every artifact operation. Each variant holds the full human-readable message.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    ChecksumMismatch(String),
    #[error("{0}")]
    SizeMismatch(String),
    #[error("{0}")]
    UnsafeEntry(String),
    #[error("{0}")]
    WrongSite(String),
    #[error("{0}")]
    Corrupt(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    NoSpace(String),
}

impl ArtifactError {
    /// The stable error code (`ARTIFACT_...`).
    pub fn code(&self) -> &'static str {
        match self {
            ArtifactError::Usage(_) => "ARTIFACT_USAGE",
            ArtifactError::Io(_) => "ARTIFACT_IO",
            ArtifactError::ChecksumMismatch(_) => "ARTIFACT_CHECKSUM_MISMATCH",
            ArtifactError::SizeMismatch(_) => "ARTIFACT_SIZE_MISMATCH",
            ArtifactError::UnsafeEntry(_) => "ARTIFACT_UNSAFE_ENTRY",
            ArtifactError::WrongSite(_) => "ARTIFACT_WRONG_SITE",
            ArtifactError::Corrupt(_) => "ARTIFACT_CORRUPT",
            ArtifactError::TooLarge(_) => "ARTIFACT_TOO_LARGE",
            ArtifactError::NoSpace(_) => "ARTIFACT_NO_SPACE",
        }
    }

    /// The process exit code the CLI uses for this error (never 0).
    pub fn exit_code(&self) -> i32 {
        match self {
            ArtifactError::Usage(_) => 2,
            ArtifactError::Io(_) => 3,
            ArtifactError::ChecksumMismatch(_) => 4,
            ArtifactError::SizeMismatch(_) => 5,
            ArtifactError::UnsafeEntry(_) => 6,
            ArtifactError::WrongSite(_) => 7,
            ArtifactError::Corrupt(_) => 8,
            ArtifactError::TooLarge(_) => 9,
            ArtifactError::NoSpace(_) => 10,
        }
    }

    /// The message without the code.
    pub fn message(&self) -> &str {
        match self {
            ArtifactError::Usage(m)
            | ArtifactError::Io(m)
            | ArtifactError::ChecksumMismatch(m)
            | ArtifactError::SizeMismatch(m)
            | ArtifactError::UnsafeEntry(m)
            | ArtifactError::WrongSite(m)
            | ArtifactError::Corrupt(m)
            | ArtifactError::TooLarge(m)
            | ArtifactError::NoSpace(m) => m,
        }
    }

    /// Appends a note (e.g. about cleanup) to the message, keeping the code.
    pub(crate) fn with_note(mut self, note: &str) -> Self {
        match &mut self {
            ArtifactError::Usage(m)
            | ArtifactError::Io(m)
            | ArtifactError::ChecksumMismatch(m)
            | ArtifactError::SizeMismatch(m)
            | ArtifactError::UnsafeEntry(m)
            | ArtifactError::WrongSite(m)
            | ArtifactError::Corrupt(m)
            | ArtifactError::TooLarge(m)
            | ArtifactError::NoSpace(m) => {
                m.push_str("; ");
                m.push_str(note);
            }
        }
        self
    }

    /// Wraps an I/O error with what was being done; ENOSPC/EDQUOT become `ARTIFACT_NO_SPACE`.
    pub(crate) fn io(what: impl Display, err: &io::Error) -> Self {
        match err.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => ArtifactError::NoSpace(format!(
                "{what}: {err}; free disk space (or raise the quota) and retry"
            )),
            _ => ArtifactError::Io(format!("{what}: {err}")),
        }
    }

    /// I/O error on a path.
    pub(crate) fn io_path(what: &str, path: &Path, err: &io::Error) -> Self {
        Self::io(format_args!("{what} {}", path.display()), err)
    }
}

/// Result alias of the crate.
pub type Result<T, E = ArtifactError> = std::result::Result<T, E>;
