//! Assembles the service from settings and injected dependencies, and serves it.

mod core;
mod reload;
mod shutdown;
mod watch;

pub use core::{Core, build_state};
use reload::reload_on_hangup;
pub use reload::{ConfigLoader, Configured};
pub use watch::ConfigFingerprint;

use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::clock::{SharedClock, SystemClock};
use crate::config::Settings;
use crate::http::MetricsSettings;
use crate::http::serve::serve;
use crate::http::{self, AppState, SharedState};
use crate::keys::KeyError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("stagedoor.database: {0}")]
    Store(#[from] StoreError),
    #[error("auth.keyStore: {0}")]
    Keys(#[from] KeyError),
    #[error("stagedoor.listen: cannot listen on {address}: {source}; choose a free host and port")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error("stagedoor.audit.path: cannot open the audit log: {0}")]
    Audit(String),
    #[error("cannot set up the HTTP client: {0}")]
    Http(String),
    #[error("the server stopped with an error: {0}")]
    Serve(std::io::Error),
}

/// How the configuration is read again: on SIGHUP with `load`, and when `fingerprint` (if
/// any) changes.
#[derive(Clone)]
pub struct Reloading {
    pub load: ConfigLoader,
    pub fingerprint: Option<ConfigFingerprint>,
}

/// What varies between production and tests.
#[derive(Clone)]
pub struct Dependencies {
    pub clock: SharedClock,
}

impl Default for Dependencies {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
        }
    }
}

pub async fn bind(settings: &Settings) -> Result<TcpListener, StartError> {
    let address = format!("{}:{}", settings.web.listen.host, settings.web.listen.port);
    TcpListener::bind(&address)
        .await
        .map_err(|source| StartError::Bind { address, source })
}

/// Serves until SIGTERM (after the drain period, see [`shutdown`]) or SIGINT, letting in-flight
/// requests finish. SIGHUP, or a change of the files, reloads the configuration with
/// `reloading`; a configuration that does not load leaves the current one in force.
pub async fn run(
    settings: Settings,
    deps: Dependencies,
    reloading: Option<Reloading>,
) -> Result<(), StartError> {
    let listener = bind(&settings).await?;
    let metrics_listener = match &settings.web.metrics {
        MetricsSettings::Separate { host, port } => {
            let address = format!("{host}:{port}");
            Some(
                TcpListener::bind(&address)
                    .await
                    .map_err(|source| StartError::Bind { address, source })?,
            )
        }
        _ => None,
    };
    let limits = settings.web.listen.limits;
    for finding in crate::doctor::risky_settings(&settings) {
        tracing::warn!("{}: {} ({})", finding.check, finding.message, finding.fix);
    }
    let clock = deps.clock.clone();
    let shared: SharedState = Arc::new(ArcSwap::new(build_state(&settings, deps).await?));
    let configured = Configured::new(shared.clone(), settings);
    if let Ok(address) = listener.local_addr() {
        tracing::info!(
            "stagedoor listening on http://{address}{}",
            http::MOUNT_PATH
        );
    }
    if let Some(listener) = metrics_listener {
        let router = http::metrics_router(shared.clone());
        tokio::spawn(serve(listener, router, limits, std::future::pending()));
    }
    if let Some(Reloading { load, fingerprint }) = reloading {
        if let Some(fingerprint) = fingerprint {
            tokio::spawn(watch::reload_on_change(
                configured.clone(),
                load.clone(),
                fingerprint,
            ));
        }
        tokio::spawn(reload_on_hangup(configured, load));
    }
    let drained = shutdown::drained(shared.clone(), clock);
    serve(listener, http::router(shared), limits, drained).await;
    Ok(())
}

/// A server running in the background of this process (tests, embedding).
pub struct RunningServer {
    pub address: SocketAddr,
    configured: Arc<Configured>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl RunningServer {
    pub async fn start(settings: Settings, deps: Dependencies) -> Result<Self, StartError> {
        let listener = bind(&settings).await?;
        let address = listener.local_addr().map_err(StartError::Serve)?;
        let limits = settings.web.listen.limits;
        let shared: SharedState = Arc::new(ArcSwap::new(build_state(&settings, deps).await?));
        let (shutdown, stopped) = oneshot::channel::<()>();
        let router = http::router(shared.clone());
        let task = tokio::spawn(serve(listener, router, limits, async {
            let _ = stopped.await;
        }));
        Ok(Self {
            address,
            configured: Configured::new(shared, settings),
            shutdown: Some(shutdown),
            task,
        })
    }

    /// The configuration in force now, with everything built from it.
    pub fn state(&self) -> Arc<AppState> {
        self.configured.state.load_full()
    }

    /// Replaces the configuration, as SIGHUP does.
    pub fn reload(&self, settings: Settings) -> Result<(), StartError> {
        self.configured.reload(settings)
    }

    /// `http://127.0.0.1:<port>/api/auth`
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.address, http::MOUNT_PATH)
    }

    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let _ = (&mut self.task).await;
    }
}
