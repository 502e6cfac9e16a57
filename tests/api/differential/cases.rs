//! The providers compared, one case each: its IdP (the OpenID Provider shaped as the
//! product, or a fake of `tests/fakes/`), the accounts there, the frontend's scope, its
//! `auth.providers.<id>` config (the same for Node and stagedoor) and the scenarios it runs.
//! A new provider is a new entry in [`CASES`] or `vcs_cases::VCS_CASES` (its Node module is
//! already installed in `tests/node-backstage/`); a new kind of flow is a new [`Scenario`].

use crate::differential::idps::Accounts;
use crate::differential::scenarios::Scenario::{self, *};

/// Where a case's IdP comes from.
pub enum IdpKind {
    /// The OpenID Provider of `tests/idp/`.
    Op(IdpShape),
    /// A fake of `tests/fakes/`.
    Fake(FakeShape),
}

/// A fake IdP of `tests/fakes/<name>/server.mjs`.
pub struct FakeShape {
    pub name: &'static str,
    /// https with the test CA (Node builds https URLs for it, or hard-codes its hosts).
    pub tls: bool,
    /// The hosts Node's module hard-codes, which Node reaches the fake under.
    pub hosts: &'static [&'static str],
    pub env: &'static [(&'static str, &'static str)],
}

/// How the test IdP (`tests/idp/idp.mjs`) is shaped for a provider.
pub struct IdpShape {
    /// `IDP_ISSUER_PATH` (`/` for Auth0's `https://{domain}/`).
    pub issuer_path: &'static str,
    /// `IDP_ROUTES`.
    pub routes: Option<&'static str>,
    /// https with a test CA.
    pub tls: bool,
    /// The client's `token_endpoint_auth_method`, what the provider's Node strategy uses.
    pub client_auth: &'static str,
    /// Where refresh tokens are revoked (for "logout when the IdP fails").
    pub revocation_path: &'static str,
    /// More of the IdP's environment (quirks of the product it stands for).
    pub env: &'static [(&'static str, &'static str)],
}

pub struct Case {
    /// The provider id (`auth.providers.<id>`, `/api/auth/<id>/...`).
    pub id: &'static str,
    /// The Node module, `@backstage/plugin-auth-backend-module-<module>-provider`.
    pub module: &'static str,
    pub idp: IdpKind,
    pub accounts: Accounts,
    /// What Backstage's frontend asks for at `/start`.
    pub scope: &'static str,
    /// `auth.providers.<id>`, with `{issuer}`, `{origin}` (`scheme://host:port`) and `{host}`
    /// (`host:port`) of its IdP filled in. Environment `development` is the default one;
    /// `second` uses client `backstage-second`.
    pub config: &'static str,
    /// The other environments, one per resolver, that `EveryResolver` signs in to.
    pub resolver_envs: &'static [&'static str],
    /// An environment whose refresh tokens rotate (`StaleRefreshToken`).
    pub rotating_env: &'static str,
    pub scenarios: &'static [Scenario],
}

/// The test OpenID Provider's accounts.
const OP_ACCOUNTS: Accounts = Accounts {
    alice: "alice@example.com",
    nobody: "nobody@example.com",
    noemail: "noemail",
};

/// What every provider runs.
const COMMON: &[Scenario] = &[
    Session,
    RedirectSignIn,
    ChunkedRefreshCookie,
    LogoutWhenTheIdpFails,
    UserOutsideTheCatalog,
    AccountWithoutEmail,
    AccessDenied,
    BadCode,
    ReplayedCallback,
    MissingNonceCookie,
    DisallowedOrigin,
    ForgedOrigin,
    SecondEnvironment,
];

const RESOLVER: &str = "signIn: { resolvers: [{ resolver: emailMatchingUserEntityProfileEmail }] }";

