//! `stagedoor.admin`: who may list and revoke sessions.

#[derive(Clone, Default)]
pub struct AdminSettings {
    /// Static bearer tokens.
    pub tokens: Vec<String>,
    /// Backstage plugins whose service tokens are accepted, with their JWKS URLs.
    pub plugins: Vec<AdminPlugin>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminPlugin {
    pub id: String,
    pub jwks_url: String,
}

impl AdminSettings {
    /// With neither tokens nor plugins the admin API is off (404).
    pub fn is_enabled(&self) -> bool {
        !self.tokens.is_empty() || !self.plugins.is_empty()
    }
}

impl std::fmt::Debug for AdminSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminSettings")
            .field("tokens", &format_args!("<{} redacted>", self.tokens.len()))
            .field("plugins", &self.plugins)
            .finish()
    }
}
