//! Time source, injected so tests can move time (key rotation, expiry) exactly.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Milliseconds since the Unix epoch.
pub type UnixMillis = i64;

pub trait Clock: Send + Sync + 'static {
    fn now_millis(&self) -> UnixMillis;

    /// Waits `millis` of this clock's time.
    fn sleep_millis(&self, millis: i64) -> Pin<Box<dyn Future<Output = ()> + Send>>;

    fn now_seconds(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }
}

pub type SharedClock = Arc<dyn Clock>;

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> UnixMillis {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
    }

    fn sleep_millis(&self, millis: i64) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let duration = std::time::Duration::from_millis(u64::try_from(millis).unwrap_or(0));
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Debug)]
pub struct ManualClock {
    millis: AtomicI64,
}

impl ManualClock {
    pub fn new(start: UnixMillis) -> Self {
        Self {
            millis: AtomicI64::new(start),
        }
    }

    /// Starts at the real current time, so tokens it stamps are accepted by real verifiers.
    pub fn starting_now() -> Self {
        Self::new(SystemClock.now_millis())
    }

    pub fn advance_seconds(&self, seconds: i64) {
        self.millis.fetch_add(seconds * 1000, Ordering::SeqCst);
    }

    pub fn set_millis(&self, millis: UnixMillis) {
        self.millis.store(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> UnixMillis {
        self.millis.load(Ordering::SeqCst)
    }

    /// Time passes at once.
    fn sleep_millis(&self, millis: i64) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.millis.fetch_add(millis.max(0), Ordering::SeqCst);
        Box::pin(std::future::ready(()))
    }
}
