//! Owns `pack`: walking an environment, building the manifest and streaming
//! walk -> tar -> zstd -> (sha256 + byte count) -> temp file -> fsync -> publish under the final
//! name, never leaving a partial object there.

use std::ffi::OsString;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use serde::Serialize;
use sha2::{Digest, Sha256};
use tar::{Builder, EntryType, Header};

use crate::error::{ArtifactError, Result};
use crate::frames::FrameEncoder;
use crate::manifest::{detect_wp_version, now_utc, Manifest, Scope, FORMAT_VERSION, MANIFEST_NAME};
use crate::paths::{check_symlink_target, split_entry_path};
use crate::verify::{hash_file, HashingWriter};

/// Default zstd level.
pub const DEFAULT_LEVEL: i32 = 3;
/// Upper bound of the default number of compression threads (each adds ~16 MiB of buffers).
pub const MAX_DEFAULT_THREADS: u32 = 2;
/// Upper bound of `--threads`.
pub const MAX_THREADS: u32 = 64;
/// Chunk size for reading files while packing.
const READ_CHUNK: usize = 1 << 20;

/// Default `--threads`: the number of CPUs, at most [`MAX_DEFAULT_THREADS`].
pub fn default_threads() -> u32 {
    std::thread::available_parallelism()
        .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
        .unwrap_or(1)
        .min(MAX_DEFAULT_THREADS)
}

/// Options of [`pack`].
#[derive(Debug, Clone)]
pub struct PackOptions {
    pub scope: Scope,
    pub site_id: String,
    pub environment_id: String,
    pub backup_id: String,
    /// Environment root (contains `current` and `shared`); required for scopes files, full.
    pub env_root: Option<PathBuf>,
    /// Database dump file; required for scopes db, full.
    pub db_dump: Option<PathBuf>,
    /// Final path of the artifact; must not exist.
    pub out: PathBuf,
    /// zstd level (1..=19).
    pub level: i32,
    /// Extra exclusions, relative to `files/` (e.g. `current/wp-content/backups`).
    pub excludes: Vec<String>,
    /// Compression threads: 0 = one zstd frame compressed in the calling thread; N > 0 = the
    /// stream cut into independent frames compressed by N worker threads. Default:
    /// [`default_threads`].
    pub threads: u32,
    /// Override of `created_at` (tests); defaults to now.
    pub created_at: Option<String>,
}

impl PackOptions {
    pub fn new(
        scope: Scope,
        site_id: impl Into<String>,
        environment_id: impl Into<String>,
        backup_id: impl Into<String>,
        out: impl Into<PathBuf>,
    ) -> Self {
        PackOptions {
            scope,
            site_id: site_id.into(),
            environment_id: environment_id.into(),
            backup_id: backup_id.into(),
            env_root: None,
            db_dump: None,
            out: out.into(),
            level: DEFAULT_LEVEL,
            excludes: Vec::new(),
            threads: default_threads(),
            created_at: None,
        }
    }
}

