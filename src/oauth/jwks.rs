//! A key set fetched over HTTP (an IdP's `jwks_uri`, a trusted issuer's keys, a plugin's
//! service-token keys, an authenticating proxy's keys in its own shape: [`KeySource`]): cached, re-fetched when a token names an unknown `kid` (at most once
//! per [`MIN_REFETCH_INTERVAL_MS`] on the injected clock), and verifying JWS with only the
//! algorithms the caller allows (never `none`, never HMAC).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use serde_json::{Map, Value};

use super::key_source::{self, FetchError, KeySource};
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
    /// The token's shape: not three segments, a header or payload that is not JSON.
    #[error("{0}")]
    Invalid(String),
    /// Its `alg` is not one the caller allows.
    #[error("{0}")]
    AlgorithmNotAllowed(String),
    /// No published key has its `kid` (or it names none where one is needed).
    #[error("{0}")]
    UnknownKey(String),
    /// The signature does not verify with the key.
    #[error("{0}")]
    BadSignature(String),
    /// The key set could not be fetched: not the token's fault.
    #[error("{0}")]
    KeysUnavailable(String),
}

pub struct JwksCache {
    source: KeySource,
    /// How messages name the key set ("the IdP's JWKS").
    name: String,
    http: reqwest::Client,
    timeout: Duration,
    clock: SharedClock,
    current: ArcSwapOption<KeySet>,
    fetch_lock: tokio::sync::Mutex<()>,
    /// When a per-kid endpoint last said it has no such key: unknown kids are then refused
    /// without asking again for [`MIN_REFETCH_INTERVAL_MS`].
    last_miss: AtomicI64,
}

impl JwksCache {
    /// An IdP's JWK set at `uri`.
    pub fn new(uri: String, http: reqwest::Client, timeout: Duration, clock: SharedClock) -> Self {
        Self::from_source(
            KeySource::JwkSet(uri),
            "the IdP's JWKS",
            http,
            timeout,
            clock,
        )
    }

    /// Keys from `source`, called `name` in messages.
    pub fn from_source(
        source: KeySource,
        name: &str,
        http: reqwest::Client,
        timeout: Duration,
        clock: SharedClock,
    ) -> Self {
        Self {
            source,
            name: name.to_owned(),
            http,
            timeout,
            clock,
            current: ArcSwapOption::empty(),
            fetch_lock: tokio::sync::Mutex::new(()),
            last_miss: AtomicI64::new(i64::MIN),
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
            return Err(JwsError::AlgorithmNotAllowed(format!(
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
            return Err(JwsError::BadSignature(format!(
                "{what} signature is invalid"
            )));
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
        let per_kid = matches!(self.source, KeySource::PemPerKid(_));
        // Keys published by kid are found by kid only.
        let by_kid_only = !matches!(self.source, KeySource::JwkSet(_));
        let recently = if per_kid {
            now.saturating_sub(self.last_miss.load(Ordering::Relaxed)) < MIN_REFETCH_INTERVAL_MS
        } else {
            self.current
                .load()
                .as_ref()
                .is_some_and(|set| now.saturating_sub(set.fetched_at) < MIN_REFETCH_INTERVAL_MS)
        };
        let unknown = || JwsError::UnknownKey(format!("no key with kid {kid:?} in {}", self.name));
        if recently || (by_kid_only && kid.is_none()) {
            return Err(unknown());
        }
        let fetched = match key_source::fetch(&self.http, self.timeout, &self.source, kid).await {
            Ok(fetched) => fetched,
            Err(FetchError::NoSuchKey) => {
                self.last_miss.store(now, Ordering::Relaxed);
                return Err(unknown());
            }
            Err(FetchError::Unavailable(reason)) => {
                return Err(JwsError::KeysUnavailable(format!(
                    "cannot fetch {} from {reason}",
                    self.name
                )));
            }
        };
        let mut set = KeySet {
            keys: fetched.keys,
            anonymous: fetched.anonymous,
            fetched_at: now,
        };
        if per_kid && let Some(old) = self.current.load_full() {
            // One key per answer: keep the ones already known.
            for (known, key) in &old.keys {
                set.keys.entry(known.clone()).or_insert_with(|| key.clone());
            }
        }
        self.current.store(Some(Arc::new(set)));
        self.lookup(kid).ok_or_else(unknown)
    }

    fn lookup(&self, kid: Option<&str>) -> Option<Vec<Arc<PublicKey>>> {
        let set = self.current.load_full()?;
        if kid.is_none() && !matches!(self.source, KeySource::JwkSet(_)) {
            return None;
        }
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
}
