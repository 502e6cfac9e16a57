//! Response headers every Backstage backend sends (helmet defaults, as captured).

use axum::response::Response;
use std::sync::LazyLock;

use http::{HeaderMap, HeaderName, HeaderValue, header};

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

/// `X-Request-Id`, which the request log gives every response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The security headers, as one map to start every response's headers from, and a place for
/// the request id, which the request log always fills. Its index is sized for twenty headers,
/// and a copy keeps that size: a response's own headers and CORS's then go in without
/// re-hashing the ten. A copy's list has no spare room, so the id's place is kept here: the
/// list of a JSON answer then never grows (a dozen headers are past the allocator's quick
/// sizes, and growing it cost a reallocation and a copy per request).
static SECURITY_MAP: LazyLock<HeaderMap> = LazyLock::new(|| {
    let mut map = HeaderMap::with_capacity(20);
    map.extend(SECURITY_HEADERS);
    map.insert(REQUEST_ID, HeaderValue::from_static("-"));
    map
});

/// Backstage's exact JSON content type.
pub const JSON_CONTENT_TYPE: HeaderValue =
    HeaderValue::from_static("application/json; charset=utf-8");

/// The security headers and a JSON body's `Content-Type`, the busiest start.
static JSON_MAP: LazyLock<HeaderMap> = LazyLock::new(|| {
    let mut map = SECURITY_MAP.clone();
    map.insert(header::CONTENT_TYPE, JSON_CONTENT_TYPE);
    map
});

/// A JSON response's headers: the security headers, the request id's place, then
/// `Content-Type: application/json; charset=utf-8`. A handler that builds on these spares
/// [`add_security_headers`] the merge.
pub fn json_headers() -> HeaderMap {
    JSON_MAP.clone()
}

/// Whether `headers` begin with the ten security headers (built on [`json_headers`]).
fn begins_with_security_headers(headers: &HeaderMap) -> bool {
    headers.keys_len() >= SECURITY_HEADERS.len()
        && headers
            .keys()
            .zip(&SECURITY_HEADERS)
            .all(|(name, (security, _))| name == security)
}

/// Adds the security headers a handler did not set itself (the popup page sets its own CSP),
/// then what `between` adds (CORS), then the handler's own: Backstage's order, helmet and
/// `cors` run before any handler. Headers built on [`json_headers`] have them already;
/// `between` then adds its own after the handler's (the order of different header fields
/// carries no meaning, RFC 9110 §5.3).
pub fn add_security_headers(response: &mut Response, between: impl FnOnce(&mut HeaderMap)) {
    if begins_with_security_headers(response.headers()) {
        between(response.headers_mut());
        return;
    }
    let mut headers = SECURITY_MAP.clone();
    between(&mut headers);
    let own = std::mem::replace(response.headers_mut(), headers);
    let headers = response.headers_mut();
    let mut last: Option<HeaderName> = None;
    for (name, value) in own {
        // A name comes once, followed by `None` for each further value it has.
        match name {
            // `Vary` adds to CORS's, as the `vary` package does.
            Some(name) if name == header::VARY => {
                headers.append(name.clone(), value);
                last = Some(name);
            }
            Some(name) => {
                headers.insert(name.clone(), value);
                last = Some(name);
            }
            None => {
                if let Some(name) = &last {
                    headers.append(name.clone(), value);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_headers_come_first_and_a_handlers_own_value_wins() {
        let mut response = Response::new(axum::body::Body::empty());
        let own = response.headers_mut();
        own.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
        own.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("mine"),
        );
        own.append(header::SET_COOKIE, HeaderValue::from_static("a=1"));
        own.append(header::SET_COOKIE, HeaderValue::from_static("b=2"));
        add_security_headers(&mut response, |_| {});
        let headers = response.headers();
        assert_eq!(
            headers.keys().next(),
            Some(&header::CONTENT_SECURITY_POLICY)
        );
        assert_eq!(headers[header::CONTENT_SECURITY_POLICY], "mine");
        assert_eq!(headers[header::CONTENT_TYPE], "text/html");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "SAMEORIGIN");
        let cookies: Vec<_> = headers.get_all(header::SET_COOKIE).iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        // With the request id's place.
        assert_eq!(headers.keys_len(), SECURITY_HEADERS.len() + 3);
    }

    #[test]
    fn headers_built_on_the_json_map_are_not_merged_again() {
        let mut response = Response::new(axum::body::Body::empty());
        *response.headers_mut() = json_headers();
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Accept"));
        add_security_headers(&mut response, |headers| {
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        });
        let headers = response.headers();
        assert_eq!(headers.keys_len(), SECURITY_HEADERS.len() + 3);
        assert_eq!(headers[header::CONTENT_TYPE], JSON_CONTENT_TYPE);
        let vary: Vec<_> = headers.get_all(header::VARY).iter().collect();
        assert_eq!(vary, ["Accept", "Origin"]);
    }
}
