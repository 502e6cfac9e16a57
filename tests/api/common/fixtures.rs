//! The Node captures in `../shared/fixtures/backstage-reference/`, parsed and replayed.

use std::collections::BTreeMap;

use serde_json::Value;

pub struct Fixture {
    pub name: String,
    pub method: String,
    /// Path and query, relative to the host (`/api/auth/...`).
    pub target: String,
    pub request_headers: Vec<(String, String)>,
    /// The request's body, if it had one.
    pub request_body: String,
    pub status: u16,
    /// Lower-cased names; repeated headers joined with "\n".
    pub response_headers: BTreeMap<String, String>,
    pub body: String,
}

pub fn dir() -> std::path::PathBuf {
    super::manifest_dir().join("../shared/fixtures/backstage-reference")
}

/// The authorization server captures of `tests/fixtures/node/authz/<boot>/`.
pub fn authz_dir(boot: &str) -> std::path::PathBuf {
    super::manifest_dir()
        .join("tests/fixtures/node/authz")
        .join(boot)
}

impl Fixture {
    pub fn load(name: &str) -> Self {
        Self::load_file(&dir().join(format!("{name}.http")), name)
    }

    /// A capture of the authorization server (`boot` is `dev`, `off`, ...).
    pub fn load_authz(boot: &str, name: &str) -> Self {
        Self::load_file(&authz_dir(boot).join(format!("{name}.http")), name)
    }

    pub fn load_file(path: &std::path::Path, name: &str) -> Self {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
            panic!("{}: {e} (shared/ must sit beside the repo)", path.display())
        });
        let (request, response) = text.split_once("\n\nHTTP/1.1 ").expect("request/response");
        let (request, request_body) = request.split_once("\n\n").unwrap_or((request, ""));
        let mut request_lines = request.lines();
        let mut request_line = request_lines.next().expect("request line").split(' ');
        let method = request_line.next().expect("method").to_owned();
        let target = request_line.next().expect("target").to_owned();
        let request_headers = request_lines
            .filter_map(|line| line.split_once(": "))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        let (head, body) = response.split_once("\n\n").unwrap_or((response, ""));
        let mut head_lines = head.lines();
        let status = head_lines.next().expect("status line")[..3]
            .parse()
            .expect("status");
        let mut response_headers = BTreeMap::<String, String>::new();
        for (name, value) in head_lines.filter_map(|line| line.split_once(": ")) {
            response_headers
                .entry(name.to_ascii_lowercase())
                .and_modify(|existing| {
                    existing.push('\n');
                    existing.push_str(value);
                })
                .or_insert_with(|| value.to_owned());
        }
        Self {
            name: name.to_owned(),
            method,
            target,
            request_headers,
            request_body: request_body.to_owned(),
            status,
            response_headers,
            body: body.trim_end_matches('\n').to_owned(),
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("{}: body is not JSON: {e}", self.name))
    }

    pub fn request_header(&self, name: &str) -> Option<&str> {
        self.request_headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Masks what differs on every capture (tokens, key material, times) so shapes can be compared:
/// a JWT becomes its header and claim names, key material and times become placeholders.
pub fn normalize(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let masked = match key.as_str() {
                        "kid" | "x" | "y" | "uip" => Value::String(format!("<{key}>")),
                        "iat" | "exp" => Value::String("<time>".into()),
                        "expiresInSeconds" => match value.as_i64() {
                            Some(3598..=3600) => Value::String("<about 3600>".into()),
                            _ => value.clone(),
                        },
                        _ => normalize(value),
                    };
                    (key.clone(), masked)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        Value::String(text) if is_jwt(text) => {
            let header = super::jose::header(text);
            let payload = super::jose::payload(text);
            serde_json::json!({"jwt": {"header": normalize(&header), "payload": normalize(&payload)}})
        }
        other => other.clone(),
    }
}

fn is_jwt(text: &str) -> bool {
    text.starts_with("eyJ") && text.split('.').count() == 3
}
