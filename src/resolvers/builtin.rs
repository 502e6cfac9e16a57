//! Node's built-in sign-in resolvers (§10.2), with their exact messages.

use super::rules::RefTemplate;
use super::{
    ResolveError, Resolved, SignInInfo, failed, fallback_identity, sign_in_with_catalog_user,
};
use crate::catalog::{CatalogClient, CatalogError, UserQuery};
use crate::error::ErrorName;

#[derive(Debug, Clone)]
pub enum Resolver {
    EmailMatchingUserEntityProfileEmail {
        allow_without_catalog_user: bool,
    },
    EmailLocalPartMatchingUserEntityName {
        allowed_domains: Option<Vec<String>>,
        allow_without_catalog_user: bool,
    },
    /// Annotation `<provider>.com/email` = the profile email.
    EmailMatchingUserEntityAnnotation {
        annotation: &'static str,
        missing: &'static str,
        allow_without_catalog_user: bool,
    },
    /// Annotation = the provider's user id. GitHub also insists on an exact-case match.
    UserIdMatchingUserEntityAnnotation {
        annotation: &'static str,
        missing: &'static str,
        exact_case: bool,
        allow_without_catalog_user: bool,
    },
    UsernameMatchingUserEntityName {
        missing: &'static str,
        allow_without_catalog_user: bool,
    },
    /// The profile's display name as the User's name (OpenShift's, whose display name is the
    /// OpenShift user name); the fallback is `user:default/<name>`.
    DisplayNameMatchingUserEntityName {
        missing: &'static str,
        allow_without_catalog_user: bool,
    },
    /// stagedoor's: a user ref built from claims, looked up in the catalog, and accepted
    /// without a catalog user only when explicitly allowed.
    ClaimTemplate {
        template: RefTemplate,
        allow_without_catalog_user: bool,
    },
}

const NO_EMAIL: &str = "Login failed, user profile does not contain an email";

impl Resolver {
    pub async fn resolve(
        &self,
        info: &SignInInfo,
        catalog: &CatalogClient,
    ) -> Result<Resolved, ResolveError> {
        let email = info.profile.email.as_deref();
        match self {
            Self::EmailMatchingUserEntityProfileEmail {
                allow_without_catalog_user,
            } => {
                let email = email.ok_or_else(|| failed(ErrorName::Error, NO_EMAIL))?;
                by_profile_email(catalog, email, *allow_without_catalog_user).await
            }
            Self::EmailLocalPartMatchingUserEntityName {
                allowed_domains,
                allow_without_catalog_user,
            } => {
                let email = email.ok_or_else(|| failed(ErrorName::Error, NO_EMAIL))?;
                let (local, domain) = email.split_once('@').unwrap_or((email, ""));
                if let Some(domains) = allowed_domains
                    && !domains.iter().any(|allowed| allowed == domain)
                {
                    return Err(failed(
                        ErrorName::NotAllowedError,
                        "Sign-in user email is not from an allowed domain",
                    ));
                }
                let fallback = allow_without_catalog_user.then_some(local);
                sign_in_with_catalog_user(catalog, &UserQuery::user_named(local), fallback).await
            }
            Self::EmailMatchingUserEntityAnnotation {
                annotation,
                missing,
                allow_without_catalog_user,
            } => {
                let email = email.ok_or_else(|| failed(ErrorName::Error, *missing))?;
                let fallback = allow_without_catalog_user.then_some(email);
                let query = UserQuery::by_annotation(annotation, email);
                sign_in_with_catalog_user(catalog, &query, fallback).await
            }
            Self::UserIdMatchingUserEntityAnnotation {
                annotation,
                missing,
                exact_case,
                allow_without_catalog_user,
            } => {
                let id = info
                    .user_id
                    .as_deref()
                    .ok_or_else(|| failed(ErrorName::Error, *missing))?;
                let fallback = allow_without_catalog_user.then_some(id);
                by_user_id(catalog, annotation, id, *exact_case, fallback).await
            }
            Self::UsernameMatchingUserEntityName {
                missing,
                allow_without_catalog_user,
            } => {
                let username = info
                    .username
                    .as_deref()
                    .ok_or_else(|| failed(ErrorName::Error, *missing))?;
                let fallback = allow_without_catalog_user.then_some(username);
                sign_in_with_catalog_user(catalog, &UserQuery::user_named(username), fallback).await
            }
            Self::DisplayNameMatchingUserEntityName {
                missing,
                allow_without_catalog_user,
            } => by_display_name(catalog, info, missing, *allow_without_catalog_user).await,
            Self::ClaimTemplate {
                template,
                allow_without_catalog_user,
            } => by_template(catalog, template, info, *allow_without_catalog_user).await,
        }
    }
}

