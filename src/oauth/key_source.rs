//! Where a [`super::jwks::JwksCache`] gets its keys, in the shapes the key publishers use: a
//! JWK set (IdPs, Cloudflare Access), a JSON map of key id to SPKI PEM (Google IAP's
//! `public_key`), or one SPKI PEM per key id under a base URL (AWS ALB's
//! `https://public-keys.auth.elb.<region>.amazonaws.com/<kid>`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use crate::jose::PublicKey;

/// What `encodeURIComponent` escapes.
pub const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `{"keys": [JWK, ...]}` at this URL.
    JwkSet(String),
    /// `{"<kid>": "<SPKI PEM>", ...}` at this URL (or a JWK set).
    PemMap(String),
    /// `<base>/<kid>` answers the key's SPKI PEM (403 or 404 for a kid it does not have).
    PemPerKid(String),
}

impl KeySource {
    pub fn url(&self) -> &str {
        match self {
            Self::JwkSet(url) | Self::PemMap(url) | Self::PemPerKid(url) => url,
        }
    }
}

/// Keys read from one answer: by kid, and those without one.
#[derive(Default)]
pub(super) struct Fetched {
    pub keys: HashMap<String, Arc<PublicKey>>,
    pub anonymous: Vec<Arc<PublicKey>>,
}

/// Why a fetch gave no keys.
pub(super) enum FetchError {
    /// The endpoint has no such key (ALB's 403/404 for an unknown kid).
    NoSuchKey,
    /// The endpoint could not be reached or answered with an error.
    Unavailable(String),
}

pub(super) async fn fetch(
    http: &reqwest::Client,
    timeout: Duration,
    source: &KeySource,
    kid: Option<&str>,
) -> Result<Fetched, FetchError> {
    let url = match (source, kid) {
        (KeySource::PemPerKid(base), Some(kid)) => format!(
            "{}/{}",
            base.trim_end_matches('/'),
            utf8_percent_encode(kid, URI_COMPONENT)
        ),
        (KeySource::PemPerKid(_), None) => return Err(FetchError::NoSuchKey),
        (source, _) => source.url().to_owned(),
    };
    let unavailable = |reason: String| FetchError::Unavailable(format!("{url}: {reason}"));
    let response = crate::telemetry::send("idp", http.get(&url).timeout(timeout))
        .await
        .map_err(|error| unavailable(describe(&error)))?;
    let status = response.status();
    if matches!(source, KeySource::PemPerKid(_)) && matches!(status.as_u16(), 403 | 404) {
        return Err(FetchError::NoSuchKey);
    }
    if !status.is_success() {
        return Err(unavailable(format!("answered {status}")));
    }
    let text = response
        .text()
        .await
        .map_err(|error| unavailable(describe(&error)))?;
    let mut fetched = Fetched::default();
    match source {
        KeySource::JwkSet(_) => read_jwk_set(&text, &mut fetched).map_err(unavailable)?,
        // Google's `public_key-jwk` (a JWK set) serves as well as its `public_key`.
        KeySource::PemMap(_) if text.contains("\"keys\"") => {
            read_jwk_set(&text, &mut fetched).map_err(unavailable)?;
        }
        KeySource::PemMap(_) => {
            let map: HashMap<String, String> = serde_json::from_str(&text)
                .map_err(|_| unavailable("not a JSON map of key ids to PEM keys".into()))?;
            for (kid, pem) in map {
                if let Some(key) = PublicKey::from_spki_pem(&pem) {
                    fetched.keys.insert(kid, Arc::new(key));
                }
            }
        }
        KeySource::PemPerKid(_) => {
            let key = PublicKey::from_spki_pem(&text)
                .ok_or_else(|| unavailable("not an EC public key in PEM".into()))?;
            if let Some(kid) = kid {
                fetched.keys.insert(kid.to_owned(), Arc::new(key));
            }
        }
    }
    Ok(fetched)
}

fn read_jwk_set(text: &str, fetched: &mut Fetched) -> Result<(), String> {
    let document: Value =
        serde_json::from_str(text).map_err(|error| format!("not JSON: {error}"))?;
    let jwks = document["keys"].as_array().map(Vec::as_slice);
    for jwk in jwks.unwrap_or_default() {
        let signing = jwk
            .get("use")
            .and_then(Value::as_str)
            .is_none_or(|usage| usage == "sig");
        let Some(key) = PublicKey::from_jwk(jwk).filter(|_| signing) else {
            continue;
        };
        match jwk.get("kid").and_then(Value::as_str) {
            Some(kid) => {
                fetched.keys.insert(kid.to_owned(), Arc::new(key));
            }
            None => fetched.anonymous.push(Arc::new(key)),
        }
    }
    Ok(())
}

/// A transport failure in a few words (reqwest's own text names the URL again).
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "no answer in time".to_owned()
    } else if error.is_connect() {
        "the connection failed".to_owned()
    } else {
        "the request failed".to_owned()
    }
}
