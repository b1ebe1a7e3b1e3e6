//! Hand-built artifacts: raw tar headers (names copied byte for byte, so `..` and absolute
//! paths get through) compressed with zstd, and a copy of a real artifact with one entry
//! replaced.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::Path;
use tar::{EntryType, Header};

/// One entry of a hand-built archive.
pub struct Raw {
    pub name: String,
    pub kind: EntryType,
    pub link: Option<String>,
    pub data: Vec<u8>,
}

impl Raw {
    pub fn file(name: &str, data: &[u8]) -> Raw {
        Raw {
            name: name.into(),
            kind: EntryType::Regular,
            link: None,
            data: data.to_vec(),
        }
    }
    pub fn dir(name: &str) -> Raw {
        Raw {
            kind: EntryType::Directory,
            ..Raw::file(name, b"")
        }
    }
    pub fn symlink(name: &str, target: &str) -> Raw {
        Raw {
            kind: EntryType::Symlink,
            link: Some(target.into()),
            ..Raw::file(name, b"")
        }
    }
    pub fn hardlink(name: &str, target: &str) -> Raw {
        Raw {
            kind: EntryType::Link,
            ..Raw::symlink(name, target)
        }
    }
    pub fn char_device(name: &str) -> Raw {
        Raw {
            kind: EntryType::Char,
            ..Raw::file(name, b"")
        }
    }
}

/// The manifest `pack` writes (docs/backup-format.md), for `entries` after it.
pub fn manifest(
    site_id: &str,
    env_id: &str,
    scope: &str,
    entries: &[Raw],
    dump: Option<&[u8]>,
) -> Raw {
    let files_bytes: usize = entries
        .iter()
        .filter(|e| e.kind == EntryType::Regular && e.name.starts_with("files/"))
        .map(|e| e.data.len())
        .sum();
    let (sha, size) = match dump {
        Some(d) => (json!(hex(&Sha256::digest(d))), json!(d.len())),
        None => (Value::Null, Value::Null),
    };
    let m = json!({
        "format_version": 1, "site_id": site_id, "environment_id": env_id,
        "backup_id": pressluft_backend::util::new_id(), "scope": scope,
        "created_at": "2026-02-18T12:34:56Z", "entry_count": entries.len(),
        "db_dump_sha256": sha, "db_dump_size": size, "wordpress_version": null,
        "files_bytes": files_bytes,
    });
    Raw::file("manifest.json", m.to_string().as_bytes())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `entries` as raw GNU headers into a zstd-compressed tar at `path`.
pub fn write_archive(path: &Path, entries: &[Raw]) {
    let enc = zstd::stream::write::Encoder::new(std::fs::File::create(path).unwrap(), 3).unwrap();
    let mut b = tar::Builder::new(enc);
    for e in entries {
        let mut h = Header::new_gnu();
        {
            let g = h.as_gnu_mut().unwrap();
            assert!(e.name.len() <= 100, "names must fit the header: {}", e.name);
            g.name[..e.name.len()].copy_from_slice(e.name.as_bytes());
            if let Some(l) = &e.link {
                g.linkname[..l.len()].copy_from_slice(l.as_bytes());
            }
        }
        h.set_entry_type(e.kind);
        h.set_mode(if e.kind == EntryType::Directory {
            0o755
        } else {
            0o644
        });
        if e.kind == EntryType::Char {
            h.set_device_major(1).unwrap();
            h.set_device_minor(3).unwrap();
        }
        h.set_size(e.data.len() as u64);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        b.append(&h, e.data.as_slice()).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap().flush().unwrap();
}

/// Copies the real artifact `src` to `dst` with `database.sql` replaced by `dump`, and the
/// manifest's `db_dump_sha256` / `db_dump_size` recomputed so that only the dump's content is
/// wrong. Every other entry is copied with its header.
pub fn with_dump(src: &Path, dst: &Path, dump: &[u8]) {
    let dec = zstd::stream::read::Decoder::new(std::fs::File::open(src).unwrap()).unwrap();
    let mut archive = tar::Archive::new(dec);
    let enc = zstd::stream::write::Encoder::new(std::fs::File::create(dst).unwrap(), 3).unwrap();
    let mut out = tar::Builder::new(enc);
    let mut replaced = false;
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().into_owned();
        let mut header = entry.header().clone();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        match path.to_str().unwrap() {
            "manifest.json" => {
                let mut m: Value = serde_json::from_slice(&data).unwrap();
                m["db_dump_sha256"] = json!(hex(&Sha256::digest(dump)));
                m["db_dump_size"] = json!(dump.len());
                data = m.to_string().into_bytes();
            }
            "database.sql" => {
                data = dump.to_vec();
                replaced = true;
            }
            _ => {}
        }
        header.set_size(data.len() as u64);
        match header.entry_type() {
            EntryType::Symlink => {
                let target = entry.link_name().unwrap().unwrap().into_owned();
                out.append_link(&mut header, &path, &target).unwrap();
            }
            _ => out
                .append_data(&mut header, &path, data.as_slice())
                .unwrap(),
        }
    }
    assert!(replaced, "{} has no database.sql", src.display());
    out.into_inner().unwrap().finish().unwrap().flush().unwrap();
}

/// The `database.sql` of a real artifact.
pub fn dump_of(src: &Path) -> Vec<u8> {
    let dec = zstd::stream::read::Decoder::new(std::fs::File::open(src).unwrap()).unwrap();
    let mut archive = tar::Archive::new(dec);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_str() == Some("database.sql") {
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            return data;
        }
    }
    panic!("{} has no database.sql", src.display());
}
