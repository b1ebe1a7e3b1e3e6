//! Pressluft backup artifacts: one zstd-compressed tar per backup, packed and unpacked on the
//! WordPress node by the `pressluft-artifact` binary, re-hashed by the backend through this lib.
//!
//! Format (entries in this order; see `docs/backup-format.md`):
//! 1. `manifest.json` — [`Manifest`];
//! 2. `database.sql` — scopes `db` and `full`;
//! 3. `files/current/...` (the release `current` points to) and `files/shared/...` — scopes
//!    `files` and `full`; cache directories excluded; symlinks stored as symlinks; modes without
//!    setuid/setgid/sticky; uid/gid 0; no xattrs; sorted by name.
//!
//! Unpacking refuses (`ARTIFACT_UNSAFE_ENTRY`) absolute paths, `..`, entries outside
//! `database.sql`/`files/current/`/`files/shared/`, hardlinks, devices, fifos, PAX headers,
//! symlinks leaving the environment, and anything written through a symlink. Error codes: see
//! [`error`].

pub mod error;
mod frames;
pub mod manifest;
pub mod pack;
mod paths;
mod reader;
pub mod unpack;
pub mod verify;

pub use error::{ArtifactError, Result};
pub use manifest::{read_manifest, Manifest, Scope, FORMAT_VERSION};
pub use pack::{pack, PackOptions, PackOutcome, DEFAULT_LEVEL};
pub use unpack::{unpack, UnpackOptions, UnpackOutcome};
pub use verify::{hash_file, verify, VerifyOutcome};
