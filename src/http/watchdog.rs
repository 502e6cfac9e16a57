//! One watchdog for all of a server's connections: every [`IDLE_CHECK`] it looks at what each
//! connection is doing and tells the connection to close (an idle keep-alive connection, or
//! all of them when the server stops) or to drop (a request's headers past their deadline).
//! A connection only reads its verdict when it wakes, one atomic load: a timer and a shutdown
//! signal of its own would be polled at each of its wake-ups, several times a request.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::time::Instant;

use atomic_waker::AtomicWaker;
use tokio::sync::watch;

/// How often the connections are checked against the keep-alive timeout and the header
/// deadline.
const IDLE_CHECK: Duration = Duration::from_millis(250);

/// What a connection is doing, shared by its reader, its service and the watchdog. Requests
/// only count and flag (no clock read); the watchdog times what it sees.
#[derive(Default)]
pub struct Activity {
    pub in_flight: AtomicUsize,
    /// Requests handed to the service so far.
    pub requests: AtomicU64,
    /// Bytes of a next request have arrived (its headers are now under the header timeout).
    pub receiving: AtomicBool,
    verdict: AtomicU8,
    /// The requests the watchdog had seen when it decided to drop the connection.
    dropped_at: AtomicU64,
    /// The connection's task, woken when its verdict changes.
    waker: AtomicWaker,
}

/// What the watchdog has decided for a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Serve,
    /// Finish the request in progress, then close (hyper's graceful shutdown).
    Close,
    /// Drop the connection now, as hyper does at its header timeout.
    Drop,
}

impl Activity {
    /// The verdict, with the connection's task registered for the next change.
    pub fn verdict(&self, waker: &std::task::Waker) -> Verdict {
        self.waker.register(waker);
        match self.verdict.load(Ordering::Acquire) {
            0 => Verdict::Serve,
            1 => Verdict::Close,
            // Decided on what the watchdog saw a moment ago, on its own thread. A request
            // whose headers were complete in between is being served (the counts change only
            // in this task): it is finished, then the connection closes.
            _ if self.requests.load(Ordering::Acquire)
                != self.dropped_at.load(Ordering::Acquire)
                || self.in_flight.load(Ordering::Acquire) > 0 =>
            {
                Verdict::Close
            }
            _ => Verdict::Drop,
        }
    }

    /// Records `verdict`, decided when the connection had begun `requests` requests.
    fn decide(&self, verdict: Verdict, requests: u64) {
        let code = match verdict {
            Verdict::Serve => 0,
            Verdict::Close => 1,
            Verdict::Drop => {
                self.dropped_at.store(requests, Ordering::Release);
                2
            }
        };
        // Only ever towards dropping.
        if self.verdict.fetch_max(code, Ordering::AcqRel) < code {
            self.waker.wake();
        }
    }

    fn now(&self) -> (Phase, u64) {
        let phase = if self.in_flight.load(Ordering::Acquire) > 0 {
            Phase::Busy
        } else if self.receiving.load(Ordering::Acquire) {
            Phase::Receiving
        } else {
            Phase::Idle
        };
        (phase, self.requests.load(Ordering::Acquire))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Receiving,
    Busy,
}

/// A connection as the watchdog follows it: since when it has been in the same phase of the
/// same request (timed from the check that first saw it, so up to [`IDLE_CHECK`] late).
struct Watched {
    activity: Weak<Activity>,
    seen: (Phase, u64),
    since: Instant,
}

impl Watched {
    fn verdict(&mut self, activity: &Activity, limits: &Deadlines) -> Verdict {
        let now = activity.now();
        if now != self.seen {
            self.seen = now;
            self.since = Instant::now();
        }
        match (now.0, self.since.elapsed()) {
            (Phase::Receiving, waited) if waited >= limits.headers => Verdict::Drop,
            (Phase::Idle, idle) if idle >= limits.keep_alive => Verdict::Close,
            _ => Verdict::Serve,
        }
    }
}

/// How long a request's headers may take, and a connection may stay idle.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    pub headers: Duration,
    pub keep_alive: Duration,
}

/// The connections of one server, and their deadlines.
pub struct Watchdog {
    connections: Mutex<Vec<Watched>>,
    limits: Deadlines,
}

impl Watchdog {
    pub fn new(limits: Deadlines) -> Arc<Self> {
        Arc::new(Self {
            connections: Mutex::new(Vec::new()),
            limits,
        })
    }

