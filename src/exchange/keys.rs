//! A trusted issuer's signing keys: a JWKS URL, or the `jwks_uri` of its discovery document
//! (read on first use; a failure is retried, at most every [`RETRY_AFTER_FAILURE_MS`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use serde_json::{Map, Value};

use super::KeySource;
use super::error::ExchangeError;
use crate::clock::SharedClock;
use crate::oauth::jwks::{JwksCache, JwsError};

const TIMEOUT: Duration = Duration::from_secs(5);
/// After a failed discovery, requests fail at once for this long instead of each waiting.
const RETRY_AFTER_FAILURE_MS: i64 = 2_000;

pub struct IssuerKeys {
    issuer: String,
    source: Source,
}

enum Source {
    Fixed(JwksCache),
    Discovered(Discovery),
}

struct Discovery {
    url: String,
    http: reqwest::Client,
    clock: SharedClock,
    jwks: ArcSwapOption<JwksCache>,
    lock: tokio::sync::Mutex<()>,
    /// When discovery last failed, and the error it gave.
    failure: Mutex<Option<(i64, ExchangeError)>>,
}

impl IssuerKeys {
    pub fn new(
        issuer: &str,
        source: &KeySource,
        http: &reqwest::Client,
        clock: SharedClock,
    ) -> Self {
        let source = match source {
            KeySource::Jwks(url) => Source::Fixed(JwksCache::new(
                url.clone(),
                http.clone(),
                TIMEOUT,
                clock.clone(),
            )),
            KeySource::Discovery(url) => Source::Discovered(Discovery {
                url: url.clone(),
                http: http.clone(),
                clock,
                jwks: ArcSwapOption::empty(),
                lock: tokio::sync::Mutex::new(()),
                failure: Mutex::new(None),
            }),
        };
        Self {
            issuer: issuer.to_owned(),
            source,
        }
    }

    /// Verifies the subject token's signature with only `algorithms`; returns its claims.
    pub async fn verify(
        &self,
        token: &str,
        algorithms: &[String],
    ) -> Result<Map<String, Value>, ExchangeError> {
        let verified = match &self.source {
            Source::Fixed(jwks) => {
                jwks.verify_jws(token, algorithms, "the subject token")
                    .await
            }
            Source::Discovered(discovery) => {
                let jwks = discovery.jwks(&self.issuer).await?;
                jwks.verify_jws(token, algorithms, "the subject token")
                    .await
            }
        };
        match verified {
            Ok((_, claims)) => Ok(claims),
            Err(JwsError::KeysUnavailable(message)) => {
                tracing::warn!(issuer = %self.issuer, "token exchange: {message}");
                Err(ExchangeError::Unavailable(format!(
                    "the signing keys of the issuer {} cannot be fetched; try again shortly",
                    self.issuer
                )))
            }
            Err(refused) => Err(ExchangeError::InvalidGrant(refused.to_string())),
        }
    }
}

impl Discovery {
    async fn jwks(&self, issuer: &str) -> Result<Arc<JwksCache>, ExchangeError> {
        if let Some(jwks) = self.jwks.load_full() {
            return Ok(jwks);
        }
        let _guard = self.lock.lock().await;
        if let Some(jwks) = self.jwks.load_full() {
            return Ok(jwks);
        }
        let now = self.clock.now_millis();
        if let Some((failed_at, error)) = self.last_failure()
            && now.saturating_sub(failed_at) < RETRY_AFTER_FAILURE_MS
        {
            return Err(error);
        }
        let error = match self.discover(issuer).await {
            Ok(jwks_uri) => {
                let jwks = Arc::new(JwksCache::new(
                    jwks_uri,
                    self.http.clone(),
                    TIMEOUT,
                    self.clock.clone(),
                ));
                self.jwks.store(Some(jwks.clone()));
                return Ok(jwks);
            }
            Err(Failure::Unreachable(message)) => {
                tracing::warn!(issuer, "token exchange: {message}");
                ExchangeError::Unavailable(format!(
                    "the discovery document of the issuer {issuer} cannot be read; try again shortly"
                ))
            }
            Err(Failure::Misconfigured(message)) => {
                let error = crate::error::Error::internal(
                    "token exchange: the issuer's discovery document does not fit stagedoor.tokenExchange",
                    &message,
                );
                ExchangeError::Internal(error.message.into_owned())
            }
        };
        if let Ok(mut failure) = self.failure.lock() {
            *failure = Some((now, error.clone()));
        }
        Err(error)
    }

    fn last_failure(&self) -> Option<(i64, ExchangeError)> {
        self.failure.lock().ok().and_then(|failure| failure.clone())
    }

    /// The `jwks_uri` of the discovery document, which must name `issuer` (if it names any).
    async fn discover(&self, issuer: &str) -> Result<String, Failure> {
        let url = &self.url;
        let response = crate::telemetry::send("idp", self.http.get(url).timeout(TIMEOUT))
            .await
            .map_err(|error| Failure::Unreachable(format!("cannot fetch {url}: {error}")))?;
        if !response.status().is_success() {
            return Err(Failure::Unreachable(format!(
                "{url} answered {}",
                response.status()
            )));
        }
        let document: Value = response
            .json()
            .await
            .map_err(|error| Failure::Unreachable(format!("{url} is not JSON: {error}")))?;
        if let Some(named) = document.get("issuer").and_then(Value::as_str)
            && named != issuer
        {
            return Err(Failure::Misconfigured(format!(
                "{url} is the discovery document of \"{named}\", not of \"{issuer}\"; fix the issuer or metadataUrl"
            )));
        }
        document
            .get("jwks_uri")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                Failure::Misconfigured(format!(
                    "{url} has no jwks_uri; set jwksUrl for this issuer instead"
                ))
            })
    }
}

enum Failure {
    Unreachable(String),
    Misconfigured(String),
}
