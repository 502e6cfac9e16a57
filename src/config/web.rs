//! `app`, `backend` and `discovery`: the app's origin, the external URL of the auth API, CORS,
//! and what `stagedoor.listen` adds; assembled into the web layer's settings.

use url::Url;

use super::model::{RawBackend, RawCors, RawDiscoveryEndpoint, RawDiscoveryTarget, RawStagedoor};
use super::validator::Validator;
use super::values::OneOrMany;
use crate::http::cors::{CorsConfig, CorsSettings};

pub(super) fn external_base_url(
    v: &mut Validator,
    stagedoor: &RawStagedoor,
    endpoints: &[RawDiscoveryEndpoint],
    backend_base_url: Option<&Url>,
) -> Option<String> {
    if let Some(base_url) = &stagedoor.base_url {
        return v
            .url("stagedoor.baseUrl", base_url)
            .map(|url| trim_slash(url.as_str()));
    }
    let discovered = endpoints.iter().enumerate().find_map(|(index, endpoint)| {
        let serves_auth = endpoint
            .plugins
            .iter()
            .any(|plugin| plugin == "auth" || plugin == "*");
        let external = match &endpoint.target {
            RawDiscoveryTarget::Url(url) => Some(url),
            RawDiscoveryTarget::Split { external, .. } => external.as_ref(),
        };
        serves_auth
            .then_some(())
            .and(external)
            .map(|url| (index, url))
    });
    if let Some((index, target)) = discovered {
        let target = target
            .replace("{{pluginId}}", "auth")
            .replace("{{ pluginId }}", "auth");
        let path = format!("discovery.endpoints.{index}.target");
        return v.url(&path, &target).map(|url| trim_slash(url.as_str()));
    }
    backend_base_url.map(|url| format!("{}/api/auth", trim_slash(url.as_str())))
}

pub(super) fn trim_slash(url: &str) -> String {
    url.trim_end_matches('/').to_owned()
}

pub(super) fn cors_settings(v: &mut Validator, cors: RawCors) -> CorsSettings {
    let origins = cors.origin.map(OneOrMany::into_vec).unwrap_or_default();
    let methods = cors.methods.map(OneOrMany::into_vec).unwrap_or_else(|| {
        ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"]
            .map(str::to_owned)
            .to_vec()
    });
    let allowed_headers = cors.allowed_headers.map(OneOrMany::into_vec);
    let exposed_headers = cors
        .exposed_headers
        .map(OneOrMany::into_vec)
        .unwrap_or_default();
    CorsSettings::new(CorsConfig {
        origins: v.patterns("backend.cors.origin", &origins),
        methods: &methods,
        allowed_headers: allowed_headers.as_deref(),
        exposed_headers: &exposed_headers,
        credentials: cors.credentials.unwrap_or(false),
        max_age_secs: cors.max_age,
    })
}

/// `backend.auth.externalAccess` static tokens: recognised so `/v1/userinfo` can say they are
/// not user tokens, as Backstage does.
pub(super) fn external_static_tokens(backend: &RawBackend) -> Vec<String> {
    backend
        .auth
        .external_access
        .iter()
        .filter(|entry| entry.kind == "static")
        .filter_map(|entry| entry.options.get("token")?.as_str().map(str::to_owned))
        .collect()
}
