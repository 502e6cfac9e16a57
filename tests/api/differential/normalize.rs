//! Replaces the random parts of what a backend answered (tokens, codes, nonces, state,
//! timestamps, key ids, ports) by placeholders, so that two runs can be compared field by
//! field. The same value gets the same placeholder everywhere in one run (`<nonce#1>` in the
//! nonce cookie and in the state), so that "the callback sent back the state it was given"
//! is compared too.

use std::collections::HashMap;

use base64::Engine;
use serde_json::{Map, Value, json};

/// Keys whose values are random per run; the placeholder is named after the key.
const RANDOM_KEYS: &[&str] = &[
    "state",
    "nonce",
    "code",
    "code_challenge",
    "code_verifier",
    "access_token",
    "accesstoken",
    "refresh_token",
    "refreshtoken",
    "id_token",
    "idtoken",
    "id_token_hint",
    "token",
    "jti",
    "sid",
    "kid",
    "at_hash",
    "c_hash",
    "uid",
    "uip",
];

/// Keys holding a point in time.
const TIME_KEYS: &[&str] = &["iat", "exp", "nbf", "auth_time", "expiresat", "expires"];

pub struct Normalizer {
    /// `localhost:<port>` and `127.0.0.1:<port>` of the backend, written `<backend>`.
    backend_hosts: Vec<String>,
    /// An address written as another (a fake IdP's base as the host it stands for).
    aliases: Vec<(String, String)>,
    seen: HashMap<String, String>,
    counters: HashMap<String, usize>,
    /// `state.` inside a decoded state, so its nonce is counted apart from the OpenID nonce
    /// (which only one backend may send).
    prefix: &'static str,
}

impl Normalizer {
    pub fn new(backend_port: u16) -> Self {
        Self {
            backend_hosts: vec![
                format!("localhost:{backend_port}"),
                format!("127.0.0.1:{backend_port}"),
            ],
            aliases: Vec::new(),
            seen: HashMap::new(),
            counters: HashMap::new(),
            prefix: "",
        }
    }

    /// Writes `from` (e.g. `https://127.0.0.1:<port>`) as `to` (`https://bitbucket.org`).
    pub fn alias(&mut self, from: &str, to: &str) {
        self.aliases.push((from.to_owned(), to.to_owned()));
    }

    /// `<kind#n>`, the same for the same value.
    pub fn placeholder(&mut self, kind: &str, value: &str) -> Value {
        if value.is_empty() {
            return json!("");
        }
        if let Some(known) = self.seen.get(value) {
            return json!(known);
        }
        let kind = format!("{}{kind}", self.prefix);
        let counter = self.counters.entry(kind.clone()).or_default();
        *counter += 1;
        let name = format!("<{kind}#{counter}>");
        self.seen.insert(value.to_owned(), name.clone());
        json!(name)
    }

    /// Any JSON value, found under `key` (lower-cased for the rules above).
    pub fn value(&mut self, key: &str, value: &Value) -> Value {
        let lower = key.to_ascii_lowercase();
        match value {
            Value::Object(map) => Value::Object(self.object(map)),
            Value::Array(items) => items.iter().map(|item| self.value(key, item)).collect(),
            Value::Number(_) if TIME_KEYS.contains(&lower.as_str()) => json!("<time>"),
            Value::String(text) => self.string(&lower, text),
            other => other.clone(),
        }
    }

    fn object(&mut self, map: &Map<String, Value>) -> Map<String, Value> {
        map.iter()
            .map(|(key, value)| (key.clone(), self.value(key, value)))
            .collect()
    }

    fn string(&mut self, key: &str, text: &str) -> Value {
        if let Some(jwt) = self.jwt(text) {
            return jwt;
        }
        if key == "state"
            && let Some(decoded) = decode_state(text)
        {
            self.prefix = "state.";
            let decoded = self.value("", &decoded);
            self.prefix = "";
            return json!({ "decoded": decoded });
        }
        if key == "authorization"
            && let Some(token) = text.strip_prefix("Bearer ")
        {
            let token = self.placeholder("access_token", token);
            return json!(format!("Bearer {}", token.as_str().unwrap_or_default()));
        }
        if RANDOM_KEYS.contains(&key) {
            return self.placeholder(key, text);
        }
        if TIME_KEYS.contains(&key) {
            return json!("<time>");
        }
        if text.starts_with("http://") || text.starts_with("https://") {
            return self.url(text);
        }
        json!(self.hosts(text))
    }

    /// The backend's own host:port written `<backend>`, and the aliases.
    pub fn hosts(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for (from, to) in &self.aliases {
            text = text.replace(from, to);
        }
        for host in &self.backend_hosts {
            text = text.replace(host, "<backend>");
        }
        text
    }

    /// A URL as `{"url": scheme://host/path, "query": {...}}` with its parameters normalized
    /// (a plain string when it has no query).
    pub fn url(&mut self, text: &str) -> Value {
        let Ok(url) = url::Url::parse(text) else {
            return json!(self.hosts(text));
        };
        let mut base = url.clone();
        base.set_query(None);
        base.set_fragment(None);
        let base = self.hosts(base.as_str());
        if url.query().is_none() {
            return json!(base);
        }
        let mut query = Map::new();
        for (key, value) in url.query_pairs() {
            let normalized = self.value(&key, &json!(value));
            query.insert(key.into_owned(), normalized);
        }
        json!({ "url": base, "query": query })
    }

    /// A JWT as its header and claims, normalized; `None` if `text` is not one.
    fn jwt(&mut self, text: &str) -> Option<Value> {
        let parts: Vec<&str> = text.split('.').collect();
        if parts.len() != 3 || !text.starts_with("eyJ") {
            return None;
        }
        let decode = |part: &str| -> Option<Value> {
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .ok()?;
            serde_json::from_slice(&bytes).ok()
        };
        let (header, claims) = (decode(parts[0])?, decode(parts[1])?);
        let lifetime = match (claims["exp"].as_i64(), claims["iat"].as_i64()) {
            (Some(exp), Some(iat)) => json!(exp - iat),
            _ => Value::Null,
        };
        Some(json!({
            "jwt": {
                "header": self.value("", &header),
                "claims": self.value("", &claims),
                "lifetime": lifetime,
            }
        }))
    }
}

/// Backstage's OAuth state: hex of a query string (Node's `encodeOAuthState`), or base64url
/// JSON; `None` for anything else.
pub fn decode_state(text: &str) -> Option<Value> {
    let hex = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>();
    if let Some(bytes) = hex.filter(|b| !b.is_empty())
        && let Ok(query) = String::from_utf8(bytes)
        && query.contains('=')
    {
        let pairs: Map<String, Value> = url::form_urlencoded::parse(query.as_bytes())
            .map(|(key, value)| (key.into_owned(), json!(value)))
            .collect();
        return Some(Value::Object(pairs));
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .filter(Value::is_object)
}
