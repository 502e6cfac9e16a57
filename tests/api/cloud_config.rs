//! The cloud providers' configuration: Node's start-up errors for their keys and resolvers,
//! stagedoor's base-URL keys, and what `stagedoor doctor` says of them.

use std::process::Command;

use serde_json::Value;

fn load_error(yaml: &str) -> String {
    let sources = [
        stagedoor::config::Source::Text {
            name: "base.yaml".into(),
            yaml: crate::common::BASE_CONFIG.into(),
        },
        stagedoor::config::Source::Text {
            name: "providers.yaml".into(),
            yaml: yaml.into(),
        },
    ];
    stagedoor::config::load(&sources, &|_| None)
        .err()
        .map(|error| error.to_string())
        .unwrap_or_default()
}

#[test]
fn their_keys_and_resolvers_are_checked_at_start_up() {
    let error = load_error(
        "auth:\n  providers:\n    microsoft:\n      development: { clientId: a, clientSecret: b, authority: 'login.microsoftonline.us' }\n    google:\n      development: { clientId: a, endpointBaseUrl: 'ftp://mirror' }\n    openshift:\n      development: { clientId: a, clientSecret: b, tokenUrl: https://oauth/token, signIn: { resolvers: [{ resolver: emailMatchingUserEntityProfileEmail }] } }\n    pinniped:\n      development: { clientId: a, clientSecret: b, scope: openid, signIn: { resolvers: [{ resolver: usernameMatchingUserEntityName }] } }\n",
    );
    for expected in [
        "auth.providers.microsoft.development.tenantId: is required",
        "auth.providers.microsoft.development.authority: \"login.microsoftonline.us\" is not an absolute http(s) URL",
        "auth.providers.google.development.clientSecret: is required",
        "auth.providers.google.development.endpointBaseUrl: \"ftp://mirror\" is not an absolute http(s) URL",
        "auth.providers.openshift.development.authorizationUrl: is required",
        "auth.providers.openshift.development.openshiftApiServerUrl: is required",
        "auth.providers.openshift.development.signIn.resolvers.0.resolver: Sign-in resolver 'emailMatchingUserEntityProfileEmail' is not available",
        "auth.providers.pinniped.development.scope: The pinniped provider no longer supports the \"scope\" configuration option. Please use the \"additionalScopes\" option instead.",
        "auth.providers.pinniped.development.federationDomain: is required",
        "auth.providers.pinniped.development.signIn.resolvers.0.resolver: Sign-in resolver 'usernameMatchingUserEntityName' is not available",
    ] {
        assert!(error.contains(expected), "{expected:?} in:\n{error}");
    }
}

#[test]
fn the_doctor_knows_their_email_scopes() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("providers.yaml");
    let resolver = "signIn: { resolvers: [{ resolver: emailMatchingUserEntityProfileEmail }] }";
    let yaml = format!(
        "auth:\n  providers:\n    google:\n      development: {{ clientId: a, clientSecret: '${{S}}', {resolver} }}\n    pinniped:\n      development: {{ federationDomain: https://pinniped.example.com/issuer, clientId: a, clientSecret: '${{S}}', {resolver} }}\n"
    );
    let base = dir.path().join("base.yaml");
    std::fs::write(&base, crate::common::BASE_CONFIG).unwrap();
    std::fs::write(&config, yaml).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_stagedoor"))
        .args(["doctor", "--format", "json", "--offline", "--config"])
        .arg(&base)
        .arg("--config")
        .arg(&config)
        .env("S", "secret")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{report:#}");
    let warnings: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|finding| finding["severity"] == "warning")
        .map(|finding| format!("{}: {}", finding["check"], finding["message"]))
        .collect();
    // Google's email scope is https://www.googleapis.com/auth/userinfo.email, requested.
    assert!(
        !warnings.iter().any(|w| w.contains("auth.providers.google")),
        "{warnings:?}"
    );
    // The Supervisor has no email scope; an email comes only from its claim mappings.
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("auth.providers.pinniped.development.signIn")
                && w.contains("additionalClaims.email")),
        "{warnings:?}"
    );
}
