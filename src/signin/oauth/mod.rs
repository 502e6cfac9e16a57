//! The OAuth routes of one provider (§3.1–3.4): `/start`, `/handler/frame`, `/refresh`,
//! `/logout`, for the popup and redirect flows. One file per step.

mod audience;
mod callback;
pub mod cookies;
pub mod frame;
mod logout;
pub mod origin;
mod payload;
mod refresh;
mod start;
pub mod state;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue};
use percent_encoding::utf8_percent_encode;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Map, Value};

use crate::audit::{Audit, AuditEvent, Outcome};
use crate::catalog::CatalogClient;
use crate::clock::SharedClock;
use crate::error::{Error, ErrorName};
use crate::http::Query;
use crate::identity::SignInResult;
use crate::metrics::Metrics;
use crate::net::ClientInfo;
use crate::oauth::id_token::Expectations;
use crate::oauth::idp::{IdpClient, IdpError, TokenResponse};
use crate::oauth::scopes;
use crate::oauth::sealed::Sealer;
use crate::providers::oauth::{Endpoints, OAuthEnvSettings, ScopeRule};
use crate::sessions::SessionManager;
use crate::tokens::TokenIssuer;
use cookies::{CookiePolicy, CookieWriter, RequestCookies};
use origin::Origins;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};

/// `encodeURIComponent`'s set, plus `'` (Node escapes it in the frame page too).
pub(crate) const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'(')
    .remove(b')');

/// What the routes need from the rest of the service.
pub struct FlowContext<'a> {
    pub origins: Origins<'a>,
    pub clock: &'a SharedClock,
    pub issuer: &'a TokenIssuer,
    pub catalog: &'a CatalogClient,
    pub sealer: &'a Sealer,
    /// Server-side sessions, when `stagedoor.sessions` is on.
    pub sessions: Option<&'a SessionManager>,
    /// The browser, for session records and audit events.
    pub client: ClientInfo,
    pub audit: &'a Audit,
    pub metrics: &'a Metrics,
    pub request_id: Option<&'a str>,
}

impl FlowContext<'_> {
    /// The refresh cookie's value after a sign-in: a new session's handle when sessions are
    /// on, else the IdP's refresh token itself (as Node does).
    pub(super) async fn refresh_cookie_value(
        &self,
        provider: &str,
        env: &OAuthEnv,
        payload: &SignInResult,
        refresh_token: &str,
    ) -> Result<String, Error> {
        let Some(sessions) = self.sessions else {
            return Ok(refresh_token.to_owned());
        };
        Ok(sessions
            .create(
                provider,
                payload.user_entity_ref(),
                refresh_token,
                env.settings.session_secs,
                &self.client,
            )
            .await?)
    }

    /// Records a sign-in or refresh for `provider` in the audit trail and the metrics:
    /// success with the signed-in user, or failure with the error's message (Backstage's
    /// messages carry no secrets).
    pub(super) fn observe(
        &self,
        event: &'static str,
        provider: &str,
        result: Result<&SignInResult, &Error>,
    ) {
        let base = AuditEvent::new(event)
            .provider(provider)
            .client(&self.client)
            .request_id(self.request_id);
        let event = match result {
            Ok(payload) => base.success().user(payload.user_entity_ref()),
            Err(error) => base.failure(error.message.to_string()),
        };
        let outcome = event.outcome.unwrap_or(Outcome::Failure);
        match event.event {
            "sign_in" => self.metrics.sign_in(provider, outcome),
            _ => self.metrics.refresh(provider, outcome),
        }
        self.audit.record(event);
    }
}

pub struct OAuthEnv {
    pub settings: OAuthEnvSettings,
    pub idp: IdpClient,
    pub cookies: CookiePolicy,
}

impl OAuthEnv {
    /// §7: requested, then granted (persisting providers), then required, then additional
    /// (or the provider's rule).
    pub(super) fn scope(&self, provider: &str, query: &Query, cookies: &RequestCookies) -> String {
        let settings = &self.settings;
        let requested = scopes::split(query.get("scope").unwrap_or_default());
        let granted = match settings.persist_scopes {
            true => cookies
                .get(&format!("{provider}-granted-scope"))
                .map(scopes::split)
                .unwrap_or_default(),
            false => Vec::new(),
        };
        let lists: [&[String]; 4] = [
            &requested,
            &granted,
            &settings.required_scopes,
            &settings.additional_scopes,
        ];
        match settings.behaviour.scope_rule {
            ScopeRule::Standard => scopes::combine(&lists),
            ScopeRule::ResourceAlone { with } => {
                if requested.iter().any(|scope| scope.contains('/')) {
                    let with: Vec<String> = with.iter().map(|s| (*s).to_owned()).collect();
                    scopes::combine_ignoring_case(&[&requested, &with])
                } else {
                    scopes::combine_ignoring_case(&lists)
                }
            }
        }
    }

    /// A token request, then the ID token's validation (`nonce` for a sign-in, none for a
    /// refresh). IdP errors go through `on_idp_error`; validation errors are prefixed.
    pub(super) async fn grant(
        &self,
        form: &[(&str, &str)],
        nonce: Option<&str>,
        now_secs: i64,
        on_idp_error: impl Fn(IdpError) -> Error,
        validation_prefix: &str,
    ) -> Result<(TokenResponse, Map<String, Value>), Error> {
        let settings = &self.settings;
        let metadata = self.idp.metadata().await.map_err(&on_idp_error)?;
        let (metadata, jwks) = metadata.as_ref();
        let tokens = self
            .idp
            .token(
                &metadata.token_endpoint,
                settings.client_auth,
                &settings.client_id,
                &settings.client_secret,
                form,
            )
            .await
            .map_err(on_idp_error)?;
        let Some(id_token) = &tokens.id_token else {
            return Ok((tokens, Map::new()));
        };
        if !settings.behaviour.verify_id_token {
            let claims = unverified_claims(id_token);
            return Ok((tokens, claims));
        }
        let expected = Expectations {
            issuer: metadata.issuer.as_deref().unwrap_or_default(),
            client_id: &settings.client_id,
            nonce,
            algorithms: &settings.algorithms,
            now_secs,
        };
        let claims = crate::oauth::id_token::verify(jwks, id_token, &expected)
            .await
            .map_err(|reason| {
                Error::new(ErrorName::Error, format!("{validation_prefix}{reason}"))
            })?;
        Ok((tokens, claims))
    }

