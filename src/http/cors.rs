//! CORS from `backend.cors` (§2.3), answered as Backstage's root router answers it: the `cors`
//! package behind an origin matcher. A request whose `Origin` matches gets the origin
//! reflected, `Vary: Origin` and, with `credentials`, `Access-Control-Allow-Credentials`; its
//! preflight is answered `204` at once. Any other request (no `Origin`, or one that does not
//! match) gets no CORS header at all and goes on to the routes, preflight or not.

use http::{HeaderMap, HeaderValue, header};

use crate::glob::OriginPatterns;

/// `backend.cors`, as Backstage's root router reads it, with its answers ready.
#[derive(Debug, Clone)]
pub struct CorsSettings {
    pub origins: OriginPatterns,
    pub credentials: bool,
    /// `Access-Control-Allow-Methods`: `methods` joined by commas, as given.
    methods: Option<HeaderValue>,
    /// `Access-Control-Allow-Headers`; `None` reflects the preflight's
    /// `Access-Control-Request-Headers`, as the `cors` package does.
    allowed_headers: Option<HeaderValue>,
    exposed_headers: Option<HeaderValue>,
    max_age: Option<HeaderValue>,
}

/// The parts of `backend.cors` (the defaults already applied).
pub struct CorsConfig<'a> {
    pub origins: OriginPatterns,
    pub methods: &'a [String],
    pub allowed_headers: Option<&'a [String]>,
    pub exposed_headers: &'a [String],
    pub credentials: bool,
    pub max_age_secs: Option<u64>,
}

impl CorsSettings {
    pub fn new(config: CorsConfig<'_>) -> Self {
        Self {
            origins: config.origins,
            credentials: config.credentials,
            methods: joined(config.methods),
            // An empty list is the `cors` package's "no header", not "reflect".
            allowed_headers: config.allowed_headers.and_then(joined),
            exposed_headers: joined(config.exposed_headers),
            max_age: config.max_age_secs.map(HeaderValue::from),
        }
    }

    /// The request's `Origin` (its first), if it is one `backend.cors.origin` allows.
    pub fn allowed_origin(&self, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
        let origin = origin?;
        let text = origin.to_str().ok()?;
        (!text.is_empty() && self.origins.matches(text)).then(|| origin.clone())
    }

    /// The headers of an answer to `origin` (an allowed one), in the `cors` package's order;
    /// for a preflight, also the methods, headers and age it allows.
    pub fn answer_headers(
        &self,
        origin: HeaderValue,
        preflight: Option<&Preflight>,
        into: &mut HeaderMap,
    ) {
        into.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        // One `Vary` value, as the `vary` package folds them; added to a handler's own.
        let reflects_headers = preflight.is_some() && self.allowed_headers.is_none();
        into.append(
            header::VARY,
            HeaderValue::from_static(if reflects_headers {
                "Origin, Access-Control-Request-Headers"
            } else {
                "Origin"
            }),
        );
        if self.credentials {
            into.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        if let Some(request) = preflight {
            self.preflight_headers(request, into);
        }
        if let Some(exposed) = &self.exposed_headers {
            into.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, exposed.clone());
        }
    }

    fn preflight_headers(&self, preflight: &Preflight, into: &mut HeaderMap) {
        if let Some(methods) = &self.methods {
            into.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods.clone());
        }
        let allowed = match &self.allowed_headers {
            Some(allowed) => Some(allowed.clone()),
            None => preflight.requested_headers.clone(),
        };
        if let Some(allowed) = allowed {
            into.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, allowed);
        }
        if let Some(max_age) = &self.max_age {
            into.insert(header::ACCESS_CONTROL_MAX_AGE, max_age.clone());
        }
    }
}

/// What a preflight (an `OPTIONS` request) asks for, as far as the answer depends on it.
#[derive(Debug, Clone)]
pub struct Preflight {
    requested_headers: Option<HeaderValue>,
}

impl Preflight {
    pub fn of(request: &HeaderMap) -> Self {
        Self {
            requested_headers: requested_headers(request),
        }
    }
}

