//! Which resolvers Node offers beyond the common ones, per provider (§10.2), with the
//! messages of each provider module's `resolvers.cjs.js`.

use super::builtin::{AnnotationKey, Resolver};

/// The resolvers Node offers only with some providers (§10.2), with their messages: a
/// resolver name another provider's module registers is "not available".
pub(super) fn provider_resolver(
    name: &str,
    provider: &str,
    allow_without_catalog_user: bool,
) -> Option<Resolver> {
    let allow = allow_without_catalog_user;
    oauth_resolver(name, provider, allow).or_else(|| proxy_resolver(name, provider, allow))
}

fn oauth_resolver(
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
                annotation: AnnotationKey::Fixed("github.com/user-id"),
                missing: Some("GitHub user profile does not contain a user ID"),
                exact_case: true,
                allow_without_catalog_user,
            }
        }
        ("userIdMatchingUserEntityAnnotation", "microsoft") => {
            Resolver::UserIdMatchingUserEntityAnnotation {
                annotation: AnnotationKey::Fixed("graph.microsoft.com/user-id"),
                missing: Some("Microsoft profile contained no id"),
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
        ("displayNameMatchingUserEntityName", "openshift") => {
            Resolver::DisplayNameMatchingUserEntityName {
                missing: "OpenShift user profile does not contain a displayName",
                allow_without_catalog_user,
            }
        }
        _ => return code_hosting_resolver(name, provider, allow_without_catalog_user),
    };
    Some(resolver)
}

/// gitlab's, bitbucket's and atlassian's own resolvers (their modules' `resolvers.cjs.js`).
fn code_hosting_resolver(
    name: &str,
    provider: &str,
    allow_without_catalog_user: bool,
) -> Option<Resolver> {
    let resolver = match (name, provider) {
        ("usernameMatchingUserEntityName", "gitlab" | "atlassian") => {
            Resolver::UsernameMatchingUserEntityName {
                missing: match provider {
                    "gitlab" => "GitLab user profile does not contain a username",
                    // Node's atlassian profile has no username: this one always fails.
                    _ => "Atlassian user profile does not contain a username",
                },
                allow_without_catalog_user,
            }
        }
        ("userIdMatchingUserEntityAnnotation", "gitlab") => {
            Resolver::UserIdMatchingUserEntityAnnotation {
                annotation: AnnotationKey::ProfileUrlHost {
                    missing: "GitLab user profile does not contain a profile URL",
                },
                missing: Some("GitLab user profile does not contain a user ID"),
                exact_case: false,
                allow_without_catalog_user,
            }
        }
        ("userIdMatchingUserEntityAnnotation", "bitbucket") => {
            Resolver::UserIdMatchingUserEntityAnnotation {
                annotation: AnnotationKey::Fixed("bitbucket.org/user-id"),
                missing: Some("Bitbucket user profile does not contain an ID"),
                exact_case: false,
                allow_without_catalog_user,
            }
        }
        ("usernameMatchingUserEntityAnnotation", "bitbucket") => {
            Resolver::UsernameMatchingUserEntityAnnotation {
                annotation: "bitbucket.org/username",
                missing: "Bitbucket user profile does not contain a Username",
                allow_without_catalog_user,
            }
        }
        _ => return None,
    };
    Some(resolver)
}

/// The proxy providers' own resolvers (issue 14). Their providers put what these read into
/// the sign-in info: oauth2-proxy's forwarded headers as claims, IAP's and Entra's user ids.
fn proxy_resolver(
    name: &str,
    provider: &str,
    allow_without_catalog_user: bool,
) -> Option<Resolver> {
    let resolver = match (name, provider) {
        ("forwardedUserMatchingUserEntityName", "oauth2Proxy") => {
            Resolver::ClaimMatchingUserEntityName {
                claim: "x-forwarded-user",
                missing: "Request did not contain a user",
                allow_without_catalog_user,
            }
        }
        ("forwardedPreferredUsernameMatchingUserEntityName", "oauth2Proxy") => {
            Resolver::ClaimMatchingUserEntityName {
                claim: "x-forwarded-preferred-username",
                missing: "Request did not contain a preferred username",
                allow_without_catalog_user,
            }
        }
        ("emailMatchingUserEntityAnnotation", "gcpIap") => {
            Resolver::EmailMatchingUserEntityAnnotation {
                annotation: "google.com/email",
                missing: "Google IAP sign-in result is missing email",
                allow_without_catalog_user,
            }
        }
        // The id is the part of `sub` after `accounts.google.com:`; a `sub` without one finds
        // nobody (Node would query every user).
        ("idMatchingUserEntityAnnotation", "gcpIap") => {
            Resolver::UserIdMatchingUserEntityAnnotation {
                annotation: AnnotationKey::Fixed("google.com/user-id"),
                missing: None,
                exact_case: false,
                allow_without_catalog_user,
            }
        }
        ("idMatchingUserEntityAnnotation", "azureEasyAuth") => {
            Resolver::UserIdMatchingUserEntityAnnotation {
                annotation: AnnotationKey::Fixed("graph.microsoft.com/user-id"),
                missing: Some("User profile contained no id"),
                exact_case: false,
                allow_without_catalog_user,
            }
        }
        _ => return None,
    };
    Some(resolver)
}
