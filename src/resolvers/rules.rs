//! stagedoor's declarative claim rules: who may sign in, which IdP claims (groups, roles)
//! become ownership refs, and user refs built from claims with a template.

use std::fmt;

use regex::Regex;
use serde_json::{Map, Value};

use super::{Resolved, SignInInfo, normalize_ref};
use crate::error::Error;

/// `user:default/{email_local_part}`: text with `{name}` placeholders, filled from the
/// claims, or from `email`, `email_local_part`, `email_domain`, `username`, `user_id`.
#[derive(Debug, Clone)]
pub struct RefTemplate {
    source: String,
}

impl fmt::Display for RefTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl RefTemplate {
    /// Checks that the template closes its braces and yields an entity ref.
    pub fn parse(source: &str) -> Result<Self, String> {
        let template = Self {
            source: source.to_owned(),
        };
        let sample = template
            .fill(|_| Some("x".to_owned()))
            .ok_or_else(|| format!("\"{source}\" has an unclosed or empty {{placeholder}}"))?;
        normalize_ref(&sample)
            .map(|_| template)
            .ok_or_else(|| format!("\"{source}\" does not make an entity ref; expected e.g. user:default/{{email_local_part}}"))
    }

    /// The normalized ref, or `None` if a claim it needs is missing.
    pub fn render(&self, info: &SignInInfo) -> Option<String> {
        let rendered = self.fill(|name| placeholder_value(info, name))?;
        normalize_ref(&rendered)
    }

    fn fill(&self, mut value: impl FnMut(&str) -> Option<String>) -> Option<String> {
        let mut out = String::with_capacity(self.source.len());
        let mut rest = self.source.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let close = rest[open..].find('}')? + open;
            let name = rest[open + 1..close].trim();
            if name.is_empty() {
                return None;
            }
            out.push_str(&value(name)?);
            rest = &rest[close + 1..];
        }
        out.push_str(rest);
        Some(out)
    }
}

