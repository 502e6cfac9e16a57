//! The Backstage catalog, as sign-in resolvers query it (§10.3): user lookups by entity ref or
//! by filter, authenticated like the `auth` plugin, with timeouts, one retry on connection
//! errors, and a short-lived cache that coalesces concurrent identical lookups, so a refresh
//! storm does not become a catalog storm.

mod credentials;
mod entity;

use std::sync::Arc;
use std::time::Duration;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::clock::{SharedClock, UnixMillis};

pub use credentials::{CatalogAuthSettings, CatalogCredentials};
pub use entity::Entity;

/// Characters escaped in one path segment (as `encodeURIComponent` would).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'[')
    .add(b']')
    .add(b'\\')
    .add(b'^')
    .add(b'|');

#[derive(Debug, Clone)]
pub struct CatalogSettings {
    pub base_url: String,
    pub auth: CatalogAuthSettings,
    pub timeout: Duration,
    /// Zero disables the cache.
    pub cache_ttl: Duration,
    pub cache_capacity: u64,
}

/// A user lookup, in the catalog's terms.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub enum UserQuery {
    ByRef {
        kind: String,
        namespace: String,
        name: String,
    },
    /// Each inner list becomes one `filter` parameter (its conditions AND-ed); several
    /// parameters are OR-ed. `kind=user` is added where a filter names no kind.
    ByFilter(Vec<Vec<(String, String)>>),
}

impl UserQuery {
    /// `{kind: User, namespace: default, name}`.
    pub fn user_named(name: &str) -> Self {
        Self::ByRef {
            kind: "User".into(),
            namespace: "default".into(),
            name: name.into(),
        }
    }

    pub fn by_annotation(annotation: &str, value: &str) -> Self {
        Self::ByFilter(vec![vec![(
            format!("metadata.annotations.{annotation}"),
            value.into(),
        )]])
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("User not found")]
    NotFound,
    #[error("User lookup resulted in multiple matches")]
    Conflict,
    /// The catalog could not answer: down, slow, or failing.
    #[error("{0}")]
    Unavailable(String),
}

/// What a lookup found; cached, including "nothing" (a storm of unknown users is a storm too).
#[derive(Debug, Clone)]
enum Lookup {
    Found(Arc<Entity>),
    NotFound,
    Conflict,
}

/// After a failure, lookups fail fast for this long: a struggling catalog is not hammered,
/// and sign-ins that can fall back (guest) do so at once.
const FAIL_FAST_FOR_MS: i64 = 2_000;

/// A lookup and when it was made (on the injected clock, which decides its freshness; the
/// cache's own expiry only bounds memory).
#[derive(Clone)]
struct Cached {
    lookup: Lookup,
    at: UnixMillis,
}