/// Result of a successful [`pack`].
#[derive(Debug, Clone, Serialize)]
pub struct PackOutcome {
    /// sha256 (hex) of the stored bytes.
    pub sha256: String,
    /// Size of the stored object in bytes.
    pub size_bytes: u64,
    /// The final path (as given).
    pub storage_path: String,
    pub manifest: Manifest,
    /// Non-fatal observations (special files skipped, files that grew while packing).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

#[derive(Debug)]
enum Kind {
    Dir,
    File { size: u64 },
    Symlink { target: OsString },
}

#[derive(Debug)]
struct Item {
    /// Path inside the archive (`files/current/...`).
    arch: PathBuf,
    /// Path on disk.
    src: PathBuf,
    kind: Kind,
    mode: u32,
    mtime: u64,
}

/// Whether a directory (path relative to `files/`) is a cache directory that is never archived.
fn is_cache_dir(rel: &Path) -> bool {
    let comps: Vec<&[u8]> = rel.iter().map(|c| c.as_bytes()).collect();
    let n = comps.len();
    if n < 2 {
        return false;
    }
    let name = comps[n - 1];
    let parent = comps[n - 2];
    if parent == b"wp-content" && (name == b"cache" || name.ends_with(b"-cache")) {
        return true;
    }
    if n >= 3 && comps[n - 3] == b"wp-content" && parent == b"uploads" && name == b"cache" {
        return true;
    }
    // shared/uploads is what wp-content/uploads points to.
    comps == [&b"shared"[..], b"uploads", b"cache"]
}

fn normalize_excludes(raw: &[String]) -> Result<Vec<PathBuf>> {
    raw.iter()
        .map(|e| {
            let comps = split_entry_path(e.as_bytes())
                .map_err(|why| ArtifactError::Usage(format!("--exclude {e:?}: {why}")))?;
            let comps = match comps.as_slice() {
                [b"files", rest @ ..] if !rest.is_empty() => rest.to_vec(),
                _ => comps,
            };
            Ok(comps
                .iter()
                .map(|c| std::ffi::OsStr::from_bytes(c))
                .collect::<PathBuf>())
        })
        .collect()
}

fn mtime_of(meta: &fs::Metadata) -> u64 {
    u64::try_from(meta.mtime()).unwrap_or(0)
}

struct Walker<'a> {
    excludes: &'a [PathBuf],
    items: Vec<Item>,
    warnings: Vec<String>,
    files_bytes: u64,
}

impl Walker<'_> {
    /// Adds `src` (a real directory) as `files/<rel>` and everything below it.
    fn walk_root(&mut self, src: &Path, rel: &str) -> Result<()> {
        let meta = fs::metadata(src).map_err(|e| ArtifactError::io_path("cannot stat", src, &e))?;
        let rel = PathBuf::from(rel);
        self.items.push(Item {
            arch: Path::new("files").join(&rel),
            src: src.to_path_buf(),
            kind: Kind::Dir,
            mode: meta.mode() & 0o777,
            mtime: mtime_of(&meta),
        });
        self.walk_dir(src, &rel)
    }

    fn walk_dir(&mut self, dir: &Path, rel_dir: &Path) -> Result<()> {
        let rd = fs::read_dir(dir)
            .map_err(|e| ArtifactError::io_path("cannot list directory", dir, &e))?;
        let mut names = Vec::new();
        for ent in rd {
            let ent = ent.map_err(|e| ArtifactError::io_path("cannot list directory", dir, &e))?;
            names.push(ent.file_name());
        }
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            let src = dir.join(&name);
            let rel = rel_dir.join(&name);
            if self.excludes.contains(&rel) {
                continue;
            }
            let meta = fs::symlink_metadata(&src)
                .map_err(|e| ArtifactError::io_path("cannot stat", &src, &e))?;
            let ft = meta.file_type();
            let arch = Path::new("files").join(&rel);
            let mode = meta.mode() & 0o777;
            let mtime = mtime_of(&meta);
            if ft.is_dir() {
                if is_cache_dir(&rel) {
                    continue;
                }
                self.items.push(Item {
                    arch,
                    src: src.clone(),
                    kind: Kind::Dir,
                    mode,
                    mtime,
                });
                self.walk_dir(&src, &rel)?;
            } else if ft.is_file() {
                self.files_bytes = self.files_bytes.saturating_add(meta.len());
                self.items.push(Item {
                    arch,
                    src,
                    kind: Kind::File { size: meta.len() },
                    mode,
                    mtime,
                });
            } else if ft.is_symlink() {
                let target = fs::read_link(&src)
                    .map_err(|e| ArtifactError::io_path("cannot read symlink", &src, &e))?;
                let comps: Vec<&[u8]> = arch.iter().map(|c| c.as_bytes()).collect();
                if let Err(why) = check_symlink_target(&comps, target.as_os_str().as_bytes()) {
                    return Err(ArtifactError::UnsafeEntry(format!(
                        "{} cannot be backed up restorably ({why}); replace it with a relative symlink inside the environment or a copy, or exclude it with --exclude {}",
                        src.display(),
                        rel.display()
                    )));
                }
                self.items.push(Item {
                    arch,
                    src,
                    kind: Kind::Symlink {
                        target: target.into_os_string(),
                    },
                    mode: 0o777,
                    mtime,
                });
            } else {
                self.warnings.push(format!(
                    "skipped special file {} (sockets, fifos and devices are not archived)",
                    src.display()
                ));
            }
        }
        Ok(())
    }
}

