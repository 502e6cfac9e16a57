//! `oauth2Proxy` (`@backstage/plugin-auth-backend-module-oauth2-proxy-provider`): oauth2-proxy
//! forwards who signed in as headers. Nothing is signed: the network is the trust boundary
//! (see `allowedSources` and `stagedoor doctor`). The optional ID token header is decoded,
//! not verified, as in Node.

use serde_json::{Map, Value};

use super::verify::{Refused, decode};
use super::{Authenticated, ProxyContext, ProxyKind, ProxyRequest};
use crate::error::{Error, ErrorName};
use crate::identity::Profile;
use crate::resolvers::SignInInfo;
use crate::section::Section;

pub const USER: &str = "x-forwarded-user";
pub const EMAIL: &str = "x-forwarded-email";
pub const PREFERRED_USERNAME: &str = "x-forwarded-preferred-username";
pub const GROUPS: &str = "x-forwarded-groups";
pub const ID_TOKEN: &str = "x-oauth2-proxy-id-token";

/// `auth.providers.oauth2Proxy` has nothing of its own besides `signIn`.
pub fn settings(_reader: &mut Section<'_>, _context: &ProxyContext<'_>) -> ProxyKind {
    ProxyKind::OAuth2Proxy
}

pub(super) fn authenticate(request: &ProxyRequest<'_>) -> Result<Authenticated, Error> {
    let id_token = request.header(ID_TOKEN).and_then(bearer);
    let mut claims = match id_token {
        Some(token) => decode(token).ok_or_else(|| {
            Error::caused_by(
                ErrorName::AuthenticationError,
                "Authentication failed",
                Refused::cause("JWTInvalid", "Invalid JWT"),
            )
        })?,
        None => Map::new(),
    };
    let user = request.header(USER);
    let email = request.header(EMAIL);
    let preferred = request.header(PREFERRED_USERNAME);
    for (name, value) in [
        (USER, user),
        (EMAIL, email),
        (PREFERRED_USERNAME, preferred),
    ] {
        if let Some(value) = value {
            claims.insert(name.to_owned(), Value::String(value.to_owned()));
        }
    }
    if let Some(groups) = request.header(GROUPS) {
        let groups = groups
            .split(',')
            .map(str::trim)
            .filter(|group| !group.is_empty())
            .map(|group| Value::String(group.to_owned()));
        claims.insert(GROUPS.to_owned(), Value::Array(groups.collect()));
    }
    let profile = Profile {
        email: email.map(str::to_owned),
        picture: None,
        display_name: preferred.or(user).map(str::to_owned),
    };
    let mut provider_info = Map::new();
    provider_info.insert(
        "accessToken".into(),
        Value::String(id_token.unwrap_or_default().to_owned()),
    );
    Ok(Authenticated {
        info: SignInInfo {
            profile,
            username: user.filter(|user| !user.is_empty()).map(str::to_owned),
            user_id: None,
            profile_url: None,
            claims,
        },
        provider_info,
    })
}

/// `Bearer <token>` (case-insensitive, as Node's `/^Bearer[ ]+(\S+)$/i`).
fn bearer(value: &str) -> Option<&str> {
    let scheme = value.get(..6)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let rest = &value[6..];
    let token = rest.trim_start_matches(' ');
    (token.len() < rest.len() && !token.is_empty() && !token.contains(char::is_whitespace))
        .then_some(token)
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn bearer_is_read_as_node_reads_it() {
        assert_eq!(bearer("Bearer a.b.c"), Some("a.b.c"));
        assert_eq!(bearer("bearer   a.b.c"), Some("a.b.c"));
        assert_eq!(bearer("Bearera.b.c"), None);
        assert_eq!(bearer("a.b.c"), None);
        assert_eq!(bearer("Bearer a b"), None);
        assert_eq!(bearer("Bearer "), None);
    }
}
