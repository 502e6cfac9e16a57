//! RFC 8693 at the callback (Pinniped): `/start`'s `audience`, kept in the state, names the
//! audience the access token is exchanged for.

use super::{OAuthEnv, failed};
use crate::error::{Error, ErrorName};
use crate::oauth::idp::TokenResponse;
use crate::providers::oauth::AudienceExchange;

/// RFC 8693: the access token is exchanged for a JWT for `audience`, which the session then
/// carries as its ID token (Pinniped's cluster-scoped token), in Node's words when refused.
pub(super) async fn exchange(
    env: &OAuthEnv,
    tokens: &mut TokenResponse,
    audience: &str,
    exchange: AudienceExchange,
) -> Result<(), Error> {
    let settings = &env.settings;
    let refused = |reason: String| {
        Error::new(
            ErrorName::Error,
            format!(
                "{} \"{audience}\": Error: RFC8693 token exchange failed with error: {reason}",
                exchange.failure
            ),
        )
    };
    let metadata = env.idp.metadata().await.map_err(failed)?;
    let subject = tokens.access_token.as_deref().unwrap_or_default();
    let form = [
        (
            "grant_type",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        ),
        ("subject_token", subject),
        ("audience", audience),
        (
            "subject_token_type",
            "urn:ietf:params:oauth:token-type:access_token",
        ),
        (
            "requested_token_type",
            "urn:ietf:params:oauth:token-type:jwt",
        ),
    ];
    let answer = env
        .idp
        .token(
            &metadata.0.token_endpoint,
            settings.client_auth,
            &settings.client_id,
            &settings.client_secret,
            &form,
        )
        .await
        .map_err(|error| match error.error {
            Some(_) => refused(format!("OPError: {}", error.message)),
            None => refused(format!("Error: {}", error.message)),
        })?;
    let token = answer
        .access_token
        .ok_or_else(|| refused("Error: the answer has no access_token".to_owned()))?;
    tokens.id_token = Some(token);
    Ok(())
}
