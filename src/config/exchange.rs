//! `stagedoor.tokenExchange`: which IdPs' tokens machines may exchange for Backstage tokens
//! (RFC 8693), and who they become.
//!
//! ```yaml
//! stagedoor:
//!   tokenExchange:
//!     issuers:
//!       - issuer: https://example.okta.com/oauth2/default
//!         audiences: [api://backstage]
//!         clients: [0oa1ci2bot3]
//!         userEntityRef: user:default/bot-{client_id}
//!         ownershipEntityRefs: [group:default/platform]
//!     rateLimit: { perMinute: 120, burst: 20 }
//! ```

use super::model::{RawExchangeIssuer, RawTokenExchange};
use super::validator::Validator;
use super::values::OneOrMany;
use crate::exchange::{
    ExchangeIssuerSettings, IdentityMapping, KeySource, RateLimitSettings, TokenExchangeSettings,
};
use crate::resolvers::RefTemplate;

const BASE: &str = "stagedoor.tokenExchange";
/// What an issuer entry accepts unless it lists `algorithms`.
const DEFAULT_ALGORITHMS: [&str; 3] = ["RS256", "ES256", "PS256"];
/// Asymmetric JWS algorithms the JWKS verifier implements.
const SUPPORTED_ALGORITHMS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];
const DEFAULT_MAX_TOKEN_AGE_SECS: f64 = 3600.0;
const DEFAULT_PER_MINUTE: u32 = 120;
const DEFAULT_BURST: u32 = 20;

pub(super) fn token_exchange_settings(
    v: &mut Validator,
    raw: Option<&RawTokenExchange>,
    development: bool,
) -> Option<TokenExchangeSettings> {
    let raw = raw?;
    if raw.issuers.is_empty() {
        v.problem(
            &format!("{BASE}.issuers"),
            "needs at least one trusted issuer ({ issuer, audiences, clients, userEntityRef or signIn }); remove stagedoor.tokenExchange to turn the token endpoint off",
        );
    }
    let mut issuers: Vec<ExchangeIssuerSettings> = Vec::new();
    for (index, entry) in raw.issuers.iter().enumerate() {
        let path = format!("{BASE}.issuers.{index}");
        if let Some(settings) = issuer_settings(v, &path, entry, development) {
            if issuers.iter().any(|other| other.issuer == settings.issuer) {
                v.problem(
                    &format!("{path}.issuer"),
                    format!(
                        "\"{}\" is listed twice; merge the two entries",
                        settings.issuer
                    ),
                );
            }
            issuers.push(settings);
        }
    }
    let rate = raw.rate_limit.as_ref();
    let mut bounded = |key: &str, value: Option<u32>, default: u32, max: u32| match value {
        None => default,
        Some(value) if (1..=max).contains(&value) => value,
        Some(value) => {
            v.problem(
                &format!("{BASE}.rateLimit.{key}"),
                format!("{value} is out of range; use 1 to {max} (exchanges per client)"),
            );
            default
        }
    };
    let rate_limit = RateLimitSettings {
        per_minute: bounded(
            "perMinute",
            rate.and_then(|r| r.per_minute),
            DEFAULT_PER_MINUTE,
            1_000_000,
        ),
        burst: bounded(
            "burst",
            rate.and_then(|r| r.burst),
            DEFAULT_BURST,
            1_000_000,
        ),
    };
    Some(TokenExchangeSettings {
        issuers,
        rate_limit,
    })
}

