//! `gcpIap` (`@backstage/plugin-auth-backend-module-gcp-iap-provider`): Google Cloud
//! Identity-Aware Proxy signs an ES256 JWT (`x-goog-iap-jwt-assertion`) for its audience.
//! Keys come from Google's kid → PEM map (or its JWK set), cached and re-fetched for an
//! unknown kid (Node fetches them on every sign-in). Unlike Node, the `alg` header must be
//! ES256, messages never echo the assertion, and unreachable keys are a 503.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::verify::{self, Refused, text};
use super::{Authenticated, ProxyContext, ProxyKind, ProxyRequest, url_override};
use crate::clock::SharedClock;
use crate::error::Error;
use crate::identity::Profile;
use crate::jose;
use crate::oauth::jwks::JwksCache;
use crate::oauth::key_source::KeySource;
use crate::resolvers::SignInInfo;
use crate::section::Section;

pub const DEFAULT_HEADER: &str = "x-goog-iap-jwt-assertion";
pub const DEFAULT_KEYS_URL: &str = "https://www.gstatic.com/iap/verify/public_key";
const ISSUER: &str = "https://cloud.google.com/iap";
/// google-auth-library's clock skew allowance, both ways.
const LEEWAY: i64 = 300;
/// google-auth-library refuses tokens that expire later than this from now.
const MAX_LIFETIME: i64 = 86_400;
const FAILED: &str = "Google IAP token verification failed, Error: ";

#[derive(Debug, Clone)]
pub struct IapSettings {
    pub audience: String,
    pub jwt_header: String,
    /// `keysUrl`: Google's PEM map (or a JWK set) of IAP's keys.
    pub keys_url: String,
}

pub fn settings(reader: &mut Section<'_>, _context: &ProxyContext<'_>) -> ProxyKind {
    let audience = reader.required(
        "audience",
        "/projects/<project number>/global/backendServices/<service id>",
    );
    let jwt_header = reader
        .string("jwtHeader")
        .unwrap_or_else(|| DEFAULT_HEADER.to_owned())
        .to_ascii_lowercase();
    if http::HeaderName::from_bytes(jwt_header.as_bytes()).is_err() {
        reader.problem(
            "jwtHeader",
            format!("\"{jwt_header}\" is not a header name"),
        );
    }
    let keys_url = url_override(reader, "keysUrl", DEFAULT_KEYS_URL.to_owned());
    ProxyKind::GcpIap(IapSettings {
        audience,
        jwt_header,
        keys_url,
    })
}

pub struct GcpIap {
    settings: IapSettings,
    keys: Arc<JwksCache>,
}

impl GcpIap {
    pub fn new(settings: IapSettings, http: &reqwest::Client, clock: &SharedClock) -> Self {
        let source = KeySource::PemMap(settings.keys_url.clone());
        let keys = verify::key_cache(source, "Google IAP's keys", http, clock);
        Self { settings, keys }
    }

    pub(super) async fn authenticate(
        &self,
        request: &ProxyRequest<'_>,
    ) -> Result<Authenticated, Error> {
        let token = request
            .non_empty(&self.settings.jwt_header)
            .ok_or_else(|| Error::authentication("Missing Google IAP header"))?;
        let claims = match verify::signature(&self.keys, token, "ES256").await {
            Ok(verified) => verified.claims,
            Err(Refused::KeysUnavailable(reason)) => {
                return Err(verify::keys_unavailable(
                    "Google IAP token verification keys",
                    &reason,
                ));
            }
            Err(Refused::Jose(name, _)) => return Err(failed(signature_message(name, token))),
        };
        self.check_claims(&claims, request.now).map_err(failed)?;
        let sub = text(&claims, "sub").ok_or_else(|| {
            Error::authentication("Google IAP token payload is missing subject claim")
        })?;
        let email = text(&claims, "email").ok_or_else(|| {
            Error::authentication("Google IAP token payload is missing email claim")
        })?;
        let mut provider_info = Map::new();
        provider_info.insert("iapToken".into(), Value::Object(claims.clone()));
        Ok(Authenticated {
            info: SignInInfo {
                profile: Profile {
                    email: Some(email.to_owned()),
                    ..Profile::default()
                },
                username: None,
                // `accounts.google.com:<id>`; without a colon there is no id.
                user_id: sub.split(':').nth(1).map(str::to_owned),
                profile_url: None,
                claims,
            },
            provider_info,
        })
    }

    /// google-auth-library's checks, in its order, with its words (never the token's).
    fn check_claims(&self, claims: &Map<String, Value>, now: i64) -> Result<(), String> {
        let iat = jose::seconds(claims, "iat").ok_or("No issue time in token")?;
        let exp = jose::seconds(claims, "exp").ok_or("No expiration time in token")?;
        if exp >= now + MAX_LIFETIME {
            return Err("Expiration time too far in future".into());
        }
        if now < iat - LEEWAY {
            return Err(format!("Token used too early, {now} < {}", iat - LEEWAY));
        }
        if now > exp + LEEWAY {
            return Err(format!("Token used too late, {now} > {}", exp + LEEWAY));
        }
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if iss != ISSUER {
            return Err(format!(
                "Invalid issuer, expected one of [{ISSUER}], but got {iss}"
            ));
        }
        if claims.get("aud").and_then(Value::as_str) != Some(self.settings.audience.as_str()) {
            return Err("Wrong recipient, payload audience != requiredAudience".into());
        }
        Ok(())
    }
}

fn failed(reason: String) -> Error {
    Error::authentication(format!("{FAILED}{reason}"))
}

fn signature_message(refusal: &str, token: &str) -> String {
    match refusal {
        "JWSInvalid" if token.split('.').count() != 3 => "Wrong number of segments in token",
        "JWSInvalid" => "Can't parse token envelope",
        "JOSEAlgNotAllowed" => "Invalid token algorithm, expected ES256",
        "JWKSNoMatchingKey" => "No pem found for envelope",
        _ => "Invalid token signature",
    }
    .to_owned()
}
