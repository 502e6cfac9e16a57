//! `GET|POST /handler/frame`: the IdP's redirect back; the popup page or the redirect.

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Map, Value, json};

use super::payload::Phase;
use super::{FlowContext, OAuthEnv, OAuthProvider, binding, failed, header_value, with_cookies};
use crate::error::{Error, ErrorName};
use crate::http::Query;
use crate::identity::SignInResult;
use crate::oauth::idp::Metadata;
use crate::oauth::idp::TokenResponse;
use crate::providers::oauth::RefreshStyle;
use crate::signin::oauth::cookies::NONCE_MAX_AGE_SECS;
use crate::signin::oauth::cookies::{CookieWriter, RequestCookies};
use crate::signin::oauth::frame;
use crate::signin::oauth::state::OAuthState;

impl OAuthProvider {
    /// `GET|POST /handler/frame`: the IdP's redirect back.
    pub async fn frame(
        &self,
        ctx: &FlowContext<'_>,
        query: &Query,
        headers: &HeaderMap,
    ) -> Result<Response, Error> {
        let result = self.frame_inner(ctx, query, headers).await;
        if let Err(error) = &result {
            ctx.observe("sign_in", &self.id, Err(error));
        }
        result
    }

    async fn frame_inner(
        &self,
        ctx: &FlowContext<'_>,
        query: &Query,
        headers: &HeaderMap,
    ) -> Result<Response, Error> {
        // Before any failure can be delivered to the browser, the environment must be known;
        // these errors are JSON, as in Node.
        let state = match query.get("state") {
            Some(state) => Some(OAuthState::decode(state)?),
            None => None,
        };
        let env_name = query
            .get("env")
            .or(state.as_ref().map(|state| state.env.as_str()));
        let env = self.environment(env_name)?.clone();
        let state =
            state.ok_or_else(|| Error::not_allowed("OAuth state is invalid, missing env"))?;

        // The target origin of the popup message; a refused origin never receives anything.
        let (target, origin_error) = match state
            .origin
            .as_deref()
            .map(|origin| ctx.origins.check(origin))
        {
            None => (ctx.origins.app_origin.to_owned(), None),
            Some(Ok(origin)) => (origin, None),
            Some(Err(error)) => (ctx.origins.app_origin.to_owned(), Some(error)),
        };
        let cookies = RequestCookies::from_headers(headers);
        let checked = match origin_error {
            Some(error) => Err(error),
            None => self.check_nonce(&cookies, &state),
        };
        // One state completes one sign-in: once the browser has proven it started this one,
        // its nonce and flow cookies are spent, whatever happens next (a reloaded popup or a
        // double submit then fails here instead of re-sending a used code to the IdP).
        let mut spent = Vec::new();
        if checked.is_ok() {
            let mut writer = CookieWriter::new(&env.cookies, &target, ctx.clock.now_millis());
            writer.clear_flow(&self.id, &cookies);
            spent = writer.headers;
        }
        let result = match checked {
            Ok(()) => self
                .complete_sign_in(ctx, &env, &state, query, &cookies, &target)
                .await
                .and_then(|(payload, cookies)| {
                    let response = success_response(&state, &target, &payload)?;
                    Ok((payload, response, cookies))
                }),
            Err(error) => Err(error),
        };
        ctx.observe(
            "sign_in",
            &self.id,
            result.as_ref().map(|(payload, _, _)| payload),
        );
        let response = match result {
            Ok((_, response, mut cookies)) => {
                cookies.extend(spent);
                with_cookies(response, cookies)
            }
            Err(error) => with_cookies(deliver_error(ctx, &state, &target, error), spent),
        };
        Ok(response)
    }

    /// §3.2 step 4: the browser that finishes the sign-in is the one that started it.
    fn check_nonce(&self, cookies: &RequestCookies, state: &OAuthState) -> Result<(), Error> {
        let cookie_nonce = cookies
            .get(&format!("{}-nonce", self.id))
            .ok_or_else(|| Error::not_allowed("Auth response is missing cookie nonce"))?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            cookie_nonce.as_bytes(),
            state.nonce.as_bytes(),
        )) {
            return Err(Error::not_allowed("Invalid nonce"));
        }
        Ok(())
    }

    async fn complete_sign_in(
        &self,
        ctx: &FlowContext<'_>,
        env: &OAuthEnv,
        state: &OAuthState,
        query: &Query,
        cookies: &RequestCookies,
        target: &str,
    ) -> Result<(SignInResult, Vec<HeaderValue>), Error> {
        let settings = &env.settings;
        if let (Some("redirect"), Some(url)) =
            (state.flow.as_deref(), state.redirect_url.as_deref())
        {
            ctx.origins.check_redirect(url)?;
        }
        if let Some(error) = query.get("error") {
            let description = query.get("error_description");
            return Err(env.settings.behaviour.errors.callback(error, description));
        }
        let metadata = env.idp.metadata().await.map_err(failed)?;
        let (metadata, _) = metadata.as_ref();
        check_issuer(metadata, query.get("iss"))?;
        let (mut tokens, id_claims) = self.redeem_code(ctx, env, state, query, cookies).await?;
        if let (Some(exchange), Some(audience)) =
            (settings.behaviour.audience_exchange, &state.audience)
        {
            super::audience::exchange(env, &mut tokens, audience, exchange).await?;
        }
        if settings.behaviour.require_id_token && tokens.id_token.is_none() {
            return Err(Error::new(
                ErrorName::Error,
                "Authentication failed, the IdP returned no ID token",
            ));
        }
        let scope = match (&state.scope, settings.persist_scopes) {
            (Some(scope), true) => scope.clone(),
            (None, true) => return Err(Error::authentication("No scope found in OAuth state")),
            (_, false) => env.reported_scope("", &tokens),
        };
        let payload = self
            .session_payload(ctx, env, &mut tokens, &id_claims, &scope, Phase::SignIn)
            .await?;

        let refresh_cookie = match refresh_token(env, &tokens) {
            Some(refresh_token) => Some(
                ctx.refresh_cookie_value(&self.id, env, &payload, &refresh_token)
                    .await?,
            ),
            None => None,
        };
        let headers = env.session_cookies(
            &self.id,
            cookies,
            target,
            ctx.clock.now_millis(),
            &scope,
            refresh_cookie.as_deref(),
        );
        Ok((payload, headers))
    }
}

