//! Origin and redirect checks (§4.3), exact: the app's origin or an allowed pattern.

use crate::error::Error;
use crate::glob::OriginPatterns;

pub struct Origins<'a> {
    pub app_origin: &'a str,
    pub extra: &'a OriginPatterns,
}

impl Origins<'_> {
    pub fn is_allowed(&self, origin: &str) -> bool {
        origin == self.app_origin || self.extra.matches(origin)
    }

    /// Normalises `origin` (as `new URL(origin).origin`) and checks it.
    pub fn check(&self, origin: &str) -> Result<String, Error> {
        let normalized = normalize(origin)
            .ok_or_else(|| Error::input("App origin is invalid, failed to parse"))?;
        if self.is_allowed(&normalized) {
            Ok(normalized)
        } else {
            Err(Error::not_allowed(format!(
                "Origin '{normalized}' is not allowed"
            )))
        }
    }

    /// Beyond Node: where the browser is sent after sign-in must be on an allowed origin.
    /// Parsed as a browser would (WHATWG URL), so `@`, backslashes, encodings and odd
    /// schemes cannot smuggle another host past the check.
    pub fn check_redirect(&self, redirect_url: &str) -> Result<(), Error> {
        let refused =
            || Error::not_allowed(format!("Redirect URL '{redirect_url}' is not allowed"));
        let url = url::Url::parse(redirect_url).map_err(|_| refused())?;
        if !matches!(url.scheme(), "http" | "https")
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(refused());
        }
        if self.is_allowed(&url.origin().ascii_serialization()) {
            Ok(())
        } else {
            Err(refused())
        }
    }
}

pub fn normalize(origin: &str) -> Option<String> {
    let url = url::Url::parse(origin).ok()?;
    Some(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_bypass_shapes_are_refused() {
        let extra = OriginPatterns::new(&["https://*.preview.example.com"]).unwrap();
        let origins = Origins {
            app_origin: "https://backstage.example.com",
            extra: &extra,
        };
        for allowed in [
            "https://backstage.example.com/catalog?x=1",
            "https://BACKSTAGE.example.com:443/",
            "https://pr-1.preview.example.com/a",
        ] {
            assert!(origins.check_redirect(allowed).is_ok(), "{allowed}");
        }
        for refused in [
            "https://backstage.example.com@evil.example/",
            "https://backstage.example.com:pass@evil.example/",
            "https://evil.example\\@backstage.example.com/",
            "https:\\\\evil.example\\backstage.example.com",
            "https://evil.example%2F@backstage.example.com",
            "https://backstage.example.com.evil.example/",
            "https://evil.example/https://backstage.example.com",
            "//evil.example/",
            "/relative",
            "javascript:alert(1)//https://backstage.example.com",
            "data:text/html,<script>1</script>",
            "http://backstage.example.com/",
            "https://backstage.example.com:8443/",
            "https://evil.example/.preview.example.com",
            "https://%62ackstage.example.com.evil.example/",
            "",
        ] {
            assert!(origins.check_redirect(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn origins_are_normalised_then_matched_exactly() {
        let extra = OriginPatterns::empty();
        let origins = Origins {
            app_origin: "http://localhost:3000",
            extra: &extra,
        };
        assert_eq!(
            origins.check("http://LOCALHOST:3000/path").unwrap(),
            "http://localhost:3000"
        );
        assert_eq!(
            origins.check("not-a-url").unwrap_err().message,
            "App origin is invalid, failed to parse"
        );
        assert_eq!(
            origins
                .check("http://evil.example.com")
                .unwrap_err()
                .message,
            "Origin 'http://evil.example.com' is not allowed"
        );
    }
}