    /// A new connection's activity, followed until the connection drops it.
    pub fn follow(&self) -> Arc<Activity> {
        let activity = Arc::new(Activity::default());
        self.list().push(Watched {
            activity: Arc::downgrade(&activity),
            seen: activity.now(),
            since: Instant::now(),
        });
        activity
    }

    /// Checks the connections every [`IDLE_CHECK`], and closes them all once `closing` turns
    /// true (and any that open after). Once `closing`'s sender is gone (the server dropped),
    /// it closes them too, and returns when the last has closed.
    pub async fn run(&self, mut closing: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(IDLE_CHECK);
        let mut gone = false;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                changed = closing.changed(), if !gone => gone = changed.is_err(),
            }
            let stopping = gone || *closing.borrow();
            let mut list = self.list();
            list.retain_mut(|watched| {
                let Some(activity) = watched.activity.upgrade() else {
                    // Closed: forgotten.
                    return false;
                };
                let verdict = match watched.verdict(&activity, &self.limits) {
                    Verdict::Serve if stopping => Verdict::Close,
                    verdict => verdict,
                };
                activity.decide(verdict, watched.seen.1);
                true
            });
            if gone && list.is_empty() {
                return;
            }
        }
    }

    fn list(&self) -> std::sync::MutexGuard<'_, Vec<Watched>> {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Deadlines {
        Deadlines {
            headers: Duration::from_millis(400),
            keep_alive: Duration::from_millis(600),
        }
    }

    fn verdict(activity: &Activity) -> Verdict {
        activity.verdict(std::task::Waker::noop())
    }

    #[tokio::test(start_paused = true)]
    async fn idle_connections_close_and_late_headers_drop() {
        let watchdog = Watchdog::new(limits());
        let (closing, closing_rx) = watch::channel(false);
        let idle = watchdog.follow();
        let receiving = watchdog.follow();
        receiving.receiving.store(true, Ordering::Release);
        let busy = watchdog.follow();
        busy.in_flight.store(1, Ordering::Release);
        let running = {
            let watchdog = watchdog.clone();
            tokio::spawn(async move { watchdog.run(closing_rx).await })
        };
        // Timed from the first check that saw each phase.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(verdict(&receiving), Verdict::Serve);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(verdict(&receiving), Verdict::Drop);
        assert_eq!(verdict(&idle), Verdict::Serve);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(verdict(&idle), Verdict::Close);
        assert_eq!(verdict(&busy), Verdict::Serve);
        // A request arriving resets nothing once closing is decided.
        idle.in_flight.store(1, Ordering::Release);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(verdict(&idle), Verdict::Close);
        // Stopping closes the rest at once.
        closing.send(true).unwrap();
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(verdict(&busy), Verdict::Close);
        // Without the server, the watchdog ends once its connections have closed.
        drop(closing);
        drop((idle, receiving, busy));
        running.await.unwrap();
    }

    #[test]
    fn a_request_begun_after_the_drop_was_decided_is_finished_then_closed() {
        let activity = Activity::default();
        activity.decide(Verdict::Drop, 0);
        assert_eq!(verdict(&activity), Verdict::Drop);
        // Its headers were complete just in time: the service has it.
        activity.requests.store(1, Ordering::Release);
        activity.in_flight.store(1, Ordering::Release);
        assert_eq!(verdict(&activity), Verdict::Close);
    }

    #[tokio::test(start_paused = true)]
    async fn connections_still_close_when_the_server_is_dropped() {
        let watchdog = Watchdog::new(limits());
        let (closing, closing_rx) = watch::channel(false);
        let busy = watchdog.follow();
        busy.in_flight.store(1, Ordering::Release);
        let running = {
            let watchdog = watchdog.clone();
            tokio::spawn(async move { watchdog.run(closing_rx).await })
        };
        drop(closing);
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(verdict(&busy), Verdict::Close);
        assert!(!running.is_finished());
        drop(busy);
        running.await.unwrap();
    }

    #[test]
    fn closed_connections_are_forgotten() {
        let watchdog = Watchdog::new(limits());
        let activity = watchdog.follow();
        drop(activity);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let (closing, closing_rx) = watch::channel(false);
        runtime.block_on(async {
            let stop = async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                drop(closing);
            };
            tokio::join!(watchdog.run(closing_rx), stop);
        });
        assert!(watchdog.list().is_empty());
    }
}
