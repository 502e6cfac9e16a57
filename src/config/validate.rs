//! Turns the raw config into [`Settings`], collecting every problem with its key path.

use std::collections::BTreeMap;

use url::Url;

use super::duration::DurationValue;
use super::model::{
    OneOrMany, RawAuth, RawCatalog, RawConfig, RawCors, RawDiscoveryTarget, RawGuestProvider,
    RawPort, RawStagedoor,
};
use super::{ConfigError, Problem, path_of};
use crate::catalog::{CatalogAuthSettings, CatalogSettings};
use crate::entity_ref::EntityRef;
use crate::glob::OriginPatterns;
use crate::providers::oauth_settings::{EnvReader, OAuthEnvSettings};

const DEFAULT_TOKEN_LIFETIME: i64 = 3600;
const MIN_TOKEN_LIFETIME: i64 = 600;
const MAX_TOKEN_LIFETIME: i64 = 86_400;
const DEFAULT_GUEST_REF: &str = "user:development/guest";

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
    pub database: DatabaseSettings,
    pub development: bool,
    pub token_lifetime_secs: i64,
    pub omit_ownership_claim: bool,
    pub key_store: KeyStoreSettings,
    pub extra_allowed_origins: OriginPatterns,
    pub cors: Option<CorsSettings>,
    pub guest: Option<GuestSettings>,
    pub catalog: CatalogSettings,
    /// OAuth provider environments (`oidc`, ...).
    pub oauth: Vec<OAuthEnvSettings>,
    /// Provider ids configured under `auth.providers` that stagedoor does not serve.
    pub unsupported_providers: Vec<String>,
    /// `backend.auth.externalAccess` static tokens: recognised so `/v1/userinfo` can say
    /// they are not user tokens, as Backstage does.
    pub external_static_tokens: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseSettings {
    Sqlite { url: String },
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

struct Validator {
    problems: Vec<Problem>,
}

impl Validator {
    fn problem(&mut self, path: &str, message: impl Into<String>) {
        self.problems.push(Problem::new(path, message));
    }

    fn required_url(&mut self, path: &str, value: Option<String>) -> Option<Url> {
        let Some(value) = value else {
            self.problem(
                path,
                "is required; set it to the URL users reach, e.g. https://backstage.example.com",
            );
            return None;
        };
        self.url(path, &value)
    }

    fn url(&mut self, path: &str, value: &str) -> Option<Url> {
        match Url::parse(value) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Some(url),
            _ => {
                self.problem(path, format!("\"{value}\" is not an absolute http(s) URL; expected e.g. https://backstage.example.com"));
                None
            }
        }
    }

    fn patterns(&mut self, path: &str, patterns: &[String]) -> OriginPatterns {
        OriginPatterns::new(patterns).unwrap_or_else(|message| {
            self.problem(path, message);
            OriginPatterns::empty()
        })
    }

    fn entity_ref(&mut self, path: &str, value: &str) {
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
    let (listen_host, listen_port) = listen(&mut v, &raw.stagedoor);
    let database = database(&mut v, raw.stagedoor.database.as_deref());
    let cors = raw.backend.cors.map(|cors| cors_settings(&mut v, cors));
    let catalog = catalog_settings(
        &mut v,
        &raw.stagedoor.catalog,
        &raw.discovery.endpoints,
        backend_base_url.as_ref(),
    );
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
        listen_host,
        listen_port,
        database,
        development: raw.stagedoor.development.unwrap_or(false),
        token_lifetime_secs: auth.token_lifetime_secs,
        omit_ownership_claim: auth.omit_ownership_claim,
        key_store: auth.key_store,
        extra_allowed_origins: auth.extra_allowed_origins,
        cors,
        guest: auth.guest,
        catalog,
        oauth: auth.oauth,
        unsupported_providers: auth.unsupported_providers,
        external_static_tokens,
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

/// The catalog: `stagedoor.catalog.baseUrl`, else the internal `discovery.endpoints` target
/// for `catalog`, else `backend.baseUrl` + `/api/catalog`.
fn catalog_settings(
    v: &mut Validator,
    raw: &RawCatalog,
    endpoints: &[super::model::RawDiscoveryEndpoint],
    backend_base_url: Option<&Url>,
) -> CatalogSettings {
    let discovered = endpoints.iter().enumerate().find_map(|(index, endpoint)| {
        let serves = endpoint
            .plugins
            .iter()
            .any(|plugin| plugin == "catalog" || plugin == "*");
        let internal = match &endpoint.target {
            RawDiscoveryTarget::Url(url) => Some(url),
            RawDiscoveryTarget::Split { internal, .. } => internal.as_ref(),
        };
        serves.then_some(()).and(internal).map(|url| (index, url))
    });
    let base_url = if let Some(url) = &raw.base_url {
        v.url("stagedoor.catalog.baseUrl", url)
            .map(|url| trim_slash(url.as_str()))
    } else if let Some((index, target)) = discovered {
        let target = target
            .replace("{{pluginId}}", "catalog")
            .replace("{{ pluginId }}", "catalog");
        v.url(&format!("discovery.endpoints.{index}.target"), &target)
            .map(|url| trim_slash(url.as_str()))
    } else {
        backend_base_url.map(|url| format!("{}/api/catalog", trim_slash(url.as_str())))
    };
    let auth = match &raw.auth {
        None => CatalogAuthSettings::PluginToken,
        Some(auth) => catalog_auth(v, auth),
    };
    let mut seconds =
        |key: &str, value: &Option<DurationValue>, default: f64, max: f64| -> std::time::Duration {
            let seconds = match value.as_ref().map(DurationValue::to_seconds) {
                None => default,
                Some(Ok(seconds)) if (0.0..=max).contains(&seconds) => seconds,
                Some(Ok(seconds)) => {
                    v.problem(
                        &format!("stagedoor.catalog.{key}"),
                        format!("{seconds} s is out of range; use 0 to {max} seconds"),
                    );
                    default
                }
                Some(Err(message)) => {
                    v.problem(&format!("stagedoor.catalog.{key}"), message);
                    default
                }
            };
            std::time::Duration::from_secs_f64(seconds)
        };
    CatalogSettings {
        base_url: base_url.unwrap_or_default(),
        auth,
        timeout: seconds("timeout", &raw.timeout, 5.0, 60.0),
        cache_ttl: seconds("cacheTtl", &raw.cache_ttl, 30.0, 3600.0),
        cache_capacity: raw.cache_size.unwrap_or(10_000),
    }
}

fn catalog_auth(v: &mut Validator, auth: &super::model::RawCatalogAuth) -> CatalogAuthSettings {
    let mut required = |key: &str, value: &Option<String>, example: &str| -> String {
        value.clone().unwrap_or_else(|| {
            v.problem(
                &format!("stagedoor.catalog.auth.{key}"),
                format!("is required for this auth type, e.g. {example}"),
            );
            String::new()
        })
    };
    match auth.kind.as_str() {
        "plugin" => CatalogAuthSettings::PluginToken,
        "static" => CatalogAuthSettings::Static {
            token: required("token", &auth.token, "${CATALOG_TOKEN}"),
        },
        "jwt" => CatalogAuthSettings::Jwt {
            issuer: required("issuer", &auth.issuer, "stagedoor"),
            audience: required("audience", &auth.audience, "backstage-catalog"),
            subject: required("subject", &auth.subject, "stagedoor"),
        },
        other => {
            v.problem(
                "stagedoor.catalog.auth.type",
                format!(
                    "\"{other}\" is not a catalog auth type; use plugin (default), static or jwt"
                ),
            );
            CatalogAuthSettings::PluginToken
        }
    }
}

fn trim_slash(url: &str) -> String {
    url.trim_end_matches('/').to_owned()
}

fn listen(v: &mut Validator, stagedoor: &RawStagedoor) -> (String, u16) {
    let host = stagedoor
        .listen
        .host
        .clone()
        .unwrap_or_else(|| "0.0.0.0".to_owned());
    let port = match &stagedoor.listen.port {
        None => 7007,
        Some(RawPort::Number(number)) => u16::try_from(*number).ok().unwrap_or_else(|| {
            v.problem(
                "stagedoor.listen.port",
                format!("{number} is not a port number; use 0 to 65535"),
            );
            0
        }),
        Some(RawPort::Text(text)) => text.trim().parse().unwrap_or_else(|_| {
            v.problem(
                "stagedoor.listen.port",
                format!("\"{text}\" is not a port number; use 0 to 65535"),
            );
            0
        }),
    };
    (host, port)
}

fn database(v: &mut Validator, database: Option<&str>) -> DatabaseSettings {
    let value = database.unwrap_or("./stagedoor.sqlite").trim();
    if value.starts_with("postgres://") || value.starts_with("postgresql://") {
        v.problem("stagedoor.database", "PostgreSQL is not supported by this version of stagedoor; use an SQLite file path or sqlite::memory:");
    }
    let url = if value.starts_with("sqlite:") {
        value.to_owned()
    } else if value.is_empty() {
        v.problem(
            "stagedoor.database",
            "is empty; use a file path such as ./stagedoor.sqlite, or sqlite::memory:",
        );
        String::new()
    } else {
        format!("sqlite://{value}?mode=rwc")
    };
    DatabaseSettings::Sqlite { url }
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
    let extra_allowed_origins = v.patterns(
        "auth.experimentalExtraAllowedOrigins",
        &auth.experimental_extra_allowed_origins,
    );
    let (guest, oauth, unsupported_providers) = providers(v, &auth.providers, external_base_url);
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

fn providers(
    v: &mut Validator,
    providers: &BTreeMap<String, figment::value::Value>,
    external_base_url: &str,
) -> (Option<GuestSettings>, Vec<OAuthEnvSettings>, Vec<String>) {
    let mut guest = None;
    let mut oauth = Vec::new();
    let mut unsupported = Vec::new();
    for (id, value) in providers {
        match id.as_str() {
            "guest" => guest = guest_settings(v, value),
            "oidc" => oauth.extend(oauth_environments(v, id, value, external_base_url)),
            other => {
                check_sign_in_blocks(v, other, value);
                unsupported.push(other.to_owned());
            }
        }
    }
    (guest, oauth, unsupported)
}

/// Every environment under `auth.providers.<id>` (each key is one, as in Backstage).
fn oauth_environments(
    v: &mut Validator,
    provider: &str,
    value: &figment::value::Value,
    external_base_url: &str,
) -> Vec<OAuthEnvSettings> {
    let Some(environments) = value.as_dict() else {
        v.problem(
            &format!("auth.providers.{provider}"),
            "must map environment names (e.g. development) to provider settings",
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (environment, config) in environments {
        let base = format!("auth.providers.{provider}.{environment}");
        let Some(config) = config.as_dict() else {
            v.problem(
                &base,
                "must be an object with the provider's settings (clientId, clientSecret, ...)",
            );
            continue;
        };
        let mut reader = EnvReader {
            base,
            config,
            problems: &mut v.problems,
        };
        out.push(crate::providers::oidc::settings(
            &mut reader,
            environment,
            external_base_url,
        ));
    }
    out
}

/// `auth.providers.<id>.<env>.signIn` is checked for every environment, so a bad resolver
/// name or rule stops start-up with Node's message, naming the key.
fn check_sign_in_blocks(v: &mut Validator, provider: &str, value: &figment::value::Value) {
    let Some(environments) = value.as_dict() else {
        return;
    };
    for (environment, config) in environments {
        let sign_in = config.as_dict().and_then(|config| config.get("signIn"));
        let path = format!("auth.providers.{provider}.{environment}.signIn");
        if let Err(problems) = crate::resolvers::parse_sign_in(provider, &path, sign_in) {
            for problem in problems {
                v.problem(&problem.path, problem.message);
            }
        }
    }
}

fn guest_settings(v: &mut Validator, value: &figment::value::Value) -> Option<GuestSettings> {
    let raw: RawGuestProvider = if value.to_empty().is_some() {
        RawGuestProvider::default()
    } else {
        match value.deserialize() {
            Ok(raw) => raw,
            Err(error) => {
                for error in error {
                    let mut path = vec![
                        "auth".to_owned(),
                        "providers".to_owned(),
                        "guest".to_owned(),
                    ];
                    path.extend(error.path.iter().cloned());
                    v.problem(&path_of(&path), error.kind.to_string());
                }
                return None;
            }
        }
    };
    let user_entity_ref = raw
        .user_entity_ref
        .unwrap_or_else(|| DEFAULT_GUEST_REF.to_owned());
    v.entity_ref("auth.providers.guest.userEntityRef", &user_entity_ref);
    let ownership_entity_refs = raw
        .ownership_entity_refs
        .unwrap_or_else(|| vec![user_entity_ref.clone()]);
    for (index, entity_ref) in ownership_entity_refs.iter().enumerate() {
        v.entity_ref(
            &format!("auth.providers.guest.ownershipEntityRefs.{index}"),
            entity_ref,
        );
    }
    Some(GuestSettings {
        user_entity_ref,
        ownership_entity_refs,
        allow_outside_development: raw.dangerously_allow_outside_development.unwrap_or(false),
    })
}
