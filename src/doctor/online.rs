//! Checks that ask other services: each IdP (discovery, issuer, clock, redirect URI, client
//! credentials); the catalog and the database are in `services.rs`.

use std::time::Duration;

use super::{Finding, Severity};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::oauth::idp::IdpClient;
use crate::providers::oauth::{Endpoints, OAuthEnvSettings};

const TIMEOUT: Duration = Duration::from_secs(5);
/// Clock skew beyond this breaks token validation (`iat`, `exp`, `nbf` checks).
const MAX_SKEW_SECS: i64 = 60;

pub(super) async fn checks(settings: &Settings) -> Vec<Finding> {
    let http = match crate::outbound::client() {
        Ok(http) => http,
        Err(error) => {
            return vec![Finding::new(
                Severity::Error,
                "doctor",
                format!("cannot set up an HTTP client: {error}"),
            )];
        }
    };
    let mut findings = Vec::new();
    for env in &settings.providers.oauth {
        findings.extend(idp(&http, env).await);
    }
    let store = super::services::database(settings, &mut findings).await;
    findings.extend(super::services::catalog(settings, store, &http).await);
    findings
}

async fn idp(http: &reqwest::Client, env: &OAuthEnvSettings) -> Vec<Finding> {
    let check = format!("provider {}.{}", env.provider, env.environment);
    let mut findings = Vec::new();
    let metadata = match &env.endpoints {
        Endpoints::Fixed(metadata) => metadata.clone(),
        Endpoints::Discovery { metadata_url } => {
            findings.extend(super::tls::certificate(metadata_url, &check).await);
            match discovery(http, metadata_url, &check, &mut findings).await {
                Some(metadata) => metadata,
                None => return findings,
            }
        }
    };
    findings.push(authorize_probe(http, env, &metadata.authorization_endpoint, &check).await);
    findings.push(client_probe(http, env, &metadata.token_endpoint, &check).await);
    findings
}

async fn discovery(
    http: &reqwest::Client,
    url: &str,
    check: &str,
    findings: &mut Vec<Finding>,
) -> Option<crate::oauth::idp::Metadata> {
    let response = match http.get(url).timeout(TIMEOUT).send().await {
        Ok(response) => response,
        Err(error) => {
            findings.push(
                Finding::new(
                    Severity::Error,
                    check,
                    format!("the discovery document {url} cannot be fetched: {}", describe(&error)),
                )
                .fix("check metadataUrl (or audience/domain) and that stagedoor can reach the IdP (DNS, proxy, firewall, certificates)"),
            );
            return None;
        }
    };
    if let Some(date) = response.headers().get(reqwest::header::DATE)
        && let Some(skew) = skew_secs(date.to_str().unwrap_or_default(), SystemClock.now_seconds())
        && skew.abs() > MAX_SKEW_SECS
    {
        findings.push(
            Finding::new(
                Severity::Warning,
                check,
                format!("this machine's clock is {skew} s off the IdP's; tokens may be refused as not yet valid or expired"),
            )
            .fix("synchronise the clock (NTP) on stagedoor's hosts"),
        );
    }
    if !response.status().is_success() {
        findings.push(
            Finding::new(
                Severity::Error,
                check,
                format!(
                    "the discovery document {url} answered {}",
                    response.status()
                ),
            )
            .fix("check metadataUrl; it ends in /.well-known/openid-configuration"),
        );
        return None;
    }
    let metadata: crate::oauth::idp::Metadata = match response.json().await {
        Ok(metadata) => metadata,
        Err(error) => {
            findings.push(Finding::new(
                Severity::Error,
                check,
                format!("the discovery document {url} is not valid: {error}"),
            ));
            return None;
        }
    };
    let expected = url.trim_end_matches("/.well-known/openid-configuration");
    match metadata.issuer.as_deref() {
        Some(issuer) if issuer.trim_end_matches('/') != expected.trim_end_matches('/') => {
            findings.push(
                Finding::new(
                    Severity::Error,
                    check,
                    format!("the IdP says its issuer is {issuer}, but it was discovered at {expected}; ID tokens will fail validation"),
                )
                .fix("use the issuer's own discovery URL (for Okta: the right authServerId)"),
            );
        }
        _ => findings.push(Finding::new(
            Severity::Ok,
            check,
            format!("discovery document reachable, issuer {expected}"),
        )),
    }
    Some(metadata)
}

