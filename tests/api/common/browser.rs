//! A browser stand-in for sign-in flows: follows redirects by hand, keeps cookies per host
//! (name → value, as the server percent-encoded them), and reads popup pages.

use std::collections::BTreeMap;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

pub struct Browser {
    /// host:port → cookie name → (path, raw value)
    jars: BTreeMap<String, BTreeMap<String, (String, String)>>,
    /// One client, like one browser: connections are reused.
    http: reqwest::Client,
}

impl Default for Browser {
    fn default() -> Self {
        Self {
            jars: BTreeMap::new(),
            http: super::client(),
        }
    }
}

pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
    pub url: String,
}

impl Page {
    pub fn location(&self) -> Option<String> {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect()
    }

    /// The message a popup page posts to its opener (`decodeURIComponent('...')` then JSON).
    pub fn popup_message(&self) -> serde_json::Value {
        let start = self
            .body
            .find("decodeURIComponent('")
            .expect("a popup page")
            + "decodeURIComponent('".len();
        let end = self.body[start..].find('\'').unwrap() + start;
        let decoded = percent_encoding::percent_decode_str(&self.body[start..end])
            .decode_utf8()
            .unwrap();
        serde_json::from_str(&decoded).expect("popup JSON")
    }

    /// The origin the popup page posts its result to.
    pub fn popup_target_origin(&self) -> String {
        let marker = "var origin = decodeURIComponent('";
        let start = self.body.find(marker).expect("a popup page") + marker.len();
        let end = self.body[start..].find('\'').unwrap() + start;
        percent_encoding::percent_decode_str(&self.body[start..end])
            .decode_utf8()
            .unwrap()
            .into_owned()
    }
}

fn host_of(url: &str) -> String {
    let url = reqwest::Url::parse(url).expect("url");
    format!(
        "{}:{}",
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or(0)
    )
}

impl Browser {
    /// A browser whose connections use `http` (e.g. one trusting a test CA).
    pub fn with_client(http: reqwest::Client) -> Self {
        Self {
            jars: BTreeMap::new(),
            http,
        }
    }

    /// Every cookie it holds for `host` (host:port): name → value.
    pub fn cookies(&self, host: &str) -> BTreeMap<String, String> {
        self.jars
            .get(host)
            .map(|jar| {
                jar.iter()
                    .map(|(name, (_, value))| (name.clone(), value.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// One request; `rewrite` maps a host:port to another (the callback URL names
    /// `localhost:7007`, the server under test listens elsewhere).
    pub async fn request(
        &mut self,
        method: reqwest::Method,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Page {
        let host = host_of(url);
        let path = reqwest::Url::parse(url).unwrap().path().to_owned();
        let mut request = self.http.request(method, url);
        let cookies: Vec<String> = self
            .jars
            .get(&host)
            .map(|jar| {
                jar.iter()
                    .filter(|(_, (cookie_path, _))| path.starts_with(cookie_path.as_str()))
                    .map(|(name, (_, value))| format!("{name}={value}"))
                    .collect()
            })
            .unwrap_or_default();
        if !cookies.is_empty() {
            request = request.header(COOKIE, cookies.join("; "));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request");
        let page = Page {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            url: url.to_owned(),
            body: String::new(),
        };
        let body = response.text().await.unwrap_or_default();
        let page = Page { body, ..page };
        for set_cookie in page.set_cookies() {
            self.store(&host, &set_cookie);
        }
        page
    }

    pub async fn get(&mut self, url: &str) -> Page {
        self.request(reqwest::Method::GET, url, &[]).await
    }

    fn store(&mut self, host: &str, set_cookie: &str) {
        let Ok(cookie) = cookie::Cookie::parse(set_cookie.to_owned()) else {
            return;
        };
        if cookie.domain().is_some() {
            return; // legacy removals for another cookie scope
        }
        let jar = self.jars.entry(host.to_owned()).or_default();
        let expired = cookie
            .max_age()
            .is_some_and(|age| age.is_zero() || age.is_negative());
        if expired {
            jar.remove(cookie.name());
        } else {
            jar.insert(
                cookie.name().to_owned(),
                (
                    cookie.path().unwrap_or("/").to_owned(),
                    cookie.value().to_owned(),
                ),
            );
        }
    }

    pub fn cookie(&self, host: &str, name: &str) -> Option<String> {
        self.jars
            .get(host)?
            .get(name)
            .map(|(_, value)| value.clone())
    }

    pub fn set_cookie(&mut self, host: &str, name: &str, path: &str, value: &str) {
        self.jars
            .entry(host.to_owned())
            .or_default()
            .insert(name.to_owned(), (path.to_owned(), value.to_owned()));
    }

    pub fn remove_cookie(&mut self, host: &str, name: &str) {
        if let Some(jar) = self.jars.get_mut(host) {
            jar.remove(name);
        }
    }

    /// Follows redirects from `url` until a response that is not a redirect, or one whose
    /// location starts with `stop_at` (returned unfollowed).
    pub async fn follow(&mut self, url: &str, stop_at: &str) -> Page {
        let mut url = url.to_owned();
        for _ in 0..20 {
            let page = self.get(&url).await;
            let Some(location) = page
                .location()
                .filter(|_| (300..400).contains(&page.status))
            else {
                return page;
            };
            let next = reqwest::Url::parse(&url)
                .unwrap()
                .join(&location)
                .unwrap()
                .to_string();
            if next.starts_with(stop_at) {
                return Page { url: next, ..page };
            }
            url = next;
        }
        panic!("too many redirects");
    }
}
