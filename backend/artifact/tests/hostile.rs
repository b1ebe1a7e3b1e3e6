//! Hand-built hostile archives: unpack must refuse them and write nothing outside DEST.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{manifest, write_archive, Raw};
use pressluft_artifact::{unpack, ArtifactError, UnpackOptions};
use tar::EntryType;

const SENTINEL: &[u8] = b"sentinel: must stay untouched";

struct Case {
    _t: tempfile::TempDir,
    root: PathBuf,
    artifact: PathBuf,
    dest: PathBuf,
}

impl Case {
    fn new(entries: impl FnOnce(&Path) -> Vec<Raw>) -> Case {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().to_path_buf();
        fs::write(root.join("sentinel"), SENTINEL).unwrap();
        let artifact = root.join("a.tar.zst");
        write_archive(&artifact, entries(&root));
        Case {
            dest: root.join("work/dest"),
            root,
            artifact,
            _t: t,
        }
    }

    fn unpack(&self) -> Result<pressluft_artifact::UnpackOutcome, ArtifactError> {
        fs::create_dir_all(self.root.join("work")).unwrap();
        unpack(&UnpackOptions::new(&self.artifact, &self.dest, "site-1"))
    }

    /// Asserts the error code and that nothing exists outside DEST besides what we created.
    fn refused(&self, code: &str) -> ArtifactError {
        let err = self.unpack().expect_err("unpack must fail");
        assert_eq!(err.code(), code, "{err}");
        assert_eq!(fs::read(self.root.join("sentinel")).unwrap(), SENTINEL);
        let mut names: Vec<String> = fs::read_dir(&self.root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec!["a.tar.zst", "sentinel", "work"],
            "something was written outside DEST"
        );
        let work: Vec<_> = fs::read_dir(self.root.join("work")).unwrap().collect();
        assert!(work.is_empty(), "partial DEST left behind");
        assert!(!Path::new("/tmp/pressluft-artifact-test-pwned").exists());
        err
    }
}

fn m(entry_count: u64, files_bytes: u64) -> Raw {
    Raw::file(
        "manifest.json",
        &manifest("site-1", "files", entry_count, files_bytes, None),
    )
}

#[test]
fn control_case_is_accepted() {
    let c = Case::new(|_| {
        vec![
            m(4, 2),
            Raw::dir("files/current"),
            Raw::file("files/current/a", b"ok"),
            Raw::symlink(
                "files/current/wp-content/uploads",
                "../../../shared/uploads",
            ),
            Raw::dir("files/shared"),
        ]
    });
    let out = c.unpack().unwrap();
    assert_eq!(out.entries, 4);
    assert_eq!(fs::read(c.dest.join("files/current/a")).unwrap(), b"ok");
}

#[test]
fn refuses_dotdot_entry() {
    let c = Case::new(|_| {
        vec![
            m(2, 4),
            Raw::dir("files/current"),
            Raw::file("files/current/../../../../sentinel", b"pwnd"),
        ]
    });
    let err = c.refused("ARTIFACT_UNSAFE_ENTRY");
    assert!(
        err.message().contains("files/current/../../../../sentinel"),
        "{err}"
    );
}

#[test]
fn refuses_absolute_path() {
    let c = Case::new(|root| {
        let abs = format!("{}/sentinel", root.display());
        vec![m(2, 4), Raw::dir("files/current"), Raw::file(&abs, b"pwnd")]
    });
    c.refused("ARTIFACT_UNSAFE_ENTRY");
}

#[test]
fn refuses_symlink_to_etc() {
    let c = Case::new(|_| {
        vec![
            m(2, 0),
            Raw::dir("files/current"),
            Raw::symlink("files/current/etc", "/etc"),
        ]
    });
    let err = c.refused("ARTIFACT_UNSAFE_ENTRY");
    assert!(err.message().contains("files/current/etc"), "{err}");
}

