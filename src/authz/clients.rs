//! Who a `client_id` is (`OidcService.resolveClient`): a URL that passes the CIMD rules is a
//! Client ID Metadata Document client (public, PKCE required); anything else is looked up
//! as a client registered with DCR. Redirect URIs are checked against the patterns and the
//! client's own list (loopback ones compared without the port, RFC 8252 §7.3).

use serde_json::Value;
use url::Url;

use super::AuthorizationServer;
use super::fetch::FetchError;
use crate::error::Error;
use crate::store::{ClientRow, Store};

const LOOPBACK_HOSTS: &[&str] = &["localhost", "127.0.0.1", "[::1]"];
const FORBIDDEN_AUTH_METHODS: &[&str] = &[
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// Identified by its metadata document's URL; has no secret.
    MetadataDocument,
    /// Registered with DCR; has a secret.
    Registered,
}

#[derive(Debug, Clone)]
pub struct ResolvedClient {
    pub client_id: String,
    pub name: String,
    pub kind: ClientKind,
}

/// `validateCimdUrl`: https (or http to localhost/127.0.0.1 in development), a path, and no
/// dot segment, fragment, query or credentials. `None`: not a metadata document URL.
pub fn metadata_document_url(client_id: &str, development: bool) -> Option<Url> {
    let dot_segment = ["/./", "/../"].iter().any(|s| client_id.contains(s))
        || client_id.ends_with("/.")
        || client_id.ends_with("/..");
    if dot_segment || client_id.contains(['#', '?']) {
        return None;
    }
    let url = Url::parse(client_id).ok()?;
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1"));
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && local && development);
    let has_path = !url.path().is_empty() && url.path() != "/";
    let no_credentials = url.username().is_empty() && url.password().is_none();
    (scheme_ok && has_path && no_credentials).then_some(url)
}

/// `scheme://host[:port]/path`, as Node names a redirect URI in its errors.
fn normalized(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{}://{host}:{port}{}", url.scheme(), url.path()),
        None => format!("{}://{host}{}", url.scheme(), url.path()),
    }
}

/// `validateRedirectUri`: no credentials, and one of `patterns` matches.
pub fn check_redirect_pattern(
    redirect_uri: &str,
    patterns: &[super::patterns::UrlPattern],
) -> Result<(), Error> {
    let url = Url::parse(redirect_uri)
        .map_err(|_| Error::input(format!("Invalid redirect_uri '{redirect_uri}'")))?;
    let refused = || Error::input(format!("Invalid redirect_uri '{}'", normalized(&url)));
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refused());
    }
    if !patterns.iter().any(|pattern| pattern.matches(&url)) {
        return Err(refused());
    }
    Ok(())
}

/// `matchesRedirectUri`: exact, except that loopback URIs compare scheme, host and path.
fn is_registered(requested: &str, registered: &[String]) -> bool {
    let Ok(url) = Url::parse(requested) else {
        return false;
    };
    let host = url.host_str().unwrap_or_default();
    if !LOOPBACK_HOSTS.contains(&host) {
        return registered.iter().any(|uri| uri == requested);
    }
    registered
        .iter()
        .filter_map(|uri| Url::parse(uri).ok())
        .any(|other| {
            other.scheme() == url.scheme()
                && other.host_str() == Some(host)
                && other.path() == url.path()
        })
}

/// What a metadata document says, once it passed `validateMetadata`.
struct Document {
    name: String,
    redirect_uris: Vec<String>,
}

fn read_document(document: &Value, client_id: &str) -> Result<Document, Error> {
    if document.get("client_id").and_then(Value::as_str) != Some(client_id) {
        return Err(Error::input("Client ID mismatch in metadata document"));
    }
    let uris = match document.get("redirect_uris").and_then(Value::as_array) {
        Some(uris) if !uris.is_empty() => uris,
        _ => {
            return Err(Error::input(
                "Metadata must include at least one redirect_uri",
            ));
        }
    };
    let mut redirect_uris = Vec::with_capacity(uris.len());
    for uri in uris {
        match uri.as_str().filter(|text| Url::parse(text).is_ok()) {
            Some(text) => redirect_uris.push(text.to_owned()),
            None => {
                let shown = uri.as_str().map_or_else(|| uri.to_string(), str::to_owned);
                return Err(Error::input(format!(
                    "Invalid redirect_uri in metadata: {shown}"
                )));
            }
        }
    }
    if document.get("client_secret").is_some() || document.get("client_secret_expires_at").is_some()
    {
        return Err(Error::input(
            "Client metadata must not contain client_secret",
        ));
    }
    let method = document
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str);
    if method.is_some_and(|method| FORBIDDEN_AUTH_METHODS.contains(&method)) {
        return Err(Error::input("Client metadata uses forbidden auth method"));
    }
    let name = document
        .get("client_name")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .unwrap_or(client_id);
    Ok(Document {
        name: name.to_owned(),
        redirect_uris,
    })
}

