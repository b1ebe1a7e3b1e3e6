//! Owns reading artifacts: zstd decoding with a decompressed-byte bound, and turning raw tar
//! headers into logical entries (GNU long names handled here with a size cap; PAX refused).

use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::rc::Rc;

use tar::{Archive, Entries, Entry};

use crate::error::{ArtifactError, Result};
use crate::manifest::{parse_manifest, Manifest, MANIFEST_MAX_BYTES, MANIFEST_NAME};

/// Longest accepted GNU long name / long link payload.
const LONG_NAME_MAX: u64 = 16 * 1024;

/// Shared state of the decompressed-byte counter.
#[derive(Debug)]
pub(crate) struct Budget {
    count: Cell<u64>,
    limit: Cell<u64>,
    exceeded: Cell<bool>,
}

impl Budget {
    pub(crate) fn count(&self) -> u64 {
        self.count.get()
    }
    pub(crate) fn set_limit(&self, limit: u64) {
        self.limit.set(limit);
    }
    pub(crate) fn exceeded(&self) -> bool {
        self.exceeded.get()
    }
    pub(crate) fn too_large(&self) -> ArtifactError {
        ArtifactError::TooLarge(format!(
            "decompressed data exceeds the bound of {} bytes derived from the manifest (or --max-bytes); the artifact is not what its manifest claims — do not restore it",
            self.limit.get()
        ))
    }
}

/// Reader that fails once more than `limit` bytes went through it.
pub(crate) struct CountingReader<R> {
    inner: R,
    budget: Rc<Budget>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.budget.exceeded.get() {
            return Err(io::Error::other("decompressed byte bound exceeded"));
        }
        let n = self.inner.read(buf)?;
        let total = self.budget.count.get().saturating_add(n as u64);
        self.budget.count.set(total);
        if total > self.budget.limit.get() {
            self.budget.exceeded.set(true);
            return Err(io::Error::other("decompressed byte bound exceeded"));
        }
        Ok(n)
    }
}

pub(crate) type Decoded = CountingReader<zstd::stream::read::Decoder<'static, BufReader<File>>>;

/// Opens a zstd-compressed tar whose decompressed size may not exceed `limit` bytes.
pub(crate) fn open_archive(file: File, limit: u64) -> Result<(Archive<Decoded>, Rc<Budget>)> {
    let decoder = zstd::stream::read::Decoder::new(file)
        .map_err(|e| ArtifactError::Corrupt(format!("cannot initialise the zstd decoder: {e}")))?;
    let budget = Rc::new(Budget {
        count: Cell::new(0),
        limit: Cell::new(limit),
        exceeded: Cell::new(false),
    });
    let reader = CountingReader {
        inner: decoder,
        budget: Rc::clone(&budget),
    };
    Ok((Archive::new(reader), budget))
}

/// One logical entry: the tar entry plus its full path and link target.
pub(crate) struct Logical<'a> {
    pub(crate) entry: Entry<'a, Decoded>,
    pub(crate) path: Vec<u8>,
    pub(crate) link: Option<Vec<u8>>,
}

/// Iterator over logical entries of an artifact.
pub(crate) struct LogicalEntries<'a> {
    entries: Entries<'a, Decoded>,
    budget: Rc<Budget>,
}

fn strip_nuls(mut v: Vec<u8>) -> Vec<u8> {
    while v.last() == Some(&0) {
        v.pop();
    }
    v
}

impl<'a> LogicalEntries<'a> {
    pub(crate) fn new(archive: &'a mut Archive<Decoded>, budget: Rc<Budget>) -> Result<Self> {
        let entries = archive.entries().map_err(|e| {
            ArtifactError::Corrupt(format!("artifact is not a readable tar stream: {e}"))
        })?;
        Ok(LogicalEntries {
            entries: entries.raw(true),
            budget,
        })
    }

    pub(crate) fn budget(&self) -> &Budget {
        &self.budget
    }

