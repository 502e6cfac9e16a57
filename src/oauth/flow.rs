//! The OAuth routes of one provider (§3.1–3.4): `/start`, `/handler/frame`, `/refresh`,
//! `/logout`, for the popup and redirect flows.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use percent_encoding::utf8_percent_encode;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Map, Value, json};

use super::cookies::{CookiePolicy, CookieWriter, RequestCookies};
use super::id_token::Expectations;
use super::idp::{IdpClient, IdpError, TokenResponse};
use super::origin::Origins;
use super::sealed::{FlowSecrets, Sealer};
use super::state::OAuthState;
use super::{URI_COMPONENT, frame, scopes};
use crate::catalog::CatalogClient;
use crate::clock::SharedClock;
use crate::http::error::{ApiError, ErrorName, json_response};
use crate::identity::{BackstageIdentityResponse, Profile};
use crate::providers::oauth_settings::{Endpoints, OAuthEnvSettings};
use crate::resolvers::SignInInfo;
use crate::tokens::TokenIssuer;

const NO_EMAIL: &str = "Login failed, user profile does not contain an email";

/// What the routes need from the rest of the service.
pub struct FlowContext<'a> {
    pub origins: Origins<'a>,
    pub clock: &'a SharedClock,
    pub issuer: &'a TokenIssuer,
    pub catalog: &'a CatalogClient,
    pub sealer: &'a Sealer,
}

/// The query string, last value winning as in Express.
pub struct Query(BTreeMap<String, String>);

