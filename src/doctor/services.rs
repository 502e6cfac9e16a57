//! The doctor's checks of the database and the catalog.

use std::sync::Arc;

use super::{Finding, Severity};
use crate::catalog::{CatalogClient, CatalogCredentials, CatalogError, UserQuery};
use crate::clock::{SharedClock, SystemClock};
use crate::config::Settings;
use crate::keys::KeyManager;
use crate::store::Store;

pub(super) async fn database(settings: &Settings, findings: &mut Vec<Finding>) -> Option<Store> {
    match Store::migration_state(&settings.database).await {
        Ok(state) if state.applied < state.expected => findings.push(
            Finding::new(
                Severity::Warning,
                "database",
                format!(
                    "reachable; {} of {} migrations applied",
                    state.applied, state.expected
                ),
            )
            .fix("stagedoor serve applies the rest at start-up (it needs rights to create tables)"),
        ),
        Ok(state) => findings.push(Finding::new(
            Severity::Ok,
            "database",
            format!("reachable and migrated ({} migrations)", state.applied),
        )),
        Err(error) => {
            findings.push(
                Finding::new(Severity::Error, "database", format!("{error}"))
                    .fix("check stagedoor.database (or backend.database), credentials and network"),
            );
            return None;
        }
    }
    Store::connect(&settings.database).await.ok()
}

/// Looks up a user that does not exist with stagedoor's own credentials: 404 means the
/// catalog is there and accepts them.
pub(super) async fn catalog(
    settings: &Settings,
    store: Option<Store>,
    http: &reqwest::Client,
) -> Vec<Finding> {
    let Some(store) = store else {
        return vec![Finding::new(
            Severity::Warning,
            "catalog",
            "not checked: stagedoor's service token keys live in the database, which is unreachable",
        )];
    };
    let clock: SharedClock = Arc::new(SystemClock);
    let keys = match KeyManager::for_plugin_tokens(
        (&store, settings.database.is_shared()),
        clock.clone(),
        (
            crate::audit::Audit::off(),
            Arc::new(crate::metrics::Metrics::new()),
        ),
    )
    .await
    {
        Ok(keys) => Arc::new(keys),
        Err(error) => {
            return vec![Finding::new(
                Severity::Error,
                "catalog",
                format!("cannot make a service token: {error}"),
            )];
        }
    };
    let credentials = CatalogCredentials::new(settings.catalog.auth.clone(), keys, clock.clone());
    let client = CatalogClient::new(settings.catalog.clone(), credentials, http.clone(), clock);
    let probe = UserQuery::ByRef {
        kind: "user".into(),
        namespace: "default".into(),
        name: "stagedoor-doctor-probe".into(),
    };
    let base = &settings.catalog.base_url;
    match client.find_user(&probe).await {
        Ok(_) | Err(CatalogError::NotFound | CatalogError::Conflict) => vec![Finding::new(
            Severity::Ok,
            "catalog",
            format!("{base} answers and accepts stagedoor's credentials"),
        )],
        Err(CatalogError::Unavailable(reason)) if reason.contains("401") || reason.contains("403") => {
            vec![Finding::new(
                Severity::Error,
                "catalog",
                format!("{base} refuses stagedoor's credentials ({reason})"),
            )
            .fix("the catalog verifies stagedoor's service tokens with the JWKS at <auth URL>/.backstage/auth/v1/jwks.json: point its discovery for 'auth' at a running stagedoor on this database, or set stagedoor.catalog.auth")]
        }
        Err(CatalogError::Unavailable(reason)) => vec![Finding::new(
            Severity::Error,
            "catalog",
            reason,
        )
        .fix("set stagedoor.catalog.baseUrl (or discovery for 'catalog') to where the catalog answers")],
    }
}