#[test]
fn refuses_symlink_escaping_the_environment() {
    let c = Case::new(|_| {
        vec![
            m(2, 0),
            Raw::dir("files/current"),
            Raw::symlink("files/current/wp-content/x", "../../../../../sentinel"),
        ]
    });
    c.refused("ARTIFACT_UNSAFE_ENTRY");
    let c = Case::new(|_| {
        vec![
            m(2, 0),
            Raw::dir("files/shared"),
            Raw::symlink("files/shared/up", "../../etc"),
        ]
    });
    c.refused("ARTIFACT_UNSAFE_ENTRY");
}

#[test]
fn refuses_writing_through_an_absolute_symlinked_dir() {
    let c = Case::new(|_| {
        vec![
            m(3, 4),
            Raw::dir("files/current"),
            Raw::symlink("files/current/evil", "/tmp/pressluft-artifact-test-pwned"),
            Raw::file("files/current/evil/pwn", b"pwnd"),
        ]
    });
    c.refused("ARTIFACT_UNSAFE_ENTRY");
}

#[test]
fn refuses_writing_through_an_allowed_symlinked_dir() {
    // the link itself stays inside the environment, but nothing may be written through it
    let c = Case::new(|_| {
        vec![
            m(3, 4),
            Raw::dir("files/current"),
            Raw::symlink("files/current/evil", "../../shared"),
            Raw::file("files/current/evil/pwn", b"pwnd"),
        ]
    });
    let err = c.refused("ARTIFACT_UNSAFE_ENTRY");
    assert!(err.message().contains("files/current/evil/pwn"), "{err}");
    assert!(err.message().contains("symlink"), "{err}");
}

#[test]
fn refuses_replacing_a_dir_with_a_symlink_then_writing() {
    let c = Case::new(|_| {
        vec![
            m(4, 4),
            Raw::dir("files/current"),
            Raw::file("files/current/d/x", b"xxxx"),
            Raw::symlink("files/current/d", "../.."),
            Raw::file("files/current/d/y", b""),
        ]
    });
    c.refused("ARTIFACT_UNSAFE_ENTRY");
}

#[test]
fn refuses_hardlink() {
    let c = Case::new(|_| {
        vec![
            m(2, 0),
            Raw::dir("files/current"),
            Raw::hardlink("files/current/h", "files/current"),
        ]
    });
    let err = c.refused("ARTIFACT_UNSAFE_ENTRY");
    assert!(err.message().contains("hardlink"), "{err}");
}

#[test]
fn refuses_char_device() {
    let c = Case::new(|_| {
        vec![
            m(2, 0),
            Raw::dir("files/current"),
            Raw::special("files/current/null", EntryType::Char),
        ]
    });
    c.refused("ARTIFACT_UNSAFE_ENTRY");
}

#[test]
fn refuses_block_device() {
    let c = Case::new(|_| {
        vec![
            m(2, 0),
            Raw::dir("files/current"),
            Raw::special("files/current/sda", EntryType::Block),
        ]
    });
    c.refused("ARTIFACT_UNSAFE_ENTRY");
}

#[test]
fn refuses_fifo() {
    let c = Case::new(|_| {
        vec![
            m(2, 0),
            Raw::dir("files/current"),
            Raw::special("files/current/fifo", EntryType::Fifo),
        ]
    });
    c.refused("ARTIFACT_UNSAFE_ENTRY");
}

#[test]
fn refuses_entries_outside_the_allowed_roots() {
    for name in [
        "etc/passwd",
        "files/other/x",
        "files/x",
        "database.sql/x",
        "manifest.json",
    ] {
        let c = Case::new(|_| vec![m(2, 1), Raw::dir("files/current"), Raw::file(name, b"x")]);
        let err = c.refused("ARTIFACT_UNSAFE_ENTRY");
        assert!(err.message().contains(name), "{err}");
    }
}

#[test]
fn refuses_pax_headers() {
    let c = Case::new(|_| {
        vec![
            m(2, 1),
            Raw::dir("files/current"),
            Raw {
                kind: EntryType::XHeader,
                ..Raw::file("PaxHeaders/x", b"20 path=/etc/passwd\n")
            },
            Raw::file("files/current/x", b"x"),
        ]
    });
    c.refused("ARTIFACT_UNSAFE_ENTRY");
}