pub struct CatalogClient {
    http: reqwest::Client,
    settings: CatalogSettings,
    credentials: CatalogCredentials,
    cache: Option<moka::future::Cache<UserQuery, Cached>>,
    clock: SharedClock,
    /// When the last failure happened, and why.
    last_failure: arc_swap::ArcSwapOption<(UnixMillis, String)>,
    requests_sent: std::sync::atomic::AtomicU64,
    metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl CatalogClient {
    pub fn new(
        settings: CatalogSettings,
        credentials: CatalogCredentials,
        http: reqwest::Client,
        clock: SharedClock,
    ) -> Self {
        let cache = (!settings.cache_ttl.is_zero()).then(|| {
            moka::future::Cache::builder()
                .max_capacity(settings.cache_capacity)
                .time_to_live(settings.cache_ttl.saturating_mul(2))
                .build()
        });
        Self {
            http,
            settings,
            credentials,
            cache,
            clock,
            last_failure: arc_swap::ArcSwapOption::empty(),
            requests_sent: std::sync::atomic::AtomicU64::new(0),
            metrics: None,
        }
    }

    /// Counts cache hits and times catalog calls into `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// HTTP requests sent to the catalog so far (retries included).
    pub fn requests_sent(&self) -> u64 {
        self.requests_sent
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn base_url(&self) -> &str {
        &self.settings.base_url
    }

    pub async fn find_user(&self, query: &UserQuery) -> Result<Arc<Entity>, CatalogError> {
        let now = self.clock.now_millis();
        if let Some(failure) = self.last_failure.load().as_deref()
            && now.saturating_sub(failure.0) < FAIL_FAST_FOR_MS
        {
            return Err(CatalogError::Unavailable(failure.1.clone()));
        }
        let result = self.cached_lookup(query).await;
        if let Err(CatalogError::Unavailable(reason)) = &result {
            self.last_failure
                .store(Some(Arc::new((now, reason.clone()))));
        }
        result
    }

    async fn cached_lookup(&self, query: &UserQuery) -> Result<Arc<Entity>, CatalogError> {
        let lookup = match &self.cache {
            Some(cache) => {
                let (cached, fetched) = self.coalesced(cache, query).await?;
                let ttl_ms = i64::try_from(self.settings.cache_ttl.as_millis()).unwrap_or(i64::MAX);
                let (lookup, fetched) =
                    if self.clock.now_millis().saturating_sub(cached.at) >= ttl_ms {
                        // Stale by the clock: look again (concurrent lookups still share one).
                        cache.invalidate(query).await;
                        let (fresh, _) = self.coalesced(cache, query).await?;
                        (fresh.lookup, true)
                    } else {
                        (cached.lookup, fetched)
                    };
                if let Some(metrics) = &self.metrics {
                    metrics.catalog_cache(!fetched);
                }
                lookup
            }
            None => self.fetch(query).await?,
        };
        match lookup {
            Lookup::Found(entity) => Ok(entity),
            Lookup::NotFound => Err(CatalogError::NotFound),
            Lookup::Conflict => Err(CatalogError::Conflict),
        }
    }

    /// The entity `entity_ref` names, as the catalog returns it, asked now (never from the
    /// cache: presence checks and `auth:who-am-i` must see a removal at once). `None`: the
    /// catalog does not have it.
    pub async fn entity(
        &self,
        entity_ref: &crate::entity_ref::EntityRef,
    ) -> Result<Option<serde_json::Value>, CatalogError> {
        let query = UserQuery::ByRef {
            kind: entity_ref.kind.clone(),
            namespace: entity_ref.namespace.clone(),
            name: entity_ref.name.clone(),
        };
        let response = self.get(self.url(&query)?).await?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(CatalogError::Unavailable(format!(
                "the catalog answered {status}"
            )));
        }
        response.json().await.map(Some).map_err(|error| {
            CatalogError::Unavailable(format!("the catalog's answer could not be read: {error}"))
        })
    }

    /// The cached lookup of `query`, or one fetch shared by every concurrent caller; and
    /// whether this call fetched.
    async fn coalesced(
        &self,
        cache: &moka::future::Cache<UserQuery, Cached>,
        query: &UserQuery,
    ) -> Result<(Cached, bool), CatalogError> {
        let fetched = std::sync::atomic::AtomicBool::new(false);
        let cached = cache
            .try_get_with_by_ref(query, async {
                fetched.store(true, std::sync::atomic::Ordering::Relaxed);
                let at = self.clock.now_millis();
                self.fetch(query).await.map(|lookup| Cached { lookup, at })
            })
            .await
            .map_err(|error: Arc<CatalogError>| (*error).clone())?;
        Ok((cached, fetched.load(std::sync::atomic::Ordering::Relaxed)))
    }

    async fn fetch(&self, query: &UserQuery) -> Result<Lookup, CatalogError> {
        let url = self.url(query)?;
        let response = self.get(url).await?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND && matches!(query, UserQuery::ByRef { .. }) {
            return Ok(Lookup::NotFound);
        }
        if !status.is_success() {
            return Err(CatalogError::Unavailable(format!(
                "the catalog answered {status}"
            )));
        }
        let unreadable = |error: reqwest::Error| {
            CatalogError::Unavailable(format!("the catalog's answer could not be read: {error}"))
        };
        match query {
            UserQuery::ByRef { .. } => Ok(Lookup::Found(Arc::new(
                response.json().await.map_err(unreadable)?,
            ))),
            UserQuery::ByFilter(_) => {
                let mut entities: Vec<Entity> = response.json().await.map_err(unreadable)?;
                Ok(match entities.len() {
                    0 => Lookup::NotFound,
                    1 => Lookup::Found(Arc::new(entities.remove(0))),
                    _ => Lookup::Conflict,
                })
            }
        }
    }

    fn url(&self, query: &UserQuery) -> Result<reqwest::Url, CatalogError> {
        let base = self.settings.base_url.trim_end_matches('/');
        let invalid = |error: url::ParseError| {
            CatalogError::Unavailable(format!("invalid catalog URL: {error}"))
        };
        match query {
            UserQuery::ByRef {
                kind,
                namespace,
                name,
            } => {
                let path = [kind, namespace, name]
                    .map(|part| utf8_percent_encode(part, SEGMENT).to_string())
                    .join("/");
                reqwest::Url::parse(&format!("{base}/entities/by-name/{path}")).map_err(invalid)
            }
            UserQuery::ByFilter(filters) => {
                let mut url = reqwest::Url::parse(&format!("{base}/entities")).map_err(invalid)?;
                {
                    let mut pairs = url.query_pairs_mut();
                    for filter in filters {
                        pairs.append_pair("filter", &filter_parameter(filter));
                    }
                }
                Ok(url)
            }
        }
    }

    /// One GET, retried once if the connection could not be made.
    async fn get(&self, url: reqwest::Url) -> Result<reqwest::Response, CatalogError> {
        let mut retried = false;
        loop {
            let authorization = self.credentials.authorization().await.map_err(|error| {
                CatalogError::Unavailable(format!("cannot sign the catalog credentials: {error}"))
            })?;
            self.requests_sent
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let started = std::time::Instant::now();
            let request = self
                .http
                .get(url.clone())
                .header(reqwest::header::AUTHORIZATION, authorization)
                .timeout(self.settings.timeout);
            let result = crate::telemetry::send("catalog", request).await;
            if let Some(metrics) = &self.metrics {
                let ok = result
                    .as_ref()
                    .is_ok_and(|response| !response.status().is_server_error());
                metrics.upstream_call("catalog", ok, started.elapsed());
            }
            match result {
                Ok(response) => return Ok(response),
                Err(error) if error.is_connect() && !retried => retried = true,
                Err(error) => {
                    let reason = if error.is_timeout() {
                        format!("no answer within {} ms", self.settings.timeout.as_millis())
                    } else if error.is_connect() {
                        "the connection failed".to_owned()
                    } else {
                        "the request failed".to_owned()
                    };
                    return Err(CatalogError::Unavailable(format!(
                        "the catalog at {} could not be reached: {reason}",
                        self.settings.base_url
                    )));
                }
            }
        }
    }
}

fn filter_parameter(filter: &[(String, String)]) -> String {
    let mut parts: Vec<String> = Vec::with_capacity(filter.len() + 1);
    if !filter
        .iter()
        .any(|(key, _)| key.eq_ignore_ascii_case("kind"))
    {
        parts.push("kind=user".to_owned());
    }
    parts.extend(filter.iter().map(|(key, value)| format!("{key}={value}")));
    parts.join(",")
}