/// Resolves `<env_root>/<name>` once and requires a directory inside the env root.
fn resolve_in_env(env_root: &Path, env_canon: &Path, name: &str) -> Result<PathBuf> {
    let p = env_root.join(name);
    let canon =
        fs::canonicalize(&p).map_err(|e| ArtifactError::io_path("cannot resolve", &p, &e))?;
    if !canon.starts_with(env_canon) {
        return Err(ArtifactError::UnsafeEntry(format!(
            "{} resolves to {}, outside the environment root {}",
            p.display(),
            canon.display(),
            env_canon.display()
        )));
    }
    let meta =
        fs::metadata(&canon).map_err(|e| ArtifactError::io_path("cannot stat", &canon, &e))?;
    if !meta.is_dir() {
        return Err(ArtifactError::Io(format!(
            "{} is not a directory",
            p.display()
        )));
    }
    Ok(canon)
}

/// Removes the temp file on drop unless it was already renamed away.
struct TempGuard(PathBuf);

impl Drop for TempGuard {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

fn temp_name(out: &Path) -> Result<PathBuf> {
    let name = out
        .file_name()
        .ok_or_else(|| ArtifactError::Usage(format!("--out {} has no file name", out.display())))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let rand = nanos
        ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ u64::from(std::process::id()).rotate_left(32);
    let mut tmp = OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".partial-{}-{rand:016x}", std::process::id()));
    Ok(out.with_file_name(tmp))
}

fn parent_dir(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Reader that hashes what goes through it.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

fn base_header(kind: EntryType, size: u64, mode: u32, mtime: u64) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode & 0o777);
    h.set_mtime(mtime);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// Builds an artifact; see the crate docs for the format.
