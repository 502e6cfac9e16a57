//! The session a sign-in or refresh gives the frontend: userinfo (about the ID token's subject),
//! the profile, the IdP's tokens, and the identity the sign-in resolvers find.

use serde_json::{Map, Value};

use super::{FlowContext, OAuthEnv, OAuthProvider, failed};
use crate::error::{Error, ErrorName};
use crate::identity::{
    BackstageIdentityResponse, Profile, ProviderInfo, SessionProviderInfo, SignInResult,
};
use crate::oauth::idp::TokenResponse;
use crate::providers::oauth::{
    ApiCall, ApiFailure, ApiProfile, Behaviour, OAuthEnvSettings, ProfileStyle, UserinfoCall,
};
use crate::resolvers::SignInInfo;

/// Which route asks: their failures are worded differently, as in Node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    SignIn,
    Refresh,
}

/// A failure during the callback, as passport reports it.
fn failed_sign_in(error: Error) -> Error {
    Error::new(
        ErrorName::Error,
        format!("Authentication failed, {}", error.message),
    )
}

const NO_EMAIL: &str = "Login failed, user profile does not contain an email";

impl OAuthProvider {
    /// `{profile, providerInfo, backstageIdentity?}`, after the user's profile (userinfo, or
    /// the provider's API) and the resolvers.
    /// `tokens.refresh_token` is the session's refresh token; a profile source may replace it
    /// (a grant of its own).
    pub(super) async fn session_payload(
        &self,
        ctx: &FlowContext<'_>,
        env: &OAuthEnv,
        tokens: &mut TokenResponse,
        id_claims: &Map<String, Value>,
        scope: &str,
        phase: Phase,
    ) -> Result<SignInResult, Error> {
        let access_token = tokens
            .access_token
            .clone()
            .ok_or_else(|| Error::new(ErrorName::Error, "Failed to obtain access token"))?;
        let refresh_token = tokens.refresh_token.as_deref();
        let user = user(env, &access_token, refresh_token, id_claims, phase).await?;
        if let Some(replacement) = &user.refresh_token {
            tokens.refresh_token = Some(replacement.clone());
        }
        let expires_in = tokens
            .expires_in
            .as_ref()
            .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()));
        let provider_info = ProviderInfo {
            id_token: tokens.id_token.clone(),
            access_token,
            scope: scope.to_owned(),
            expires_in_seconds: expires_in.filter(|_| env.settings.behaviour.report_expiry),
        };
        let mut result = SignInResult {
            profile: user.profile.clone(),
            provider_info: Some(SessionProviderInfo::OAuth(provider_info)),
            backstage_identity: None,
        };
        if env.settings.sign_in.is_configured() {
            let info = SignInInfo {
                username: user.username,
                user_id: user.user_id,
                profile_url: user.profile_url,
                profile: user.profile,
                claims: user.claims,
            };
            let resolved = env
                .settings
                .sign_in
                .resolve(&info, ctx.catalog)
                .await
                .map_err(|error| with_email_hint(error, &env.settings))?;
            let issued = ctx
                .issuer
                .issue(&resolved.user_entity_ref, &resolved.ownership_refs)
                .await?;
            result.backstage_identity = Some(BackstageIdentityResponse::new(
                issued,
                ctx.clock.now_millis(),
            ));
        }
        Ok(result)
    }
}

