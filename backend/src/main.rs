//! `pressluft-server`: the control plane's command line (serve, admin, registry).

use clap::{Parser, Subcommand};
use pressluft_backend::auth::admin::AdminCommand;
use pressluft_backend::registry::cli::{EnvironmentCommand, NodeCommand, SiteCommand};
use pressluft_backend::{AppState, Config};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "pressluft-server",
    version,
    about = "Pressluft control plane: REST API, job runner, backups and restores"
)]
struct Cli {
    /// Data directory: SQLite database and local backup store.
    #[arg(
        long,
        global = true,
        env = "PRESSLUFT_DATA_DIR",
        default_value = "/var/lib/pressluft"
    )]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server, the job workers and the scheduler.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "PRESSLUFT_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Local backup store directory [default: <data-dir>/backups].
        #[arg(long, env = "PRESSLUFT_BACKUP_DIR")]
        backup_dir: Option<PathBuf>,
        #[command(flatten)]
        tuning: Tuning,
    },
    /// Manage the admin account.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Register and list nodes (prints JSON).
    #[command(subcommand)]
    Node(NodeCommand),
    /// Register and list sites (prints JSON).
    #[command(subcommand)]
    Site(SiteCommand),
    /// Register and list environments (prints JSON).
    #[command(subcommand)]
    Environment(EnvironmentCommand),
    /// Check the database, admin, backup store, Ansible, artifact tool, nodes and environments.
    Doctor(pressluft_backend::doctor::DoctorArgs),
}

/// Job engine and runner settings (defaults suit production; tests shorten them).
#[derive(clap::Args)]
struct Tuning {
    /// Directory with ansible.cfg and playbooks/ [default: the repository's ansible/].
    #[arg(long, env = "PRESSLUFT_ANSIBLE_DIR")]
    ansible_dir: Option<PathBuf>,
    /// The ansible-playbook executable.
    #[arg(
        long,
        env = "PRESSLUFT_ANSIBLE_PLAYBOOK",
        default_value = "ansible-playbook"
    )]
    ansible_playbook: PathBuf,
    /// The pressluft-artifact binary run on nodes [default: next to this executable].
    #[arg(long, env = "PRESSLUFT_ARTIFACT_BIN")]
    artifact_bin: Option<PathBuf>,
    /// Number of job workers.
    #[arg(long, env = "PRESSLUFT_WORKERS", default_value_t = 2)]
    workers: usize,
    /// Timeout of one job attempt, in seconds (ANSIBLE_TIMEOUT / JOB_TIMEOUT past it).
    #[arg(long, env = "PRESSLUFT_JOB_TIMEOUT_SECS", default_value_t = 1800)]
    job_timeout_secs: u64,
    /// Backoff before retries, comma-separated milliseconds.
    #[arg(
        long,
        env = "PRESSLUFT_RETRY_BACKOFF_MS",
        default_value = "60000,300000,900000"
    )]
    retry_backoff_ms: String,
    /// Heartbeat interval of running jobs, in milliseconds.
    #[arg(long, env = "PRESSLUFT_HEARTBEAT_MS", default_value_t = 5000)]
    heartbeat_ms: u64,
    /// A running job without heartbeat for this long is taken back, in milliseconds.
    #[arg(long, env = "PRESSLUFT_LEASE_TIMEOUT_MS", default_value_t = 60000)]
    lease_timeout_ms: u64,
    /// Fallback polling interval of idle workers, in milliseconds.
    #[arg(long, env = "PRESSLUFT_POLL_MS", default_value_t = 5000)]
    poll_ms: u64,
    /// Days a backup is kept (retention_until = creation + this).
    #[arg(long, env = "PRESSLUFT_RETENTION_DAYS", default_value_t = 30)]
    retention_days: i64,
    /// Interval of the scheduled backup_cleanup job, in seconds.
    #[arg(long, env = "PRESSLUFT_CLEANUP_INTERVAL_SECS", default_value_t = 21600)]
    cleanup_interval_secs: u64,
    /// Mark the session cookie Secure (set when served behind TLS).
    #[arg(long, env = "PRESSLUFT_COOKIE_SECURE", default_value_t = false)]
    cookie_secure: bool,
}

