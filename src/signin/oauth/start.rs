//! `GET /start`: checks the request, then sends the browser to the IdP.

use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::{
    FlowContext, OAuthEnv, OAuthProvider, binding, header_value, random_base64, random_bytes,
    with_cookies, with_query,
};
use crate::error::{Error, ErrorName};
use crate::http::Query;
use crate::oauth::sealed::FlowSecrets;
use crate::signin::oauth::cookies::{CookieWriter, RequestCookies};
use crate::signin::oauth::state::OAuthState;

impl OAuthProvider {
    /// `GET /start`: checks, then 302 to the IdP.
    pub async fn start(
        &self,
        ctx: &FlowContext<'_>,
        query: &Query,
        headers: &HeaderMap,
    ) -> Result<Response, Error> {
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
            Error::new(
                ErrorName::Error,
                format!("Cannot start sign-in: {}", error.message),
            )
        })?;
        let (metadata, _) = metadata.as_ref();

        let nonce = random_base64(16)?;
        let request_cookies = RequestCookies::from_headers(headers);
        let scope = env.sent_scope(env.scope(&self.id, query, &request_cookies));
        let behaviour = &settings.behaviour;
        check_organization(behaviour.organization.as_deref(), query)?;
        let state = OAuthState {
            nonce: nonce.clone(),
            env: settings.environment.clone(),
            origin: origin.clone(),
            redirect_url: query.get("redirectUrl").map(str::to_owned),
            flow: query.get("flow").map(str::to_owned),
            scope: settings.persist_scopes.then(|| scope.clone()),
            audience: behaviour
                .audience_exchange
                .and(query.get("audience"))
                .map(str::to_owned),
        };

        let pkce = Pkce::new(metadata.code_challenge_methods_supported.as_deref())?;
        let oidc_nonce = match settings.behaviour.openid_nonce {
            true => Some(random_base64(16)?),
            false => None,
        };
        let secrets = FlowSecrets {
            verifier: Some(pkce.verifier.clone()),
            nonce: oidc_nonce.clone(),
            sealed_at: ctx.clock.now_seconds(),
        };
        let sealed = ctx
            .sealer
            .seal(&secrets, &binding(&self.id, &settings.environment, &nonce))
            .ok_or_else(|| Error::internal("sealing the sign-in secrets failed", &"seal"))?;

        let location = authorize_url(
            env,
            &metadata.authorization_endpoint,
            query,
            &[("scope", &scope), ("state", &state.encode())],
            oidc_nonce.as_deref(),
            &pkce,
        );

        let app_origin = origin.as_deref().unwrap_or(ctx.origins.app_origin);
        let mut writer = CookieWriter::new(&env.cookies, app_origin, ctx.clock.now_millis());
        writer.set_nonce(&request_cookies, &self.id, &nonce);
        writer.set_flow_secrets(&format!("{}-flow", self.id), &sealed);
        let mut response = with_cookies(StatusCode::FOUND.into_response(), writer.headers);
        let headers = response.headers_mut();
        headers.insert(header::LOCATION, header_value(&location)?);
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        Ok(response)
    }
}

/// Auth0's configured organization: a different one asked for at `/start` is refused.
fn check_organization(configured: Option<&str>, query: &Query) -> Result<(), Error> {
    match (configured, query.get("organization")) {
        (Some(configured), Some(asked)) if configured != asked => Err(Error::input(
            "Organization mismatch. The organization provided in the request does not match the organization configured in the strategy.",
        )),
        _ => Ok(()),
    }
}

/// The IdP's authorize URL with every parameter, in the order Node's strategies send them:
/// the client, the `request` ones (scope, state), the OpenID nonce, prompt, PKCE, then what
/// `/start` forwards and the configured extras.
fn authorize_url(
    env: &OAuthEnv,
    endpoint: &str,
    query: &Query,
    request: &[(&str, &str); 2],
    nonce: Option<&str>,
    pkce: &Pkce,
) -> String {
    let settings = &env.settings;
    let mut params: Vec<(&str, &str)> = vec![
        ("client_id", &settings.client_id),
        request[0],
        ("response_type", "code"),
        ("redirect_uri", settings.callback_url.as_str()),
        request[1],
    ];
    if let Some(nonce) = nonce {
        params.push(("nonce", nonce));
    }
    if let Some(prompt) = &settings.prompt {
        params.push(("prompt", prompt));
    }
    params.push(("code_challenge", &pkce.challenge));
    params.push(("code_challenge_method", pkce.method));
    for name in settings.behaviour.forwarded_start_params {
        if let Some(value) = query.get(name) {
            params.push((name, value));
        }
    }
    for (key, value) in &settings.start_params {
        params.push((key, value));
    }
    with_query(endpoint, &params)
}

/// RFC 7636: the verifier (kept sealed in the flow cookie) and its challenge; S256 unless the
/// IdP offers only `plain`.
struct Pkce {
    verifier: String,
    challenge: String,
    method: &'static str,
}

impl Pkce {
    fn new(methods_supported: Option<&[String]>) -> Result<Self, Error> {
        let verifier = URL_SAFE_NO_PAD.encode(random_bytes(32)?);
        let plain_only = methods_supported.is_some_and(|methods| {
            !methods.iter().any(|m| m == "S256") && methods.iter().any(|m| m == "plain")
        });
        if plain_only {
            return Ok(Self {
                challenge: verifier.clone(),
                verifier,
                method: "plain",
            });
        }
        let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
        Ok(Self {
            challenge: URL_SAFE_NO_PAD.encode(digest),
            verifier,
            method: "S256",
        })
    }
}
