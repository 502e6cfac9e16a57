//! Validating a subject token: a JWS from a configured issuer, signed with an allowed
//! algorithm by a key of its JWKS, for an accepted audience, current, not older than the
//! issuer's `maxTokenAge`, issued to an allow-listed client.

use serde_json::{Map, Value};

use super::Progress;
use super::error::{ExchangeError, quoted};
use super::keys::IssuerKeys;
use super::request::SubjectTokenType;
use crate::exchange::ExchangeIssuerSettings;
use crate::jose::{self, TimeError};
use crate::oauth::id_token::LEEWAY_SECS;

/// Claims naming the client a token was issued to, in order: RFC 9068 and Auth0
/// (`client_id`, `azp`), Okta (`cid`).
const CLIENT_CLAIMS: [&str; 3] = ["client_id", "azp", "cid"];

pub struct TrustedIssuer {
    pub settings: ExchangeIssuerSettings,
    pub keys: IssuerKeys,
}

/// A subject token that passed every check.
#[derive(Debug)]
pub struct Subject {
    pub issuer: usize,
    pub client_id: String,
    pub claims: Map<String, Value>,
    pub expires_at_secs: i64,
}

fn invalid(message: impl Into<String>) -> ExchangeError {
    ExchangeError::InvalidGrant(message.into())
}

/// Which configured issuer the token claims to come from, read before any verification so
/// that tokens of unknown issuers cost no network call.
fn claimed_issuer<'a>(
    issuers: &'a [TrustedIssuer],
    token: &str,
) -> Result<(usize, &'a TrustedIssuer, Option<String>), ExchangeError> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() == 5 {
        return Err(invalid(
            "the subject token is encrypted (JWE); send a signed JWT",
        ));
    }
    if parts.len() != 3 {
        return Err(invalid(
            "the subject token is not a JWT (expected header.payload.signature)",
        ));
    }
    let header: Map<String, Value> = jose::decode_segment(parts[0])
        .ok_or_else(|| invalid("the subject token's header is not base64url JSON"))?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("none");
    let typ = header.get("typ").and_then(Value::as_str).map(str::to_owned);
    if alg.eq_ignore_ascii_case("none") || alg.starts_with("HS") {
        return Err(invalid(format!(
            "the subject token is signed with {}, which is never accepted; tokens must be signed with the IdP's private key",
            quoted(alg)
        )));
    }
    let claims = jose::unverified_claims(token)
        .ok_or_else(|| invalid("the subject token's payload is not base64url JSON"))?;
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("the subject token has no iss claim"))?;
    let (index, trusted) = issuers
        .iter()
        .enumerate()
        .find(|(_, trusted)| trusted.settings.issuer == iss)
        .ok_or_else(|| {
            invalid(format!(
                "the subject token's issuer {} is not trusted",
                quoted(iss)
            ))
        })?;
    Ok((index, trusted, typ))
}

pub async fn verify(
    issuers: &[TrustedIssuer],
    token: &str,
    token_type: SubjectTokenType,
    now_secs: i64,
    progress: &mut Progress,
) -> Result<Subject, ExchangeError> {
    let (index, trusted, typ) = claimed_issuer(issuers, token)?;
    let settings = &trusted.settings;
    progress.issuer = Some(settings.issuer.clone());
    let claims = trusted.keys.verify(token, &settings.algorithms).await?;
    let client_id = client_id(&claims, token_type)?;
    progress.client_id.clone_from(&client_id);
    check_token_type(typ.as_deref(), &claims, token_type)?;
    let expires_at_secs = check_times(&claims, settings, now_secs)?;
    check_audience(&claims, settings)?;
    let client_id = client_id.ok_or_else(|| {
        ExchangeError::UnauthorizedClient(
            "the subject token names no client (client_id, azp or cid claim)".into(),
        )
    })?;
    if !settings.clients.contains(&client_id) {
        return Err(ExchangeError::UnauthorizedClient(format!(
            "client {} may not exchange tokens of this issuer",
            quoted(&client_id)
        )));
    }
    Ok(Subject {
        issuer: index,
        client_id,
        claims,
        expires_at_secs,
    })
}

