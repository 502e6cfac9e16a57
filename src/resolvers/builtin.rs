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
    /// Without an id: `missing` as the error, or (`None`) nobody found.
    UserIdMatchingUserEntityAnnotation {
        annotation: AnnotationKey,
        missing: Option<&'static str>,
        exact_case: bool,
        allow_without_catalog_user: bool,
    },
    /// Annotation = the provider's user name (Bitbucket's `bitbucket.org/username`).
    UsernameMatchingUserEntityAnnotation {
        annotation: &'static str,
        missing: &'static str,
        allow_without_catalog_user: bool,
    },
    UsernameMatchingUserEntityName {
        missing: &'static str,
        allow_without_catalog_user: bool,
    },
    /// The user named by a claim (oauth2-proxy's forwarded user or preferred username).
    ClaimMatchingUserEntityName {
        claim: &'static str,
        missing: &'static str,
        allow_without_catalog_user: bool,
    },
    /// The AWS ALB module's own `emailMatchingUserEntityProfileEmail`: `kind=User` first, no
    /// `+tag` retry, the whole email as the fallback name.
    AlbEmailMatchingUserEntityProfileEmail {
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

/// The annotation a user id is looked up by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnnotationKey {
    Fixed(&'static str),
    /// `<host of the profile URL>/user-id`: GitLab's own idea of its URL (`gitlab.com/user-id`),
    /// and the message for a profile without one.
    ProfileUrlHost {
        missing: &'static str,
    },
}

impl AnnotationKey {
    fn key(&self, info: &SignInInfo) -> Result<String, ResolveError> {
        match self {
            Self::Fixed(annotation) => Ok((*annotation).to_owned()),
            Self::ProfileUrlHost { missing } => info
                .profile_url
                .as_deref()
                .and_then(|url| url::Url::parse(url).ok())
                .and_then(|url| url.host_str().map(|host| format!("{host}/user-id")))
                .ok_or_else(|| failed(ErrorName::Error, *missing)),
        }
    }
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
                let id = match (info.user_id.as_deref(), missing) {
                    (Some(id), _) => id,
                    (None, Some(missing)) => return Err(failed(ErrorName::Error, *missing)),
                    (None, None) => return Err(ResolveError::NotFound),
                };
                let annotation = annotation.key(info)?;
                let fallback = allow_without_catalog_user.then_some(id);
                by_user_id(catalog, &annotation, id, *exact_case, fallback).await
            }
            Self::UsernameMatchingUserEntityAnnotation {
                annotation,
                missing,
                allow_without_catalog_user,
            } => {
                let username = info
                    .username
                    .as_deref()
                    .ok_or_else(|| failed(ErrorName::Error, *missing))?;
                let fallback = allow_without_catalog_user.then_some(username);
                let query = UserQuery::by_annotation(annotation, username);
                sign_in_with_catalog_user(catalog, &query, fallback).await
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
            Self::ClaimMatchingUserEntityName {
                claim,
                missing,
                allow_without_catalog_user,
            } => by_claim_name(catalog, info, claim, missing, *allow_without_catalog_user).await,
            Self::AlbEmailMatchingUserEntityProfileEmail {
                allow_without_catalog_user,
            } => {
                let email = email.ok_or_else(|| failed(ErrorName::Error, NO_EMAIL))?;
                alb_by_email(catalog, email, *allow_without_catalog_user).await
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

/// The user named by a claim (oauth2-proxy's forwarded user or preferred username).
async fn by_claim_name(
    catalog: &CatalogClient,
    info: &SignInInfo,
    claim: &str,
    missing: &'static str,
    allow_without_catalog_user: bool,
) -> Result<Resolved, ResolveError> {
    let name = info
        .claims
        .get(claim)
        .and_then(serde_json::Value::as_str)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| failed(ErrorName::Error, missing))?;
    let fallback = allow_without_catalog_user.then_some(name);
    sign_in_with_catalog_user(catalog, &UserQuery::user_named(name), fallback).await
}

/// The AWS ALB module's `emailMatchingUserEntityProfileEmail`.
async fn alb_by_email(
    catalog: &CatalogClient,
    email: &str,
    allow_without_catalog_user: bool,
) -> Result<Resolved, ResolveError> {
    let query = UserQuery::ByFilter(vec![vec![
        ("kind".into(), "User".into()),
        ("spec.profile.email".into(), email.into()),
    ]]);
    let fallback = allow_without_catalog_user.then_some(email);
    sign_in_with_catalog_user(catalog, &query, fallback).await
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
    fn gitlab_annotations_are_named_after_the_profile_urls_host() {
        let key = AnnotationKey::ProfileUrlHost {
            missing: "GitLab user profile does not contain a profile URL",
        };
        let info = |url: Option<&str>| SignInInfo {
            profile_url: url.map(str::to_owned),
            ..SignInInfo::default()
        };
        let named = key.key(&info(Some("https://gitlab.example.com:8443/alice")));
        assert_eq!(named, Ok("gitlab.example.com/user-id".to_owned()));
        for missing in [None, Some("not a url")] {
            match key.key(&info(missing)) {
                Err(ResolveError::Failed(error)) => {
                    assert_eq!(
                        error.message,
                        "GitLab user profile does not contain a profile URL"
                    );
                }
                other => panic!("{other:?}"),
            }
        }
        let fixed = AnnotationKey::Fixed("bitbucket.org/user-id").key(&info(None));
        assert_eq!(fixed, Ok("bitbucket.org/user-id".to_owned()));
    }

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
