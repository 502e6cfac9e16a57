//! Reading a token exchange request (RFC 8693 §2.1) from the form `http` read at the token
//! endpoint: each parameter at most once (except `audience` and `resource`).

use super::error::{ExchangeError, quoted};
use crate::http::TokenRequest;

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
pub const JWT_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

/// What the subject token is said to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectTokenType {
    AccessToken,
    IdToken,
    Jwt,
}

#[derive(Debug)]
pub struct ExchangeRequest {
    pub subject_token: String,
    pub subject_token_type: SubjectTokenType,
    /// What `issued_token_type` says: `access_token` unless `jwt` was requested.
    pub issued_token_type: &'static str,
}

/// The exchange's parameters. `own_audiences` are the names `audience` and `resource` may
/// give (stagedoor's URL, `backstage`).
pub fn read(
    request: &TokenRequest,
    own_audiences: &[String],
) -> Result<ExchangeRequest, ExchangeError> {
    match &request.body {
        crate::http::TokenBody::Form(pairs) => parse_pairs(pairs, own_audiences),
        crate::http::TokenBody::Json(_) => Err(ExchangeError::InvalidRequest(
            "the content type \"application/json\" is not accepted; send the parameters as application/x-www-form-urlencoded".into(),
        )),
    }
}

#[derive(Default)]
struct Params {
    grant_type: Option<String>,
    subject_token: Option<String>,
    subject_token_type: Option<String>,
    requested_token_type: Option<String>,
    actor_token: Option<String>,
    targets: Vec<String>,
}

/// The pairs by name: each at most once; empty values and unknown names left out.
fn collect_params(pairs: &[(String, String)]) -> Result<Params, ExchangeError> {
    let mut params = Params::default();
    for (name, value) in pairs {
        // RFC 6749 §3.2: no value counts as absent; unknown parameters are ignored.
        if value.is_empty() {
            continue;
        }
        let slot = match name.as_str() {
            "grant_type" => &mut params.grant_type,
            "subject_token" => &mut params.subject_token,
            "subject_token_type" => &mut params.subject_token_type,
            "requested_token_type" => &mut params.requested_token_type,
            "actor_token" | "actor_token_type" => &mut params.actor_token,
            "audience" | "resource" => {
                params.targets.push(value.clone());
                continue;
            }
            _ => continue,
        };
        if slot.is_some() {
            return Err(ExchangeError::InvalidRequest(format!(
                "the parameter {name} is sent more than once"
            )));
        }
        *slot = Some(value.clone());
    }
    Ok(params)
}

fn parse_pairs(
    pairs: &[(String, String)],
    own_audiences: &[String],
) -> Result<ExchangeRequest, ExchangeError> {
    let params = collect_params(pairs)?;
    let missing =
        |name: &str| ExchangeError::InvalidRequest(format!("the parameter {name} is required"));
    let grant_type = params.grant_type.ok_or_else(|| missing("grant_type"))?;
    if grant_type != GRANT_TYPE {
        return Err(ExchangeError::UnsupportedGrantType(format!(
            "the grant type {} is not supported; use {GRANT_TYPE}",
            quoted(&grant_type)
        )));
    }
    let subject_token = params
        .subject_token
        .ok_or_else(|| missing("subject_token"))?;
    let subject_token_type = match params.subject_token_type.as_deref() {
        None => return Err(missing("subject_token_type")),
        Some(ACCESS_TOKEN_TYPE) => SubjectTokenType::AccessToken,
        Some(ID_TOKEN_TYPE) => SubjectTokenType::IdToken,
        Some(JWT_TYPE) => SubjectTokenType::Jwt,
        Some(other) => {
            return Err(ExchangeError::InvalidRequest(format!(
                "the subject_token_type {} is not supported; use {ACCESS_TOKEN_TYPE}, {ID_TOKEN_TYPE} or {JWT_TYPE} (a JWT from a trusted issuer)",
                quoted(other)
            )));
        }
    };
    if params.actor_token.is_some() {
        return Err(ExchangeError::InvalidRequest(
            "actor_token (delegation) is not supported; send only the subject_token".into(),
        ));
    }
    let issued_token_type = match params.requested_token_type.as_deref() {
        None | Some(ACCESS_TOKEN_TYPE) => ACCESS_TOKEN_TYPE,
        Some(JWT_TYPE) => JWT_TYPE,
        Some(other) => {
            return Err(ExchangeError::InvalidRequest(format!(
                "the requested_token_type {} cannot be issued; stagedoor issues Backstage tokens ({ACCESS_TOKEN_TYPE} or {JWT_TYPE})",
                quoted(other)
            )));
        }
    };
    check_targets(&params.targets, own_audiences)?;
    Ok(ExchangeRequest {
        subject_token,
        subject_token_type,
        issued_token_type,
    })
}

