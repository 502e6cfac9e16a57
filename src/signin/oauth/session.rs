//! The session payload, `/refresh` and `/logout`.

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Map, Value, json};

use super::{
    FlowContext, OAuthEnv, OAuthProvider, failed, request_origin, require_xrw, with_cookies,
};
use crate::audit::AuditEvent;
use crate::error::{Error, ErrorName};
use crate::http::Query;
use crate::http::error::json_response;
use crate::identity::{BackstageIdentityResponse, Profile, ProviderInfo, SignInResult};
use crate::oauth::idp::TokenResponse;
use crate::providers::oauth::{
    Behaviour, LogoutStyle, OAuthEnvSettings, ProfileStyle, UserinfoCall,
};
use crate::resolvers::SignInInfo;
use crate::sessions::SessionManager;
use crate::signin::oauth::cookies::{CookieWriter, RequestCookies};

const NO_EMAIL: &str = "Login failed, user profile does not contain an email";

impl OAuthProvider {
    /// `{profile, providerInfo, backstageIdentity?}`, after userinfo and the resolvers.
    pub(super) async fn session_payload(
        &self,
        ctx: &FlowContext<'_>,
        env: &OAuthEnv,
        tokens: &TokenResponse,
        id_claims: &Map<String, Value>,
        scope: &str,
    ) -> Result<SignInResult, Error> {
        let access_token = tokens
            .access_token
            .as_deref()
            .ok_or_else(|| Error::new(ErrorName::Error, "Failed to obtain access token"))?;
        let userinfo = fetch_userinfo(env, access_token).await?;
        check_same_subject(id_claims, &userinfo)?;
        let text = |name: &str| {
            userinfo
                .get(name)
                .or_else(|| id_claims.get(name))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let behaviour = &env.settings.behaviour;
        let profile = profile(behaviour, &userinfo, id_claims);
        // The signed ID token's claims win over userinfo's.
        let mut claims = userinfo.clone();
        claims.extend(id_claims.clone());
        let provider_info = ProviderInfo {
            id_token: tokens.id_token.clone(),
            access_token: access_token.to_owned(),
            scope: scope.to_owned(),
            expires_in_seconds: tokens
                .expires_in
                .as_ref()
                .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok())),
        };
        let mut result = SignInResult {
            profile: profile.clone(),
            provider_info: Some(provider_info),
            backstage_identity: None,
        };
        if env.settings.sign_in.is_configured() {
            let info = SignInInfo {
                username: behaviour.username_claim.and_then(text),
                user_id: claims.get("sub").and_then(Value::as_str).map(str::to_owned),
                profile,
                claims,
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

    /// `GET|POST /refresh`: a new session from the refresh cookie.
    pub async fn refresh(
        &self,
        ctx: &FlowContext<'_>,
        query: &Query,
        headers: &HeaderMap,
    ) -> Result<Response, Error> {
        let env = self.environment(query.get("env"))?.clone();
        require_xrw(headers)?;
        let origin = request_origin(headers)
            .unwrap_or(ctx.origins.app_origin)
            .to_owned();
        let result = self
            .refresh_session(ctx, &env, query, headers, &origin)
            .await;
        ctx.observe(
            "refresh",
            &self.id,
            result.as_ref().map(|(payload, _)| payload),
        );
        let (payload, cookies) = result.map_err(|cause| {
            Error::caused_by(ErrorName::AuthenticationError, "Refresh failed", cause)
        })?;
        Ok(with_cookies(
            json_response(StatusCode::OK, &payload),
            cookies,
        ))
    }

    async fn refresh_session(
        &self,
        ctx: &FlowContext<'_>,
        env: &OAuthEnv,
        query: &Query,
        headers: &HeaderMap,
        origin: &str,
    ) -> Result<(SignInResult, Vec<HeaderValue>), Error> {
        let settings = &env.settings;
        let cookies = RequestCookies::from_headers(headers);
        let cookie = cookies
            .get_chunked(&format!("{}-refresh-token", self.id))
            .ok_or_else(|| Error::input("Missing session cookie"))?;
        let (refresh_token, session) = match ctx.sessions {
            Some(sessions) if SessionManager::is_handle(&cookie) => {
                let open = sessions
                    .open(&cookie, &self.id)
                    .await?
                    .ok_or_else(session_ended)?;
                (open.refresh_token, Some(open.row))
            }
            // With sessions on, only sessions sign in: a refresh token held by the browser
            // (from before sessions were turned on) would survive "sign out everywhere". It
            // is revoked at the IdP where possible, and the user signs in once more.
            Some(_) => {
                if let Err(reason) = revoke(env, &cookie).await {
                    tracing::info!(provider = %self.id, "revoking a pre-sessions refresh token failed: {reason}");
                }
                return Err(Error::input(
                    "This sign-in predates server-side sessions; sign in again",
                ));
            }
            None => (cookie, None),
        };
        let scope = env.scope(&self.id, query, &cookies);
        let sent_scope = env.sent_scope(scope.clone());
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.as_str()),
        ];
        if settings.behaviour.scope_on_refresh {
            form.push(("scope", &sent_scope));
        }
        let (tokens, id_claims) = env
            .grant(
                &form,
                None,
                ctx.clock.now_seconds(),
                |error| settings.behaviour.errors.refresh(error),
                "",
            )
            .await?;
        if settings.behaviour.require_id_token_on_refresh && tokens.id_token.is_none() {
            return Err(Error::new(
                ErrorName::Error,
                "Failed to refresh access token: the IdP returned no ID token",
            ));
        }
        let reported_scope = env.reported_scope(&scope, &tokens);
        let payload = self
            .session_payload(ctx, env, &tokens, &id_claims, &reported_scope)
            .await?;

        // A refresh token the IdP rotated replaces the cookie (or the session's copy); an
        // unchanged one is not re-sent.
        let rotated = tokens
            .refresh_token
            .as_deref()
            .filter(|rotated| *rotated != refresh_token);
        let new_cookie = match (ctx.sessions, session) {
            (Some(sessions), Some(session)) => {
                let user = payload.user_entity_ref();
                if !sessions.record_refresh(&session, user, rotated).await? {
                    return Err(session_ended());
                }
                None
            }
            _ => rotated.map(str::to_owned),
        };
        let headers = env.session_cookies(
            &self.id,
            &cookies,
            origin,
            ctx.clock.now_millis(),
            &scope,
            new_cookie.as_deref(),
        );
        Ok((payload, headers))
    }

