//! Application state and the two entry points: `app(state)` (a Router for in-process tests) and
//! `serve(listener, state, shutdown)` (the real server with its job engine and scheduler).

use crate::config::Config;
use crate::db::Db;
use crate::error::AppError;
use crate::jobs::JobsHandle;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub jobs: JobsHandle,
    pub shutdown: CancellationToken,
    /// The backup store (local directory or S3).
    pub storage: Arc<crate::storage::BackupStore>,
}

impl AppState {
    /// Opens the database (applying migrations) and prepares the directories.
    pub fn open(config: Config, shutdown: CancellationToken) -> Result<AppState, AppError> {
        for dir in [&config.data_dir, &config.backup_dir] {
            create_private_dir(dir)?;
        }
        let db = Db::open(&config.db_path())?;
        let storage = crate::storage::BackupStore::from_config(&config.storage)
            .map_err(|e| AppError::internal(format!("backup store: {}: {e}", e.code())))?;
        tracing::info!(store = %storage.describe(), "backup store");
        Ok(AppState {
            db,
            config: Arc::new(config),
            jobs: JobsHandle::new(),
            shutdown,
            storage: Arc::new(storage),
        })
    }
}

fn create_private_dir(dir: &std::path::Path) -> Result<(), AppError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| AppError::internal(format!("cannot create {}: {e}", dir.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| AppError::internal(format!("cannot chmod {}: {e}", dir.display())))?;
    }
    Ok(())
}

pub fn app(state: AppState) -> axum::Router {
    crate::router::router(state)
}

/// Serves the API on `listener`, runs the job engine and the scheduler, and returns after
/// `shutdown` is cancelled and in-flight work has stopped (bounded).
pub async fn serve(listener: TcpListener, state: AppState) -> std::io::Result<()> {
    let shutdown = state.shutdown.clone();
    let engine = crate::jobs::Engine::start(state.clone());
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "pressluft-server listening");
    let router = app(state);
    let graceful = {
        let token = shutdown.clone();
        async move { token.cancelled().await }
    };
    // Connect info gives the login throttle the client address.
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, service).with_graceful_shutdown(graceful);
    let result = server.await;
    engine.stop().await;
    tracing::info!("pressluft-server stopped");
    result
}
