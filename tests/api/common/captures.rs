//! Node's captures of the cloud providers (`tests/fixtures/node/<id>/`, taken by
//! `capture-cloud.sh` against the same fakes), compared with what stagedoor answered in the same
//! step: the status, the provider's cookies and their attributes, the authorize request, the
//! popup's message or the JSON answer, and the back-channel requests the IdP received (method,
//! path, query, form, client authentication). Random values (tokens, codes, nonces, times, ids
//! in the IdP's messages) are masked. Where stagedoor differs from Node on purpose, the test
//! says so with a patch to Node's view (a JSON pointer and the value stagedoor has instead, or
//! `None` where stagedoor has nothing).
//!
//! Left out of every view: stagedoor's own `<provider>-flow` cookie and its clearing of the
//! spent nonce cookie at the callback (README, "One sign-in per start"), the IdP's discovery
//! and key documents (fetched when a cache is cold, at other steps than Node's), and the
//! browser's own authorize request (compared through `/start`'s `Location`).

use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use super::cloud::Step;

pub type Patch<'a> = (&'a str, Option<Value>);

/// OpenShift names an access token's object after the token.
static TOKEN_NAME: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"sha256~[A-Za-z0-9_-]+").unwrap());

static RANDOM_TEXT: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?Z?",
    )
    .unwrap()
});

/// Keys whose values are random per run.
const RANDOM_KEYS: &[&str] = &[
    "accessToken",
    "idToken",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "code",
    "nonce",
    "code_challenge",
    "code_verifier",
    "subject_token",
    "session_state",
];

/// One capture of Node: `<name>.http` and what lies beside it.
pub struct Capture {
    status: u16,
    set_cookies: Vec<String>,
    location: Option<String>,
    result: Value,
    idp: Vec<Value>,
}

impl Capture {
    pub fn load(provider: &str, name: &str) -> Self {
        let dir = super::manifest_dir()
            .join("tests/fixtures/node")
            .join(provider);
        let read = |suffix: &str| std::fs::read_to_string(dir.join(format!("{name}{suffix}")));
        let http = read(".http").unwrap_or_else(|e| panic!("{provider}/{name}.http: {e}"));
        let response = http.split_once("\n\nHTTP/1.1 ").expect("a response").1;
        let head = response.split("\n\n").next().unwrap_or_default();
        let mut lines = head.lines();
        let status = lines.next().unwrap()[..3].parse().unwrap();
        let mut set_cookies = Vec::new();
        let mut location = None;
        for (header, value) in lines.filter_map(|line| line.split_once(": ")) {
            match header.to_ascii_lowercase().as_str() {
                "set-cookie" => set_cookies.push(value.to_owned()),
                "location" => location = Some(value.to_owned()),
                _ => {}
            }
        }
        let json = |suffix: &str| read(suffix).ok().map(|text| parse(&text));
        let result = json(".authResponse.json")
            .map(|popup| popup["message"].clone())
            .or_else(|| json(".json"))
            .unwrap_or(Value::Null);
        let idp = json(".idp-requests.json")
            .and_then(|requests| requests.as_array().cloned())
            .unwrap_or_default();
        Self {
            status,
            set_cookies,
            location,
            result,
            idp,
        }
    }

    fn view(&self, provider: &str) -> Value {
        view(
            provider,
            self.status,
            &self.set_cookies,
            self.location.as_deref(),
            &self.result,
            &self.idp,
        )
    }
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|key| (key.clone(), sorted(&map[key])))
                    .collect(),
            )
        }
        Value::Array(items) => items.iter().map(sorted).collect(),
        other => other.clone(),
    }
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// The popup's message or the JSON answer of Node's capture `name`, as captured.
pub fn node_result(provider: &str, name: &str) -> Value {
    Capture::load(provider, name).result
}

/// stagedoor sends PKCE (S256) with every authorize request (Node's passport strategies do
/// not)...
pub fn pkce() -> [Patch<'static>; 2] {
    [
        ("/location/params/code_challenge", Some(json!("<random>"))),
        (
            "/location/params/code_challenge_method",
            Some(json!("S256")),
        ),
    ]
}

/// ... and the verifier with the code (the first back-channel request).
pub fn verifier() -> Patch<'static> {
    ("/idp/0/form/code_verifier", Some(json!("<random>")))
}

