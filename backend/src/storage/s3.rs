//! The S3-compatible store (`object_store`'s S3 client, rustls with `ring`): uploads are
//! multipart (`PART_SIZE` parts, at most `MAX_PARTS_IN_FLIGHT` at once) and completed only after
//! every byte was sent; every failure (and a dropped upload future) aborts the upload so no parts
//! are left behind. Downloads and hashes stream the body.

use super::{
    persist_staging, staging_file_for, validate_key, S3Config, StorageError, StoredObject,
    StreamHasher, HIDDEN_PREFIX, MAX_PARTS_IN_FLIGHT, PART_SIZE,
};
use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::client::{HttpError, HttpErrorKind};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path as ObjectPath;
use object_store::{
    ClientOptions, MultipartId, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
};
use std::path::Path;
use std::sync::{Arc, Once};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinSet;

/// An S3 bucket (AWS or any S3-compatible server), optionally under a key prefix.
#[derive(Clone)]
pub struct S3Store {
    store: Arc<AmazonS3>,
    bucket: String,
    endpoint: String,
    prefix: String,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// reqwest is built with rustls but no bundled provider (no aws-lc-rs): install `ring` as the
/// process default once. If something else installed a provider first, that one is used.
fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl S3Store {
    /// Builds the client (no request is made; see [`S3Store::probe`]).
    pub fn new(cfg: &S3Config) -> Result<S3Store, StorageError> {
        cfg.validate()?;
        install_crypto_provider();
        let retry = RetryConfig {
            max_retries: cfg.max_retries,
            retry_timeout: cfg.retry_timeout,
            ..RetryConfig::default()
        };
        let client = ClientOptions::new()
            .with_timeout(cfg.request_timeout)
            .with_connect_timeout(cfg.connect_timeout);
        let mut builder = AmazonS3Builder::new()
            .with_client_options(client)
            .with_allow_http(cfg.allow_http)
            .with_bucket_name(&cfg.bucket)
            .with_region(&cfg.region)
            .with_access_key_id(&cfg.access_key_id)
            .with_secret_access_key(&cfg.secret_access_key)
            .with_retry(retry);
        let endpoint = match &cfg.endpoint {
            Some(endpoint) => {
                let endpoint = endpoint.trim_end_matches('/').to_string();
                // Path-style requests (`endpoint/bucket/key`): what S3-compatible servers expect.
                builder = builder
                    .with_endpoint(&endpoint)
                    .with_virtual_hosted_style_request(false);
                endpoint
            }
            None => format!("https://s3.{}.amazonaws.com", cfg.region),
        };
        let store = builder.build().map_err(|e| {
            StorageError::config(format!(
                "invalid S3 configuration (PRESSLUFT_S3_*): {}",
                redact(&e.to_string(), cfg)
            ))
        })?;
        Ok(S3Store {
            store: Arc::new(store),
            bucket: cfg.bucket.clone(),
            endpoint,
            prefix: cfg.prefix.trim_matches('/').to_string(),
        })
    }

    pub fn describe(&self) -> String {
        let prefix = if self.prefix.is_empty() {
            String::new()
        } else {
            format!(", prefix `{}/`", self.prefix)
        };
        format!("S3 bucket `{}` at {}{prefix}", self.bucket, self.endpoint)
    }

    fn full_key(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    fn path(&self, key: &str) -> Result<ObjectPath, StorageError> {
        validate_key(key)?;
        Ok(ObjectPath::from(self.full_key(key)))
    }

    fn missing(&self, key: &str) -> StorageError {
        StorageError::ObjectMissing {
            key: key.to_string(),
            store: self.describe(),
        }
    }

    /// Maps a client error to `STORAGE_UNAVAILABLE` with what the operator should check.
    fn error(&self, e: &object_store::Error, action: &str, key: &str) -> StorageError {
        let text = e.to_string();
        let (hint, retryable) = classify(e, &text);
        let text = compact(&text);
        StorageError::unavailable(
            format!(
                "{}: cannot {action} `{key}`: {hint} ({text})",
                self.describe()
            ),
            retryable,
        )
    }

    /// `NotFound` means a missing object unless the bucket itself is missing.
    fn not_found_or(&self, e: &object_store::Error, action: &str, key: &str) -> StorageError {
        if matches!(e, object_store::Error::NotFound { .. })
            && !e.to_string().contains("NoSuchBucket")
        {
            self.missing(key)
        } else {
            self.error(e, action, key)
        }
    }

    pub async fn put_file(&self, local: &Path, key: &str) -> Result<StoredObject, StorageError> {
        let local_err = |what: &str, e: &std::io::Error| {
            StorageError::local_file(format!("{what} {}: {e}", local.display()))
        };
        let file = tokio::fs::File::open(local)
            .await
            .map_err(|e| local_err("cannot open", &e))?;
        let meta = file
            .metadata()
            .await
            .map_err(|e| local_err("cannot stat", &e))?;
        if !meta.is_file() {
            return Err(StorageError::local_file(format!(
                "{} is not a regular file",
                local.display()
            )));
        }
        self.put_reader(file, key, Some(meta.len())).await
    }

    /// Multipart upload of everything `reader` yields; with `expected` set, a different byte
    /// count (the source changed) aborts the upload instead of completing it.
    pub async fn put_reader<R>(
        &self,
        reader: R,
        key: &str,
        expected: Option<u64>,
    ) -> Result<StoredObject, StorageError>
    where
        R: AsyncRead + Unpin + Send,
    {
        let path = self.path(key)?;
        let id = self
            .store
            .create_multipart(&path)
            .await
            .map_err(|e| self.error(&e, "start a multipart upload of", key))?;
        let guard = AbortGuard {
            store: self.store.clone(),
            path: path.clone(),
            id: Some(id.clone()),
        };
        let (parts, size) = match self.upload_parts(&path, &id, reader, key).await {
            Ok(v) => v,
            Err(e) => {
                guard.abort().await;
                return Err(e);
            }
        };
        if let Some(expected) = expected {
            if size != expected {
                guard.abort().await;
                return Err(StorageError::local_file(format!(
                    "the file for `{key}` changed while it was being uploaded ({expected} bytes \
                     at start, {size} read); upload aborted"
                )));
            }
        }
        if let Err(e) = self.store.complete_multipart(&path, &id, parts).await {
            guard.abort().await;
            return Err(self.error(&e, "complete the multipart upload of", key));
        }
        guard.disarm();
        // The object must now be there with every byte.
        match self.store.head(&path).await {
            Ok(meta) if meta.size == size => Ok(StoredObject {
                key: key.to_string(),
                size,
            }),
            Ok(meta) => Err(StorageError::unavailable(
                format!(
                    "{}: `{key}` holds {} bytes after upload, {size} were sent",
                    self.describe(),
                    meta.size
                ),
                true,
            )),
            Err(e) => Err(self.error(&e, "check the uploaded object", key)),
        }
    }

    /// Reads `PART_SIZE` chunks and uploads them (bounded concurrency). Returns the part ids in
    /// order and the byte count. Dropping this future cancels in-flight part uploads.
    async fn upload_parts<R>(
        &self,
        path: &ObjectPath,
        id: &MultipartId,
        mut reader: R,
        key: &str,
    ) -> Result<(Vec<PartId>, u64), StorageError>
    where
        R: AsyncRead + Unpin + Send,
    {
        let mut in_flight: JoinSet<Result<(usize, PartId), object_store::Error>> = JoinSet::new();
        let mut parts: Vec<Option<PartId>> = Vec::new();
        let mut size = 0u64;
        loop {
            let mut chunk = Vec::with_capacity(PART_SIZE);
            (&mut reader)
                .take(PART_SIZE as u64)
                .read_to_end(&mut chunk)
                .await
                .map_err(|e| {
                    StorageError::local_file(format!("cannot read the data for `{key}`: {e}"))
                })?;
            if chunk.is_empty() {
                break;
            }
            let last = chunk.len() < PART_SIZE;
            size += chunk.len() as u64;
            while in_flight.len() >= MAX_PARTS_IN_FLIGHT {
                self.join_part(&mut in_flight, &mut parts, key).await?;
            }
            let idx = parts.len();
            parts.push(None);
            let (store, path, id) = (self.store.clone(), path.clone(), id.clone());
            in_flight.spawn(async move {
                let part = store
                    .put_part(&path, &id, idx, PutPayload::from(chunk))
                    .await?;
                Ok((idx, part))
            });
            if last {
                break;
            }
        }
        while !in_flight.is_empty() {
            self.join_part(&mut in_flight, &mut parts, key).await?;
        }
        let parts = parts
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                StorageError::unavailable(format!("upload of `{key}`: a part is missing"), true)
            })?;
        Ok((parts, size))
    }

