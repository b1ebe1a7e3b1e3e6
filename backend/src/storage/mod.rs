//! Backup object storage: one API ([`BackupStore`]) over the local backup directory (default) and
//! an S3-compatible bucket. Objects appear under their final key only when complete; sizes and
//! sha256 are computed by streaming, never by holding an object in memory. See
//! `docs/backup-storage.md`.

pub mod local;
pub mod s3;

pub use local::LocalStore;
pub use s3::S3Store;

use pressluft_common::StorageType;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncRead;

/// Size of every multipart part except the last (S3 needs ≥ 5 MiB; equal sizes suit R2 too).
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// Part uploads in flight at once (memory bound: `(MAX_PARTS_IN_FLIGHT + 1) * PART_SIZE`).
pub const MAX_PARTS_IN_FLIGHT: usize = 2;

/// Prefix of staging files in the local store and of probe objects; keys may not start with it.
pub(crate) const HIDDEN_PREFIX: char = '.';

/// An object that is completely stored under its final key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub key: String,
    pub size: u64,
}

/// Failure of a storage operation. [`StorageError::code`] is stable (job error codes, logs,
/// `doctor` output); the message tells the operator what to check and never holds credentials.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The store cannot be used right now: network, endpoint, credentials, bucket, permissions,
    /// server errors, or the local disk.
    #[error("{message}")]
    Unavailable { message: String, retryable: bool },
    /// No object under this key.
    #[error("backup object `{key}` does not exist in {store}")]
    ObjectMissing { key: String, store: String },
    /// The key is not a relative `a/b/c.ext` path of safe characters (a programming error).
    #[error("invalid storage key `{key}`: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    /// A file outside the store (the source of `put_file`, the destination of `fetch_to_file`)
    /// cannot be read or written, or changed while it was being uploaded.
    #[error("{message}")]
    LocalFile { message: String },
    /// `PRESSLUFT_STORAGE` / `PRESSLUFT_S3_*` are incomplete or invalid.
    #[error("{message}")]
    Config { message: String },
}

impl StorageError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            StorageError::Unavailable { .. } => "STORAGE_UNAVAILABLE",
            StorageError::ObjectMissing { .. } => "STORAGE_OBJECT_MISSING",
            StorageError::InvalidKey { .. } => "STORAGE_INVALID_KEY",
            StorageError::LocalFile { .. } => "STORAGE_LOCAL_FILE",
            StorageError::Config { .. } => "STORAGE_CONFIG_INVALID",
        }
    }

    /// Whether trying the same operation again later may succeed without operator action
    /// (network errors, timeouts, server errors, a full disk).
    pub fn retryable(&self) -> bool {
        match self {
            StorageError::Unavailable { retryable, .. } => *retryable,
            _ => false,
        }
    }

    pub(crate) fn unavailable(message: impl Into<String>, retryable: bool) -> Self {
        StorageError::Unavailable {
            message: message.into(),
            retryable,
        }
    }

    pub(crate) fn local_file(message: impl Into<String>) -> Self {
        StorageError::LocalFile {
            message: message.into(),
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        StorageError::Config {
            message: message.into(),
        }
    }
}

/// Where backups are stored, from `PRESSLUFT_STORAGE` and `PRESSLUFT_S3_*`.
#[derive(Debug, Clone)]
pub enum StorageConfig {
    /// Files under `root` (default `<data_dir>/backups`).
    Local {
        root: PathBuf,
    },
    S3(S3Config),
}

/// An S3-compatible bucket. `Debug` redacts the credentials.
#[derive(Clone)]
pub struct S3Config {
    /// `https://host[:port]`; `None` = AWS S3 for `region`. Path-style requests.
    pub endpoint: Option<String>,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Prepended to every key (`prefix/<key>`); no leading/trailing `/`. Empty = bucket root.
    pub prefix: String,
    /// Allow a plain `http://` endpoint (loopback test servers, trusted networks).
    pub allow_http: bool,
    /// Retries of one request on network/server errors, bounded by `retry_timeout`.
    pub max_retries: usize,
    pub retry_timeout: Duration,
    /// Timeout of one HTTP request (one part is `PART_SIZE` bytes).
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &redacted(&self.access_key_id))
            .field("secret_access_key", &redacted(&self.secret_access_key))
            .field("prefix", &self.prefix)
            .field("allow_http", &self.allow_http)
            .field("max_retries", &self.max_retries)
            .field("retry_timeout", &self.retry_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

fn redacted(value: &str) -> &'static str {
    if value.is_empty() {
        "<unset>"
    } else {
        "<redacted>"
    }
}

