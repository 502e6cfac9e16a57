//! Sign-in resolvers (§10): who a signed-in person is in Backstage. Node's built-in resolvers,
//! tried in order with Node's semantics (not found → next, anything else stops), plus
//! stagedoor's declarative claim rules (allow/deny, ownership from IdP claims, refs built
//! from claims).

mod builtin;
mod claim_config;
mod config;
mod parser;
mod rules;

use std::borrow::Cow;

use serde_json::{Map, Value};

pub use builtin::Resolver;
pub use config::parse_sign_in;
pub use rules::{ClaimRules, OwnershipMode, RefTemplate};

use crate::catalog::{CatalogClient, CatalogError, Entity, UserQuery};
use crate::entity_ref::EntityRef;
use crate::error::{Error, ErrorName};
use crate::identity::Profile;

pub const UNRESOLVED: &str = "Failed to sign-in, unable to resolve user identity. Please verify that your catalog contains the expected User entities that would match your configured sign-in resolver.";

/// What the provider knows about the person signing in.
#[derive(Debug, Clone, Default)]
pub struct SignInInfo {
    pub profile: Profile,
    /// The provider's user name (GitHub login, OneLogin `preferred_username`, ...).
    pub username: Option<String>,
    /// The provider's stable user id (GitHub node id, Microsoft Graph id, ...).
    pub user_id: Option<String>,
    /// The id_token and userinfo claims, for claim rules and templates.
    pub claims: Map<String, Value>,
}

/// The Backstage identity a resolver chain settled on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub user_entity_ref: String,
    pub ownership_refs: Vec<String>,
}

/// Why a resolver did not produce an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// Try the next resolver.
    NotFound,
    /// Stop: sign-in fails with this error.
    Failed(Error),
}

impl From<CatalogError> for ResolveError {
    fn from(error: CatalogError) -> Self {
        match error {
            CatalogError::NotFound => Self::NotFound,
            CatalogError::Conflict => {
                Self::Failed(Error::new(ErrorName::ConflictError, error.to_string()))
            }
            CatalogError::Unavailable(detail) => Self::Failed(catalog_unavailable(&detail)),
        }
    }
}

pub fn catalog_unavailable(detail: &str) -> Error {
    Error::new(
        ErrorName::ServiceUnavailableError,
        format!(
            "Sign-in failed because the catalog could not be reached to look up the user ({detail}); try again shortly"
        ),
    )
}

fn failed(name: ErrorName, message: impl Into<Cow<'static, str>>) -> ResolveError {
    ResolveError::Failed(Error::new(name, message))
}

/// A provider environment's sign-in configuration.
#[derive(Debug, Clone, Default)]
pub struct SignIn {
    pub resolvers: Vec<Resolver>,
    pub rules: ClaimRules,
}

impl SignIn {
    /// Whether any resolver is configured (without one, a provider issues no Backstage token).
    pub fn is_configured(&self) -> bool {
        !self.resolvers.is_empty()
    }

    pub async fn resolve(
        &self,
        info: &SignInInfo,
        catalog: &CatalogClient,
    ) -> Result<Resolved, Error> {
        self.rules.check_access(&info.claims)?;
        for resolver in &self.resolvers {
            match resolver.resolve(info, catalog).await {
                Ok(resolved) => return Ok(self.rules.apply_ownership(resolved, &info.claims)),
                Err(ResolveError::NotFound) => continue,
                Err(ResolveError::Failed(error)) => return Err(error),
            }
        }
        Err(Error::new(ErrorName::Error, UNRESOLVED))
    }
}

/// `signInWithCatalogUser`: the catalog's user, or (when a fallback is allowed) a user that
/// exists only in the token.
pub async fn sign_in_with_catalog_user(
    catalog: &CatalogClient,
    query: &UserQuery,
    fallback: Option<&str>,
) -> Result<Resolved, ResolveError> {
    match catalog.find_user(query).await {
        Ok(entity) => Ok(resolved_from_entity(&entity)),
        Err(CatalogError::NotFound) => match fallback {
            Some(name) => fallback_identity(name),
            None => Err(ResolveError::NotFound),
        },
        Err(error) => Err(error.into()),
    }
}

pub(crate) fn resolved_from_entity(entity: &Entity) -> Resolved {
    Resolved {
        user_entity_ref: entity.entity_ref(),
        ownership_refs: entity.ownership_refs(),
    }
}

/// A user outside the catalog: `user:default/<name>` (lower-cased), owning only itself.
pub(crate) fn fallback_identity(name: &str) -> Result<Resolved, ResolveError> {
    let user_entity_ref = normalize_ref(name).ok_or_else(|| {
        failed(
            ErrorName::Error,
            "\"sub\" claim provided by the auth resolver is not a valid EntityRef.",
        )
    })?;
    Ok(Resolved {
        ownership_refs: vec![user_entity_ref.clone()],
        user_entity_ref,
    })
}

/// `stringifyEntityRef(parseEntityRef(value, {defaultKind: user, defaultNamespace: default}))`.
pub fn normalize_ref(value: &str) -> Option<String> {
    let with_kind = if value.contains(':') {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(format!("user:{value}"))
    };
    EntityRef::parse_with_kind(&with_kind)
        .ok()
        .map(|parsed| parsed.to_normalized_string())
}