    async fn join_part(
        &self,
        in_flight: &mut JoinSet<Result<(usize, PartId), object_store::Error>>,
        parts: &mut [Option<PartId>],
        key: &str,
    ) -> Result<(), StorageError> {
        match in_flight.join_next().await {
            Some(Ok(Ok((idx, part)))) => {
                if let Some(slot) = parts.get_mut(idx) {
                    *slot = Some(part);
                }
                Ok(())
            }
            Some(Ok(Err(e))) => Err(self.error(&e, "upload a part of", key)),
            Some(Err(e)) => Err(StorageError::unavailable(
                format!("upload of `{key}`: part task failed: {e}"),
                true,
            )),
            None => Ok(()),
        }
    }

    pub async fn stat(&self, key: &str) -> Result<Option<u64>, StorageError> {
        let path = self.path(key)?;
        match self.store.head(&path).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(e) => match self.not_found_or(&e, "stat", key) {
                StorageError::ObjectMissing { .. } => Ok(None),
                other => Err(other),
            },
        }
    }

    pub async fn hash(&self, key: &str) -> Result<(String, u64), StorageError> {
        let path = self.path(key)?;
        let result = self
            .store
            .get(&path)
            .await
            .map_err(|e| self.not_found_or(&e, "read", key))?;
        let expected = result.meta.size;
        let mut stream = result.into_stream();
        let mut hasher = StreamHasher::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.error(&e, "read", key))?;
            hasher.update(&chunk);
        }
        let (sha256, size) = hasher.finish();
        if size != expected {
            return Err(self.truncated(key, expected, size));
        }
        Ok((sha256, size))
    }

    fn truncated(&self, key: &str, expected: u64, got: u64) -> StorageError {
        StorageError::unavailable(
            format!(
                "{}: reading `{key}` returned {got} bytes, the object has {expected}",
                self.describe()
            ),
            true,
        )
    }

    pub async fn fetch_to_file(&self, key: &str, dest: &Path) -> Result<(), StorageError> {
        let path = self.path(key)?;
        let result = self
            .store
            .get(&path)
            .await
            .map_err(|e| self.not_found_or(&e, "read", key))?;
        let expected = result.meta.size;
        let dest_err = |what: &str, e: &std::io::Error| {
            StorageError::local_file(format!("{what} {}: {e}", dest.display()))
        };
        let tmp =
            staging_file_for(dest).map_err(|e| dest_err("cannot create a staging file for", &e))?;
        let file = tmp
            .as_file()
            .try_clone()
            .map_err(|e| dest_err("cannot open a staging file for", &e))?;
        let mut file = tokio::fs::File::from_std(file);
        let mut stream = result.into_stream();
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.error(&e, "read", key))?;
            file.write_all(&chunk)
                .await
                .map_err(|e| dest_err("cannot write", &e))?;
            size += chunk.len() as u64;
        }
        file.flush()
            .await
            .map_err(|e| dest_err("cannot write", &e))?;
        drop(file);
        if size != expected {
            return Err(self.truncated(key, expected, size));
        }
        let dest = dest.to_path_buf();
        tokio::task::spawn_blocking(move || {
            persist_staging(tmp, &dest).map_err(|e| dest_err_owned(&dest, &e))
        })
        .await
        .map_err(|e| StorageError::local_file(format!("staging task failed: {e}")))?
    }

    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = self.path(key)?;
        match self.store.delete(&path).await {
            Ok(()) => Ok(()),
            Err(e) => match self.not_found_or(&e, "delete", key) {
                StorageError::ObjectMissing { .. } => Ok(()),
                other => Err(other),
            },
        }
    }

    pub async fn list(&self, prefix: &str) -> Result<Vec<StoredObject>, StorageError> {
        let prefix = prefix.trim_matches('/');
        if !prefix.is_empty() {
            validate_key(prefix)?;
        }
        let full = self.full_key(prefix);
        let full = full.trim_matches('/');
        let location = (!full.is_empty()).then(|| ObjectPath::from(full));
        let mut stream = self.store.list(location.as_ref());
        let mut out = Vec::new();
        while let Some(meta) = stream.next().await {
            let meta = meta.map_err(|e| self.error(&e, "list", prefix))?;
            let location = meta.location.as_ref();
            let key = if self.prefix.is_empty() {
                Some(location)
            } else {
                location
                    .strip_prefix(self.prefix.as_str())
                    .and_then(|k| k.strip_prefix('/'))
            };
            let Some(key) = key else { continue };
            if key.split('/').any(|part| part.starts_with(HIDDEN_PREFIX)) {
                continue;
            }
            out.push(StoredObject {
                key: key.to_string(),
                size: meta.size,
            });
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// PUT, GET (compare), DELETE of `<prefix>/.pressluft-probe/<uuid>`.
    pub async fn probe(&self) -> Result<(), StorageError> {
        let key = format!(".pressluft-probe/{}", uuid::Uuid::new_v4());
        let path = ObjectPath::from(self.full_key(&key));
        let content = format!("pressluft storage probe {}\n", uuid::Uuid::new_v4()).into_bytes();
        self.store
            .put(&path, PutPayload::from(content.clone()))
            .await
            .map_err(|e| self.error(&e, "write the probe object", &key))?;
        let read = async {
            let got = self
                .store
                .get(&path)
                .await
                .map_err(|e| self.error(&e, "read the probe object", &key))?
                .bytes()
                .await
                .map_err(|e| self.error(&e, "read the probe object", &key))?;
            if got.as_ref() != content.as_slice() {
                return Err(StorageError::unavailable(
                    format!("{}: the probe object read back differs", self.describe()),
                    false,
                ));
            }
            Ok(())
        }
        .await;
        let deleted = self
            .store
            .delete(&path)
            .await
            .map_err(|e| self.error(&e, "delete the probe object", &key));
        read?;
        deleted
    }
}

fn dest_err_owned(dest: &Path, e: &std::io::Error) -> StorageError {
    StorageError::local_file(format!("cannot commit {}: {e}", dest.display()))
}

/// Aborts the multipart upload unless disarmed: explicitly on error paths (awaited), or from
/// `Drop` (spawned) when the upload future is cancelled.
struct AbortGuard {
    store: Arc<AmazonS3>,
    path: ObjectPath,
    id: Option<MultipartId>,
}

impl AbortGuard {
    async fn abort(mut self) {
        if let Some(id) = self.id.take() {
            abort_upload(&self.store, &self.path, &id).await;
        }
    }

    fn disarm(mut self) {
        self.id = None;
    }
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        let (store, path) = (self.store.clone(), self.path.clone());
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move { abort_upload(&store, &path, &id).await });
            }
            Err(_) => tracing::warn!(
                key = %path,
                "multipart upload dropped outside a runtime; not aborted (a bucket lifecycle rule \
                 removes it)"
            ),
        }
    }
}