impl OAuthProvider {
    /// Trades the authorization code, with the PKCE verifier and OpenID nonce sealed in this
    /// browser's flow cookie, for the IdP's tokens and the ID token's claims.
    async fn redeem_code(
        &self,
        ctx: &FlowContext<'_>,
        env: &OAuthEnv,
        state: &OAuthState,
        query: &Query,
        cookies: &RequestCookies,
    ) -> Result<(TokenResponse, Map<String, Value>), Error> {
        let settings = &env.settings;
        let sealed = cookies
            .get(&format!("{}-flow", self.id))
            .unwrap_or_default();
        let secrets = ctx
            .sealer
            .open(sealed, &binding(&self.id, &settings.environment, &state.nonce))
            .filter(|secrets| ctx.clock.now_seconds() - secrets.sealed_at <= NONCE_MAX_AGE_SECS)
            .ok_or_else(|| Error::new(ErrorName::Error, "Authentication failed, the sign-in expired or was started in another browser; please sign in again"))?;
        let code = query.get("code").ok_or_else(|| {
            Error::new(
                ErrorName::Error,
                "Authentication failed, the IdP sent no authorization code",
            )
        })?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", settings.callback_url.as_str()),
        ];
        if let Some(verifier) = &secrets.verifier {
            form.push(("code_verifier", verifier));
        }
        env.grant(
            &form,
            secrets.nonce.as_deref(),
            ctx.clock.now_seconds(),
            |error| settings.behaviour.errors.token(error),
            "Authentication failed, ",
        )
        .await
    }
}

/// What the refresh cookie keeps: the IdP's refresh token; or the access token, for tokens
/// that never expire where the provider says so (GitHub's OAuth apps, behind a prefix), and
/// always for servers without refresh tokens (OpenShift).
fn refresh_token(env: &OAuthEnv, tokens: &TokenResponse) -> Option<String> {
    let style = env.settings.behaviour.refresh;
    if let Some(refresh_token) = &tokens.refresh_token
        && style != RefreshStyle::AccessTokenOnly
    {
        return Some(refresh_token.clone());
    }
    let access_token = tokens.access_token.as_ref();
    match style {
        RefreshStyle::AccessTokenCookie { prefix } if tokens.expires_in.is_none() => {
            access_token.map(|token| format!("{prefix}{token}"))
        }
        RefreshStyle::AccessTokenOnly => access_token.cloned(),
        _ => None,
    }
}

/// RFC 9207: an `iss` on the response must be the IdP this sign-in started with, and an IdP
/// that promises to send it must have sent it (the generic oauth2 provider knows no issuer).
fn check_issuer(metadata: &Metadata, iss: Option<&str>) -> Result<(), Error> {
    let Some(issuer) = metadata.issuer.as_deref() else {
        return Ok(());
    };
    let reason = match iss {
        Some(iss) if iss != issuer => {
            format!("the authorization response came from issuer '{iss}', expected '{issuer}'")
        }
        None if metadata.authorization_response_iss_parameter_supported == Some(true) => format!(
            "the authorization response has no iss parameter, but the IdP '{issuer}' always sends one (RFC 9207)"
        ),
        _ => return Ok(()),
    };
    Err(Error::new(
        ErrorName::Error,
        format!("Authentication failed, {reason}"),
    ))
}

/// The redirect (redirect flow; its URL was checked against the allowed origins) or the popup
/// page carrying the session.
fn success_response(
    state: &OAuthState,
    target: &str,
    payload: &SignInResult,
) -> Result<Response, Error> {
    if state.flow.as_deref() != Some("redirect") {
        return Ok(frame::page(
            &json!({"type": "authorization_response", "response": payload}),
            target,
        ));
    }
    let url = state
        .redirect_url
        .as_deref()
        .ok_or_else(|| Error::input("No redirectUrl provided in request query parameters"))?;
    redirect_response(url)
}

/// A failure, delivered as Node does: back to the app's `redirectUrl` with `?error=` in the
/// redirect flow, else on the popup page. Beyond Node, only to a `redirectUrl` on an allowed
/// origin: the state is not signed, so anyone can write one; any other goes to the page.
fn deliver_error(
    ctx: &FlowContext<'_>,
    state: &OAuthState,
    target: &str,
    error: Error,
) -> Response {
    if let (Some("redirect"), Some(redirect_url)) =
        (state.flow.as_deref(), state.redirect_url.as_deref())
        && ctx.origins.check_redirect(redirect_url).is_ok()
        && let Ok(mut url) = url::Url::parse(redirect_url)
    {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "error")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(kept)
            .append_pair("error", &error.message);
        if let Ok(response) = redirect_response(url.as_str()) {
            return response;
        }
    }
    frame::page(
        &json!({"type": "authorization_response", "error": {"name": error.name.as_str(), "message": error.message}}),
        target,
    )
}

fn redirect_response(url: &str) -> Result<Response, Error> {
    let mut response = (StatusCode::FOUND, format!("Found. Redirecting to {url}")).into_response();
    response
        .headers_mut()
        .insert(header::LOCATION, header_value(url)?);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(response)
}
