//! Stopping for a rolling update. SIGTERM starts a drain: `/readyz` answers 503 at once (so
//! the orchestrator takes this replica out of its Service), every response closes its
//! connection, and new connections are still served for `stagedoor.shutdown.drainPeriod`,
//! covering the moments while load balancers catch up; then the listener closes, requests in
//! flight finish, and the process exits. SIGINT (Ctrl-C), or a second signal while draining,
//! skips the drain.

use crate::clock::SharedClock;
use crate::http::SharedState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopSignal {
    Terminate,
    Interrupt,
}

impl StopSignal {
    fn name(self) -> &'static str {
        match self {
            Self::Terminate => "SIGTERM",
            Self::Interrupt => "SIGINT",
        }
    }
}

/// Completes when the listener should close: after a stop signal and the drain period.
pub(super) async fn drained(shared: SharedState, clock: SharedClock) {
    let signal = stop_signal().await;
    let state = shared.load_full();
    state.draining.start();
    let drain = state.web.drain_period;
    if signal == StopSignal::Terminate && !drain.is_zero() {
        tracing::info!(
            "{}: draining for {} s (stagedoor.shutdown.drainPeriod): /readyz answers 503, connections close after each response",
            signal.name(),
            drain.as_secs_f64()
        );
        let millis = i64::try_from(drain.as_millis()).unwrap_or(i64::MAX);
        tokio::select! {
            () = clock.sleep_millis(millis) => {},
            again = stop_signal() => {
                tracing::info!("{}: ending the drain early", again.name());
            }
        }
    }
    tracing::info!("shutting down; finishing in-flight requests");
}

async fn stop_signal() -> StopSignal {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!("cannot listen for SIGTERM: {error}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => StopSignal::Interrupt,
        () = terminate => StopSignal::Terminate,
    }
}