impl Query {
    pub fn parse(query: Option<&str>) -> Self {
        Self(
            url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

pub struct OAuthEnv {
    pub settings: OAuthEnvSettings,
    pub idp: IdpClient,
    pub cookies: CookiePolicy,
}

pub struct OAuthProvider {
    pub id: String,
    pub environments: BTreeMap<String, Arc<OAuthEnv>>,
}

impl OAuthProvider {
    pub fn new(id: &str, environments: Vec<OAuthEnvSettings>, http: &reqwest::Client) -> Self {
        let environments = environments
            .into_iter()
            .map(|settings| {
                let idp = match &settings.endpoints {
                    Endpoints::Discovery { metadata_url } => {
                        IdpClient::discovered(http.clone(), settings.timeout, metadata_url.clone())
                    }
                    Endpoints::Fixed(metadata) => {
                        IdpClient::fixed(http.clone(), settings.timeout, metadata.clone())
                    }
                };
                let cookies = CookiePolicy::new(&settings.callback_url, id);
                (
                    settings.environment.clone(),
                    Arc::new(OAuthEnv {
                        settings,
                        idp,
                        cookies,
                    }),
                )
            })
            .collect();
        Self {
            id: id.to_owned(),
            environments,
        }
    }

    fn environment(&self, env: Option<&str>) -> Result<&Arc<OAuthEnv>, ApiError> {
        let env =
            env.ok_or_else(|| ApiError::input("Must specify 'env' query to select environment"))?;
        self.environments.get(env).ok_or_else(|| {
            ApiError::not_found(format!(
                "No configuration available for the '{env}' environment of this provider."
            ))
        })
    }

    /// `GET /start`: checks, then 302 to the IdP.
    pub async fn start(
        &self,
        ctx: &FlowContext<'_>,
        query: &Query,
        headers: &HeaderMap,
    ) -> Result<Response, ApiError> {
        let env = self.environment(query.get("env"))?;
        let settings = &env.settings;
        let origin = query
            .get("origin")
            .map(|origin| ctx.origins.check(origin))
            .transpose()?;
        if let Some(redirect_url) = query.get("redirectUrl") {
            ctx.origins.check_redirect(redirect_url)?;
        }
        let metadata = env.idp.metadata().await.map_err(|error| {
            ApiError::new(
                ErrorName::Error,
                format!("Cannot start sign-in: {}", error.message),
            )
        })?;
        let (metadata, _) = metadata.as_ref();

        let nonce = random_base64(16)?;
        let request_cookies = RequestCookies::from_headers(headers);
        let requested = scopes::split(query.get("scope").unwrap_or_default());
        let granted = if settings.persist_scopes {
            request_cookies
                .get(&format!("{}-granted-scope", self.id))
                .map(scopes::split)
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let scope = scopes::combine(&[
            &requested,
            &granted,
            &settings.required_scopes,
            &settings.additional_scopes,
        ]);
        let state = OAuthState {
            nonce: nonce.clone(),
            env: settings.environment.clone(),
            origin: origin.clone(),
            redirect_url: query.get("redirectUrl").map(str::to_owned),
            flow: query.get("flow").map(str::to_owned),
            scope: settings.persist_scopes.then(|| scope.clone()),
        };

        let verifier = URL_SAFE_NO_PAD.encode(random_bytes(32)?);
        let oidc_nonce = random_base64(16)?;
        let methods = metadata.code_challenge_methods_supported.as_deref();
        let (challenge, method) = match methods {
            Some(methods)
                if !methods.iter().any(|m| m == "S256") && methods.iter().any(|m| m == "plain") =>
            {
                (verifier.clone(), "plain")
            }
            _ => (
                URL_SAFE_NO_PAD.encode(ring::digest::digest(
                    &ring::digest::SHA256,
                    verifier.as_bytes(),
                )),
                "S256",
            ),
        };
        let secrets = FlowSecrets {
            verifier: Some(verifier),
            nonce: Some(oidc_nonce.clone()),
            sealed_at: ctx.clock.now_seconds(),
        };
        let sealed = ctx
            .sealer
            .seal(&secrets, &binding(&self.id, &settings.environment, &nonce))
            .ok_or_else(|| ApiError::internal("sealing the sign-in secrets failed", &"seal"))?;

        let mut params: Vec<(&str, &str)> = vec![
            ("client_id", &settings.client_id),
            ("scope", &scope),
            ("response_type", "code"),
            ("redirect_uri", settings.callback_url.as_str()),
        ];
        let encoded_state = state.encode();
        params.push(("state", &encoded_state));
        params.push(("nonce", &oidc_nonce));
        if let Some(prompt) = &settings.prompt {
            params.push(("prompt", prompt));
        }
        params.push(("code_challenge", &challenge));
        params.push(("code_challenge_method", method));
        for (key, value) in &settings.start_params {
            params.push((key, value));
        }
        let location = with_query(&metadata.authorization_endpoint, &params);

        let app_origin = origin.as_deref().unwrap_or(ctx.origins.app_origin);
        let mut writer = CookieWriter::new(&env.cookies, app_origin, ctx.clock.now_millis());
        writer.set_nonce(&self.id, &nonce);
        writer.set_flow_secrets(&format!("{}-flow", self.id), &sealed);
        let mut response = StatusCode::FOUND.into_response();
        for cookie in writer.headers {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        let headers = response.headers_mut();
        headers.insert(header::LOCATION, header_value(&location)?);
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        Ok(response)
    }

    /// `GET|POST /handler/frame`: the IdP's redirect back.
    pub async fn frame(
        &self,
        ctx: &FlowContext<'_>,
        query: &Query,
        headers: &HeaderMap,
    ) -> Result<Response, ApiError> {
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
            state.ok_or_else(|| ApiError::not_allowed("OAuth state is invalid, missing env"))?;

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
        let result = match origin_error {
            Some(error) => Err(error),
            None => {
                self.complete_sign_in(ctx, &env, &state, query, headers, &target)
                    .await
            }
        };
        let redirect = state.flow.as_deref() == Some("redirect");
        match result {
            Ok((payload, cookies)) => {
                let mut response = if redirect {
                    let redirect_url = state.redirect_url.as_deref().ok_or_else(|| {
                        ApiError::input("No redirectUrl provided in request query parameters")
                    });
                    match redirect_url {
                        Ok(url) => redirect_response(url)?,
                        Err(error) => return Ok(deliver_error(&state, &target, error)),
                    }
                } else {
                    frame::page(
                        &json!({"type": "authorization_response", "response": payload}),
                        &target,
                    )
                };
                for cookie in cookies {
                    response.headers_mut().append(header::SET_COOKIE, cookie);
                }
                Ok(response)
            }
            Err(error) => Ok(deliver_error(&state, &target, error)),
        }
    }

    async fn complete_sign_in(
        &self,
        ctx: &FlowContext<'_>,
        env: &OAuthEnv,
        state: &OAuthState,
        query: &Query,
        headers: &HeaderMap,
        target: &str,
    ) -> Result<(Value, Vec<HeaderValue>), ApiError> {
        let settings = &env.settings;
        let cookies = RequestCookies::from_headers(headers);
        let cookie_nonce = cookies
            .get(&format!("{}-nonce", self.id))
            .ok_or_else(|| ApiError::not_allowed("Auth response is missing cookie nonce"))?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            cookie_nonce.as_bytes(),
            state.nonce.as_bytes(),
        )) {
            return Err(ApiError::not_allowed("Invalid nonce"));
        }
        if let (Some("redirect"), Some(url)) =
            (state.flow.as_deref(), state.redirect_url.as_deref())
        {
            ctx.origins.check_redirect(url)?;
        }
        if let Some(error) = query.get("error") {
            let description = query.get("error_description").unwrap_or(error);
            let verb = if error == "access_denied" {
                "rejected"
            } else {
                "failed"
            };
            return Err(ApiError::new(
                ErrorName::Error,
                format!("Authentication {verb}, {description}"),
            ));
        }
        let metadata = env.idp.metadata().await.map_err(failed)?;
        let (metadata, jwks) = metadata.as_ref();
        let issuer = metadata.issuer.as_deref().unwrap_or_default();
        // RFC 9207: an `iss` on the response must be the IdP this sign-in started with.
        if let Some(iss) = query.get("iss")
            && iss != issuer
        {
            return Err(ApiError::new(
                ErrorName::Error,
                format!(
                    "Authentication failed, the authorization response came from issuer '{iss}', expected '{issuer}'"
                ),
            ));
        }
        let sealed = cookies
            .get(&format!("{}-flow", self.id))
            .unwrap_or_default();
        let secrets = ctx.sealer.open(
            sealed,
            &binding(&self.id, &settings.environment, &state.nonce),
        );
        let secrets = secrets
            .filter(|secrets| ctx.clock.now_seconds() - secrets.sealed_at <= super::cookies::NONCE_MAX_AGE_SECS)
            .ok_or_else(|| ApiError::new(ErrorName::Error, "Authentication failed, the sign-in expired or was started in another browser; please sign in again"))?;
        let code = query.get("code").ok_or_else(|| {
            ApiError::new(
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
        let tokens = env
            .idp
            .token(
                &metadata.token_endpoint,
                settings.client_auth,
                &settings.client_id,
                &settings.client_secret,
                &form,
            )
            .await
            .map_err(failed)?;
        let id_claims = match &tokens.id_token {
            Some(id_token) => {
                let expected = Expectations {
                    issuer,
                    client_id: &settings.client_id,
                    nonce: secrets.nonce.as_deref(),
                    algorithms: &settings.algorithms,
                    now_secs: ctx.clock.now_seconds(),
                };
                jwks.verify(id_token, &expected).await.map_err(|reason| {
                    ApiError::new(ErrorName::Error, format!("Authentication failed, {reason}"))
                })?
            }
            None => {
                return Err(ApiError::new(
                    ErrorName::Error,
                    "Authentication failed, the IdP returned no ID token",
                ));
            }
        };
        let scope = match (&state.scope, settings.persist_scopes) {
            (Some(scope), true) => scope.clone(),
            (None, true) => return Err(ApiError::authentication("No scope found in OAuth state")),
            (_, false) => tokens
                .scope
                .as_deref()
                .map(|s| scopes::split(s).join(" "))
                .unwrap_or_default(),
        };
        let payload = self
            .session_payload(ctx, env, &tokens, &id_claims, &scope)
            .await?;

        let mut writer = CookieWriter::new(&env.cookies, target, ctx.clock.now_millis());
        if settings.persist_scopes {
            writer.set_session_cookie(
                &cookies,
                &format!("{}-granted-scope", self.id),
                &scope,
                settings.session_secs,
            );
        }
        if let Some(refresh_token) = &tokens.refresh_token {
            writer.set_session_cookie(
                &cookies,
                &format!("{}-refresh-token", self.id),
                refresh_token,
                settings.session_secs,
            );
        }
        Ok((payload, writer.headers))
    }

    /// `{profile, providerInfo, backstageIdentity?}`, after userinfo and the resolvers.
    async fn session_payload(
        &self,
        ctx: &FlowContext<'_>,
        env: &OAuthEnv,
        tokens: &TokenResponse,
        id_claims: &Map<String, Value>,
        scope: &str,
    ) -> Result<Value, ApiError> {
        let access_token = tokens
            .access_token
            .as_deref()
            .ok_or_else(|| ApiError::new(ErrorName::Error, "Failed to obtain access token"))?;
        let metadata = env.idp.metadata().await.map_err(failed)?;
        let userinfo_endpoint = metadata.0.userinfo_endpoint.as_deref().ok_or_else(|| {
            ApiError::new(
                ErrorName::Error,
                "OIDC IdP must provide a userinfo_endpoint in the metadata response",
            )
        })?;
        let userinfo = env
            .idp
            .userinfo(userinfo_endpoint, access_token, false)
            .await
            .map_err(failed)?;
        let text = |name: &str| {
            userinfo
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let profile = Profile {
            email: text("email")
                .filter(|_| userinfo.get("email_verified") == Some(&Value::Bool(true))),
            picture: text("picture"),
            display_name: text("name"),
        };
        let mut claims = id_claims.clone();
        claims.extend(userinfo.clone());
        let mut response = json!({"profile": profile});
        let mut provider_info = Map::new();
        if let Some(id_token) = &tokens.id_token {
            provider_info.insert("idToken".into(), Value::String(id_token.clone()));
        }
        provider_info.insert("accessToken".into(), Value::String(access_token.to_owned()));
        provider_info.insert("scope".into(), Value::String(scope.to_owned()));
        if let Some(expires_in) = tokens
            .expires_in
            .as_ref()
            .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
        {
            provider_info.insert("expiresInSeconds".into(), Value::from(expires_in));
        }
        response["providerInfo"] = Value::Object(provider_info);
        if env.settings.sign_in.is_configured() {
            let info = SignInInfo {
                username: text("preferred_username"),
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
            let identity = BackstageIdentityResponse::new(issued, ctx.clock.now_millis());
            response["backstageIdentity"] = serde_json::to_value(identity).unwrap_or(Value::Null);
        }
        Ok(response)
    }

    /// `GET|POST /refresh`: a new session from the refresh cookie.
    pub async fn refresh(
        &self,
        ctx: &FlowContext<'_>,
        query: &Query,
        headers: &HeaderMap,
    ) -> Result<Response, ApiError> {
        let env = self.environment(query.get("env"))?.clone();
        require_xrw(headers)?;
        let origin = headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(ctx.origins.app_origin)
            .to_owned();
        let result = self
            .refresh_session(ctx, &env, query, headers, &origin)
            .await;
        let (payload, cookies) = result.map_err(|cause| {
            ApiError::caused_by(ErrorName::AuthenticationError, "Refresh failed", cause)
        })?;
        let mut response = json_response(StatusCode::OK, &payload);
        for cookie in cookies {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        Ok(response)
    }

    async fn refresh_session(
        &self,
        ctx: &FlowContext<'_>,
        env: &OAuthEnv,
        query: &Query,
        headers: &HeaderMap,
        origin: &str,
    ) -> Result<(Value, Vec<HeaderValue>), ApiError> {
        let settings = &env.settings;
        let cookies = RequestCookies::from_headers(headers);
        let refresh_token = cookies
            .get_chunked(&format!("{}-refresh-token", self.id))
            .ok_or_else(|| ApiError::input("Missing session cookie"))?;
        let requested = scopes::split(query.get("scope").unwrap_or_default());
        let granted = if settings.persist_scopes {
            cookies
                .get(&format!("{}-granted-scope", self.id))
                .map(scopes::split)
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let scope = scopes::combine(&[
            &requested,
            &granted,
            &settings.required_scopes,
            &settings.additional_scopes,
        ]);

        let metadata = env.idp.metadata().await.map_err(op_error)?;
        let (metadata, jwks) = metadata.as_ref();
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.as_str()),
        ];
        let tokens = env
            .idp
            .token(
                &metadata.token_endpoint,
                settings.client_auth,
                &settings.client_id,
                &settings.client_secret,
                &form,
            )
            .await
            .map_err(op_error)?;
        let id_claims = match &tokens.id_token {
            Some(id_token) => {
                let expected = Expectations {
                    issuer: metadata.issuer.as_deref().unwrap_or_default(),
                    client_id: &settings.client_id,
                    nonce: None,
                    algorithms: &settings.algorithms,
                    now_secs: ctx.clock.now_seconds(),
                };
                jwks.verify(id_token, &expected)
                    .await
                    .map_err(|reason| ApiError::new(ErrorName::Error, reason))?
            }
            None => Map::new(),
        };
        let reported_scope = if settings.persist_scopes {
            scope.clone()
        } else {
            tokens
                .scope
                .as_deref()
                .map(|s| scopes::split(s).join(" "))
                .unwrap_or_default()
        };
        let payload = self
            .session_payload(ctx, env, &tokens, &id_claims, &reported_scope)
            .await?;

        let mut writer = CookieWriter::new(&env.cookies, origin, ctx.clock.now_millis());
        if settings.persist_scopes {
            writer.set_session_cookie(
                &cookies,
                &format!("{}-granted-scope", self.id),
                &scope,
                settings.session_secs,
            );
        }
        if let Some(rotated) = tokens
            .refresh_token
            .as_deref()
            .filter(|rotated| *rotated != refresh_token)
        {
            writer.set_session_cookie(
                &cookies,
                &format!("{}-refresh-token", self.id),
                rotated,
                settings.session_secs,
            );
        }
        Ok((payload, writer.headers))
    }

    /// `POST /logout`: revokes the refresh token where the IdP allows it, clears the cookies.
    pub async fn logout(
        &self,
        ctx: &FlowContext<'_>,
        query: &Query,
        headers: &HeaderMap,
    ) -> Result<Response, ApiError> {
        let env = self.environment(query.get("env"))?.clone();
        require_xrw(headers)?;
        if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
            && !ctx.origins.is_allowed(origin)
        {
            return Err(ApiError::not_allowed(format!(
                "Origin '{origin}' is not allowed"
            )));
        }
        let settings = &env.settings;
        let cookies = RequestCookies::from_headers(headers);
        let refresh_name = format!("{}-refresh-token", self.id);
        if let Some(refresh_token) = cookies.get_chunked(&refresh_name) {
            let metadata = env.idp.metadata().await.map_err(failed)?;
            if let Some(endpoint) = &metadata.0.revocation_endpoint {
                env.idp
                    .revoke(
                        endpoint,
                        settings.client_auth,
                        &settings.client_id,
                        &settings.client_secret,
                        &refresh_token,
                    )
                    .await
                    .map_err(failed)?;
            }
        }
        let origin = headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(ctx.origins.app_origin);
        let mut writer = CookieWriter::new(&env.cookies, origin, ctx.clock.now_millis());
        writer.remove_if_present(&cookies, &refresh_name);
        if settings.persist_scopes {
            writer.remove_if_present(&cookies, &format!("{}-granted-scope", self.id));
        }
        let mut response = StatusCode::OK.into_response();
        for cookie in writer.headers {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        Ok(response)
    }
}

/// Binds the sealed secrets to one sign-in.
fn binding(provider: &str, environment: &str, nonce: &str) -> String {
    format!("{provider}|{environment}|{nonce}")
}

fn require_xrw(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers
        .get("x-requested-with")
        .and_then(|v| v.to_str().ok())
    {
        Some("XMLHttpRequest") => Ok(()),
        _ => Err(ApiError::authentication("Invalid X-Requested-With header")),
    }
}

/// A failure during the callback, in Node's words.
fn failed(error: IdpError) -> ApiError {
    ApiError::new(
        ErrorName::Error,
        format!("Authentication failed, {}", error.message),
    )
}

/// A failure during refresh: the cause is an `OPError` carrying the IdP's error.
fn op_error(error: IdpError) -> ApiError {
    let mut cause = ApiError::new(
        if error.error.is_some() {
            ErrorName::OPError
        } else {
            ErrorName::Error
        },
        error.message,
    );
    if let Some(code) = error.error {
        cause.fields.push(("error", code));
    }
    if let Some(description) = error.description {
        cause.fields.push(("error_description", description));
    }
    cause
}

/// Node's message, plus what the operator can do about it.
fn with_email_hint(mut error: ApiError, settings: &OAuthEnvSettings) -> ApiError {
    if error.message == NO_EMAIL {
        error.message = format!(
            "{NO_EMAIL}. The IdP released no verified email: request the 'email' scope (auth.providers.{}.{}.additionalScopes) and make sure the account's email is verified.",
            settings.provider, settings.environment
        )
        .into();
    }
    error
}

fn deliver_error(state: &OAuthState, target: &str, error: ApiError) -> Response {
    if let (Some("redirect"), Some(redirect_url)) =
        (state.flow.as_deref(), state.redirect_url.as_deref())
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

fn redirect_response(url: &str) -> Result<Response, ApiError> {
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

fn header_value(text: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(text).map_err(|_| ApiError::input("the URL cannot be sent as a header"))
}

/// `url` with `params` appended (its own query kept), `encodeURIComponent`-encoded.
fn with_query(url: &str, params: &[(&str, &str)]) -> String {
    let encoded: Vec<String> = params
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, URI_COMPONENT),
                utf8_percent_encode(v, URI_COMPONENT)
            )
        })
        .collect();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{}", encoded.join("&"))
}

fn random_bytes(count: usize) -> Result<Vec<u8>, ApiError> {
    let mut bytes = vec![0u8; count];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ApiError::internal("no randomness", &"rng"))?;
    Ok(bytes)
}

/// `count` random bytes, standard base64 (as Node's nonces).
fn random_base64(count: usize) -> Result<String, ApiError> {
    Ok(STANDARD.encode(random_bytes(count)?))
}
