//! The providers whose assertions are signed: gcpIap, awsalb, cfaccess.

use serde_json::json;

use super::Expect::*;
use super::{ProxyCase, Tweak, case, plain};

/// gcpIap.
pub(super) fn gcp_iap() -> Vec<ProxyCase> {
    vec![
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
    ]
}

/// awsalb.
pub(super) fn aws_alb() -> Vec<ProxyCase> {
    vec![
        // awsalb
        case("awsalb", "catalog user", "alb", plain, Same),
        case(
            "awsalb",
            "no name claim",
            "alb",
            || json!({"claims": {"name": null}}),
            Same,
        ),
        case(
            "awsalb",
            "no picture, JWT access token",
            "alb",
            || json!({"picture": "none", "accessToken": "jwt"}),
            Same,
        ),
        case(
            "awsalb",
            "padded base64url",
            "alb",
            || json!({"pad": true}),
            Same,
        ),
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
    ]
}

/// cfaccess.
pub(super) fn cf_access() -> Vec<ProxyCase> {
    vec![
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
        case(
            "cfaccess",
            "no kid, one key",
            "cf",
            || json!({"noKid": true}),
            Same,
        ),
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
    ]
}
