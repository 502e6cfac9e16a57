//! One scenario against one backend: a fresh browser, the steps it takes, and a transcript of
//! what the backend answered and what the IdP received at each step, normalized.

use reqwest::Method;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE};
use serde_json::{Map, Value, json};

use crate::common::{browser::Browser, browser::Page};
use crate::differential::cases::Case;
use crate::differential::idps::CaseIdp;
use crate::differential::normalize::Normalizer;
use crate::differential::world::Backend;

/// `url` with the IdP's `answer` added to its query.
fn with_answer(url: &str, answer: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{answer}")
}

/// The app's origin (`app.baseUrl`), where the frontend runs.
pub const APP_ORIGIN: &str = "http://localhost:3000";
pub const XRW: (&str, &str) = ("x-requested-with", "XMLHttpRequest");
pub const FROM_APP: (&str, &str) = ("origin", APP_ORIGIN);

pub struct Run<'a> {
    pub case: &'a Case,
    pub backend: &'a Backend,
    pub idp: &'a CaseIdp,
    pub browser: Browser,
    normalizer: Normalizer,
    /// step name → what happened at that step
    pub transcript: Map<String, Value>,
}

impl<'a> Run<'a> {
    pub fn new(
        case: &'a Case,
        backend: &'a Backend,
        idp: &'a CaseIdp,
        http: reqwest::Client,
    ) -> Self {
        let mut normalizer = Normalizer::new(backend.port);
        if let Some((from, to)) = idp.alias() {
            normalizer.alias(&from, &to);
        }
        Self {
            case,
            backend,
            idp,
            browser: Browser::with_client(http),
            normalizer,
            transcript: Map::new(),
        }
    }

    /// The IdP's answer logging in as `account` (`login=<account>`).
    pub fn login(account: &str) -> String {
        format!("login={account}")
    }

