//! Owns the manifest (`manifest.json`, first entry of every artifact): its type, its scope enum,
//! timestamp formatting, WordPress version detection and reading it back from an artifact.

use std::fs;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ArtifactError, Result};
use crate::reader::{open_archive, LogicalEntries, Source};

/// The only format version this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Name of the first entry of every artifact.
pub const MANIFEST_NAME: &str = "manifest.json";
/// Upper bound on the manifest entry's size (it is a few hundred bytes in practice).
pub const MANIFEST_MAX_BYTES: u64 = 1024 * 1024;

/// What a backup contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Db,
    Files,
    Full,
}

impl Scope {
    /// Parses `db`, `files` or `full`.
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "db" => Some(Scope::Db),
            "files" => Some(Scope::Files),
            "full" => Some(Scope::Full),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Db => "db",
            Scope::Files => "files",
            Scope::Full => "full",
        }
    }

    /// Whether `database.sql` is part of the artifact.
    pub fn has_db(self) -> bool {
        matches!(self, Scope::Db | Scope::Full)
    }

    /// Whether `files/current` and `files/shared` are part of the artifact.
    pub fn has_files(self) -> bool {
        matches!(self, Scope::Files | Scope::Full)
    }
}

/// Content of `manifest.json`. Optional fields are written as `null` when absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub site_id: String,
    pub environment_id: String,
    pub backup_id: String,
    pub scope: Scope,
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub created_at: String,
    /// Number of tar entries after the manifest.
    pub entry_count: u64,
    /// Hex sha256 of `database.sql` (scopes db, full).
    #[serde(default)]
    pub db_dump_sha256: Option<String>,
    /// Size in bytes of `database.sql` (scopes db, full).
    #[serde(default)]
    pub db_dump_size: Option<u64>,
    /// From `files/current/wp-includes/version.php`, when present.
    #[serde(default)]
    pub wordpress_version: Option<String>,
    /// Total bytes of regular files under `files/`.
    pub files_bytes: u64,
}

impl Manifest {
    /// Checks the invariants a reader relies on.
    pub fn validate(&self) -> Result<()> {
        if self.format_version != FORMAT_VERSION {
            return Err(ArtifactError::Corrupt(format!(
                "manifest format_version {} is not supported (this pressluft-artifact reads version {FORMAT_VERSION}); use a matching pressluft-artifact",
                self.format_version
            )));
        }
        if self.site_id.is_empty() || self.environment_id.is_empty() || self.backup_id.is_empty() {
            return Err(ArtifactError::Corrupt(
                "manifest has an empty site_id, environment_id or backup_id".into(),
            ));
        }
        if self.scope.has_db() {
            match (&self.db_dump_sha256, self.db_dump_size) {
                (Some(h), Some(_)) if is_sha256_hex(h) => {}
                _ => {
                    return Err(ArtifactError::Corrupt(format!(
                        "manifest of scope {} lacks a valid db_dump_sha256/db_dump_size",
                        self.scope.as_str()
                    )))
                }
            }
        }
        Ok(())
    }

    /// Bytes of content (dump + regular files) the artifact unpacks to.
    pub fn content_bytes(&self) -> u64 {
        self.files_bytes
            .saturating_add(self.db_dump_size.unwrap_or(0))
    }
}

/// True for 64 lowercase or uppercase hex digits.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Formats seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Current time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format_utc(secs)
}

/// Extracts `$wp_version = '6.1.9';` from the text of `wp-includes/version.php`.
pub fn parse_wp_version(text: &str) -> Option<String> {
    for line in text.lines() {
        let line = line.trim_start();
        let Some(rest) = line.strip_prefix("$wp_version") else {
            continue;
        };
        let rest = rest.trim_start().strip_prefix('=')?.trim_start();
        let quote = rest.chars().next()?;
        if quote != '\'' && quote != '"' {
            return None;
        }
        let body = &rest[1..];
        let end = body.find(quote)?;
        let version = &body[..end];
        let plausible = !version.is_empty()
            && version.len() <= 64
            && version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'));
        return plausible.then(|| version.to_string());
    }
    None
}

/// Reads the WordPress version of a release directory (not following a symlinked version.php).
pub fn detect_wp_version(release_dir: &Path) -> Option<String> {
    let path = release_dir.join("wp-includes").join("version.php");
    let meta = fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() {
        return None;
    }
    let mut text = String::new();
    fs::File::open(&path)
        .ok()?
        .take(256 * 1024)
        .read_to_string(&mut text)
        .ok()?;
    parse_wp_version(&text)
}

/// Parses manifest bytes and validates them.
pub fn parse_manifest(bytes: &[u8]) -> Result<Manifest> {
    let m: Manifest = serde_json::from_slice(bytes).map_err(|e| {
        ArtifactError::Corrupt(format!("manifest.json is not a valid manifest: {e}"))
    })?;
    m.validate()?;
    Ok(m)
}

/// Reads the manifest of an artifact file; decompresses only the first entry.
pub fn read_manifest(path: impl AsRef<Path>) -> Result<Manifest> {
    let path = path.as_ref();
    let file = fs::File::open(path)
        .map_err(|e| ArtifactError::io_path("cannot open artifact", path, &e))?;
    // Only the first entry (plus a possible long-name header) is decompressed.
    let (mut archive, budget) =
        open_archive(Source::plain(file), MANIFEST_MAX_BYTES + 64 * 1024, false)?;
    let mut entries = LogicalEntries::new(&mut archive, budget)?;
    entries.read_manifest()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(1_771_418_096), "2026-02-18T12:34:56Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn wp_version_parsing() {
        let php = "<?php\n/**\n * The WordPress version string.\n */\n$wp_version = '6.1.9';\n$wp_db_version = 53496;\n";
        assert_eq!(parse_wp_version(php).as_deref(), Some("6.1.9"));
        assert_eq!(
            parse_wp_version("$wp_version='6.5-RC1';").as_deref(),
            Some("6.5-RC1")
        );
        assert_eq!(parse_wp_version("$wp_db_version = 1;"), None);
        assert_eq!(parse_wp_version("nothing"), None);
        assert_eq!(parse_wp_version("$wp_version = '<script>';"), None);
    }

    #[test]
    fn manifest_validation() {
        let mut m = Manifest {
            format_version: 1,
            site_id: "s".into(),
            environment_id: "e".into(),
            backup_id: "b".into(),
            scope: Scope::Db,
            created_at: now_utc(),
            entry_count: 1,
            db_dump_sha256: Some("ab".repeat(32)),
            db_dump_size: Some(3),
            wordpress_version: None,
            files_bytes: 0,
        };
        assert!(m.validate().is_ok());
        m.db_dump_sha256 = None;
        assert_eq!(m.validate().unwrap_err().code(), "ARTIFACT_CORRUPT");
        m.db_dump_sha256 = Some("ab".repeat(32));
        m.format_version = 2;
        assert_eq!(m.validate().unwrap_err().code(), "ARTIFACT_CORRUPT");
    }
}
