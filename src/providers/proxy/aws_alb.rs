//! `awsalb` (`@backstage/plugin-auth-backend-module-aws-alb-provider`): an AWS Application Load
//! Balancer signs the user's claims as an ES256 JWT (`x-amzn-oidc-data`), with the key for its
//! `kid` published as a PEM at the region's key endpoint. The header's `signer` (the ALB's
//! ARN) and the payload's `iss` are checked. Unlike Node: a profile without a picture and an
//! opaque access token signs in (no picture), `providerInfo.expiresInSeconds` is the seconds
//! left (Node gives the epoch `exp`), an unreachable key endpoint is a 503.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::verify::{self, decode, text};
use super::{Authenticated, ProxyContext, ProxyKind, ProxyRequest, url_override};
use crate::clock::SharedClock;
use crate::error::Error;
use crate::identity::Profile;
use crate::oauth::jwks::JwksCache;
use crate::oauth::key_source::KeySource;
use crate::resolvers::SignInInfo;
use crate::section::Section;

pub const DATA: &str = "x-amzn-oidc-data";
pub const ACCESS_TOKEN: &str = "x-amzn-oidc-accesstoken";

#[derive(Debug, Clone)]
pub struct AlbSettings {
    pub issuer: String,
    pub region: String,
    /// The ALB's ARN; unchecked when not set (as in Node).
    pub signer: Option<String>,
    /// `keysUrl`: where `<kid>` is appended to fetch a key.
    pub keys_url: String,
}

/// ALB's key endpoint for `region` (GovCloud's is an S3 bucket).
pub fn default_keys_url(region: &str) -> String {
    let region: String =
        percent_encoding::utf8_percent_encode(region, crate::oauth::key_source::URI_COMPONENT)
            .to_string();
    if region.starts_with("us-gov") {
        format!("https://s3-{region}.amazonaws.com/aws-elb-public-keys-prod-{region}")
    } else {
        format!("https://public-keys.auth.elb.{region}.amazonaws.com")
    }
}

pub fn settings(reader: &mut Section<'_>, _context: &ProxyContext<'_>) -> ProxyKind {
    let issuer = reader.required(
        "issuer",
        "https://idp.example.com (the IdP's issuer, as ALB copies it)",
    );
    let region = reader.required("region", "us-east-1");
    let signer = reader.string("signer").filter(|signer| !signer.is_empty());
    let keys_url = url_override(reader, "keysUrl", default_keys_url(&region));
    ProxyKind::AwsAlb(AlbSettings {
        issuer,
        region,
        signer,
        keys_url,
    })
}

pub struct AwsAlb {
    settings: AlbSettings,
    keys: Arc<JwksCache>,
}

const FAILED: &str = "Exception occurred during JWT processing";

impl AwsAlb {
    pub fn new(settings: AlbSettings, http: &reqwest::Client, clock: &SharedClock) -> Self {
        let source = KeySource::PemPerKid(settings.keys_url.clone());
        let keys = verify::key_cache(source, "the AWS ALB public keys", http, clock);
        Self { settings, keys }
    }

    pub(super) async fn authenticate(
        &self,
        request: &ProxyRequest<'_>,
    ) -> Result<Authenticated, Error> {
        let missing =
            |header: &str| Error::authentication(format!("Missing ALB OIDC header: {header}"));
        let token = request.header(DATA).ok_or_else(|| missing(DATA))?;
        let access_token = request
            .header(ACCESS_TOKEN)
            .ok_or_else(|| missing(ACCESS_TOKEN))?;
        let header: Option<Map<String, Value>> =
            crate::jose::Compact::parse(token).and_then(|jws| jws.header());
        if header
            .as_ref()
            .is_some_and(|header| !header.contains_key("kid"))
        {
            return Err(Error::authentication("No key id was specified in header"));
        }
        let verified = verify::signature(&self.keys, token, "ES256")
            .await
            .map_err(|refused| refused.into_error(FAILED, "The AWS ALB public key"))?;
        let exp = verify::times(&verified.claims, request.now, 0)
            .map_err(|refused| refused.into_error(FAILED, "The AWS ALB public key"))?;
        let claims = verified.claims;
        if claims.get("iss").and_then(Value::as_str) != Some(self.settings.issuer.as_str()) {
            return Err(Error::authentication("Issuer mismatch on JWT token"));
        }
        if let Some(signer) = &self.settings.signer
            && verified.header.get("signer").and_then(Value::as_str) != Some(signer.as_str())
        {
            return Err(Error::authentication("Signer mismatch on JWT token"));
        }
        let email = text(&claims, "email")
            .ok_or_else(|| Error::authentication("Missing email in the JWT token"))?
            .to_owned();
        let profile = profile(&claims, &email, access_token);
        let mut provider_info = Map::new();
        provider_info.insert("accessToken".into(), Value::String(access_token.to_owned()));
        provider_info.insert("expiresInSeconds".into(), Value::from(exp - request.now));
        let local_part = email.split('@').next().unwrap_or_default().to_owned();
        Ok(Authenticated {
            info: SignInInfo {
                profile,
                username: Some(local_part),
                user_id: text(&claims, "sub").map(str::to_owned),
                profile_url: None,
                claims,
            },
            provider_info,
        })
    }
}

/// `makeProfileInfo`: the claims' email, picture and name (else the email's local part), with
/// a missing picture or name taken from the access token when it is a JWT. An opaque access
/// token leaves them missing (Node fails the sign-in).
fn profile(claims: &Map<String, Value>, email: &str, access_token: &str) -> Profile {
    let from_access_token = (!access_token.is_empty())
        .then(|| decode(access_token))
        .flatten()
        .unwrap_or_default();
    let pick = |name: &str| {
        text(claims, name)
            .or_else(|| text(&from_access_token, name))
            .map(str::to_owned)
    };
    Profile {
        email: Some(email.to_owned()),
        picture: pick("picture"),
        display_name: pick("name").or_else(|| email.split('@').next().map(str::to_owned)),
    }
}