pub const CASES: &[Case] = &[
    Case {
        id: "oidc",
        module: "oidc",
        idp: IdpKind::Op(IdpShape {
            issuer_path: "",
            routes: None,
            tls: false,
            client_auth: "client_secret_basic",
            revocation_path: "/token/revocation",
            env: &[],
        }),
        accounts: OP_ACCOUNTS,
        resolver_envs: &[],
        rotating_env: "development",
        scope: "openid profile email offline_access",
        config: "
development:
  metadataUrl: {issuer}/.well-known/openid-configuration
  clientId: backstage
  clientSecret: backstage-secret
  prompt: consent
  RESOLVER
second:
  # Backstage's default prompt (none): a sign-in without a session at the IdP is refused.
  metadataUrl: {issuer}/.well-known/openid-configuration
  clientId: backstage-second
  clientSecret: second-secret
  RESOLVER
",
        scenarios: COMMON,
    },
    Case {
        id: "okta",
        module: "okta",
        idp: IdpKind::Op(IdpShape {
            issuer_path: "/oauth2/default",
            routes: Some(
                r#"{"authorization":"/v1/authorize","token":"/v1/token","userinfo":"/v1/userinfo","jwks":"/v1/keys","revocation":"/v1/revoke"}"#,
            ),
            tls: false,
            client_auth: "client_secret_basic",
            revocation_path: "/oauth2/default/v1/revoke",
            env: &[("IDP_BASIC_COLON", "1"), ("IDP_ID_TOKEN_OMIT", "picture")],
        }),
        accounts: OP_ACCOUNTS,
        resolver_envs: &[],
        rotating_env: "development",
        scope: "openid email profile offline_access",
        config: "
development:
  audience: {origin}
  authServerId: default
  clientId: backstage
  clientSecret: backstage-secret
  RESOLVER
second:
  audience: {origin}
  authServerId: default
  clientId: backstage-second
  clientSecret: second-secret
  signIn: { resolvers: [{ resolver: emailLocalPartMatchingUserEntityName }] }
",
        scenarios: COMMON,
    },
    Case {
        id: "onelogin",
        module: "onelogin",
        idp: IdpKind::Op(IdpShape {
            issuer_path: "/oidc/2",
            routes: Some(r#"{"jwks":"/certs"}"#),
            tls: false,
            client_auth: "client_secret_post",
            revocation_path: "/oidc/2/token/revocation",
            env: &[("IDP_ALL_CLAIMS", "1")],
        }),
        accounts: OP_ACCOUNTS,
        resolver_envs: &[],
        rotating_env: "development",
        scope: "openid email profile",
        config: "
development:
  issuer: {issuer}
  clientId: backstage
  clientSecret: backstage-secret
  RESOLVER
second:
  issuer: {issuer}
  clientId: backstage-second
  clientSecret: second-secret
  signIn: { resolvers: [{ resolver: usernameMatchingUserEntityName }] }
",
        scenarios: COMMON,
    },
    Case {
        id: "auth0",
        module: "auth0",
        idp: IdpKind::Op(IdpShape {
            issuer_path: "/",
            routes: Some(
                r#"{"authorization":"/authorize","token":"/oauth/token","userinfo":"/userinfo","jwks":"/.well-known/jwks.json","revocation":"/oauth/revoke"}"#,
            ),
            tls: true,
            client_auth: "client_secret_post",
            revocation_path: "/oauth/revoke",
            env: &[("IDP_QUERY_ACCESS_TOKEN", "1")],
        }),
        accounts: OP_ACCOUNTS,
        resolver_envs: &[],
        rotating_env: "development",
        scope: "openid email profile",
        config: "
development:
  domain: {host}
  clientId: backstage
  clientSecret: backstage-secret
  RESOLVER
second:
  domain: {host}
  clientId: backstage-second
  clientSecret: second-secret
  organization: org_test
  RESOLVER
",
        scenarios: &[
            Session,
            RedirectSignIn,
            ChunkedRefreshCookie,
            LogoutWhenTheIdpFails,
            UserOutsideTheCatalog,
            AccountWithoutEmail,
            AccessDenied,
            BadCode,
            ReplayedCallback,
            MissingNonceCookie,
            DisallowedOrigin,
            ForgedOrigin,
            SecondEnvironment,
            OrganizationMismatch,
        ],
    },
    Case {
        id: "oauth2",
        module: "oauth2",
        idp: IdpKind::Op(IdpShape {
            issuer_path: "",
            routes: None,
            tls: false,
            client_auth: "client_secret_post",
            revocation_path: "/token/revocation",
            env: &[],
        }),
        accounts: OP_ACCOUNTS,
        resolver_envs: &[],
        rotating_env: "development",
        scope: "openid profile email offline_access",
        config: "
development:
  authorizationUrl: {issuer}/auth
  tokenUrl: {issuer}/token
  clientId: backstage
  clientSecret: backstage-secret
  RESOLVER
second:
  authorizationUrl: {issuer}/auth
  tokenUrl: {issuer}/token
  clientId: backstage-second
  clientSecret: second-secret
  signIn: { resolvers: [{ resolver: usernameMatchingUserEntityName }] }
",
        scenarios: COMMON,
    },
];

/// Every case: the OpenID Connect family's, then the code-hosting providers'.
pub fn all() -> impl Iterator<Item = &'static Case> {
    CASES
        .iter()
        .chain(crate::differential::vcs_cases::VCS_CASES.iter())
}

impl Case {
    /// The `auth.providers.<id>` block for an IdP at `issuer`, indented for `auth.providers`.
    pub fn provider_yaml(&self, issuer: &str) -> String {
        let url = url::Url::parse(issuer).expect("issuer URL");
        let host = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
        let origin = format!("{}://{host}", url.scheme());
        let block = self
            .config
            .replace("RESOLVER", RESOLVER)
            .replace("{issuer}", issuer.trim_end_matches('/'))
            .replace("{origin}", &origin)
            .replace("{host}", &host);
        let mut yaml = format!("    {}:\n", self.id);
        for line in block.lines().filter(|line| !line.trim().is_empty()) {
            yaml.push_str(&format!("      {line}\n"));
        }
        yaml
    }
}
