//! Turns the raw config into [`Settings`], collecting every problem with its key path.

use url::Url;

use super::database::DatabaseSettings;
use super::duration::DurationValue;
use super::model::{
    OneOrMany, RawAuth, RawConfig, RawCors, RawDiscoveryTarget, RawPort, RawStagedoor,
};
use super::{ConfigError, Problem};
use crate::catalog::CatalogSettings;
use crate::entity_ref::EntityRef;
use crate::glob::OriginPatterns;
use crate::providers::oauth_settings::OAuthEnvSettings;

const DEFAULT_TOKEN_LIFETIME: i64 = 3600;
const MIN_TOKEN_LIFETIME: i64 = 600;
const MAX_TOKEN_LIFETIME: i64 = 86_400;

/// Everything stagedoor needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub app_base_url: Url,
    /// `scheme://host[:port]` of `app.baseUrl`: the default allowed origin.
    pub app_origin: String,
    /// External URL of the auth API, without a trailing slash: token `iss`, OIDC issuer.
    pub external_base_url: String,
    pub listen_host: String,
    pub listen_port: u16,
    /// `stagedoor.listen`'s timeouts and connection cap.
    pub connection_limits: crate::http::serve::ConnectionLimits,
    /// Peers whose `X-Forwarded-For` is believed (none by default).
    pub trusted_proxies: crate::net::TrustedProxies,
    pub database: DatabaseSettings,
    pub development: bool,
    pub token_lifetime_secs: i64,
    /// How often generated signing keys rotate (`stagedoor.keyRotation`, default: the token
    /// lifetime, as Node).
    pub key_rotation_ms: i64,
    pub omit_ownership_claim: bool,
    /// Server-side sessions; `None`: the refresh token lives in the browser, as in Node.
    pub sessions: Option<super::SessionSettings>,
    pub admin: super::AdminSettings,
    pub audit: crate::audit::AuditSink,
    pub logging: super::LoggingSettings,
    pub metrics: super::MetricsSettings,
    pub key_store: KeyStoreSettings,
    pub extra_allowed_origins: OriginPatterns,
    pub cors: Option<CorsSettings>,
    pub guest: Option<GuestSettings>,
    pub catalog: CatalogSettings,
    /// OAuth provider environments (`oidc`, ...).
    pub oauth: Vec<OAuthEnvSettings>,
    /// Provider ids configured under `auth.providers` that stagedoor does not serve.
    pub unsupported_providers: Vec<String>,
    /// `stagedoor.tokenExchange`: `None` turns `POST /v1/token` off.
    pub token_exchange: Option<super::TokenExchangeSettings>,
    /// `backend.auth.externalAccess` static tokens: recognised so `/v1/userinfo` can say
    /// they are not user tokens, as Backstage does.
    pub external_static_tokens: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum KeyStoreSettings {
    Database,
    Memory,
    Static(Vec<StaticKeySettings>),
}

#[derive(Debug, Clone)]
pub struct StaticKeySettings {
    /// Where the entry sits in the config, for error messages.
    pub config_path: String,
    pub key_id: String,
    pub public_key_pem: String,
    pub private_key_pem: String,
}

#[derive(Debug, Clone)]
pub struct CorsSettings {
    pub origins: OriginPatterns,
    pub methods: Vec<String>,
    /// `None` reflects the request's `Access-Control-Request-Headers`, as the `cors` package does.
    pub allowed_headers: Option<Vec<String>>,
    pub exposed_headers: Vec<String>,
    pub credentials: bool,
    pub max_age_secs: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct GuestSettings {
    pub user_entity_ref: String,
    pub ownership_entity_refs: Vec<String>,
    pub allow_outside_development: bool,
}

pub(super) struct Validator {
    pub(super) problems: Vec<Problem>,
}

impl Validator {
    pub(super) fn problem(&mut self, path: &str, message: impl Into<String>) {
        self.problems.push(Problem::new(path, message));
    }

    pub(super) fn required_url(&mut self, path: &str, value: Option<String>) -> Option<Url> {
        let Some(value) = value else {
            self.problem(
                path,
                "is required; set it to the URL users reach, e.g. https://backstage.example.com",
            );
            return None;
        };
        self.url(path, &value)
    }

