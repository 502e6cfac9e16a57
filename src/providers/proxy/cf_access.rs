//! `cfaccess` (`@backstage/plugin-auth-backend-module-cloudflare-access-provider`): Cloudflare
//! Access signs an RS256 JWT for the application's audience tag, sent as
//! `cf-access-jwt-assertion` or the `CF_Authorization` cookie. Keys are the team's certs;
//! people's names and groups come from the identity endpoint; service tokens sign in as the
//! configured subject. Unlike Node, a refused assertion is a 401 (Node: 500 with the token's
//! payload in the body), a failing key or identity endpoint is a 503, and an identity is
//! reused only for the same subject and email, for a few minutes.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::cf_identity::{IdentityClient, IdentityError};
use super::verify::{self, Refused, text};
use super::{Authenticated, ProxyContext, ProxyKind, ProxyRequest, url_override};
use crate::clock::SharedClock;
use crate::error::{Error, ErrorName};
use crate::identity::Profile;
use crate::oauth::jwks::JwksCache;
use crate::oauth::key_source::KeySource;
use crate::resolvers::SignInInfo;
use crate::section::Section;

pub const DEFAULT_HEADER: &str = "cf-access-jwt-assertion";
pub const DEFAULT_COOKIE: &str = "CF_Authorization";
const FAILED: &str = "Cloudflare Access token verification failed";
const IDENTITY_FAILED: &str = "Failed to populate access identity information";

#[derive(Debug, Clone)]
pub struct CfSettings {
    pub team_name: String,
    pub audience: String,
    /// `(client id, subject)`: a service token's `common_name` and the email it signs in as.
    pub service_tokens: Vec<(String, String)>,
    pub jwt_header_name: String,
    pub cookie_name: String,
    /// `certsUrl`, `identityUrl`.
    pub certs_url: String,
    pub identity_url: String,
}

impl CfSettings {
    pub fn issuer(&self) -> String {
        format!("https://{}.cloudflareaccess.com", self.team_name)
    }
}

pub fn settings(reader: &mut Section<'_>, _context: &ProxyContext<'_>) -> ProxyKind {
    let team_name = reader.required("teamName", "your-team (of your-team.cloudflareaccess.com)");
    let audience = reader.required("audience", "the Access application's AUD tag");
    let service_tokens = service_tokens(reader);
    let jwt_header_name = reader
        .string("jwtHeaderName")
        .unwrap_or_else(|| DEFAULT_HEADER.to_owned())
        .to_ascii_lowercase();
    if http::HeaderName::from_bytes(jwt_header_name.as_bytes()).is_err() {
        reader.problem(
            "jwtHeaderName",
            format!("\"{jwt_header_name}\" is not a header name"),
        );
    }
    let cookie_name = reader
        .string("authorizationCookieName")
        .unwrap_or_else(|| DEFAULT_COOKIE.to_owned());
    let team = format!("https://{team_name}.cloudflareaccess.com/cdn-cgi/access");
    let certs_url = url_override(reader, "certsUrl", format!("{team}/certs"));
    let identity_url = url_override(reader, "identityUrl", format!("{team}/get-identity"));
    ProxyKind::CfAccess(CfSettings {
        team_name,
        audience,
        service_tokens,
        jwt_header_name,
        cookie_name,
        certs_url,
        identity_url,
    })
}

fn service_tokens(reader: &mut Section<'_>) -> Vec<(String, String)> {
    let Some(value) = reader.value("serviceTokens").cloned() else {
        return Vec::new();
    };
    let Some(items) = value.as_array() else {
        reader.problem("serviceTokens", "must be a list of { token, subject }");
        return Vec::new();
    };
    let mut tokens = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let field = |name: &str| {
            item.as_dict()
                .and_then(|dict| dict.get(name))
                .and_then(|value| value.as_str())
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        match (field("token"), field("subject")) {
            (Some(token), Some(subject)) => tokens.push((token, subject)),
            (token, _) => reader.problem(
                &format!("serviceTokens.{index}.{}", if token.is_none() { "token" } else { "subject" }),
                "is required: a service token's client id (token) and the email it signs in as (subject)",
            ),
        }
    }
    tokens
}

pub struct CfAccess {
    settings: CfSettings,
    keys: Arc<JwksCache>,
    identities: IdentityClient,
}

impl CfAccess {
    pub fn new(settings: CfSettings, http: &reqwest::Client, clock: &SharedClock) -> Self {
        let source = KeySource::JwkSet(settings.certs_url.clone());
        let keys = verify::key_cache(source, "Cloudflare Access's certs", http, clock);
        let identities = IdentityClient::new(
            settings.identity_url.clone(),
            settings.jwt_header_name.clone(),
            settings.cookie_name.clone(),
            http,
            clock,
        );
        Self {
            settings,
            keys,
            identities,
        }
    }