pub fn pack(opts: &PackOptions) -> Result<PackOutcome> {
    // ---- validation (nothing created yet)
    for (flag, v) in [
        ("--site-id", &opts.site_id),
        ("--environment-id", &opts.environment_id),
        ("--backup-id", &opts.backup_id),
    ] {
        if v.is_empty() {
            return Err(ArtifactError::Usage(format!("{flag} must not be empty")));
        }
    }
    if !(1..=19).contains(&opts.level) {
        return Err(ArtifactError::Usage(format!(
            "--level {} is outside 1..=19",
            opts.level
        )));
    }
    if opts.threads > MAX_THREADS {
        return Err(ArtifactError::Usage(format!(
            "--threads {} is more than {MAX_THREADS}",
            opts.threads
        )));
    }
    let scope = opts.scope;
    if scope.has_db() != opts.db_dump.is_some() {
        return Err(ArtifactError::Usage(format!(
            "scope {} {} --db-dump",
            scope.as_str(),
            if scope.has_db() {
                "requires"
            } else {
                "does not take"
            }
        )));
    }
    if scope.has_files() != opts.env_root.is_some() {
        return Err(ArtifactError::Usage(format!(
            "scope {} {} --env-root",
            scope.as_str(),
            if scope.has_files() {
                "requires"
            } else {
                "does not take"
            }
        )));
    }
    let excludes = normalize_excludes(&opts.excludes)?;
    let out = &opts.out;
    match fs::symlink_metadata(out) {
        Ok(_) => {
            return Err(ArtifactError::Io(format!(
                "refusing to overwrite existing {}; every backup needs its own storage path (remove it only if it is a leftover of a failed run)",
                out.display()
            )))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(ArtifactError::io_path("cannot stat", out, &e)),
    }

    // ---- first pass: dump hash, file listing
    let mut warnings = Vec::new();
    let dump_hash = match &opts.db_dump {
        Some(dump) => {
            let meta = fs::metadata(dump)
                .map_err(|e| ArtifactError::io_path("cannot stat database dump", dump, &e))?;
            if !meta.is_file() {
                return Err(ArtifactError::Io(format!(
                    "database dump {} is not a regular file",
                    dump.display()
                )));
            }
            // Hashed in a helper thread while the tree is listed.
            let dump = dump.clone();
            let h = std::thread::Builder::new()
                .name("artifact-dump-hash".into())
                .spawn(move || hash_file(&dump))
                .map_err(|e| ArtifactError::io("cannot start the dump hashing thread", &e))?;
            Some(h)
        }
        None => None,
    };
    let mut walker = Walker {
        excludes: &excludes,
        items: Vec::new(),
        warnings: Vec::new(),
        files_bytes: 0,
    };
    let mut wordpress_version = None;
    if let Some(env_root) = &opts.env_root {
        let env_canon = fs::canonicalize(env_root)
            .map_err(|e| ArtifactError::io_path("cannot resolve environment root", env_root, &e))?;
        let release = resolve_in_env(env_root, &env_canon, "current")?;
        wordpress_version = detect_wp_version(&release);
        walker.walk_root(&release, "current")?;
        match fs::symlink_metadata(env_root.join("shared")) {
            Ok(_) => {
                let shared = resolve_in_env(env_root, &env_canon, "shared")?;
                walker.walk_root(&shared, "shared")?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                warnings.push(format!(
                    "{} does not exist; no files/shared in this backup",
                    env_root.join("shared").display()
                ));
            }
            Err(e) => {
                return Err(ArtifactError::io_path(
                    "cannot stat",
                    &env_root.join("shared"),
                    &e,
                ))
            }
        }
    }
    let Walker {
        items,
        warnings: walk_warnings,
        files_bytes,
        ..
    } = walker;
    warnings.extend(walk_warnings);
    let (db_sha, db_size) = match dump_hash.map(std::thread::JoinHandle::join) {
        Some(Ok(r)) => {
            let (h, s) = r?;
            (Some(h), Some(s))
        }
        Some(Err(_)) => {
            return Err(ArtifactError::Io(
                "hashing the database dump failed (thread panicked)".into(),
            ))
        }
        None => (None, None),
    };

    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        site_id: opts.site_id.clone(),
        environment_id: opts.environment_id.clone(),
        backup_id: opts.backup_id.clone(),
        scope,
        created_at: opts.created_at.clone().unwrap_or_else(now_utc),
        entry_count: u64::from(scope.has_db()) + items.len() as u64,
        db_dump_sha256: db_sha,
        db_dump_size: db_size,
        wordpress_version,
        files_bytes,
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| ArtifactError::Io(format!("cannot serialise the manifest: {e}")))?;

    // ---- second pass: stream into a temp file next to the final path
    let dir = parent_dir(out);
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| ArtifactError::io_path("cannot create output directory", &dir, &e))?;
    let tmp = temp_name(out)?;
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| ArtifactError::io_path("cannot create temporary file", &tmp, &e))?;
    let guard = TempGuard(tmp);

    let (file, sha256, size_bytes) = stream(
        opts,
        &manifest,
        &manifest_bytes,
        &items,
        file,
        &mut warnings,
    )?;
    file.sync_all()
        .map_err(|e| ArtifactError::io_path("cannot fsync", &guard.0, &e))?;
    let on_disk = file
        .metadata()
        .map_err(|e| ArtifactError::io_path("cannot stat", &guard.0, &e))?
        .len();
    if on_disk != size_bytes {
        return Err(ArtifactError::Io(format!(
            "{} holds {on_disk} bytes but {size_bytes} were written; the output file system misbehaves",
            guard.0.display()
        )));
    }
    drop(file);
    publish(&guard.0, out)?;
    drop(guard);
    let d =
        File::open(&dir).map_err(|e| ArtifactError::io_path("cannot open directory", &dir, &e))?;
    d.sync_all()
        .map_err(|e| ArtifactError::io_path("cannot fsync directory", &dir, &e))?;

    Ok(PackOutcome {
        sha256,
        size_bytes,
        storage_path: out.to_string_lossy().into_owned(),
        manifest,
        warnings,
    })
}