    /// The granted-scope cookie (persisting providers) and, when given, the refresh token.
    pub(super) fn session_cookies(
        &self,
        provider: &str,
        request: &RequestCookies,
        app_origin: &str,
        now_millis: i64,
        scope: &str,
        refresh_token: Option<&str>,
    ) -> Vec<HeaderValue> {
        let settings = &self.settings;
        let mut writer = CookieWriter::new(&self.cookies, app_origin, now_millis);
        if settings.persist_scopes {
            writer.set_session_cookie(
                request,
                &format!("{provider}-granted-scope"),
                scope,
                settings.session_secs,
            );
        }
        if let Some(refresh_token) = refresh_token {
            writer.set_session_cookie(
                request,
                &format!("{provider}-refresh-token"),
                refresh_token,
                settings.session_secs,
            );
        }
        writer.headers
    }

    /// The scope sent to the IdP (OneLogin's is fixed).
    pub(super) fn sent_scope(&self, computed: String) -> String {
        self.settings
            .behaviour
            .fixed_scope
            .clone()
            .unwrap_or(computed)
    }

    /// The scope to report: the computed one for persisting providers, else the IdP's.
    pub(super) fn reported_scope(&self, computed: &str, tokens: &TokenResponse) -> String {
        if self.settings.persist_scopes {
            return computed.to_owned();
        }
        tokens
            .scope
            .as_deref()
            .map(|scope| scopes::split(scope).join(" "))
            .unwrap_or_default()
    }
}

pub struct OAuthProvider {
    pub id: String,
    pub environments: BTreeMap<String, Arc<OAuthEnv>>,
}

impl OAuthProvider {
    pub fn new(
        id: &str,
        environments: Vec<OAuthEnvSettings>,
        http: &reqwest::Client,
        metrics: &Arc<Metrics>,
        clock: &SharedClock,
    ) -> Self {
        let environments = environments
            .into_iter()
            .map(|settings| {
                let idp = match &settings.endpoints {
                    Endpoints::Discovery { metadata_url } => IdpClient::discovered(
                        http.clone(),
                        settings.timeout,
                        clock.clone(),
                        metadata_url.clone(),
                    ),
                    Endpoints::Fixed(metadata) => IdpClient::fixed(
                        http.clone(),
                        settings.timeout,
                        clock.clone(),
                        metadata.clone(),
                    ),
                }
                .with_metrics(metrics.clone());
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

    fn environment(&self, env: Option<&str>) -> Result<&Arc<OAuthEnv>, Error> {
        let env =
            env.ok_or_else(|| Error::input("Must specify 'env' query to select environment"))?;
        self.environments.get(env).ok_or_else(|| {
            Error::not_found(format!(
                "No configuration available for the '{env}' environment of this provider."
            ))
        })
    }
}

/// Binds the sealed secrets to one sign-in.
/// The claims of a JWT read without verification (§11.0, for the generic oauth2 provider).
fn unverified_claims(token: &str) -> Map<String, Value> {
    crate::jose::unverified_claims(token).unwrap_or_default()
}

/// Adds `cookies` as `Set-Cookie` headers.
pub(super) fn with_cookies(mut response: Response, cookies: Vec<HeaderValue>) -> Response {
    for cookie in cookies {
        response
            .headers_mut()
            .append(http::header::SET_COOKIE, cookie);
    }
    response
}

/// The `Origin` the browser sent, if any.
pub(super) fn request_origin(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(http::header::ORIGIN)
        .and_then(|value| value.to_str().ok())
}

pub(super) fn binding(provider: &str, environment: &str, nonce: &str) -> String {
    format!("{provider}|{environment}|{nonce}")
}

pub(super) fn require_xrw(headers: &HeaderMap) -> Result<(), Error> {
    match headers
        .get("x-requested-with")
        .and_then(|v| v.to_str().ok())
    {
        Some("XMLHttpRequest") => Ok(()),
        _ => Err(Error::authentication("Invalid X-Requested-With header")),
    }
}

/// A failure during the callback, in Node's words.
pub(super) fn failed(error: IdpError) -> Error {
    Error::new(
        ErrorName::Error,
        format!("Authentication failed, {}", error.message),
    )
}

pub(super) fn header_value(text: &str) -> Result<HeaderValue, Error> {
    HeaderValue::from_str(text).map_err(|_| Error::input("the URL cannot be sent as a header"))
}

/// `url` with `params` appended (its own query kept), `encodeURIComponent`-encoded.
pub(super) fn with_query(url: &str, params: &[(&str, &str)]) -> String {
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

pub(super) fn random_bytes(count: usize) -> Result<Vec<u8>, Error> {
    let mut bytes = vec![0u8; count];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::internal("no randomness", &"rng"))?;
    Ok(bytes)
}

/// `count` random bytes, standard base64 (as Node's nonces).
pub(super) fn random_base64(count: usize) -> Result<String, Error> {
    Ok(STANDARD.encode(random_bytes(count)?))
}