    pub(super) fn url(&mut self, path: &str, value: &str) -> Option<Url> {
        match Url::parse(value) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Some(url),
            _ => {
                self.problem(path, format!("\"{value}\" is not an absolute http(s) URL; expected e.g. https://backstage.example.com"));
                None
            }
        }
    }

    /// A URL stagedoor trusts keys from: https, or plain http only to this machine or in
    /// development (anyone on the path could otherwise hand stagedoor their own keys).
    pub(super) fn key_source_url(&mut self, path: &str, value: &str, development: bool) {
        let Some(url) = self.url(path, value) else {
            return;
        };
        if url.scheme() == "http" && !development && !is_loopback(&url) {
            self.problem(path, format!("\"{value}\" is plain http: anyone on the network path could replace the keys stagedoor trusts; use https (plain http is allowed only to localhost, or with stagedoor.development: true)"));
        }
    }

    pub(super) fn patterns(&mut self, path: &str, patterns: &[String]) -> OriginPatterns {
        OriginPatterns::new(patterns).unwrap_or_else(|message| {
            self.problem(path, message);
            OriginPatterns::empty()
        })
    }

    /// A duration within `min..=max` seconds; `default` when absent or wrong.
    pub(super) fn seconds(
        &mut self,
        path: &str,
        value: Option<&DurationValue>,
        default: f64,
        (min, max): (f64, f64),
    ) -> std::time::Duration {
        let seconds = match value.map(DurationValue::to_seconds) {
            None => default,
            Some(Ok(seconds)) if (min..=max).contains(&seconds) => seconds,
            Some(Ok(seconds)) => {
                self.problem(
                    path,
                    format!("{seconds} s is out of range; use {min} to {max} seconds"),
                );
                default
            }
            Some(Err(message)) => {
                self.problem(path, message);
                default
            }
        };
        std::time::Duration::from_secs_f64(seconds)
    }

    pub(super) fn port(&mut self, path: &str, port: &RawPort) -> u16 {
        match port {
            RawPort::Number(number) => u16::try_from(*number).ok().unwrap_or_else(|| {
                self.problem(
                    path,
                    format!("{number} is not a port number; use 0 to 65535"),
                );
                0
            }),
            RawPort::Text(text) => text.trim().parse().unwrap_or_else(|_| {
                self.problem(
                    path,
                    format!("\"{text}\" is not a port number; use 0 to 65535"),
                );
                0
            }),
        }
    }

    pub(super) fn entity_ref(&mut self, path: &str, value: &str) {
        if EntityRef::parse_with_kind(value).is_err() {
            self.problem(path, format!("\"{value}\" is not an entity ref; expected kind:namespace/name, e.g. user:default/guest"));
        }
    }
}

