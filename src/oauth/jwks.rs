//! A JWK set fetched over HTTP (an IdP's `jwks_uri`, a trusted issuer's keys, a plugin's
//! service-token keys): cached, re-fetched when a token names an unknown `kid` (at most once
//! per [`MIN_REFETCH_INTERVAL_MS`] on the injected clock), and verifying JWS with only the
//! algorithms the caller allows (never `none`, never HMAC).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use serde_json::{Map, Value};

use crate::clock::{SharedClock, UnixMillis};
use crate::jose::{self, PublicKey};

/// ID tokens come from the token endpoint, never from a browser, so this only guards the IdP
/// against a burst of sign-ins right after it rotated.
const MIN_REFETCH_INTERVAL_MS: i64 = 1_000;

struct KeySet {
    keys: HashMap<String, Arc<PublicKey>>,
    /// Keys without a kid, tried when the token names none.
    anonymous: Vec<Arc<PublicKey>>,
    fetched_at: UnixMillis,
}

/// Why a JWS was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    /// The token itself: its shape, algorithm, key id or signature.
    #[error("{0}")]
    Invalid(String),
    /// The key set could not be fetched: not the token's fault.
    #[error("{0}")]
    KeysUnavailable(String),
}

pub struct JwksCache {
    uri: String,
    http: reqwest::Client,
    timeout: Duration,
    clock: SharedClock,
    current: ArcSwapOption<KeySet>,
    fetch_lock: tokio::sync::Mutex<()>,
}

impl JwksCache {
    pub fn new(uri: String, http: reqwest::Client, timeout: Duration, clock: SharedClock) -> Self {
        Self {
            uri,
            http,
            timeout,
            clock,
            current: ArcSwapOption::empty(),
            fetch_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Checks a JWS's signature against this key set, allowing only `algorithms`, and returns
    /// its header and claims. `what` names the token in errors.
    pub async fn verify_jws(
        &self,
        token: &str,
        algorithms: &[String],
        what: &str,
    ) -> Result<(Map<String, Value>, Map<String, Value>), JwsError> {
        let invalid = JwsError::Invalid;
        let jws =
            jose::Compact::parse(token).ok_or_else(|| invalid(format!("{what} is not a JWS")))?;
        let header: Map<String, Value> = jws
            .header()
            .ok_or_else(|| invalid(format!("{what} header is not JSON")))?;
        let alg = header.get("alg").and_then(Value::as_str).unwrap_or("none");
        if !algorithms.iter().any(|allowed| allowed == alg)
            || alg == "none"
            || alg.starts_with("HS")
        {
            return Err(invalid(format!(
                "{what} is signed with {alg}, which is not allowed (expected {})",
                algorithms.join(", ")
            )));
        }
        let signature = jws
            .signature_bytes()
            .ok_or_else(|| invalid(format!("{what} signature is not base64url")))?;
        let keys = self.key(header.get("kid").and_then(Value::as_str)).await?;
        let message = jws.signing_input.as_bytes();
        if !keys
            .iter()
            .any(|key| jose::verify(alg, key, message, &signature))
        {
            return Err(invalid(format!("{what} signature is invalid")));
        }
        let claims = jws
            .claims()
            .ok_or_else(|| invalid(format!("{what} payload is not JSON")))?;
        Ok((header, claims))
    }

    /// As [`Self::verify_jws`], every failure as text.
    pub async fn verify_signature(
        &self,
        token: &str,
        algorithms: &[String],
        what: &str,
    ) -> Result<(Map<String, Value>, Map<String, Value>), String> {
        self.verify_jws(token, algorithms, what)
            .await
            .map_err(|error| error.to_string())
    }

    async fn key(&self, kid: Option<&str>) -> Result<Vec<Arc<PublicKey>>, JwsError> {
        if let Some(found) = self.lookup(kid) {
            return Ok(found);
        }
        let _guard = self.fetch_lock.lock().await;
        if let Some(found) = self.lookup(kid) {
            return Ok(found);
        }
        let now = self.clock.now_millis();
        let recently = self
            .current
            .load()
            .as_ref()
            .is_some_and(|set| now.saturating_sub(set.fetched_at) < MIN_REFETCH_INTERVAL_MS);
        let unknown = || JwsError::Invalid(format!("no key with kid {kid:?} in the IdP's JWKS"));
        if recently {
            return Err(unknown());
        }
        let set = self.fetch(now).await.map_err(JwsError::KeysUnavailable)?;
        self.current.store(Some(Arc::new(set)));
        self.lookup(kid).ok_or_else(unknown)
    }

    fn lookup(&self, kid: Option<&str>) -> Option<Vec<Arc<PublicKey>>> {
        let set = self.current.load_full()?;
        match kid {
            Some(kid) => set.keys.get(kid).map(|key| vec![key.clone()]),
            None if !set.anonymous.is_empty() || !set.keys.is_empty() => Some(
                set.anonymous
                    .iter()
                    .chain(set.keys.values())
                    .cloned()
                    .collect(),
            ),
            None => None,
        }
    }

    async fn fetch(&self, now: UnixMillis) -> Result<KeySet, String> {
        let request = self.http.get(&self.uri).timeout(self.timeout);
        let response = crate::telemetry::send("idp", request)
            .await
            .map_err(|error| format!("cannot fetch the IdP's JWKS from {}: {error}", self.uri))?;
        if !response.status().is_success() {
            return Err(format!(
                "the IdP's JWKS at {} answered {}",
                self.uri,
                response.status()
            ));
        }
        let document: Value = response
            .json()
            .await
            .map_err(|error| format!("the IdP's JWKS is not JSON: {error}"))?;
        let mut set = KeySet {
            keys: HashMap::new(),
            anonymous: Vec::new(),
            fetched_at: now,
        };
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
                    set.keys.insert(kid.to_owned(), Arc::new(key));
                }
                None => set.anonymous.push(Arc::new(key)),
            }
        }
        Ok(set)
    }
}