/// The preflight's `Access-Control-Request-Headers`, as Node reads a repeated header: joined
/// by `", "`; none when absent or empty.
fn requested_headers(request: &HeaderMap) -> Option<HeaderValue> {
    let mut values = request
        .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .iter();
    let first = values.next()?;
    let mut joined = first.as_bytes().to_vec();
    for value in values {
        joined.extend_from_slice(b", ");
        joined.extend_from_slice(value.as_bytes());
    }
    if joined.is_empty() {
        return None;
    }
    HeaderValue::from_bytes(&joined).ok()
}

/// `values` joined by commas, as the `cors` package joins a list; the values that cannot be a
/// header's are left out. None for an empty result.
fn joined(values: &[String]) -> Option<HeaderValue> {
    let kept: Vec<&str> = values
        .iter()
        .map(String::as_str)
        .filter(|value| HeaderValue::from_str(value).is_ok())
        .collect();
    let joined = kept.join(",");
    (!joined.is_empty())
        .then(|| HeaderValue::from_str(&joined).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderName;

    fn settings(allowed_headers: Option<&[String]>, max_age: Option<u64>) -> CorsSettings {
        CorsSettings::new(CorsConfig {
            origins: OriginPatterns::new(&["http://localhost:3000", "https://*.example.com"])
                .unwrap(),
            methods: &["GET".into(), "POST".into()],
            allowed_headers,
            exposed_headers: &[],
            credentials: true,
            max_age_secs: max_age,
        })
    }

    fn request(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    fn lines(headers: &HeaderMap) -> Vec<String> {
        headers
            .iter()
            .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap()))
            .collect()
    }

    #[test]
    fn only_a_matching_origin_is_allowed() {
        let cors = settings(None, None);
        let allowed = |pairs| cors.allowed_origin(request(pairs).get(header::ORIGIN));
        assert_eq!(
            allowed(&[("origin", "http://localhost:3000")]).unwrap(),
            "http://localhost:3000"
        );
        assert!(allowed(&[("origin", "https://app.example.com")]).is_some());
        assert!(allowed(&[("origin", "https://evil.example")]).is_none());
        assert!(allowed(&[("origin", "")]).is_none());
        assert!(allowed(&[]).is_none());
    }

    #[test]
    fn an_actual_answer_reflects_the_origin_with_vary_and_credentials() {
        let cors = settings(None, Some(600));
        let mut headers = HeaderMap::new();
        cors.answer_headers(HeaderValue::from_static("http://x"), None, &mut headers);
        assert_eq!(
            lines(&headers),
            [
                "access-control-allow-origin: http://x",
                "vary: Origin",
                "access-control-allow-credentials: true",
            ]
        );
    }

    #[test]
    fn a_preflight_reflects_the_requested_headers_unless_they_are_configured() {
        let preflight = request(&[("access-control-request-headers", "x-requested-with")]);
        let mut headers = HeaderMap::new();
        settings(None, Some(600)).answer_headers(
            HeaderValue::from_static("http://x"),
            Some(&Preflight::of(&preflight)),
            &mut headers,
        );
        assert_eq!(
            lines(&headers),
            [
                "access-control-allow-origin: http://x",
                "vary: Origin, Access-Control-Request-Headers",
                "access-control-allow-credentials: true",
                "access-control-allow-methods: GET,POST",
                "access-control-allow-headers: x-requested-with",
                "access-control-max-age: 600",
            ]
        );
        let configured = ["authorization".to_owned(), "content-type".to_owned()];
        let mut headers = HeaderMap::new();
        settings(Some(&configured), None).answer_headers(
            HeaderValue::from_static("http://x"),
            Some(&Preflight::of(&preflight)),
            &mut headers,
        );
        assert_eq!(headers["vary"], "Origin");
        assert_eq!(
            headers["access-control-allow-headers"],
            "authorization,content-type"
        );
        assert!(!headers.contains_key("access-control-max-age"));
    }
}
