//! Shared test helpers: a sample environment tree and a hostile-archive builder.
#![allow(dead_code)]

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use tar::{EntryType, Header};

/// Builds `<root>/env` with a release, `current` symlink, shared uploads, caches, a setuid file.
pub fn build_env(root: &Path) -> PathBuf {
    let env = root.join("env");
    let rel = env.join("releases").join("r1");
    let w = |p: &Path, content: &[u8]| {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    };
    w(
        &rel.join("index.php"),
        b"<?php require 'wp-blog-header.php';\n",
    );
    w(
        &rel.join("wp-includes/version.php"),
        b"<?php\n$wp_version = '6.1.9';\n$wp_db_version = 53496;\n",
    );
    w(
        &rel.join("wp-content/plugins/hello/hello.php"),
        b"<?php // hello\n",
    );
    w(
        &rel.join("wp-content/themes/t/deep/er/still/file.css"),
        b"body{}\n",
    );
    w(&rel.join("wp-content/cache/page.html"), b"cached");
    w(&rel.join("wp-content/et-cache/x.css"), b"cached");
    w(
        &rel.join("wp-content/plugins/hello/cache/keep.txt"),
        b"not a wp-content cache",
    );
    w(&rel.join("bin/setuid.sh"), b"#!/bin/sh\necho hi\n");
    fs::set_permissions(
        rel.join("bin/setuid.sh"),
        fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    w(
        &rel.join("wp-config.php"),
        b"<?php define('DB_NAME','x');\n",
    );
    fs::set_permissions(rel.join("wp-config.php"), fs::Permissions::from_mode(0o640)).unwrap();
    fs::create_dir_all(rel.join("wp-content/empty-dir")).unwrap();
    symlink("../../../shared/uploads", rel.join("wp-content/uploads")).unwrap();
    symlink("index.php", rel.join("alias.php")).unwrap();
    // names and link targets longer than the 100 bytes of a tar header
    let long = "l".repeat(150);
    w(&rel.join("wp-content/themes/t").join(&long), b"long name");
    symlink("t".repeat(120), rel.join("wp-content/themes/long-target")).unwrap();
    w(
        &env.join("shared/uploads/2024/01/photo.jpg"),
        &[0xFFu8, 0xD8, 0xFF, 0xE0, 1, 2, 3],
    );
    w(&env.join("shared/uploads/cache/thumb.jpg"), b"cached");
    w(&env.join("shared/uploads/big.bin"), &vec![7u8; 300_000]);
    symlink("releases/r1", env.join("current")).unwrap();
    env
}

/// Writes a database dump.
pub fn write_dump(root: &Path) -> PathBuf {
    let p = root.join("dump.sql");
    fs::write(
        &p,
        b"-- dump\nCREATE TABLE wp_posts (id int);\nINSERT INTO wp_posts VALUES (1);\n",
    )
    .unwrap();
    p
}

/// Lists an artifact with the stock tools: `zstd -dc FILE | tar -tf -`.
pub fn stock_listing(artifact: &Path) -> Vec<String> {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("zstd -dc \"$1\" | tar -tf -")
        .arg("sh")
        .arg(artifact)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stock tools failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim_end_matches('/').to_string())
        .collect()
}

/// One entry of a hand-built (possibly hostile) archive.
pub struct Raw {
    pub name: Vec<u8>,
    pub kind: EntryType,
    pub link: Option<Vec<u8>>,
    pub mode: u32,
    pub size: u64,
    pub data: Box<dyn Read>,
}

impl Raw {
    pub fn file(name: &str, data: &[u8]) -> Raw {
        Raw {
            name: name.as_bytes().to_vec(),
            kind: EntryType::Regular,
            link: None,
            mode: 0o644,
            size: data.len() as u64,
            data: Box::new(io::Cursor::new(data.to_vec())),
        }
    }
    pub fn dir(name: &str) -> Raw {
        Raw {
            kind: EntryType::Directory,
            mode: 0o755,
            ..Raw::file(name, b"")
        }
    }
    pub fn symlink(name: &str, target: &str) -> Raw {
        Raw {
            kind: EntryType::Symlink,
            link: Some(target.as_bytes().to_vec()),
            mode: 0o777,
            ..Raw::file(name, b"")
        }
    }
    pub fn hardlink(name: &str, target: &str) -> Raw {
        Raw {
            kind: EntryType::Link,
            ..Raw::symlink(name, target)
        }
    }
    pub fn special(name: &str, kind: EntryType) -> Raw {
        Raw {
            kind,
            ..Raw::file(name, b"")
        }
    }
    pub fn zeros(name: &str, size: u64) -> Raw {
        Raw {
            size,
            data: Box::new(io::repeat(0).take(size)),
            ..Raw::file(name, b"")
        }
    }
}

/// A manifest for hand-built archives.
pub fn manifest(
    site: &str,
    scope: &str,
    entry_count: u64,
    files_bytes: u64,
    db: Option<&[u8]>,
) -> Vec<u8> {
    let (sha, size) = match db {
        Some(d) => {
            let (h, n) = pressluft_artifact::verify::hash_reader(d).unwrap();
            (serde_json::Value::String(h), serde_json::Value::from(n))
        }
        None => (serde_json::Value::Null, serde_json::Value::Null),
    };
    serde_json::to_vec(&serde_json::json!({
        "format_version": 1, "site_id": site, "environment_id": "env-1", "backup_id": "bk-1",
        "scope": scope, "created_at": "2026-02-18T12:34:56Z", "entry_count": entry_count,
        "db_dump_sha256": sha, "db_dump_size": size, "wordpress_version": null,
        "files_bytes": files_bytes
    }))
    .unwrap()
}

/// Writes raw headers (names copied byte for byte, no validation) into a zstd-compressed tar.
pub fn write_archive(path: &Path, entries: Vec<Raw>) {
    let f = fs::File::create(path).unwrap();
    let enc = zstd::stream::write::Encoder::new(f, 1).unwrap();
    let mut b = tar::Builder::new(enc);
    for mut e in entries {
        let mut h = Header::new_gnu();
        {
            let g = h.as_gnu_mut().unwrap();
            assert!(e.name.len() <= 100, "test names must fit the header");
            g.name[..e.name.len()].copy_from_slice(&e.name);
            if let Some(l) = &e.link {
                g.linkname[..l.len()].copy_from_slice(l);
            }
        }
        h.set_entry_type(e.kind);
        h.set_mode(e.mode);
        h.set_size(e.size);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        b.append(&h, &mut e.data).unwrap();
    }
    let enc = b.into_inner().unwrap();
    let mut f = enc.finish().unwrap();
    f.flush().unwrap();
}
