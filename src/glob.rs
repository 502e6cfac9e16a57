//! Origin patterns as Backstage matches them (minimatch, case-insensitive, `*` not crossing `/`).

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

#[derive(Debug, Clone)]
pub struct OriginPatterns {
    set: GlobSet,
}

impl OriginPatterns {
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, String> {
        let mut builder = GlobSetBuilder::new();
        for pattern in patterns {
            let pattern = pattern.as_ref();
            let glob = GlobBuilder::new(pattern)
                .case_insensitive(true)
                .literal_separator(true)
                .build()
                .map_err(|error| format!("\"{pattern}\" is not a valid pattern: {error}"))?;
            builder.add(glob);
        }
        let set = builder
            .build()
            .map_err(|error| format!("invalid patterns: {error}"))?;
        Ok(Self { set })
    }

    pub fn empty() -> Self {
        Self {
            set: GlobSet::empty(),
        }
    }

    pub fn matches(&self, origin: &str) -> bool {
        self.set.is_match(origin)
    }
}

/// Whether an origin pattern's host is a bare wildcard or a wildcard over a top-level domain
/// (`*`, `https://*`, `https://*.com`, `*://*:8443`): at least two literal labels must follow
/// the last `*` of the host.
pub fn is_too_broad(pattern: &str) -> bool {
    let after_scheme = pattern.split_once("://").map_or(pattern, |(_, rest)| rest);
    let host = after_scheme.split([':', '/']).next().unwrap_or_default();
    let Some(star) = host.rfind('*') else {
        return host.is_empty();
    };
    let suffix = host[star + 1..].trim_start_matches(['.', '-']);
    suffix.split('.').filter(|label| !label.is_empty()).count() < 2
}

#[cfg(test)]
mod tests {
    #[test]
    fn patterns_over_whole_schemes_are_too_broad() {
        for broad in [
            "*",
            "https://*",
            "*://*",
            "https://*:8443",
            "https://*.com",
            "http://**",
            "https://*.*",
        ] {
            assert!(super::is_too_broad(broad), "{broad}");
        }
        for narrow in [
            "https://*.preview.example.com",
            "https://pr-*.example.com",
            "http://localhost:*",
            "https://backstage.example.com",
        ] {
            assert!(!super::is_too_broad(narrow), "{narrow}");
        }
    }

    use super::*;

    #[test]
    fn star_stays_within_one_path_segment_and_ignores_case() {
        let patterns = OriginPatterns::new(&["https://*.preview.example.com"]).unwrap();
        assert!(patterns.matches("https://pr-12.preview.example.com"));
        assert!(patterns.matches("HTTPS://PR-12.Preview.Example.com"));
        assert!(!patterns.matches("https://evil.com/.preview.example.com"));
        assert!(!patterns.matches("https://preview.example.com.evil.com"));
        assert!(!OriginPatterns::empty().matches("https://a.example.com"));
    }

    #[test]
    fn exact_patterns_match_exactly() {
        let patterns = OriginPatterns::new(&["http://localhost:3000"]).unwrap();
        assert!(patterns.matches("http://localhost:3000"));
        assert!(!patterns.matches("http://localhost:30001"));
        assert!(!patterns.matches("http://localhost:3000.evil.com"));
    }
}
