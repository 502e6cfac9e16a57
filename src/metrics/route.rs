//! The route a request's path names, a fixed label set for the request metrics and spans.

/// A fixed route name for a request path, so labels stay few whatever the path.
pub fn route_of(path: &str) -> &'static str {
    let Some(rest) = path.strip_prefix("/api/auth/") else {
        return match path {
            "/healthz" | "/.backstage/health/v1/liveness" => "healthz",
            "/readyz" | "/.backstage/health/v1/readiness" => "readyz",
            "/metrics" => "metrics",
            _ if path.starts_with("/.well-known/") => "authorization_server_metadata",
            _ => "other",
        };
    };
    // Per request: compared in place, case-insensitively, without allocating.
    let mut segments = crate::url_path::split_slashes(rest.trim_end_matches('/'));
    let mut parts = [""; 4];
    for part in &mut parts {
        *part = segments.next().unwrap_or("");
    }
    let is = |segment: &str, expected: &str| segment.eq_ignore_ascii_case(expected);
    if is(parts[0], ".stagedoor") {
        return "admin";
    }
    if is(parts[0], ".backstage") && is(parts[1], "actions") {
        return "actions";
    }
    if segments.next().is_some() {
        return "other";
    }
    match parts {
        [a, b, "", ""] if is(a, ".well-known") && is(b, "jwks.json") => "jwks",
        [a, b, "", ""] if is(a, ".well-known") && is(b, "openid-configuration") => {
            "openid_configuration"
        }
        [a, b, c, d]
            if is(a, ".backstage") && is(b, "auth") && is(c, "v1") && is(d, "jwks.json") =>
        {
            "plugin_jwks"
        }
        [a, b, "", ""] if is(a, "v1") && is(b, "userinfo") => "userinfo",
        [a, b, "", ""] if is(a, "v1") && is(b, "token") => "token",
        [a, b, "", ""] if is(a, "v1") && is(b, "authorize") => "authorize",
        [a, b, _, _] if is(a, "v1") && is(b, "sessions") => "consent",
        [a, b, "", ""] if is(a, "v1") && is(b, "revoke") => "revoke",
        [a, b, "", ""] if is(a, "v1") && is(b, "register") => "register",
        [a, b, c, ""] if is(a, ".well-known") && is(b, "oauth-client") && is(c, "cli.json") => {
            "cli_metadata"
        }
        [_, b, "", ""] if is(b, "start") => "start",
        [_, b, c, ""] if is(b, "handler") && is(c, "frame") => "handler_frame",
        [_, b, "", ""] if is(b, "refresh") => "refresh",
        [_, b, "", ""] if is(b, "logout") => "logout",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_a_fixed_set() {
        assert_eq!(route_of("/api/auth/oidc/refresh"), "refresh");
        assert_eq!(route_of("/api/auth/Guest/Refresh/"), "refresh");
        assert_eq!(route_of("/api/auth/x/handler/frame"), "handler_frame");
        assert_eq!(route_of("/api/auth/.well-known/jwks.json"), "jwks");
        assert_eq!(route_of("/api/auth/.stagedoor/sessions/abc"), "admin");
        assert_eq!(route_of("/api/auth/a/b/c/d"), "other");
        assert_eq!(route_of("/api/auth/a/b/c/d/e"), "other");
        assert_eq!(route_of("/api/auth/.Stagedoor/sessions/a/b/c"), "admin");
        assert_eq!(
            route_of("/api/auth/.BACKSTAGE/auth/v1/jwks.json"),
            "plugin_jwks"
        );
        assert_eq!(route_of("/api/auth/v1//userinfo"), "other");
        assert_eq!(route_of("/api/auth/oidc/start"), "start");
        assert_eq!(route_of("/readyz"), "readyz");
        assert_eq!(route_of("/etc/passwd"), "other");
    }
}
