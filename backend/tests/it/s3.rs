//! Backup storage (`pressluft_backend::storage`) against a real S3-compatible server — `moto_server`
//! from `/opt/pressluft/venv` (installed by scripts/install-deps.sh) on a loopback port — and the
//! same API on the local store. A missing moto fails these tests; they are never skipped.

use pressluft_backend::storage::{BackupStore, LocalStore, S3Config, StorageConfig, StorageError};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, ReadBuf};

const MOTO_DEFAULT: &str = "/opt/pressluft/venv/bin/moto_server";
const BUCKET: &str = "pressluft-backups";
const MIB: usize = 1024 * 1024;

/// A `moto_server` on 127.0.0.1, killed when dropped.
pub struct Moto {
    child: Option<Child>,
    port: u16,
}

impl Moto {
    pub fn start() -> Moto {
        let bin = std::env::var("PRESSLUFT_MOTO_SERVER").unwrap_or_else(|_| MOTO_DEFAULT.into());
        assert!(
            Path::new(&bin).is_file(),
            "moto_server not found at {bin}: the S3 storage tests need it. Run \
             scripts/install-deps.sh (installs moto[server] from ansible/requirements.txt into \
             /opt/pressluft/venv) or set PRESSLUFT_MOTO_SERVER"
        );
        let mut last = String::new();
        for _attempt in 0..5 {
            let port = free_port();
            let mut child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    last = format!("moto_server on port {port} exited: {status}");
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Moto {
                        child: Some(child),
                        port,
                    };
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    last = format!("moto_server on port {port} did not answer within 30 s");
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!("cannot start moto_server: {last}");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Creates the bucket (moto does not check signatures) and waits until it answers.
    pub async fn create_bucket(&self, bucket: &str) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match client.put(format!("{}/{bucket}", self.url())).send().await {
                Ok(r) if r.status().is_success() => return,
                Ok(r) if Instant::now() > deadline => panic!("create bucket: {}", r.status()),
                Err(e) if Instant::now() > deadline => panic!("create bucket: {e}"),
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// Upload ids of unfinished multipart uploads in the bucket (ListMultipartUploads).
    async fn multipart_uploads(&self, bucket: &str) -> Vec<String> {
        let body = reqwest::Client::new()
            .get(format!("{}/{bucket}?uploads", self.url()))
            .send()
            .await
            .expect("ListMultipartUploads")
            .text()
            .await
            .expect("ListMultipartUploads body");
        body.split("<UploadId>")
            .skip(1)
            .filter_map(|s| s.split("</UploadId>").next())
            .map(str::to_string)
            .collect()
    }

    fn store(&self, bucket: &str) -> BackupStore {
        let mut cfg = S3Config::new(Some(self.url()), bucket, "testing-key-id", "testing-secret");
        cfg.allow_http = true;
        cfg.prefix = "pressluft".into();
        cfg.max_retries = 1;
        cfg.retry_timeout = Duration::from_secs(2);
        cfg.connect_timeout = Duration::from_secs(2);
        cfg.request_timeout = Duration::from_secs(60);
        BackupStore::from_config(&StorageConfig::S3(cfg)).expect("S3 store")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// A file of `len` pseudo-random bytes.
fn random_file(dir: &Path, name: &str, len: usize) -> PathBuf {
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).expect("create");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ len as u64;
    let mut buf = Vec::with_capacity(MIB);
    let mut written = 0;
    while written < len {
        buf.clear();
        while buf.len() < MIB.min(len - written) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf.extend_from_slice(&x.to_le_bytes());
        }
        buf.truncate(MIB.min(len - written));
        f.write_all(&buf).expect("write");
        written += buf.len();
    }
    f.sync_all().expect("sync");
    path
}

/// Yields `len` bytes, then fails (or, with `hang`, never returns again).
struct BrokenReader {
    left: usize,
    hang: bool,
}

impl AsyncRead for BrokenReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.left == 0 {
            if self.hang {
                return Poll::Pending;
            }
            return Poll::Ready(Err(std::io::Error::other("source disk went away")));
        }
        let n = self.left.min(buf.remaining());
        buf.put_slice(&vec![0x5a; n]);
        self.left -= n;
        Poll::Ready(Ok(()))
    }
}

fn hidden_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path.clone());
            }
            if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
            {
                out.push(path);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_multipart_round_trip_keeps_sha256_and_size() {
    let moto = Moto::start();
    moto.create_bucket(BUCKET).await;
    let store = moto.store(BUCKET);
    assert_eq!(store.storage_type(), pressluft_common::StorageType::S3);
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = random_file(tmp.path(), "backup.tar.zst", 12 * MIB);
    let (want_sha, want_size) = pressluft_artifact::hash_file(&src).expect("hash source");
    let key = "site-1/env-1/backup-1.tar.zst";

    let stored = store.put_file(&src, key).await.expect("put_file");
    assert_eq!(stored.key, key);
    assert_eq!(stored.size, want_size);
    assert_eq!(store.stat(key).await.expect("stat"), Some(want_size));
    assert_eq!(
        store.hash(key).await.expect("hash"),
        (want_sha.clone(), want_size)
    );
    assert!(moto.multipart_uploads(BUCKET).await.is_empty());

    let dest_dir = tmp.path().join("restore");
    std::fs::create_dir(&dest_dir).expect("mkdir");
    let dest = dest_dir.join("fetched.tar.zst");
    store
        .fetch_to_file(key, &dest)
        .await
        .expect("fetch_to_file");
    assert_eq!(
        pressluft_artifact::hash_file(&dest).expect("hash fetched"),
        (want_sha, want_size)
    );
    assert!(hidden_files(&dest_dir).is_empty(), "staging files left");

    let listed = store.list("site-1").await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key, key);
    assert_eq!(listed[0].size, want_size);

    // An empty file is a valid (if odd) object too.
    let empty = random_file(tmp.path(), "empty", 0);
    let stored = store
        .put_file(&empty, "site-1/env-1/empty.tar.zst")
        .await
        .expect("empty");
    assert_eq!(stored.size, 0);
    assert_eq!(
        store
            .hash("site-1/env-1/empty.tar.zst")
            .await
            .expect("hash empty")
            .1,
        0
    );

    store.delete(key).await.expect("delete");
    assert_eq!(store.stat(key).await.expect("stat after delete"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_missing_key_stat_none_delete_ok_hash_missing() {
    let moto = Moto::start();
    moto.create_bucket(BUCKET).await;
    let store = moto.store(BUCKET);
    let key = "site-x/env-x/nothing.tar.zst";
    assert_eq!(store.stat(key).await.expect("stat"), None);
    store.delete(key).await.expect("delete missing");
    let err = store.hash(key).await.expect_err("hash missing");
    assert_eq!(err.code(), "STORAGE_OBJECT_MISSING", "{err}");
    let tmp = tempfile::tempdir().expect("tempdir");
    let err = store
        .fetch_to_file(key, &tmp.path().join("x"))
        .await
        .expect_err("fetch missing");
    assert_eq!(err.code(), "STORAGE_OBJECT_MISSING", "{err}");
    assert!(hidden_files(tmp.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_probe_works_and_leaves_nothing() {
    let moto = Moto::start();
    moto.create_bucket(BUCKET).await;
    let store = moto.store(BUCKET);
    store.probe().await.expect("probe");
    assert!(store.list("").await.expect("list").is_empty());
    let raw = reqwest::Client::new()
        .get(format!("{}/{BUCKET}?list-type=2", moto.url()))
        .send()
        .await
        .expect("ListObjectsV2")
        .text()
        .await
        .expect("body");
    assert!(!raw.contains("<Key>"), "probe object left behind: {raw}");
    let described = store.describe();
    assert!(described.contains(BUCKET), "{described}");
    assert!(!described.contains("testing-secret"), "{described}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_put_to_stopped_server_is_unavailable() {
    let mut moto = Moto::start();
    moto.create_bucket(BUCKET).await;
    let store = moto.store(BUCKET);
    moto.stop();
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = random_file(tmp.path(), "backup.tar.zst", 12 * MIB);
    let started = Instant::now();
    let err = store
        .put_file(&src, "site-1/env-1/b.tar.zst")
        .await
        .expect_err("put to a stopped server");
    assert_eq!(err.code(), "STORAGE_UNAVAILABLE", "{err}");
    assert!(err.retryable(), "a connection failure is retryable: {err}");
    assert!(err.to_string().contains("PRESSLUFT_S3_ENDPOINT"), "{err}");
    assert!(!err.to_string().contains("testing-secret"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "bounded retries"
    );
    let err = store.probe().await.expect_err("probe a stopped server");
    assert_eq!(err.code(), "STORAGE_UNAVAILABLE", "{err}");
    // moto keeps its state in memory, so "nothing left behind" is checked by the tests below
    // (failure in the middle of an upload, and a cancelled upload) against a live server.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_failure_mid_upload_aborts_multipart_upload() {
    let moto = Moto::start();
    moto.create_bucket(BUCKET).await;
    let store = moto.store(BUCKET);
    let key = "site-1/env-1/broken.tar.zst";

    // The listing really shows unfinished uploads (so an empty one below means something).
    let client = reqwest::Client::new();
    let started = client
        .post(format!("{}/{BUCKET}/probe-check?uploads", moto.url()))
        .send()
        .await
        .expect("CreateMultipartUpload");
    assert!(started.status().is_success());
    let ids = moto.multipart_uploads(BUCKET).await;
    assert_eq!(ids.len(), 1, "moto lists unfinished uploads");
    client
        .delete(format!(
            "{}/{BUCKET}/probe-check?uploadId={}",
            moto.url(),
            ids[0]
        ))
        .send()
        .await
        .expect("AbortMultipartUpload");
    assert!(moto.multipart_uploads(BUCKET).await.is_empty());

    // Two full parts go up, then the source fails.
    let reader = BrokenReader {
        left: 20 * MIB,
        hang: false,
    };
    let err = store
        .put_reader(reader, key)
        .await
        .expect_err("broken source");
    assert_eq!(err.code(), "STORAGE_LOCAL_FILE", "{err}");
    assert_eq!(
        store.stat(key).await.expect("stat"),
        None,
        "no partial object"
    );
    assert!(store.list("site-1").await.expect("list").is_empty());
    assert!(
        moto.multipart_uploads(BUCKET).await.is_empty(),
        "the multipart upload was aborted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_cancelled_upload_is_aborted() {
    let moto = Moto::start();
    moto.create_bucket(BUCKET).await;
    let store = moto.store(BUCKET);
    let key = "site-1/env-1/cancelled.tar.zst";
    let reader = BrokenReader {
        left: 10 * MIB,
        hang: true,
    };
    let task = {
        let store = store.clone();
        tokio::spawn(async move { store.put_reader(reader, key).await })
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while moto.multipart_uploads(BUCKET).await.is_empty() {
        assert!(Instant::now() < deadline, "upload never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    task.abort();
    assert!(task.await.expect_err("cancelled").is_cancelled());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !moto.multipart_uploads(BUCKET).await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "cancelled upload was not aborted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(store.stat(key).await.expect("stat"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_missing_bucket_is_unavailable_not_missing() {
    let moto = Moto::start();
    moto.create_bucket(BUCKET).await;
    let store = moto.store("no-such-bucket");
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = random_file(tmp.path(), "b", MIB);
    let err = store
        .put_file(&src, "site-1/env-1/b.tar.zst")
        .await
        .expect_err("put into a missing bucket");
    assert_eq!(err.code(), "STORAGE_UNAVAILABLE", "{err}");
    assert!(!err.retryable(), "{err}");
    assert!(err.to_string().contains("PRESSLUFT_S3_BUCKET"), "{err}");
    let err = store.probe().await.expect_err("probe a missing bucket");
    assert_eq!(err.code(), "STORAGE_UNAVAILABLE", "{err}");
    let err = store
        .hash("site-1/env-1/b.tar.zst")
        .await
        .expect_err("hash");
    assert_eq!(err.code(), "STORAGE_UNAVAILABLE", "{err}");
    assert!(moto.multipart_uploads(BUCKET).await.is_empty());
}

// ---- the local store, same API ----

fn local_store(root: &Path) -> BackupStore {
    BackupStore::from_config(&StorageConfig::Local {
        root: root.to_path_buf(),
    })
    .expect("local store")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_local_put_hash_stat_fetch_delete_probe() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("backups");
    let store = local_store(&root);
    assert_eq!(store.storage_type(), pressluft_common::StorageType::Local);
    let src = random_file(tmp.path(), "staged.tar.zst", 3 * MIB + 7);
    let (want_sha, want_size) = pressluft_artifact::hash_file(&src).expect("hash");
    let key = "site-1/env-1/backup-1.tar.zst";

    let stored = store.put_file(&src, key).await.expect("put_file");
    assert_eq!(stored.size, want_size);
    assert!(src.is_file(), "the source is left alone");
    let path = root.join(key);
    assert_eq!(
        std::fs::metadata(&path)
            .expect("stored")
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    for dir in [root.join("site-1"), root.join("site-1/env-1")] {
        assert_eq!(
            std::fs::metadata(&dir).expect("dir").permissions().mode() & 0o777,
            0o700
        );
    }
    assert!(hidden_files(&root).is_empty(), "no staging files left");
    assert_eq!(store.stat(key).await.expect("stat"), Some(want_size));
    assert_eq!(
        store.hash(key).await.expect("hash"),
        (want_sha.clone(), want_size)
    );
    assert_eq!(
        store.list("").await.expect("list")[0].key,
        key,
        "list shows the key"
    );

    let dest = tmp.path().join("fetched");
    store.fetch_to_file(key, &dest).await.expect("fetch");
    assert_eq!(
        pressluft_artifact::hash_file(&dest).expect("hash fetched"),
        (want_sha.clone(), want_size)
    );
    assert!(hidden_files(tmp.path()).is_empty());

    // The artifact tool wrote the final file itself: put_file on that path is a no-op.
    let direct_key = "site-1/env-1/backup-2.tar.zst";
    let direct = store
        .local_path(direct_key)
        .expect("key")
        .expect("local path");
    std::fs::copy(&src, &direct).expect("copy");
    let stored = store
        .put_file(&direct, direct_key)
        .await
        .expect("no-op put");
    assert_eq!(stored.size, want_size);
    assert_eq!(
        store.hash(direct_key).await.expect("hash"),
        (want_sha, want_size)
    );

    store.delete(key).await.expect("delete");
    store.delete(key).await.expect("delete again");
    assert_eq!(store.stat(key).await.expect("stat"), None);
    let err = store.hash(key).await.expect_err("hash missing");
    assert_eq!(err.code(), "STORAGE_OBJECT_MISSING");
    store.probe().await.expect("probe");
    assert!(hidden_files(&root).is_empty(), "probe leaves nothing");

    let err = store
        .put_file(&src, "../escape")
        .await
        .expect_err("bad key");
    assert_eq!(err.code(), "STORAGE_INVALID_KEY");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_local_failed_source_leaves_no_staging_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("backups");
    let store = local_store(&root);
    let err = store
        .put_reader(
            BrokenReader {
                left: 3 * MIB,
                hang: false,
            },
            "s/e/b.tar.zst",
        )
        .await
        .expect_err("broken source");
    assert_eq!(err.code(), "STORAGE_LOCAL_FILE", "{err}");
    assert!(hidden_files(&root).is_empty(), "staging file removed");
    assert_eq!(store.stat("s/e/b.tar.zst").await.expect("stat"), None);
    let err = store
        .put_file(&tmp.path().join("does-not-exist"), "s/e/c.tar.zst")
        .await
        .expect_err("missing source");
    assert_eq!(err.code(), "STORAGE_LOCAL_FILE", "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_local_unwritable_root_is_unavailable() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("not-a-dir");
    std::fs::write(&root, b"a regular file").expect("write");
    let store = local_store(&root);
    let src = random_file(tmp.path(), "src", 1000);
    let err = store
        .put_file(&src, "site-1/env-1/b.tar.zst")
        .await
        .expect_err("put into a file");
    assert_eq!(err.code(), "STORAGE_UNAVAILABLE", "{err}");
    assert!(err.to_string().contains("not-a-dir"), "{err}");
    let err = store.probe().await.expect_err("probe");
    assert_eq!(err.code(), "STORAGE_UNAVAILABLE", "{err}");
    let err = store
        .stat("site-1/env-1/b.tar.zst")
        .await
        .expect_err("stat");
    assert_eq!(err.code(), "STORAGE_UNAVAILABLE", "{err}");
    let _: &StorageError = &err;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_local_sweeps_stale_staging_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = LocalStore::new(tmp.path());
    std::fs::create_dir_all(tmp.path().join("s/e")).expect("mkdir");
    std::fs::write(tmp.path().join("s/e/.b.tar.zst.tmp-abc123"), b"partial").expect("write");
    std::fs::write(tmp.path().join("s/e/b.tar.zst"), b"complete").expect("write");
    std::fs::write(
        tmp.path().join("s/e/.c.tar.zst.partial-42-00ff"),
        b"artifact",
    )
    .expect("write");
    assert_eq!(
        store
            .sweep_staging_files(Duration::from_secs(3600))
            .await
            .expect("sweep young"),
        0
    );
    assert_eq!(
        store
            .sweep_staging_files(Duration::ZERO)
            .await
            .expect("sweep"),
        2
    );
    assert!(tmp.path().join("s/e/b.tar.zst").is_file());
    assert!(hidden_files(tmp.path()).is_empty());
}
