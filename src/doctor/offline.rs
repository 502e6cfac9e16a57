//! Checks that need nothing but the configuration.

use serde_json::Value;

use super::{Finding, Severity};
use crate::config::{Settings, Source};
use crate::providers::oauth::OAuthEnvSettings;
use crate::resolvers::Resolver;

pub(super) fn plain_text_secrets(sources: &[Source]) -> Vec<Finding> {
    crate::config::plain_text_secrets(sources)
        .into_iter()
        .map(|(path, file)| {
            let variable = path
                .rsplit('.')
                .find(|segment| segment.parse::<usize>().is_err())
                .map(|key| format!("STAGEDOOR_{}", key.to_ascii_uppercase()))
                .unwrap_or_default();
            Finding::new(
                Severity::Warning,
                path.clone(),
                format!("a secret is written in plain text in {file}"),
            )
            .fix(format!(
                "take it from the environment: {path}: ${{{variable}}} (or {{$file: /run/secrets/...}})"
            ))
        })
        .collect()
}

pub(super) fn checks(settings: &Settings, raw: &Value) -> Vec<Finding> {
    let mut findings = Vec::new();
    for env in &settings.providers.oauth {
        findings.extend(provider_checks(env, raw));
    }
    findings.extend(cors(settings));
    findings.extend(risky_settings(settings));
    findings.push(
        Finding::new(
            Severity::Info,
            "popup",
            "sign-in opens a popup that posts its result to the app window; a 'Cross-Origin-Opener-Policy: same-origin' header on the app's pages cuts that link, and 'X-Frame-Options: DENY' or 'Content-Security-Policy: frame-ancestors' added by a proxy to /api/auth/*/handler/frame breaks apps that run it in a frame",
        )
        .fix(format!(
            "serve {} with no COOP or 'same-origin-allow-popups', and do not add framing headers to /api/auth responses",
            settings.web.app_origin
        )),
    );
    findings
}

fn provider_checks(env: &OAuthEnvSettings, raw: &Value) -> Vec<Finding> {
    let check = format!("auth.providers.{}.{}", env.provider, env.environment);
    let mut findings = vec![Finding::new(
        Severity::Info,
        check.clone(),
        format!(
            "stagedoor sends redirect_uri={}; it must be registered exactly so at the IdP for client '{}'",
            env.callback_url, env.client_id
        ),
    )];
    let scopes: Vec<&str> = env
        .required_scopes
        .iter()
        .chain(&env.additional_scopes)
        .map(String::as_str)
        .chain(env.behaviour.fixed_scope.iter().flat_map(|s| s.split(' ')))
        .collect();
    let wants_email = env.sign_in.resolvers.iter().any(|resolver| {
        matches!(
            resolver,
            Resolver::EmailMatchingUserEntityProfileEmail { .. }
                | Resolver::EmailLocalPartMatchingUserEntityName { .. }
                | Resolver::EmailMatchingUserEntityAnnotation { .. }
        )
    });
    // Providers with their own user API (github, gitlab, ...) have no `email` scope to ask for.
    let openid_profile = env.behaviour.email_from_scope;
    // Google's email scope is spelled as a URL; where the provider knows better what an email
    // needs (Pinniped: a Supervisor mapping), it says so.
    let requests_email = scopes
        .iter()
        .any(|scope| *scope == "email" || scope.ends_with("/auth/userinfo.email"));
    let advice = env.behaviour.missing_email_advice;
    if let (true, false, Some(advice)) = (wants_email, requests_email, advice) {
        findings.push(Finding::new(
            Severity::Warning,
            format!("{check}.signIn"),
            format!("an email resolver is configured, but: {advice}"),
        ));
    } else if wants_email && !requests_email && openid_profile {
        findings.push(
            Finding::new(
                Severity::Warning,
                format!("{check}.signIn"),
                "an email resolver is configured but stagedoor does not request the 'email' scope; unless the frontend asks for it, profiles come without email and sign-in fails",
            )
            .fix(format!("add email to {check}.additionalScopes")),
        );
    }
    if matches!(env.provider.as_str(), "oidc" | "okta") && !scopes.contains(&"offline_access") {
        findings.push(
            Finding::new(
                Severity::Warning,
                format!("{check}.additionalScopes"),
                "'offline_access' is not requested: many IdPs then issue no refresh token, and users are signed out when the first access token expires",
            )
            .fix(format!("add offline_access to {check}.additionalScopes")),
        );
    }
    let config = &raw["auth"]["providers"][&env.provider][&env.environment];
    match env.provider.as_str() {
        "okta" => findings.extend(okta_shapes(&check, config)),
        "auth0" => findings.extend(auth0_shapes(&check, config)),
        _ => {}
    }
    findings.extend(resolvers_that_always_fail(env, &check, wants_email));
    findings
}

/// Resolvers Node offers for a provider whose profile never has what they need.
fn resolvers_that_always_fail(
    env: &OAuthEnvSettings,
    check: &str,
    wants_email: bool,
) -> Option<Finding> {
    let username = env
        .sign_in
        .resolvers
        .iter()
        .any(|resolver| matches!(resolver, Resolver::UsernameMatchingUserEntityName { .. }));
    let (message, fix) = match env.provider.as_str() {
        "bitbucket" if wants_email => (
            "Bitbucket Cloud profiles carry no email (as Node's module, stagedoor does not read the emails API): email resolvers always fail",
            "use userIdMatchingUserEntityAnnotation (annotation bitbucket.org/user-id) or usernameMatchingUserEntityAnnotation (bitbucket.org/username)",
        ),
        "atlassian" if username => (
            "Atlassian profiles have no user name (as in Node): usernameMatchingUserEntityName always fails, and no resolver after it is tried",
            "use emailMatchingUserEntityProfileEmail or emailLocalPartMatchingUserEntityName",
        ),
        _ => return None,
    };
    Some(Finding::new(Severity::Warning, format!("{check}.signIn"), message).fix(fix))
}