impl S3Config {
    /// A config with the default region, retries and timeouts.
    pub fn new(
        endpoint: Option<String>,
        bucket: impl Into<String>,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> S3Config {
        S3Config {
            endpoint,
            bucket: bucket.into(),
            region: DEFAULT_REGION.to_string(),
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            prefix: String::new(),
            allow_http: false,
            max_retries: 5,
            retry_timeout: Duration::from_secs(120),
            request_timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

pub const DEFAULT_REGION: &str = "us-east-1";

impl StorageConfig {
    /// Reads `PRESSLUFT_STORAGE` (`local` default | `s3`) and, for `s3`, `PRESSLUFT_S3_ENDPOINT`,
    /// `PRESSLUFT_S3_BUCKET` (required), `PRESSLUFT_S3_REGION` (default us-east-1),
    /// `PRESSLUFT_S3_ACCESS_KEY_ID` and `PRESSLUFT_S3_SECRET_ACCESS_KEY` (required),
    /// `PRESSLUFT_S3_PREFIX`, `PRESSLUFT_S3_ALLOW_HTTP` (`true`/`1` for an `http://` endpoint).
    pub fn from_env(backup_dir: &Path) -> Result<StorageConfig, StorageError> {
        Self::from_lookup(backup_dir, |name| std::env::var(name).ok())
    }

    /// [`StorageConfig::from_env`] over any variable lookup (tests, config files).
    pub fn from_lookup(
        backup_dir: &Path,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<StorageConfig, StorageError> {
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let kind = get("PRESSLUFT_STORAGE").unwrap_or_else(|| "local".to_string());
        match kind.to_ascii_lowercase().as_str() {
            "local" => Ok(StorageConfig::Local {
                root: backup_dir.to_path_buf(),
            }),
            "s3" => {
                let required = |name: &str| {
                    get(name).ok_or_else(|| {
                        StorageError::config(format!(
                            "PRESSLUFT_STORAGE=s3 needs {name}; set it (see docs/backup-storage.md)"
                        ))
                    })
                };
                let allow_http = match get("PRESSLUFT_S3_ALLOW_HTTP") {
                    None => false,
                    Some(v) => parse_bool(&v).ok_or_else(|| {
                        StorageError::config(format!(
                            "PRESSLUFT_S3_ALLOW_HTTP must be true or false, not `{v}`"
                        ))
                    })?,
                };
                let mut cfg = S3Config::new(
                    get("PRESSLUFT_S3_ENDPOINT"),
                    required("PRESSLUFT_S3_BUCKET")?,
                    required("PRESSLUFT_S3_ACCESS_KEY_ID")?,
                    required("PRESSLUFT_S3_SECRET_ACCESS_KEY")?,
                );
                if let Some(region) = get("PRESSLUFT_S3_REGION") {
                    cfg.region = region;
                }
                cfg.prefix = get("PRESSLUFT_S3_PREFIX")
                    .map(|p| p.trim_matches('/').to_string())
                    .unwrap_or_default();
                cfg.allow_http = allow_http;
                if let Some(v) = get("PRESSLUFT_S3_MAX_RETRIES") {
                    cfg.max_retries = v.parse().map_err(|_| {
                        StorageError::config(format!(
                            "PRESSLUFT_S3_MAX_RETRIES must be a whole number, not `{v}`"
                        ))
                    })?;
                }
                if let Some(v) = get("PRESSLUFT_S3_RETRY_TIMEOUT_SECS") {
                    let secs: u64 = v.parse().map_err(|_| {
                        StorageError::config(format!(
                            "PRESSLUFT_S3_RETRY_TIMEOUT_SECS must be whole seconds, not `{v}`"
                        ))
                    })?;
                    cfg.retry_timeout = std::time::Duration::from_secs(secs);
                }
                cfg.validate()?;
                Ok(StorageConfig::S3(cfg))
            }
            other => Err(StorageError::config(format!(
                "PRESSLUFT_STORAGE must be `local` or `s3`, not `{other}`"
            ))),
        }
    }

    pub fn storage_type(&self) -> StorageType {
        match self {
            StorageConfig::Local { .. } => StorageType::Local,
            StorageConfig::S3(_) => StorageType::S3,
        }
    }
}

impl S3Config {
    /// Checks endpoint scheme, prefix and bucket before any request is made.
    pub fn validate(&self) -> Result<(), StorageError> {
        if let Some(endpoint) = &self.endpoint {
            let lower = endpoint.to_ascii_lowercase();
            if lower.starts_with("http://") {
                if !self.allow_http {
                    return Err(StorageError::config(format!(
                        "PRESSLUFT_S3_ENDPOINT `{endpoint}` is plain http: use https, or set \
                         PRESSLUFT_S3_ALLOW_HTTP=true for a loopback/trusted-network server"
                    )));
                }
            } else if !lower.starts_with("https://") {
                return Err(StorageError::config(format!(
                    "PRESSLUFT_S3_ENDPOINT must be an https:// URL, not `{endpoint}`"
                )));
            }
        }
        if self.bucket.is_empty() || self.bucket.contains('/') {
            return Err(StorageError::config(format!(
                "PRESSLUFT_S3_BUCKET `{}` is not a bucket name",
                self.bucket
            )));
        }
        if !self.prefix.is_empty() {
            validate_key(&self.prefix).map_err(|e| {
                StorageError::config(format!("PRESSLUFT_S3_PREFIX `{}`: {e}", self.prefix))
            })?;
        }
        Ok(())
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// A key is a relative path of `/`-separated components of ASCII letters, digits, `-`, `_`, `.`;
/// no empty, `.` or `..` component, and no component starting with `.` (reserved for staging
/// and probe objects). E.g. `<site_id>/<env_id>/<backup_id>.tar.zst`.
pub fn validate_key(key: &str) -> Result<(), StorageError> {
    let invalid = |reason| {
        Err(StorageError::InvalidKey {
            key: key.to_string(),
            reason,
        })
    };
    if key.is_empty() {
        return invalid("empty");
    }
    if key.len() > 512 {
        return invalid("longer than 512 bytes");
    }
    for part in key.split('/') {
        if part.is_empty() {
            return invalid("empty path component (leading, trailing or double `/`)");
        }
        if part.starts_with(HIDDEN_PREFIX) {
            return invalid("a component starts with `.`");
        }
        if !part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return invalid("only ASCII letters, digits, `-`, `_`, `.` and `/` are allowed");
        }
    }
    Ok(())
}

/// The backup store in use: the local directory or an S3-compatible bucket.
#[derive(Debug, Clone)]
pub enum BackupStore {
    Local(LocalStore),
    S3(S3Store),
}

impl BackupStore {
    /// Builds the store (no I/O; use [`BackupStore::probe`] to check it works).
    pub fn from_config(config: &StorageConfig) -> Result<BackupStore, StorageError> {
        Ok(match config {
            StorageConfig::Local { root } => BackupStore::Local(LocalStore::new(root.clone())),
            StorageConfig::S3(cfg) => BackupStore::S3(S3Store::new(cfg)?),
        })
    }

    pub fn storage_type(&self) -> StorageType {
        match self {
            BackupStore::Local(_) => StorageType::Local,
            BackupStore::S3(_) => StorageType::S3,
        }
    }

    /// For logs and `doctor`: type and location, never credentials.
    pub fn describe(&self) -> String {
        match self {
            BackupStore::Local(s) => s.describe(),
            BackupStore::S3(s) => s.describe(),
        }
    }

    /// For the local store, the file that holds `key` (the artifact tool may write it directly;
    /// then `put_file` with that path is a no-op). `None` for S3.
    pub fn local_path(&self, key: &str) -> Result<Option<PathBuf>, StorageError> {
        match self {
            BackupStore::Local(s) => s.path_for(key).map(Some),
            BackupStore::S3(_) => Ok(None),
        }
    }

    /// Stores the local file `local` under `key`. Readers never see a partial object: the local
    /// store writes a staging file and renames it (fsync'd); S3 completes a multipart upload only
    /// after every byte is sent, and aborts it on every failure. The source file is left alone.
    pub async fn put_file(&self, local: &Path, key: &str) -> Result<StoredObject, StorageError> {
        match self {
            BackupStore::Local(s) => s.put_file(local, key).await,
            BackupStore::S3(s) => s.put_file(local, key).await,
        }
    }

    /// Stores everything `reader` yields under `key`, with the same atomicity as `put_file`.
    pub async fn put_reader<R>(&self, reader: R, key: &str) -> Result<StoredObject, StorageError>
    where
        R: AsyncRead + Unpin + Send,
    {
        match self {
            BackupStore::Local(s) => s.put_reader(reader, key).await,
            BackupStore::S3(s) => s.put_reader(reader, key, None).await,
        }
    }

    /// Size of the object, `None` if there is none.
    pub async fn stat(&self, key: &str) -> Result<Option<u64>, StorageError> {
        match self {
            BackupStore::Local(s) => s.stat(key).await,
            BackupStore::S3(s) => s.stat(key).await,
        }
    }

    /// `(sha256 hex, size)` of the stored bytes, streamed.
    pub async fn hash(&self, key: &str) -> Result<(String, u64), StorageError> {
        match self {
            BackupStore::Local(s) => s.hash(key).await,
            BackupStore::S3(s) => s.hash(key).await,
        }
    }

    /// Copies the object to `dest` (a staging file in dest's directory, fsync, rename).
    pub async fn fetch_to_file(&self, key: &str, dest: &Path) -> Result<(), StorageError> {
        match self {
            BackupStore::Local(s) => s.fetch_to_file(key, dest).await,
            BackupStore::S3(s) => s.fetch_to_file(key, dest).await,
        }
    }

    /// Removes the object; a missing object is fine.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self {
            BackupStore::Local(s) => s.delete(key).await,
            BackupStore::S3(s) => s.delete(key).await,
        }
    }

    /// Every object under the key prefix `prefix` (whole components, `""` = everything),
    /// sorted by key. Staging files and probe objects are not listed.
    pub async fn list(&self, prefix: &str) -> Result<Vec<StoredObject>, StorageError> {
        match self {
            BackupStore::Local(s) => s.list(prefix).await,
            BackupStore::S3(s) => s.list(prefix).await,
        }
    }

    /// Writes, reads back and deletes a small probe object (for `pressluft-server doctor`).
    pub async fn probe(&self) -> Result<(), StorageError> {
        match self {
            BackupStore::Local(s) => s.probe().await,
            BackupStore::S3(s) => s.probe().await,
        }
    }
}

/// sha256 over a byte stream, counting bytes.
pub(crate) struct StreamHasher {
    hasher: sha2::Sha256,
    size: u64,
}

impl StreamHasher {
    pub(crate) fn new() -> Self {
        use sha2::Digest;
        StreamHasher {
            hasher: sha2::Sha256::new(),
            size: 0,
        }
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        use sha2::Digest;
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
    }

    pub(crate) fn finish(self) -> (String, u64) {
        use sha2::Digest;
        (hex::encode(self.hasher.finalize()), self.size)
    }
}

/// fsync a directory so a rename or unlink in it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// A staging file next to `dest` (same filesystem, so the final rename is atomic), mode 0600.
pub(crate) fn staging_file_for(dest: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "object".to_string());
    tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp-"))
        .tempfile_in(dir)
}

/// Makes the staging file `tmp` (fully written) visible as `dest`: fsync file, rename, fsync dir.
pub(crate) fn persist_staging(tmp: tempfile::NamedTempFile, dest: &Path) -> std::io::Result<()> {
    tmp.as_file().sync_all()?;
    tmp.persist(dest).map_err(|e| e.error)?;
    if let Some(dir) = dest.parent() {
        if !dir.as_os_str().is_empty() {
            sync_dir(dir)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_keys_are_validated() {
        assert!(validate_key("a1/b-2/c_3.tar.zst").is_ok());
        for bad in [
            "", "/a", "a/", "a//b", "../a", "a/./b", "a/.tmp", "a b", "a\\b", "ä",
        ] {
            let err = validate_key(bad).unwrap_err();
            assert_eq!(err.code(), "STORAGE_INVALID_KEY", "{bad}");
        }
    }

    #[test]
    fn storage_config_from_lookup_defaults_to_local() {
        let cfg = StorageConfig::from_lookup(Path::new("/data/backups"), |_| None).unwrap();
        assert!(
            matches!(cfg, StorageConfig::Local { ref root } if root == Path::new("/data/backups"))
        );
        assert_eq!(cfg.storage_type(), StorageType::Local);
    }

    #[test]
    fn storage_config_s3_parses_and_redacts() {
        let vars = [
            ("PRESSLUFT_STORAGE", "s3"),
            ("PRESSLUFT_S3_ENDPOINT", "http://127.0.0.1:9000"),
            ("PRESSLUFT_S3_BUCKET", "backups"),
            ("PRESSLUFT_S3_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("PRESSLUFT_S3_SECRET_ACCESS_KEY", "very-secret-value"),
            ("PRESSLUFT_S3_PREFIX", "/pressluft/prod/"),
            ("PRESSLUFT_S3_ALLOW_HTTP", "true"),
        ];
        let lookup = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        let cfg = StorageConfig::from_lookup(Path::new("/unused"), lookup).unwrap();
        let StorageConfig::S3(s3) = &cfg else {
            panic!("expected s3: {cfg:?}")
        };
        assert_eq!(s3.region, DEFAULT_REGION);
        assert_eq!(s3.prefix, "pressluft/prod");
        assert!(s3.allow_http);
        let debug = format!("{cfg:?}");
        assert!(!debug.contains("very-secret-value"), "{debug}");
        assert!(!debug.contains("AKIDEXAMPLE"), "{debug}");
        let store = BackupStore::from_config(&cfg).unwrap();
        let described = store.describe();
        assert!(!described.contains("very-secret-value"), "{described}");
        assert!(described.contains("backups"), "{described}");
    }

    #[test]
    fn storage_config_s3_errors_name_the_variable() {
        let missing = StorageConfig::from_lookup(Path::new("/x"), |n| {
            (n == "PRESSLUFT_STORAGE").then(|| "s3".to_string())
        })
        .unwrap_err();
        assert_eq!(missing.code(), "STORAGE_CONFIG_INVALID");
        assert!(
            missing.to_string().contains("PRESSLUFT_S3_BUCKET"),
            "{missing}"
        );

        let http = StorageConfig::from_lookup(Path::new("/x"), |n| {
            match n {
                "PRESSLUFT_STORAGE" => Some("s3"),
                "PRESSLUFT_S3_ENDPOINT" => Some("http://minio.internal:9000"),
                "PRESSLUFT_S3_BUCKET" => Some("b"),
                "PRESSLUFT_S3_ACCESS_KEY_ID" => Some("k"),
                "PRESSLUFT_S3_SECRET_ACCESS_KEY" => Some("s"),
                _ => None,
            }
            .map(str::to_string)
        })
        .unwrap_err();
        assert!(
            http.to_string().contains("PRESSLUFT_S3_ALLOW_HTTP"),
            "{http}"
        );

        let kind = StorageConfig::from_lookup(Path::new("/x"), |n| {
            (n == "PRESSLUFT_STORAGE").then(|| "gcs".to_string())
        })
        .unwrap_err();
        assert_eq!(kind.code(), "STORAGE_CONFIG_INVALID");
    }
}
