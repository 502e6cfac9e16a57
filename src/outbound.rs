//! The HTTP client for calls stagedoor makes (catalog, identity providers): rustls with the
//! `ring` provider already used for signing, system trust roots, no redirects.

use std::time::Duration;

/// Builds the shared client. Installs `ring` as the process's TLS crypto provider first.
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    builder().build()
}

/// The shared client's settings, for a client that needs one more (the doctor's TLS details).
pub fn builder() -> reqwest::ClientBuilder {
    // Already installed (a second server in the same process) is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        // Below Node's 5 s keep-alive (the catalog, many IdPs and proxies): a connection the
        // server may be closing at that moment is never reused for a request, which would fail
        // with "connection closed before message completed".
        .pool_idle_timeout(Duration::from_secs(4))
        .user_agent(concat!("stagedoor/", env!("CARGO_PKG_VERSION")))
}
