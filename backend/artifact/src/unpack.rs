//! Owns `unpack`: verifying (in the same pass), checking the manifest (site, sizes, free space) and extracting an
//! artifact into an empty staging directory while refusing every entry that could land outside
//! it or outside the environment once restored.

use std::ffi::OsStr;
use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use sha2::{Digest, Sha256};
use tar::Archive;

use crate::error::{ArtifactError, Result};
use crate::manifest::is_sha256_hex;
use crate::manifest::{Manifest, MANIFEST_MAX_BYTES};
use crate::paths::{check_symlink_target, classify, split_entry_path, Area};
use crate::reader::{drain, open_archive, Budget, Decoded, LogicalEntries, ReadAhead, Source};
use crate::verify::size_mismatch;

/// Slack added to the manifest's content bytes for the default decompression bound.
pub const DEFAULT_SLACK_BYTES: u64 = 64 * 1024 * 1024;
/// Per-entry allowance (tar header, padding, long-name header) in the default bound.
pub const PER_ENTRY_OVERHEAD: u64 = 2048;

/// Buffer for file contents while extracting (the decoder decompresses straight into it).
const EXTRACT_BUF: usize = 1024 * 1024;

/// Options of [`unpack`].
#[derive(Debug, Clone)]
pub struct UnpackOptions {
    pub artifact: PathBuf,
    /// Staging directory; must not exist or be empty.
    pub dest: PathBuf,
    /// The manifest's site_id must equal this.
    pub expect_site: String,
    /// When set, the manifest's environment_id must equal this.
    pub expect_environment: Option<String>,
    /// When set, `(sha256, size)` are verified: the size before anything is written, the sha256
    /// in the same pass as the extraction into `dest` (nothing is kept on a mismatch).
    pub expected: Option<(String, u64)>,
    /// Bound on decompressed bytes; default: content bytes + 64 MiB + 2 KiB per entry.
    pub max_bytes: Option<u64>,
}

impl UnpackOptions {
    pub fn new(
        artifact: impl Into<PathBuf>,
        dest: impl Into<PathBuf>,
        expect_site: impl Into<String>,
    ) -> Self {
        UnpackOptions {
            artifact: artifact.into(),
            dest: dest.into(),
            expect_site: expect_site.into(),
            expect_environment: None,
            expected: None,
            max_bytes: None,
        }
    }
}

/// Result of a successful [`unpack`].
#[derive(Debug, Clone, Serialize)]
pub struct UnpackOutcome {
    pub manifest: Manifest,
    /// Entries extracted (after the manifest).
    pub entries: u64,
    /// Content bytes written (dump + regular files).
    pub bytes: u64,
    pub has_db: bool,
    pub has_files: bool,
}

fn lossy(p: &[u8]) -> String {
    String::from_utf8_lossy(p).into_owned()
}

fn unsafe_entry(path: &[u8], why: impl std::fmt::Display) -> ArtifactError {
    ArtifactError::UnsafeEntry(format!(
        "refusing archive entry {:?}: {why}; the artifact was not produced by pressluft-artifact or was tampered with — do not restore it",
        lossy(path)
    ))
}

