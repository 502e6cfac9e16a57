//! The guest provider (§3.5, §10.6): a proxy provider with no flow; `/refresh` signs in.

use serde::Serialize;

use crate::clock::SharedClock;
use crate::config::GuestSettings;
use crate::http::error::ApiError;
use crate::identity::{BackstageIdentityResponse, Profile};
use crate::tokens::TokenIssuer;

const OUTSIDE_DEVELOPMENT: &str = "The guest provider cannot be used outside of a development environment unless 'auth.providers.guest.dangerouslyAllowOutsideDevelopment' is enabled";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GuestSession {
    profile: Profile,
    backstage_identity: BackstageIdentityResponse,
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

    pub async fn refresh(&self, issuer: &TokenIssuer) -> Result<GuestSession, ApiError> {
        if !self.development && !self.settings.allow_outside_development {
            return Err(ApiError::not_allowed(OUTSIDE_DEVELOPMENT));
        }
        // Until catalog lookups exist, the configured fallback identity is used verbatim.
        let issued = issuer
            .issue(
                &self.settings.user_entity_ref,
                &self.settings.ownership_entity_refs,
            )
            .await?;
        Ok(GuestSession {
            profile: Profile::default(),
            backstage_identity: BackstageIdentityResponse::new(issued, self.clock.now_millis()),
        })
    }
}
