//! Parsing `signIn.claimRules` (stagedoor's): who may sign in, and IdP groups as ownership.

use figment::value::Value;
use regex::Regex;

use super::parser::{Parser, string_list};
use super::rules::{
    ClaimCondition, ClaimRules, Matcher, OwnershipMode, OwnershipRule, normalize_group_ref,
};

pub(super) fn claim_rules(parser: &mut Parser<'_>, value: &Value) -> ClaimRules {
    let mut rules = ClaimRules::default();
    let Some(dict) = value.as_dict() else {
        parser.problem(
            "claimRules",
            "must be an object with allow, deny, refusedMessage and ownership",
        );
        return rules;
    };
    for key in dict.keys() {
        if !matches!(
            key.as_str(),
            "allow" | "deny" | "refusedMessage" | "ownership"
        ) {
            parser.problem(
                &format!("claimRules.{key}"),
                "unknown key; use allow, deny, refusedMessage or ownership",
            );
        }
    }
    rules.allow = conditions(parser, dict.get("allow"), "claimRules.allow");
    rules.deny = conditions(parser, dict.get("deny"), "claimRules.deny");
    rules.refused_message = dict
        .get("refusedMessage")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(ownership) = dict.get("ownership").and_then(Value::as_dict) {
        rules.ownership_mode = match ownership.get("mode").and_then(Value::as_str) {
            None | Some("add") => OwnershipMode::Add,
            Some("replace") => OwnershipMode::Replace,
            Some(other) => {
                parser.problem(
                    "claimRules.ownership.mode",
                    format!("\"{other}\" is not a mode; use add or replace"),
                );
                OwnershipMode::Add
            }
        };
        let items = ownership
            .get("rules")
            .and_then(Value::as_array)
            .unwrap_or_default();
        for (index, item) in items.iter().enumerate() {
            let at = format!("claimRules.ownership.rules.{index}");
            let Some(condition) = condition(parser, item, &at) else {
                continue;
            };
            let refs = item
                .as_dict()
                .and_then(|d| string_list(d, "refs").ok().flatten())
                .unwrap_or_default();
            if refs.is_empty() {
                parser.problem(
                    &format!("{at}.refs"),
                    "needs a list of entity refs, e.g. ['group:default/{value}']",
                );
            }
            for (position, reference) in refs.iter().enumerate() {
                let sample = reference.replace(['{', '}'], "");
                if normalize_group_ref(&sample).is_none() {
                    parser.problem(&format!("{at}.refs.{position}"), format!("\"{reference}\" is not an entity ref template, e.g. group:default/{{value}}"));
                }
            }
            rules.ownership.push(OwnershipRule { condition, refs });
        }
    }
    rules
}

fn conditions(parser: &mut Parser<'_>, value: Option<&Value>, at: &str) -> Vec<ClaimCondition> {
    let Some(value) = value else {
        return Vec::new();
    };
    let Some(items) = value.as_array() else {
        parser.problem(
            at,
            "must be a list of { claim, equals | prefix | regex } conditions",
        );
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(index, item)| condition(parser, item, &format!("{at}.{index}")))
        .collect()
}

fn condition(parser: &mut Parser<'_>, item: &Value, at: &str) -> Option<ClaimCondition> {
    let dict = item.as_dict();
    let text = |key: &str| dict.and_then(|d| d.get(key)).and_then(Value::as_str);
    let Some(claim) = text("claim") else {
        parser.problem(
            &format!("{at}.claim"),
            "is required: the claim to test, e.g. groups",
        );
        return None;
    };
    let matcher = match (text("equals"), text("prefix"), text("regex")) {
        (Some(value), None, None) => Matcher::Equals(value.to_owned()),
        (None, Some(prefix), None) => Matcher::Prefix(prefix.to_owned()),
        (None, None, Some(pattern)) => match Regex::new(pattern) {
            Ok(regex) => Matcher::Regex(regex),
            Err(error) => {
                parser.problem(
                    &format!("{at}.regex"),
                    format!("is not a valid regular expression: {error}"),
                );
                return None;
            }
        },
        _ => {
            parser.problem(at, "needs exactly one of equals, prefix or regex");
            return None;
        }
    };
    Some(ClaimCondition {
        claim: claim.to_owned(),
        matcher,
    })
}
