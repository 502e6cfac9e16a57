//! `stagedoor.catalog`: where the catalog is and how stagedoor authenticates to it.

use url::Url;

use super::model::{RawCatalog, RawCatalogAuth, RawDiscoveryEndpoint, RawDiscoveryTarget};
use super::validate::{Validator, trim_slash};
use crate::catalog::{CatalogAuthSettings, CatalogSettings};

/// The catalog: `stagedoor.catalog.baseUrl`, else the internal `discovery.endpoints` target
/// for `catalog`, else `backend.baseUrl` + `/api/catalog`.
pub(super) fn catalog_settings(
    v: &mut Validator,
    raw: &RawCatalog,
    endpoints: &[RawDiscoveryEndpoint],
    backend_base_url: Option<&Url>,
) -> CatalogSettings {
    let discovered = endpoints.iter().enumerate().find_map(|(index, endpoint)| {
        let serves = endpoint
            .plugins
            .iter()
            .any(|plugin| plugin == "catalog" || plugin == "*");
        let internal = match &endpoint.target {
            RawDiscoveryTarget::Url(url) => Some(url),
            RawDiscoveryTarget::Split { internal, .. } => internal.as_ref(),
        };
        serves.then_some(()).and(internal).map(|url| (index, url))
    });
    let base_url = if let Some(url) = &raw.base_url {
        v.url("stagedoor.catalog.baseUrl", url)
            .map(|url| trim_slash(url.as_str()))
    } else if let Some((index, target)) = discovered {
        let target = target
            .replace("{{pluginId}}", "catalog")
            .replace("{{ pluginId }}", "catalog");
        v.url(&format!("discovery.endpoints.{index}.target"), &target)
            .map(|url| trim_slash(url.as_str()))
    } else {
        backend_base_url.map(|url| format!("{}/api/catalog", trim_slash(url.as_str())))
    };
    let auth = match &raw.auth {
        None => CatalogAuthSettings::PluginToken,
        Some(auth) => catalog_auth(v, auth),
    };
    CatalogSettings {
        base_url: base_url.unwrap_or_default(),
        auth,
        timeout: v.seconds(
            "stagedoor.catalog.timeout",
            raw.timeout.as_ref(),
            5.0,
            (0.0, 60.0),
        ),
        cache_ttl: v.seconds(
            "stagedoor.catalog.cacheTtl",
            raw.cache_ttl.as_ref(),
            30.0,
            (0.0, 3600.0),
        ),
        cache_capacity: raw.cache_size.unwrap_or(10_000),
    }
}

fn catalog_auth(v: &mut Validator, auth: &RawCatalogAuth) -> CatalogAuthSettings {
    let mut required = |key: &str, value: &Option<String>, example: &str| -> String {
        value.clone().unwrap_or_else(|| {
            v.problem(
                &format!("stagedoor.catalog.auth.{key}"),
                format!("is required for this auth type, e.g. {example}"),
            );
            String::new()
        })
    };
    match auth.kind.as_str() {
        "plugin" => CatalogAuthSettings::PluginToken,
        "static" => CatalogAuthSettings::Static {
            token: required("token", &auth.token, "${CATALOG_TOKEN}"),
        },
        "jwt" => CatalogAuthSettings::Jwt {
            issuer: required("issuer", &auth.issuer, "stagedoor"),
            audience: required("audience", &auth.audience, "backstage-catalog"),
            subject: required("subject", &auth.subject, "stagedoor"),
        },
        other => {
            v.problem(
                "stagedoor.catalog.auth.type",
                format!(
                    "\"{other}\" is not a catalog auth type; use plugin (default), static or jwt"
                ),
            );
            CatalogAuthSettings::PluginToken
        }
    }
}
