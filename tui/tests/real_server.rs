//! The terminal UI against the real `pressluft-server` and the real local WordPress node: the
//! app's own state machine is driven with key `Action`s (as `pressluft --site demo` would get
//! them), every `Effect` it returns runs through the library's `execute_effect` against the
//! server, and the answers go back into `App::update`, exactly as `runtime::run` does. Each state
//! is drawn at 80x24 on ratatui's `TestBackend`, so the test sees what a user would see.
//!
//! Needs the binaries (`cargo build --workspace --bins`), root, and the node's services
//! (`scripts/install-deps.sh --start-services`). Holds the cross-process node lock
//! (`/tmp/pressluft-test-node.lock`, as backend/tests/it/node.rs) for its whole duration.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use pressluft_common::{
    BackupScope, BackupStatus, Client, JobStatus, JobType, ResourceStatus, StepStatus,
};
use pressluft_tui::{
    execute_effect, strings, Action, App, Config, Dialog, Effect, Screen, Secret, StartAuth,
};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};

const EMAIL: &str = "tui-real@example.test";
const PASSWORD: &str = "tui real server test password";
const SITE: &str = "demo";
const ENV: &str = "production";
/// Where `scripts/local-node.sh` serves demo/production.
const PREVIEW_URL: &str = "http://127.0.0.1:18181/";
const LOCK_PATH: &str = "/tmp/pressluft-test-node.lock";
const WIDTH: u16 = 80;
const HEIGHT: u16 = 24;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tui/ has a parent")
        .to_path_buf()
}

/// `<target>/debug/<name>`: the test executable lives in `<target>/debug/deps/`.
fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable in <target>/<profile>/deps/");
    let bin = dir.join(name);
    assert!(
        bin.is_file(),
        "{} is missing: run cargo build --workspace --bins first",
        bin.display()
    );
    bin
}