/// Free bytes available to unprivileged users on the file system holding `path`
/// (or its nearest existing ancestor).
pub fn free_bytes(path: &Path) -> Result<u64> {
    let mut p = path.to_path_buf();
    loop {
        if fs::symlink_metadata(&p).is_ok() {
            break;
        }
        if !p.pop() || p.as_os_str().is_empty() {
            p = PathBuf::from(".");
            break;
        }
    }
    let c = std::ffi::CString::new(p.as_os_str().as_bytes())
        .map_err(|_| ArtifactError::Usage(format!("path {} contains a NUL byte", p.display())))?;
    // SAFETY: statvfs writes into the zeroed struct we own; `c` is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    if rc != 0 {
        return Err(ArtifactError::io_path(
            "cannot statvfs",
            &p,
            &io::Error::last_os_error(),
        ));
    }
    #[allow(clippy::unnecessary_cast)]
    Ok((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// Extracts an artifact; see the crate docs for what is refused.
///
/// With `expected` set, the artifact is verified in the same pass: its size is compared up front
/// (from `fstat`, before anything is written), and its sha256 is computed over every byte read
/// from the file (in a read-ahead thread, up to the end of the file, trailing bytes included)
/// while the entries are extracted into the staging directory. Nothing outside the staging
/// directory is touched; on a mismatch the staging output is removed and the checksum error is
/// returned. When extraction fails on an artifact whose checksum does not match either, the
/// checksum error is reported (the artifact is damaged), like a separate verification pass would.
pub fn unpack(opts: &UnpackOptions) -> Result<UnpackOutcome> {
    if opts.expect_site.is_empty() {
        return Err(ArtifactError::Usage(
            "--expect-site must not be empty".into(),
        ));
    }
    let path = &opts.artifact;
    let expected = match &opts.expected {
        Some((sha, size)) => {
            if !is_sha256_hex(sha) {
                return Err(ArtifactError::Usage(format!(
                    "expected sha256 {sha:?} is not 64 hex digits"
                )));
            }
            Some((sha.to_ascii_lowercase(), *size))
        }
        None => None,
    };
    let file =
        File::open(path).map_err(|e| ArtifactError::io_path("cannot open artifact", path, &e))?;
    if let Some((_, size)) = &expected {
        let meta = file
            .metadata()
            .map_err(|e| ArtifactError::io_path("cannot stat artifact", path, &e))?;
        if !meta.is_file() {
            return Err(ArtifactError::Io(format!(
                "artifact {} is not a regular file",
                path.display()
            )));
        }
        if meta.len() != *size {
            return Err(size_mismatch(path, *size, meta.len()));
        }
    }
    let dest = &opts.dest;
    let created = match fs::symlink_metadata(dest) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => true,
        Err(e) => return Err(ArtifactError::io_path("cannot stat destination", dest, &e)),
        Ok(m) if !m.is_dir() => {
            return Err(ArtifactError::Io(format!(
                "destination {} exists and is not a directory (symlinks are refused); pass a new or empty staging directory",
                dest.display()
            )))
        }
        Ok(_) => {
            let mut rd = fs::read_dir(dest).map_err(|e| ArtifactError::io_path("cannot list", dest, &e))?;
            if rd.next().is_some() {
                return Err(ArtifactError::Io(format!(
                    "destination {} is not empty; pass a new or empty staging directory",
                    dest.display()
                )));
            }
            false
        }
    };

    let source = if expected.is_some() {
        Source::Hashing(
            ReadAhead::spawn(file)
                .map_err(|e| ArtifactError::io("cannot start the artifact reader thread", &e))?,
        )
    } else {
        Source::plain(file)
    };
    let (mut archive, budget) = open_archive(source, MANIFEST_MAX_BYTES + 64 * 1024, true)?;
    let mut touched = false;
    let staged = stage(
        &mut archive,
        Rc::clone(&budget),
        opts,
        created,
        &mut touched,
    );
    let mut reader = archive.into_inner();
    // Decode to the end of the stream: the tar end-of-archive blocks, the zstd frame's content
    // checksum, any further frames (all still under the byte bound).
    let staged = staged.and_then(|out| drain(&mut reader, &budget).map(|()| out));

    // Hash the rest of the file (bytes the decoder did not need are hashed too) and compare.
    let checked = match expected {
        None => Ok(()),
        Some((sha, size)) => match reader.into_inner().finish() {
            Some(Source::Hashing(ra)) => match ra.finish() {
                Ok((_, n)) if n != size => Err(size_mismatch(path, size, n)),
                Ok((got, _)) if got != sha => Err(ArtifactError::ChecksumMismatch(format!(
                    "artifact {} has sha256 {got}, expected {sha}: the stored object is damaged or not the recorded backup; do not restore from it",
                    path.display()
                ))),
                Ok(_) => Ok(()),
                Err(e) => Err(ArtifactError::io_path("cannot read artifact", path, &e)),
            },
            Some(Source::Plain(_)) => unreachable!("expected checksum without a hashing source"),
            None => Err(ArtifactError::Io(
                "the decompression thread failed; the artifact could not be verified".into(),
            )),
        },
    };
    let err = match (staged, checked) {
        (Ok(out), Ok(())) => {
            sync_fs(dest);
            return Ok(out);
        }
        (_, Err(e)) | (Err(e), Ok(())) => e,
    };
    if !touched {
        return Err(err);
    }
    Err(match cleanup(dest, created) {
        Ok(()) => err.with_note(&format!("partial output under {} removed", dest.display())),
        Err(e) => err.with_note(&format!(
            "could not remove the partial output under {}: {e}; delete it by hand",
            dest.display()
        )),
    })
}

/// Manifest checks, free space, extraction. Sets `touched` once DEST is created or written to.
fn stage(
    archive: &mut Archive<Decoded>,
    budget: Rc<Budget>,
    opts: &UnpackOptions,
    created: bool,
    touched: &mut bool,
) -> Result<UnpackOutcome> {
    let dest = &opts.dest;
    let mut entries = LogicalEntries::new(archive, budget)?;
    let manifest = entries.read_manifest()?;
    if manifest.site_id != opts.expect_site {
        return Err(ArtifactError::WrongSite(format!(
            "backup {} belongs to site {}, not to site {}; cross-site restores are refused",
            manifest.backup_id, manifest.site_id, opts.expect_site
        )));
    }
    if let Some(env) = &opts.expect_environment {
        if &manifest.environment_id != env {
            return Err(ArtifactError::WrongSite(format!(
                "backup {} belongs to environment {}, not to environment {env}",
                manifest.backup_id, manifest.environment_id
            )));
        }
    }
    let content = manifest.content_bytes();
    let default_max = content
        .saturating_add(DEFAULT_SLACK_BYTES)
        .saturating_add(manifest.entry_count.saturating_mul(PER_ENTRY_OVERHEAD));
    let limit = opts.max_bytes.unwrap_or(default_max);
    // The bound covers the whole decompressed stream, manifest included.
    entries
        .budget()
        .set_limit(entries.budget().count().saturating_add(limit));

    let needed = (u128::from(content) * 11 / 10) as u64;
    let free = free_bytes(dest)?;
    if free < needed {
        return Err(ArtifactError::NoSpace(format!(
            "{} has {free} bytes free, the backup needs {content} bytes plus 10% ({needed}); free disk space and retry",
            dest.display()
        )));
    }

    *touched = true;
    if created {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dest)
            .map_err(|e| ArtifactError::io_path("cannot create destination", dest, &e))?;
    }
    let (n, bytes, has_db, has_files) = extract(&mut entries, &manifest, dest, limit)?;
    Ok(UnpackOutcome {
        manifest,
        entries: n,
        bytes,
        has_db,
        has_files,
    })
}