    /// `POST /logout`: clears the cookies (and ends the session); `oidc` also revokes the
    /// refresh token at the IdP, best effort.
    pub async fn logout(
        &self,
        ctx: &FlowContext<'_>,
        query: &Query,
        headers: &HeaderMap,
    ) -> Result<Response, Error> {
        let env = self.environment(query.get("env"))?.clone();
        require_xrw(headers)?;
        if let Some(origin) = request_origin(headers)
            && !ctx.origins.is_allowed(origin)
        {
            return Err(Error::not_allowed(format!(
                "Origin '{origin}' is not allowed"
            )));
        }
        let settings = &env.settings;
        let cookies = RequestCookies::from_headers(headers);
        let refresh_name = format!("{}-refresh-token", self.id);
        let revokes = settings.behaviour.logout == LogoutStyle::Revoke;
        let refresh_token = match (ctx.sessions, cookies.get_chunked(&refresh_name)) {
            (Some(sessions), Some(cookie)) if SessionManager::is_handle(&cookie) => {
                let open = sessions.open(&cookie, &self.id).await?;
                sessions.end(&cookie).await?;
                open.map(|open| open.refresh_token)
            }
            (_, cookie) => cookie,
        };
        if let Some(refresh_token) = refresh_token.filter(|_| revokes)
            && let Err(reason) = revoke(&env, &refresh_token).await
        {
            // Best effort: signing out never depends on the IdP.
            tracing::warn!(provider = %self.id, "the IdP did not revoke the refresh token at logout: {reason}");
            ctx.audit.record(
                AuditEvent::new("idp_revocation")
                    .failure(reason)
                    .provider(&self.id)
                    .client(&ctx.client)
                    .request_id(ctx.request_id),
            );
        }
        let origin = request_origin(headers).unwrap_or(ctx.origins.app_origin);
        let mut writer = CookieWriter::new(&env.cookies, origin, ctx.clock.now_millis());
        writer.remove_if_present(&cookies, &refresh_name);
        if settings.persist_scopes {
            writer.remove_if_present(&cookies, &format!("{}-granted-scope", self.id));
        }
        let logout_url = match (&settings.behaviour.logout, &settings.rp_logout) {
            (LogoutStyle::Auth0 { domain, federated }, _) => {
                let mut params: Vec<(&str, &str)> = Vec::new();
                if *federated {
                    params.push(("federated", ""));
                }
                params.push(("client_id", &settings.client_id));
                if let Some(origin) = request_origin(headers) {
                    params.push(("returnTo", origin));
                }
                Some(super::with_query(
                    &format!("https://{domain}/v2/logout"),
                    &params,
                ))
            }
            (LogoutStyle::Revoke, Some(rp)) => {
                let metadata = env.idp.metadata().await.ok();
                let endpoint = metadata
                    .as_ref()
                    .and_then(|m| m.0.end_session_endpoint.as_deref());
                endpoint.map(|endpoint| {
                    let back = rp
                        .post_logout_redirect_uri
                        .as_deref()
                        .unwrap_or(ctx.origins.app_origin);
                    super::with_query(
                        endpoint,
                        &[
                            ("client_id", &settings.client_id),
                            ("post_logout_redirect_uri", back),
                        ],
                    )
                })
            }
            (LogoutStyle::Revoke | LogoutStyle::ClearCookies, _) => None,
        };
        ctx.audit.record(
            AuditEvent::new("logout")
                .success()
                .provider(&self.id)
                .client(&ctx.client)
                .request_id(ctx.request_id),
        );
        // As Node: only an https or local URL is handed to the browser.
        let response = match logout_url.filter(|url| is_https_or_local(url)) {
            Some(url) => json_response(StatusCode::OK, &json!({"logoutUrl": url})),
            None => StatusCode::OK.into_response(),
        };
        Ok(with_cookies(response, writer.headers))
    }
}