/// `/start` of a sign-in against Node's `<name>-1-start`.
pub fn check_start(provider: &str, name: &str, step: &Step, patches: &[Patch<'_>]) {
    let start = step.start.as_ref().expect("a sign-in");
    let actual = view(
        provider,
        start.status,
        &start.set_cookies(),
        start.location().as_deref(),
        &Value::Null,
        &[],
    );
    assert_patched(provider, &format!("{name}-1-start"), actual, patches);
}

/// The step's answer (a callback, refresh or logout) against Node's capture `name`.
pub fn check(provider: &str, name: &str, step: &Step, patches: &[Patch<'_>]) {
    let page = &step.page;
    let location = page.location().filter(|_| page.status == 302);
    let actual = view(
        provider,
        page.status,
        &page.set_cookies(),
        location.as_deref(),
        &step.result(),
        &step.idp,
    );
    assert_patched(provider, name, actual, patches);
}

fn assert_patched(provider: &str, name: &str, actual: Value, patches: &[Patch<'_>]) {
    let mut expected = Capture::load(provider, name).view(provider);
    for (pointer, value) in patches {
        patch(&mut expected, pointer, value.clone());
    }
    // Members compare without regard to order (parameter and form order are the clients').
    let (expected, actual) = (sorted(&expected), sorted(&actual));
    assert!(
        expected == actual,
        "{provider}/{name}: stagedoor differs from Node's capture (patched as the test says)\n--- Node (patched)\n{}\n--- stagedoor\n{}",
        serde_json::to_string_pretty(&expected).unwrap(),
        serde_json::to_string_pretty(&actual).unwrap()
    );
}

fn view(
    provider: &str,
    status: u16,
    set_cookies: &[String],
    location: Option<&str>,
    result: &Value,
    idp: &[Value],
) -> Value {
    json!({
        "status": status,
        "cookies": cookies(set_cookies),
        "location": location.map(url_view),
        "result": mask("", result),
        "idp": backchannel(provider, idp),
    })
}

/// `{"<name>[ (Domain=…)]": {value, Path, Max-Age, Expires, SameSite, Secure, HttpOnly}}`.
fn cookies(headers: &[String]) -> Value {
    let mut out = Map::new();
    for header in headers {
        let cookie = cookie::Cookie::parse(header.clone()).unwrap();
        let (name, value) = (cookie.name(), cookie.value());
        let spent_nonce = name.ends_with("-nonce") && value.is_empty() && cookie.domain().is_none();
        if name.ends_with("-flow") || spent_nonce {
            continue;
        }
        let key = match cookie.domain() {
            Some(domain) => format!("{name} (Domain={domain})"),
            None => name.to_owned(),
        };
        let attributes = json!({
            "value": if value.is_empty() { "" } else { "<set>" },
            "Path": cookie.path(),
            "Max-Age": cookie.max_age().map(|age| age.whole_seconds()),
            // Its date follows Max-Age from the answer's own date.
            "Expires": cookie.expires().is_some(),
            "SameSite": cookie.same_site().map(|s| s.to_string()),
            "Secure": cookie.secure().unwrap_or(false),
            "HttpOnly": cookie.http_only().unwrap_or(false),
        });
        out.insert(key, attributes);
    }
    Value::Object(out)
}

/// A redirect to the app as it is; one to the IdP as its path and parameters (the IdP's
/// host is Node's real one or the fake's).
fn url_view(location: &str) -> Value {
    if location.starts_with(super::cloud::ORIGIN) {
        return json!(location);
    }
    let url = reqwest::Url::parse(location).unwrap();
    let params: Map<String, Value> = url
        .query_pairs()
        .map(|(key, value)| {
            let value = match key.as_ref() {
                "state" => mask("", &state(&value)),
                key => mask(key, &json!(value)),
            };
            (key.into_owned(), value)
        })
        .collect();
    json!({"path": url.path(), "params": params})
}

/// Backstage's hex-encoded state, decoded.
fn state(hex: &str) -> Value {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    url::form_urlencoded::parse(&bytes)
        .map(|(key, value)| (key.into_owned(), json!(value)))
        .collect::<Map<String, Value>>()
        .into()
}

/// The requests stagedoor (or Node) made of the IdP.
fn backchannel(provider: &str, requests: &[Value]) -> Value {
    let browser = |path: &str| match provider {
        "google" => path == "/o/oauth2/v2/auth",
        _ => path.ends_with("/authorize"),
    };
    let documents = |path: &str| {
        path.contains("/.well-known/") || path.ends_with("/jwks.json") || path.ends_with("/keys")
    };
    requests
        .iter()
        .filter(|request| {
            let path = request["path"].as_str().unwrap_or_default();
            let browsed = request["method"] == "GET" && browser(path);
            !(browsed || documents(path))
        })
        .map(|request| {
            let auth = request["auth"]["scheme"].as_str().map(str::to_lowercase);
            json!({
                "method": request["method"],
                "path": TOKEN_NAME.replace(request["path"].as_str().unwrap_or_default(), "sha256~<name>"),
                "query": mask("", &request["query"]),
                "form": mask("", request.get("form").unwrap_or(&json!({}))),
                "auth": auth,
                "status": request["status"],
            })
        })
        .collect()
}

/// `value` with its random parts replaced by placeholders.
fn mask(key: &str, value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.clone(), mask(key, value)))
                .collect(),
        ),
        Value::Array(items) => items.iter().map(|item| mask(key, item)).collect(),
        Value::String(text) if text.is_empty() => json!(""),
        Value::String(_) if RANDOM_KEYS.contains(&key) => json!("<random>"),
        Value::String(text) if text.starts_with("eyJ") && text.split('.').count() == 3 => {
            json!("<jwt>")
        }
        Value::String(text) => json!(RANDOM_TEXT.replace_all(text, "<id>")),
        Value::Number(n) if key == "expiresInSeconds" && n.as_i64() == Some(3599) => {
            // The Backstage token's lifetime, rounded from a clock that has moved on.
            json!("<about 3600>")
        }
        Value::Number(n) if key == "expiresInSeconds" && n.as_i64() == Some(3600) => {
            json!("<about 3600>")
        }
        other => other.clone(),
    }
}

/// Sets (or with `None` removes) the value at a JSON pointer; `-` appends to an array.
fn patch(target: &mut Value, pointer: &str, value: Option<Value>) {
    let (parent, last) = pointer.rsplit_once('/').expect("a JSON pointer");
    let parent = target
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("patch {pointer}: no {parent} in Node's view"));
    let last = last.replace("~1", "/").replace("~0", "~");
    match (parent, value) {
        (Value::Object(map), Some(value)) => {
            map.insert(last, value);
        }
        (Value::Object(map), None) => {
            assert!(
                map.remove(&last).is_some(),
                "patch {pointer}: nothing to remove"
            );
        }
        (Value::Array(items), Some(value)) if last == "-" => items.push(value),
        (Value::Array(items), Some(value)) => items[last.parse::<usize>().unwrap()] = value,
        (Value::Array(items), None) => {
            items.remove(last.parse::<usize>().unwrap());
        }
        (other, _) => panic!("patch {pointer}: {other} is not an object or array"),
    }
}