fn okta_shapes(check: &str, config: &Value) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Some(audience) = config["audience"].as_str()
        && url::Url::parse(audience).is_ok_and(|url| !url.path().trim_matches('/').is_empty())
    {
        findings.push(
            Finding::new(
                Severity::Error,
                format!("{check}.audience"),
                format!("\"{audience}\" has a path; Okta's audience is the org URL, and a path here makes every endpoint wrong (tokens then fail with invalid_token)"),
            )
            .fix("set audience to https://<org>.okta.com and the part after /oauth2/ in authServerId"),
        );
    }
    if let Some(id) = config["authServerId"].as_str()
        && !id.chars().all(|c| c.is_ascii_alphanumeric())
    {
        findings.push(
            Finding::new(
                Severity::Error,
                format!("{check}.authServerId"),
                format!("\"{id}\" is not an Okta authorization server id (like 'default' or 'aus1a2b3c4d5e6f7g8h9')"),
            )
            .fix("copy the id from Security > API > Authorization Servers in Okta"),
        );
    }
    findings
}

fn auth0_shapes(check: &str, config: &Value) -> Vec<Finding> {
    match config["audience"].as_str() {
        Some(audience) if url::Url::parse(audience).is_err() => vec![
            Finding::new(
                Severity::Warning,
                format!("{check}.audience"),
                format!("\"{audience}\" is not an API identifier URI; Auth0 then issues tokens APIs reject with invalid_token"),
            )
            .fix("use the API's Identifier from Auth0 > Applications > APIs, e.g. https://api.example.com"),
        ],
        _ => Vec::new(),
    }
}

fn cors(settings: &Settings) -> Vec<Finding> {
    let same_origin = url::Url::parse(&settings.external_base_url)
        .is_ok_and(|url| url.origin().ascii_serialization() == settings.web.app_origin);
    let Some(cors) = &settings.web.cors else {
        if same_origin {
            return Vec::new();
        }
        return vec![
            Finding::new(
                Severity::Warning,
                "backend.cors",
                format!("not set, but the app ({}) calls the auth API on another origin; browsers will block refresh and logout", settings.web.app_origin),
            )
            .fix(format!("set backend.cors.origin: {} and backend.cors.credentials: true", settings.web.app_origin)),
        ];
    };
    let mut findings = Vec::new();
    if !cors.origins.matches(&settings.web.app_origin) {
        findings.push(
            Finding::new(
                Severity::Error,
                "backend.cors.origin",
                format!(
                    "does not allow the app's origin {}",
                    settings.web.app_origin
                ),
            )
            .fix(format!(
                "add {} to backend.cors.origin",
                settings.web.app_origin
            )),
        );
    }
    if !cors.credentials {
        findings.push(
            Finding::new(
                Severity::Error,
                "backend.cors.credentials",
                "is not true: the browser will not send the refresh cookie cross-origin",
            )
            .fix("set backend.cors.credentials: true"),
        );
    }
    findings
}

/// Settings that work but leave a door open (refused ones never get here).
pub(super) fn risky_settings(settings: &Settings) -> Vec<Finding> {
    let mut findings = Vec::new();
    for env in &settings.providers.oauth {
        let url = match &env.endpoints {
            crate::providers::oauth::Endpoints::Discovery { metadata_url } => metadata_url.clone(),
            crate::providers::oauth::Endpoints::Fixed(metadata) => metadata.token_endpoint.clone(),
        };
        let plain = url::Url::parse(&url)
            .is_ok_and(|url| url.scheme() == "http" && !crate::net::is_loopback(&url));
        if plain && !settings.development {
            findings.push(
                Finding::new(
                    Severity::Warning,
                    format!("auth.providers.{}.{}", env.provider, env.environment),
                    format!("the IdP is reached over plain http ({url}): codes, tokens and the client secret cross the network unencrypted"),
                )
                .fix("use the IdP's https URL"),
            );
        }
    }
    if settings
        .providers
        .guest
        .as_ref()
        .is_some_and(|guest| guest.allow_outside_development)
        && !settings.development
    {
        findings.push(
            Finding::new(
                Severity::Warning,
                "auth.providers.guest.dangerouslyAllowOutsideDevelopment",
                "is true: anyone who can reach /api/auth can sign in as the guest user",
            )
            .fix("remove the guest provider outside development, or keep it only on a private network"),
        );
    }
    if settings.web.metrics == crate::http::MetricsSettings::MainPort
        && !crate::net::is_loopback_host(&settings.web.listen.host)
    {
        findings.push(
            Finding::new(
                Severity::Warning,
                "stagedoor.metrics",
                format!("/metrics is served without authentication on the main port ({}:{}), next to /api/auth", settings.web.listen.host, settings.web.listen.port),
            )
            .fix("set stagedoor.metrics.listen to a private address (e.g. {host: 0.0.0.0, port: 9464} reachable only by Prometheus), or block /metrics at the ingress"),
        );
    }
    findings.extend(super::proxy::risky_settings(settings));
    findings
}
