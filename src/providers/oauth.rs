//! The shared OAuth engine's settings for one provider environment
//! (`auth.providers.<id>.<env>`): what every OAuth provider has (client, endpoints, scopes,
//! cookies' lifetime, resolvers) and the [`Behaviour`] in which providers differ, plus the
//! reader of the keys they all share. Each provider module fills these in.

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::oauth::idp::{ClientAuth, Metadata};
use crate::resolvers::SignIn;
use crate::section::Section;

pub use super::hooks::{
    ApiCall, ApiFailure, ApiFuture, ApiProfile, HookFuture, ProfileApi, Revocation,
};
pub use super::wording::ErrorWording;

/// Where the IdP's endpoints come from.
#[derive(Debug, Clone)]
pub enum Endpoints {
    Discovery { metadata_url: String },
    Fixed(Metadata),
}

#[derive(Debug, Clone)]
pub struct OAuthEnvSettings {
    pub provider: String,
    pub environment: String,
    pub client_id: String,
    pub client_secret: String,
    pub endpoints: Endpoints,
    pub client_auth: ClientAuth,
    /// ID token algorithms accepted (never `none` or HMAC).
    pub algorithms: Vec<String>,
    /// `None`: no `prompt` parameter.
    pub prompt: Option<String>,
    pub start_params: Vec<(String, String)>,
    pub required_scopes: Vec<String>,
    pub additional_scopes: Vec<String>,
    /// Scopes kept in the state and the granted-scope cookie (`oidc`, `github`).
    pub persist_scopes: bool,
    pub callback_url: Url,
    pub session_secs: i64,
    pub timeout: Duration,
    pub sign_in: SignIn,
    /// Beyond Node: `/logout` also returns the IdP's RP-initiated logout URL, which sends the
    /// browser back here (`None`: the app's origin).
    pub rp_logout: Option<RpLogout>,
    pub behaviour: Behaviour,
}

/// How a provider differs from plain OpenID Connect: each preset is one of these.
#[derive(Debug, Clone)]
pub struct Behaviour {
    pub userinfo: UserinfoCall,
    pub profile: ProfileStyle,
    /// OneLogin sends `openid` whatever was asked for.
    pub fixed_scope: Option<String>,
    /// Passport-based providers send the scope on refresh; OpenID Connect does not.
    pub scope_on_refresh: bool,
    /// Sign-in fails without an ID token (`oidc`); Auth0 also needs one on refresh.
    pub require_id_token: bool,
    pub require_id_token_on_refresh: bool,
    /// `false` for the generic oauth2 provider, which has no JWKS: as in Node, its ID token
    /// (received directly from the token endpoint over TLS) is only read for the profile.
    pub verify_id_token: bool,
    pub logout: LogoutStyle,
    /// `/start` query parameters passed on to the IdP (Auth0's `organization`, ...).
    pub forwarded_start_params: &'static [&'static str],
    /// Auth0's configured organization: a different one asked for at `/start` is refused.
    pub organization: Option<String>,
    /// How IdP errors are worded to the user.
    pub errors: ErrorWording,
    /// The claim the strategy's profile takes `username` from (`usernameMatchingUserEntityName`,
    /// `{username}`); `None`: its profile has none (Node's oauth2 profile is empty).
    pub username_claim: Option<&'static str>,
    /// Whether the profile's picture may come from userinfo; the passport presets' strategies
    /// map no photo, so theirs comes from the ID token only (§11.0).
    pub picture_from_userinfo: bool,
    /// Where the profile comes from when it is not OpenID userinfo: the provider's own API
    /// (GitHub's `/user`, ...).
    pub profile_api: Option<Arc<dyn ProfileApi>>,
    /// Whether an OpenID `nonce` goes with the authorize request (not for plain OAuth 2.0
    /// providers such as GitHub).
    pub openid_nonce: bool,
    pub refresh: RefreshStyle,
    /// How the requested, required and additional scopes make the scope sent to the IdP.
    pub scope_rule: ScopeRule,
    /// An RFC 8693 exchange at the callback for a token of the audience `/start` named
    /// (Pinniped's cluster-scoped ID tokens).
    pub audience_exchange: Option<AudienceExchange>,
    /// Whether `providerInfo.expiresInSeconds` reports the access token's `expires_in`
    /// (Node's pinniped module never does).
    pub report_expiry: bool,
    /// What to tell the operator when an email resolver finds no email (`None`: request the
    /// `email` scope and make sure the account's email is verified).
    pub missing_email_advice: Option<&'static str>,
    /// Whether the email comes with OpenID's `email` scope, so that requesting it is advice
    /// worth giving (not for a provider's own user API: GitHub, GitLab, Bitbucket, ...).
    pub email_from_scope: bool,
}

