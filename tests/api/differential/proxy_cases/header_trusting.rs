//! The providers whose headers are not signed: oauth2Proxy, azureEasyAuth.

use serde_json::json;

use super::Expect::*;
use super::{ProxyCase, Tweak, case, plain};

/// oauth2Proxy: nothing is verified.
pub(super) fn oauth2_proxy() -> Vec<ProxyCase> {
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
    ]
}

/// azureEasyAuth: the ID token is decoded.
pub(super) fn azure_easy_auth() -> Vec<ProxyCase> {
    vec![
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
