//! `GET|POST /refresh`: a new session from the refresh cookie (§3.3).

use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Map, Value};

use super::logout::revoke;
use super::payload::Phase;
use super::{FlowContext, OAuthEnv, OAuthProvider, request_origin, require_xrw, with_cookies};
use crate::error::{Error, ErrorName};
use crate::http::Query;
use crate::http::error::json_response;
use crate::identity::SignInResult;
use crate::oauth::idp::TokenResponse;
use crate::oauth::scopes;
use crate::providers::oauth::RefreshStyle;
use crate::sessions::SessionManager;
use crate::signin::oauth::cookies::RequestCookies;
use crate::store::SessionRow;

impl OAuthProvider {
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
        let cookies = RequestCookies::from_headers(headers);
        let cookie = cookies
            .get_chunked(&format!("{}-refresh-token", self.id))
            .ok_or_else(|| Error::input("Missing session cookie"))?;
        let (refresh_token, session) = self.refresh_token(ctx, env, cookie).await?;
        let scope = env.scope(&self.id, query, &cookies);
        let (mut tokens, id_claims) = match stored_access_token(env, &refresh_token) {
            Some(access_token) => {
                if env.settings.persist_scopes {
                    require_granted(&self.id, &scope, &cookies)?;
                }
                // No token request: the scope reported is the one asked for (as Node).
                let tokens = TokenResponse {
                    access_token: Some(access_token.to_owned()),
                    scope: Some(scope.clone()),
                    ..TokenResponse::default()
                };
                (tokens, Map::new())
            }
            None => {
                let (mut tokens, id_claims) =
                    refresh_grant(ctx, env, &refresh_token, &scope).await?;
                if tokens.refresh_token.is_none() {
                    tokens.refresh_token = Some(refresh_token.clone());
                }
                (tokens, id_claims)
            }
        };
        let reported_scope = env.reported_scope(&scope, &tokens);
        let payload = self
            .session_payload(
                ctx,
                env,
                &mut tokens,
                &id_claims,
                &reported_scope,
                Phase::Refresh,
            )
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

    /// The IdP refresh token the cookie holds, or the one its session keeps (and the session).
    async fn refresh_token(
        &self,
        ctx: &FlowContext<'_>,
        env: &OAuthEnv,
        cookie: String,
    ) -> Result<(String, Option<SessionRow>), Error> {
        match ctx.sessions {
            Some(sessions) if SessionManager::is_handle(&cookie) => {
                let open = sessions
                    .open(&cookie, &self.id)
                    .await?
                    .ok_or_else(session_ended)?;
                Ok((open.refresh_token, Some(open.row)))
            }
            // With sessions on, only sessions sign in: a refresh token held by the browser
            // (from before sessions were turned on) would survive "sign out everywhere". It
            // is revoked at the IdP where possible, and the user signs in once more.
            Some(_) => {
                if let Err(reason) = revoke(env, &cookie).await {
                    tracing::info!(provider = %self.id, "revoking a pre-sessions refresh token failed: {reason}");
                }
                Err(Error::input(
                    "This sign-in predates server-side sessions; sign in again",
                ))
            }
            None => Ok((cookie, None)),
        }
    }
}

/// The access token a refresh cookie keeps instead of a refresh token (GitHub's OAuth apps,
/// OpenShift).
fn stored_access_token<'a>(env: &OAuthEnv, cookie: &'a str) -> Option<&'a str> {
    match env.settings.behaviour.refresh {
        RefreshStyle::AccessTokenCookie { prefix } => cookie.strip_prefix(prefix),
        RefreshStyle::AccessTokenOnly => Some(cookie),
        RefreshStyle::Grant => None,
    }
}

/// Without a token request nothing new can be granted: every scope asked for must already be
/// in the granted-scope cookie (else the frontend opens the popup again).
fn require_granted(provider: &str, scope: &str, cookies: &RequestCookies) -> Result<(), Error> {
    let granted = cookies
        .get(&format!("{provider}-granted-scope"))
        .map(scopes::split)
        .unwrap_or_default();
    if scopes::split(scope)
        .iter()
        .all(|asked| granted.contains(asked))
    {
        return Ok(());
    }
    Err(Error::new(
        ErrorName::Error,
        "Refresh failed, session has not been granted the requested scope",
    ))
}

/// A refresh grant with `refresh_token` (and the scope, where the provider sends it).
async fn refresh_grant(
    ctx: &FlowContext<'_>,
    env: &OAuthEnv,
    refresh_token: &str,
    scope: &str,
) -> Result<(TokenResponse, Map<String, Value>), Error> {
    let settings = &env.settings;
    let sent_scope = env.sent_scope(scope.to_owned());
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
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
    Ok((tokens, id_claims))
}

/// The session was revoked ("sign out everywhere"), expired, or never existed.
fn session_ended() -> Error {
    Error::input("Session expired or revoked; sign in again")
}