/// How the scope sent to the IdP is made (§7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeRule {
    /// Requested, granted, required, additional; duplicates dropped as written.
    Standard,
    /// Entra ID's: scopes compare without regard to case, and a request that names a scope of
    /// another resource (`api://backstage/access_as_user`: any scope with a `/`) is sent
    /// alone with `with` (a token is for one resource; as Node, required and additional
    /// scopes are then left out).
    ResourceAlone { with: &'static [&'static str] },
}

/// The RFC 8693 exchange of [`Behaviour::audience_exchange`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudienceExchange {
    /// What a refusal says before the audience (`Failed to get cluster specific ID token for`).
    pub failure: &'static str,
}

/// How a session is refreshed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshStyle {
    /// A refresh grant at the token endpoint.
    Grant,
    /// For tokens that never expire (GitHub's OAuth apps issue no refresh token): the access
    /// token itself, behind `prefix`, is the refresh cookie, and a refresh reads the profile
    /// again with it, without a token request, if the scope asked for was granted. A cookie
    /// without the prefix is a refresh token, refreshed with a grant.
    AccessTokenCookie { prefix: &'static str },
    /// For servers that never issue refresh tokens (OpenShift): the access token itself, as
    /// is, is the refresh cookie, and a refresh reads the profile again with it, without a
    /// token request, until it expires and the user signs in again.
    AccessTokenOnly,
}

impl Behaviour {
    pub fn oidc() -> Self {
        Self {
            userinfo: UserinfoCall::Get,
            profile: ProfileStyle::VerifiedEmailOnly,
            fixed_scope: None,
            scope_on_refresh: false,
            require_id_token: true,
            require_id_token_on_refresh: false,
            verify_id_token: true,
            logout: LogoutStyle::Revoke,
            forwarded_start_params: &[],
            organization: None,
            errors: ErrorWording::OpenIdClient,
            username_claim: Some("preferred_username"),
            picture_from_userinfo: true,
            profile_api: None,
            openid_nonce: true,
            refresh: RefreshStyle::Grant,
            scope_rule: ScopeRule::Standard,
            audience_exchange: None,
            report_expiry: true,
            missing_email_advice: None,
            email_from_scope: true,
        }
    }