fn placeholder_value(info: &SignInInfo, name: &str) -> Option<String> {
    let email = info.profile.email.as_deref();
    let value = match name {
        "email" => email.map(str::to_owned),
        "email_local_part" => email
            .and_then(|e| e.split_once('@'))
            .map(|(local, _)| local.to_owned()),
        "email_domain" => email
            .and_then(|e| e.split_once('@'))
            .map(|(_, domain)| domain.to_owned()),
        "username" => info.username.clone(),
        "user_id" => info.user_id.clone(),
        claim => info.claims.get(claim).and_then(scalar),
    };
    value.filter(|value| !value.is_empty())
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// The values of a claim: a string, or each string of an array.
fn claim_values<'a>(claims: &'a Map<String, Value>, claim: &str) -> Vec<&'a str> {
    match claims.get(claim) {
        Some(Value::String(text)) => vec![text.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

#[derive(Debug, Clone)]
pub enum Matcher {
    Equals(String),
    Prefix(String),
    Regex(Regex),
}

impl Matcher {
    /// The placeholders a match offers its refs: `{value}`, and for a prefix `{rest}`,
    /// for a regex `{1}`, `{2}`, ... and named groups.
    fn matches(&self, value: &str) -> Option<Vec<(String, String)>> {
        let mut captures = vec![("value".to_owned(), value.to_owned())];
        match self {
            Self::Equals(expected) => (value == expected).then_some(captures),
            Self::Prefix(prefix) => value.strip_prefix(prefix.as_str()).map(|rest| {
                captures.push(("rest".to_owned(), rest.to_owned()));
                captures
            }),
            Self::Regex(regex) => regex.captures(value).map(|found| {
                for (index, name) in regex.capture_names().enumerate().skip(1) {
                    if let Some(group) = found.get(index) {
                        captures.push((index.to_string(), group.as_str().to_owned()));
                        if let Some(name) = name {
                            captures.push((name.to_owned(), group.as_str().to_owned()));
                        }
                    }
                }
                captures
            }),
        }
    }
}

/// A condition on one claim: any of its values matches.
#[derive(Debug, Clone)]
pub struct ClaimCondition {
    pub claim: String,
    pub matcher: Matcher,
}

impl ClaimCondition {
    fn holds(&self, claims: &Map<String, Value>) -> bool {
        claim_values(claims, &self.claim)
            .into_iter()
            .any(|value| self.matcher.matches(value).is_some())
    }
}

#[derive(Debug, Clone)]
pub struct OwnershipRule {
    pub condition: ClaimCondition,
    /// Refs with placeholders from the match (`{value}`, `{rest}`, `{1}`, named groups).
    pub refs: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OwnershipMode {
    /// Add the refs the rules produce to the catalog's ownership.
    #[default]
    Add,
    /// Use only the user's own ref and the refs the rules produce.
    Replace,
}

#[derive(Debug, Clone, Default)]
pub struct ClaimRules {
    pub allow: Vec<ClaimCondition>,
    pub deny: Vec<ClaimCondition>,
    pub refused_message: Option<String>,
    pub ownership_mode: OwnershipMode,
    pub ownership: Vec<OwnershipRule>,
}

const DEFAULT_REFUSAL: &str = "You are not allowed to sign in to Backstage with this account; ask your administrator for access";

impl ClaimRules {
    /// Allow rules: at least one must hold (when there are any); deny rules: none may.
    pub fn check_access(&self, claims: &Map<String, Value>) -> Result<(), Error> {
        let allowed = self.allow.is_empty() || self.allow.iter().any(|rule| rule.holds(claims));
        let denied = self.deny.iter().any(|rule| rule.holds(claims));
        if allowed && !denied {
            return Ok(());
        }
        let message = self
            .refused_message
            .clone()
            .unwrap_or_else(|| DEFAULT_REFUSAL.to_owned());
        Err(Error::not_allowed(message))
    }

    pub fn apply_ownership(&self, mut resolved: Resolved, claims: &Map<String, Value>) -> Resolved {
        if self.ownership.is_empty() {
            return resolved;
        }
        if self.ownership_mode == OwnershipMode::Replace {
            resolved.ownership_refs = vec![resolved.user_entity_ref.clone()];
        }
        for rule in &self.ownership {
            for value in claim_values(claims, &rule.condition.claim) {
                let Some(captures) = rule.condition.matcher.matches(value) else {
                    continue;
                };
                for reference in &rule.refs {
                    let filled = fill_captures(reference, &captures);
                    match normalize_group_ref(&filled) {
                        Some(normalized) if !resolved.ownership_refs.contains(&normalized) => {
                            resolved.ownership_refs.push(normalized);
                        }
                        Some(_) => {}
                        None => {
                            tracing::warn!(claim = %rule.condition.claim, "an ownership rule produced \"{filled}\", which is not an entity ref; skipped")
                        }
                    }
                }
            }
        }
        resolved
    }
}

fn fill_captures(template: &str, captures: &[(String, String)]) -> String {
    captures
        .iter()
        .fold(template.to_owned(), |text, (name, value)| {
            text.replace(&format!("{{{name}}}"), value)
        })
}

/// Ownership refs without a kind are groups: `team-a` → `group:default/team-a`.
pub(super) fn normalize_group_ref(value: &str) -> Option<String> {
    if value.contains(':') {
        normalize_ref(value)
    } else {
        normalize_ref(&format!("group:{value}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn condition(claim: &str, matcher: Matcher) -> ClaimCondition {
        ClaimCondition {
            claim: claim.into(),
            matcher,
        }
    }

    #[test]
    fn templates_fill_from_email_and_claims() {
        let info = SignInInfo {
            profile: crate::identity::Profile {
                email: Some("Jane.Doe@Example.com".into()),
                ..Default::default()
            },
            claims: claims(json!({"preferred_username": "jdoe", "tenant": "Acme"})),
            ..Default::default()
        };
        let render = |t: &str| RefTemplate::parse(t).unwrap().render(&info);
        assert_eq!(
            render("user:default/{email_local_part}").as_deref(),
            Some("user:default/jane.doe")
        );
        assert_eq!(
            render("{preferred_username}").as_deref(),
            Some("user:default/jdoe")
        );
        assert_eq!(
            render("user:{tenant}/{ preferred_username }").as_deref(),
            Some("user:acme/jdoe")
        );
        assert_eq!(render("user:default/{missing_claim}"), None);
        assert!(RefTemplate::parse("user:default/{unclosed").is_err());
        assert!(RefTemplate::parse("user:default/{}").is_err());
        assert!(RefTemplate::parse("a/b/c/{x}").is_err());
    }

    #[test]
    fn ownership_rules_match_exactly_by_prefix_and_by_regex() {
        let rules = ClaimRules {
            ownership: vec![
                OwnershipRule {
                    condition: condition("groups", Matcher::Equals("admins".into())),
                    refs: vec!["group:default/platform".into()],
                },
                OwnershipRule {
                    condition: condition("groups", Matcher::Prefix("bs-".into())),
                    refs: vec!["{rest}".into()],
                },
                OwnershipRule {
                    condition: condition(
                        "https://example.com/roles",
                        Matcher::Regex(Regex::new("^team:(?P<team>.+)$").unwrap()),
                    ),
                    refs: vec![
                        "group:default/{team}".into(),
                        "group:default/{1}-leads".into(),
                    ],
                },
            ],
            ..Default::default()
        };
        let resolved = Resolved {
            user_entity_ref: "user:default/jane".into(),
            ownership_refs: vec![
                "user:default/jane".into(),
                "group:default/from-catalog".into(),
            ],
        };
        let claims = claims(
            json!({"groups": ["admins", "bs-Team-A", "other"], "https://example.com/roles": "team:Web"}),
        );
        let out = rules.apply_ownership(resolved.clone(), &claims);
        assert_eq!(
            out.ownership_refs,
            [
                "user:default/jane",
                "group:default/from-catalog",
                "group:default/platform",
                "group:default/team-a",
                "group:default/web",
                "group:default/web-leads"
            ]
        );

        let replace = ClaimRules {
            ownership_mode: OwnershipMode::Replace,
            ..rules
        };
        let out = replace.apply_ownership(resolved, &claims);
        assert_eq!(
            out.ownership_refs,
            [
                "user:default/jane",
                "group:default/platform",
                "group:default/team-a",
                "group:default/web",
                "group:default/web-leads"
            ]
        );
    }

    #[test]
    fn allow_and_deny_rules() {
        let rules = ClaimRules {
            allow: vec![condition(
                "groups",
                Matcher::Equals("backstage-users".into()),
            )],
            deny: vec![condition("groups", Matcher::Prefix("contractor".into()))],
            refused_message: Some("Only members of backstage-users may sign in".into()),
            ..Default::default()
        };
        assert!(
            rules
                .check_access(&claims(json!({"groups": ["x", "backstage-users"]})))
                .is_ok()
        );
        let refused = rules
            .check_access(&claims(json!({"groups": ["x"]})))
            .unwrap_err();
        assert_eq!(
            refused.message,
            "Only members of backstage-users may sign in"
        );
        assert_eq!(refused.name, crate::error::ErrorName::NotAllowedError);
        assert!(
            rules
                .check_access(&claims(
                    json!({"groups": ["backstage-users", "contractors"]})
                ))
                .is_err()
        );
        assert!(rules.check_access(&claims(json!({}))).is_err());
        assert!(
            ClaimRules::default()
                .check_access(&claims(json!({})))
                .is_ok()
        );
    }
}
