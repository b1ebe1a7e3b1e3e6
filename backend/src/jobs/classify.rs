//! Classifying a finished `ansible-playbook` run into a result or a `JobFailure`. The exit code
//! alone is ambiguous (ansible-core 2.19 exits 4 for an unreachable host *and* for a syntax
//! error), so the run's own facts decide: the stats event, whether the playbook started, and
//! the result file. Rules, in order, are documented in `docs/job-execution.md`.

use super::handler::JobFailure;
use serde_json::Value;

/// Totals of the final `stats` event over all hosts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub ok: u64,
    pub failures: u64,
    pub unreachable: u64,
}

/// What the runner observed about one run.
#[derive(Debug, Clone, Default)]
pub struct RunFacts {
    /// `None` when the process was killed by a signal.
    pub exit_code: Option<i32>,
    /// The callback reported `playbook_start` (the playbook parsed and began).
    pub played: bool,
    pub stats: Option<Stats>,
    /// The parsed result file, if the playbook wrote one.
    pub result: Option<Value>,
    /// Why the result file could not be read, if it exists but is not JSON.
    pub result_error: Option<String>,
    /// Last non-ignored failed / unreachable task and its message.
    pub failed_task: Option<String>,
    pub failed_msg: Option<String>,
}

fn fail(code: &str, message: String, retryable: bool) -> Result<Value, JobFailure> {
    Err(JobFailure::new(code, message, retryable))
}

fn detail(f: &RunFacts) -> String {
    match (&f.failed_task, &f.failed_msg) {
        (Some(t), Some(m)) => format!(" (task `{t}`: {})", super::output::redact(m)),
        (Some(t), None) => format!(" (task `{t}`)"),
        _ => String::new(),
    }
}