/// The IdP's own answer to an authorization request with stagedoor's client id and
/// redirect URI: a login page or redirect means it accepts them.
async fn authorize_probe(
    http: &reqwest::Client,
    env: &OAuthEnvSettings,
    endpoint: &str,
    check: &str,
) -> Finding {
    let callback = env.callback_url.as_str();
    let query = [
        ("client_id", env.client_id.as_str()),
        ("redirect_uri", callback),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "stagedoor-doctor"),
        ("nonce", "stagedoor-doctor"),
        (
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        ),
        ("code_challenge_method", "S256"),
    ];
    let mut url = match url::Url::parse(endpoint) {
        Ok(url) => url,
        Err(error) => {
            return Finding::new(
                Severity::Error,
                check,
                format!("the authorization endpoint {endpoint} is not a URL: {error}"),
            );
        }
    };
    url.query_pairs_mut().extend_pairs(query);
    let response = http.get(url).timeout(TIMEOUT).send().await;
    match response {
        Ok(response) if response.status().is_success() || response.status().is_redirection() => {
            Finding::new(
                Severity::Ok,
                check,
                format!(
                    "the IdP accepts client '{}' with redirect_uri {callback}",
                    env.client_id
                ),
            )
        }
        Ok(response) => {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            Finding::new(
                Severity::Error,
                check,
                format!(
                    "the IdP refuses an authorization request from client '{}' with redirect_uri {callback} ({status}: {})",
                    env.client_id,
                    excerpt(&body)
                ),
            )
            .fix(format!("register {callback} as a redirect URI of client '{}' at the IdP (it is built from backend.baseUrl or stagedoor.baseUrl)", env.client_id))
        }
        Err(error) => Finding::new(
            Severity::Error,
            check,
            format!(
                "the authorization endpoint {endpoint} cannot be reached: {}",
                describe(&error)
            ),
        ),
    }
}

/// Trades a made-up code: `invalid_grant` means the client credentials were accepted,
/// `invalid_client` that the secret (or client id) is wrong.
async fn client_probe(
    http: &reqwest::Client,
    env: &OAuthEnvSettings,
    endpoint: &str,
    check: &str,
) -> Finding {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", "stagedoor-doctor-probe"),
        ("redirect_uri", env.callback_url.as_str()),
        (
            "code_verifier",
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        ),
    ];
    let idp = IdpClient::discovered(
        http.clone(),
        TIMEOUT,
        std::sync::Arc::new(SystemClock),
        String::new(),
    );
    let result = idp
        .token(
            endpoint,
            env.client_auth,
            &env.client_id,
            &env.client_secret,
            &form,
        )
        .await;
    match result {
        Err(error) if error.error.is_none() => Finding::new(
            Severity::Error,
            check,
            format!(
                "the token endpoint {endpoint} cannot be used: {}",
                error.message
            ),
        ),
        Err(error)
            if matches!(
                error.error.as_deref(),
                Some("invalid_client" | "unauthorized_client")
            ) =>
        {
            Finding::new(
                Severity::Error,
                check,
                format!(
                    "the IdP rejects the client credentials of '{}': {}",
                    env.client_id,
                    error.description.as_deref().unwrap_or("invalid_client")
                ),
            )
            .fix(format!(
                "check auth.providers.{}.{}.clientId and clientSecret (rotated at the IdP?)",
                env.provider, env.environment
            ))
        }
        _ => Finding::new(
            Severity::Ok,
            check,
            format!(
                "the IdP accepts the credentials of client '{}'",
                env.client_id
            ),
        ),
    }
}

/// The other side's clock minus ours, from an HTTP `Date` header.
fn skew_secs(date: &str, now_secs: i64) -> Option<i64> {
    let format = time::format_description::well_known::Rfc2822;
    let parsed = time::OffsetDateTime::parse(&date.replace("GMT", "+0000"), &format).ok()?;
    Some(parsed.unix_timestamp() - now_secs)
}

fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn excerpt(body: &str) -> String {
    let text: String = body
        .split(['<', '>'])
        .step_by(2)
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_comes_from_the_date_header() {
        // Sun, 06 Nov 1994 08:49:37 GMT = 784111777
        assert_eq!(
            skew_secs("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777),
            Some(0)
        );
        assert_eq!(
            skew_secs("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_477),
            Some(300)
        );
        assert_eq!(skew_secs("not a date", 0), None);
    }

    #[test]
    fn html_error_pages_are_shortened_to_their_text() {
        assert_eq!(
            excerpt("<html><body><h1>oops!</h1><p>redirect_uri did not match</p></body></html>"),
            "oops! redirect_uri did not match"
        );
    }
}
