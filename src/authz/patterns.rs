//! URL patterns as Node's authorization server matches them (`createUrlPatternMatcher`):
//! `*` alone matches every URL; otherwise the scheme is explicit and compared exactly, the
//! host and the path are case-insensitive globs (`*` spans `/` in paths), and the port is
//! exact unless the pattern says `:*`. Unlike Node, a bad pattern stops start-up.

use url::Url;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlPattern {
    text: String,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Any,
    Url {
        scheme: String,
        host: String,
        /// `None`: any port (`:*`); `Some("")`: the scheme's default port.
        port: Option<String>,
        path: String,
    },
}

const SPECIAL_SCHEMES: &[(&str, Option<u16>)] = &[
    ("http", Some(80)),
    ("https", Some(443)),
    ("ws", Some(80)),
    ("wss", Some(443)),
    ("ftp", Some(21)),
    ("file", None),
];

impl UrlPattern {
    /// Parses a pattern, or says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text == "*" {
            return Ok(Self {
                text: text.to_owned(),
                kind: Kind::Any,
            });
        }
        let Some((scheme, rest)) = text.split_once(':') else {
            return Err(explicit_scheme(text));
        };
        let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !valid_scheme {
            return Err(explicit_scheme(text));
        }
        let scheme = scheme.to_ascii_lowercase();
        let special = SPECIAL_SCHEMES.iter().find(|(name, _)| *name == scheme);
        let (authority, path) = match rest.strip_prefix("//") {
            Some(rest) => rest.split_at(rest.find('/').unwrap_or(rest.len())),
            None => ("", rest),
        };
        let (host, port) = split_port(authority)
            .ok_or_else(|| format!("\"{text}\" is not a valid URL pattern (its port)"))?;
        if host.contains(['@', '?', '#']) || path.contains(['?', '#']) {
            return Err(format!(
                "\"{text}\" is not a valid URL pattern: use only a scheme, a host, an optional port and a path"
            ));
        }
        let port = match port {
            Port::Any => None,
            Port::None => Some(String::new()),
            Port::Number(number) => {
                let default = special.and_then(|(_, port)| *port);
                Some(if Some(number) == default {
                    String::new()
                } else {
                    number.to_string()
                })
            }
        };
        let path = match (path.is_empty(), special.is_some()) {
            (true, true) => "/".to_owned(),
            (true, false) => "*".to_owned(),
            (false, _) => path.to_owned(),
        };
        Ok(Self {
            text: text.to_owned(),
            kind: Kind::Url {
                scheme,
                host: if host.is_empty() {
                    "*".into()
                } else {
                    host.to_ascii_lowercase()
                },
                port,
                path,
            },
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// A pattern without `*` or `?`: it names one URL, which its operator chose on purpose.
    pub fn is_exact(&self) -> bool {
        !self.text.contains(['*', '?'])
    }

    pub fn matches(&self, url: &Url) -> bool {
        match &self.kind {
            Kind::Any => true,
            Kind::Url {
                scheme,
                host,
                port,
                path,
            } => {
                url.scheme() == scheme
                    && glob(host, url.host_str().unwrap_or(""))
                    && port.as_ref().is_none_or(|port| {
                        *port == url.port().map(|p| p.to_string()).unwrap_or_default()
                    })
                    && glob(path, url.path())
            }
        }
    }
}

fn explicit_scheme(text: &str) -> String {
    format!("\"{text}\" needs an explicit scheme, e.g. https://{text}")
}

enum Port {
    None,
    Any,
    Number(u16),
}

/// `host[:port]`, where the host may be a bracketed IPv6 address.
fn split_port(authority: &str) -> Option<(&str, Port)> {
    let host_end = if authority.starts_with('[') {
        authority.find(']')? + 1
    } else {
        authority.find(':').unwrap_or(authority.len())
    };
    let (host, rest) = authority.split_at(host_end);
    let port = match rest.strip_prefix(':') {
        None if rest.is_empty() => Port::None,
        None => return None,
        Some("*") => Port::Any,
        Some("") => Port::None,
        Some(number) => Port::Number(number.parse().ok()?),
    };
    Some((host, port))
}

/// A case-insensitive glob where `*` matches any run of characters (`/` included).
pub fn glob(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.to_lowercase().chars().collect();
    let text: Vec<char> = text.to_lowercase().chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// The loopback redirect URIs Node allows by default (http only).
pub const LOOPBACK_REDIRECT_PATTERNS: &[&str] = &[
    "http://localhost:*/*",
    "http://localhost/*",
    "http://127.0.0.1:*/*",
    "http://127.0.0.1/*",
    "http://[::1]:*/*",
    "http://[::1]/*",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, url: &str) -> bool {
        UrlPattern::parse(pattern)
            .unwrap()
            .matches(&Url::parse(url).unwrap())
    }

    #[test]
    fn ports_hosts_and_paths_match_as_in_node() {
        assert!(matches(
            "http://localhost:*/*",
            "http://localhost:41234/callback"
        ));
        assert!(matches("http://localhost/*", "http://localhost/cb"));
        assert!(!matches("http://localhost/*", "http://localhost:8080/cb"));
        assert!(!matches(
            "http://localhost:*/*",
            "https://localhost:8080/cb"
        ));
        assert!(matches("http://[::1]:*/*", "http://[::1]:9000/cb"));
        assert!(matches("https://claude.ai/*", "https://CLAUDE.ai/api/a/b"));
        assert!(!matches(
            "https://claude.ai/*",
            "https://claude.ai.evil.com/x"
        ));
        assert!(matches(
            "https://chatgpt.com/oauth/codex/*/client.json",
            "https://chatgpt.com/oauth/codex/a/b/client.json"
        ));
        assert!(matches(
            "https://*.example.com/*",
            "https://a.example.com/x"
        ));
        assert!(!matches("https://*.example.com/*", "https://example.org/x"));
        assert!(matches(
            "cursor://*",
            "cursor://anysphere.cursor-retrieval/oauth/cb"
        ));
        assert!(matches("*", "foo://bar"));
        assert!(matches("https://host:443/x", "https://host/x"));
        assert!(!matches("https://host", "https://host/x"));
    }

    #[test]
    fn exactness_and_bad_patterns() {
        assert!(
            UrlPattern::parse("https://a.example.com/c.json")
                .unwrap()
                .is_exact()
        );
        assert!(
            !UrlPattern::parse("https://a.example.com/*")
                .unwrap()
                .is_exact()
        );
        assert!(UrlPattern::parse("claude.ai/*").is_err());
        assert!(UrlPattern::parse("1http://x").is_err());
        assert!(UrlPattern::parse("https://host:port/").is_err());
        assert!(UrlPattern::parse("https://u@host/").is_err());
    }

    #[test]
    fn globs_span_slashes() {
        assert!(glob("/*", "/a/b/c"));
        assert!(glob("a*c*e", "abcde"));
        assert!(!glob("a*c", "abd"));
        assert!(glob("*", ""));
    }
}
