//! `POST /logout` (§3.4): clears the cookies and ends the session; `oidc`, `google` and
//! `openshift` also revoke the token at the IdP, best effort; Auth0 and RP-initiated logout
//! hand back a URL.

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde_json::json;

use super::{FlowContext, OAuthEnv, OAuthProvider, request_origin, require_xrw, with_cookies};
use crate::audit::AuditEvent;
use crate::error::Error;
use crate::http::Query;
use crate::http::error::json_response;
use crate::providers::oauth::LogoutStyle;
use crate::sessions::SessionManager;
use crate::signin::oauth::cookies::{CookieWriter, RequestCookies};

impl OAuthProvider {
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
        self.end_session(ctx, &env, cookies.get_chunked(&refresh_name))
            .await?;
        let origin = request_origin(headers).unwrap_or(ctx.origins.app_origin);
        let mut writer = CookieWriter::new(&env.cookies, origin, ctx.clock.now_millis());
        writer.remove_if_present(&cookies, &refresh_name);
        if settings.persist_scopes {
            writer.remove_if_present(&cookies, &format!("{}-granted-scope", self.id));
        }
        let logout_url = logout_url(ctx, &env, request_origin(headers)).await;
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

impl OAuthProvider {
    /// Ends the server-side session the cookie names, if any, and revokes the refresh token at
    /// the IdP where this provider does (best effort: signing out never depends on the IdP).
    async fn end_session(
        &self,
        ctx: &FlowContext<'_>,
        env: &OAuthEnv,
        cookie: Option<String>,
    ) -> Result<(), Error> {
        let refresh_token = match (ctx.sessions, cookie) {
            (Some(sessions), Some(cookie)) if SessionManager::is_handle(&cookie) => {
                let open = sessions.open(&cookie, &self.id).await?;
                sessions.end(&cookie).await?;
                open.map(|open| open.refresh_token)
            }
            (_, cookie) => cookie,
        };
        let revokes = !matches!(
            env.settings.behaviour.logout,
            LogoutStyle::ClearCookies | LogoutStyle::Auth0 { .. }
        );
        if let Some(refresh_token) = refresh_token.filter(|_| revokes)
            && let Err(reason) = revoke(env, &refresh_token).await
        {
            tracing::warn!(provider = %self.id, "the IdP did not revoke the refresh token at logout: {reason}");
            ctx.audit.record(
                AuditEvent::new("idp_revocation")
                    .failure(reason)
                    .provider(&self.id)
                    .client(&ctx.client)
                    .request_id(ctx.request_id),
            );
        }
        Ok(())
    }
}

/// Where the browser goes to end its session at the IdP: Auth0's logout URL, or the
/// end-session endpoint with `rpInitiatedLogout`; `origin` is the request's `Origin`.
async fn logout_url(ctx: &FlowContext<'_>, env: &OAuthEnv, origin: Option<&str>) -> Option<String> {
    let settings = &env.settings;
    match (&settings.behaviour.logout, &settings.rp_logout) {
        (LogoutStyle::Auth0 { domain, federated }, _) => {
            let mut params: Vec<(&str, &str)> = Vec::new();
            if *federated {
                params.push(("federated", ""));
            }
            params.push(("client_id", &settings.client_id));
            if let Some(origin) = origin {
                params.push(("returnTo", origin));
            }
            Some(super::with_query(
                &format!("https://{domain}/v2/logout"),
                &params,
            ))
        }
        (LogoutStyle::Revoke, Some(rp)) => {
            let metadata = env.idp.metadata().await.ok()?;
            let endpoint = metadata.0.end_session_endpoint.as_deref()?;
            let back = rp
                .post_logout_redirect_uri
                .as_deref()
                .unwrap_or(ctx.origins.app_origin);
            Some(super::with_query(
                endpoint,
                &[
                    ("client_id", &settings.client_id),
                    ("post_logout_redirect_uri", back),
                ],
            ))
        }
        (
            LogoutStyle::Revoke
            | LogoutStyle::RevokeWithoutClientAuth
            | LogoutStyle::Provider(_)
            | LogoutStyle::ClearCookies,
            _,
        ) => None,
    }
}

/// Revokes `refresh_token` the provider's way: at the IdP's revocation endpoint, if it
/// advertises one (RFC 7009, as the client or with the token alone), or with the provider's
/// own call.
pub(super) async fn revoke(env: &OAuthEnv, refresh_token: &str) -> Result<(), String> {
    let settings = &env.settings;
    let auth = match &settings.behaviour.logout {
        LogoutStyle::Provider(revocation) => {
            return revocation.revoke(&env.idp, refresh_token).await;
        }
        LogoutStyle::RevokeWithoutClientAuth => None,
        _ => Some(settings.client_auth),
    };
    let metadata = env.idp.metadata().await.map_err(|error| error.message)?;
    let Some(endpoint) = &metadata.0.revocation_endpoint else {
        return Ok(());
    };
    env.idp
        .revoke(
            endpoint,
            auth,
            &settings.client_id,
            &settings.client_secret,
            refresh_token,
        )
        .await
        .map_err(|error| error.message)
}

fn is_https_or_local(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|url| {
        url.scheme() == "https"
            || matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
    })
}
