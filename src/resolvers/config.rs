//! Parsing a provider environment's `signIn` block: Node's resolvers (with its availability
//! matrix and start-up errors) and stagedoor's claim rules.
//!
//! ```yaml
//! signIn:
//!   resolvers:
//!     - resolver: emailMatchingUserEntityProfileEmail
//!     - resolver: userEntityRefFromClaims          # stagedoor
//!       template: user:default/{email_local_part}
//!       dangerouslyAllowSignInWithoutUserInCatalog: true
//!   claimRules:                                     # stagedoor
//!     allow: [{ claim: groups, equals: backstage-users }]
//!     deny: [{ claim: groups, prefix: contractor- }]
//!     refusedMessage: Only members of backstage-users may sign in
//!     ownership:
//!       mode: add                                   # or replace
//!       rules:
//!         - { claim: groups, regex: '^team-(.+)$', refs: ['group:default/{1}'] }
//! ```

use figment::value::{Dict, Value};

use super::SignIn;
use super::builtin::Resolver;
use super::parser::{Parser, string_list};
use super::rules::RefTemplate;
use crate::section::Problem;

/// Parses `signIn` (the value at `path`) for `provider`.
pub fn parse_sign_in(
    provider: &str,
    path: &str,
    value: Option<&Value>,
) -> Result<SignIn, Vec<Problem>> {
    let mut parser = Parser {
        base: path,
        problems: Vec::new(),
    };
    let Some(value) = value else {
        return Ok(SignIn::default());
    };
    let Some(dict) = value.as_dict() else {
        parser.problem("", "must be an object with a `resolvers` list");
        return Err(parser.problems);
    };
    let mut sign_in = SignIn::default();
    if let Some(resolvers) = dict.get("resolvers") {
        match resolvers.as_array() {
            Some(items) => {
                for (index, item) in items.iter().enumerate() {
                    if let Some(resolver) = resolver(&mut parser, provider, index, item) {
                        sign_in.resolvers.push(resolver);
                    }
                }
            }
            None => parser.problem(
                "resolvers",
                "must be a list of { resolver: <name> } entries",
            ),
        }
    }
    if let Some(rules) = dict.get("claimRules") {
        sign_in.rules = super::claim_config::claim_rules(&mut parser, rules);
    }
    if parser.problems.is_empty() {
        Ok(sign_in)
    } else {
        Err(parser.problems)
    }
}

fn resolver(
    parser: &mut Parser<'_>,
    provider: &str,
    index: usize,
    item: &Value,
) -> Option<Resolver> {
    let at = format!("resolvers.{index}");
    let Some(options) = item.as_dict() else {
        parser.problem(
            &at,
            "must be an object like { resolver: emailMatchingUserEntityProfileEmail }",
        );
        return None;
    };
    let Some(name) = options.get("resolver").and_then(Value::as_str) else {
        parser.problem(
            &format!("{at}.resolver"),
            "is required: the name of a sign-in resolver",
        );
        return None;
    };
    let invalid = |parser: &mut Parser<'_>, key: &str, expected: &str| {
        parser.problem(
            &format!("{at}.{key}"),
            format!("Invalid sign-in resolver options, {key} must be {expected}"),
        );
    };
    let allow_without_catalog_user = match options.get("dangerouslyAllowSignInWithoutUserInCatalog")
    {
        None => false,
        Some(value) => value.to_bool().unwrap_or_else(|| {
            invalid(
                parser,
                "dangerouslyAllowSignInWithoutUserInCatalog",
                "a boolean",
            );
            false
        }),
    };
    let resolver = match (name, provider) {
        ("emailMatchingUserEntityProfileEmail", _) => {
            Resolver::EmailMatchingUserEntityProfileEmail {
                allow_without_catalog_user,
            }
        }
        ("emailLocalPartMatchingUserEntityName", _) => {
            Resolver::EmailLocalPartMatchingUserEntityName {
                allowed_domains: string_list(options, "allowedDomains").unwrap_or_else(|()| {
                    invalid(parser, "allowedDomains", "a list of strings");
                    None
                }),
                allow_without_catalog_user,
            }
        }
        ("userEntityRefFromClaims", _) => {
            claim_template(parser, &at, options, allow_without_catalog_user)?
        }
        (name, provider) => match provider_resolver(name, provider, allow_without_catalog_user) {
            Some(resolver) => resolver,
            None => {
                parser.problem(
                    &format!("{at}.resolver"),
                    format!("Sign-in resolver '{name}' is not available"),
                );
                return None;
            }
        },
    };
    Some(resolver)
}