/// The result of a run, or why it failed. `retryable_code` decides for codes the playbook
/// reports in its result file.
pub fn classify(
    f: &RunFacts,
    node: &str,
    playbook: &str,
    retryable_code: &dyn Fn(&str) -> bool,
) -> Result<Value, JobFailure> {
    let stats = f.stats.unwrap_or_default();
    let reported = f.result.as_ref().and_then(|r| {
        (r.get("ok").and_then(Value::as_bool) == Some(false)).then(|| {
            let code = r.get("code").and_then(Value::as_str).map(str::to_string);
            let message = r.get("message").and_then(Value::as_str).map(str::to_string);
            (code, message)
        })
    });
    if f.exit_code == Some(0) && stats.failures == 0 && stats.unreachable == 0 {
        return match (&f.result, reported) {
            (_, Some((Some(code), msg))) => {
                let msg = msg.unwrap_or_else(|| format!("playbook {playbook} reported {code}"));
                fail(&code, msg, retryable_code(&code))
            }
            (Some(_), Some((None, msg))) => fail(
                "ANSIBLE_PLAY_ERROR",
                msg.unwrap_or_else(|| {
                    format!("playbook {playbook} reported a failure without a code")
                }),
                true,
            ),
            (Some(result), None) => Ok(result.clone()),
            (None, _) => {
                fail(
                    "ANSIBLE_PLAY_ERROR",
                    format!(
                    "playbook {playbook} finished without writing its result{}; the playbook is \
                     incomplete or the controller could not write the file",
                    f.result_error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
                ),
                    true,
                )
            }
        };
    }
    if stats.unreachable > 0 {
        return fail(
            "ANSIBLE_HOST_UNREACHABLE",
            format!(
                "node {node} could not be reached{}; check that it is up and that SSH works from \
                 the control plane (the job is retried while attempts remain)",
                detail(f)
            ),
            true,
        );
    }
    if let Some((Some(code), msg)) = reported {
        let msg = msg.unwrap_or_else(|| format!("playbook {playbook} reported {code}"));
        return fail(&code, msg, retryable_code(&code));
    }
    if stats.failures > 0 {
        return fail(
            "ANSIBLE_HOST_FAILED",
            format!(
                "a task of {playbook} failed on node {node}{}; see the output tail",
                detail(f)
            ),
            true,
        );
    }
    match f.exit_code {
        Some(250) => fail(
            "ANSIBLE_UNEXPECTED_ERROR",
            format!("ansible-playbook hit an unexpected internal error running {playbook}; see the output tail"),
            false,
        ),
        Some(1) | Some(4) if !f.played && f.stats.is_none() => fail(
            "ANSIBLE_SYNTAX_ERROR",
            format!(
                "playbook {playbook} could not be loaded (syntax error, unknown module or missing \
                 file); fix the playbook, retrying cannot help"
            ),
            false,
        ),
        code => fail(
            "ANSIBLE_UNKNOWN_EXIT",
            format!(
                "ansible-playbook ended with {} running {playbook} without a failed task; see the output tail",
                code.map(|c| format!("exit code {c}")).unwrap_or_else(|| "a signal".to_string())
            ),
            false,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn facts(
        exit: i32,
        played: bool,
        stats: Option<(u64, u64, u64)>,
        result: Option<Value>,
    ) -> RunFacts {
        RunFacts {
            exit_code: Some(exit),
            played,
            stats: stats.map(|(ok, failures, unreachable)| Stats {
                ok,
                failures,
                unreachable,
            }),
            result,
            ..RunFacts::default()
        }
    }

    fn code(f: &RunFacts) -> (String, bool) {
        let never = |_: &str| false;
        let e = classify(f, "n1", "p.yml", &never).expect_err("a failure");
        (e.code, e.retryable)
    }

    #[test]
    fn success_needs_a_result_file() {
        let ok = facts(0, true, Some((3, 0, 0)), Some(json!({"ok": true, "x": 1})));
        assert_eq!(classify(&ok, "n", "p", &|_| false).unwrap()["x"], 1);
        assert_eq!(
            code(&facts(0, true, Some((3, 0, 0)), None)),
            ("ANSIBLE_PLAY_ERROR".into(), true)
        );
    }

    #[test]
    fn unreachable_wins_over_exit_code_4() {
        assert_eq!(
            code(&facts(4, true, Some((0, 0, 1)), None)),
            ("ANSIBLE_HOST_UNREACHABLE".into(), true)
        );
    }

    #[test]
    fn exit_4_without_a_play_is_a_syntax_error() {
        assert_eq!(
            code(&facts(4, false, None, None)),
            ("ANSIBLE_SYNTAX_ERROR".into(), false)
        );
        assert_eq!(
            code(&facts(1, false, None, None)),
            ("ANSIBLE_SYNTAX_ERROR".into(), false)
        );
    }

    #[test]
    fn failed_task_is_host_failed_unless_the_result_names_a_code() {
        assert_eq!(
            code(&facts(2, true, Some((1, 1, 0)), None)),
            ("ANSIBLE_HOST_FAILED".into(), true)
        );
        let r = json!({"ok": false, "code": "BACKUP_DB_NOT_FOUND", "message": "no db"});
        let f = facts(2, true, Some((1, 1, 0)), Some(r));
        assert_eq!(code(&f), ("BACKUP_DB_NOT_FOUND".into(), false));
        let retry_it = |c: &str| c == "BACKUP_DB_NOT_FOUND";
        assert!(classify(&f, "n", "p", &retry_it).unwrap_err().retryable);
    }

    #[test]
    fn other_exits() {
        assert_eq!(
            code(&facts(250, true, None, None)),
            ("ANSIBLE_UNEXPECTED_ERROR".into(), false)
        );
        assert_eq!(
            code(&facts(2, false, None, None)),
            ("ANSIBLE_UNKNOWN_EXIT".into(), false)
        );
        assert_eq!(
            code(&facts(4, true, Some((2, 0, 0)), None)),
            ("ANSIBLE_UNKNOWN_EXIT".into(), false)
        );
        let r = json!({"ok": false, "code": "NODE_DISK_LOW", "message": "full"});
        assert_eq!(
            code(&facts(0, true, Some((2, 0, 0)), Some(r))),
            ("NODE_DISK_LOW".into(), false)
        );
    }
}