fn issuer_settings(
    v: &mut Validator,
    path: &str,
    raw: &RawExchangeIssuer,
    development: bool,
) -> Option<ExchangeIssuerSettings> {
    let Some(issuer) = raw.issuer.as_deref().map(str::trim) else {
        v.problem(
            &format!("{path}.issuer"),
            "is required: the IdP's issuer exactly as its tokens' iss claim says, e.g. https://example.okta.com/oauth2/default",
        );
        return None;
    };
    v.key_source_url(&format!("{path}.issuer"), issuer, development);
    let keys = match (&raw.jwks_url, &raw.metadata_url) {
        (Some(_), Some(_)) => {
            v.problem(
                &format!("{path}.jwksUrl"),
                "and metadataUrl are both set; keep one (jwksUrl is used as is, metadataUrl is read for its jwks_uri)",
            );
            return None;
        }
        (Some(url), None) => {
            v.key_source_url(&format!("{path}.jwksUrl"), url, development);
            KeySource::Jwks(url.clone())
        }
        (None, Some(url)) => {
            v.key_source_url(&format!("{path}.metadataUrl"), url, development);
            KeySource::Discovery(url.clone())
        }
        (None, None) => KeySource::Discovery(format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        )),
    };
    let audiences = non_empty_list(
        v,
        &format!("{path}.audiences"),
        raw.audiences.clone().map(OneOrMany::into_vec),
        "is required: the audiences (aud) a token must be issued for, e.g. [api://backstage]",
    );
    let clients = non_empty_list(
        v,
        &format!("{path}.clients"),
        raw.clients.clone(),
        "is required: the client ids allowed to exchange tokens (matched against the token's client_id, azp or cid claim)",
    );
    let algorithms = algorithms(v, path, raw.algorithms.as_deref());
    let max_token_age_secs = v
        .seconds(
            &format!("{path}.maxTokenAge"),
            raw.max_token_age.as_ref(),
            DEFAULT_MAX_TOKEN_AGE_SECS,
            (1.0, 7.0 * 86_400.0),
        )
        .as_secs() as i64;
    let identity = identity(v, path, raw)?;
    let ownership_entity_refs = raw.ownership_entity_refs.clone().unwrap_or_default();
    for (index, entity_ref) in ownership_entity_refs.iter().enumerate() {
        v.entity_ref(&format!("{path}.ownershipEntityRefs.{index}"), entity_ref);
    }
    Some(ExchangeIssuerSettings {
        config_path: path.to_owned(),
        issuer: issuer.to_owned(),
        keys,
        audiences,
        algorithms,
        max_token_age_secs,
        clients,
        identity,
        ownership_entity_refs: ownership_entity_refs
            .iter()
            .filter_map(|entity_ref| crate::resolvers::normalize_ref(entity_ref))
            .collect(),
    })
}

fn non_empty_list(
    v: &mut Validator,
    path: &str,
    values: Option<Vec<String>>,
    missing: &str,
) -> Vec<String> {
    let values: Vec<String> = values
        .unwrap_or_default()
        .into_iter()
        .map(|value| value.trim().to_owned())
        .collect();
    if values.is_empty() {
        v.problem(path, missing);
    }
    for (index, value) in values.iter().enumerate() {
        if value.is_empty() {
            v.problem(&format!("{path}.{index}"), "is empty; remove it");
        }
    }
    values
}

fn algorithms(v: &mut Validator, path: &str, raw: Option<&[String]>) -> Vec<String> {
    let Some(raw) = raw else {
        return DEFAULT_ALGORITHMS.map(str::to_owned).to_vec();
    };
    if raw.is_empty() {
        v.problem(
            &format!("{path}.algorithms"),
            "is empty; list the IdP's signing algorithms (e.g. [RS256]) or remove the key for RS256, ES256 and PS256",
        );
    }
    for (index, algorithm) in raw.iter().enumerate() {
        if SUPPORTED_ALGORITHMS.contains(&algorithm.as_str()) {
            continue;
        }
        let why = if algorithm.eq_ignore_ascii_case("none") || algorithm.starts_with("HS") {
            "is never accepted (unsigned or shared-secret tokens could be forged)"
        } else {
            "is not a supported algorithm"
        };
        v.problem(
            &format!("{path}.algorithms.{index}"),
            format!(
                "\"{algorithm}\" {why}; use {}",
                SUPPORTED_ALGORITHMS.join(", ")
            ),
        );
    }
    raw.to_vec()
}

fn identity(v: &mut Validator, path: &str, raw: &RawExchangeIssuer) -> Option<IdentityMapping> {
    match (&raw.user_entity_ref, &raw.sign_in) {
        (Some(_), Some(_)) => {
            v.problem(
                &format!("{path}.userEntityRef"),
                "and signIn are both set; keep one (userEntityRef names bots outside the catalog, signIn resolves catalog users)",
            );
            None
        }
        (None, None) => {
            v.problem(
                path,
                "needs userEntityRef (e.g. 'user:default/bot-{client_id}') or signIn (resolvers, as for browser sign-in) to say who its tokens become",
            );
            None
        }
        (Some(template), None) => match RefTemplate::parse(template) {
            Ok(template) => Some(IdentityMapping::Template(template)),
            Err(message) => {
                v.problem(&format!("{path}.userEntityRef"), message);
                None
            }
        },
        (None, Some(value)) => {
            let at = format!("{path}.signIn");
            match crate::resolvers::parse_sign_in("tokenExchange", &at, Some(value)) {
                Ok(sign_in) if sign_in.is_configured() => Some(IdentityMapping::SignIn(sign_in)),
                Ok(_) => {
                    v.problem(
                        &format!("{at}.resolvers"),
                        "needs at least one resolver, e.g. [{ resolver: userEntityRefFromClaims, template: 'user:default/{client_id}' }]",
                    );
                    None
                }
                Err(problems) => {
                    for problem in problems {
                        v.problem(&problem.path, problem.message);
                    }
                    None
                }
            }
        }
    }
}
