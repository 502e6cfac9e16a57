//! Cloudflare Access's identity endpoint (`/cdn-cgi/access/get-identity`): the signed-in
//! user's name and groups, asked with the user's own assertion, and kept for a while per
//! subject and email. Node keeps the first answer for a subject forever and then prefers it
//! to the token; here an entry is used only for a token with the same `sub` and `email`, and
//! only for [`TTL_MS`] on the injected clock.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

use super::FETCH_TIMEOUT;
use crate::clock::{SharedClock, UnixMillis};

/// How long an identity is reused.
pub const TTL_MS: i64 = 5 * 60 * 1000;
/// Entries kept before the oldest are forgotten.
const CAPACITY: usize = 10_000;

/// Why no identity could be had.
pub(super) enum IdentityError {
    /// Cloudflare refused (4xx): the token gets no identity.
    Refused(String),
    /// Down, slow or failing (5xx, no answer, not JSON).
    Unavailable(String),
}

pub(super) struct IdentityClient {
    url: String,
    header_name: String,
    cookie_name: String,
    http: reqwest::Client,
    clock: SharedClock,
    cache: Mutex<HashMap<(String, String), (UnixMillis, Value)>>,
}

impl IdentityClient {
    pub fn new(
        url: String,
        header_name: String,
        cookie_name: String,
        http: &reqwest::Client,
        clock: &SharedClock,
    ) -> Self {
        Self {
            url,
            header_name,
            cookie_name,
            http: http.clone(),
            clock: clock.clone(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The identity behind `token` (whose `sub` and `email` are verified).
    pub async fn identity(
        &self,
        token: &str,
        sub: &str,
        email: &str,
    ) -> Result<Value, IdentityError> {
        let key = (sub.to_owned(), email.to_ascii_lowercase());
        let now = self.clock.now_millis();
        if let Some(identity) = self.cached(&key, now) {
            return Ok(identity);
        }
        let identity = self.fetch(token).await?;
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CAPACITY {
                cache.retain(|_, (at, _)| now.saturating_sub(*at) < TTL_MS);
                if cache.len() >= CAPACITY {
                    cache.clear();
                }
            }
            cache.insert(key, (now, identity.clone()));
        }
        Ok(identity)
    }

    fn cached(&self, key: &(String, String), now: UnixMillis) -> Option<Value> {
        let cache = self.cache.lock().ok()?;
        let (at, identity) = cache.get(key)?;
        (now.saturating_sub(*at) < TTL_MS).then(|| identity.clone())
    }

    async fn fetch(&self, token: &str) -> Result<Value, IdentityError> {
        let unavailable =
            |reason: &str| IdentityError::Unavailable(format!("{}: {reason}", self.url));
        let response = self
            .http
            .get(&self.url)
            .header(self.header_name.as_str(), token)
            .header(
                reqwest::header::COOKIE,
                format!("{}={token}", self.cookie_name),
            )
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .map_err(|error| {
                unavailable(if error.is_timeout() {
                    "no answer in time"
                } else {
                    "the request failed"
                })
            })?;
        let status = response.status();
        if status.is_client_error() {
            return Err(IdentityError::Refused(format!(
                "the identity endpoint answered {status}"
            )));
        }
        if !status.is_success() {
            return Err(unavailable(&format!("answered {status}")));
        }
        let identity: Value = response
            .json()
            .await
            .map_err(|_| unavailable("the answer is not JSON"))?;
        if identity.is_object() {
            Ok(identity)
        } else {
            Err(unavailable("the answer is not a JSON object"))
        }
    }
}