fn sync_fs(dest: &Path) {
    if let Ok(f) = File::open(dest) {
        use std::os::fd::AsRawFd;
        // SAFETY: plain syscall on a descriptor we own; failure only costs durability.
        unsafe { libc::syncfs(f.as_raw_fd()) };
    }
}

fn cleanup(dest: &Path, created: bool) -> io::Result<()> {
    if created {
        return match fs::remove_dir_all(dest) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        };
    }
    for ent in fs::read_dir(dest)? {
        let ent = ent?;
        let p = ent.path();
        if ent.file_type()?.is_dir() {
            fs::remove_dir_all(&p)?;
        } else {
            fs::remove_file(&p)?;
        }
    }
    Ok(())
}

/// Creates (0755) or checks every parent of `comps[..n-1]` under `dest`, never through a symlink.
fn ensure_parents(dest: &Path, comps: &[&[u8]], raw: &[u8]) -> Result<PathBuf> {
    let mut cur = dest.to_path_buf();
    for c in &comps[..comps.len() - 1] {
        cur.push(OsStr::from_bytes(c));
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.is_dir() => {}
            Ok(m) if m.file_type().is_symlink() => {
                return Err(unsafe_entry(
                    raw,
                    "its parent is a symlink in the archive (writing through symlinks is refused)",
                ))
            }
            Ok(_) => return Err(unsafe_entry(raw, "its parent is not a directory")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                DirBuilder::new()
                    .mode(0o755)
                    .create(&cur)
                    .map_err(|e| ArtifactError::io_path("cannot create directory", &cur, &e))?;
                fs::set_permissions(&cur, Permissions::from_mode(0o755))
                    .map_err(|e| ArtifactError::io_path("cannot chmod", &cur, &e))?;
            }
            Err(e) => return Err(ArtifactError::io_path("cannot stat", &cur, &e)),
        }
    }
    cur.push(OsStr::from_bytes(comps[comps.len() - 1]));
    Ok(cur)
}