/// `emailMatchingUserEntityProfileEmail`: the email, then (as Node, even without a tag) the
/// email without its `+tag`; only that retry honours the fallback, named after it.
async fn by_profile_email(
    catalog: &CatalogClient,
    email: &str,
    allow_without_catalog_user: bool,
) -> Result<Resolved, ResolveError> {
    let by_email =
        |email: &str| UserQuery::ByFilter(vec![vec![("spec.profile.email".into(), email.into())]]);
    match sign_in_with_catalog_user(catalog, &by_email(email), None).await {
        Err(ResolveError::NotFound) => {}
        other => return other,
    }
    let Some(untagged) = untagged_email(email) else {
        return Err(ResolveError::NotFound);
    };
    let fallback = allow_without_catalog_user.then_some(untagged.as_str());
    sign_in_with_catalog_user(catalog, &by_email(&untagged), fallback).await
}

/// `displayNameMatchingUserEntityName` (OpenShift's): the display name as the User's name;
/// the fallback is `user:default/<name>`.
async fn by_display_name(
    catalog: &CatalogClient,
    info: &SignInInfo,
    missing: &'static str,
    allow_without_catalog_user: bool,
) -> Result<Resolved, ResolveError> {
    let name = info
        .profile
        .display_name
        .as_deref()
        .ok_or_else(|| failed(ErrorName::Error, missing))?;
    let fallback = format!("user:default/{name}");
    let fallback = allow_without_catalog_user.then_some(fallback.as_str());
    sign_in_with_catalog_user(catalog, &UserQuery::user_named(name), fallback).await
}

/// `userIdMatchingUserEntityAnnotation`; GitHub's compares the id's case exactly.
async fn by_user_id(
    catalog: &CatalogClient,
    annotation: &str,
    id: &str,
    exact_case: bool,
    fallback: Option<&str>,
) -> Result<Resolved, ResolveError> {
    let query = UserQuery::by_annotation(annotation, id);
    if !exact_case {
        return sign_in_with_catalog_user(catalog, &query, fallback).await;
    }
    match catalog.find_user(&query).await {
        Ok(entity)
            if entity
                .metadata
                .annotations
                .get(annotation)
                .map(String::as_str)
                == Some(id) =>
        {
            Ok(super::resolved_from_entity(&entity))
        }
        Ok(_) => Err(failed(
            ErrorName::Error,
            "GitHub user ID does not match the catalog user",
        )),
        Err(CatalogError::Conflict) => Err(failed(
            ErrorName::ConflictError,
            "User lookup resulted in multiple exact matches",
        )),
        Err(CatalogError::NotFound) => match fallback {
            Some(name) => fallback_identity(name),
            None => Err(ResolveError::NotFound),
        },
        Err(error) => Err(error.into()),
    }
}

/// `userEntityRefFromClaims`: the ref the template makes of the claims.
async fn by_template(
    catalog: &CatalogClient,
    template: &RefTemplate,
    info: &SignInInfo,
    allow_without_catalog_user: bool,
) -> Result<Resolved, ResolveError> {
    let Some(reference) = template.render(info) else {
        tracing::info!(template = %template, "claimTemplate resolver: a claim it needs is missing");
        return Err(ResolveError::NotFound);
    };
    let (kind, rest) = reference.split_once(':').unwrap_or(("user", &reference));
    let (namespace, name) = rest.split_once('/').unwrap_or(("default", rest));
    let query = UserQuery::ByRef {
        kind: kind.into(),
        namespace: namespace.into(),
        name: name.into(),
    };
    let fallback = allow_without_catalog_user.then_some(reference.as_str());
    sign_in_with_catalog_user(catalog, &query, fallback).await
}

/// `local+tag@domain` → `local@domain`, matching Node's `^([^@+]+)(\+[^@]+)?(@.*)$`.
fn untagged_email(email: &str) -> Option<String> {
    let at = email.find('@')?;
    let (before, domain) = email.split_at(at);
    let local = before.split_once('+').map_or(before, |(local, _)| local);
    if local.is_empty() || (before.len() > local.len() && before.len() == local.len() + 1) {
        return None;
    }
    Some(format!("{local}{domain}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_removed_as_node_does() {
        assert_eq!(
            untagged_email("jane+ci@example.com").as_deref(),
            Some("jane@example.com")
        );
        assert_eq!(
            untagged_email("jane@example.com").as_deref(),
            Some("jane@example.com")
        );
        assert_eq!(
            untagged_email("jane+a+b@example.com").as_deref(),
            Some("jane@example.com")
        );
        assert_eq!(untagged_email("+tag@example.com"), None);
        assert_eq!(untagged_email("jane+@example.com"), None);
        assert_eq!(untagged_email("no-at-sign"), None);
    }
}
