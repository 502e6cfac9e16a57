//! `azureEasyAuth` (`@backstage/plugin-auth-backend-module-azure-easyauth-provider`): Azure App
//! Service authentication puts the signed-in user's Entra ID token in
//! `x-ms-token-aad-id-token`. The token is decoded, not verified: App Service's front end
//! strips and sets these headers, so the provider is only safe behind it. As Node does, the
//! provider refuses to start unless App Service's environment says authentication is on,
//! with Entra ID and the token store.

use serde_json::{Map, Value};

use super::verify::{Refused, decode, text};
use super::{Authenticated, ProxyContext, ProxyKind, ProxyRequest};
use crate::error::{Error, ErrorName};
use crate::identity::Profile;
use crate::resolvers::SignInInfo;
use crate::section::Section;

pub const ID_TOKEN: &str = "x-ms-token-aad-id-token";
pub const ACCESS_TOKEN: &str = "x-ms-token-aad-access-token";

/// Node's `validateAppServiceConfiguration`, in its order and with its messages.
const APP_SERVICE: [(&str, Option<&str>, &str); 4] = [
    (
        "WEBSITE_SKU",
        None,
        "Backstage is not running on Azure App Services",
    ),
    (
        "WEBSITE_AUTH_ENABLED",
        Some("true"),
        "Azure App Services does not have authentication enabled",
    ),
    (
        "WEBSITE_AUTH_DEFAULT_PROVIDER",
        Some("azureactivedirectory"),
        "Authentication provider is not Entra ID",
    ),
    (
        "WEBSITE_AUTH_TOKEN_STORE",
        Some("true"),
        "Token Store is not enabled",
    ),
];

/// Nothing to read besides `signIn`; the environment must be App Service's.
pub fn settings(reader: &mut Section<'_>, context: &ProxyContext<'_>) -> ProxyKind {
    for (variable, expected, message) in APP_SERVICE {
        let value = (context.env)(variable);
        let holds = match (value, expected) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(value), Some(expected)) => value.eq_ignore_ascii_case(expected),
        };
        if !holds {
            reader.problems.push(crate::section::Problem::new(
                reader.base.clone(),
                format!("{message} ({variable}): the x-ms-* headers can only be trusted where App Service authentication sets them; run stagedoor on App Service with authentication, Entra ID and the token store, or remove this provider"),
            ));
            break;
        }
    }
    ProxyKind::AzureEasyAuth
}

pub(super) fn authenticate(request: &ProxyRequest<'_>) -> Result<Authenticated, Error> {
    let token = request
        .header(ID_TOKEN)
        .ok_or_else(|| Error::authentication(format!("Missing {ID_TOKEN} header")))?;
    let claims = decode(token).ok_or_else(|| {
        Error::caused_by(
            ErrorName::AuthenticationError,
            &format!("Invalid {ID_TOKEN} header"),
            Refused::cause("JWTInvalid", "Invalid JWT"),
        )
    })?;
    if claims.get("ver").and_then(Value::as_str) != Some("2.0") {
        return Err(Error::authentication("id_token is not version 2.0"));
    }
    let profile = Profile {
        email: text(&claims, "email").map(str::to_owned),
        picture: None,
        display_name: text(&claims, "name").map(str::to_owned),
    };
    let mut provider_info = Map::new();
    if let Some(access_token) = request.header(ACCESS_TOKEN) {
        provider_info.insert("accessToken".into(), Value::String(access_token.to_owned()));
    }
    Ok(Authenticated {
        info: SignInInfo {
            profile,
            username: text(&claims, "preferred_username").map(str::to_owned),
            user_id: text(&claims, "oid").map(str::to_owned),
            profile_url: None,
            claims,
        },
        provider_info,
    })
}