    pub(super) async fn authenticate(
        &self,
        request: &ProxyRequest<'_>,
    ) -> Result<Authenticated, Error> {
        let token = self.assertion(request)?;
        let claims = self.verified_claims(&token, request.now).await?;
        let (identity, email) = self.identity(&token, &claims).await?;
        let exp = crate::jose::seconds(&claims, "exp").unwrap_or_default();
        let iat = crate::jose::seconds(&claims, "iat").unwrap_or(exp);
        let profile = Profile {
            email: Some(email),
            picture: None,
            display_name: identity
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_owned),
        };
        let mut info_claims = claims.clone();
        if !info_claims.contains_key("groups") {
            info_claims.insert("groups".into(), group_names(&identity));
        }
        let mut provider_info = Map::new();
        provider_info.insert("claims".into(), Value::Object(claims.clone()));
        provider_info.insert("cfIdentity".into(), identity.clone());
        provider_info.insert("expiresInSeconds".into(), Value::from(exp - iat));
        provider_info.insert("token".into(), Value::String(token));
        Ok(Authenticated {
            info: SignInInfo {
                profile,
                username: None,
                user_id: identity
                    .get("id")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                profile_url: None,
                claims: info_claims,
            },
            provider_info,
        })
    }

    /// The header, else the cookie.
    fn assertion(&self, request: &ProxyRequest<'_>) -> Result<String, Error> {
        if let Some(token) = request.non_empty(&self.settings.jwt_header_name) {
            return Ok(token.to_owned());
        }
        let cookies = request.headers.get_all(http::header::COOKIE);
        let from_cookie = cookies
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, value)| *name == self.settings.cookie_name && !value.is_empty())
            .map(|(_, value)| value.to_owned());
        from_cookie.ok_or_else(|| {
            Error::authentication(format!(
                "Missing {} and {} from Cloudflare Access",
                self.settings.jwt_header_name, self.settings.cookie_name
            ))
        })
    }

    async fn verified_claims(&self, token: &str, now: i64) -> Result<Map<String, Value>, Error> {
        let keys = "Cloudflare Access's certs";
        let verified = verify::signature(&self.keys, token, "RS256")
            .await
            .map_err(|refused| refused.into_error(FAILED, keys))?;
        let claims = verified.claims;
        verify::times(&claims, now, 0).map_err(|refused| refused.into_error(FAILED, keys))?;
        let claim_failed = |claim: &str| {
            Refused::jose(
                "JWTClaimValidationFailed",
                format!("unexpected \"{claim}\" claim value"),
            )
        };
        if claims.get("iss").and_then(Value::as_str) != Some(self.settings.issuer().as_str()) {
            return Err(claim_failed("iss").into_error(FAILED, keys));
        }
        if !crate::jose::audiences(&claims).contains(&self.settings.audience.as_str()) {
            return Err(claim_failed("aud").into_error(FAILED, keys));
        }
        Ok(claims)
    }

    /// The identity (user: from the identity endpoint; service token: the configured
    /// subject) and the email the sign-in is for.
    async fn identity(
        &self,
        token: &str,
        claims: &Map<String, Value>,
    ) -> Result<(Value, String), Error> {
        if let Some(sub) = text(claims, "sub") {
            let email = text(claims, "email").unwrap_or_default();
            let identity = match self.identities.identity(token, sub, email).await {
                Ok(identity) => identity,
                Err(IdentityError::Refused(reason)) => {
                    return Err(Error::authentication(format!(
                        "{IDENTITY_FAILED}; {reason}"
                    )));
                }
                Err(IdentityError::Unavailable(reason)) => {
                    return Err(Error::service_unavailable(IDENTITY_FAILED, &reason));
                }
            };
            let identity_email = identity
                .get("email")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !email.is_empty()
                && !identity_email.is_empty()
                && !identity_email.eq_ignore_ascii_case(email)
            {
                return Err(Error::authentication(format!(
                    "{IDENTITY_FAILED}; the identity's email is not the token's"
                )));
            }
            let email = if email.is_empty() {
                identity_email
            } else {
                email
            };
            return Ok((identity.clone(), email.to_owned()));
        }
        let Some(common_name) = text(claims, "common_name") else {
            return Err(Error::authentication(
                "Missing both sub and common_name from Cloudflare Access JWT",
            ));
        };
        let Some((_, subject)) = self
            .settings
            .service_tokens
            .iter()
            .find(|(token, _)| token == common_name)
        else {
            return Err(Error::new(
                ErrorName::AuthenticationError,
                format!("{common_name} is not a permitted Service Token."),
            ));
        };
        let identity = serde_json::json!({
            "id": common_name, "name": "Bot", "email": subject, "groups": [],
        });
        Ok((identity, subject.clone()))
    }
}

/// The identity's group names (Cloudflare's groups are `{id, name, email}` objects), for
/// claim rules.
fn group_names(identity: &Value) -> Value {
    let groups = identity.get("groups").and_then(Value::as_array);
    Value::Array(
        groups
            .into_iter()
            .flatten()
            .filter_map(|group| group.get("name").or(Some(group)).and_then(Value::as_str))
            .map(|name| Value::String(name.to_owned()))
            .collect(),
    )
}
