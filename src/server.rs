//! Assembles the service from settings and injected dependencies, and serves it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::admin::AdminAuth;
use crate::audit::Audit;
use crate::catalog::{CatalogClient, CatalogCredentials};
use crate::clock::{SharedClock, SystemClock};
use crate::config::Settings;
use crate::exchange::TokenExchange;
use crate::http::{self, AppState};
use crate::keys::{KeyError, KeyManager, Rotation};
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

pub async fn build_state(
    settings: Settings,
    deps: Dependencies,
) -> Result<Arc<AppState>, StartError> {
    let clock = deps.clock;
    let store = Store::connect(&settings.database).await?;
    let keys = Arc::new(
        KeyManager::for_user_tokens(
            &settings.key_store,
            &store,
            clock.clone(),
            Rotation {
                every_ms: settings.key_rotation_ms,
                token_lifetime_ms: settings.token_lifetime_secs * 1000,
            },
        )
        .await?,
    );
    let issuer = TokenIssuer::new(
        &settings,
        keys.clone(),
        clock.clone(),
        UserInfoWriter::new(store.clone(), clock.clone()),
    );
    let plugin_keys = Arc::new(KeyManager::for_plugin_tokens(&store, clock.clone()).await?);
    let http = crate::outbound::client().map_err(|error| StartError::Http(error.to_string()))?;
    let credentials = CatalogCredentials::new(
        settings.catalog.auth.clone(),
        plugin_keys.clone(),
        clock.clone(),
    );
    let catalog = Arc::new(CatalogClient::new(
        settings.catalog.clone(),
        credentials,
        http.clone(),
    ));
    let candidate = Sealer::generate_key()
        .ok_or(StartError::Http("no randomness for the sealing key".into()))?;
    let sealer = Sealer::new(&store.sealing_key(&candidate).await?).ok_or(StartError::Http(
        "the stored sealing key is not a 32-byte key".into(),
    ))?;
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
            let provider = OAuthProvider::new(&id, environments, &http);
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
    let audit =
        Audit::start(&settings.audit).map_err(|error| StartError::Audit(error.to_string()))?;
    let exchange = settings.token_exchange.as_ref().map(|exchange| {
        TokenExchange::new(exchange, &settings.external_base_url, &http, clock.clone())
    });
    Ok(Arc::new(AppState {
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
        exchange,
    }))
}

pub async fn bind(settings: &Settings) -> Result<TcpListener, StartError> {
    let address = format!("{}:{}", settings.listen_host, settings.listen_port);
    TcpListener::bind(&address)
        .await
        .map_err(|source| StartError::Bind { address, source })
}

/// Serves until SIGTERM or SIGINT, letting in-flight requests finish.
pub async fn run(settings: Settings, deps: Dependencies) -> Result<(), StartError> {
    let listener = bind(&settings).await?;
    let state = build_state(settings, deps).await?;
    if let Ok(address) = listener.local_addr() {
        tracing::info!(
            "stagedoor listening on http://{address}{}",
            http::MOUNT_PATH
        );
    }
    axum::serve(listener, with_peer_addresses(http::router(state)))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(StartError::Serve)
}

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
    pub state: Arc<AppState>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    pub async fn start(settings: Settings, deps: Dependencies) -> Result<Self, StartError> {
        let listener = bind(&settings).await?;
        let address = listener.local_addr().map_err(StartError::Serve)?;
        let state = build_state(settings, deps).await?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        let router = http::router(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, with_peer_addresses(router))
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Self {
            address,
            state,
            shutdown: Some(shutdown),
            task,
        })
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