/// Puts `tmp` under `out` without ever replacing an existing `out`.
fn publish(tmp: &Path, out: &Path) -> Result<()> {
    let exists = || {
        ArtifactError::Io(format!(
            "refusing to overwrite {}, which appeared while packing; every backup needs its own storage path",
            out.display()
        ))
    };
    match fs::hard_link(tmp, out) {
        Ok(()) => Ok(()), // the guard removes tmp
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(exists()),
        Err(_) => {
            // File systems without hard links: check, then rename.
            if fs::symlink_metadata(out).is_ok() {
                return Err(exists());
            }
            fs::rename(tmp, out)
                .map_err(|e| ArtifactError::io_path("cannot rename temporary file to", out, &e))
        }
    }
}

/// Chunk size handed from the encoder to the output thread.
const OUT_CHUNK: usize = 1 << 20;
/// Chunks queued for the output thread (bounds memory to a few MiB).
const OUT_CHUNKS_IN_FLIGHT: usize = 4;

type OutResult = io::Result<(File, String, u64)>;

/// The compressed output: collected into 1 MiB chunks that a helper thread hashes (sha256),
/// counts and writes to the file, in parallel with reading and compressing.
struct Sink {
    tx: Option<SyncSender<Vec<u8>>>,
    recycled: Receiver<Vec<u8>>,
    buf: Vec<u8>,
    handle: Option<JoinHandle<OutResult>>,
}

impl Sink {
    fn spawn(file: File) -> io::Result<Sink> {
        let (tx, rx) = sync_channel::<Vec<u8>>(OUT_CHUNKS_IN_FLIGHT);
        let (recycle, recycled) = sync_channel::<Vec<u8>>(OUT_CHUNKS_IN_FLIGHT + 2);
        let handle = std::thread::Builder::new()
            .name("artifact-write".into())
            .spawn(move || -> OutResult {
                let mut out = HashingWriter::new(file);
                for mut chunk in rx {
                    out.write_all(&chunk)?;
                    chunk.clear();
                    let _ = recycle.try_send(chunk);
                }
                Ok(out.finish())
            })?;
        Ok(Sink {
            tx: Some(tx),
            recycled,
            buf: Vec::with_capacity(OUT_CHUNK),
            handle: Some(handle),
        })
    }

