//! Sign-in providers. Each one serves the routes under `/api/auth/{provider}/`.

pub mod guest;
pub mod oauth_settings;
pub mod oidc;
pub mod presets;