pub(super) fn validate(raw: RawConfig) -> Result<Settings, ConfigError> {
    let mut v = Validator {
        problems: Vec::new(),
    };
    let app_base_url = v.required_url("app.baseUrl", raw.app.base_url);
    let backend_base_url = v.required_url("backend.baseUrl", raw.backend.base_url);
    let external_base_url = external_base_url(
        &mut v,
        &raw.stagedoor,
        &raw.discovery.endpoints,
        backend_base_url.as_ref(),
    );
    let listen = super::listen::listen(&mut v, &raw.stagedoor.listen);
    let database =
        super::database::database_settings(&mut v, &raw.stagedoor, raw.backend.database.as_ref());
    let cors = raw.backend.cors.map(|cors| cors_settings(&mut v, cors));
    let catalog = super::catalog::catalog_settings(
        &mut v,
        &raw.stagedoor.catalog,
        &raw.discovery.endpoints,
        backend_base_url.as_ref(),
    );
    let sessions = super::sessions::session_settings(&mut v, raw.stagedoor.sessions.as_ref());
    let admin = super::sessions::admin_settings(
        &mut v,
        raw.stagedoor.admin.as_ref(),
        &raw.discovery.endpoints,
        backend_base_url.as_ref(),
    );
    let development = raw.stagedoor.development.unwrap_or(false);
    if development && raw.auth.environment.as_deref() == Some("production") {
        v.problem(
            "stagedoor.development",
            "is true while auth.environment is production: development mode lets anyone sign in as the guest; remove stagedoor.development in production",
        );
    }
    let token_exchange = super::exchange::token_exchange_settings(
        &mut v,
        raw.stagedoor.token_exchange.as_ref(),
        development,
    );
    let audit = super::operations::audit_sink(&mut v, raw.stagedoor.audit.as_ref());
    let logging = super::operations::logging_settings(&mut v, raw.stagedoor.logging.as_ref());
    let metrics = super::operations::metrics_settings(&mut v, raw.stagedoor.metrics.as_ref());
    let external_static_tokens = raw
        .backend
        .auth
        .external_access
        .iter()
        .filter(|entry| entry.kind == "static")
        .filter_map(|entry| entry.options.get("token")?.as_str().map(str::to_owned))
        .collect();
    let auth = auth_settings(
        &mut v,
        raw.auth,
        external_base_url.as_deref().unwrap_or_default(),
    );

    let key_rotation_ms = v
        .seconds(
            "stagedoor.keyRotation",
            raw.stagedoor.key_rotation.as_ref(),
            auth.as_ref()
                .map_or(DEFAULT_TOKEN_LIFETIME, |auth| auth.token_lifetime_secs) as f64,
            (5.0, 30.0 * 86_400.0),
        )
        .as_millis() as i64;

    if !v.problems.is_empty() {
        return Err(v.problems.into());
    }
    let (Some(app_base_url), Some(external_base_url), Some(auth)) =
        (app_base_url, external_base_url, auth)
    else {
        return Err(vec![Problem::new("(top level)", "invalid configuration")].into());
    };
    Ok(Settings {
        app_origin: app_base_url.origin().ascii_serialization(),
        app_base_url,
        external_base_url,
        listen_host: listen.host,
        listen_port: listen.port,
        connection_limits: listen.limits,
        trusted_proxies: listen.trusted_proxies,
        database,
        development,
        token_lifetime_secs: auth.token_lifetime_secs,
        key_rotation_ms,
        sessions,
        admin,
        audit,
        logging,
        metrics,
        omit_ownership_claim: auth.omit_ownership_claim,
        key_store: auth.key_store,
        extra_allowed_origins: auth.extra_allowed_origins,
        cors,
        guest: auth.guest,
        catalog,
        oauth: auth.oauth,
        unsupported_providers: auth.unsupported_providers,
        external_static_tokens,
        token_exchange,
    })
}

fn external_base_url(
    v: &mut Validator,
    stagedoor: &RawStagedoor,
    endpoints: &[super::model::RawDiscoveryEndpoint],
    backend_base_url: Option<&Url>,
) -> Option<String> {
    if let Some(base_url) = &stagedoor.base_url {
        return v
            .url("stagedoor.baseUrl", base_url)
            .map(|url| trim_slash(url.as_str()));
    }
    let discovered = endpoints.iter().enumerate().find_map(|(index, endpoint)| {
        let serves_auth = endpoint
            .plugins
            .iter()
            .any(|plugin| plugin == "auth" || plugin == "*");
        let external = match &endpoint.target {
            RawDiscoveryTarget::Url(url) => Some(url),
            RawDiscoveryTarget::Split { external, .. } => external.as_ref(),
        };
        serves_auth
            .then_some(())
            .and(external)
            .map(|url| (index, url))
    });
    if let Some((index, target)) = discovered {
        let target = target
            .replace("{{pluginId}}", "auth")
            .replace("{{ pluginId }}", "auth");
        let path = format!("discovery.endpoints.{index}.target");
        return v.url(&path, &target).map(|url| trim_slash(url.as_str()));
    }
    backend_base_url.map(|url| format!("{}/api/auth", trim_slash(url.as_str())))
}

/// Whether `url` points at this machine.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

pub(super) fn trim_slash(url: &str) -> String {
    url.trim_end_matches('/').to_owned()
}

fn cors_settings(v: &mut Validator, cors: RawCors) -> CorsSettings {
    let origins = cors.origin.map(OneOrMany::into_vec).unwrap_or_default();
    CorsSettings {
        origins: v.patterns("backend.cors.origin", &origins),
        methods: cors.methods.map(OneOrMany::into_vec).unwrap_or_else(|| {
            ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"]
                .map(str::to_owned)
                .to_vec()
        }),
        allowed_headers: cors.allowed_headers.map(OneOrMany::into_vec),
        exposed_headers: cors
            .exposed_headers
            .map(OneOrMany::into_vec)
            .unwrap_or_default(),
        credentials: cors.credentials.unwrap_or(false),
        max_age_secs: cors.max_age,
    }
}

