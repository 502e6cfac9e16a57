//! Configuration reload: SIGHUP (or a changed file, see `watch`) re-reads the config files and
//! swaps the configuration in force.

use std::sync::{Arc, Mutex};

use super::StartError;
use super::core::Core;
use crate::audit::AuditEvent;
use crate::config::Settings;
use crate::http::SharedState;

/// Loads the configuration again (for SIGHUP).
pub type ConfigLoader = Arc<dyn Fn() -> Result<Settings, crate::config::ConfigError> + Send + Sync>;

/// The configuration in force, and everything built from it.
pub struct Configured {
    pub state: SharedState,
    settings: Mutex<Settings>,
}

impl Configured {
    pub fn new(state: SharedState, settings: Settings) -> Arc<Self> {
        Arc::new(Self {
            state,
            settings: Mutex::new(settings),
        })
    }

    /// Replaces the running configuration with `settings` (already validated). In-flight
    /// requests finish with the old one; sign-ins started before go on (their cookies are
    /// sealed with the database's key, which does not change).
    pub fn reload(&self, settings: Settings) -> Result<(), StartError> {
        let mut in_force = self
            .settings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let current = self.state.load_full();
        let ignored = restart_only_changes(&in_force, &settings);
        let next = Core::of(&current).assemble(&settings)?;
        self.state.store(Arc::new(next));
        *in_force = settings;
        let mut event = AuditEvent::new("config_reload").success();
        if !ignored.is_empty() {
            let message = format!(
                "changes to {} take effect at the next restart",
                ignored.join(", ")
            );
            tracing::warn!("configuration reloaded; {message}");
            event = event.reason(message);
        } else {
            tracing::info!("configuration reloaded");
        }
        current.audit.record(event);
        Ok(())
    }
}

/// Settings that only take effect at start-up: a reload that changes them says so.
fn restart_only_changes(old: &Settings, new: &Settings) -> Vec<&'static str> {
    let mut changed = Vec::new();
    if old.web.listen != new.web.listen {
        changed.push("stagedoor.listen");
    }
    if format!("{:?}", old.database) != format!("{:?}", new.database) {
        changed.push("stagedoor.database");
    }
    if format!("{:?}", old.keys) != format!("{:?}", new.keys) {
        changed.push("auth.keyStore / stagedoor.keyRotation");
    }
    if old.audit != new.audit {
        changed.push("stagedoor.audit");
    }
    if old.logging != new.logging {
        changed.push("stagedoor.logging");
    }
    if old.web.metrics != new.web.metrics {
        changed.push("stagedoor.metrics");
    }
    changed
}

#[cfg(unix)]
pub(super) async fn reload_on_hangup(configured: Arc<Configured>, loader: ConfigLoader) {
    let mut hangups = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => signal,
        Err(error) => {
            tracing::warn!("cannot listen for SIGHUP, configuration reload is off: {error}");
            return;
        }
    };
    while hangups.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading the configuration");
        reload_now(&configured, &loader);
    }
}

/// Loads the configuration and puts it in force; a configuration that does not load is
/// refused (logged and audited) and the one in force stays.
pub(super) fn reload_now(configured: &Configured, loader: &ConfigLoader) {
    let loaded = loader().map_err(StartError::Config);
    if let Err(error) = loaded.and_then(|settings| configured.reload(settings)) {
        tracing::error!(
            "configuration reload refused, the current configuration stays in force: {error}"
        );
        let audit = configured.state.load().audit.clone();
        audit.record(AuditEvent::new("config_reload").failure(error.to_string()));
    }
}

#[cfg(not(unix))]
pub(super) async fn reload_on_hangup(_configured: Arc<Configured>, _loader: ConfigLoader) {}
