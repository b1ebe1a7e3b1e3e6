//! Process helpers for the runner: host name, pid liveness, signalling a process group, and
//! finding every process of a run by the marker variable it inherited (`PRESSLUFT_RUN_ID`),
//! which also catches Ansible workers that left the process group with `setsid`.

/// Environment variable carried by every process of one playbook run: `<job id>:<attempt>:<n>`.
pub const RUN_MARKER: &str = "PRESSLUFT_RUN_ID";

pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates when it fits.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".to_string();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// True when a process with this pid exists (a zombie counts as gone).
pub fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Sends `sig` to the process group `pgid` (errors such as "no such group" are ignored).
pub fn signal_group(pgid: i32, sig: i32) {
    if pgid > 1 {
        // SAFETY: plain syscall; a negative pid addresses the process group.
        unsafe {
            libc::kill(-pgid, sig);
        }
    }
}

/// Pids (other than ours) whose environment has `RUN_MARKER=<value>` exactly, or starting with
/// `value` when `prefix` is true.
pub fn marked_pids(value: &str, prefix: bool) -> Vec<i32> {
    let own = std::process::id() as i32;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let needle = format!("{RUN_MARKER}={value}");
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter(|&pid| pid != own)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                env.split(|&b| b == 0).any(|var| {
                    let var = String::from_utf8_lossy(var);
                    if prefix {
                        var.starts_with(&needle)
                    } else {
                        var == needle
                    }
                })
            })
        })
        .collect()
}

/// SIGKILLs every process marked with `value` (see [`marked_pids`]); returns how many. Scans
/// again until a scan finds none (bounded): a process may fork between a scan and its kill.
pub fn kill_marked(value: &str, prefix: bool) -> usize {
    let mut killed = 0;
    for _ in 0..20 {
        let pids = marked_pids(value, prefix);
        if pids.is_empty() {
            break;
        }
        for &pid in &pids {
            // SAFETY: plain syscall on a pid we just found.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        killed += pids.len();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    killed
}

/// Kills every leftover process of any run of `job_id` (used when taking back a job whose
/// worker died on this host).
pub async fn kill_job_processes(job_id: &str) {
    let value = format!("{job_id}:");
    let killed = tokio::task::spawn_blocking(move || kill_marked(&value, true))
        .await
        .unwrap_or(0);
    if killed > 0 {
        tracing::warn!(job.id = %job_id, processes = killed, "killed leftover processes of a dead worker's run");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn own_process_is_alive_and_pid_zero_is_not() {
        assert!(super::pid_alive(std::process::id() as i32));
        assert!(!super::pid_alive(0));
        assert!(!super::hostname().is_empty());
    }
}
