//! Turns the raw config into [`Settings`], collecting every problem with its key path.

use super::model::{RawConfig, RawStagedoor};
use super::settings::Settings;
use super::validator::Validator;
use super::{ConfigError, Problem};
use crate::http::WebSettings;
use crate::keys::KeySettings;
use crate::tokens::TokenSettings;

/// `env` reads the process environment: `NODE_ENV=development` means development, as in
/// Backstage.
pub(super) fn validate(
    mut raw: RawConfig,
    env: super::EnvLookup<'_>,
) -> Result<Settings, ConfigError> {
    let mut v = Validator {
        problems: Vec::new(),
    };
    let app_base_url = v.required_url("app.baseUrl", raw.app.base_url.take());
    let backend_base_url = v.required_url("backend.baseUrl", raw.backend.base_url.take());
    let external_base_url = super::web::external_base_url(
        &mut v,
        &raw.stagedoor,
        &raw.discovery.endpoints,
        backend_base_url.as_ref(),
    );
    let listen = super::listen::listen(&mut v, &raw.stagedoor.listen);
    let development = development(
        &mut v,
        &raw.stagedoor,
        raw.auth.environment.as_deref(),
        env("NODE_ENV").as_deref(),
    );
    let drain_period =
        super::listen::drain_period(&mut v, raw.stagedoor.shutdown.as_ref(), development);
    let database =
        super::database::database_settings(&mut v, &raw.stagedoor, raw.backend.database.as_ref());
    let cors = raw
        .backend
        .cors
        .take()
        .map(|cors| super::web::cors_settings(&mut v, cors));
    let catalog = super::catalog::catalog_settings(
        &mut v,
        &raw.stagedoor.catalog,
        &raw.discovery.endpoints,
        backend_base_url.as_ref(),
    );
    let sessions = super::sessions::session_settings(&mut v, raw.stagedoor.sessions.as_ref());
    let admin = super::sessions::admin_settings(&mut v, &raw, backend_base_url.as_ref());
    let token_exchange = super::exchange::token_exchange_settings(
        &mut v,
        raw.stagedoor.token_exchange.as_ref(),
        development,
    );
    let audit = super::operations::audit_sink(&mut v, raw.stagedoor.audit.as_ref());
    let logging = super::operations::logging_settings(&mut v, raw.stagedoor.logging.as_ref());
    let metrics = super::operations::metrics_settings(&mut v, raw.stagedoor.metrics.as_ref());
    let authz = super::authz::authz_settings(&mut v, &raw.auth);
    let mut actions = super::authz::actions_settings(&mut v, raw.backend.actions.as_ref());
    actions.discovery = plugin_discovery(&raw, backend_base_url.as_ref());
    let auth = super::auth::auth_settings(
        &mut v,
        raw.auth,
        external_base_url.as_deref().unwrap_or_default(),
        env,
    );

    let key_rotation_ms = super::auth::key_rotation_ms(&mut v, &raw.stagedoor, auth.as_ref());

    if !v.problems.is_empty() {
        return Err(v.problems.into());
    }
    let (Some(app_base_url), Some(external_base_url), Some(auth)) =
        (app_base_url, external_base_url, auth)
    else {
        return Err(vec![Problem::new("(top level)", "invalid configuration")].into());
    };
    Ok(Settings {
        web: WebSettings {
            listen: listen.settings,
            app_origin: app_base_url.origin().ascii_serialization(),
            extra_allowed_origins: auth.extra_allowed_origins,
            trusted_proxies: listen.trusted_proxies,
            metrics,
            cors,
            external_static_tokens: super::web::external_static_tokens(&raw.backend),
            drain_period,
        },
        app_base_url,
        tokens: TokenSettings {
            issuer: external_base_url.clone(),
            lifetime_secs: auth.token_lifetime_secs,
            omit_ownership_claim: auth.omit_ownership_claim,
        },
        external_base_url,
        database,
        development,
        keys: KeySettings {
            store: auth.key_store,
            rotation_ms: key_rotation_ms,
        },
        sessions,
        admin,
        audit,
        logging,
        catalog,
        providers: auth.providers,
        token_exchange,
        authz,
        actions,
    })
}

/// Where plugins are (their internal URLs), for the keys of the service tokens they send.
fn plugin_discovery(
    raw: &RawConfig,
    backend_base_url: Option<&url::Url>,
) -> crate::actions::PluginDiscovery {
    use super::model::RawDiscoveryTarget;
    let endpoints = raw
        .discovery
        .endpoints
        .iter()
        .filter_map(|endpoint| {
            let internal = match &endpoint.target {
                RawDiscoveryTarget::Url(url) => Some(url),
                RawDiscoveryTarget::Split { internal, .. } => internal.as_ref(),
            }?;
            Some((endpoint.plugins.clone(), internal.clone()))
        })
        .collect();
    crate::actions::PluginDiscovery {
        endpoints,
        backend_base_url: backend_base_url.map(|url| url.as_str().trim_end_matches('/').to_owned()),
    }
}

/// Development: `stagedoor.development` when set, else `NODE_ENV=development` (what it means to
/// Backstage); never together with `auth.environment: production`, where development would let
/// anyone sign in as the guest.
fn development(
    v: &mut Validator,
    stagedoor: &RawStagedoor,
    environment: Option<&str>,
    node_env: Option<&str>,
) -> bool {
    let (development, key, value, fix) = match stagedoor.development {
        Some(development) => (
            development,
            "stagedoor.development",
            "true",
            "remove stagedoor.development in production",
        ),
        None => (
            node_env == Some("development"),
            "NODE_ENV",
            "development",
            "unset NODE_ENV or set it to production (or set stagedoor.development: false)",
        ),
    };
    if development && environment == Some("production") {
        v.problem(
            key,
            format!("is {value} while auth.environment is production: development mode lets anyone sign in as the guest; {fix}"),
        );
    }
    development
}
