//! The scripted flows, each run the same way against Node and against stagedoor. Step names
//! are the keys of the transcript (and of the differences reported).

use crate::differential::cases::IdpKind;
use crate::differential::run::{APP_ORIGIN, FROM_APP, Run, XRW};

const EVIL_ORIGIN: &str = "http://evil.example.com";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Popup sign-in, refresh, refresh with the rotated refresh token, refresh without
    /// `X-Requested-With`, logout, refresh after logout.
    Session,
    /// The redirect flow: the callback sends the browser back to the app's `redirectUrl`.
    RedirectSignIn,
    /// Refresh tokens longer than one cookie holds: chunked refresh cookies, then rotated.
    ChunkedRefreshCookie,
    /// Logout while the IdP's revocation endpoint answers 503, then refresh.
    LogoutWhenTheIdpFails,
    /// An IdP account with no user in the catalog.
    UserOutsideTheCatalog,
    /// An IdP account without an email (the resolver needs one).
    AccountWithoutEmail,
    /// The user cancels at the IdP (`error=access_denied`).
    AccessDenied,
    /// A callback with a code the IdP never issued.
    BadCode,
    /// The popup is reloaded: the same callback URL twice, then refresh.
    ReplayedCallback,
    /// The callback without the nonce cookie that `/start` set.
    MissingNonceCookie,
    /// `/start`, refresh and logout from an origin that is not the app's.
    DisallowedOrigin,
    /// The callback with a state whose `origin` was changed to another site.
    ForgedOrigin,
    /// Environment `second` (another client): without an IdP session, then with one.
    SecondEnvironment,
    /// auth0: `/start` with an `organization` other than the configured one.
    OrganizationMismatch,
    /// Each of the case's other environments (one per resolver): alice, then an account
    /// outside the catalog.
    EveryResolver,
    /// Refresh, then refresh again with the refresh token the first one replaced.
    StaleRefreshToken,
}

impl Scenario {
    pub fn name(self) -> String {
        format!("{self:?}")
    }

    pub async fn run(self, run: &mut Run<'_>) {
        match self {
            Self::Session => session(run).await,
            Self::RedirectSignIn => redirect_sign_in(run).await,
            Self::ChunkedRefreshCookie => chunked_refresh_cookie(run).await,
            Self::LogoutWhenTheIdpFails => logout_when_the_idp_fails(run).await,
            Self::UserOutsideTheCatalog => {
                let nobody = Run::login(run.case.accounts.nobody);
                run.sign_in("", "development", &nobody).await;
            }
            Self::AccountWithoutEmail => {
                let noemail = Run::login(run.case.accounts.noemail);
                run.sign_in("", "development", &noemail).await;
            }
            Self::AccessDenied => {
                run.sign_in("", "development", "deny=1").await;
            }
            Self::BadCode => bad_code(run).await,
            Self::ReplayedCallback => replayed_callback(run).await,
            Self::MissingNonceCookie => missing_nonce_cookie(run).await,
            Self::DisallowedOrigin => disallowed_origin(run).await,
            Self::ForgedOrigin => forged_origin(run).await,
            Self::SecondEnvironment => second_environment(run).await,
            Self::OrganizationMismatch => {
                let start = run.start_url("second", "popup", APP_ORIGIN, "&organization=org_other");
                run.visit("start", &start).await;
            }
            Self::EveryResolver => every_resolver(run).await,
            Self::StaleRefreshToken => stale_refresh_token(run).await,
        }
    }
}

fn alice(run: &Run<'_>) -> String {
    Run::login(run.case.accounts.alice)
}

async fn session(run: &mut Run<'_>) {
    run.sign_in("", "development", &alice(run)).await;
    run.refresh("refresh", "development", &[XRW, FROM_APP])
        .await;
    run.refresh("refresh (rotated)", "development", &[XRW, FROM_APP])
        .await;
    run.refresh(
        "refresh without X-Requested-With",
        "development",
        &[FROM_APP],
    )
    .await;
    run.logout("logout", &[XRW, FROM_APP]).await;
    run.refresh("refresh after logout", "development", &[XRW, FROM_APP])
        .await;
}

async fn redirect_sign_in(run: &mut Run<'_>) {
    let extra = "&redirectUrl=http%3A%2F%2Flocalhost%3A3000%2Fcatalog%3Fkind%3Dcomponent";
    let start = run.start_url("development", "redirect", APP_ORIGIN, extra);
    let callback = run.start_and_idp("start", &start, &alice(run)).await;
    run.visit("callback", &callback).await;
    run.refresh("refresh", "development", &[XRW, FROM_APP])
        .await;
}

async fn chunked_refresh_cookie(run: &mut Run<'_>) {
    run.idp.set_refresh_token_bits(30_000).await;
    run.sign_in("", "development", &alice(run)).await;
    run.refresh("refresh", "development", &[XRW, FROM_APP])
        .await;
    run.refresh("refresh (rotated)", "development", &[XRW, FROM_APP])
        .await;
    run.idp.set_refresh_token_bits(256).await;
    run.logout("logout", &[XRW, FROM_APP]).await;
}

