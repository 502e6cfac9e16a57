//! Configuration reload: SIGHUP re-reads the config files and swaps the configuration in force.

use std::sync::Arc;

use super::StartError;
use super::core::Core;
use crate::audit::AuditEvent;
use crate::config::Settings;
use crate::http::SharedState;

/// Loads the configuration again (for SIGHUP).
pub type ConfigLoader = Arc<dyn Fn() -> Result<Settings, crate::config::ConfigError> + Send + Sync>;

/// Settings that only take effect at start-up: a reload that changes them says so.
fn restart_only_changes(old: &Settings, new: &Settings) -> Vec<&'static str> {
    let mut changed = Vec::new();
    if (old.listen_host.as_str(), old.listen_port) != (new.listen_host.as_str(), new.listen_port) {
        changed.push("stagedoor.listen");
    }
    if format!("{:?}", old.database) != format!("{:?}", new.database) {
        changed.push("stagedoor.database");
    }
    if format!("{:?}", old.key_store) != format!("{:?}", new.key_store)
        || old.key_rotation_ms != new.key_rotation_ms
    {
        changed.push("auth.keyStore / stagedoor.keyRotation");
    }
    if format!("{:?}", old.cors) != format!("{:?}", new.cors) {
        changed.push("backend.cors");
    }
    if old.audit != new.audit {
        changed.push("stagedoor.audit");
    }
    if old.logging != new.logging {
        changed.push("stagedoor.logging");
    }
    if old.metrics != new.metrics {
        changed.push("stagedoor.metrics");
    }
    changed
}

/// Replaces the running configuration with `settings` (already validated). In-flight
/// requests finish with the old one; sign-ins started before go on (their cookies are sealed
/// with the database's key, which does not change).
pub fn reload(shared: &SharedState, settings: Settings) -> Result<(), StartError> {
    let current = shared.load_full();
    let ignored = restart_only_changes(&current.settings, &settings);
    let audit = current.audit.clone();
    let next = Core::of(&current).assemble(settings)?;
    shared.store(Arc::new(next));
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
    audit.record(event);
    Ok(())
}

#[cfg(unix)]
pub(super) async fn reload_on_hangup(shared: SharedState, loader: ConfigLoader) {
    let mut hangups = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => signal,
        Err(error) => {
            tracing::warn!("cannot listen for SIGHUP, configuration reload is off: {error}");
            return;
        }
    };
    while hangups.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading the configuration");
        let loaded = loader().map_err(StartError::Config);
        if let Err(error) = loaded.and_then(|settings| reload(&shared, settings)) {
            tracing::error!(
                "configuration reload refused, the current configuration stays in force: {error}"
            );
            let audit = shared.load().audit.clone();
            audit.record(AuditEvent::new("config_reload").failure(error.to_string()));
        }
    }
}

#[cfg(not(unix))]
pub(super) async fn reload_on_hangup(_shared: SharedState, _loader: ConfigLoader) {}
