//! CORS from `backend.cors` (§2.3): allowed origins are reflected, with credentials.

use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowCredentials, AllowHeaders, AllowOrigin, CorsLayer};

use crate::glob::OriginPatterns;

/// `backend.cors`, as Backstage's root router reads it.
#[derive(Debug, Clone)]
pub struct CorsSettings {
    pub origins: OriginPatterns,
    pub methods: Vec<String>,
    /// `None` reflects the request's `Access-Control-Request-Headers`, as the `cors` package does.
    pub allowed_headers: Option<Vec<String>>,
    pub exposed_headers: Vec<String>,
    pub credentials: bool,
    pub max_age_secs: Option<u64>,
}

pub fn layer(settings: &CorsSettings) -> CorsLayer {
    let allowed = {
        let origins = settings.origins.clone();
        move |origin: &HeaderValue, _: &_| {
            origin.to_str().is_ok_and(|origin| origins.matches(origin))
        }
    };
    let methods: Vec<Method> = settings
        .methods
        .iter()
        .filter_map(|method| method.trim().to_ascii_uppercase().parse().ok())
        .collect();
    let allow_headers = match &settings.allowed_headers {
        None => AllowHeaders::mirror_request(),
        Some(headers) => AllowHeaders::list(header_names(headers)),
    };
    let mut layer = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(allowed.clone()))
        .allow_methods(methods)
        .allow_headers(allow_headers)
        .expose_headers(header_names(&settings.exposed_headers))
        // Like the `cors` package: credentials only in answers to an allowed origin.
        .allow_credentials(if settings.credentials {
            AllowCredentials::predicate(allowed)
        } else {
            AllowCredentials::from(false)
        });
    if let Some(max_age) = settings.max_age_secs {
        layer = layer.max_age(Duration::from_secs(max_age));
    }
    layer
}

fn header_names(names: &[String]) -> Vec<HeaderName> {
    names
        .iter()
        .filter_map(|name| HeaderName::try_from(name.trim()).ok())
        .collect()
}