fn extract(
    entries: &mut LogicalEntries<'_>,
    manifest: &Manifest,
    dest: &Path,
    limit: u64,
) -> Result<(u64, u64, bool, bool)> {
    let mut count = 0u64;
    let mut bytes = 0u64;
    let mut files_bytes = 0u64;
    let mut has_db = false;
    let mut has_current = false;
    let mut has_files = false;
    let mut buf = vec![0u8; EXTRACT_BUF];

    while let Some(mut lg) = entries.next_entry()? {
        count += 1;
        let raw = lg.path.clone();
        if count > manifest.entry_count {
            return Err(ArtifactError::Corrupt(format!(
                "the archive holds more entries than the {} its manifest declares (extra entry {:?})",
                manifest.entry_count,
                lossy(&raw)
            )));
        }
        let comps = split_entry_path(&raw).map_err(|why| unsafe_entry(&raw, why))?;
        let area = classify(&comps).ok_or_else(|| {
            unsafe_entry(
                &raw,
                "outside database.sql, files/current/ and files/shared/",
            )
        })?;
        let et = lg.entry.header().entry_type();
        if et.is_hard_link() {
            return Err(unsafe_entry(&raw, "hardlinks are refused"));
        }
        if et.is_character_special() || et.is_block_special() || et.is_fifo() {
            return Err(unsafe_entry(&raw, "device and fifo entries are refused"));
        }
        if et.is_gnu_sparse() {
            return Err(unsafe_entry(&raw, "sparse entries are not supported"));
        }
        let is_file = et.is_file() || et.is_contiguous();
        let is_dir = et.is_dir();
        let is_symlink = et.is_symlink();
        if !(is_file || is_dir || is_symlink) {
            return Err(unsafe_entry(&raw, format!("unsupported entry type {et:?}")));
        }
        match area {
            Area::Db => {
                if !is_file {
                    return Err(unsafe_entry(&raw, "database.sql must be a regular file"));
                }
                if !manifest.scope.has_db() {
                    return Err(ArtifactError::Corrupt(format!(
                        "database.sql present in a backup of scope {}",
                        manifest.scope.as_str()
                    )));
                }
            }
            Area::Files => {
                if !manifest.scope.has_files() {
                    return Err(ArtifactError::Corrupt(format!(
                        "entry {:?} present in a backup of scope {}",
                        lossy(&raw),
                        manifest.scope.as_str()
                    )));
                }
                if comps.len() == 2 && !is_dir {
                    return Err(unsafe_entry(
                        &raw,
                        "files/current and files/shared must be directories",
                    ));
                }
                has_files = true;
                if comps.len() == 2 && comps[1] == b"current" {
                    has_current = true;
                }
            }
        }
        let link = if is_symlink {
            let target = lg
                .link
                .clone()
                .ok_or_else(|| unsafe_entry(&raw, "symlink without a target"))?;
            check_symlink_target(&comps, &target).map_err(|why| unsafe_entry(&raw, why))?;
            Some(target)
        } else {
            None
        };
        let size = lg.entry.size();
        if is_file {
            // Refuse from the header, before writing anything.
            if bytes.saturating_add(size) > limit {
                return Err(ArtifactError::TooLarge(format!(
                    "entry {:?} ({size} bytes) would exceed the bound of {limit} decompressed bytes; the artifact is not what its manifest claims — do not restore it",
                    lossy(&raw)
                )));
            }
            match area {
                Area::Files if files_bytes.saturating_add(size) > manifest.files_bytes => {
                    return Err(ArtifactError::TooLarge(format!(
                        "entry {:?} ({size} bytes) exceeds the files_bytes ({}) the manifest declares; the artifact is not what its manifest claims — do not restore it",
                        lossy(&raw),
                        manifest.files_bytes
                    )));
                }
                Area::Db if Some(size) != manifest.db_dump_size => {
                    let declared = manifest.db_dump_size.unwrap_or(0);
                    let msg =
                        format!("database.sql is {size} bytes, the manifest declares {declared}");
                    return Err(if size > declared {
                        ArtifactError::TooLarge(msg)
                    } else {
                        ArtifactError::Corrupt(msg)
                    });
                }
                _ => {}
            }
        }

        let target_path = ensure_parents(dest, &comps, &raw)?;
        if is_dir {
            match fs::symlink_metadata(&target_path) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(unsafe_entry(
                        &raw,
                        "would replace an entry extracted before it",
                    ))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    DirBuilder::new()
                        .mode(0o755)
                        .create(&target_path)
                        .map_err(|e| {
                            ArtifactError::io_path("cannot create directory", &target_path, &e)
                        })?;
                }
                Err(e) => return Err(ArtifactError::io_path("cannot stat", &target_path, &e)),
            }
            fs::set_permissions(&target_path, Permissions::from_mode(0o755))
                .map_err(|e| ArtifactError::io_path("cannot chmod", &target_path, &e))?;
        } else if let Some(target) = link {
            std::os::unix::fs::symlink(OsStr::from_bytes(&target), &target_path).map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    unsafe_entry(&raw, "duplicate entry")
                } else {
                    ArtifactError::io_path("cannot create symlink", &target_path, &e)
                }
            })?;
        } else {
            let is_db = area == Area::Db;
            let mode = if is_db {
                0o600
            } else {
                lg.entry.header().mode().unwrap_or(0o644) & 0o777
            };
            let mtime = lg.entry.header().mtime().unwrap_or(0);
            let mut out = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&target_path)
                .map_err(|e| {
                    if e.kind() == io::ErrorKind::AlreadyExists {
                        unsafe_entry(&raw, "duplicate entry")
                    } else {
                        ArtifactError::io_path("cannot create", &target_path, &e)
                    }
                })?;
            let mut hasher = is_db.then(Sha256::new);
            let mut written = 0u64;
            loop {
                let n = match lg.entry.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        return Err(
                            entries.read_error(&format!("cannot read entry {:?}", lossy(&raw)), &e)
                        )
                    }
                };
                out.write_all(&buf[..n])
                    .map_err(|e| ArtifactError::io_path("cannot write", &target_path, &e))?;
                if let Some(h) = hasher.as_mut() {
                    h.update(&buf[..n]);
                }
                written += n as u64;
            }
            if written != size {
                return Err(ArtifactError::Corrupt(format!(
                    "entry {:?} is truncated ({written} of {size} bytes)",
                    lossy(&raw)
                )));
            }
            if let Some(h) = hasher {
                let got = hex::encode(h.finalize());
                let want = manifest
                    .db_dump_sha256
                    .as_deref()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                if got != want {
                    return Err(ArtifactError::Corrupt(format!(
                        "database.sql has sha256 {got}, the manifest declares {want}"
                    )));
                }
                has_db = true;
            } else {
                files_bytes += written;
            }
            bytes += written;
            out.set_permissions(Permissions::from_mode(mode))
                .map_err(|e| ArtifactError::io_path("cannot chmod", &target_path, &e))?;
            let times = fs::FileTimes::new()
                .set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(mtime));
            out.set_times(times)
                .map_err(|e| ArtifactError::io_path("cannot set mtime of", &target_path, &e))?;
        }
    }

    if count != manifest.entry_count {
        return Err(ArtifactError::Corrupt(format!(
            "the archive holds {count} entries after the manifest, the manifest declares {}; the artifact is truncated or damaged",
            manifest.entry_count
        )));
    }
    if manifest.scope.has_db() && !has_db {
        return Err(ArtifactError::Corrupt("database.sql is missing".into()));
    }
    if manifest.scope.has_files() && !has_current {
        return Err(ArtifactError::Corrupt("files/current is missing".into()));
    }
    if files_bytes != manifest.files_bytes {
        return Err(ArtifactError::Corrupt(format!(
            "files hold {files_bytes} bytes, the manifest declares {}",
            manifest.files_bytes
        )));
    }
    Ok((count, bytes, has_db, has_files))
}
