//! Response headers every Backstage backend sends (helmet defaults, as captured).

use axum::response::Response;
use http::{HeaderName, HeaderValue, header};

const SECURITY_HEADERS: [(HeaderName, HeaderValue); 10] = [
    (
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self';base-uri 'self';font-src 'self' https: data:;frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self' 'unsafe-eval';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests",
        ),
    ),
    (
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ),
    (
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=15552000; includeSubDomains"),
    ),
    (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ),
    (
        header::X_DNS_PREFETCH_CONTROL,
        HeaderValue::from_static("off"),
    ),
    (
        HeaderName::from_static("x-download-options"),
        HeaderValue::from_static("noopen"),
    ),
    (
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    ),
    (
        HeaderName::from_static("x-permitted-cross-domain-policies"),
        HeaderValue::from_static("none"),
    ),
    (header::X_XSS_PROTECTION, HeaderValue::from_static("0")),
    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
];

/// Adds the security headers a handler did not set itself (the popup page sets its own CSP).
pub fn add_security_headers(response: &mut Response) {
    let headers = response.headers_mut();
    headers.reserve(SECURITY_HEADERS.len());
    for (name, value) in SECURITY_HEADERS {
        headers.entry(name).or_insert(value);
    }
}
