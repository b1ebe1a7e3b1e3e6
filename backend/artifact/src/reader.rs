//! Owns reading artifacts: the raw byte source (optionally read ahead and sha256-hashed in a
//! helper thread, so `unpack` verifies and extracts in one pass), zstd decoding with a
//! decompressed-byte bound, and turning raw tar headers into logical entries (GNU long names
//! handled here with a size cap; PAX refused).

use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};
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

impl<R> CountingReader<R> {
    pub(crate) fn into_inner(self) -> R {
        self.inner
    }
}

/// Size of the chunks the read-ahead thread reads (and hashes) at a time.
const CHUNK: usize = 1 << 20;
/// Chunks in flight between the read-ahead thread and the decoder (bounds memory to a few MiB).
const CHUNKS_IN_FLIGHT: usize = 4;

enum Msg {
    Data(Vec<u8>),
    /// End of file: (sha256 hex, bytes read).
    End(String, u64),
    Failed(io::Error),
}

/// The raw (compressed) artifact bytes as a `BufRead`.
pub(crate) enum Source {
    /// Plain buffered reads.
    Plain(BufReader<File>),
    /// Read ahead in a helper thread that sha256-hashes and counts every byte of the file.
    Hashing(ReadAhead),
}

/// Reads a file in a helper thread, hashing every byte before handing it over; the decoder runs
/// in parallel on the consumer side.
pub(crate) struct ReadAhead {
    rx: Receiver<Msg>,
    recycle: SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    end: Option<(String, u64)>,
    handle: Option<JoinHandle<()>>,
}