impl Tuning {
    fn apply(self, config: &mut Config) -> Result<(), String> {
        use std::time::Duration;
        if let Some(dir) = self.ansible_dir {
            config.ansible_dir = dir;
        }
        config.ansible_playbook = self.ansible_playbook;
        if let Some(bin) = self.artifact_bin {
            config.artifact_bin = bin;
        }
        if self.workers == 0 {
            return Err("--workers must be at least 1".into());
        }
        config.workers = self.workers;
        config.job_timeout = Duration::from_secs(self.job_timeout_secs);
        config.retry_backoff = self
            .retry_backoff_ms
            .split(',')
            .map(|p| p.trim().parse::<u64>().map(Duration::from_millis))
            .collect::<Result<_, _>>()
            .map_err(|_| {
                format!(
                    "--retry-backoff-ms `{}`: expected comma-separated milliseconds",
                    self.retry_backoff_ms
                )
            })?;
        config.heartbeat_interval = Duration::from_millis(self.heartbeat_ms);
        config.lease_timeout = Duration::from_millis(self.lease_timeout_ms);
        config.poll_interval = Duration::from_millis(self.poll_ms);
        config.retention_days = self.retention_days;
        config.cleanup_interval = Duration::from_secs(self.cleanup_interval_secs);
        config.cookie_secure = self.cookie_secure;
        Ok(())
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_target(false)
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none(),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve {
            listen,
            backup_dir,
            tuning,
        } => {
            let mut config = Config::with_data_dir(cli.data_dir);
            config.listen = listen;
            tuning.apply(&mut config)?;
            if let Some(dir) = backup_dir {
                config.backup_dir = dir;
            }
            config.storage =
                pressluft_backend::storage::StorageConfig::from_env(&config.backup_dir)
                    .map_err(|e| format!("{}: {e}", e.code()))?;
            let shutdown = CancellationToken::new();
            let state = AppState::open(config, shutdown.clone()).map_err(|e| e.to_string())?;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
            tokio::spawn(wait_for_signal(shutdown));
            pressluft_backend::serve(listener, state)
                .await
                .map_err(|e| e.to_string())
        }
        Command::Admin(cmd) => {
            let db = open_db(cli.data_dir)?;
            let mut conn = db.conn().map_err(|e| e.to_string())?;
            let line = cmd.run(&mut conn).map_err(|e| e.to_string())?;
            println!("{line}");
            Ok(())
        }
        Command::Node(cmd) => registry_command(cli.data_dir, |c| cmd.run(c)),
        Command::Site(cmd) => registry_command(cli.data_dir, |c| cmd.run(c)),
        Command::Environment(cmd) => registry_command(cli.data_dir, |c| cmd.run(c)),
        Command::Doctor(args) => match pressluft_backend::doctor::run(cli.data_dir, args).await {
            true => Ok(()),
            false => Err("doctor: some checks failed (the FAIL lines say how to fix them)".into()),
        },
    }
}

/// The database of `data_dir` (created with its directories and migrated if needed).
fn open_db(data_dir: PathBuf) -> Result<pressluft_backend::db::Db, String> {
    let state = AppState::open(Config::with_data_dir(data_dir), CancellationToken::new())
        .map_err(|e| e.to_string())?;
    Ok(state.db)
}

/// Runs a registry command on the database file and prints its JSON answer.
fn registry_command<F>(data_dir: PathBuf, f: F) -> Result<(), String>
where
    F: FnOnce(&mut rusqlite::Connection) -> Result<String, pressluft_backend::error::AppError>,
{
    let db = open_db(data_dir)?;
    let mut conn = db.conn().map_err(|e| e.to_string())?;
    let text = f(&mut conn).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}

async fn wait_for_signal(token: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("shutdown requested");
    token.cancel();
}
