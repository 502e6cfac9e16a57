//! The authenticating-proxy providers (issue 14): an oauth2-proxy, Google Cloud IAP, an AWS
//! Application Load Balancer, Cloudflare Access or Azure App Service authentication has
//! already signed the person in, and `/refresh` turns the proxy's assertion into a Backstage
//! identity. One shared path (Node's `createProxyAuthProviderFactory`): the provider's
//! module authenticates the request (headers, verification, profile, `providerInfo`), the
//! resolvers find the user, and a token is issued. Config is `auth.providers.<id>` itself (no
//! environments), and a resolver is required.

pub mod aws_alb;
pub mod azure_easy_auth;
pub mod cf_access;
mod cf_identity;
pub mod gcp_iap;
pub mod oauth2_proxy;
mod verify;

use std::net::IpAddr;
use std::time::Duration;

use http::HeaderMap;
use serde_json::{Map, Value};

use crate::catalog::CatalogClient;
use crate::clock::SharedClock;
use crate::error::Error;
use crate::identity::{BackstageIdentityResponse, SessionProviderInfo, SignInResult};
use crate::net::TrustedProxies;
use crate::resolvers::{SignIn, SignInInfo};
use crate::section::Section;
use crate::tokens::TokenIssuer;

/// How long a key or identity endpoint may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// What the configuration reader of a proxy provider may consult besides its section: the
/// process environment (Azure App Service's `WEBSITE_*` variables).
pub struct ProxyContext<'a> {
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

/// Reads the provider's own keys of `auth.providers.<id>`.
pub type ReadProxy = fn(&mut Section<'_>, &ProxyContext<'_>) -> ProxyKind;

/// `auth.providers.<id>` of a proxy provider.
#[derive(Debug, Clone)]
pub struct ProxySettings {
    pub id: &'static str,
    pub sign_in: SignIn,
    /// stagedoor's `allowedSources`: the addresses the proxy connects from; requests from any
    /// other peer are refused (401).
    pub allowed_sources: Option<TrustedProxies>,
    pub kind: ProxyKind,
}

/// Each provider's own settings.
#[derive(Debug, Clone)]
pub enum ProxyKind {
    OAuth2Proxy,
    GcpIap(gcp_iap::IapSettings),
    AwsAlb(aws_alb::AlbSettings),
    CfAccess(cf_access::CfSettings),
    AzureEasyAuth,
}

/// Reads `auth.providers.<id>`: the provider's keys, then `signIn` (a resolver is required,
/// as in Node) and `allowedSources`.
pub fn settings(
    id: &'static str,
    reader: &mut Section<'_>,
    context: &ProxyContext<'_>,
    read: ReadProxy,
) -> ProxySettings {
    let kind = read(reader, context);
    let path = format!("{}.signIn", reader.base);
    let sign_in = match crate::resolvers::parse_sign_in(id, &path, reader.value("signIn")) {
        Ok(sign_in) => sign_in,
        Err(problems) => {
            reader.problems.extend(problems);
            SignIn::default()
        }
    };
    if !sign_in.is_configured() && !reader.problems.iter().any(|p| p.path.starts_with(&path)) {
        reader.problem(
            "signIn.resolvers",
            format!("No sign-in resolver configured for proxy auth provider '{id}'; add e.g. signIn: {{ resolvers: [{{ resolver: emailMatchingUserEntityProfileEmail }}] }}"),
        );
    }
    ProxySettings {
        id,
        sign_in,
        allowed_sources: allowed_sources(reader),
        kind,
    }
}

fn allowed_sources(reader: &mut Section<'_>) -> Option<TrustedProxies> {
    let value = reader.value("allowedSources")?;
    let Some(entries) = value.as_array().and_then(|items| {
        items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
    }) else {
        reader.problem(
            "allowedSources",
            "must be a list of addresses or networks, e.g. [10.0.0.0/8]",
        );
        return None;
    };
    match TrustedProxies::parse(&entries) {
        Ok(sources) if !sources.is_empty() => Some(sources),
        Ok(_) => {
            reader.problem("allowedSources", "is empty, so nothing could sign in; list the proxy's addresses (e.g. [10.0.0.0/8]) or remove the key");
            None
        }
        Err((index, entry)) => {
            reader.problem(
                &format!("allowedSources.{index}"),
                format!(
                    "\"{entry}\" is not an IP address or network; use e.g. 10.0.0.0/8 or 192.0.2.10"
                ),
            );
            None
        }
    }
}