    /// The output thread's error, once it stopped early.
    fn failed(&mut self) -> io::Error {
        self.tx = None;
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => e,
            _ => io::Error::other("the artifact output thread stopped"),
        }
    }

    fn send(&mut self) -> io::Result<()> {
        let next = self
            .recycled
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(OUT_CHUNK));
        let full = std::mem::replace(&mut self.buf, next);
        let sent = match &self.tx {
            Some(tx) => tx.send(full).is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            Err(self.failed())
        }
    }

    /// Writes what is left, waits for the output thread: (file, sha256 hex, bytes written).
    fn finish(mut self) -> OutResult {
        if !self.buf.is_empty() {
            self.send()?;
        }
        self.tx = None;
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            _ => Err(io::Error::other("the artifact output thread panicked")),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(OUT_CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= OUT_CHUNK {
            self.send()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// zstd over the tar stream: one frame compressed in this thread (`--threads 0`), or
/// independent frames compressed by worker threads.
enum Encoder {
    Stream(zstd::stream::write::Encoder<'static, Sink>),
    Frames(FrameEncoder<Sink>),
}

impl Write for Encoder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Stream(e) => e.write(buf),
            Encoder::Frames(e) => e.write(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Encoder::Stream(e) => e.write_all(buf),
            Encoder::Frames(e) => e.write_all(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Stream(e) => e.flush(),
            Encoder::Frames(e) => e.flush(),
        }
    }
}

enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

/// Copies `src` to `dst` through `buf` (large reads, large writes). Returns the bytes copied.
fn copy_exact(
    src: &mut impl Read,
    dst: &mut impl Write,
    buf: &mut [u8],
) -> std::result::Result<u64, CopyError> {
    let mut total = 0u64;
    loop {
        // Fill the buffer as far as the file allows, so the encoder sees big writes.
        let mut filled = 0;
        while filled < buf.len() {
            match src.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(CopyError::Read(e)),
            }
        }
        if filled == 0 {
            return Ok(total);
        }
        dst.write_all(&buf[..filled]).map_err(CopyError::Write)?;
        total += filled as u64;
        if filled < buf.len() {
            return Ok(total);
        }
    }
}

/// Pads a tar entry's data of `len` bytes to the 512-byte block size.
fn pad_block(dst: &mut impl Write, len: u64) -> io::Result<()> {
    let rem = (len % 512) as usize;
    if rem != 0 {
        dst.write_all(&[0u8; 512][..512 - rem])?;
    }
    Ok(())
}

fn stream(
    opts: &PackOptions,
    manifest: &Manifest,
    manifest_bytes: &[u8],
    items: &[Item],
    file: File,
    warnings: &mut Vec<String>,
) -> Result<(File, String, u64)> {
    let w = |e: io::Error| ArtifactError::io("cannot write the artifact", &e);
    let sink =
        Sink::spawn(file).map_err(|e| ArtifactError::io("cannot start the output thread", &e))?;
    let enc = if opts.threads == 0 {
        let mut enc = zstd::stream::write::Encoder::new(sink, opts.level).map_err(w)?;
        enc.include_checksum(true).map_err(w)?;
        Encoder::Stream(enc)
    } else {
        Encoder::Frames(FrameEncoder::new(sink, opts.level, opts.threads).map_err(w)?)
    };
    let mut tar = Builder::new(enc);
    tar.follow_symlinks(false);
    let mut chunk = vec![0u8; READ_CHUNK];

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut h = base_header(EntryType::Regular, manifest_bytes.len() as u64, 0o644, now);
    tar.append_data(&mut h, MANIFEST_NAME, manifest_bytes)
        .map_err(w)?;

    if let (Some(dump), Some(size), Some(sha)) = (
        &opts.db_dump,
        manifest.db_dump_size,
        &manifest.db_dump_sha256,
    ) {
        let f = File::open(dump)
            .map_err(|e| ArtifactError::io_path("cannot open database dump", dump, &e))?;
        let meta = f
            .metadata()
            .map_err(|e| ArtifactError::io_path("cannot stat database dump", dump, &e))?;
        if meta.len() != size {
            return Err(ArtifactError::Io(format!(
                "database dump {} changed size while packing ({size} -> {} bytes); make sure the dump is complete before packing, then retry",
                dump.display(),
                meta.len()
            )));
        }
        let mut r = HashingReader {
            inner: f.take(size),
            hasher: Sha256::new(),
            count: 0,
        };
        let mut h = base_header(EntryType::Regular, size, 0o600, mtime_of(&meta));
        tar.append_data(&mut h, "database.sql", &mut r).map_err(w)?;
        let got = hex::encode(r.hasher.finalize());
        if r.count != size || &got != sha {
            return Err(ArtifactError::Io(format!(
                "database dump {} changed while packing; retry the backup",
                dump.display()
            )));
        }
    }

    for item in items {
        match &item.kind {
            Kind::Dir => {
                let mut h = base_header(EntryType::Directory, 0, item.mode, item.mtime);
                tar.append_data(&mut h, &item.arch, io::empty())
                    .map_err(w)?;
            }
            Kind::Symlink { target } => {
                let mut h = base_header(EntryType::Symlink, 0, 0o777, item.mtime);
                tar.append_link(&mut h, &item.arch, target).map_err(w)?;
            }
            Kind::File { size } => {
                let vanished = |e: &io::Error| {
                    ArtifactError::io_path(
                        "cannot read (changed while packing? retry the backup)",
                        &item.src,
                        e,
                    )
                };
                let f = OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                    .open(&item.src)
                    .map_err(|e| vanished(&e))?;
                let meta = f.metadata().map_err(|e| vanished(&e))?;
                if !meta.is_file() {
                    return Err(ArtifactError::Io(format!(
                        "{} is no longer a regular file; retry the backup",
                        item.src.display()
                    )));
                }
                if meta.len() < *size {
                    return Err(ArtifactError::Io(format!(
                        "{} shrank while packing ({size} -> {} bytes); retry the backup",
                        item.src.display(),
                        meta.len()
                    )));
                }
                if meta.len() > *size {
                    warnings.push(format!(
                        "{} grew while packing; archived its first {size} bytes",
                        item.src.display()
                    ));
                }
                // The header (and any GNU long-name record) through the tar crate, then the
                // contents in large chunks straight into the encoder: the crate's own copy
                // goes through an 8 KiB buffer.
                let mut h = base_header(EntryType::Regular, *size, item.mode, item.mtime);
                tar.append_data(&mut h, &item.arch, io::empty())
                    .map_err(w)?;
                let mut src = f.take(*size);
                let copied = match tar.get_mut() {
                    Encoder::Frames(enc) => enc.fill_from(&mut src, *size).map_err(|e| match e {
                        (true, e) => CopyError::Read(e),
                        (false, e) => CopyError::Write(e),
                    }),
                    enc => copy_exact(&mut src, enc, &mut chunk),
                }
                .map_err(|e| match e {
                    CopyError::Read(e) => vanished(&e),
                    CopyError::Write(e) => w(e),
                })?;
                if copied != *size {
                    return Err(ArtifactError::Io(format!(
                        "{} shrank while packing; retry the backup",
                        item.src.display()
                    )));
                }
                pad_block(tar.get_mut(), copied).map_err(w)?;
            }
        }
    }

    let enc = tar.into_inner().map_err(w)?;
    let sink = match enc {
        Encoder::Stream(e) => e.finish(),
        Encoder::Frames(e) => e.finish(),
    }
    .map_err(w)?;
    sink.finish().map_err(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_dirs() {
        assert!(is_cache_dir(Path::new("current/wp-content/cache")));
        assert!(is_cache_dir(Path::new("current/wp-content/et-cache")));
        assert!(is_cache_dir(Path::new("current/wp-content/uploads/cache")));
        assert!(is_cache_dir(Path::new("shared/uploads/cache")));
        assert!(!is_cache_dir(Path::new("current/wp-content/plugins/cache")));
        assert!(!is_cache_dir(Path::new("current/cache")));
        assert!(!is_cache_dir(Path::new("shared/uploads/2024/cache")));
    }

    #[test]
    fn exclude_normalisation() {
        let x = normalize_excludes(&["files/current/a/".into(), "./shared/b".into()]).unwrap();
        assert_eq!(
            x,
            vec![PathBuf::from("current/a"), PathBuf::from("shared/b")]
        );
        assert!(normalize_excludes(&["/etc".into()]).is_err());
        assert!(normalize_excludes(&["current/../x".into()]).is_err());
    }
}
