//! Live configuration: the `--config` files are polled, and a change is reloaded as SIGHUP
//! reloads (same rules, same `config_reload` audit event; a file that does not load is
//! refused and the configuration in force stays). Polling rather than file-system events:
//! a few small reads a second, no dependency, and it sees every way a file changes,
//! including the atomic `..data` symlink swap of a Kubernetes ConfigMap or Secret volume
//! (an inotify watch on the file would stay on the old inode), an editor's save by rename,
//! a `{$file: ...}` reference, and network file systems that send no events.

use std::sync::Arc;
use std::time::Duration;

use super::reload::{ConfigLoader, Configured, reload_now};

/// The configuration's current fingerprint (see [`crate::config::fingerprint`]).
pub type ConfigFingerprint = Arc<dyn Fn() -> u64 + Send + Sync>;

/// How often the files are read.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Reloads once a changed fingerprint has held for a whole poll interval (debounced: a file
/// being written, or several files changed one after the other, are loaded once, complete).
pub(super) async fn reload_on_change(
    configured: Arc<Configured>,
    loader: ConfigLoader,
    fingerprint: ConfigFingerprint,
) {
    let read = move || {
        let fingerprint = fingerprint.clone();
        async move {
            tokio::task::spawn_blocking(move || fingerprint())
                .await
                .ok()
        }
    };
    let Some(mut loaded) = read().await else {
        return;
    };
    let mut pending: Option<u64> = None;
    loop {
        tokio::time::sleep(POLL_INTERVAL).await;
        let Some(now) = read().await else { continue };
        pending = match pending {
            _ if now == loaded => None,
            Some(previous) if previous == now => {
                tracing::info!("a config file changed: reloading the configuration");
                reload_now(&configured, &loader);
                // A refused configuration is not tried again until the files change again.
                loaded = now;
                None
            }
            _ => Some(now),
        };
    }
}