/// What a provider's module made of a request.
pub struct Authenticated {
    /// The profile and claims the resolvers read.
    pub info: SignInInfo,
    /// `providerInfo`, in the Node module's shape.
    pub provider_info: Map<String, Value>,
}

/// A request as a proxy provider sees it.
pub struct ProxyRequest<'a> {
    pub headers: &'a HeaderMap,
    /// The injected clock's time, in seconds.
    pub now: i64,
}

impl ProxyRequest<'_> {
    /// A header's value as text, if present (an empty value counts as present).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// A header that is present and not empty.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.header(name).filter(|value| !value.is_empty())
    }
}

enum Verifier {
    OAuth2Proxy,
    GcpIap(gcp_iap::GcpIap),
    AwsAlb(aws_alb::AwsAlb),
    CfAccess(Box<cf_access::CfAccess>),
    AzureEasyAuth,
}

/// A configured proxy provider, ready to sign people in.
pub struct ProxyProvider {
    pub id: &'static str,
    sign_in: SignIn,
    allowed_sources: Option<TrustedProxies>,
    verifier: Verifier,
    clock: SharedClock,
}

impl ProxyProvider {
    pub fn new(settings: ProxySettings, http: &reqwest::Client, clock: SharedClock) -> Self {
        let verifier = match settings.kind {
            ProxyKind::OAuth2Proxy => Verifier::OAuth2Proxy,
            ProxyKind::GcpIap(iap) => Verifier::GcpIap(gcp_iap::GcpIap::new(iap, http, &clock)),
            ProxyKind::AwsAlb(alb) => Verifier::AwsAlb(aws_alb::AwsAlb::new(alb, http, &clock)),
            ProxyKind::CfAccess(cf) => {
                Verifier::CfAccess(Box::new(cf_access::CfAccess::new(cf, http, &clock)))
            }
            ProxyKind::AzureEasyAuth => Verifier::AzureEasyAuth,
        };
        Self {
            id: settings.id,
            sign_in: settings.sign_in,
            allowed_sources: settings.allowed_sources,
            verifier,
            clock,
        }
    }

    /// Refuses a request whose peer is not an allowed proxy source (when the list is set).
    pub fn check_source(&self, peer: Option<IpAddr>) -> Result<(), Error> {
        let Some(allowed) = &self.allowed_sources else {
            return Ok(());
        };
        if peer.is_some_and(|peer| allowed.trusts(peer)) {
            return Ok(());
        }
        Err(Error::authentication(format!(
            "This request did not come through the proxy that auth provider '{}' trusts (auth.providers.{}.allowedSources)",
            self.id, self.id
        )))
    }

    /// `/refresh`: authenticate the request, resolve the user, issue a token.
    pub async fn refresh(
        &self,
        headers: &HeaderMap,
        issuer: &TokenIssuer,
        catalog: &CatalogClient,
    ) -> Result<SignInResult, Error> {
        let request = ProxyRequest {
            headers,
            now: self.clock.now_seconds(),
        };
        let authenticated = match &self.verifier {
            Verifier::OAuth2Proxy => oauth2_proxy::authenticate(&request)?,
            Verifier::GcpIap(iap) => iap.authenticate(&request).await?,
            Verifier::AwsAlb(alb) => alb.authenticate(&request).await?,
            Verifier::CfAccess(cf) => cf.authenticate(&request).await?,
            Verifier::AzureEasyAuth => azure_easy_auth::authenticate(&request)?,
        };
        let resolved = self.sign_in.resolve(&authenticated.info, catalog).await?;
        let issued = issuer
            .issue(&resolved.user_entity_ref, &resolved.ownership_refs)
            .await?;
        Ok(SignInResult {
            profile: authenticated.info.profile,
            provider_info: Some(SessionProviderInfo::Proxy(authenticated.provider_info)),
            backstage_identity: Some(BackstageIdentityResponse::new(
                issued,
                self.clock.now_millis(),
            )),
        })
    }
}

/// A URL override key: an absolute http(s) URL, plain http only to this machine.
pub(crate) fn url_override(reader: &mut Section<'_>, key: &str, default: String) -> String {
    match reader.url(key) {
        Some(url) if url.scheme() == "http" && !crate::net::is_loopback(&url) => {
            reader.problem(
                key,
                format!("\"{url}\" is plain http: keys fetched over it could be forged on the way; use https (plain http is accepted only to localhost)"),
            );
            default
        }
        Some(url) => url.as_str().trim_end_matches('/').to_owned(),
        None => default,
    }
}
