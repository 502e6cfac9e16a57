//! The service's parts: those that outlive a configuration reload, and those built from it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{Dependencies, StartError};
use crate::actions::{Actions, PluginKeys};
use crate::admin::AdminAuth;
use crate::audit::Audit;
use crate::authz::AuthorizationServer;
use crate::catalog::{CatalogClient, CatalogCredentials};
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::exchange::TokenExchange;
use crate::http::{self, AppState, Draining, Features, Grants};
use crate::keys::{KeyManager, Rotation};
use crate::metrics::Metrics;
use crate::oauth::sealed::Sealer;
use crate::providers::guest::GuestProvider;
use crate::providers::proxy::ProxyProvider;
use crate::sessions::SessionManager;
use crate::signin::Providers;
use crate::signin::oauth::OAuthProvider;
use crate::store::Store;
use crate::tokens::TokenIssuer;
use crate::user_info::UserInfoWriter;

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
    /// Set at SIGTERM (see [`crate::http::Draining`]).
    pub draining: Draining,
}

impl Core {
    pub async fn start(settings: &Settings, deps: Dependencies) -> Result<Self, StartError> {
        let clock = deps.clock;
        let store = Store::connect(&settings.database).await?;
        let audit = Audit::start(&settings.audit, clock.clone())
            .map_err(|error| StartError::Audit(error.to_string()))?;
        let metrics = Arc::new(Metrics::new());
        let rotation = Rotation {
            every_ms: settings.keys.rotation_ms,
            token_lifetime_ms: settings.tokens.lifetime_secs * 1000,
        };
        let observers = (audit.clone(), metrics.clone());
        let shared = settings.database.is_shared();
        let keys = KeyManager::for_user_tokens(
            &settings.keys.store,
            (&store, shared),
            clock.clone(),
            rotation,
            observers.clone(),
        )
        .await?;
        let plugin_keys =
            KeyManager::for_plugin_tokens((&store, shared), clock.clone(), observers).await?;
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
            draining: Draining::default(),
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

    pub(super) fn of(state: &AppState) -> Self {
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
            draining: state.draining.clone(),
        }
    }

    /// Everything the configuration decides, around this core.
    pub fn assemble(self, settings: &Settings) -> Result<AppState, StartError> {
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
            draining,
        } = self;
        let issuer = TokenIssuer::new(
            &settings.tokens,
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
            CatalogClient::new(
                settings.catalog.clone(),
                credentials,
                http.clone(),
                clock.clone(),
            )
            .with_metrics(metrics.clone()),
        );
        let sessions = match &settings.sessions {
            Some(sessions) => Some(
                SessionManager::new(sessions, store.clone(), clock.clone())
                    .ok_or(StartError::Http("cannot derive the session key".into()))?,
            ),
            None => None,
        };
        Ok(AppState {
            openid_configuration: http::wellknown_openid_configuration(
                &settings.external_base_url,
                settings.authz.features(),
            ),
            features: features(settings, &http, &metrics, &clock)?,
            routes: Arc::new(vec![
                crate::authz::route(),
                crate::authz::root_route(),
                crate::actions::route(),
                crate::admin::route(),
                crate::signin::route(),
            ]),
            grants: Arc::new(grants(settings)),
            web: settings.web.clone(),
            clock,
            store,
            keys,
            plugin_keys,
            catalog,
            issuer,
            sealer,
            sessions,
            audit,
            metrics,
            http,
            keys_ready,
            draining,
        })
    }
}

/// The grants `POST /v1/token` serves: token exchange, and the authorization server's.
fn grants(settings: &Settings) -> Grants {
    let mut grants = Grants::default();
    if settings.token_exchange.is_some() {
        grants.add(crate::exchange::grant());
    }
    if settings.authz.is_enabled() {
        for grant in crate::authz::grants() {
            grants.add(grant);
        }
    }
    grants
}

/// Each feature's state: the providers, the token exchange, the admin API, the authorization
/// server and the actions registry, as configured.
fn features(
    settings: &Settings,
    http: &reqwest::Client,
    metrics: &Arc<Metrics>,
    clock: &SharedClock,
) -> Result<Features, StartError> {
    let mut features = Features::default();
    if settings.authz.is_enabled() {
        let server = AuthorizationServer::new(
            &settings.authz,
            &settings.external_base_url,
            &settings.app_base_url,
            settings.development,
        )
        .map_err(|error| StartError::Http(error.to_string()))?;
        features.insert(server);
    }
    features.insert(Actions {
        settings: settings.actions.clone(),
        keys: PluginKeys::new(
            settings.actions.discovery.clone(),
            http.clone(),
            clock.clone(),
        ),
    });
    features.insert(providers(settings, http, metrics, clock));
    if let Some(exchange) = &settings.token_exchange {
        features.insert(TokenExchange::new(
            exchange,
            &settings.external_base_url,
            http,
            clock.clone(),
        ));
    }
    let admin = AdminAuth::new(&settings.admin, http, clock);
    if admin.is_enabled() {
        features.insert(admin);
    }
    Ok(features)
}

fn providers(
    settings: &Settings,
    http: &reqwest::Client,
    metrics: &Arc<Metrics>,
    clock: &SharedClock,
) -> Providers {
    let mut by_provider: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for environment in &settings.providers.oauth {
        by_provider
            .entry(environment.provider.clone())
            .or_default()
            .push(environment.clone());
    }
    let oauth = by_provider
        .into_iter()
        .map(|(id, environments)| {
            let provider = OAuthProvider::new(&id, environments, http, metrics, clock);
            // Routes match provider ids case-insensitively, as Express does
            // (`/bitbucketServer/start` and `/bitbucketserver/start`).
            (id.to_ascii_lowercase(), provider)
        })
        .collect();
    for provider in &settings.providers.unsupported {
        tracing::warn!(
            "auth.providers.{provider} is configured, but stagedoor does not serve this provider yet; /api/auth/{provider}/* answers 404"
        );
    }
    let proxy = settings
        .providers
        .proxy
        .iter()
        .map(|proxy| {
            let provider = ProxyProvider::new(proxy.clone(), http, clock.clone());
            (proxy.id.to_ascii_lowercase(), provider)
        })
        .collect();
    Providers {
        oauth,
        proxy,
        guest: settings
            .providers
            .guest
            .clone()
            .map(|guest| GuestProvider::new(guest, settings.development, clock.clone())),
    }
}

pub async fn build_state(
    settings: &Settings,
    deps: Dependencies,
) -> Result<Arc<AppState>, StartError> {
    let core = Core::start(settings, deps).await?;
    Ok(Arc::new(core.assemble(settings)?))
}
