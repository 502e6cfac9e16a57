//! The guest provider (§3.5, §10.6): a proxy provider with no flow; `/refresh` signs in.

use crate::catalog::{CatalogClient, UserQuery};
use crate::clock::SharedClock;
use crate::entity_ref::EntityRef;
use crate::error::Error;
use crate::identity::{BackstageIdentityResponse, Profile, SignInResult};
use crate::resolvers::sign_in_with_catalog_user;
use crate::section::Section;
use crate::tokens::TokenIssuer;

const DEFAULT_GUEST_REF: &str = "user:development/guest";

/// `auth.providers.guest`.
#[derive(Debug, Clone)]
pub struct GuestSettings {
    pub user_entity_ref: String,
    pub ownership_entity_refs: Vec<String>,
    pub allow_outside_development: bool,
}

/// Reads `auth.providers.guest` (every key optional).
pub fn settings(reader: &mut Section<'_>) -> GuestSettings {
    let user_entity_ref = reader
        .string("userEntityRef")
        .unwrap_or_else(|| DEFAULT_GUEST_REF.to_owned());
    check_ref(reader, "userEntityRef", &user_entity_ref);
    let ownership_entity_refs = match reader.value("ownershipEntityRefs") {
        None => vec![user_entity_ref.clone()],
        Some(value) => match value.as_array() {
            Some(items) => items
                .iter()
                .map(|item| item.as_str().unwrap_or_default().to_owned())
                .collect(),
            None => {
                reader.problem("ownershipEntityRefs", "must be a list of entity refs");
                Vec::new()
            }
        },
    };
    for (index, entity_ref) in ownership_entity_refs.iter().enumerate() {
        check_ref(reader, &format!("ownershipEntityRefs.{index}"), entity_ref);
    }
    GuestSettings {
        user_entity_ref,
        ownership_entity_refs,
        allow_outside_development: reader
            .bool("dangerouslyAllowOutsideDevelopment")
            .unwrap_or(false),
    }
}

fn check_ref(reader: &mut Section<'_>, key: &str, value: &str) {
    if EntityRef::parse_with_kind(value).is_err() {
        reader.problem(key, format!("\"{value}\" is not an entity ref; expected kind:namespace/name, e.g. user:default/guest"));
    }
}

const OUTSIDE_DEVELOPMENT: &str = "The guest provider cannot be used outside of a development environment unless 'auth.providers.guest.dangerouslyAllowOutsideDevelopment' is enabled";

impl GuestProvider {
    fn query(&self) -> Option<UserQuery> {
        let parsed = EntityRef::parse_with_kind(&self.settings.user_entity_ref).ok()?;
        Some(UserQuery::ByRef {
            kind: parsed.kind,
            namespace: parsed.namespace,
            name: parsed.name,
        })
    }
}

pub struct GuestProvider {
    settings: GuestSettings,
    development: bool,
    clock: SharedClock,
}

impl GuestProvider {
    pub fn new(settings: GuestSettings, development: bool, clock: SharedClock) -> Self {
        Self {
            settings,
            development,
            clock,
        }
    }

    pub async fn refresh(
        &self,
        issuer: &TokenIssuer,
        catalog: &CatalogClient,
    ) -> Result<SignInResult, Error> {
        if !self.development && !self.settings.allow_outside_development {
            return Err(Error::not_allowed(OUTSIDE_DEVELOPMENT));
        }
        // The catalog's user if there is one (real ownership); on any error the configured
        // identity, verbatim, as Node does.
        let from_catalog = match self.query() {
            Some(query) => sign_in_with_catalog_user(catalog, &query, None).await.ok(),
            None => None,
        };
        let issued = match from_catalog {
            Some(resolved) => {
                issuer
                    .issue(&resolved.user_entity_ref, &resolved.ownership_refs)
                    .await?
            }
            None => {
                issuer
                    .issue(
                        &self.settings.user_entity_ref,
                        &self.settings.ownership_entity_refs,
                    )
                    .await?
            }
        };
        Ok(SignInResult {
            profile: Profile::default(),
            provider_info: None,
            backstage_identity: Some(BackstageIdentityResponse::new(
                issued,
                self.clock.now_millis(),
            )),
        })
    }
}