#[test]
fn wrong_site_writes_nothing() {
    let c = Case::new(|_| {
        vec![
            Raw::file(
                "manifest.json",
                &manifest("other-site", "files", 2, 1, None),
            ),
            Raw::dir("files/current"),
            Raw::file("files/current/x", b"x"),
        ]
    });
    let err = c.refused("ARTIFACT_WRONG_SITE");
    assert!(err.message().contains("other-site"), "{err}");
}

#[test]
fn zstd_bomb_is_stopped_by_the_byte_bound() {
    // 200 MB of zeros, the manifest claims 10 bytes of files
    let c = Case::new(|_| {
        vec![
            m(2, 10),
            Raw::dir("files/current"),
            Raw::zeros("files/current/bomb", 200_000_000),
        ]
    });
    assert!(fs::metadata(&c.artifact).unwrap().len() < 1_000_000);
    c.refused("ARTIFACT_TOO_LARGE");
}

#[test]
fn bytes_hidden_in_non_file_entries_hit_the_counter() {
    // a directory entry carrying 200 MB of data: no file is written, the counter still stops it
    let c = Case::new(|_| {
        let mut d = Raw::zeros("files/current", 200_000_000);
        d.kind = EntryType::Directory;
        vec![m(2, 1), d, Raw::file("files/current/x", b"x")]
    });
    c.refused("ARTIFACT_TOO_LARGE");
}

#[test]
fn explicit_max_bytes_is_enforced() {
    let c = Case::new(|_| {
        vec![
            m(2, 5_000_000),
            Raw::dir("files/current"),
            Raw::zeros("files/current/big", 5_000_000),
        ]
    });
    fs::create_dir_all(c.root.join("work")).unwrap();
    let err = unpack(&UnpackOptions {
        max_bytes: Some(1_000_000),
        ..UnpackOptions::new(&c.artifact, &c.dest, "site-1")
    })
    .unwrap_err();
    assert_eq!(err.code(), "ARTIFACT_TOO_LARGE");
    assert!(!c.dest.exists());
    // the default bound lets it through
    c.unpack().unwrap();
}

#[test]
fn entry_count_mismatch_is_corrupt() {
    let c = Case::new(|_| {
        vec![
            m(3, 1),
            Raw::dir("files/current"),
            Raw::file("files/current/x", b"x"),
        ]
    });
    c.refused("ARTIFACT_CORRUPT");
    let c = Case::new(|_| {
        vec![
            m(1, 1),
            Raw::dir("files/current"),
            Raw::file("files/current/x", b"x"),
        ]
    });
    c.refused("ARTIFACT_CORRUPT");
}

#[test]
fn manifest_must_come_first() {
    let c = Case::new(|_| vec![Raw::dir("files/current"), m(1, 0)]);
    c.refused("ARTIFACT_CORRUPT");
}

#[test]
fn database_checksum_must_match_the_manifest() {
    let c = Case::new(|_| {
        vec![
            Raw::file(
                "manifest.json",
                &manifest("site-1", "db", 1, 0, Some(b"good dump")),
            ),
            Raw::file("database.sql", b"evil dump"),
        ]
    });
    c.refused("ARTIFACT_CORRUPT");
}

#[test]
fn no_space_is_refused_before_writing() {
    // the manifest claims far more bytes than any disk here has
    let c = Case::new(|_| vec![m(1, 1 << 60), Raw::dir("files/current")]);
    c.refused("ARTIFACT_NO_SPACE");
}

#[test]
fn setuid_bits_from_the_archive_are_masked() {
    use std::os::unix::fs::PermissionsExt;
    let c = Case::new(|_| {
        let mut f = Raw::file("files/current/suid", b"x");
        f.mode = 0o6755;
        let mut d = Raw::dir("files/current/sticky");
        d.mode = 0o1777;
        vec![m(3, 1), Raw::dir("files/current"), f, d]
    });
    c.unpack().unwrap();
    let mode = |p: &str| {
        fs::symlink_metadata(c.dest.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("files/current/suid"), 0o755);
    assert_eq!(mode("files/current/sticky"), 0o755);
}
