//! Prometheus metrics, served at `/metrics` (text exposition format). Labels have few values:
//! providers come from the configuration, routes are a fixed list, statuses are codes.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::audit::Outcome;

mod route;
pub use route::route_of;

fn outcome_label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Success => "success",
        Outcome::Failure => "failure",
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderOutcome {
    pub provider: String,
    pub outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteStatus {
    pub route: &'static str,
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamOutcome {
    /// `catalog` or `idp`.
    pub upstream: &'static str,
    pub outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheResult {
    /// `hit` or `miss`.
    pub result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventOutcome {
    /// `authorize`, `consent`, `token`, `refresh`, `refresh_reuse`, `revoke`, `register`.
    pub event: &'static str,
    pub outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KeySetLabel {
    pub keys: &'static str,
}

pub struct Metrics {
    registry: Registry,
    sign_ins: Family<ProviderOutcome, Counter>,
    refreshes: Family<ProviderOutcome, Counter>,
    requests: Family<RouteStatus, Histogram>,
    /// The busiest of `requests`, found without hashing or locking.
    hot_requests: HotRequests,
    upstream: Family<UpstreamOutcome, Histogram>,
    catalog_cache: Family<CacheResult, Counter>,
    keys_published: Family<KeySetLabel, Counter>,
    authorization_server: Family<EventOutcome, Counter>,
    db_connections: Gauge,
    db_idle_connections: Gauge,
}

/// How many (route, status) pairs [`HotRequests`] holds: more than a busy service answers.
const HOT_SLOTS: usize = 16;

/// The request histograms of the first [`HOT_SLOTS`] (route, status) pairs answered, found by
/// the route name's address and length (each a `&'static str` of [`route_of`]) without the
/// family's lock and hash: a few per cent of a JWKS request. The rest go to the family.
#[derive(Default)]
struct HotRequests {
    slots: [std::sync::OnceLock<HotRequest>; HOT_SLOTS],
}

/// The route name's address and length, the status, their histogram.
type HotRequest = ((usize, usize), u16, Histogram);

impl HotRequests {
    fn find(&self, route: &'static str, status: u16) -> Option<&Histogram> {
        let key = (route.as_ptr() as usize, route.len());
        for slot in &self.slots {
            match slot.get() {
                Some((name, code, histogram)) if *name == key && *code == status => {
                    return Some(histogram);
                }
                Some(_) => {}
                None => return None,
            }
        }
        None
    }

    /// Keeps `histogram` in the first free slot, if one is left. (Two threads may both keep
    /// one pair: the copies share the family's histogram.)
    fn remember(&self, route: &'static str, status: u16, histogram: Histogram) {
        let mut entry = Some(((route.as_ptr() as usize, route.len()), status, histogram));
        for slot in &self.slots {
            if let Some(value) = entry.take() {
                entry = slot.set(value).err();
            }
        }
    }
}

fn latency_buckets() -> Histogram {
    // 0.5 ms .. 8 s: token work is sub-millisecond, IdP round trips take tens of ms.
    Histogram::new([
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0,
    ])
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("stagedoor");
        let sign_ins = Family::<ProviderOutcome, Counter>::default();
        registry.register(
            "sign_ins",
            "Browser sign-ins completed, by provider and outcome",
            sign_ins.clone(),
        );
        let refreshes = Family::<ProviderOutcome, Counter>::default();
        registry.register(
            "refreshes",
            "Session refreshes, by provider and outcome",
            refreshes.clone(),
        );
        let requests = Family::<RouteStatus, Histogram>::new_with_constructor(
            latency_buckets as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer HTTP requests, by route and status",
            requests.clone(),
        );
        let upstream = Family::<UpstreamOutcome, Histogram>::new_with_constructor(
            latency_buckets as fn() -> Histogram,
        );
        registry.register(
            "upstream_request_duration_seconds",
            "Calls to the catalog and to identity providers, by outcome",
            upstream.clone(),
        );
        let catalog_cache = Family::<CacheResult, Counter>::default();
        registry.register(
            "catalog_cache_lookups",
            "Catalog user lookups answered from the cache (hit) or the catalog (miss)",
            catalog_cache.clone(),
        );
        let keys_published = Family::<KeySetLabel, Counter>::default();
        registry.register(
            "keys_published",
            "Signing keys this process published",
            keys_published.clone(),
        );
        let authorization_server = Family::<EventOutcome, Counter>::default();
        registry.register(
            "authorization_server_events",
            "Authorization server events (authorize, consent, token, refresh, refresh_reuse, revoke, register), by outcome",
            authorization_server.clone(),
        );
        let db_connections = Gauge::default();
        registry.register(
            "database_connections",
            "Open database connections",
            db_connections.clone(),
        );
        let db_idle_connections = Gauge::default();
        registry.register(
            "database_idle_connections",
            "Idle database connections",
            db_idle_connections.clone(),
        );
        Self {
            registry,
            sign_ins,
            refreshes,
            requests,
            hot_requests: HotRequests::default(),
            upstream,
            catalog_cache,
            keys_published,
            authorization_server,
            db_connections,
            db_idle_connections,
        }
    }

    pub fn sign_in(&self, provider: &str, outcome: Outcome) {
        self.sign_ins.get_or_create(&label(provider, outcome)).inc();
    }

    pub fn refresh(&self, provider: &str, outcome: Outcome) {
        self.refreshes
            .get_or_create(&label(provider, outcome))
            .inc();
    }

    pub fn request(&self, route: &'static str, status: u16, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        if let Some(histogram) = self.hot_requests.find(route, status) {
            histogram.observe(seconds);
            return;
        }
        let histogram = self
            .requests
            .get_or_create(&RouteStatus { route, status })
            .clone();
        histogram.observe(seconds);
        self.hot_requests.remember(route, status, histogram);
    }

    pub fn upstream_call(&self, upstream: &'static str, ok: bool, elapsed: Duration) {
        let outcome = if ok { "success" } else { "failure" };
        self.upstream
            .get_or_create(&UpstreamOutcome { upstream, outcome })
            .observe(elapsed.as_secs_f64());
    }

    pub fn catalog_cache(&self, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.catalog_cache
            .get_or_create(&CacheResult { result })
            .inc();
    }

    pub fn key_published(&self, keys: &'static str) {
        self.keys_published
            .get_or_create(&KeySetLabel { keys })
            .inc();
    }

    pub fn authorization_server(&self, event: &'static str, outcome: Outcome) {
        self.authorization_server
            .get_or_create(&EventOutcome {
                event,
                outcome: outcome_label(outcome),
            })
            .inc();
    }

    /// The exposition text; `pool` is the database pool's (open, idle) connections now.
    pub fn render(&self, pool: (u32, usize)) -> String {
        self.db_connections.set(i64::from(pool.0));
        self.db_idle_connections
            .set(i64::try_from(pool.1).unwrap_or(i64::MAX));
        let mut text = String::with_capacity(8 * 1024);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

fn label(provider: &str, outcome: Outcome) -> ProviderOutcome {
    ProviderOutcome {
        provider: provider.to_owned(),
        outcome: outcome_label(outcome),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_text_has_the_counters() {
        let metrics = Metrics::new();
        metrics.sign_in("oidc", Outcome::Success);
        metrics.refresh("guest", Outcome::Failure);
        for _ in 0..3 {
            metrics.request("refresh", 200, Duration::from_millis(3));
        }
        let text = metrics.render((2, 1));
        assert!(
            text.contains("stagedoor_sign_ins_total{provider=\"oidc\",outcome=\"success\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("stagedoor_refreshes_total{provider=\"guest\",outcome=\"failure\"} 1")
        );
        assert!(text.contains(
            "stagedoor_http_request_duration_seconds_count{route=\"refresh\",status=\"200\"} 3"
        ));
        assert!(text.contains("stagedoor_database_connections 2"));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn request_histograms_beyond_the_hot_slots_still_count() {
        let metrics = Metrics::new();
        let statuses: Vec<u16> = (200..200 + HOT_SLOTS as u16 + 4).collect();
        for _ in 0..2 {
            for status in &statuses {
                metrics.request("jwks", *status, Duration::from_millis(1));
            }
        }
        let text = metrics.render((0, 0));
        for status in statuses {
            let line = format!(
                "stagedoor_http_request_duration_seconds_count{{route=\"jwks\",status=\"{status}\"}} 2"
            );
            assert!(text.contains(&line), "{line}\n{text}");
        }
    }
}
