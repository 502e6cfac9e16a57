//! `stagedoor.sessions`: server-side sessions.

#[derive(Clone)]
pub struct SessionSettings {
    /// Seals the IdP refresh tokens kept in the store.
    pub secret: String,
}

impl std::fmt::Debug for SessionSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionSettings { secret: <redacted> }")
    }
}