    /// The passport-strategy providers (okta, onelogin, auth0, oauth2), §11.0.
    pub fn passport(userinfo: UserinfoCall) -> Self {
        Self {
            userinfo,
            profile: ProfileStyle::Passport,
            scope_on_refresh: true,
            require_id_token: false,
            logout: LogoutStyle::ClearCookies,
            errors: ErrorWording::Passport,
            picture_from_userinfo: false,
            ..Self::oidc()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserinfoCall {
    None,
    Get,
    /// Okta's userinfo is fetched with POST.
    Post,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileStyle {
    /// `oidc`: the email only if userinfo says `email_verified: true`.
    VerifiedEmailOnly,
    /// §11.0: userinfo first (an email marked unverified is dropped), then the ID token.
    Passport,
}

#[derive(Debug, Clone)]
pub enum LogoutStyle {
    /// Clear the cookies; the IdP is not called (the passport providers, §11.0.1).
    ClearCookies,
    /// Also revoke the refresh token where the IdP advertises revocation (`oidc`), best
    /// effort: signing out never depends on the IdP.
    Revoke,
    /// As `Revoke`, with the token alone and no client authentication (Google's endpoint).
    RevokeWithoutClientAuth,
    /// Also revoke the token the provider's own way (OpenShift), best effort.
    Provider(Arc<dyn Revocation>),
    /// Auth0: hand the browser `https://<domain>/v2/logout`.
    Auth0 { domain: String, federated: bool },
}

#[derive(Debug, Clone)]
pub struct RpLogout {
    pub post_logout_redirect_uri: Option<String>,
}

/// Node's default lifetime of the refresh and granted-scope cookies (`sessionDuration`): 1000 days.
pub const DEFAULT_SESSION_SECS: i64 = 86_400_000;

/// The keys every OAuth provider reads: `callbackUrl`, `sessionDuration`, `additionalScopes`,
/// `timeout`, `signIn`.
pub struct Common {
    pub callback_url: Url,
    pub session_secs: i64,
    pub additional_scopes: Vec<String>,
    pub timeout: Duration,
    pub sign_in: SignIn,
}

pub fn common(reader: &mut Section<'_>, provider: &str, external_base_url: &str) -> Common {
    let default_callback = format!("{external_base_url}/{provider}/handler/frame");
    let callback_url = reader
        .url("callbackUrl")
        .or_else(|| Url::parse(&default_callback).ok())
        .unwrap_or_else(|| Url::parse("http://localhost/").expect("a literal URL"));
    let session_secs = reader
        .seconds("sessionDuration")
        .map_or(DEFAULT_SESSION_SECS, |seconds| seconds.round() as i64);
    let timeout =
        Duration::from_secs_f64(reader.seconds("timeout").unwrap_or(10.0).clamp(0.1, 120.0));
    let additional_scopes = reader.words("additionalScopes", crate::oauth::scopes::split);
    let path = format!("{}.signIn", reader.base);
    let sign_in = match crate::resolvers::parse_sign_in(provider, &path, reader.value("signIn")) {
        Ok(sign_in) => sign_in,
        Err(problems) => {
            reader.problems.extend(problems);
            SignIn::default()
        }
    };
    Common {
        callback_url,
        session_secs,
        additional_scopes,
        timeout,
        sign_in,
    }
}

/// What a preset provider fixes (okta, onelogin, auth0, oauth2, ...): its IdP's endpoints and
/// how it differs from plain OpenID Connect.
pub struct Preset {
    pub metadata: Metadata,
    pub client_auth: ClientAuth,
    pub prompt: Option<String>,
    pub start_params: Vec<(String, String)>,
    pub required_scopes: &'static [&'static str],
    pub behaviour: Behaviour,
}

impl Preset {
    /// The environment's settings: `clientId`, `clientSecret` and the common keys read from
    /// `reader`, the rest from this preset (read first with `read_preset`).
    pub fn settings(
        provider: &str,
        reader: &mut Section<'_>,
        environment: &str,
        external_base_url: &str,
        read_preset: fn(&mut Section<'_>) -> Preset,
    ) -> OAuthEnvSettings {
        let client_id = reader.required("clientId", "backstage");
        let client_secret = reader.required(
            "clientSecret",
            &format!("${{AUTH_{}_CLIENT_SECRET}}", provider.to_uppercase()),
        );
        let preset = read_preset(reader);
        let common = common(reader, provider, external_base_url);
        OAuthEnvSettings {
            provider: provider.to_owned(),
            environment: environment.to_owned(),
            client_id,
            client_secret,
            endpoints: Endpoints::Fixed(preset.metadata),
            client_auth: preset.client_auth,
            algorithms: ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"]
                .map(str::to_owned)
                .to_vec(),
            prompt: preset.prompt,
            start_params: preset.start_params,
            required_scopes: preset
                .required_scopes
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            additional_scopes: common.additional_scopes,
            persist_scopes: false,
            callback_url: common.callback_url,
            session_secs: common.session_secs,
            timeout: common.timeout,
            sign_in: common.sign_in,
            rp_logout: None,
            behaviour: preset.behaviour,
        }
    }
}

/// The absolute http(s) URL at `key` without its trailing `/`, else `default` (a provider's
/// configurable base: Microsoft's `authority`, Google's `endpointBaseUrl`, ...).
pub fn base_url(reader: &mut Section<'_>, key: &str, default: &str) -> String {
    reader
        .url(key)
        .map(|url| url.as_str().trim_end_matches('/').to_owned())
        .unwrap_or_else(|| default.to_owned())
}

/// `paths`: authorize, token, userinfo, JWKS; `revocation`: where refresh tokens are revoked.
pub fn endpoints(issuer: &str, base: &str, paths: [&str; 4], revocation: Option<&str>) -> Metadata {
    let [authorize, token, userinfo, jwks] = paths.map(|path| format!("{base}{path}"));
    Metadata {
        issuer: Some(issuer.to_owned()),
        authorization_endpoint: authorize,
        token_endpoint: token,
        userinfo_endpoint: Some(userinfo),
        jwks_uri: Some(jwks),
        revocation_endpoint: revocation.map(|path| format!("{base}{path}")),
        ..Metadata::default()
    }
}
