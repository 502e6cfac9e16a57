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

pub(super) const fn case(
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

pub(super) fn plain() -> Value {
    json!({})
}

mod header_trusting;
mod signed;

/// Every case, in the order they run (some depend on what the key server has by then).
pub fn cases() -> Vec<ProxyCase> {
    let mut all = header_trusting::oauth2_proxy();
    all.extend(signed::gcp_iap());
    all.extend(signed::aws_alb());
    all.extend(signed::cf_access());
    all.extend(header_trusting::azure_easy_auth());
    all
}
