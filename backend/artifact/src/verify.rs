//! Owns checksumming: streaming sha256 of a file, a hashing/counting writer, and `verify`.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{ArtifactError, Result};
use crate::manifest::is_sha256_hex;

const BUF: usize = 256 * 1024;

/// Streams a file through sha256. Returns (lowercase hex digest, bytes read).
pub fn hash_file(path: impl AsRef<Path>) -> Result<(String, u64)> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| ArtifactError::io_path("cannot open", path, &e))?;
    hash_reader(file).map_err(|e| ArtifactError::io_path("cannot read", path, &e))
}

/// Streams any reader through sha256.
pub fn hash_reader(mut r: impl Read) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUF];
    let mut total = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), total))
}

/// Writer that hashes and counts every byte passed to the inner writer.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Returns the inner writer, the hex digest and the byte count.
    pub fn finish(self) -> (W, String, u64) {
        (self.inner, hex::encode(self.hasher.finalize()), self.count)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Result of a successful verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyOutcome {
    pub sha256: String,
    pub size_bytes: u64,
}

/// Checks an artifact's size (first, cheap) and then its sha256 against the expected values.
pub fn verify(
    path: impl AsRef<Path>,
    expected_sha256: &str,
    expected_size: u64,
) -> Result<VerifyOutcome> {
    let path = path.as_ref();
    if !is_sha256_hex(expected_sha256) {
        return Err(ArtifactError::Usage(format!(
            "expected sha256 {expected_sha256:?} is not 64 hex digits"
        )));
    }
    let expected_sha256 = expected_sha256.to_ascii_lowercase();
    let file =
        File::open(path).map_err(|e| ArtifactError::io_path("cannot open artifact", path, &e))?;
    let meta = file
        .metadata()
        .map_err(|e| ArtifactError::io_path("cannot stat artifact", path, &e))?;
    if !meta.is_file() {
        return Err(ArtifactError::Io(format!(
            "artifact {} is not a regular file",
            path.display()
        )));
    }
    if meta.len() != expected_size {
        return Err(size_mismatch(path, expected_size, meta.len()));
    }
    let (sha256, size) =
        hash_reader(file).map_err(|e| ArtifactError::io_path("cannot read artifact", path, &e))?;
    if size != expected_size {
        return Err(size_mismatch(path, expected_size, size));
    }
    if sha256 != expected_sha256 {
        return Err(ArtifactError::ChecksumMismatch(format!(
            "artifact {} has sha256 {sha256}, expected {expected_sha256}: the stored object is damaged or not the recorded backup; do not restore from it",
            path.display()
        )));
    }
    Ok(VerifyOutcome {
        sha256,
        size_bytes: size,
    })
}

pub(crate) fn size_mismatch(path: &Path, expected: u64, actual: u64) -> ArtifactError {
    ArtifactError::SizeMismatch(format!(
        "artifact {} is {actual} bytes, expected {expected}: the stored object is truncated or not the recorded backup; do not restore from it",
        path.display()
    ))
}
