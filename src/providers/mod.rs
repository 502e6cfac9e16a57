//! Sign-in providers, each one module, registered here by id. An OAuth provider's module reads
//! its settings (`auth.providers.<id>.<env>`) and says how it differs from plain OpenID
//! Connect; the shared engine (`crate::signin::oauth`) serves its routes. A proxy provider's
//! module ([`proxy`]) reads `auth.providers.<id>` and checks the proxy's assertion. Adding a
//! provider is adding its module and one line in [`REGISTRY`].

pub mod api;
pub mod atlassian;
pub mod auth0;
pub mod bitbucket;
pub mod bitbucket_server;
pub mod github;
pub mod gitlab;
pub mod google;
pub mod guest;
pub mod hooks;
pub mod microsoft;
pub mod oauth;
pub mod oauth2;
pub mod oidc;
pub mod okta;
pub mod onelogin;
pub mod openshift;
pub mod pinniped;
pub mod proxy;
pub mod wording;

use crate::section::Section;

/// How a provider's configuration is shaped, and what reads it.
pub enum Kind {
    /// No environments and no flow: `/refresh` signs in (§3.5).
    Guest(fn(&mut Section<'_>) -> guest::GuestSettings),
    /// One settings block per environment, served by the OAuth engine.
    OAuth(ReadEnvironment),
    /// An authenticating proxy's provider: `auth.providers.<id>` itself (no environments),
    /// `/refresh` verifies the proxy's assertion and signs in ([`proxy`]).
    Proxy(proxy::ReadProxy),
}

/// Reads one environment: the section, the environment's name, the external auth URL.
pub type ReadEnvironment = fn(&mut Section<'_>, &str, &str) -> oauth::OAuthEnvSettings;

pub struct Registration {
    pub id: &'static str,
    pub kind: Kind,
}

/// Every provider stagedoor serves.
pub const REGISTRY: &[Registration] = &[
    Registration {
        id: "guest",
        kind: Kind::Guest(guest::settings),
    },
    Registration {
        id: "oidc",
        kind: Kind::OAuth(oidc::settings),
    },
    Registration {
        id: "okta",
        kind: Kind::OAuth(okta::settings),
    },
    Registration {
        id: "onelogin",
        kind: Kind::OAuth(onelogin::settings),
    },
    Registration {
        id: "auth0",
        kind: Kind::OAuth(auth0::settings),
    },
    Registration {
        id: "oauth2",
        kind: Kind::OAuth(oauth2::settings),
    },
    Registration {
        id: "github",
        kind: Kind::OAuth(github::settings),
    },
    Registration {
        id: "gitlab",
        kind: Kind::OAuth(gitlab::settings),
    },
    Registration {
        id: "bitbucket",
        kind: Kind::OAuth(bitbucket::settings),
    },
    Registration {
        id: "bitbucketServer",
        kind: Kind::OAuth(bitbucket_server::settings),
    },
    Registration {
        id: "atlassian",
        kind: Kind::OAuth(atlassian::settings),
    },
    Registration {
        id: "oauth2Proxy",
        kind: Kind::Proxy(proxy::oauth2_proxy::settings),
    },
    Registration {
        id: "gcpIap",
        kind: Kind::Proxy(proxy::gcp_iap::settings),
    },
    Registration {
        id: "awsalb",
        kind: Kind::Proxy(proxy::aws_alb::settings),
    },
    Registration {
        id: "cfaccess",
        kind: Kind::Proxy(proxy::cf_access::settings),
    },
    Registration {
        id: "azureEasyAuth",
        kind: Kind::Proxy(proxy::azure_easy_auth::settings),
    },
    Registration {
        id: "microsoft",
        kind: Kind::OAuth(microsoft::settings),
    },
    Registration {
        id: "google",
        kind: Kind::OAuth(google::settings),
    },
    Registration {
        id: "openshift",
        kind: Kind::OAuth(openshift::settings),
    },
    Registration {
        id: "pinniped",
        kind: Kind::OAuth(pinniped::settings),
    },
];

/// The registration of provider `id`, if stagedoor serves it.
pub fn registered(id: &str) -> Option<&'static Registration> {
    REGISTRY.iter().find(|registration| registration.id == id)
}