/// Revokes `refresh_token` at the IdP's revocation endpoint, if it advertises one.
async fn revoke(env: &OAuthEnv, refresh_token: &str) -> Result<(), String> {
    let settings = &env.settings;
    let metadata = env.idp.metadata().await.map_err(|error| error.message)?;
    let Some(endpoint) = &metadata.0.revocation_endpoint else {
        return Ok(());
    };
    env.idp
        .revoke(
            endpoint,
            settings.client_auth,
            &settings.client_id,
            &settings.client_secret,
            refresh_token,
        )
        .await
        .map_err(|error| error.message)
}

/// The session was revoked ("sign out everywhere"), expired, or never existed.
fn session_ended() -> Error {
    Error::input("Session expired or revoked; sign in again")
}

fn is_https_or_local(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|url| {
        url.scheme() == "https"
            || matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
    })
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

/// Node's message, plus what the operator can do about it.
fn with_email_hint(mut error: Error, settings: &OAuthEnvSettings) -> Error {
    if error.message == NO_EMAIL {
        error.message = format!(
            "{NO_EMAIL}. The IdP released no verified email: request the 'email' scope (auth.providers.{}.{}.additionalScopes) and make sure the account's email is verified.",
            settings.provider, settings.environment
        )
        .into();
    }
    error
}
