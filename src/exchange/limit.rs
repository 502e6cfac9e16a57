//! Exchanges per client (GCRA, `governor`), on the injected clock. Only allow-listed
//! clients of configured issuers get a bucket, so the set of buckets is fixed at start-up.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use super::TokenExchangeSettings;
use super::error::ExchangeError;
use crate::clock::SharedClock;

/// The injected clock as governor's time source: time since the Unix epoch.
#[derive(Clone)]
struct InjectedClock(SharedClock);

impl Clock for InjectedClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.0.now_millis()).unwrap_or(0))
    }
}

type Bucket = RateLimiter<NotKeyed, InMemoryState, InjectedClock, NoOpMiddleware<Duration>>;

pub struct Limiter {
    clock: InjectedClock,
    /// Per issuer (by index), per client id.
    buckets: Vec<HashMap<String, Bucket>>,
}

impl Limiter {
    pub fn new(settings: &TokenExchangeSettings, clock: SharedClock) -> Self {
        let clock = InjectedClock(clock);
        let one = NonZeroU32::MIN;
        let quota =
            Quota::per_minute(NonZeroU32::new(settings.rate_limit.per_minute).unwrap_or(one))
                .allow_burst(NonZeroU32::new(settings.rate_limit.burst).unwrap_or(one));
        let buckets = settings
            .issuers
            .iter()
            .map(|issuer| {
                issuer
                    .clients
                    .iter()
                    .map(|client| {
                        let bucket = RateLimiter::direct_with_clock(quota, clock.clone());
                        (client.clone(), bucket)
                    })
                    .collect()
            })
            .collect();
        Self { clock, buckets }
    }

    /// Takes one exchange from the client's bucket, or says when to retry.
    pub fn check(&self, issuer: usize, client: &str) -> Result<(), ExchangeError> {
        let Some(bucket) = self.buckets.get(issuer).and_then(|map| map.get(client)) else {
            // Unreachable for allow-listed clients; refuse rather than run unlimited.
            return Err(ExchangeError::UnauthorizedClient(format!(
                "client {} may not exchange tokens",
                super::error::quoted(client)
            )));
        };
        bucket.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            ExchangeError::SlowDown {
                client: client.to_owned(),
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::exchange::RateLimitSettings;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let clock = Arc::new(ManualClock::new(1_700_000_000_000));
        let settings = TokenExchangeSettings {
            issuers: Vec::new(),
            rate_limit: RateLimitSettings {
                per_minute: 6,
                burst: 2,
            },
        };
        let mut limiter = Limiter::new(&settings, clock.clone());
        let quota =
            Quota::per_minute(NonZeroU32::new(6).unwrap()).allow_burst(NonZeroU32::new(2).unwrap());
        limiter.buckets.push(HashMap::from([(
            "ci".to_owned(),
            RateLimiter::direct_with_clock(quota, limiter.clock.clone()),
        )]));
        assert!(limiter.check(0, "ci").is_ok());
        assert!(limiter.check(0, "ci").is_ok());
        match limiter.check(0, "ci") {
            Err(ExchangeError::SlowDown {
                retry_after_secs, ..
            }) => assert_eq!(retry_after_secs, 10),
            other => panic!("{other:?}"),
        }
        clock.advance_seconds(10);
        assert!(limiter.check(0, "ci").is_ok());
        assert!(limiter.check(0, "ci").is_err());
        assert_eq!(
            limiter.check(0, "other").unwrap_err().code(),
            "unauthorized_client"
        );
    }
}
