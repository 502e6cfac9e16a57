//! Assembles the service from settings and injected dependencies, and serves it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwap;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::admin::AdminAuth;
use crate::audit::{Audit, AuditEvent};
use crate::catalog::{CatalogClient, CatalogCredentials};
use crate::clock::{SharedClock, SystemClock};
use crate::config::{MetricsSettings, Settings};
use crate::exchange::TokenExchange;
use crate::http::{self, AppState, SharedState};
use crate::keys::{KeyError, KeyManager, Rotation};
use crate::metrics::Metrics;
use crate::oauth::flow::OAuthProvider;
use crate::oauth::sealed::Sealer;
use crate::providers::guest::GuestProvider;
use crate::sessions::SessionManager;
use crate::store::{Store, StoreError};
use crate::tokens::TokenIssuer;
use crate::user_info::UserInfoWriter;

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

/// What outlives a configuration reload: the database, the keys (so tokens stay valid and
/// in-flight sign-ins can finish), the audit trail and the metrics.
pub struct Core {
    pub clock: SharedClock,
    pub store: Store,
    pub audit: Audit,
    pub metrics: Arc<Metrics>,
    pub http: reqwest::Client,
    pub keys: Arc<KeyManager>,
    pub plugin_keys: Arc<KeyManager>,
    pub sealer: Arc<Sealer>,
    /// Set once the first keys are published (see [`KeyManager::prepare`]).
    pub keys_ready: Arc<AtomicBool>,
}

impl Core {
    pub async fn start(settings: &Settings, deps: Dependencies) -> Result<Self, StartError> {
        let clock = deps.clock;
        let store = Store::connect(&settings.database).await?;
        let audit =
            Audit::start(&settings.audit).map_err(|error| StartError::Audit(error.to_string()))?;
        let metrics = Arc::new(Metrics::new());
        let rotation = Rotation {
            every_ms: settings.key_rotation_ms,
            token_lifetime_ms: settings.token_lifetime_secs * 1000,
        };
        let observers = (audit.clone(), metrics.clone());
        let keys = KeyManager::for_user_tokens(
            &settings.key_store,
            &store,
            clock.clone(),
            rotation,
            observers.clone(),
        )
        .await?;
        let plugin_keys = KeyManager::for_plugin_tokens(&store, clock.clone(), observers).await?;
        let http =
            crate::outbound::client().map_err(|error| StartError::Http(error.to_string()))?;
        let candidate = Sealer::generate_key()
            .ok_or(StartError::Http("no randomness for the sealing key".into()))?;
        let sealer = Sealer::new(&store.sealing_key(&candidate).await?).ok_or(StartError::Http(
            "the stored sealing key is not a 32-byte key".into(),
        ))?;
        let core = Self {
            clock,
            store,
            audit,
            metrics,
            http,
            keys: Arc::new(keys),
            plugin_keys: Arc::new(plugin_keys),
            sealer: Arc::new(sealer),
            keys_ready: Arc::new(AtomicBool::new(false)),
        };
        core.prepare_keys_in_background();
        Ok(core)
    }