struct AuthSettings {
    token_lifetime_secs: i64,
    omit_ownership_claim: bool,
    key_store: KeyStoreSettings,
    extra_allowed_origins: OriginPatterns,
    guest: Option<GuestSettings>,
    oauth: Vec<OAuthEnvSettings>,
    unsupported_providers: Vec<String>,
}

fn auth_settings(
    v: &mut Validator,
    auth: RawAuth,
    external_base_url: &str,
) -> Option<AuthSettings> {
    let token_lifetime_secs = match &auth.backstage_token_expiration {
        None => DEFAULT_TOKEN_LIFETIME,
        Some(value) => match value.to_seconds() {
            Ok(seconds) => (seconds.round() as i64).clamp(MIN_TOKEN_LIFETIME, MAX_TOKEN_LIFETIME),
            Err(message) => {
                v.problem("auth.backstageTokenExpiration", message);
                DEFAULT_TOKEN_LIFETIME
            }
        },
    };
    if let Some(algorithm) = auth
        .identity_token_algorithm
        .as_deref()
        .filter(|a| *a != "ES256")
    {
        v.problem("auth.identityTokenAlgorithm", format!("\"{algorithm}\" is not supported; stagedoor signs with ES256 (remove the key or set ES256)"));
    }
    let key_store = key_store(v, &auth);
    for (index, pattern) in auth.experimental_extra_allowed_origins.iter().enumerate() {
        if crate::glob::is_too_broad(pattern) {
            v.problem(
                &format!("auth.experimentalExtraAllowedOrigins.{index}"),
                format!("\"{pattern}\" allows any site on the web (or under a whole top-level domain) to receive sign-in results; name your own domain, e.g. https://*.preview.example.com"),
            );
        }
    }
    let extra_allowed_origins = v.patterns(
        "auth.experimentalExtraAllowedOrigins",
        &auth.experimental_extra_allowed_origins,
    );
    let (guest, oauth, unsupported_providers) =
        super::providers::providers(v, &auth.providers, external_base_url);
    Some(AuthSettings {
        token_lifetime_secs,
        omit_ownership_claim: auth.omit_identity_token_ownership_claim.unwrap_or(true),
        key_store,
        extra_allowed_origins,
        guest,
        oauth,
        unsupported_providers,
    })
}

fn key_store(v: &mut Validator, auth: &RawAuth) -> KeyStoreSettings {
    match auth.key_store.provider.as_deref().unwrap_or("database") {
        "database" => KeyStoreSettings::Database,
        "memory" => KeyStoreSettings::Memory,
        "static" => KeyStoreSettings::Static(static_keys(v, auth)),
        "firestore" => {
            v.problem("auth.keyStore.provider", "\"firestore\" is not supported by stagedoor; use database (keys shared through stagedoor's database) or static");
            KeyStoreSettings::Database
        }
        other => {
            v.problem(
                "auth.keyStore.provider",
                format!("\"{other}\" is not a key store; use database, memory or static"),
            );
            KeyStoreSettings::Database
        }
    }
}

fn static_keys(v: &mut Validator, auth: &RawAuth) -> Vec<StaticKeySettings> {
    let keys = auth
        .key_store
        .static_keys
        .as_ref()
        .map(|s| s.keys.as_slice())
        .unwrap_or_default();
    if keys.is_empty() {
        v.problem("auth.keyStore.static.keys", "needs at least one key ({publicKeyFile, privateKeyFile, keyId}) when provider is static");
    }
    let mut out = Vec::new();
    for (index, key) in keys.iter().enumerate() {
        let base = format!("auth.keyStore.static.keys.{index}");
        if let Some(algorithm) = key.algorithm.as_deref().filter(|a| *a != "ES256") {
            v.problem(
                &format!("{base}.algorithm"),
                format!("\"{algorithm}\" is not supported; use ES256 keys (P-256)"),
            );
        }
        let mut read = |field: &str, file: &str| {
            std::fs::read_to_string(file).unwrap_or_else(|error| {
                v.problem(
                    &format!("{base}.{field}"),
                    format!("cannot read \"{file}\": {error}"),
                );
                String::new()
            })
        };
        let public_key_pem = read("publicKeyFile", &key.public_key_file);
        let private_key_pem = read("privateKeyFile", &key.private_key_file);
        out.push(StaticKeySettings {
            config_path: base,
            key_id: key.key_id.clone(),
            public_key_pem,
            private_key_pem,
        });
    }
    out
}