/// `exp` (no leeway: the issued token ends with it), `nbf` and `iat` (with the usual
/// leeway), and the age limit. Returns `exp`.
fn check_times(
    claims: &Map<String, Value>,
    settings: &ExchangeIssuerSettings,
    now: i64,
) -> Result<i64, ExchangeError> {
    let times = jose::Times {
        now,
        exp_leeway: 0,
        leeway: LEEWAY_SECS,
        require_exp: true,
        require_iat: true,
    };
    let exp = times.check(claims).map_err(|error| match error {
        TimeError::MissingExp => invalid("the subject token has no exp claim"),
        TimeError::MissingIat => {
            invalid("the subject token has no iat claim, so its age cannot be checked")
        }
        TimeError::Expired { exp } => invalid(format!(
            "the subject token has expired ({} s ago)",
            now - exp
        )),
        TimeError::NotYetValid { nbf } => invalid(format!(
            "the subject token is not valid yet (nbf is {} s from now)",
            nbf - now
        )),
        TimeError::IssuedInTheFuture { iat } => invalid(format!(
            "the subject token is issued in the future (iat is {} s from now)",
            iat - now
        )),
    })?;
    let age = now - jose::seconds(claims, "iat").unwrap_or(now);
    if age > settings.max_token_age_secs {
        return Err(invalid(format!(
            "the subject token was issued {age} s ago; this issuer's tokens are exchanged only within {} s of issue, get a fresh one",
            settings.max_token_age_secs
        )));
    }
    Ok(exp)
}

fn check_audience(
    claims: &Map<String, Value>,
    settings: &ExchangeIssuerSettings,
) -> Result<(), ExchangeError> {
    let audiences = jose::audiences(claims);
    if audiences
        .iter()
        .any(|aud| settings.audiences.iter().any(|accepted| accepted == aud))
    {
        return Ok(());
    }
    let shown: Vec<String> = audiences.iter().take(5).map(|aud| quoted(aud)).collect();
    Err(invalid(format!(
        "the subject token's audience [{}] is not one stagedoor accepts from this issuer",
        shown.join(", ")
    )))
}

/// Whether the token is what `subject_token_type` says: an access token (RFC 9068 `typ`
/// `at+jwt`) only as an access token, and as an ID token only a token without an access
/// token's marks (`at+jwt`, `scope`/`scp`).
fn check_token_type(
    typ: Option<&str>,
    claims: &Map<String, Value>,
    token_type: SubjectTokenType,
) -> Result<(), ExchangeError> {
    let access_typ = typ.is_some_and(|typ| {
        let typ = typ.to_ascii_lowercase();
        typ == "at+jwt" || typ == "application/at+jwt"
    });
    let scoped = claims.contains_key("scope") || claims.contains_key("scp");
    let mismatch = match token_type {
        SubjectTokenType::AccessToken => None,
        SubjectTokenType::Jwt if access_typ => Some("an access token (typ at+jwt)"),
        SubjectTokenType::Jwt => None,
        SubjectTokenType::IdToken if access_typ => Some("an access token (typ at+jwt)"),
        SubjectTokenType::IdToken if scoped => Some("an access token (it carries a scope)"),
        SubjectTokenType::IdToken => None,
    };
    match mismatch {
        None => Ok(()),
        Some(what) => Err(ExchangeError::InvalidRequest(format!(
            "the subject token is {what}; send it with subject_token_type urn:ietf:params:oauth:token-type:access_token"
        ))),
    }
}