/// The cross-process lock every test that touches the node holds (backend/tests/it/node.rs).
struct NodeLock(#[allow(dead_code)] File);

impl NodeLock {
    fn acquire() -> NodeLock {
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(LOCK_PATH)
            .expect("open node lock");
        // SAFETY: flock on a file descriptor we own; blocks until the lock is ours.
        let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(rc, 0, "flock {LOCK_PATH}");
        NodeLock(f)
    }
}

/// A `pressluft-server serve` on 127.0.0.1:0 with a temporary data dir; killed on drop.
struct Server {
    child: Child,
    url: String,
    log: Arc<Mutex<String>>,
    _data: tempfile::TempDir,
}

impl Server {
    fn start(server_bin: &Path) -> Server {
        let tmp = tempfile::Builder::new()
            .prefix("pressluft-tui-real.")
            .tempdir()
            .expect("temp data dir");
        let data_dir = tmp.path().join("data");
        let mut admin = Command::new(server_bin)
            .args(["admin", "create", "--email", EMAIL, "--data-dir"])
            .arg(&data_dir)
            .env_remove("PRESSLUFT_ADMIN_PASSWORD")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pressluft-server admin create");
        admin
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{PASSWORD}\n").as_bytes())
            .expect("write the password");
        let out = admin.wait_with_output().expect("admin create");
        assert!(
            out.status.success(),
            "admin create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );

        let mut child = Command::new(server_bin)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--poll-ms", "200", "--data-dir"])
            .arg(&data_dir)
            .env("PRESSLUFT_ANSIBLE_DIR", repo_root().join("ansible"))
            .env("NO_COLOR", "1")
            .env_remove("PRESSLUFT_BACKUP_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pressluft-server serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        // Keeps draining stderr for the server's whole life, so its log never blocks it.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("listening") {
                    let addr = line
                        .split("addr=")
                        .nth(1)
                        .and_then(|r| r.split_whitespace().next());
                    if let (Some(addr), Some(tx)) = (addr, tx.take()) {
                        let _ = tx.send(addr.to_string());
                    }
                }
                if let Ok(mut l) = sink.lock() {
                    l.push_str(&line);
                    l.push('\n');
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "pressluft-server did not report its address; log:\n{}",
                    log.lock().map(|l| l.clone()).unwrap_or_default()
                );
            }
        };
        Server {
            child,
            url: format!("http://{addr}"),
            log,
            _data: tmp,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resets the node to its baseline and registers it into `server` (as the smoke script does).
fn reset_and_register_node(server: &Server) {
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/local-node.sh"))
        .arg("--reset")
        .env("PRESSLUFT_URL", &server.url)
        .env("PRESSLUFT_EMAIL", EMAIL)
        .env("PRESSLUFT_PASSWORD", PASSWORD)
        .output()
        .expect("run scripts/local-node.sh");
    assert!(
        out.status.success(),
        "local-node.sh --reset failed (is scripts/install-deps.sh --start-services done?):\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One drawn frame and what the app state said when it was drawn.
struct Shot {
    text: String,
    job: Option<(JobType, JobStatus)>,
    steps: usize,
    running_steps: Vec<String>,
}

/// The app, its client and the effect tasks: `runtime::run` without a terminal.
struct Tui {
    app: App,
    client: Client,
    tx: UnboundedSender<Action>,
    rx: UnboundedReceiver<Action>,
    terminal: Terminal<TestBackend>,
    /// Every effect the app asked for, in order.
    effects: Vec<Effect>,
    shots: Vec<Shot>,
    log: Arc<Mutex<String>>,
}

fn screen_text(terminal: &Terminal<TestBackend>) -> String {
    let buffer = terminal.backend().buffer();
    let width = buffer.area.width as usize;
    buffer
        .content
        .chunks(width)
        .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

impl Tui {
    fn new(url: &str, log: Arc<Mutex<String>>) -> Tui {
        let (tx, rx) = mpsc::unbounded_channel();
        let app = App::new(Config {
            server_url: url.to_string(),
            site_slug: Some(SITE.to_string()),
        });
        let terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("test terminal");
        Tui {
            app,
            client: Client::new(url),
            tx,
            rx,
            terminal,
            effects: Vec::new(),
            shots: Vec::new(),
            log,
        }
    }

    /// `pressluft --site demo` with PRESSLUFT_EMAIL / PRESSLUFT_PASSWORD set.
    fn start(&mut self) {
        let effects = self.app.start(StartAuth::Credentials {
            email: EMAIL.to_string(),
            password: Secret(PASSWORD.to_string()),
        });
        self.spawn(effects);
        self.draw();
    }

    fn spawn(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            self.effects.push(effect.clone());
            tokio::spawn(execute_effect(self.client.clone(), effect, self.tx.clone()));
        }
    }

    fn draw(&mut self) {
        self.terminal
            .draw(|frame| pressluft_tui::render(&self.app, frame))
            .expect("draw");
        let job = self.app.job.as_ref();
        self.shots.push(Shot {
            text: screen_text(&self.terminal),
            job: job.map(|j| (j.job_type, j.status)),
            steps: job.map_or(0, |j| j.steps.len()),
            running_steps: job
                .map(|j| {
                    j.steps
                        .iter()
                        .filter(|s| s.status == StepStatus::Running)
                        .map(|s| s.name.clone())
                        .collect()
                })
                .unwrap_or_default(),
        });
    }

    fn screen(&self) -> &str {
        self.shots.last().map_or("", |s| s.text.as_str())
    }

    fn context(&self) -> String {
        let log = self.log.lock().map(|l| l.clone()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        format!(
            "screen:\n{}\nstatus: {:?}\nserver log (tail):\n{}",
            self.screen(),
            self.app.status,
            lines[lines.len().saturating_sub(40)..].join("\n")
        )
    }

    /// One action into `App::update`, its effects out, one frame drawn: a turn of the runtime.
    fn feed(&mut self, action: Action) {
        if let Action::Failed { op, code, message } = &action {
            panic!(
                "{} failed: {code:?}: {message}\n{}",
                op.label(),
                self.context()
            );
        }
        // The session token lives in the client, as in `runtime::run`.
        if let Action::LoggedIn { token, .. } = &action {
            self.client = self.client.clone().with_token(token.expose());
        }
        let effects = self.app.update(action);
        self.spawn(effects);
        self.draw();
    }

    fn press(&mut self, code: KeyCode) {
        self.feed(Action::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    }

    fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.press(KeyCode::Char(c));
        }
    }

    /// Runs the effects' answers through the app until `done` holds, or fails after `secs`.
    async fn until(&mut self, what: &str, secs: u64, done: impl Fn(&App) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !done(&self.app) {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.rx.recv()).await {
                Ok(Some(action)) => self.feed(action),
                Ok(None) => unreachable!("the test holds a sender"),
                Err(_) => panic!(
                    "timed out after {secs}s waiting for {what}\n{}",
                    self.context()
                ),
            }
        }
    }

    fn count(&self, pred: impl Fn(&Effect) -> bool) -> usize {
        self.effects.iter().filter(|e| pred(e)).count()
    }

    /// Frames drawn while a job of `job_type` was not yet terminal.
    fn live_shots(&self, job_type: JobType) -> impl Iterator<Item = &Shot> {
        self.shots
            .iter()
            .filter(move |s| matches!(s.job, Some((t, st)) if t == job_type && !st.is_terminal()))
    }

    /// The job panel showed the steps as they arrived: a running step on screen, and more than
    /// one step count over the job's life.
    fn assert_live_steps(&self, job_type: JobType) {
        let running_on_screen = self.live_shots(job_type).any(|s| {
            s.running_steps
                .iter()
                .any(|name| s.text.contains(&format!(" ⟳ {name}")))
        });
        assert!(
            running_on_screen,
            "no frame showed a running {job_type:?} step in the job panel\n{}",
            self.context()
        );
        let mut counts: Vec<usize> = self
            .live_shots(job_type)
            .map(|s| s.steps)
            .filter(|&n| n > 0)
            .collect();
        counts.dedup();
        assert!(
            counts.len() >= 2,
            "the {job_type:?} steps did not arrive one by one (step counts seen: {counts:?})"
        );
    }
}

fn site_ready(app: &App) -> bool {
    app.screen == Screen::SiteDetail
        && app.site.as_ref().is_some_and(|s| s.slug == SITE)
        && !app.environments.is_empty()
        && !app.detail_loading
        && !app.backups_loading
}

#[test]
fn backup_and_restore_through_the_tui_against_the_real_server() {
    let server_bin = workspace_bin("pressluft-server");
    workspace_bin("pressluft-artifact");
    let _lock = NodeLock::acquire();
    let server = Server::start(&server_bin);
    reset_and_register_node(&server);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(drive(&server));
    // Effect tasks still following something end with the runtime, before the server goes.
    drop(runtime);
    drop(server);
}

async fn drive(server: &Server) {
    let mut tui = Tui::new(&server.url, server.log.clone());
    tui.start();
    tui.until("the demo site detail", 30, site_ready).await;

    // The site opens on its primary environment; make sure it is production.
    if tui.app.selected_env().map(|e| e.slug.as_str()) != Some(ENV) {
        tui.press(KeyCode::Tab);
        for _ in 0..tui.app.environments.len() {
            if tui.app.selected_env().map(|e| e.slug.as_str()) == Some(ENV) {
                break;
            }
            tui.press(KeyCode::Char('j'));
        }
        tui.press(KeyCode::Tab);
        tui.until("production's backups", 30, site_ready).await;
    }
    let env = tui.app.selected_env().cloned().expect("an environment");
    assert_eq!(env.slug, ENV, "{}", tui.context());
    assert_eq!(env.preview_url, PREVIEW_URL);
    assert_eq!(env.status, ResourceStatus::Active);
    assert!(
        tui.screen().contains("Demo Site") && tui.screen().contains("Production"),
        "site detail not drawn:\n{}",
        tui.screen()
    );

    // b → the scope dialog (full preselected) → f (full) → Enter.
    tui.press(KeyCode::Char('b'));
    assert!(
        matches!(tui.app.dialog, Some(Dialog::BackupScope { .. })),
        "b did not open the scope dialog\n{}",
        tui.context()
    );
    assert!(tui.screen().contains(strings::SCOPE_TITLE.trim()));
    tui.press(KeyCode::Char('f'));
    assert!(matches!(
        tui.app.dialog,
        Some(Dialog::BackupScope { selected: 0 })
    ));
    tui.press(KeyCode::Enter);
    assert!(tui.app.dialog.is_none());
    tui.until("the backup job to start", 30, |app| {
        app.job
            .as_ref()
            .is_some_and(|j| j.job_type == JobType::BackupCreate)
    })
    .await;
    let backup_job = tui.app.job.as_ref().expect("job").id.clone();
    tui.until("the backup job to end", 180, |app| {
        app.job.as_ref().is_some_and(|j| j.is_terminal())
    })
    .await;
    let job = tui.app.job.clone().expect("job");
    assert_eq!(
        job.status,
        JobStatus::Succeeded,
        "backup job {backup_job}: {:?} {:?}\n{}",
        job.error_code,
        job.error_message,
        tui.context()
    );
    tui.assert_live_steps(JobType::BackupCreate);
    // The list reloads when the job ends; the new backup shows up completed.
    tui.until("the new backup in the list", 30, |app| {
        !app.backups_loading
            && app.backups.iter().any(|b| {
                b.job_id.as_deref() == Some(backup_job.as_str())
                    && b.status == BackupStatus::Completed
            })
    })
    .await;
    let backup = tui
        .app
        .backups
        .iter()
        .find(|b| b.job_id.as_deref() == Some(backup_job.as_str()))
        .cloned()
        .expect("the new backup");
    assert_eq!(backup.backup_scope, BackupScope::Full);
    assert!(
        tui.screen().contains(&backup.id[..8]),
        "the new backup is not listed:\n{}",
        tui.screen()
    );
    assert!(tui.screen().contains(&strings::backup_succeeded(&env.name)));

    // Select it with the keys (backups pane, newest first).
    for _ in 0..tui.app.backups.len() {
        if tui.app.selected_backup().map(|b| b.id.as_str()) == Some(backup.id.as_str()) {
            break;
        }
        tui.press(KeyCode::Char('j'));
    }
    assert_eq!(
        tui.app.selected_backup().map(|b| b.id.as_str()),
        Some(backup.id.as_str())
    );

    // r → preflight → type the slug → Enter.
    tui.press(KeyCode::Char('r'));
    assert!(tui
        .screen()
        .contains(strings::RESTORE_CHECKING.trim_end_matches('…')));
    tui.until(
        "the preflight answer",
        60,
        |app| matches!(&app.dialog, Some(Dialog::Restore(d)) if d.preflight.is_some()),
    )
    .await;
    let Some(Dialog::Restore(dialog)) = &tui.app.dialog else {
        unreachable!()
    };
    let preflight = dialog.preflight.clone().expect("preflight");
    assert!(
        preflight.ok && preflight.error.is_none(),
        "preflight refused: {preflight:?}"
    );
    assert!(
        tui.screen().contains(&strings::type_slug_prompt(ENV)),
        "confirmation prompt missing:\n{}",
        tui.screen()
    );
    tui.type_text(ENV);
    tui.press(KeyCode::Enter);
    assert!(tui.app.dialog.is_none(), "{}", tui.context());
    tui.until("the restore job to start", 30, |app| {
        app.job
            .as_ref()
            .is_some_and(|j| j.job_type == JobType::EnvRestore)
    })
    .await;
    let restore_job = tui.app.job.as_ref().expect("job").id.clone();
    tui.until("the restore job to end", 300, |app| {
        app.job.as_ref().is_some_and(|j| j.is_terminal())
    })
    .await;
    let job = tui.app.job.clone().expect("job");
    assert_eq!(
        job.status,
        JobStatus::Succeeded,
        "restore job {restore_job}: {:?} {:?}\n{}",
        job.error_code,
        job.error_message,
        tui.context()
    );
    tui.until("the site reload after the restore", 30, |app| {
        site_ready(app)
            && app
                .selected_env()
                .is_some_and(|e| e.status == ResourceStatus::Active)
    })
    .await;
    tui.assert_live_steps(JobType::EnvRestore);

    // Exactly one backup and one restore were sent, for the right ids.
    let create = |e: &Effect| matches!(e, Effect::CreateBackup { .. });
    let restore = |e: &Effect| matches!(e, Effect::Restore { .. });
    assert_eq!(tui.count(create), 1, "{:#?}", tui.effects);
    assert_eq!(tui.count(restore), 1, "{:#?}", tui.effects);
    assert!(tui.effects.contains(&Effect::CreateBackup {
        environment_id: env.id.clone(),
        scope: BackupScope::Full,
    }));
    assert!(tui.effects.contains(&Effect::Restore {
        environment_id: env.id.clone(),
        backup_id: backup.id.clone(),
    }));

    // The final screen says so, with the preview URL.
    let screen = tui.screen().to_string();
    println!("final screen ({WIDTH}x{HEIGHT}):\n{screen}");
    assert!(
        screen.contains(&strings::restore_succeeded(&env.name, PREVIEW_URL)),
        "no success line:\n{screen}"
    );
    assert!(screen.contains(PREVIEW_URL), "{screen}");

    // And the server agrees.
    let client = tui.client.clone();
    let server_job = client.job(&restore_job).await.expect("restore job");
    assert_eq!(server_job.status, JobStatus::Succeeded);
    assert_eq!(server_job.backup_id.as_deref(), Some(backup.id.as_str()));
    let fresh = client.environment(&env.id).await.expect("environment");
    assert_eq!(fresh.status, ResourceStatus::Active);
    let answer = reqwest::get(PREVIEW_URL)
        .await
        .expect("GET the preview URL");
    assert_eq!(answer.status().as_u16(), 200, "{PREVIEW_URL}");
}