/// `userEntityRefFromClaims` (stagedoor's): a ref built from the IdP's claims.
fn claim_template(
    parser: &mut Parser<'_>,
    at: &str,
    options: &Dict,
    allow_without_catalog_user: bool,
) -> Option<Resolver> {
    let template = options
        .get("template")
        .and_then(Value::as_str)
        .map(RefTemplate::parse);
    match template {
        Some(Ok(template)) => Some(Resolver::ClaimTemplate {
            template,
            allow_without_catalog_user,
        }),
        Some(Err(message)) => {
            parser.problem(&format!("{at}.template"), message);
            None
        }
        None => {
            parser.problem(
                &format!("{at}.template"),
                "is required, e.g. user:default/{email_local_part}",
            );
            None
        }
    }
}

/// The resolvers Node offers only with some providers (§10.2), with their messages.
fn provider_resolver(
    name: &str,
    provider: &str,
    allow_without_catalog_user: bool,
) -> Option<Resolver> {
    let resolver = match (name, provider) {
        ("emailMatchingUserEntityAnnotation", "google" | "microsoft" | "okta") => {
            let (annotation, missing) = match provider {
                "google" => ("google.com/email", "Google profile contained no email"),
                "microsoft" => (
                    "microsoft.com/email",
                    "Microsoft profile contained no email",
                ),
                _ => ("okta.com/email", "Okta profile contained no email"),
            };
            Resolver::EmailMatchingUserEntityAnnotation {
                annotation,
                missing,
                allow_without_catalog_user,
            }
        }
        ("userIdMatchingUserEntityAnnotation", "github") => {
            Resolver::UserIdMatchingUserEntityAnnotation {
                annotation: "github.com/user-id",
                missing: "GitHub user profile does not contain a user ID",
                exact_case: true,
                allow_without_catalog_user,
            }
        }
        ("userIdMatchingUserEntityAnnotation", "microsoft") => {
            Resolver::UserIdMatchingUserEntityAnnotation {
                annotation: "graph.microsoft.com/user-id",
                missing: "Microsoft profile contained no id",
                exact_case: false,
                allow_without_catalog_user,
            }
        }
        ("usernameMatchingUserEntityName", "github" | "onelogin" | "oauth2") => {
            let missing = match provider {
                "github" => "GitHub user profile does not contain a username",
                "onelogin" => "OneLogin user profile does not contain a username",
                _ => "Oauth2 user profile does not contain a username",
            };
            Resolver::UsernameMatchingUserEntityName {
                missing,
                allow_without_catalog_user,
            }
        }
        _ => return None,
    };
    Some(resolver)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolvers::OwnershipMode;

    fn parse(provider: &str, yaml: &str) -> Result<SignIn, Vec<Problem>> {
        let data = <figment::providers::Yaml as figment::providers::Format>::string(yaml);
        let dict = figment::Provider::data(&data)
            .unwrap()
            .remove(&figment::Profile::Default)
            .unwrap();
        parse_sign_in(
            provider,
            "auth.providers.p.development.signIn",
            dict.get("signIn"),
        )
    }

    fn messages(result: Result<SignIn, Vec<Problem>>) -> Vec<String> {
        result
            .err()
            .unwrap()
            .into_iter()
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect()
    }

    #[test]
    fn the_availability_matrix_is_nodes() {
        for (provider, name, ok) in [
            ("oidc", "emailMatchingUserEntityProfileEmail", true),
            ("oidc", "emailLocalPartMatchingUserEntityName", true),
            ("oidc", "preferredUsernameMatchingUserEntityName", false),
            ("oidc", "emailMatchingUserEntityAnnotation", false),
            ("okta", "emailMatchingUserEntityAnnotation", true),
            ("google", "emailMatchingUserEntityAnnotation", true),
            ("auth0", "usernameMatchingUserEntityName", false),
            ("onelogin", "usernameMatchingUserEntityName", true),
            ("oauth2", "usernameMatchingUserEntityName", true),
            ("github", "userIdMatchingUserEntityAnnotation", true),
            ("microsoft", "userIdMatchingUserEntityAnnotation", true),
            ("okta", "userIdMatchingUserEntityAnnotation", false),
        ] {
            let result = parse(
                provider,
                &format!("signIn:\n  resolvers:\n    - resolver: {name}\n"),
            );
            assert_eq!(result.is_ok(), ok, "{provider} {name}");
            if !ok {
                assert_eq!(
                    messages(result),
                    [format!(
                        "auth.providers.p.development.signIn.resolvers.0.resolver: Sign-in resolver '{name}' is not available"
                    )]
                );
            }
        }
    }

    #[test]
    fn options_are_checked() {
        let problems = messages(parse(
            "oidc",
            "signIn:\n  resolvers:\n    - resolver: emailLocalPartMatchingUserEntityName\n      allowedDomains: example.com\n      dangerouslyAllowSignInWithoutUserInCatalog: maybe\n",
        ));
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("Invalid sign-in resolver options, dangerouslyAllowSignInWithoutUserInCatalog must be a boolean"));
        assert!(
            problems[1].contains("resolvers.0.allowedDomains: Invalid sign-in resolver options")
        );
        let problems = messages(parse(
            "oidc",
            "signIn:\n  resolvers:\n    - resolver: userEntityRefFromClaims\n      template: 'a/b/c'\n",
        ));
        assert!(
            problems[0].contains("resolvers.0.template: \"a/b/c\" does not make an entity ref"),
            "{problems:?}"
        );
    }

    #[test]
    fn claim_rules_are_checked() {
        let yaml = "signIn:\n  claimRules:\n    allow: [{ claim: groups }]\n    deny: [{ claim: groups, regex: '(' }]\n    ownership:\n      mode: merge\n      rules: [{ claim: groups, equals: a, prefix: b, refs: [x] }, { claim: roles, equals: r }]\n    extra: 1\n";
        let problems = messages(parse("oidc", yaml));
        let expected = [
            "signIn.claimRules.extra: unknown key",
            "signIn.claimRules.allow.0: needs exactly one of equals, prefix or regex",
            "signIn.claimRules.deny.0.regex: is not a valid regular expression",
            "signIn.claimRules.ownership.mode: \"merge\" is not a mode",
            "signIn.claimRules.ownership.rules.0: needs exactly one of equals, prefix or regex",
            "signIn.claimRules.ownership.rules.1.refs: needs a list of entity refs",
        ];
        for part in expected {
            assert!(
                problems.iter().any(|p| p.contains(part)),
                "missing {part:?} in {problems:?}"
            );
        }
    }

    #[test]
    fn a_valid_block_parses() {
        let yaml = "signIn:\n  resolvers:\n    - resolver: emailMatchingUserEntityProfileEmail\n    - resolver: userEntityRefFromClaims\n      template: 'user:default/{email_local_part}'\n      dangerouslyAllowSignInWithoutUserInCatalog: true\n  claimRules:\n    allow: [{ claim: groups, equals: backstage-users }]\n    ownership:\n      mode: replace\n      rules:\n        - { claim: groups, regex: '^team-(.+)$', refs: ['group:default/{1}'] }\n";
        let sign_in = parse("oidc", yaml).unwrap();
        assert_eq!(sign_in.resolvers.len(), 2);
        assert_eq!(sign_in.rules.allow.len(), 1);
        assert_eq!(sign_in.rules.ownership_mode, OwnershipMode::Replace);
        assert!(parse("oidc", "other: 1\n").unwrap().resolvers.is_empty());
    }
}