impl AuthorizationServer {
    /// Resolves `client_id` and, if given, checks `redirect_uri` for it.
    pub async fn resolve_client(
        &self,
        store: &Store,
        client_id: &str,
        redirect_uri: Option<&str>,
    ) -> Result<ResolvedClient, Error> {
        match metadata_document_url(client_id, self.development) {
            Some(url) => {
                self.resolve_document_client(client_id, &url, redirect_uri)
                    .await
            }
            None => {
                let client = registered_client(store, client_id).await?;
                let client = client.ok_or_else(|| Error::input("Invalid client_id"))?;
                let uris: Vec<String> =
                    serde_json::from_str(&client.redirect_uris).unwrap_or_default();
                if let Some(uri) = redirect_uri
                    && !uris.iter().any(|registered| registered == uri)
                {
                    return Err(Error::input(format!("Invalid redirect_uri '{uri}'")));
                }
                Ok(ResolvedClient {
                    client_id: client.client_id,
                    name: client.client_name,
                    kind: ClientKind::Registered,
                })
            }
        }
    }

    async fn resolve_document_client(
        &self,
        client_id: &str,
        url: &Url,
        redirect_uri: Option<&str>,
    ) -> Result<ResolvedClient, Error> {
        let settings = self
            .settings
            .metadata_documents
            .as_ref()
            .ok_or_else(|| Error::input("Client ID metadata documents not enabled"))?;
        let document = if client_id == self.cli_client_id {
            // The built-in CLI client: its document is this server's own, never fetched.
            super::metadata::cli_client_document(&self.cli_client_id)
        } else {
            let pattern = settings
                .client_id_patterns
                .iter()
                .find(|pattern| pattern.matches(url))
                .ok_or_else(|| Error::input(format!("Invalid client_id '{client_id}'")))?;
            let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1"));
            let check = !(pattern.is_exact() || (local && self.development));
            self.fetcher
                .fetch(url, check)
                .await
                .map_err(|error: FetchError| Error::input(error.to_string()))?
        };
        let document = read_document(&document, client_id)?;
        if let Some(uri) = redirect_uri {
            check_redirect_pattern(uri, &settings.redirect_uri_patterns)?;
            if !is_registered(uri, &document.redirect_uris) {
                return Err(Error::input(format!(
                    "Invalid redirect_uri '{uri}', not registered in client metadata"
                )));
            }
        }
        Ok(ResolvedClient {
            client_id: client_id.to_owned(),
            name: document.name,
            kind: ClientKind::MetadataDocument,
        })
    }

    /// Whether `client_id` names an accepted metadata document client, by its URL alone (no
    /// fetch: revocation must work when the document is gone).
    pub fn is_document_client(&self, client_id: &str) -> bool {
        let Some(settings) = &self.settings.metadata_documents else {
            return false;
        };
        let Some(url) = metadata_document_url(client_id, self.development) else {
            return false;
        };
        client_id == self.cli_client_id
            || settings
                .client_id_patterns
                .iter()
                .any(|pattern| pattern.matches(&url))
    }
}

pub async fn registered_client(store: &Store, client_id: &str) -> Result<Option<ClientRow>, Error> {
    store
        .client(client_id)
        .await
        .map_err(|error| crate::http::error::store_error("reading an OAuth client failed", &error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_document_urls_follow_node_rules() {
        let dev = |id: &str| metadata_document_url(id, true).is_some();
        let prod = |id: &str| metadata_document_url(id, false).is_some();
        assert!(prod("https://claude.ai/oauth/client.json"));
        assert!(!prod(
            "http://localhost:7007/api/auth/.well-known/oauth-client/cli.json"
        ));
        assert!(dev(
            "http://localhost:7007/api/auth/.well-known/oauth-client/cli.json"
        ));
        assert!(!dev("http://[::1]:7007/x.json"));
        for bad in [
            "https://a.example.com/x.json#frag",
            "https://u:p@a.example.com/x.json",
            "https://a.example.com/x.json?q=1",
            "https://a.example.com/a/../x.json",
            "https://a.example.com/",
            "https://a.example.com",
            "not a url",
        ] {
            assert!(!prod(bad), "{bad}");
        }
    }

    #[test]
    fn loopback_redirects_ignore_the_port_only() {
        let registered = vec!["http://127.0.0.1:8055/callback".to_owned()];
        assert!(is_registered(
            "http://127.0.0.1:41234/callback",
            &registered
        ));
        assert!(is_registered(
            "http://127.0.0.1:41234/callback?x=1",
            &registered
        ));
        assert!(!is_registered("http://127.0.0.1:41234/other", &registered));
        assert!(!is_registered(
            "http://localhost:8055/callback",
            &registered
        ));
        let https = vec!["https://app.example.com/cb".to_owned()];
        assert!(is_registered("https://app.example.com/cb", &https));
        assert!(!is_registered("https://app.example.com/cb?x", &https));
    }
}
