//! Helpers for other crates' tests: an emulator with in-memory state on `127.0.0.1:0`.

use std::sync::Arc;

use crate::{Emulator, EmulatorConfig, EmulatorError, MemoryStateStore};

/// Options for [`spawn_with`].
#[derive(Clone, Debug, Default)]
pub struct SpawnOptions {
    /// Path to mount the emulator at (e.g. `/zitadel`); empty = the root.
    pub prefix: String,
    /// State store to use (default: a fresh in-memory one).
    pub store: Option<Arc<MemoryStateStore>>,
    /// Data directory for the PAT/key files (default: a fresh temporary directory).
    pub data_dir: Option<std::path::PathBuf>,
}

/// Starts an emulator with in-memory state on `127.0.0.1:0`; returns its base URL (= issuer)
/// and the emulator (holding the admin PAT, default org id, …).
pub async fn spawn() -> (String, Emulator) {
    spawn_with(SpawnOptions::default())
        .await
        .expect("starting the ZITADEL emulator for a test")
}

/// [`spawn`] with options; the server task runs until the runtime stops.
pub async fn spawn_with(options: SpawnOptions) -> Result<(String, Emulator), EmulatorError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(EmulatorError::Bind)?;
    let addr = listener.local_addr().map_err(EmulatorError::Bind)?;
    let prefix = options.prefix.trim_end_matches('/').to_owned();
    let base = format!("http://{addr}{prefix}");
    let issuer = base
        .parse()
        .map_err(|e| EmulatorError::Config(format!("bad test issuer `{base}`: {e}")))?;
    let (data_dir, scratch) = match options.data_dir {
        Some(dir) => (dir, None),
        None => {
            let dir = tempfile::tempdir().map_err(|e| EmulatorError::File {
                path: "temporary directory".into(),
                source: e,
            })?;
            (dir.path().to_path_buf(), Some(dir))
        }
    };
    let store = options
        .store
        .unwrap_or_else(|| Arc::new(MemoryStateStore::new()));
    let config = EmulatorConfig::new(issuer, data_dir, store, reqwest::Client::new());
    let mut emulator = Emulator::start(config).await?;
    if let Some(dir) = scratch {
        emulator._scratch = Some(Arc::new(dir));
    }
    let router = if prefix.is_empty() {
        emulator.router()
    } else {
        axum::Router::new().nest(&prefix, emulator.router())
    };
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, router).await {
            tracing::error!(%err, "test emulator server stopped");
        }
    });
    Ok((base, emulator))
}