    /// `{auth_url}/{provider}{path}`
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}{path}", self.backend.auth_url, self.case.id)
    }

    /// `/start` as the frontend calls it, plus `extra` query parameters.
    pub fn start_url(&self, env: &str, flow: &str, origin: &str, extra: &str) -> String {
        let encode =
            |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        format!(
            "{}?scope={}&origin={}&flow={flow}&env={env}{extra}",
            self.url("/start"),
            encode(self.case.scope),
            encode(origin)
        )
    }

    /// GET `url` as a browser would, recorded as `step`.
    pub async fn visit(&mut self, step: &str, url: &str) -> Page {
        let page = self.browser.get(url).await;
        self.record(step, &page).await;
        page
    }

    /// A request of the frontend's (`fetch` with credentials), recorded as `step`.
    pub async fn call(
        &mut self,
        step: &str,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Page {
        let url = self.url(path);
        let page = self.browser.request(method, &url, headers).await;
        self.record(step, &page).await;
        page
    }

    pub async fn refresh(&mut self, step: &str, env: &str, headers: &[(&str, &str)]) -> Page {
        let scope =
            url::form_urlencoded::byte_serialize(self.case.scope.as_bytes()).collect::<String>();
        let path = format!("/refresh?optional=&scope={scope}&env={env}");
        self.call(step, Method::GET, &path, headers).await
    }

    pub async fn logout(&mut self, step: &str, headers: &[(&str, &str)]) -> Page {
        self.call(step, Method::POST, "/logout?env=development", headers)
            .await
    }

    /// The browser's trip through the IdP from `authorize_url`: the OpenID Provider's
    /// interaction page, or a fake's authorize URL, gets `answer` (`login=<account>` or
    /// `deny=1`). Returns the callback URL it was sent to (not visited). Not recorded as a
    /// step: the IdP's requests go to the next one.
    pub async fn through_idp(&mut self, authorize_url: &str, answer: &str) -> String {
        let fake = matches!(self.idp, CaseIdp::Fake { .. });
        let mut url = self.idp.reachable(authorize_url);
        if fake {
            url = with_answer(&url, answer);
        }
        for _ in 0..10 {
            if url.starts_with(&self.backend.auth_url) {
                return url;
            }
            if url.contains("/interaction/") {
                url = with_answer(&url, answer);
            }
            let page = self.browser.get(&url).await;
            let location = page.location().unwrap_or_else(|| {
                panic!(
                    "{}: the IdP stopped at {url}: {} {}",
                    self.backend.name, page.status, page.body
                )
            });
            url = reqwest::Url::parse(&url)
                .unwrap()
                .join(&location)
                .unwrap()
                .to_string();
        }
        panic!("{}: too many redirects at the IdP", self.backend.name);
    }

    /// `/start` in `env` (popup flow from the app), the IdP answered with `answer`, then the
    /// callback: steps `{prefix}start` and `{prefix}callback`.
    pub async fn sign_in(&mut self, prefix: &str, env: &str, answer: &str) -> Page {
        let start = self.start_url(env, "popup", APP_ORIGIN, "");
        let callback = self
            .start_and_idp(&format!("{prefix}start"), &start, answer)
            .await;
        self.visit(&format!("{prefix}callback"), &callback).await
    }

    /// Visits `start_url` (recorded as `step`) and goes through the IdP; the callback URL.
    pub async fn start_and_idp(&mut self, step: &str, start_url: &str, answer: &str) -> String {
        let start = self.visit(step, start_url).await;
        let location = start.location().unwrap_or_else(|| {
            panic!(
                "{}: {step}: {} {}",
                self.backend.name, start.status, start.body
            )
        });
        self.through_idp(&location, answer).await
    }

    /// Records `page` and the requests the IdP received since the previous step.
    pub async fn record(&mut self, step: &str, page: &Page) {
        let mut record = self.page(page);
        let requests = self.idp_requests().await;
        if !requests.is_empty() {
            record.insert("idp".into(), Value::Object(requests));
        }
        assert!(
            self.transcript
                .insert(step.to_owned(), Value::Object(record))
                .is_none(),
            "step {step} twice"
        );
    }

    fn page(&mut self, page: &Page) -> Map<String, Value> {
        let mut record = Map::new();
        record.insert("status".into(), json!(page.status));
        for name in [CONTENT_TYPE, CACHE_CONTROL] {
            if let Some(value) = page.headers.get(&name).and_then(|v| v.to_str().ok()) {
                record.insert(name.to_string(), json!(value));
            }
        }
        if let Some(location) = page.location() {
            record.insert("location".into(), self.normalizer.url(&location));
        }
        let cookies =
            crate::differential::cookies::set_cookies(&mut self.normalizer, &page.set_cookies());
        if !cookies.is_empty() {
            record.insert("cookies".into(), Value::Object(cookies));
        }
        if let Ok(body) = serde_json::from_str::<Value>(&page.body) {
            record.insert("body".into(), self.normalizer.value("", &body));
        } else if page.body.contains("decodeURIComponent('") {
            let message = self.normalizer.value("", &page.popup_message());
            let origin = self.normalizer.hosts(&page.popup_target_origin());
            record.insert(
                "popup".into(),
                json!({ "message": message, "targetOrigin": origin }),
            );
        }
        record
    }

    /// The IdP's requests since the last step that a backend made or caused (the authorize
    /// request, token, userinfo, revocation), as `"METHOD path#n" → request`; the browser's
    /// own trip (interaction, resume) and discovery and JWKS fetches (cached differently by
    /// each backend; see `allowed::NORMALIZED`) are left out.
    async fn idp_requests(&mut self) -> Map<String, Value> {
        let requests = self.idp.requests().await;
        self.idp.clear_requests().await;
        let mut out = Map::new();
        for request in requests {
            let path = request["path"].as_str().unwrap_or_default().to_owned();
            let method = request["method"].as_str().unwrap_or_default().to_owned();
            let has_query = request["query"].as_object().is_some_and(|q| !q.is_empty());
            let browser_trip = path.contains("/interaction/")
                || (method == "GET" && !has_query && request["authorization"].is_null());
            if browser_trip {
                continue;
            }
            let mut key = format!("{method} {path}");
            let mut n = 1;
            while out.contains_key(&key) {
                n += 1;
                key = format!("{method} {path} #{n}");
            }
            let mut request = request;
            if let Some(map) = request.as_object_mut() {
                map.remove("path");
                map.remove("method");
            }
            out.insert(key, self.normalizer.value("", &request));
        }
        out
    }
}
