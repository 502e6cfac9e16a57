//! `pinniped`: a Pinniped Supervisor FederationDomain (an OpenID Provider found through
//! `federationDomain`), as Node's module uses it (`tests/fixtures/node/pinniped/README.md`):
//! ES256 ID tokens, PKCE, Basic client authentication, refresh tokens that rotate, and an
//! optional RFC 8693 exchange for a cluster-scoped token (`/start?audience=<cluster>`). Node's
//! profile is always empty; stagedoor's comes from the ID token (`username`, and an email the
//! Supervisor maps into `additionalClaims`).

use std::sync::Arc;

use serde_json::Value;

use super::oauth::{
    ApiCall, ApiFuture, ApiProfile, AudienceExchange, Behaviour, Endpoints, LogoutStyle,
    OAuthEnvSettings, ProfileApi, common,
};
use crate::identity::Profile;
use crate::oauth::idp::ClientAuth;
use crate::section::Section;

pub fn settings(
    reader: &mut Section<'_>,
    environment: &str,
    external_base_url: &str,
) -> OAuthEnvSettings {
    if reader.has("scope") {
        reader.problem("scope", "The pinniped provider no longer supports the \"scope\" configuration option. Please use the \"additionalScopes\" option instead.");
    }
    let federation_domain = match reader.url("federationDomain") {
        Some(url) => url.as_str().trim_end_matches('/').to_owned(),
        None if reader.has("federationDomain") => String::new(),
        None => reader.required(
            "federationDomain",
            "https://pinniped.example.com/issuer (the FederationDomain's issuer)",
        ),
    };
    let client_id = reader.required("clientId", "client.oauth.pinniped.dev-backstage");
    let client_secret = reader.required("clientSecret", "${AUTH_PINNIPED_CLIENT_SECRET}");
    let common = common(reader, "pinniped", external_base_url);
    OAuthEnvSettings {
        provider: "pinniped".into(),
        environment: environment.to_owned(),
        client_id,
        client_secret,
        endpoints: Endpoints::Discovery {
            metadata_url: format!("{federation_domain}/.well-known/openid-configuration"),
        },
        client_auth: ClientAuth::Basic,
        algorithms: vec!["ES256".to_owned()],
        prompt: None,
        start_params: Vec::new(),
        required_scopes: [
            "openid",
            "pinniped:request-audience",
            "username",
            "offline_access",
        ]
        .map(str::to_owned)
        .to_vec(),
        additional_scopes: common.additional_scopes,
        persist_scopes: false,
        callback_url: common.callback_url,
        session_secs: common.session_secs,
        timeout: common.timeout,
        sign_in: common.sign_in,
        rp_logout: None,
        behaviour: behaviour(),
    }
}

fn behaviour() -> Behaviour {
    let mut behaviour = Behaviour::oidc();
    // As Node's (openid-client with the code flow): PKCE, no nonce; the Supervisor has no
    // userinfo endpoint; logout only clears the cookies.
    behaviour.openid_nonce = false;
    behaviour.userinfo = super::oauth::UserinfoCall::None;
    behaviour.logout = LogoutStyle::ClearCookies;
    behaviour.username_claim = Some("username");
    behaviour.profile_api = Some(Arc::new(IdTokenProfile));
    behaviour.audience_exchange = Some(AudienceExchange {
        failure: "Failed to get cluster specific ID token for",
    });
    // Node's module never reports the tokens' lifetime.
    behaviour.report_expiry = false;
    behaviour.missing_email_advice = Some(
        "Pinniped's ID tokens carry an email only when the Supervisor's identity provider maps one (additionalClaims.email); the userEntityRefFromClaims resolver can use {username} instead.",
    );
    behaviour
}

/// The profile from the verified ID token: the Pinniped user name as the display name, and an
/// email where there is one (`email`, or the Supervisor's `additionalClaims.email`).
#[derive(Debug)]
struct IdTokenProfile;

impl ProfileApi for IdTokenProfile {
    fn fetch<'a>(&'a self, call: ApiCall<'a>) -> ApiFuture<'a> {
        Box::pin(async move { Ok(profile(call.id_claims)) })
    }
}

fn profile(claims: &serde_json::Map<String, Value>) -> ApiProfile {
    let text = |pointer: &str| {
        let claims = Value::Object(claims.clone());
        claims
            .pointer(pointer)
            .and_then(Value::as_str)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    };
    let unverified = claims.get("email_verified") == Some(&Value::Bool(false));
    let email = text("/email")
        .or_else(|| text("/additionalClaims/email"))
        .filter(|_| !unverified);
    let username = text("/username");
    ApiProfile {
        profile: Profile {
            email,
            picture: None,
            display_name: username.clone(),
        },
        username,
        user_id: text("/sub"),
        profile_url: None,
        claims: claims.clone(),
        refresh_token: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_profile_comes_from_the_id_token() {
        let claims = |value: Value| value.as_object().unwrap().clone();
        let alice = profile(&claims(json!({
            "sub": "https://upstream?sub=alice", "username": "alice@example.com",
            "additionalClaims": {"email": "alice@example.com"}
        })));
        assert_eq!(alice.profile.email.as_deref(), Some("alice@example.com"));
        assert_eq!(
            alice.profile.display_name.as_deref(),
            Some("alice@example.com")
        );
        assert_eq!(alice.username.as_deref(), Some("alice@example.com"));
        let bare = profile(&claims(json!({"sub": "s", "username": "bob"})));
        assert_eq!(bare.profile.email, None, "a user name is not an email");
        let unverified = profile(&claims(
            json!({"sub": "s", "email": "c@example.com", "email_verified": false}),
        ));
        assert_eq!(unverified.profile.email, None);
    }
}