async fn abort_upload(store: &AmazonS3, path: &ObjectPath, id: &MultipartId) {
    match store.abort_multipart(path, id).await {
        Ok(()) => tracing::debug!(key = %path, "multipart upload aborted"),
        Err(e) => tracing::warn!(
            key = %path,
            error = %e,
            "cannot abort multipart upload; its parts stay billed until a bucket lifecycle rule \
             removes incomplete uploads"
        ),
    }
}

/// What to check for a client error, and whether retrying later may help.
fn classify(e: &object_store::Error, text: &str) -> (&'static str, bool) {
    const CREDENTIALS: &str = "access denied: check PRESSLUFT_S3_ACCESS_KEY_ID, \
        PRESSLUFT_S3_SECRET_ACCESS_KEY, PRESSLUFT_S3_REGION and the bucket policy";
    if text.contains("NoSuchBucket") {
        return (
            "the bucket does not exist: check PRESSLUFT_S3_BUCKET and PRESSLUFT_S3_ENDPOINT",
            false,
        );
    }
    if matches!(
        e,
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }
    ) || [
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccessDenied",
    ]
    .iter()
    .any(|code| text.contains(code))
    {
        return (CREDENTIALS, false);
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(http) = err.downcast_ref::<HttpError>() {
            return match http.kind() {
                HttpErrorKind::Connect => (
                    "cannot connect: check PRESSLUFT_S3_ENDPOINT, DNS, the firewall and that the \
                     service is up",
                    true,
                ),
                HttpErrorKind::Timeout => (
                    "the request timed out: check the network to PRESSLUFT_S3_ENDPOINT",
                    true,
                ),
                _ => (
                    "network error: check the network to PRESSLUFT_S3_ENDPOINT (TLS, proxy)",
                    true,
                ),
            };
        }
        source = err.source();
    }
    if text.contains("status code: 5") || text.contains("SlowDown") {
        return ("the server reported an error; try again later", true);
    }
    (
        "check PRESSLUFT_S3_ENDPOINT, the credentials and the bucket",
        true,
    )
}

/// One line, at most 600 characters (server error bodies are XML documents).
fn compact(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(600) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

/// Builder errors may echo configuration values: never the secret.
fn redact(text: &str, cfg: &S3Config) -> String {
    let mut out = text.to_string();
    for secret in [&cfg.secret_access_key, &cfg.access_key_id] {
        if !secret.is_empty() {
            out = out.replace(secret.as_str(), "<redacted>");
        }
    }
    out
}
