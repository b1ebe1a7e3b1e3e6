//! Packing and unpacking real trees; verify; failure cleanup.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{build_env, stock_listing, write_dump};
use pressluft_artifact::{
    hash_file, pack, read_manifest, unpack, verify, PackOptions, Scope, UnpackOptions,
};

fn opts(scope: Scope, root: &Path, out: &Path) -> PackOptions {
    let mut o = PackOptions::new(scope, "site-1", "env-1", "bk-1", out);
    if scope.has_files() {
        o.env_root = Some(root.join("env"));
    }
    if scope.has_db() {
        o.db_dump = Some(root.join("dump.sql"));
    }
    o.created_at = Some("2026-02-18T12:34:56Z".into());
    o
}

fn setup() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    build_env(t.path());
    write_dump(t.path());
    t
}

fn dir_names(p: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(p)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn full_round_trip() {
    let t = setup();
    let out = t.path().join("store/site-1/bk-1.tar.zst");
    let res = pack(&opts(Scope::Full, t.path(), &out)).unwrap();

    // checksum and size describe the stored bytes
    let (sha, size) = hash_file(&out).unwrap();
    assert_eq!((sha.as_str(), size), (res.sha256.as_str(), res.size_bytes));
    assert_eq!(fs::metadata(&out).unwrap().len(), res.size_bytes);
    assert_eq!(
        fs::metadata(out.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    assert_eq!(dir_names(out.parent().unwrap()), vec!["bk-1.tar.zst"]);

    // manifest
    let m = read_manifest(&out).unwrap();
    assert_eq!(m, res.manifest);
    assert_eq!(m.site_id, "site-1");
    assert_eq!(m.scope, Scope::Full);
    assert_eq!(m.wordpress_version.as_deref(), Some("6.1.9"));
    assert_eq!(m.created_at, "2026-02-18T12:34:56Z");
    let dump = fs::read(t.path().join("dump.sql")).unwrap();
    assert_eq!(m.db_dump_size, Some(dump.len() as u64));
    assert_eq!(
        m.db_dump_sha256,
        Some(hash_file(t.path().join("dump.sql")).unwrap().0)
    );

    // stock tools read it; order and content of the listing
    let list = stock_listing(&out);
    assert_eq!(list[0], "manifest.json");
    assert_eq!(list[1], "database.sql");
    assert_eq!(m.entry_count as usize, list.len() - 1);
    for must in [
        "files/current",
        "files/current/index.php",
        "files/current/wp-content/uploads",
        "files/current/wp-content/plugins/hello/cache/keep.txt",
        "files/current/wp-content/empty-dir",
        "files/current/wp-content/themes/t/deep/er/still/file.css",
        "files/shared/uploads/2024/01/photo.jpg",
        "files/shared/uploads/big.bin",
    ] {
        assert!(list.iter().any(|l| l == must), "missing {must} in {list:?}");
    }
    for l in &list {
        assert!(!l.contains("wp-content/cache"), "cache dir archived: {l}");
        assert!(!l.contains("et-cache"), "cache dir archived: {l}");
        assert!(
            !l.starts_with("files/shared/uploads/cache"),
            "uploads cache archived: {l}"
        );
    }
    // deterministic order: siblings sorted by name (index.php before wp-config.php)
    let pos = |n: &str| list.iter().position(|l| l == n).unwrap();
    assert!(pos("files/current/alias.php") < pos("files/current/index.php"));
    assert!(pos("files/current/index.php") < pos("files/current/wp-config.php"));
    assert!(pos("files/current/wp-config.php") < pos("files/shared"));
    let files_bytes: u64 = 300_000 + 7;
    assert!(m.files_bytes > files_bytes);

    // unpack and compare
    let dest = t.path().join("staging");
    let u = unpack(&UnpackOptions {
        expected: Some((res.sha256.clone(), res.size_bytes)),
        ..UnpackOptions::new(&out, &dest, "site-1")
    })
    .unwrap();
    assert!(u.has_db && u.has_files);
    assert_eq!(u.entries, m.entry_count);
    assert_eq!(u.bytes, m.files_bytes + dump.len() as u64);
    assert_eq!(
        fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(fs::read(dest.join("database.sql")).unwrap(), dump);
    let rel = t.path().join("env/releases/r1");
    let cur = dest.join("files/current");
    for f in [
        "index.php",
        "wp-includes/version.php",
        "wp-content/plugins/hello/hello.php",
        "wp-config.php",
    ] {
        assert_eq!(
            fs::read(cur.join(f)).unwrap(),
            fs::read(rel.join(f)).unwrap(),
            "{f}"
        );
    }
    assert_eq!(
        fs::read(dest.join("files/shared/uploads/big.bin")).unwrap(),
        fs::read(t.path().join("env/shared/uploads/big.bin")).unwrap()
    );
    let mode = |p: &Path| fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(
        mode(&cur.join("bin/setuid.sh")),
        0o755,
        "setuid bit must be masked"
    );
    assert_eq!(mode(&cur.join("wp-config.php")), 0o640);
    assert_eq!(mode(&cur.join("wp-content")), 0o755);
    assert_eq!(
        fs::read_link(cur.join("wp-content/uploads")).unwrap(),
        Path::new("../../../shared/uploads")
    );
    assert_eq!(
        fs::read_link(cur.join("alias.php")).unwrap(),
        Path::new("index.php")
    );
    assert!(cur.join("wp-content/empty-dir").is_dir());
    let long = "l".repeat(150);
    assert_eq!(
        fs::read(cur.join("wp-content/themes/t").join(&long)).unwrap(),
        b"long name"
    );
    assert_eq!(
        fs::read_link(cur.join("wp-content/themes/long-target")).unwrap(),
        Path::new(&"t".repeat(120))
    );
    assert!(list.iter().any(|l| l.ends_with(&long)));
    assert!(!cur.join("wp-content/cache").exists());
    assert!(!dest.join("files/shared/uploads/cache").exists());

    // the archive's own setuid bit is masked too (stock listing shows what is stored)
    let out2 = std::process::Command::new("sh")
        .arg("-c")
        .arg("zstd -dc \"$1\" | tar -tvf - files/current/bin/setuid.sh")
        .arg("sh")
        .arg(&out)
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&out2.stdout).into_owned();
    assert!(line.starts_with("-rwxr-xr-x 0/0"), "{line}");
}

#[test]
fn gnu_tar_zstd_extracts() {
    let t = setup();
    let out = t.path().join("a.tar.zst");
    pack(&opts(Scope::Full, t.path(), &out)).unwrap();
    let x = t.path().join("x");
    fs::create_dir(&x).unwrap();
    let st = std::process::Command::new("tar")
        .arg("--zstd")
        .arg("-xf")
        .arg(&out)
        .arg("-C")
        .arg(&x)
        .status()
        .unwrap();
    assert!(st.success());
    assert!(x.join("manifest.json").is_file());
    assert!(x.join("files/current/index.php").is_file());
}

#[test]
fn scope_db_holds_only_the_dump() {
    let t = setup();
    let out = t.path().join("db.tar.zst");
    let res = pack(&opts(Scope::Db, t.path(), &out)).unwrap();
    assert_eq!(stock_listing(&out), vec!["manifest.json", "database.sql"]);
    assert_eq!(res.manifest.entry_count, 1);
    assert_eq!(res.manifest.files_bytes, 0);
    assert_eq!(res.manifest.wordpress_version, None);
    let dest = t.path().join("d");
    let u = unpack(&UnpackOptions::new(&out, &dest, "site-1")).unwrap();
    assert!(u.has_db && !u.has_files);
    assert_eq!(dir_names(&dest), vec!["database.sql"]);
}

#[test]
fn scope_files_holds_only_files() {
    let t = setup();
    let out = t.path().join("files.tar.zst");
    let res = pack(&opts(Scope::Files, t.path(), &out)).unwrap();
    let list = stock_listing(&out);
    assert_eq!(list[0], "manifest.json");
    assert!(!list.iter().any(|l| l == "database.sql"));
    assert!(list[1..]
        .iter()
        .all(|l| l.starts_with("files/current") || l.starts_with("files/shared")));
    assert_eq!(res.manifest.db_dump_sha256, None);
    assert_eq!(res.manifest.db_dump_size, None);
    let dest = t.path().join("d");
    let u = unpack(&UnpackOptions::new(&out, &dest, "site-1")).unwrap();
    assert!(!u.has_db && u.has_files);
    assert_eq!(dir_names(&dest), vec!["files"]);
}

#[test]
fn excludes_are_honoured() {
    let t = setup();
    let out = t.path().join("x.tar.zst");
    let mut o = opts(Scope::Files, t.path(), &out);
    o.excludes = vec![
        "current/wp-content/themes".into(),
        "files/shared/uploads/big.bin".into(),
    ];
    let res = pack(&o).unwrap();
    let list = stock_listing(&out);
    assert!(!list.iter().any(|l| l.contains("themes")));
    assert!(!list.iter().any(|l| l.contains("big.bin")));
    assert!(list
        .iter()
        .any(|l| l == "files/shared/uploads/2024/01/photo.jpg"));
    assert!(res.manifest.files_bytes < 300_000);
}

#[test]
fn failed_pack_missing_dump_leaves_nothing() {
    let t = setup();
    let store = t.path().join("store");
    fs::create_dir(&store).unwrap();
    let out = store.join("b.tar.zst");
    let mut o = opts(Scope::Full, t.path(), &out);
    o.db_dump = Some(t.path().join("no-such-dump.sql"));
    let err = pack(&o).unwrap_err();
    assert_eq!(err.code(), "ARTIFACT_IO");
    assert!(dir_names(&store).is_empty(), "left {:?}", dir_names(&store));
}

#[test]
fn failed_pack_unwritable_out_dir_leaves_nothing() {
    let t = setup();
    // parent "directory" is a regular file: even root cannot create the output there
    let blocker = t.path().join("blocker");
    fs::write(&blocker, b"x").unwrap();
    let out = blocker.join("sub/b.tar.zst");
    let err = pack(&opts(Scope::Full, t.path(), &out)).unwrap_err();
    assert_eq!(err.code(), "ARTIFACT_IO");
    assert_eq!(fs::read(&blocker).unwrap(), b"x");
    assert_eq!(dir_names(t.path()), vec!["blocker", "dump.sql", "env"]);
}

#[test]
fn failed_pack_mid_stream_removes_temp_file() {
    let t = setup();
    let store = t.path().join("store");
    let out = store.join("b.tar.zst");
    let mut o = opts(Scope::Full, t.path(), &out);
    // /proc files stat as 0 bytes but read as more: the dump "changes size" after hashing,
    // which fails the pack while streaming, after the temp file was created.
    o.db_dump = Some("/proc/self/status".into());
    let err = pack(&o).unwrap_err();
    assert_eq!(err.code(), "ARTIFACT_IO", "{err}");
    assert!(err.message().contains("changed"), "{err}");
    assert!(dir_names(&store).is_empty(), "left {:?}", dir_names(&store));
}

#[test]
fn pack_refuses_to_overwrite() {
    let t = setup();
    let out = t.path().join("b.tar.zst");
    fs::write(&out, b"precious").unwrap();
    let err = pack(&opts(Scope::Db, t.path(), &out)).unwrap_err();
    assert_eq!(err.code(), "ARTIFACT_IO");
    assert!(err.message().contains("overwrite"));
    assert_eq!(fs::read(&out).unwrap(), b"precious");
    let names = dir_names(t.path());
    assert!(!names.iter().any(|n| n.contains("partial")), "{names:?}");
}

#[test]
fn pack_refuses_absolute_symlink_in_tree() {
    let t = setup();
    std::os::unix::fs::symlink("/etc/passwd", t.path().join("env/releases/r1/passwd")).unwrap();
    let out = t.path().join("b.tar.zst");
    let err = pack(&opts(Scope::Files, t.path(), &out)).unwrap_err();
    assert_eq!(err.code(), "ARTIFACT_UNSAFE_ENTRY");
    assert!(!out.exists());
    // ... unless it is excluded
    let mut o = opts(Scope::Files, t.path(), &out);
    o.excludes = vec!["current/passwd".into()];
    pack(&o).unwrap();
}

#[test]
fn verify_detects_flipped_byte_and_truncation() {
    let t = setup();
    let out = t.path().join("b.tar.zst");
    let res = pack(&opts(Scope::Full, t.path(), &out)).unwrap();
    let ok = verify(&out, &res.sha256, res.size_bytes).unwrap();
    assert_eq!(ok.sha256, res.sha256);
    assert_eq!(
        verify(&out, &res.sha256.to_uppercase(), res.size_bytes)
            .unwrap()
            .size_bytes,
        res.size_bytes
    );

    let mut bytes = fs::read(&out).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    let flipped = t.path().join("flipped.tar.zst");
    fs::write(&flipped, &bytes).unwrap();
    let err = verify(&flipped, &res.sha256, res.size_bytes).unwrap_err();
    assert_eq!(err.code(), "ARTIFACT_CHECKSUM_MISMATCH");
    assert!(err.message().contains(&res.sha256));

    let truncated = t.path().join("trunc.tar.zst");
    fs::write(&truncated, &fs::read(&out).unwrap()[..mid]).unwrap();
    let err = verify(&truncated, &res.sha256, res.size_bytes).unwrap_err();
    assert_eq!(err.code(), "ARTIFACT_SIZE_MISMATCH");
    assert!(err.message().contains(&res.size_bytes.to_string()));

    // unpack with expectations verifies while extracting into staging and keeps nothing of a
    // damaged copy
    let dest = t.path().join("d");
    let err = unpack(&UnpackOptions {
        expected: Some((res.sha256.clone(), res.size_bytes)),
        ..UnpackOptions::new(&flipped, &dest, "site-1")
    })
    .unwrap_err();
    assert_eq!(err.code(), "ARTIFACT_CHECKSUM_MISMATCH", "{err}");
    assert!(!dest.exists());
    // the size is checked before anything is written
    let err = unpack(&UnpackOptions {
        expected: Some((res.sha256.clone(), res.size_bytes)),
        ..UnpackOptions::new(&truncated, &dest, "site-1")
    })
    .unwrap_err();
    assert_eq!(err.code(), "ARTIFACT_SIZE_MISMATCH", "{err}");
    assert!(!dest.exists());
}

/// Single-pass unpack: a damage anywhere, including the last byte (the zstd checksum, read after
/// the tar end), is a checksum mismatch; nothing stays in DEST, an existing DEST is emptied.
#[test]
fn single_pass_unpack_rejects_damage_anywhere_and_cleans_dest() {
    let t = setup();
    let out = t.path().join("b.tar.zst");
    let res = pack(&opts(Scope::Full, t.path(), &out)).unwrap();
    let good = fs::read(&out).unwrap();
    let expected = Some((res.sha256.clone(), res.size_bytes));
    for (i, pos) in [0, 40, good.len() / 3, good.len() - 5, good.len() - 1]
        .into_iter()
        .enumerate()
    {
        let mut bytes = good.clone();
        bytes[pos] ^= 0x20;
        let bad = t.path().join(format!("bad{i}.tar.zst"));
        fs::write(&bad, &bytes).unwrap();
        // DEST created by unpack: removed
        let dest = t.path().join(format!("new{i}"));
        let err = unpack(&UnpackOptions {
            expected: expected.clone(),
            ..UnpackOptions::new(&bad, &dest, "site-1")
        })
        .unwrap_err();
        assert_eq!(err.code(), "ARTIFACT_CHECKSUM_MISMATCH", "pos {pos}: {err}");
        assert!(!dest.exists(), "pos {pos}");
        // existing empty DEST: emptied, kept
        let dest = t.path().join(format!("empty{i}"));
        fs::create_dir(&dest).unwrap();
        let err = unpack(&UnpackOptions {
            expected: expected.clone(),
            ..UnpackOptions::new(&bad, &dest, "site-1")
        })
        .unwrap_err();
        assert_eq!(err.code(), "ARTIFACT_CHECKSUM_MISMATCH", "pos {pos}: {err}");
        assert!(dir_names(&dest).is_empty(), "pos {pos}");
    }
    // bytes appended after the zstd stream are covered by the hash
    let mut longer = good.clone();
    longer.extend_from_slice(b"\0\0\0\0");
    let bad = t.path().join("longer.tar.zst");
    fs::write(&bad, &longer).unwrap();
    let err = unpack(&UnpackOptions {
        expected: Some((res.sha256.clone(), longer.len() as u64)),
        ..UnpackOptions::new(&bad, t.path().join("l"), "site-1")
    })
    .unwrap_err();
    assert_eq!(err.code(), "ARTIFACT_CHECKSUM_MISMATCH", "{err}");
    assert!(!t.path().join("l").exists());
    // a damaged artifact of the right size is reported as damaged, not as another site's
    let mut bytes = good.clone();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&bad, &bytes).unwrap();
    let err = unpack(&UnpackOptions {
        expected: expected.clone(),
        ..UnpackOptions::new(&bad, t.path().join("w"), "other-site")
    })
    .unwrap_err();
    assert_eq!(err.code(), "ARTIFACT_CHECKSUM_MISMATCH", "{err}");
    // and the intact one still unpacks with the same expectations
    let dest = t.path().join("ok");
    let r = unpack(&UnpackOptions {
        expected,
        ..UnpackOptions::new(&out, &dest, "site-1")
    })
    .unwrap();
    assert!(r.has_db && r.has_files);
}

/// `--threads N` cuts the stream into independent zstd frames; every thread count gives the
/// same tar stream, readable by our unpack and by `zstd -d`.
#[test]
fn threads_give_multi_frame_artifacts_with_the_same_content() {
    let t = setup();
    // > 2 segments of 8 MiB: half compressible text, half incompressible bytes
    let big = t.path().join("env/shared/uploads/huge.bin");
    let mut data = Vec::with_capacity(20 << 20);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while data.len() < (10 << 20) {
        data.extend_from_slice(
            format!("row {} of a big compressible csv\n", data.len()).as_bytes(),
        );
    }
    while data.len() < (20 << 20) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    fs::write(&big, &data).unwrap();
    let mut tars = Vec::new();
    for threads in [0u32, 1, 3] {
        let out = t.path().join(format!("t{threads}.tar.zst"));
        let mut o = opts(Scope::Full, t.path(), &out);
        o.threads = threads;
        let res = pack(&o).unwrap();
        let raw = fs::read(&out).unwrap();
        // a frame starts with the zstd magic number
        let frames = raw
            .windows(4)
            .filter(|w| w == &[0x28, 0xB5, 0x2F, 0xFD])
            .count();
        if threads > 0 {
            assert!(frames >= 3, "threads {threads}: {frames} frames");
        }
        tars.push(zstd::stream::decode_all(&raw[..]).unwrap());
        let dest = t.path().join(format!("d{threads}"));
        unpack(&UnpackOptions {
            expected: Some((res.sha256.clone(), res.size_bytes)),
            ..UnpackOptions::new(&out, &dest, "site-1")
        })
        .unwrap();
        assert!(fs::read(dest.join("files/shared/uploads/huge.bin")).unwrap() == data);
    }
    // (the manifest's tar header carries the packing time: compare from the next block on)
    assert!(tars[0][512..] == tars[1][512..] && tars[1][512..] == tars[2][512..]);
}

#[test]
fn truncated_artifact_is_corrupt_and_cleaned_up() {
    let t = setup();
    let out = t.path().join("b.tar.zst");
    pack(&opts(Scope::Full, t.path(), &out)).unwrap();
    let bytes = fs::read(&out).unwrap();
    let truncated = t.path().join("trunc.tar.zst");
    fs::write(&truncated, &bytes[..bytes.len() * 3 / 4]).unwrap();
    let dest = t.path().join("d");
    let err = unpack(&UnpackOptions::new(&truncated, &dest, "site-1")).unwrap_err();
    assert_eq!(err.code(), "ARTIFACT_CORRUPT", "{err}");
    assert!(!dest.exists());
}

#[test]
fn unpack_refuses_non_empty_dest() {
    let t = setup();
    let out = t.path().join("b.tar.zst");
    pack(&opts(Scope::Db, t.path(), &out)).unwrap();
    let dest = t.path().join("d");
    fs::create_dir(&dest).unwrap();
    fs::write(dest.join("keep"), b"k").unwrap();
    assert_eq!(
        unpack(&UnpackOptions::new(&out, &dest, "site-1"))
            .unwrap_err()
            .code(),
        "ARTIFACT_IO"
    );
    assert_eq!(fs::read(dest.join("keep")).unwrap(), b"k");
    // an empty existing directory is fine
    let empty = t.path().join("e");
    fs::create_dir(&empty).unwrap();
    unpack(&UnpackOptions::new(&out, &empty, "site-1")).unwrap();
}
