//! The provider cookies (§6): nonce, refresh token (chunked above 4000 characters) and
//! granted scope, with Node's paths, lifetimes and SameSite rule, percent-encoded.

use std::collections::BTreeMap;

use cookie::{Cookie, SameSite};
use http::{HeaderMap, HeaderValue, header};

const CHUNK_SIZE: usize = 4000;
pub const NONCE_MAX_AGE_SECS: i64 = 600;

/// The cookies a request carried, percent-decoded.
#[derive(Debug, Default)]
pub struct RequestCookies {
    values: BTreeMap<String, String>,
}

impl RequestCookies {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let mut values = BTreeMap::new();
        for header in headers.get_all(header::COOKIE) {
            let Ok(text) = header.to_str() else { continue };
            for cookie in Cookie::split_parse_encoded(text).flatten() {
                values
                    .entry(cookie.name().to_owned())
                    .or_insert_with(|| cookie.value().to_owned());
            }
        }
        Self { values }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Chunk-aware: `name-0`, `name-1`, ... take precedence over `name`.
    pub fn get_chunked(&self, name: &str) -> Option<String> {
        let chunks: Vec<&str> = (0..)
            .map_while(|index| self.get(&format!("{name}-{index}")))
            .collect();
        if chunks.is_empty() {
            self.get(name).map(str::to_owned)
        } else {
            Some(chunks.concat())
        }
    }

    fn chunk_names(&self, name: &str) -> Vec<String> {
        (0..)
            .map(|index| format!("{name}-{index}"))
            .take_while(|chunk| self.values.contains_key(chunk))
            .collect()
    }
}

/// Where and how one provider's cookies are written (§6.1).
#[derive(Debug, Clone)]
pub struct CookiePolicy {
    /// `/api/auth/<provider>` for the default callback URL.
    pub base_path: String,
    pub secure: bool,
    pub callback_host: String,
}

impl CookiePolicy {
    pub fn new(callback_url: &url::Url, provider: &str) -> Self {
        let path = callback_url.path().trim_end_matches('/');
        let suffix = format!("{provider}/handler/frame");
        let base_path = match path.strip_suffix("/handler/frame") {
            Some(base) if path.ends_with(&suffix) => base.to_owned(),
            _ => format!("{path}/{provider}"),
        };
        Self {
            base_path,
            secure: callback_url.scheme() == "https",
            callback_host: callback_url.host_str().unwrap_or_default().to_owned(),
        }
    }

    fn same_site(&self, app_origin: &str) -> SameSite {
        let app_host = url::Url::parse(app_origin)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned));
        if self.secure && app_host.as_deref() != Some(self.callback_host.as_str()) {
            SameSite::None
        } else {
            SameSite::Lax
        }
    }
}

/// The `Set-Cookie` headers a response will carry.
pub struct CookieWriter<'a> {
    policy: &'a CookiePolicy,
    same_site: SameSite,
    now: time::OffsetDateTime,
    pub headers: Vec<HeaderValue>,
}

impl<'a> CookieWriter<'a> {
    pub fn new(policy: &'a CookiePolicy, app_origin: &str, now_millis: i64) -> Self {
        let now = time::OffsetDateTime::from_unix_timestamp(now_millis.div_euclid(1000))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        Self {
            same_site: policy.same_site(app_origin),
            policy,
            now,
            headers: Vec::new(),
        }
    }

    pub fn set_nonce(&mut self, request: &RequestCookies, provider: &str, nonce: &str) {
        let name = format!("{provider}-nonce");
        self.legacy_removal(request, &name);
        let path = format!("{}/handler", self.policy.base_path);
        self.push(&name, nonce, &path, NONCE_MAX_AGE_SECS, None);
    }

    /// The sealed per-sign-in secrets, beside the nonce and as short-lived.
    pub fn set_flow_secrets(&mut self, name: &str, sealed: &str) {
        let path = format!("{}/handler", self.policy.base_path);
        self.push(name, sealed, &path, NONCE_MAX_AGE_SECS, None);
    }

    /// Spends a sign-in: clears its nonce and flow cookies, if the request carried them.
    pub fn clear_flow(&mut self, provider: &str, request: &RequestCookies) {
        let path = format!("{}/handler", self.policy.base_path);
        for name in [format!("{provider}-nonce"), format!("{provider}-flow")] {
            if request.get(&name).is_some() {
                self.push(&name, "", &path, 0, None);
            }
        }
    }

    /// Writes a cookie at the base path, chunked if long, clearing chunks or the plain
    /// cookie of an earlier write.
    pub fn set_session_cookie(
        &mut self,
        request: &RequestCookies,
        name: &str,
        value: &str,
        max_age: i64,
    ) {
        self.legacy_removal(request, name);
        let base = self.policy.base_path.clone();
        for chunk in request.chunk_names(name) {
            self.push(&chunk, "", &base, 0, None);
        }
        if value.chars().count() <= CHUNK_SIZE {
            self.push(name, value, &base, max_age, None);
            return;
        }
        if request.get(name).is_some() {
            self.push(name, "", &base, 0, None);
        }
        let chars: Vec<char> = value.chars().collect();
        for (index, chunk) in chars.chunks(CHUNK_SIZE).enumerate() {
            let chunk: String = chunk.iter().collect();
            self.push(&format!("{name}-{index}"), &chunk, &base, max_age, None);
        }
    }