    /// Publishes this replica's first keys while it already serves (readiness waits for
    /// them), retrying while the database is away.
    fn prepare_keys_in_background(&self) {
        let (keys, plugin_keys, ready) = (
            self.keys.clone(),
            self.plugin_keys.clone(),
            self.keys_ready.clone(),
        );
        tokio::spawn(async move {
            loop {
                match tokio::try_join!(keys.prepare(), plugin_keys.prepare()) {
                    Ok(_) => break,
                    Err(error) => {
                        tracing::warn!(
                            "publishing the first signing keys failed, retrying: {error}"
                        );
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            }
            ready.store(true, Ordering::Release);
        });
    }

    fn of(state: &AppState) -> Self {
        Self {
            clock: state.clock.clone(),
            store: state.store.clone(),
            audit: state.audit.clone(),
            metrics: state.metrics.clone(),
            http: state.http.clone(),
            keys: state.keys.clone(),
            plugin_keys: state.plugin_keys.clone(),
            sealer: state.sealer.clone(),
            keys_ready: state.keys_ready.clone(),
        }
    }

    /// Everything the configuration decides, around this core.
    pub fn assemble(self, settings: Settings) -> Result<AppState, StartError> {
        let Core {
            clock,
            store,
            audit,
            metrics,
            http,
            keys,
            plugin_keys,
            sealer,
            keys_ready,
        } = self;
        let issuer = TokenIssuer::new(
            &settings,
            keys.clone(),
            clock.clone(),
            UserInfoWriter::new(store.clone(), clock.clone()),
        );
        let credentials = CatalogCredentials::new(
            settings.catalog.auth.clone(),
            plugin_keys.clone(),
            clock.clone(),
        );
        let catalog = Arc::new(
            CatalogClient::new(settings.catalog.clone(), credentials, http.clone())
                .with_metrics(metrics.clone()),
        );
        let mut by_provider: BTreeMap<String, Vec<_>> = BTreeMap::new();
        for environment in &settings.oauth {
            by_provider
                .entry(environment.provider.clone())
                .or_default()
                .push(environment.clone());
        }
        let oauth = by_provider
            .into_iter()
            .map(|(id, environments)| {
                let provider = OAuthProvider::new(&id, environments, &http, &metrics);
                (id, provider)
            })
            .collect();
        let guest = settings
            .guest
            .clone()
            .map(|guest| GuestProvider::new(guest, settings.development, clock.clone()));
        for provider in &settings.unsupported_providers {
            tracing::warn!(
                "auth.providers.{provider} is configured, but stagedoor does not serve this provider yet; /api/auth/{provider}/* answers 404"
            );
        }
        let sessions = match &settings.sessions {
            Some(sessions) => Some(
                SessionManager::new(sessions, store.clone(), clock.clone())
                    .ok_or(StartError::Http("cannot derive the session key".into()))?,
            ),
            None => None,
        };
        let exchange = settings.token_exchange.as_ref().map(|exchange| {
            TokenExchange::new(exchange, &settings.external_base_url, &http, clock.clone())
        });
        Ok(AppState {
            exchange,
            openid_configuration: http::wellknown_openid_configuration(&settings.external_base_url),
            admin: AdminAuth::new(&settings.admin, &http),
            settings,
            clock,
            store,
            keys,
            plugin_keys,
            catalog,
            issuer,
            guest,
            oauth,
            sealer,
            sessions,
            audit,
            metrics,
            http,
            keys_ready,
        })
    }
}

pub async fn build_state(
    settings: Settings,
    deps: Dependencies,
) -> Result<Arc<AppState>, StartError> {
    let core = Core::start(&settings, deps).await?;
    Ok(Arc::new(core.assemble(settings)?))
}

/// Settings that only take effect at start-up: a reload that changes them says so.
fn restart_only_changes(old: &Settings, new: &Settings) -> Vec<&'static str> {
    let mut changed = Vec::new();
    if (old.listen_host.as_str(), old.listen_port) != (new.listen_host.as_str(), new.listen_port) {
        changed.push("stagedoor.listen");
    }
    if format!("{:?}", old.database) != format!("{:?}", new.database) {
        changed.push("stagedoor.database");
    }
    if format!("{:?}", old.key_store) != format!("{:?}", new.key_store)
        || old.key_rotation_ms != new.key_rotation_ms
    {
        changed.push("auth.keyStore / stagedoor.keyRotation");
    }
    if format!("{:?}", old.cors) != format!("{:?}", new.cors) {
        changed.push("backend.cors");
    }
    if old.audit != new.audit {
        changed.push("stagedoor.audit");
    }
    if old.logging != new.logging {
        changed.push("stagedoor.logging");
    }
    if old.metrics != new.metrics {
        changed.push("stagedoor.metrics");
    }
    changed
}

/// Replaces the running configuration with `settings` (already validated). In-flight
/// requests finish with the old one; sign-ins started before go on (their cookies are sealed
/// with the database's key, which does not change).
pub fn reload(shared: &SharedState, settings: Settings) -> Result<(), StartError> {
    let current = shared.load_full();
    let ignored = restart_only_changes(&current.settings, &settings);
    let audit = current.audit.clone();
    let next = Core::of(&current).assemble(settings)?;
    shared.store(Arc::new(next));
    let mut event = AuditEvent::new("config_reload").success();
    if !ignored.is_empty() {
        let message = format!(
            "changes to {} take effect at the next restart",
            ignored.join(", ")
        );
        tracing::warn!("configuration reloaded; {message}");
        event = event.reason(message);
    } else {
        tracing::info!("configuration reloaded");
    }
    audit.record(event);
    Ok(())
}

pub async fn bind(settings: &Settings) -> Result<TcpListener, StartError> {
    let address = format!("{}:{}", settings.listen_host, settings.listen_port);
    TcpListener::bind(&address)
        .await
        .map_err(|source| StartError::Bind { address, source })
}

/// Loads the configuration again (for SIGHUP).
pub type ConfigLoader = Arc<dyn Fn() -> Result<Settings, crate::config::ConfigError> + Send + Sync>;

/// Serves until SIGTERM or SIGINT, letting in-flight requests finish. SIGHUP reloads the
/// configuration with `loader`; a configuration that does not load leaves the current one in
/// force.
pub async fn run(
    settings: Settings,
    deps: Dependencies,
    loader: Option<ConfigLoader>,
) -> Result<(), StartError> {
    let listener = bind(&settings).await?;
    let metrics_listener = match &settings.metrics {
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
    let shared: SharedState = Arc::new(ArcSwap::new(build_state(settings, deps).await?));
    if let Ok(address) = listener.local_addr() {
        tracing::info!(
            "stagedoor listening on http://{address}{}",
            http::MOUNT_PATH
        );
    }
    if let Some(listener) = metrics_listener {
        let router = http::metrics_router(shared.clone());
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!("the metrics endpoint stopped: {error}");
            }
        });
    }
    if let Some(loader) = loader {
        tokio::spawn(reload_on_hangup(shared.clone(), loader));
    }
    axum::serve(listener, with_peer_addresses(http::router(shared)))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(StartError::Serve)
}

