//! The proxy providers' differential cases: one assertion minted by the fake key server, sent
//! to Node and to stagedoor. `Same` cases must answer alike; each `Differs` is a difference
//! the README documents (issue 14's "don't copy Node's accidents").

use serde_json::{Value, json};

/// What both must answer.
pub enum Expect {
    /// Status, error name and message (and, on success, identity, profile, providerInfo).
    Same,
    /// As `Same`, but both messages only start with this (Node appends the token or its
    /// payload, or a time that differs by a second).
    SamePrefix(&'static str),
    /// Node's status, then stagedoor's status and message.
    Differs {
        node: u16,
        stagedoor: (u16, &'static str),
        why: &'static str,
    },
}

/// The mint options of a case.
pub type Options = fn() -> Value;

pub struct ProxyCase {
    pub provider: &'static str,
    pub name: &'static str,
    /// `tests/fakes/proxy-keys/mint.mjs` kind and options; `None`: no headers at all.
    pub mint: Option<(&'static str, Options)>,
    /// Headers left out of the minted ones; `cookie` sends the minted cookie instead.
    pub tweak: Tweak,
    /// `alb`/`iap`/`cf-identity`/...: the key server fails (503) for this case.
    pub failing: Option<&'static str>,
    /// `alb`/`iap`/`cf`: a new signing key first, so the keys must be fetched again.
    pub rotate: Option<&'static str>,
    pub expect: Expect,
}

pub enum Tweak {
    None,
    Without(&'static str),
    CookieOnly,
}

const fn case(
    provider: &'static str,
    name: &'static str,
    kind: &'static str,
    options: fn() -> Value,
    expect: Expect,
) -> ProxyCase {
    ProxyCase {
        provider,
        name,
        mint: Some((kind, options)),
        tweak: Tweak::None,
        failing: None,
        rotate: None,
        expect,
    }
}

fn plain() -> Value {
    json!({})
}

use Expect::*;

pub fn cases() -> Vec<ProxyCase> {
    vec![
        // oauth2Proxy: nothing is verified.
        case("oauth2Proxy", "forwarded user", "oauth2proxy", plain, Same),
        case(
            "oauth2Proxy",
            "not in the catalog",
            "oauth2proxy",
            || json!({"user": "nobody"}),
            Same,
        ),
        case(
            "oauth2Proxy",
            "ID token not a JWT",
            "oauth2proxy",
            || json!({"idToken": "Bearer not-a-jwt"}),
            Same,
        ),
        ProxyCase {
            mint: None,
            ..case("oauth2Proxy", "no headers", "", plain, Same)
        },
        // gcpIap
        case("gcpIap", "catalog user", "iap", plain, Same),
        case(
            "gcpIap",
            "not in the catalog",
            "iap",
            || json!({"email": "nobody@example.com"}),
            Same,
        ),
        case(
            "gcpIap",
            "wrong audience",
            "iap",
            || json!({"wrongAud": true}),
            Same,
        ),
        case(
            "gcpIap",
            "wrong issuer",
            "iap",
            || json!({"wrongIss": true}),
            Same,
        ),
        case(
            "gcpIap",
            "expired",
            "iap",
            || json!({"expired": true}),
            SamePrefix("Google IAP token verification failed, Error: Token used too late, "),
        ),
        case(
            "gcpIap",
            "unknown kid",
            "iap",
            || json!({"unknownKid": true}),
            SamePrefix("Google IAP token verification failed, Error: No pem found for envelope"),
        ),
        case(
            "gcpIap",
            "tampered",
            "iap",
            || json!({"tamper": true}),
            SamePrefix("Google IAP token verification failed, Error: Invalid token signature"),
        ),
        case(
            "gcpIap",
            "alg RS256 over a DER ES256 signature",
            "iap",
            || json!({"alg": "RS256", "sigFormat": "der"}),
            Differs {
                node: 200,
                stagedoor: (
                    401,
                    "Google IAP token verification failed, Error: Invalid token algorithm, expected ES256",
                ),
                why: "Node ignores alg (gcpIap/37d)",
            },
        ),
        ProxyCase {
            tweak: Tweak::Without("x-goog-iap-jwt-assertion"),
            ..case("gcpIap", "missing header", "iap", plain, Same)
        },
        ProxyCase {
            failing: Some("iap"),
            ..case(
                "gcpIap",
                "keys down, known key",
                "iap",
                plain,
                Differs {
                    node: 401,
                    stagedoor: (200, ""),
                    why: "stagedoor caches the keys (Node fetches them for every sign-in)",
                },
            )
        },
        ProxyCase {
            failing: Some("iap"),
            rotate: Some("iap"),
            ..case(
                "gcpIap",
                "keys down, new key",
                "iap",
                plain,
                Differs {
                    node: 401,
                    stagedoor: (
                        503,
                        "Google IAP token verification keys could not be fetched, try again shortly",
                    ),
                    why: "a key endpoint that is down is a 503",
                },
            )
        },
        // awsalb
        case("awsalb", "catalog user", "alb", plain, Same),
        case(
            "awsalb",
            "not in the catalog",
            "alb",
            || json!({"email": "nobody@example.com"}),
            Same,
        ),
        case(
            "awsalb",
            "expired",
            "alb",
            || json!({"expired": true}),
            Same,
        ),
        case(
            "awsalb",
            "wrong issuer",
            "alb",
            || json!({"wrongIss": true}),
            Same,
        ),
        case(
            "awsalb",
            "wrong signer",
            "alb",
            || json!({"wrongSigner": true}),
            Same,
        ),
        case("awsalb", "no kid", "alb", || json!({"noKid": true}), Same),
        case(
            "awsalb",
            "tampered",
            "alb",
            || json!({"tamper": true}),
            Same,
        ),
        case(
            "awsalb",
            "unknown kid",
            "alb",
            || json!({"unknownKid": true}),
            Differs {
                node: 401,
                stagedoor: (
                    401,
                    "Exception occurred during JWT processing; caused by JWKSNoMatchingKey: no applicable key found in the JSON Web Key Set",
                ),
                why: "Node parses the 403 page as a PEM (OpenSSL decoder error)",
            },
        ),
        case(
            "awsalb",
            "alg RS256",
            "alb",
            || json!({"alg": "RS256"}),
            Differs {
                node: 401,
                stagedoor: (
                    401,
                    "Exception occurred during JWT processing; caused by JOSEAlgNotAllowed: \"alg\" (Algorithm) Header Parameter value not allowed",
                ),
                why: "jose's TypeError for the key type vs an explicit allow-list",
            },
        ),
        case(
            "awsalb",
            "no picture, opaque access token",
            "alb",
            || json!({"picture": "none"}),
            Differs {
                node: 500,
                stagedoor: (200, ""),
                why: "signs in without a picture (awsalb/60)",
            },
        ),
        ProxyCase {
            failing: Some("alb"),
            ..case("awsalb", "key endpoint down, known key", "alb", plain, Same)
        },
        ProxyCase {
            failing: Some("alb"),
            rotate: Some("alb"),
            ..case(
                "awsalb",
                "key endpoint down, new key",
                "alb",
                plain,
                Differs {
                    node: 401,
                    stagedoor: (
                        503,
                        "The AWS ALB public key could not be fetched, try again shortly",
                    ),
                    why: "a key endpoint that is down is a 503 (Node parses the error page as a PEM)",
                },
            )
        },
        ProxyCase {
            tweak: Tweak::Without("x-amzn-oidc-accesstoken"),
            ..case("awsalb", "missing access token", "alb", plain, Same)
        },
        ProxyCase {
            tweak: Tweak::Without("x-amzn-oidc-data"),
            ..case("awsalb", "missing data", "alb", plain, Same)
        },
        // cfaccess (bob's identity is asked for while the endpoint is down, before anyone
        // has cached it)
        ProxyCase {
            failing: Some("cf-identity"),
            ..case(
                "cfaccess",
                "identity endpoint down",
                "cf",
                || json!({"email": "bob@example.com"}),
                Differs {
                    node: 500,
                    stagedoor: (
                        503,
                        "Failed to populate access identity information, try again shortly",
                    ),
                    why: "an identity endpoint that is down is a 503",
                },
            )
        },
        case("cfaccess", "catalog user", "cf", plain, Same),
        ProxyCase {
            tweak: Tweak::CookieOnly,
            ..case("cfaccess", "cookie", "cf", plain, Same)
        },
        case("cfaccess", "service token", "cf-service", plain, Same),
        case(
            "cfaccess",
            "service token not permitted",
            "cf-service",
            || json!({"commonName": "intruder.access"}),
            Same,
        ),
        case(
            "cfaccess",
            "not in the catalog",
            "cf",
            || json!({"email": "nobody@example.com"}),
            Same,
        ),
        ProxyCase {
            mint: None,
            ..case("cfaccess", "no assertion", "", plain, Same)
        },
        case(
            "cfaccess",
            "expired",
            "cf",
            || json!({"expired": true}),
            Differs {
                node: 500,
                stagedoor: (
                    401,
                    "Cloudflare Access token verification failed; caused by JWTExpired: \"exp\" claim timestamp check failed",
                ),
                why: "a refused assertion is a 401",
            },
        ),
        case(
            "cfaccess",
            "wrong audience",
            "cf",
            || json!({"wrongAud": true}),
            Differs {
                node: 500,
                stagedoor: (
                    401,
                    "Cloudflare Access token verification failed; caused by JWTClaimValidationFailed: unexpected \"aud\" claim value",
                ),
                why: "a refused assertion is a 401",
            },
        ),
        case(
            "cfaccess",
            "tampered",
            "cf",
            || json!({"tamper": true}),
            Differs {
                node: 500,
                stagedoor: (
                    401,
                    "Cloudflare Access token verification failed; caused by JWSSignatureVerificationFailed: signature verification failed",
                ),
                why: "a refused assertion is a 401",
            },
        ),
        // azureEasyAuth
        case("azureEasyAuth", "catalog user", "easyauth", plain, Same),
        case(
            "azureEasyAuth",
            "not in the catalog",
            "easyauth",
            || json!({"email": "nobody@example.com"}),
            Same,
        ),
        ProxyCase {
            tweak: Tweak::Without("x-ms-token-aad-id-token"),
            ..case("azureEasyAuth", "missing ID token", "easyauth", plain, Same)
        },
        case(
            "azureEasyAuth",
            "ID token not a JWT",
            "easyauth",
            || json!({"idToken": "garbage"}),
            Differs {
                node: 500,
                stagedoor: (
                    401,
                    "Invalid x-ms-token-aad-id-token header; caused by JWTInvalid: Invalid JWT",
                ),
                why: "a refused header is a 401",
            },
        ),
        case(
            "azureEasyAuth",
            "version 1.0 ID token",
            "easyauth",
            || json!({"ver": "1.0"}),
            Differs {
                node: 500,
                stagedoor: (401, "id_token is not version 2.0"),
                why: "a refused header is a 401",
            },
        ),
    ]
}
