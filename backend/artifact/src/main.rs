//! Owns the `pressluft-artifact` command line: hand-rolled argument parsing, help texts, and
//! printing exactly one JSON object on stdout (`{"ok":true,...}` or
//! `{"ok":false,"code":"ARTIFACT_...","message":...}` with a non-zero exit code).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use pressluft_artifact::{
    pack, read_manifest, unpack, verify, ArtifactError, PackOptions, Scope, UnpackOptions,
    DEFAULT_LEVEL,
};
use serde_json::{json, Value};

const MAIN_HELP: &str = "\
pressluft-artifact — pack, verify, inspect and unpack Pressluft backup artifacts

USAGE:
    pressluft-artifact <COMMAND> [OPTIONS]
    pressluft-artifact <COMMAND> --help

COMMANDS:
    pack      build an artifact (tar + zstd) from a database dump and/or an environment's files
    verify    check an artifact's size and sha256
    inspect   print an artifact's manifest
    unpack    safely extract an artifact into an empty staging directory
    help      print this text, or `help <COMMAND>`

Every command prints exactly one JSON object on stdout:
    {\"ok\":true,...} on success (exit 0), or
    {\"ok\":false,\"code\":\"ARTIFACT_...\",\"message\":\"...\"} on failure (exit 2..10).

ERROR CODES (exit code):
    ARTIFACT_USAGE (2), ARTIFACT_IO (3), ARTIFACT_CHECKSUM_MISMATCH (4), ARTIFACT_SIZE_MISMATCH (5),
    ARTIFACT_UNSAFE_ENTRY (6), ARTIFACT_WRONG_SITE (7), ARTIFACT_CORRUPT (8),
    ARTIFACT_TOO_LARGE (9), ARTIFACT_NO_SPACE (10)

Format: docs/backup-format.md
";

const PACK_HELP: &str = "\
pressluft-artifact pack — build a backup artifact

USAGE:
    pressluft-artifact pack --scope db|files|full --site-id ID --environment-id ID --backup-id ID
        [--env-root DIR] [--db-dump FILE] --out FINAL_PATH [--level N] [--threads N]
        [--exclude REL]... [--created-at YYYY-MM-DDTHH:MM:SSZ]

OPTIONS:
    --scope S            db (dump only), files (files only) or full (both)
    --site-id ID         recorded in the manifest; unpack checks it
    --environment-id ID  recorded in the manifest
    --backup-id ID       recorded in the manifest
    --env-root DIR       environment root holding `current` (symlink to the release) and `shared`;
                         required for scopes files and full
    --db-dump FILE       database dump to store as database.sql; required for scopes db and full
    --out FINAL_PATH     where the artifact is published; must not exist. Written as a hidden temp
                         file in the same directory, fsynced, then put in place atomically.
                         Missing parent directories are created with mode 0700.
    --level N            zstd level 1..19 (default 3)
    --threads N          compression threads (0..64). N > 0: the tar stream is cut into 8 MiB
                         segments compressed as independent zstd frames by N threads (one
                         valid zstd stream); 0: one frame compressed in the main thread.
                         Default: the number of CPUs, at most 2
    --exclude REL        skip this path, relative to files/ (e.g. current/wp-content/backups);
                         repeatable. Cache directories (wp-content/cache, wp-content/*-cache,
                         wp-content/uploads/cache, shared/uploads/cache) are always skipped.
    --created-at TS      override the manifest's created_at (default: now, UTC)

OUTPUT:
    {\"ok\":true,\"sha256\":HEX,\"size_bytes\":N,\"storage_path\":FINAL_PATH,\"manifest\":{...}
     [,\"warnings\":[...]]}
";

const VERIFY_HELP: &str = "\
pressluft-artifact verify — check an artifact against its recorded size and sha256

USAGE:
    pressluft-artifact verify --artifact FILE --sha256 HEX --size N

The size is compared first (cheap), then the file is hashed as a stream.

OUTPUT:
    {\"ok\":true,\"sha256\":HEX,\"size_bytes\":N}
    errors: ARTIFACT_SIZE_MISMATCH, ARTIFACT_CHECKSUM_MISMATCH (messages name expected and actual)
";

const INSPECT_HELP: &str = "\
pressluft-artifact inspect — print an artifact's manifest (decompresses only the first entry)

USAGE:
    pressluft-artifact inspect --artifact FILE

OUTPUT:
    {\"ok\":true,\"manifest\":{...}}
";

const UNPACK_HELP: &str = "\
pressluft-artifact unpack — safely extract an artifact into a staging directory

USAGE:
    pressluft-artifact unpack --artifact FILE --dest DIR --expect-site ID
        [--expect-environment ID] [--sha256 HEX --size N] [--max-bytes N]

OPTIONS:
    --artifact FILE          the artifact
    --dest DIR               staging directory; must not exist (created 0700) or be empty
    --expect-site ID         the manifest's site_id must be this (else ARTIFACT_WRONG_SITE)
    --expect-environment ID  optionally, the manifest's environment_id must be this
    --sha256 HEX --size N    verify the artifact: the size before anything is written, the sha256
                             while extracting (one pass); on a mismatch DIR's contents are
                             removed and the command fails (ARTIFACT_CHECKSUM_MISMATCH /
                             ARTIFACT_SIZE_MISMATCH). Nothing outside DIR is ever written.
    --max-bytes N            bound on decompressed bytes (default: dump + files bytes from the
                             manifest + 64 MiB + 2 KiB per entry)

Results: DIR/database.sql, DIR/files/current/..., DIR/files/shared/... Files keep their mode
without setuid/setgid/sticky bits, directories are 0755, ownership is never taken from the
archive. Unsafe entries (absolute, `..`, outside database.sql|files/current|files/shared,
hardlinks, devices, fifos, symlinks leaving the environment, writes through symlinks) are
refused with ARTIFACT_UNSAFE_ENTRY. On failure what was written under DIR is removed.

OUTPUT:
    {\"ok\":true,\"manifest\":{...},\"entries\":N,\"bytes\":N,\"has_db\":BOOL,\"has_files\":BOOL}
";

/// Parsed `--name value` options.
struct Opts {
    values: BTreeMap<String, Vec<String>>,
}

impl Opts {
    fn parse(args: &[String], known: &[&str], repeatable: &[&str]) -> Result<Opts, ArtifactError> {
        let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            let (name, value) =
                if let Some((n, v)) = a.split_once('=').filter(|_| a.starts_with("--")) {
                    (n.to_string(), v.to_string())
                } else if a.starts_with("--") {
                    let v = args
                        .get(i + 1)
                        .ok_or_else(|| usage(format!("option {a} needs a value")))?;
                    i += 1;
                    (a.clone(), v.clone())
                } else {
                    return Err(usage(format!("unexpected argument {a:?}")));
                };
            if !known.contains(&name.as_str()) {
                return Err(usage(format!("unknown option {name}")));
            }
            let slot = values.entry(name.clone()).or_default();
            if !slot.is_empty() && !repeatable.contains(&name.as_str()) {
                return Err(usage(format!("option {name} given more than once")));
            }
            slot.push(value);
            i += 1;
        }
        Ok(Opts { values })
    }

    fn get(&self, name: &str) -> Option<String> {
        self.values.get(name).and_then(|v| v.first().cloned())
    }

    fn req(&self, name: &str) -> Result<String, ArtifactError> {
        self.get(name)
            .ok_or_else(|| usage(format!("missing required option {name}")))
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.values.get(name).cloned().unwrap_or_default()
    }

    fn num<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, ArtifactError> {
        self.get(name)
            .map(|v| {
                v.parse::<T>()
                    .map_err(|_| usage(format!("{name} {v:?} is not a valid number")))
            })
            .transpose()
    }
}

fn usage(msg: String) -> ArtifactError {
    ArtifactError::Usage(format!("{msg} (see --help)"))
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<Value, ArtifactError> {
    serde_json::to_value(v)
        .map_err(|e| ArtifactError::Io(format!("cannot serialise the result: {e}")))
}

fn ok(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.insert("ok".into(), Value::Bool(true));
    }
    v
}

enum Outcome {
    Help(&'static str),
    Json(Value),
}

fn help_for(cmd: &str) -> Option<&'static str> {
    match cmd {
        "pack" => Some(PACK_HELP),
        "verify" => Some(VERIFY_HELP),
        "inspect" => Some(INSPECT_HELP),
        "unpack" => Some(UNPACK_HELP),
        _ => None,
    }
}

fn run(args: &[String]) -> Result<Outcome, ArtifactError> {
    let Some(cmd) = args.first() else {
        return Err(usage(
            "missing command: pack, verify, inspect or unpack".into(),
        ));
    };
    let rest = &args[1..];
    match cmd.as_str() {
        "-h" | "--help" => return Ok(Outcome::Help(MAIN_HELP)),
        "-V" | "--version" => {
            return Ok(Outcome::Json(
                json!({"ok": true, "version": env!("CARGO_PKG_VERSION")}),
            ))
        }
        "help" => {
            return match rest.first() {
                None => Ok(Outcome::Help(MAIN_HELP)),
                Some(c) => help_for(c)
                    .map(Outcome::Help)
                    .ok_or_else(|| usage(format!("unknown command {c:?}"))),
            }
        }
        _ => {}
    }
    let Some(help) = help_for(cmd) else {
        return Err(usage(format!(
            "unknown command {cmd:?}; expected pack, verify, inspect or unpack"
        )));
    };
    if rest.iter().any(|a| a == "--help" || a == "-h") {
        return Ok(Outcome::Help(help));
    }
    let value = match cmd.as_str() {
        "pack" => {
            let o = Opts::parse(
                rest,
                &[
                    "--scope",
                    "--site-id",
                    "--environment-id",
                    "--backup-id",
                    "--env-root",
                    "--db-dump",
                    "--out",
                    "--level",
                    "--threads",
                    "--exclude",
                    "--created-at",
                ],
                &["--exclude"],
            )?;
            let scope_s = o.req("--scope")?;
            let scope = Scope::parse(&scope_s)
                .ok_or_else(|| usage(format!("--scope {scope_s:?} must be db, files or full")))?;
            let mut p = PackOptions::new(
                scope,
                o.req("--site-id")?,
                o.req("--environment-id")?,
                o.req("--backup-id")?,
                o.req("--out")?,
            );
            p.env_root = o.get("--env-root").map(PathBuf::from);
            p.db_dump = o.get("--db-dump").map(PathBuf::from);
            p.level = o.num("--level")?.unwrap_or(DEFAULT_LEVEL);
            p.threads = o.num("--threads")?.unwrap_or(p.threads);
            p.excludes = o.all("--exclude");
            p.created_at = o.get("--created-at");
            ok(to_value(&pack(&p)?)?)
        }
        "verify" => {
            let o = Opts::parse(rest, &["--artifact", "--sha256", "--size"], &[])?;
            let artifact = o.req("--artifact")?;
            let sha = o.req("--sha256")?;
            let size = o
                .num::<u64>("--size")?
                .ok_or_else(|| usage("missing required option --size".into()))?;
            ok(to_value(&verify(&artifact, &sha, size)?)?)
        }
        "inspect" => {
            let o = Opts::parse(rest, &["--artifact"], &[])?;
            let m = read_manifest(o.req("--artifact")?)?;
            json!({"ok": true, "manifest": to_value(&m)?})
        }
        _ => {
            let o = Opts::parse(
                rest,
                &[
                    "--artifact",
                    "--dest",
                    "--expect-site",
                    "--expect-environment",
                    "--sha256",
                    "--size",
                    "--max-bytes",
                ],
                &[],
            )?;
            let mut u = UnpackOptions::new(
                o.req("--artifact")?,
                o.req("--dest")?,
                o.req("--expect-site")?,
            );
            u.expect_environment = o.get("--expect-environment");
            u.max_bytes = o.num("--max-bytes")?;
            u.expected = match (o.get("--sha256"), o.num::<u64>("--size")?) {
                (Some(s), Some(n)) => Some((s, n)),
                (None, None) => None,
                _ => return Err(usage("--sha256 and --size go together".into())),
            };
            ok(to_value(&unpack(&u)?)?)
        }
    };
    Ok(Outcome::Json(value))
}

fn main() -> ExitCode {
    let args: Result<Vec<String>, _> = std::env::args_os()
        .skip(1)
        .map(|a| {
            a.into_string()
                .map_err(|a| usage(format!("argument {a:?} is not valid UTF-8")))
        })
        .collect();
    match args.and_then(|a| run(&a)) {
        Ok(Outcome::Help(text)) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Ok(Outcome::Json(v)) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!(
                "{}",
                json!({"ok": false, "code": e.code(), "message": e.message()})
            );
            let code = u8::try_from(e.exit_code()).unwrap_or(1);
            ExitCode::from(code)
        }
    }
}