#[cfg(unix)]
async fn reload_on_hangup(shared: SharedState, loader: ConfigLoader) {
    let mut hangups = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => signal,
        Err(error) => {
            tracing::warn!("cannot listen for SIGHUP, configuration reload is off: {error}");
            return;
        }
    };
    while hangups.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading the configuration");
        let loaded = loader().map_err(StartError::Config);
        if let Err(error) = loaded.and_then(|settings| reload(&shared, settings)) {
            tracing::error!(
                "configuration reload refused, the current configuration stays in force: {error}"
            );
            let audit = shared.load().audit.clone();
            audit.record(AuditEvent::new("config_reload").failure(error.to_string()));
        }
    }
}

#[cfg(not(unix))]
async fn reload_on_hangup(_shared: SharedState, _loader: ConfigLoader) {}

/// Handlers see the peer address (recorded with a session).
fn with_peer_addresses(
    router: axum::Router,
) -> axum::extract::connect_info::IntoMakeServiceWithConnectInfo<axum::Router, SocketAddr> {
    router.into_make_service_with_connect_info::<SocketAddr>()
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!("cannot listen for SIGTERM: {error}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down; finishing in-flight requests");
}

/// A server running in the background of this process (tests, embedding).
pub struct RunningServer {
    pub address: SocketAddr,
    shared: SharedState,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    pub async fn start(settings: Settings, deps: Dependencies) -> Result<Self, StartError> {
        let listener = bind(&settings).await?;
        let address = listener.local_addr().map_err(StartError::Serve)?;
        let shared: SharedState = Arc::new(ArcSwap::new(build_state(settings, deps).await?));
        let (shutdown, stopped) = oneshot::channel::<()>();
        let router = http::router(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, with_peer_addresses(router))
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Self {
            address,
            shared,
            shutdown: Some(shutdown),
            task,
        })
    }

    /// The configuration in force now, with everything built from it.
    pub fn state(&self) -> Arc<AppState> {
        self.shared.load_full()
    }

    /// Replaces the configuration, as SIGHUP does.
    pub fn reload(&self, settings: Settings) -> Result<(), StartError> {
        reload(&self.shared, settings)
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