fn read_chunk(file: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

impl ReadAhead {
    pub(crate) fn spawn(mut file: File) -> io::Result<ReadAhead> {
        let (tx, rx) = sync_channel::<Msg>(CHUNKS_IN_FLIGHT);
        let (recycle, recycled) = sync_channel::<Vec<u8>>(CHUNKS_IN_FLIGHT + 2);
        let handle = std::thread::Builder::new()
            .name("artifact-read".into())
            .spawn(move || {
                let mut hasher = Sha256::new();
                let mut count = 0u64;
                loop {
                    let mut buf = recycled.try_recv().unwrap_or_default();
                    buf.resize(CHUNK, 0);
                    let n = match read_chunk(&mut file, &mut buf) {
                        Ok(n) => n,
                        Err(e) => {
                            let _ = tx.send(Msg::Failed(e));
                            return;
                        }
                    };
                    if n == 0 {
                        let _ = tx.send(Msg::End(hex::encode(hasher.finalize()), count));
                        return;
                    }
                    buf.truncate(n);
                    hasher.update(&buf);
                    count += n as u64;
                    if tx.send(Msg::Data(buf)).is_err() {
                        return; // consumer gone
                    }
                }
            })?;
        Ok(ReadAhead {
            rx,
            recycle,
            cur: Vec::new(),
            pos: 0,
            end: None,
            handle: Some(handle),
        })
    }

    fn fill(&mut self) -> io::Result<&[u8]> {
        while self.pos >= self.cur.len() && self.end.is_none() {
            match self.rx.recv() {
                Ok(Msg::Data(b)) => {
                    let old = std::mem::replace(&mut self.cur, b);
                    self.pos = 0;
                    if old.capacity() > 0 {
                        // Full or disconnected: the buffer is simply dropped.
                        let _ = self.recycle.try_send(old);
                    }
                }
                Ok(Msg::End(sha, n)) => self.end = Some((sha, n)),
                Ok(Msg::Failed(e)) => return Err(e),
                Err(_) => return Err(io::Error::other("the artifact read-ahead thread stopped")),
            }
        }
        Ok(&self.cur[self.pos..])
    }

    /// Reads the rest of the file (everything not consumed yet is still hashed) and returns
    /// (sha256 hex, total bytes).
    pub(crate) fn finish(mut self) -> io::Result<(String, u64)> {
        loop {
            let n = self.fill()?.len();
            if n == 0 {
                break;
            }
            self.pos += n;
        }
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.end
            .take()
            .ok_or_else(|| io::Error::other("the artifact read-ahead thread stopped"))
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        // Unblock the thread (its next send fails) and wait for it.
        let (_, dead) = sync_channel(0);
        drop(std::mem::replace(&mut self.rx, dead));
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Source {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match self {
            Source::Plain(r) => r.fill_buf(),
            Source::Hashing(r) => r.fill(),
        }
    }
    fn consume(&mut self, amt: usize) {
        match self {
            Source::Plain(r) => r.consume(amt),
            Source::Hashing(r) => r.pos = (r.pos + amt).min(r.cur.len()),
        }
    }
}

impl Source {
    /// Plain buffered reads, for when no checksum is needed.
    pub(crate) fn plain(file: File) -> Source {
        Source::Plain(BufReader::with_capacity(256 * 1024, file))
    }
}

type ZDecoder = zstd::stream::read::Decoder<'static, Source>;

enum Plain {
    Data(Vec<u8>),
    End,
    Failed(io::Error),
}

/// The decompressed stream: decoded in this thread, or in a helper thread (so decompression
/// overlaps with writing the extracted files).
pub(crate) enum Inflate {
    Inline(ZDecoder),
    Threaded(Inflater),
}

/// Consumer side of the decompression thread. The thread runs at most a few chunks ahead
/// (bounded channel); the byte bound is enforced on this side, as bytes are consumed.
pub(crate) struct Inflater {
    rx: Option<Receiver<Plain>>,
    recycle: SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    done: bool,
    handle: Option<JoinHandle<Source>>,
}

impl Inflater {
    fn spawn(mut dec: ZDecoder) -> io::Result<Inflater> {
        let (tx, rx) = sync_channel::<Plain>(CHUNKS_IN_FLIGHT);
        let (recycle, recycled) = sync_channel::<Vec<u8>>(CHUNKS_IN_FLIGHT + 2);
        let handle = std::thread::Builder::new()
            .name("artifact-zstd-d".into())
            .spawn(move || -> Source {
                loop {
                    let mut buf = recycled.try_recv().unwrap_or_default();
                    buf.resize(CHUNK, 0);
                    let msg = match read_chunk(&mut dec, &mut buf) {
                        Ok(0) => Plain::End,
                        Ok(n) => {
                            buf.truncate(n);
                            Plain::Data(buf)
                        }
                        Err(e) => Plain::Failed(e),
                    };
                    let last = !matches!(msg, Plain::Data(_));
                    if tx.send(msg).is_err() || last {
                        return dec.finish();
                    }
                }
            })?;
        Ok(Inflater {
            rx: Some(rx),
            recycle,
            cur: Vec::new(),
            pos: 0,
            done: false,
            handle: Some(handle),
        })
    }

    /// Stops the thread and returns the raw source (to hash what is left of it).
    fn finish(mut self) -> Option<Source> {
        self.rx = None;
        self.handle.take().and_then(|h| h.join().ok())
    }
}

impl Drop for Inflater {
    fn drop(&mut self) {
        self.rx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Read for Inflater {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.cur.len() {
            if self.done {
                return Ok(0);
            }
            let msg = match &self.rx {
                Some(rx) => rx.recv(),
                None => return Ok(0),
            };
            match msg {
                Ok(Plain::Data(b)) => {
                    let old = std::mem::replace(&mut self.cur, b);
                    self.pos = 0;
                    if old.capacity() > 0 {
                        let _ = self.recycle.try_send(old);
                    }
                }
                Ok(Plain::End) => self.done = true,
                Ok(Plain::Failed(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Err(io::Error::other("the decompression thread stopped"));
                }
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Read for Inflate {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Inflate::Inline(d) => d.read(buf),
            Inflate::Threaded(t) => t.read(buf),
        }
    }
}

impl Inflate {
    /// The raw source back (the decompression thread stopped first).
    pub(crate) fn finish(self) -> Option<Source> {
        match self {
            Inflate::Inline(d) => Some(d.finish()),
            Inflate::Threaded(t) => t.finish(),
        }
    }
}

pub(crate) type Decoded = CountingReader<Inflate>;

/// Opens a zstd-compressed tar whose decompressed size may not exceed `limit` bytes;
/// `threaded`: decompress in a helper thread.
pub(crate) fn open_archive(
    source: Source,
    limit: u64,
    threaded: bool,
) -> Result<(Archive<Decoded>, Rc<Budget>)> {
    let decoder = zstd::stream::read::Decoder::with_buffer(source)
        .map_err(|e| ArtifactError::Corrupt(format!("cannot initialise the zstd decoder: {e}")))?;
    let decoder = if threaded {
        Inflate::Threaded(
            Inflater::spawn(decoder)
                .map_err(|e| ArtifactError::io("cannot start the decompression thread", &e))?,
        )
    } else {
        Inflate::Inline(decoder)
    };
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

/// Maps an error raised while reading the archive: over budget -> TOO_LARGE, else CORRUPT.
pub(crate) fn read_error(budget: &Budget, what: &str, err: &io::Error) -> ArtifactError {
    if budget.exceeded() {
        budget.too_large()
    } else {
        ArtifactError::Corrupt(format!(
            "{what}: {err}; the artifact is damaged or not a pressluft backup"
        ))
    }
}

/// Decodes the rest of the stream (after the tar end-of-archive marker) to its end, which makes
/// the decoder check the zstd content checksum; still counted against the byte bound.
pub(crate) fn drain(reader: &mut Decoded, budget: &Budget) -> Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(read_error(
                    budget,
                    "cannot read the end of the artifact",
                    &e,
                ))
            }
        }
    }
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
        read_error(&self.budget, what, err)
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