/// Who signed in: from the provider's own API where it has one (what it lacks filled from the
/// ID token), else from OpenID userinfo and the ID token.
async fn user(
    env: &OAuthEnv,
    access_token: &str,
    refresh_token: Option<&str>,
    id_claims: &Map<String, Value>,
    phase: Phase,
) -> Result<ApiProfile, Error> {
    let behaviour = &env.settings.behaviour;
    if let Some(api) = &behaviour.profile_api {
        let call = ApiCall {
            idp: &env.idp,
            access_token,
            refresh_token,
            id_claims,
        };
        let mut user = api
            .fetch(call)
            .await
            .map_err(|failure| api_error(failure, phase))?;
        fill_from_id_token(&mut user, id_claims);
        return Ok(user);
    }
    let userinfo = fetch_userinfo(env, access_token).await?;
    check_same_subject(id_claims, &userinfo)?;
    let text = |name: &str| {
        userinfo
            .get(name)
            .or_else(|| id_claims.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let profile = profile(behaviour, &userinfo, id_claims);
    // The signed ID token's claims win over userinfo's.
    let mut claims = userinfo.clone();
    claims.extend(id_claims.clone());
    Ok(ApiProfile {
        profile,
        username: behaviour.username_claim.and_then(text),
        user_id: claims.get("sub").and_then(Value::as_str).map(str::to_owned),
        profile_url: None,
        claims,
        refresh_token: None,
    })
}

/// A provider API's failure, in Node's words: `Authentication failed, ` first at sign-in
/// unless it is the provider module's own error, kept as it is; the cause of `Refresh failed`
/// at refresh.
fn api_error(failure: ApiFailure, phase: Phase) -> Error {
    let own = matches!(failure, ApiFailure::Error(_));
    match phase {
        Phase::SignIn if !own => failed_sign_in(failure.into_error(false)),
        Phase::SignIn => failure.into_error(false),
        Phase::Refresh => failure.into_error(true),
    }
}

/// Backstage's transform (§11.0): what the API's profile lacks comes from the ID token, if
/// the IdP sent one (GitLab with `openid` among the scopes); an email the API marked
/// unverified is not replaced, nor taken from the token when the token marks it so. The
/// token's claims join the API's for claim rules and templates.
fn fill_from_id_token(user: &mut ApiProfile, id_claims: &Map<String, Value>) {
    let from = |name: &str| {
        id_claims
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let unverified =
        |claims: &Map<String, Value>| claims.get("email_verified") == Some(&Value::Bool(false));
    let profile = &mut user.profile;
    if profile.email.is_none() && !unverified(&user.claims) && !unverified(id_claims) {
        profile.email = from("email");
    }
    if profile.picture.is_none() {
        profile.picture = from("picture");
    }
    if profile.display_name.is_none() {
        profile.display_name = from("name");
    }
    user.claims
        .extend(id_claims.iter().map(|(k, v)| (k.clone(), v.clone())));
}

async fn fetch_userinfo(env: &OAuthEnv, access_token: &str) -> Result<Map<String, Value>, Error> {
    let post = match env.settings.behaviour.userinfo {
        UserinfoCall::None => return Ok(Map::new()),
        UserinfoCall::Get => false,
        UserinfoCall::Post => true,
    };
    let metadata = env.idp.metadata().await.map_err(failed)?;
    let endpoint = metadata.0.userinfo_endpoint.as_deref().ok_or_else(|| {
        Error::new(
            ErrorName::Error,
            "OIDC IdP must provide a userinfo_endpoint in the metadata response",
        )
    })?;
    env.idp
        .userinfo(endpoint, access_token, post)
        .await
        .map_err(failed)
}

/// OpenID Connect Core §5.3.2: userinfo is about the ID token's subject, or it is not used.
fn check_same_subject(
    id_claims: &Map<String, Value>,
    userinfo: &Map<String, Value>,
) -> Result<(), Error> {
    let Some(subject) = id_claims.get("sub") else {
        return Ok(());
    };
    if userinfo.is_empty() || userinfo.get("sub") == Some(subject) {
        return Ok(());
    }
    let shown = |value: Option<&Value>| match value {
        Some(Value::String(text)) => format!("'{text}'"),
        Some(other) => other.to_string(),
        None => "missing".to_owned(),
    };
    Err(Error::new(
        ErrorName::Error,
        format!(
            "The IdP's userinfo response is for subject {}, but its ID token is for {} (OpenID Connect Core 5.3.2)",
            shown(userinfo.get("sub")),
            shown(Some(subject))
        ),
    ))
}

/// The profile the frontend shows (§11.0, §11.1); absent values stay absent.
fn profile(
    behaviour: &Behaviour,
    userinfo: &Map<String, Value>,
    id_claims: &Map<String, Value>,
) -> Profile {
    let from = |claims: &Map<String, Value>, name: &str| {
        claims.get(name).and_then(Value::as_str).map(str::to_owned)
    };
    let unverified =
        |claims: &Map<String, Value>| claims.get("email_verified") == Some(&Value::Bool(false));
    match behaviour.profile {
        ProfileStyle::VerifiedEmailOnly => Profile {
            email: from(userinfo, "email")
                .filter(|_| userinfo.get("email_verified") == Some(&Value::Bool(true))),
            picture: from(userinfo, "picture"),
            display_name: from(userinfo, "name"),
        },
        ProfileStyle::Passport => {
            let email = match from(userinfo, "email") {
                Some(_) if unverified(userinfo) => None,
                Some(email) => Some(email),
                None => from(id_claims, "email").filter(|_| !unverified(id_claims)),
            };
            let display_name = ["name", "preferred_username", "sub"]
                .iter()
                .find_map(|name| from(userinfo, name))
                .or_else(|| from(id_claims, "name"));
            let picture = from(userinfo, "picture").filter(|_| behaviour.picture_from_userinfo);
            Profile {
                email,
                picture: picture.or_else(|| from(id_claims, "picture")),
                display_name,
            }
        }
    }
}

/// Node's message, plus what the operator can do about it where the email comes with the
/// `email` scope (a provider's own API has no such scope to ask for: its message stays Node's).
fn with_email_hint(mut error: Error, settings: &OAuthEnvSettings) -> Error {
    if error.message == NO_EMAIL {
        error.message = match settings.behaviour.missing_email_advice {
            Some(advice) => format!("{NO_EMAIL}. {advice}"),
            None if settings.behaviour.email_from_scope => format!(
                "{NO_EMAIL}. The IdP released no verified email: request the 'email' scope (auth.providers.{}.{}.additionalScopes) and make sure the account's email is verified.",
                settings.provider, settings.environment
            ),
            None => return error,
        }
        .into();
    }
    error
}