    /// Maps an error raised while reading the archive: over budget -> TOO_LARGE, else CORRUPT.
    pub(crate) fn read_error(&self, what: &str, err: &io::Error) -> ArtifactError {
        if self.budget.exceeded() {
            self.budget.too_large()
        } else {
            ArtifactError::Corrupt(format!(
                "{what}: {err}; the artifact is damaged or not a pressluft backup"
            ))
        }
    }

    fn read_long(&self, entry: &mut Entry<'a, Decoded>, kind: &str) -> Result<Vec<u8>> {
        let size = entry.size();
        if size > LONG_NAME_MAX {
            return Err(ArtifactError::UnsafeEntry(format!(
                "GNU {kind} header of {size} bytes exceeds the {LONG_NAME_MAX}-byte limit"
            )));
        }
        let mut buf = Vec::with_capacity(size as usize);
        entry
            .read_to_end(&mut buf)
            .map_err(|e| self.read_error("cannot read a GNU long name header", &e))?;
        Ok(strip_nuls(buf))
    }

    /// Next logical entry, or `None` at the end of the archive.
    pub(crate) fn next_entry(&mut self) -> Result<Option<Logical<'a>>> {
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        loop {
            let next = self.entries.next();
            let mut entry = match next {
                None => {
                    if long_name.is_some() || long_link.is_some() {
                        return Err(ArtifactError::Corrupt(
                            "archive ends after a GNU long name header".into(),
                        ));
                    }
                    return Ok(None);
                }
                Some(Err(e)) => return Err(self.read_error("cannot read the next tar header", &e)),
                Some(Ok(entry)) => entry,
            };
            let et = entry.header().entry_type();
            if et.is_gnu_longname() {
                if long_name.is_some() {
                    return Err(ArtifactError::Corrupt(
                        "two GNU long name headers for one entry".into(),
                    ));
                }
                long_name = Some(self.read_long(&mut entry, "long name")?);
                continue;
            }
            if et.is_gnu_longlink() {
                if long_link.is_some() {
                    return Err(ArtifactError::Corrupt(
                        "two GNU long link headers for one entry".into(),
                    ));
                }
                long_link = Some(self.read_long(&mut entry, "long link")?);
                continue;
            }
            if et.is_pax_local_extensions() || et.is_pax_global_extensions() {
                return Err(ArtifactError::UnsafeEntry(
                    "PAX extended headers are not part of the pressluft artifact format and are refused".into(),
                ));
            }
            let path = match long_name {
                Some(p) => p,
                None => entry.header().path_bytes().into_owned(),
            };
            let link = match long_link {
                Some(l) => Some(l),
                None => entry.header().link_name_bytes().map(|c| c.into_owned()),
            };
            return Ok(Some(Logical { entry, path, link }));
        }
    }

    /// Reads the first entry, which must be `manifest.json`.
    pub(crate) fn read_manifest(&mut self) -> Result<Manifest> {
        let Some(mut first) = self.next_entry()? else {
            return Err(ArtifactError::Corrupt(
                "artifact is empty: no manifest.json".into(),
            ));
        };
        if first.path != MANIFEST_NAME.as_bytes() || !first.entry.header().entry_type().is_file() {
            return Err(ArtifactError::Corrupt(format!(
                "first entry is {:?}, expected the regular file manifest.json; this is not a pressluft backup",
                String::from_utf8_lossy(&first.path)
            )));
        }
        let size = first.entry.size();
        if size > MANIFEST_MAX_BYTES {
            return Err(ArtifactError::Corrupt(format!(
                "manifest.json is {size} bytes, more than the {MANIFEST_MAX_BYTES}-byte limit"
            )));
        }
        let mut buf = Vec::with_capacity(size as usize);
        first
            .entry
            .read_to_end(&mut buf)
            .map_err(|e| self.read_error("cannot read manifest.json", &e))?;
        parse_manifest(&buf)
    }
}
