//! `stagedoor.catalog`: where the catalog is and how stagedoor authenticates to it.

use url::Url;

use super::model::{RawCatalog, RawCatalogAuth, RawDiscoveryEndpoint, RawDiscoveryTarget};
use super::validator::Validator;
use super::web::trim_slash;
use crate::catalog::{CatalogAuthSettings, CatalogSettings};

/// The catalog: `stagedoor.catalog.baseUrl`, else the internal `discovery.endpoints` target
/// for `catalog`, else `backend.baseUrl` + `/api/catalog`.
pub(super) fn catalog_settings(
    v: &mut Validator,
    raw: &RawCatalog,
    endpoints: &[RawDiscoveryEndpoint],
    backend_base_url: Option<&Url>,
) -> CatalogSettings {
    let base_url = match &raw.base_url {
        Some(url) => v
            .url("stagedoor.catalog.baseUrl", url)
            .map(|url| trim_slash(url.as_str())),
        None => plugin_base_url(v, endpoints, backend_base_url, "catalog"),
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

/// Where a Backstage plugin is reached from the backend: the internal `discovery.endpoints`
/// target that serves it, else `backend.baseUrl` + `/api/<pluginId>`.
pub(super) fn plugin_base_url(
    v: &mut Validator,
    endpoints: &[RawDiscoveryEndpoint],
    backend_base_url: Option<&Url>,
    plugin_id: &str,
) -> Option<String> {
    let discovered = endpoints.iter().enumerate().find_map(|(index, endpoint)| {
        let serves = endpoint
            .plugins
            .iter()
            .any(|plugin| plugin == plugin_id || plugin == "*");
        let internal = match &endpoint.target {
            RawDiscoveryTarget::Url(url) => Some(url),
            RawDiscoveryTarget::Split { internal, .. } => internal.as_ref(),
        };
        serves.then_some(()).and(internal).map(|url| (index, url))
    });
    match discovered {
        Some((index, target)) => {
            let target = target
                .replace("{{pluginId}}", plugin_id)
                .replace("{{ pluginId }}", plugin_id);
            v.url(&format!("discovery.endpoints.{index}.target"), &target)
                .map(|url| trim_slash(url.as_str()))
        }
        None => backend_base_url.map(|url| format!("{}/api/{plugin_id}", trim_slash(url.as_str()))),
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