/// `audience` and `resource` may only name this server.
fn check_targets(targets: &[String], own_audiences: &[String]) -> Result<(), ExchangeError> {
    for target in targets {
        let own = target.trim_end_matches('/');
        if !own_audiences.iter().any(|audience| audience == own) {
            return Err(ExchangeError::InvalidTarget(format!(
                "the audience or resource {} is not this server; leave it out, or use {}",
                quoted(target),
                own_audiences.join(" or ")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(form: &str) -> Result<ExchangeRequest, ExchangeError> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(form.as_bytes())
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
        parse_pairs(
            &pairs,
            &[
                "https://bs.example.com/api/auth".to_owned(),
                "backstage".to_owned(),
            ],
        )
    }

    const GOOD: &str = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=a.b.c&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token";

    #[test]
    fn a_complete_request_parses() {
        let request = parse(GOOD).unwrap();
        assert_eq!(request.subject_token, "a.b.c");
        assert_eq!(request.subject_token_type, SubjectTokenType::AccessToken);
        assert_eq!(request.issued_token_type, ACCESS_TOKEN_TYPE);
        let jwt = parse(&format!(
            "{GOOD}&requested_token_type=urn:ietf:params:oauth:token-type:jwt&audience=backstage&resource=https://bs.example.com/api/auth/&scope=x&unknown=1"
        ))
        .unwrap();
        assert_eq!(jwt.issued_token_type, JWT_TYPE);
    }

    #[test]
    fn each_mistake_has_its_error() {
        let cases = [
            ("", "invalid_request", "grant_type is required"),
            (
                "grant_type=password",
                "unsupported_grant_type",
                "\"password\"",
            ),
            (
                &format!("{GOOD}&subject_token=x"),
                "invalid_request",
                "subject_token is sent more than once",
            ),
            (
                "grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token=x",
                "invalid_request",
                "subject_token_type is required",
            ),
            (
                &GOOD.replace("access_token", "saml2"),
                "invalid_request",
                "\"urn:ietf:params:oauth:token-type:saml2\" is not supported",
            ),
            (
                &format!("{GOOD}&actor_token=y"),
                "invalid_request",
                "actor_token",
            ),
            (
                &format!(
                    "{GOOD}&requested_token_type=urn:ietf:params:oauth:token-type:refresh_token"
                ),
                "invalid_request",
                "cannot be issued",
            ),
            (
                &format!("{GOOD}&audience=https://evil.example.com"),
                "invalid_target",
                "is not this server",
            ),
        ];
        for (form, code, part) in cases {
            let error = parse(form).unwrap_err();
            assert_eq!(error.code(), code, "{form}");
            assert!(error.to_string().contains(part), "{form}: {error}");
        }
    }

    #[test]
    fn empty_values_count_as_absent() {
        let error = parse(&GOOD.replace("subject_token=a.b.c", "subject_token=")).unwrap_err();
        assert!(error.to_string().contains("subject_token is required"));
    }
}
