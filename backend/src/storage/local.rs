//! The local backup store (the embedded default): object `key` is the file `<root>/<key>`
//! (directories 0700, files 0600), written as a hidden staging file in the same directory, fsync'd
//! and renamed, then the directory fsync'd. A file the artifact tool already wrote at its final path
//! is taken as is.

use super::{
    persist_staging, staging_file_for, sync_dir, validate_key, StorageError, StoredObject,
    HIDDEN_PREFIX,
};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

const COPY_BUF: usize = 1024 * 1024;

/// Files under one root directory.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// No I/O: the root (and key directories) are created on first write.
    pub fn new(root: impl Into<PathBuf>) -> LocalStore {
        LocalStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn describe(&self) -> String {
        format!("local directory {}", self.root.display())
    }

    /// The file holding `key`.
    pub fn path_for(&self, key: &str) -> Result<PathBuf, StorageError> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }

    fn unavailable(&self, what: &str, e: &io::Error) -> StorageError {
        let retryable = matches!(
            e.raw_os_error(),
            Some(libc::ENOSPC | libc::EDQUOT | libc::EIO | libc::EAGAIN | libc::EINTR)
        ) || matches!(
            e.kind(),
            io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
        );
        StorageError::unavailable(
            format!(
                "local backup store {}: {what}: {e}; check that the directory exists and is a \
                 directory writable by the server user, and that the disk has free space",
                self.root.display()
            ),
            retryable,
        )
    }

    fn missing(&self, key: &str) -> StorageError {
        StorageError::ObjectMissing {
            key: key.to_string(),
            store: self.describe(),
        }
    }

    /// Creates the directories down to `dir` (mode 0700 for new ones).
    fn ensure_dir(&self, dir: &Path) -> Result<(), StorageError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| self.unavailable(&format!("cannot create {}", dir.display()), &e))
    }

    fn parent_of(path: &Path) -> &Path {
        path.parent().unwrap_or(Path::new("."))
    }

    pub async fn put_file(&self, local: &Path, key: &str) -> Result<StoredObject, StorageError> {
        let target = self.path_for(key)?;
        let this = self.clone();
        let local = local.to_path_buf();
        let key = key.to_string();
        blocking(move || this.put_file_blocking(&local, &target, key)).await
    }

    fn put_file_blocking(
        &self,
        local: &Path,
        target: &Path,
        key: String,
    ) -> Result<StoredObject, StorageError> {
        let local_err = |what: &str, e: &io::Error| {
            StorageError::local_file(format!("{what} {}: {e}", local.display()))
        };
        let mut src = File::open(local).map_err(|e| local_err("cannot open", &e))?;
        let meta = src.metadata().map_err(|e| local_err("cannot stat", &e))?;
        if !meta.is_file() {
            return Err(StorageError::local_file(format!(
                "{} is not a regular file",
                local.display()
            )));
        }
        // The common case: the artifact tool wrote the final file directly into the store.
        if let Ok(existing) = std::fs::metadata(target) {
            if existing.dev() == meta.dev() && existing.ino() == meta.ino() {
                src.sync_all()
                    .map_err(|e| self.unavailable(&format!("cannot fsync {key}"), &e))?;
                sync_dir(Self::parent_of(target))
                    .map_err(|e| self.unavailable("cannot fsync the key's directory", &e))?;
                return Ok(StoredObject {
                    key,
                    size: meta.len(),
                });
            }
        }
        let dir = Self::parent_of(target);
        self.ensure_dir(dir)?;
        let mut tmp = staging_file_for(target).map_err(|e| {
            self.unavailable(&format!("cannot create a staging file for {key}"), &e)
        })?;
        let mut buf = vec![0u8; COPY_BUF];
        let mut copied = 0u64;
        loop {
            let n = match src.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(local_err("cannot read", &e)),
            };
            tmp.as_file_mut()
                .write_all(&buf[..n])
                .map_err(|e| self.unavailable(&format!("cannot write {key}"), &e))?;
            copied += n as u64;
        }
        if copied != meta.len() {
            return Err(StorageError::local_file(format!(
                "{} changed while it was being stored ({} bytes at start, {copied} copied)",
                local.display(),
                meta.len()
            )));
        }
        persist_staging(tmp, target)
            .map_err(|e| self.unavailable(&format!("cannot commit {key}"), &e))?;
        Ok(StoredObject { key, size: copied })
    }

    pub async fn put_reader<R>(
        &self,
        mut reader: R,
        key: &str,
    ) -> Result<StoredObject, StorageError>
    where
        R: AsyncRead + Unpin + Send,
    {
        let target = self.path_for(key)?;
        let this = self.clone();
        let staging_target = target.clone();
        let tmp = blocking(move || {
            this.ensure_dir(Self::parent_of(&staging_target))?;
            staging_file_for(&staging_target)
                .map_err(|e| this.unavailable("cannot create a staging file", &e))
        })
        .await?;
        let file = tmp
            .as_file()
            .try_clone()
            .map_err(|e| self.unavailable("cannot open the staging file", &e))?;
        let mut file = tokio::fs::File::from_std(file);
        let mut buf = vec![0u8; COPY_BUF];
        let mut size = 0u64;
        loop {
            let n = reader.read(&mut buf).await.map_err(|e| {
                StorageError::local_file(format!("cannot read the data to store as {key}: {e}"))
            })?;
            if n == 0 {
                break;
            }
            file.write_all(&buf[..n])
                .await
                .map_err(|e| self.unavailable(&format!("cannot write {key}"), &e))?;
            size += n as u64;
        }
        file.flush()
            .await
            .map_err(|e| self.unavailable(&format!("cannot write {key}"), &e))?;
        drop(file);
        let this = self.clone();
        let key = key.to_string();
        blocking(move || {
            persist_staging(tmp, &target)
                .map_err(|e| this.unavailable(&format!("cannot commit {key}"), &e))?;
            Ok(StoredObject { key, size })
        })
        .await
    }

    pub async fn stat(&self, key: &str) -> Result<Option<u64>, StorageError> {
        let path = self.path_for(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.unavailable(&format!("cannot stat {key}"), &e)),
        }
    }

    pub async fn hash(&self, key: &str) -> Result<(String, u64), StorageError> {
        let path = self.path_for(key)?;
        let this = self.clone();
        let key = key.to_string();
        blocking(move || {
            let file = this.open_object(&path, &key)?;
            pressluft_artifact::verify::hash_reader(file)
                .map_err(|e| this.unavailable(&format!("cannot read {key}"), &e))
        })
        .await
    }

    fn open_object(&self, path: &Path, key: &str) -> Result<File, StorageError> {
        match File::open(path) {
            Ok(f) => Ok(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(self.missing(key)),
            Err(e) => Err(self.unavailable(&format!("cannot open {key}"), &e)),
        }
    }

    pub async fn fetch_to_file(&self, key: &str, dest: &Path) -> Result<(), StorageError> {
        let path = self.path_for(key)?;
        let this = self.clone();
        let key = key.to_string();
        let dest = dest.to_path_buf();
        blocking(move || {
            let mut src = this.open_object(&path, &key)?;
            let src_meta = src
                .metadata()
                .map_err(|e| this.unavailable(&format!("cannot stat {key}"), &e))?;
            if let Ok(existing) = std::fs::metadata(&dest) {
                if existing.dev() == src_meta.dev() && existing.ino() == src_meta.ino() {
                    return Ok(());
                }
            }
            let dest_err = |what: &str, e: &io::Error| {
                StorageError::local_file(format!("{what} {}: {e}", dest.display()))
            };
            let mut tmp =
                staging_file_for(&dest).map_err(|e| dest_err("cannot create a staging file for", &e))?;
            let mut buf = vec![0u8; COPY_BUF];
            let mut copied = 0u64;
            loop {
                let n = match src.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(this.unavailable(&format!("cannot read {key}"), &e)),
                };
                tmp.as_file_mut()
                    .write_all(&buf[..n])
                    .map_err(|e| dest_err("cannot write", &e))?;
                copied += n as u64;
            }
            if copied != src_meta.len() {
                return Err(StorageError::unavailable(
                    format!(
                        "{key} changed while it was being copied ({} bytes expected, {copied} read)",
                        src_meta.len()
                    ),
                    true,
                ));
            }
            persist_staging(tmp, &dest).map_err(|e| dest_err("cannot commit", &e))
        })
        .await
    }

    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = self.path_for(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(self.unavailable(&format!("cannot delete {key}"), &e)),
        }
        let dir = Self::parent_of(&path).to_path_buf();
        let this = self.clone();
        blocking(move || {
            sync_dir(&dir).map_err(|e| this.unavailable("cannot fsync the key's directory", &e))
        })
        .await
    }

    pub async fn list(&self, prefix: &str) -> Result<Vec<StoredObject>, StorageError> {
        let prefix = prefix.trim_matches('/').to_string();
        let base = if prefix.is_empty() {
            self.root.clone()
        } else {
            self.path_for(&prefix)?
        };
        let this = self.clone();
        blocking(move || {
            let mut out = Vec::new();
            match std::fs::symlink_metadata(&base) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Ok(out),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
                Err(e) => return Err(this.unavailable("cannot list", &e)),
            }
            this.walk(&base, &prefix, &mut |key, meta| {
                out.push(StoredObject {
                    key: key.to_string(),
                    size: meta.len(),
                })
            })?;
            out.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(out)
        })
        .await
    }

    /// Calls `f(key, metadata)` for every regular file under `dir` (key prefix `prefix`), not
    /// following symlinks. Hidden (staging, probe) files are skipped unless `hidden`.
    fn walk_files(
        &self,
        dir: &Path,
        prefix: &str,
        hidden: bool,
        f: &mut dyn FnMut(&str, &std::fs::Metadata, &Path),
    ) -> Result<(), StorageError> {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| self.unavailable(&format!("cannot list {}", dir.display()), &e))?;
        for entry in entries {
            let entry = entry
                .map_err(|e| self.unavailable(&format!("cannot list {}", dir.display()), &e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let is_hidden = name.starts_with(HIDDEN_PREFIX);
            let key = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}/{name}")
            };
            let path = entry.path();
            let meta = match std::fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(self.unavailable(&format!("cannot stat {key}"), &e)),
            };
            if meta.is_dir() && !is_hidden {
                self.walk_files(&path, &key, hidden, f)?;
            } else if meta.is_file() && (is_hidden == hidden) {
                f(&key, &meta, &path);
            }
        }
        Ok(())
    }

    fn walk(
        &self,
        dir: &Path,
        prefix: &str,
        f: &mut dyn FnMut(&str, &std::fs::Metadata),
    ) -> Result<(), StorageError> {
        self.walk_files(dir, prefix, false, &mut |key, meta, _| f(key, meta))
    }

    /// Removes staging files (ours, the artifact tool's `.partial-` files, probe files) older than
    /// `older_than`, left behind by a crash. Call it at start-up with a margin larger than any
    /// running backup, e.g. a day. Returns how many were removed.
    pub async fn sweep_staging_files(&self, older_than: Duration) -> Result<usize, StorageError> {
        let this = self.clone();
        blocking(move || {
            if !this.root.is_dir() {
                return Ok(0);
            }
            let now = SystemTime::now();
            let mut stale = Vec::new();
            this.walk_files(&this.root, "", true, &mut |_, meta, path| {
                let old = meta
                    .modified()
                    .ok()
                    .and_then(|m| now.duration_since(m).ok())
                    .is_some_and(|age| age >= older_than);
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if old && is_staging_name(name) {
                    stale.push(path.to_path_buf());
                }
            })?;
            let mut removed = 0;
            for path in stale {
                match std::fs::remove_file(&path) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(this.unavailable(
                            &format!("cannot remove staging file {}", path.display()),
                            &e,
                        ))
                    }
                }
            }
            Ok(removed)
        })
        .await
    }

    pub async fn probe(&self) -> Result<(), StorageError> {
        let this = self.clone();
        blocking(move || {
            this.ensure_dir(&this.root)?;
            let path = this
                .root
                .join(format!("{PROBE_PREFIX}{}", uuid::Uuid::new_v4()));
            let content = format!("pressluft storage probe {}\n", uuid::Uuid::new_v4());
            let result = (|| {
                let mut f = File::create(&path)
                    .map_err(|e| this.unavailable("probe: cannot create a file", &e))?;
                f.write_all(content.as_bytes())
                    .and_then(|()| f.sync_all())
                    .map_err(|e| this.unavailable("probe: cannot write", &e))?;
                let back = std::fs::read(&path)
                    .map_err(|e| this.unavailable("probe: cannot read back", &e))?;
                if back != content.as_bytes() {
                    return Err(StorageError::unavailable(
                        format!("{}: probe read back different bytes", this.describe()),
                        false,
                    ));
                }
                Ok(())
            })();
            let removed = std::fs::remove_file(&path);
            result?;
            removed.map_err(|e| this.unavailable("probe: cannot delete", &e))
        })
        .await
    }
}

const PROBE_PREFIX: &str = ".pressluft-probe-";

/// Hidden leftovers of an interrupted write: our staging files (`.<name>.tmp-*`), the artifact
/// tool's (`.<name>.partial-*`) and probe files.
fn is_staging_name(name: &str) -> bool {
    name.starts_with(HIDDEN_PREFIX)
        && (name.contains(".tmp-") || name.contains(".partial-") || name.starts_with(PROBE_PREFIX))
}

/// Runs blocking file work off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
) -> Result<T, StorageError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        StorageError::unavailable(format!("local backup store: worker task failed: {e}"), true)
    })?
}