async fn logout_when_the_idp_fails(run: &mut Run<'_>) {
    run.sign_in("", "development", &alice(run)).await;
    let IdpKind::Op(shape) = &run.case.idp else {
        panic!("LogoutWhenTheIdpFails needs the OpenID Provider");
    };
    run.idp.fail(shape.revocation_path, 503).await;
    run.logout("logout", &[XRW, FROM_APP]).await;
    run.idp.clear_failures().await;
    run.refresh("refresh after logout", "development", &[XRW, FROM_APP])
        .await;
}

async fn bad_code(run: &mut Run<'_>) {
    let start_url = run.start_url("development", "popup", APP_ORIGIN, "");
    let start = run.visit("start", &start_url).await;
    let location = url::Url::parse(&start.location().expect("a redirect to the IdP")).unwrap();
    let state = location
        .query_pairs()
        .find(|(key, _)| key == "state")
        .map(|(_, value)| value.into_owned())
        .expect("a state");
    let iss = match run.idp.issuer() {
        Some(issuer) => format!(
            "&iss={}",
            url::form_urlencoded::byte_serialize(issuer.as_bytes()).collect::<String>()
        ),
        None => String::new(),
    };
    let callback = run.url(&format!(
        "/handler/frame?code=not-a-code-the-idp-issued&state={state}{iss}"
    ));
    run.visit("callback", &callback).await;
}

async fn replayed_callback(run: &mut Run<'_>) {
    let start = run.start_url("development", "popup", APP_ORIGIN, "");
    let callback = run.start_and_idp("start", &start, &alice(run)).await;
    run.visit("callback", &callback).await;
    run.visit("callback (replayed)", &callback).await;
    run.refresh("refresh after the replay", "development", &[XRW, FROM_APP])
        .await;
}

async fn missing_nonce_cookie(run: &mut Run<'_>) {
    let start = run.start_url("development", "popup", APP_ORIGIN, "");
    let callback = run.start_and_idp("start", &start, &alice(run)).await;
    let host = run.backend.host();
    let nonce_cookie = format!("{}-nonce", run.case.id);
    run.browser.remove_cookie(&host, &nonce_cookie);
    run.visit("callback", &callback).await;
}

async fn disallowed_origin(run: &mut Run<'_>) {
    let start = run.start_url("development", "popup", EVIL_ORIGIN, "");
    run.visit("start", &start).await;
    run.sign_in("sign-in: ", "development", &alice(run)).await;
    let evil = [XRW, ("origin", EVIL_ORIGIN)];
    run.refresh("refresh from the other origin", "development", &evil)
        .await;
    run.logout("logout from the other origin", &evil).await;
    run.refresh("refresh after that", "development", &[XRW, FROM_APP])
        .await;
}

async fn forged_origin(run: &mut Run<'_>) {
    let start = run.start_url("development", "popup", APP_ORIGIN, "");
    let callback = run.start_and_idp("start", &start, &alice(run)).await;
    let mut url = url::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(key, value)| match key.as_ref() {
            "state" => (key.into_owned(), with_origin(&value, EVIL_ORIGIN)),
            _ => (key.into_owned(), value.into_owned()),
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    run.visit("callback", url.as_str()).await;
}

/// Backstage's state (hex of a query string) with another `origin`.
fn with_origin(state: &str, origin: &str) -> String {
    let decoded = crate::differential::normalize::decode_state(state).expect("Backstage's state");
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in decoded.as_object().unwrap() {
        let value = if key == "origin" {
            origin
        } else {
            value.as_str().unwrap_or_default()
        };
        query.append_pair(key, value);
    }
    query.finish().bytes().map(|b| format!("{b:02x}")).collect()
}

async fn second_environment(run: &mut Run<'_>) {
    let alice = alice(run);
    run.sign_in("without an IdP session: ", "second", &alice)
        .await;
    run.sign_in("development: ", "development", &alice).await;
    run.sign_in("with an IdP session: ", "second", &alice).await;
    run.refresh("refresh (second)", "second", &[XRW, FROM_APP])
        .await;
}

async fn every_resolver(run: &mut Run<'_>) {
    let (alice, nobody) = (alice(run), Run::login(run.case.accounts.nobody));
    for env in run.case.resolver_envs {
        run.sign_in(&format!("{env}: "), env, &alice).await;
        run.sign_in(&format!("{env}, nobody: "), env, &nobody).await;
    }
}

async fn stale_refresh_token(run: &mut Run<'_>) {
    let env = run.case.rotating_env;
    run.sign_in("", env, &alice(run)).await;
    let host = run.backend.host();
    let name = format!("{}-refresh-token", run.case.id);
    let first = run.browser.cookie(&host, &name).expect("a refresh cookie");
    run.refresh("refresh", env, &[XRW, FROM_APP]).await;
    let path = format!("/api/auth/{}", run.case.id);
    run.browser.set_cookie(&host, &name, &path, &first);
    run.refresh("refresh with the replaced token", env, &[XRW, FROM_APP])
        .await;
}
