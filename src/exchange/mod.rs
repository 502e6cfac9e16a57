//! OAuth 2.0 Token Exchange (RFC 8693) at `POST /api/auth/v1/token`: a machine presents a
//! JWT from a configured IdP (a client-credentials access token, an ID token) and gets a
//! Backstage user token for the identity its claims map to, through the same resolvers and
//! claim rules as browser sign-in. Off unless `stagedoor.tokenExchange` is configured.

mod endpoint;
mod error;
mod keys;
mod limit;
mod request;
mod settings;
mod subject;

use serde_json::Value;

pub use endpoint::grant;
pub use error::ExchangeError;
pub use settings::{
    ExchangeIssuerSettings, IdentityMapping, KeySource, RateLimitSettings, TokenExchangeSettings,
};

use crate::catalog::CatalogClient;
use crate::clock::SharedClock;
use crate::identity::Profile;
use crate::resolvers::{Resolved, SignInInfo};
use crate::tokens::{IssuedToken, TokenIssuer};
use keys::IssuerKeys;
use limit::Limiter;
use request::ExchangeRequest;
use subject::{Subject, TrustedIssuer};

pub struct TokenExchange {
    issuers: Vec<TrustedIssuer>,
    limiter: Limiter,
    clock: SharedClock,
    /// What `audience` and `resource` may name: stagedoor's external URL and `backstage`.
    own_audiences: Vec<String>,
}

/// What a successful exchange produced, for the response and the audit trail.
pub struct Exchanged {
    pub token: IssuedToken,
    pub issued_token_type: &'static str,
    pub expires_in: i64,
}

/// What the audit event says about a request, filled in as it becomes known.
#[derive(Default)]
pub struct Progress {
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub user: Option<String>,
}

impl TokenExchange {
    pub fn new(
        settings: &TokenExchangeSettings,
        external_base_url: &str,
        http: &reqwest::Client,
        clock: SharedClock,
    ) -> Self {
        let issuers = settings
            .issuers
            .iter()
            .map(|issuer| TrustedIssuer {
                keys: IssuerKeys::new(&issuer.issuer, &issuer.keys, http, clock.clone()),
                settings: issuer.clone(),
            })
            .collect();
        Self {
            issuers,
            limiter: Limiter::new(settings, clock.clone()),
            clock,
            own_audiences: vec![
                external_base_url.trim_end_matches('/').to_owned(),
                "backstage".to_owned(),
            ],
        }
    }

    /// Validates the subject token, applies the rate limit, resolves the identity and
    /// issues a Backstage token that expires no later than the subject token.
    pub async fn exchange(
        &self,
        request: &ExchangeRequest,
        issuer: &TokenIssuer,
        catalog: &CatalogClient,
        progress: &mut Progress,
    ) -> Result<Exchanged, ExchangeError> {
        let now = self.clock.now_seconds();
        let subject = subject::verify(
            &self.issuers,
            &request.subject_token,
            request.subject_token_type,
            now,
            progress,
        )
        .await?;
        let trusted = &self.issuers[subject.issuer];
        self.limiter.check(subject.issuer, &subject.client_id)?;
        let resolved = self.resolve(trusted, &subject, catalog).await?;
        progress.user = Some(resolved.user_entity_ref.clone());
        let token = issuer
            .issue_until(
                &resolved.user_entity_ref,
                &resolved.ownership_refs,
                subject.expires_at_secs,
            )
            .await
            .map_err(ExchangeError::from_issuing)?;
        let expires_in = token.expires_at_secs - self.clock.now_seconds();
        Ok(Exchanged {
            token,
            issued_token_type: request.issued_token_type,
            expires_in,
        })
    }

    async fn resolve(
        &self,
        trusted: &TrustedIssuer,
        subject: &Subject,
        catalog: &CatalogClient,
    ) -> Result<Resolved, ExchangeError> {
        let info = sign_in_info(subject);
        let mut resolved = match &trusted.settings.identity {
            IdentityMapping::Template(template) => {
                let user_entity_ref = template.render(&info).ok_or_else(|| {
                    ExchangeError::InvalidGrant(format!(
                        "the subject token lacks a claim that userEntityRef '{template}' needs"
                    ))
                })?;
                Resolved {
                    ownership_refs: vec![user_entity_ref.clone()],
                    user_entity_ref,
                }
            }
            IdentityMapping::SignIn(sign_in) => sign_in
                .resolve(&info, catalog)
                .await
                .map_err(ExchangeError::from_resolver)?,
        };
        for entity_ref in &trusted.settings.ownership_entity_refs {
            if !resolved.ownership_refs.contains(entity_ref) {
                resolved.ownership_refs.push(entity_ref.clone());
            }
        }
        Ok(resolved)
    }
}

/// The subject token as a sign-in: its claims (with `client_id` set to the client it was
/// issued to, if the IdP names it otherwise), its verified email, `sub` as the user id.
fn sign_in_info(subject: &Subject) -> SignInInfo {
    let mut claims = subject.claims.clone();
    // `{client_id}` names the client the allow-list admitted, whichever claim it came from.
    claims.insert(
        "client_id".to_owned(),
        Value::String(subject.client_id.clone()),
    );
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    let email_verified = claims.get("email_verified").and_then(Value::as_bool);
    SignInInfo {
        profile: Profile {
            email: text("email").filter(|_| email_verified != Some(false)),
            ..Profile::default()
        },
        username: text("preferred_username"),
        user_id: text("sub"),
        profile_url: None,
        claims,
    }
}
