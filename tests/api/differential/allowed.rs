//! Every difference between Node and stagedoor that the test accepts, in one place.
//!
//! [`ALLOWED`]: differences stagedoor makes on purpose, each documented in the README section
//! named. [`PENDING_ISSUE_18`]: differences still to remove (issue 18 items 1-8, and those
//! this test found beyond them, 9 on); delete an entry when its fix lands. Anything else fails
//! the test. Not differences at all (the normalization takes them out before comparing):
//! random values (tokens, codes, nonces, state, key ids, `uip`: placeholders, equal values
//! getting equal placeholders), points in time, the backend's own port, lifetimes counted
//! down by a second, and the IdP's discovery and JWKS requests (each backend caches them its
//! own way).

use crate::differential::compare::Diff;

pub struct Entry {
    /// What differs and why.
    pub why: &'static str,
    /// The README section that documents it.
    pub readme: &'static str,
    pub matches: fn(&Diff) -> bool,
}

const OIDC_SECTION: &str = "Signing in with an OpenID Provider";
const PRESETS_SECTION: &str = "Okta, Auth0, OneLogin and generic OAuth2";
const GITHUB_SECTION: &str = "GitHub";

pub const ALLOWED: &[Entry] = &[
    Entry {
        why: "every response carries Cache-Control: no-store",
        readme: "Behaviour worth knowing",
        matches: |d| d.ends("cache-control") && d.stagedoor_str() == "no-store",
    },
    Entry {
        why: "no server-side session: the sealed <provider>-flow cookie instead of express-session's connect.sid",
        readme: OIDC_SECTION,
        matches: |d| {
            (d.at("cookies.connect.sid") && d.only_node())
                || (d.at(&format!("cookies.{}-flow", d.provider)) && d.only_stagedoor())
        },
    },
    Entry {
        why: "PKCE S256 always: code_challenge at the IdP's authorize, code_verifier at its token endpoint",
        readme: OIDC_SECTION,
        matches: |d| (d.at("code_challenge") || d.at("code_verifier")) && d.only_stagedoor(),
    },
    Entry {
        why: "every preset adds an OpenID nonce (authorize request, so the ID token carries it)",
        readme: PRESETS_SECTION,
        matches: |d| {
            d.provider != "oidc" && d.ends(".nonce") && !d.at("state.") && d.only_stagedoor()
        },
    },
    Entry {
        why: "a profile without a verified email tells the operator to request the email scope",
        readme: OIDC_SECTION,
        matches: |d| {
            d.node_str() == "Login failed, user profile does not contain an email"
                && d.stagedoor_str().starts_with(d.node_str())
        },
    },
    Entry {
        why: "okta: Basic client authentication (RFC 7617 `Basic <base64>`) at the token endpoint, \
              also on refresh; passport-okta-oauth sends `Basic: <base64>` and, on refresh, the \
              secret in the form",
        readme: PRESETS_SECTION,
        matches: |d| {
            d.provider == "okta"
                && d.at("/v1/token.")
                && ((d.ends(".authorization") && d.stagedoor_str().starts_with("Basic "))
                    || ((d.ends("form.client_id") || d.ends("form.client_secret"))
                        && d.only_node()))
        },
    },
    Entry {
        why: "a popup error for an origin that is not allowed is posted to the app's own origin, never to the other one",
        readme: OIDC_SECTION,
        matches: |d| {
            d.ends("popup.targetOrigin")
                && d.stagedoor_str() == crate::differential::run::APP_ORIGIN
        },
    },
    Entry {
        why: "one sign-in per start: once a callback proved its nonce, the nonce cookie is cleared (Node lets it expire)",
        readme: OIDC_SECTION,
        matches: |d| {
            d.step().ends_with("callback")
                && d.at(&format!(".cookies.{}-nonce.", d.provider))
                && d.only_stagedoor()
        },
    },
    Entry {
        why: "a replayed callback fails before the used code reaches the IdP again, so the first sign-in keeps working \
              (Node: oidc fails on its lost session state; the presets re-send the code, the IdP revokes the grant \
              and the next refresh fails)",
        readme: OIDC_SECTION,
        matches: |d| {
            d.scenario == "ReplayedCallback"
                && matches!(d.step(), "callback (replayed)" | "refresh after the replay")
        },
    },
    Entry {
        why: "oidc logout never depends on the IdP: a failed revocation is logged and audited, the cookies are \
              cleared and the answer is 200 (Node answers 500 and keeps the refresh cookie, so the next refresh \
              still signs in)",
        readme: OIDC_SECTION,
        matches: |d| {
            d.provider == "oidc"
                && d.scenario == "LogoutWhenTheIdpFails"
                && matches!(d.step(), "logout" | "refresh after logout")
        },
    },
    Entry {
        why: "a failed refresh keeps the IdP's reason where passport-oauth2 says `unknown error '[object Object]'`",
        readme: PRESETS_SECTION,
        matches: |d| {
            let lost = "unknown error '[object Object]'";
            d.node_str().contains(lost)
                && d.stagedoor_str()
                    .starts_with(d.node_str().split(lost).next().unwrap_or_default())
        },
    },
    Entry {
        why: "auth0: userinfo gets the access token in the Authorization header, not in the URL (RFC 6750 §2.3)",
        readme: PRESETS_SECTION,
        matches: |d| {
            d.provider == "auth0"
                && d.at("GET /userinfo.")
                && ((d.ends(".authorization") && d.only_stagedoor())
                    || d.ends(".query.access_token")
                    || d.ends(".query"))
        },
    },
    Entry {
        why: "auth0: a /start refused for an organization mismatch sets no nonce cookie",
        readme: PRESETS_SECTION,
        matches: |d| {
            d.provider == "auth0"
                && d.scenario == "OrganizationMismatch"
                && d.step() == "start"
                && d.at(".cookies.")
                && d.only_node()
        },
    },
    Entry {
        why: "github: a GitHub App token's expiresInSeconds is a number (Node passes on the string of \
              GitHub's form-encoded token answer; the frontend multiplies either)",
        readme: GITHUB_SECTION,
        matches: |d| {
            d.provider == "github"
                && d.ends("providerInfo.expiresInSeconds")
                && d.node
                    .as_ref()
                    .and_then(|v| v.as_str())
                    .and_then(|v| v.parse::<i64>().ok())
                    == d.stagedoor.as_ref().and_then(serde_json::Value::as_i64)
        },
    },
];

type Pending = (u32, &'static str, fn(&Diff) -> bool);

/// (issue 18 item, description, matcher)
pub const PENDING_ISSUE_18: &[Pending] = &[];

/// The entry that explains `diff`, as `allowed:<n>` or `pending:<item>`.
pub fn explain(diff: &Diff) -> Option<String> {
    if let Some(index) = ALLOWED.iter().position(|entry| (entry.matches)(diff)) {
        return Some(format!("allowed:{index}"));
    }
    PENDING_ISSUE_18
        .iter()
        .find(|(_, _, matches)| matches(diff))
        .map(|(item, _, _)| format!("pending:{item}"))
}