/// The client the token was issued to: `client_id`, `azp` or `cid`; for an ID token, its
/// single audience; for other tokens, `sub` (client-credentials tokens name the client). A
/// client claim that is not a string is refused, not skipped: the allow-list and the
/// `{client_id}` template must read the same value.
pub fn client_id(
    claims: &Map<String, Value>,
    token_type: SubjectTokenType,
) -> Result<Option<String>, ExchangeError> {
    for name in CLIENT_CLAIMS {
        match claims.get(name) {
            None => continue,
            Some(Value::String(text)) if !text.is_empty() => return Ok(Some(text.clone())),
            Some(_) => {
                return Err(ExchangeError::UnauthorizedClient(format!(
                    "the subject token's {name} claim is not a client id (a non-empty string)"
                )));
            }
        }
    }
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .filter(|value| !value.is_empty())
    };
    Ok(match token_type {
        SubjectTokenType::IdToken => match jose::audiences(claims).as_slice() {
            [single] => Some((*single).to_owned()),
            _ => None,
        },
        SubjectTokenType::AccessToken | SubjectTokenType::Jwt => text("sub").map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{IdentityMapping, KeySource};
    use serde_json::json;

    fn settings() -> ExchangeIssuerSettings {
        ExchangeIssuerSettings {
            config_path: "stagedoor.tokenExchange.issuers.0".into(),
            issuer: "https://idp".into(),
            keys: KeySource::Jwks("https://idp/jwks".into()),
            audiences: vec!["api://backstage".into()],
            algorithms: vec!["RS256".into()],
            max_token_age_secs: 600,
            clients: vec!["ci".into()],
            identity: IdentityMapping::Template(
                crate::resolvers::RefTemplate::parse("user:default/{client_id}").unwrap(),
            ),
            ownership_entity_refs: Vec::new(),
        }
    }

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn times_are_checked() {
        let s = settings();
        let now = 10_000;
        let good = json!({"exp": now + 100, "iat": now - 10});
        assert_eq!(check_times(&claims(good.clone()), &s, now), Ok(now + 100));
        let with = |key: &str, value: Value| {
            let mut c = good.clone();
            c[key] = value;
            check_times(&claims(c), &s, now).unwrap_err().to_string()
        };
        assert!(with("exp", json!(now)).contains("expired"));
        assert!(with("nbf", json!(now + 61)).contains("not valid yet"));
        assert!(with("iat", json!(now + 61)).contains("future"));
        assert!(with("iat", json!(now - 601)).contains("issued 601 s ago"));
        let mut no_iat = good.clone();
        no_iat.as_object_mut().unwrap().remove("iat");
        assert!(check_times(&claims(no_iat), &s, now).is_err());
    }

    #[test]
    fn audience_must_intersect() {
        let s = settings();
        assert!(check_audience(&claims(json!({"aud": "api://backstage"})), &s).is_ok());
        assert!(check_audience(&claims(json!({"aud": ["x", "api://backstage"]})), &s).is_ok());
        assert!(check_audience(&claims(json!({"aud": "x"})), &s).is_err());
        assert!(check_audience(&claims(json!({})), &s).is_err());
    }

    #[test]
    fn the_client_comes_from_the_usual_claims() {
        let at = SubjectTokenType::AccessToken;
        let id = SubjectTokenType::IdToken;
        let client = |v: Value, t| client_id(&claims(v), t).unwrap();
        assert_eq!(
            client(json!({"client_id": "a", "azp": "b"}), at).unwrap(),
            "a"
        );
        assert_eq!(client(json!({"azp": "b", "sub": "x"}), at).unwrap(), "b");
        assert_eq!(client(json!({"cid": "o", "sub": "x"}), at).unwrap(), "o");
        assert_eq!(client(json!({"sub": "svc"}), at).unwrap(), "svc");
        assert_eq!(client(json!({"sub": "u", "aud": "rp"}), id).unwrap(), "rp");
        assert_eq!(client(json!({"sub": "u", "aud": ["a", "b"]}), id), None);
    }

    #[test]
    fn a_client_claim_that_is_not_a_string_is_refused() {
        let at = SubjectTokenType::AccessToken;
        for bad in [
            json!({"client_id": 7, "azp": "ci"}),
            json!({"client_id": "", "azp": "ci"}),
            json!({"azp": ["ci"]}),
            json!({"cid": null, "sub": "ci"}),
        ] {
            let error = client_id(&claims(bad.clone()), at).unwrap_err();
            assert!(
                error.to_string().contains("is not a client id"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn the_token_type_must_agree_with_the_token() {
        let (at, id, jwt) = (
            SubjectTokenType::AccessToken,
            SubjectTokenType::IdToken,
            SubjectTokenType::Jwt,
        );
        let plain = claims(json!({"sub": "u"}));
        let scoped = claims(json!({"sub": "u", "scp": ["a"]}));
        assert!(check_token_type(Some("at+jwt"), &plain, at).is_ok());
        assert!(check_token_type(Some("application/at+jwt"), &plain, id).is_err());
        assert!(check_token_type(Some("AT+JWT"), &plain, jwt).is_err());
        assert!(check_token_type(None, &scoped, id).is_err());
        assert!(check_token_type(Some("JWT"), &plain, id).is_ok());
        assert!(check_token_type(None, &scoped, jwt).is_ok());
    }

    #[test]
    fn unsigned_and_untrusted_tokens_are_refused_before_any_fetch() {
        let encode = |v: Value| jose::b64(v.to_string());
        let token = |alg: &str, iss: &str| {
            format!(
                "{}.{}.sig",
                encode(json!({"alg": alg})),
                encode(json!({"iss": iss}))
            )
        };
        let issuers: Vec<TrustedIssuer> = Vec::new();
        let message = |t: &str| claimed_issuer(&issuers, t).err().unwrap().to_string();
        assert!(
            message(&token("none", "https://idp")).contains("\"none\", which is never accepted")
        );
        assert!(message(&token("HS256", "https://idp")).contains("never accepted"));
        assert!(
            message(&token("RS256", "https://evil")).contains("\"https://evil\" is not trusted")
        );
        assert!(message("a.b").contains("not a JWT"));
        assert!(message("a.b.c.d.e").contains("encrypted"));
    }
}