    /// Clears `name` (and its chunks) if the request carried it.
    pub fn remove_if_present(&mut self, request: &RequestCookies, name: &str) {
        let base = self.policy.base_path.clone();
        if request.get(name).is_some() {
            self.push(name, "", &base, 0, None);
        }
        for chunk in request.chunk_names(name) {
            self.push(&chunk, "", &base, 0, None);
        }
    }

    /// Node first clears a same-named cookie (and the chunks the request carried) set with a
    /// Domain by old Backstage versions.
    fn legacy_removal(&mut self, request: &RequestCookies, name: &str) {
        let base = self.policy.base_path.clone();
        let domain = self.policy.callback_host.clone();
        self.push(name, "", &base, 0, Some(&domain));
        for chunk in request.chunk_names(name) {
            self.push(&chunk, "", &base, 0, Some(&domain));
        }
    }

    fn push(&mut self, name: &str, value: &str, path: &str, max_age: i64, domain: Option<&str>) {
        let mut cookie = Cookie::build((name.to_owned(), value.to_owned()))
            .path(path.to_owned())
            .http_only(true)
            .secure(self.policy.secure)
            .same_site(self.same_site)
            .max_age(time::Duration::seconds(max_age))
            .expires(self.now + time::Duration::seconds(max_age))
            .build();
        if let Some(domain) = domain {
            cookie.set_domain(domain.to_owned());
        }
        if let Ok(header) = HeaderValue::from_str(&cookie.encoded().to_string()) {
            self.headers.push(header);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(callback: &str) -> CookiePolicy {
        CookiePolicy::new(&url::Url::parse(callback).unwrap(), "oidc")
    }

    #[test]
    fn paths_and_flags_follow_the_callback_url() {
        let default = policy("http://localhost:7007/api/auth/oidc/handler/frame");
        assert_eq!(
            (default.base_path.as_str(), default.secure),
            ("/api/auth/oidc", false)
        );
        assert_eq!(
            policy("https://b.example.com/custom/callback").base_path,
            "/custom/callback/oidc"
        );
        let secure = policy("https://auth.example.com/api/auth/oidc/handler/frame");
        assert_eq!(secure.same_site("https://app.example.com"), SameSite::None);
        assert_eq!(secure.same_site("https://auth.example.com"), SameSite::Lax);
        assert_eq!(default.same_site("http://localhost:3000"), SameSite::Lax);
    }

    #[test]
    fn long_values_are_chunked_and_read_back() {
        let policy = policy("http://localhost:7007/api/auth/oidc/handler/frame");
        let mut writer = CookieWriter::new(&policy, "http://localhost:3000", 0);
        let value = "x".repeat(9000);
        writer.set_session_cookie(
            &RequestCookies::default(),
            "oidc-refresh-token",
            &value,
            100,
        );
        let mut headers = HeaderMap::new();
        let mut sent = Vec::new();
        for header in &writer.headers {
            let cookie = Cookie::parse_encoded(header.to_str().unwrap().to_owned()).unwrap();
            if cookie.max_age() != Some(time::Duration::ZERO) {
                assert!(cookie.value().len() <= 4000);
                assert_eq!(cookie.path(), Some("/api/auth/oidc"));
                sent.push(format!("{}={}", cookie.name(), cookie.value()));
            }
        }
        assert_eq!(sent.len(), 3);
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&sent.join("; ")).unwrap(),
        );
        assert_eq!(
            RequestCookies::from_headers(&headers).get_chunked("oidc-refresh-token"),
            Some(value)
        );
    }

    #[test]
    fn the_nonce_cookie_is_short_lived_under_the_handler_path() {
        let policy = policy("http://localhost:7007/api/auth/oidc/handler/frame");
        let mut writer = CookieWriter::new(&policy, "http://localhost:3000", 0);
        writer.set_nonce(
            &RequestCookies::default(),
            "oidc",
            "dh3Ft780jH5YuQRDtVO30A==",
        );
        let nonce = writer.headers[1].to_str().unwrap();
        for part in [
            "oidc-nonce=dh3Ft780jH5YuQRDtVO30A%3D%3D",
            "Path=/api/auth/oidc/handler",
            "Max-Age=600",
            "HttpOnly",
            "SameSite=Lax",
        ] {
            assert!(nonce.contains(part), "{part} in {nonce}");
        }
        assert!(!nonce.contains("Domain") && !nonce.contains("Secure"));
        let legacy = writer.headers[0].to_str().unwrap();
        for part in [
            "oidc-nonce=",
            "Domain=localhost",
            "Max-Age=0",
            "Path=/api/auth/oidc",
        ] {
            assert!(legacy.contains(part), "{part} in {legacy}");
        }
        assert!(!legacy.contains("/handler"), "{legacy}");
    }
}
