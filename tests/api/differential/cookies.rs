//! Set-Cookie headers as name → attributes, with random values replaced by placeholders.

use serde_json::{Map, Value, json};

use crate::differential::normalize::Normalizer;

/// Cookies whose value means something (the rest are random: tokens, nonces, sessions).
fn value_is_data(name: &str) -> bool {
    name.ends_with("-granted-scope")
}

/// `{"<name>": {value, Path, Max-Age, Expires, SameSite, Secure, HttpOnly, Domain}}`; a cookie
/// with a `Domain` is keyed `<name> (Domain=<domain>)`, a name seen twice `<name> #2`.
pub fn set_cookies(normalizer: &mut Normalizer, headers: &[String]) -> Map<String, Value> {
    let mut out = Map::new();
    for header in headers {
        let Ok(cookie) = cookie::Cookie::parse(header.clone()) else {
            out.insert(format!("unparsable: {header}"), json!(true));
            continue;
        };
        let name = cookie.name();
        let value = cookie.value();
        let value = if value.is_empty() || value_is_data(name) {
            json!(percent_encoding::percent_decode_str(value).decode_utf8_lossy())
        } else {
            let kind = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-');
            normalizer.placeholder(kind, value)
        };
        let mut attributes = Map::new();
        attributes.insert("value".into(), value);
        if let Some(path) = cookie.path() {
            attributes.insert("Path".into(), json!(normalizer.hosts(path)));
        }
        if let Some(max_age) = cookie.max_age() {
            attributes.insert("Max-Age".into(), json!(max_age.whole_seconds()));
        }
        if let Some(expires) = cookie.expires_datetime() {
            // Only whether it lies in the past (a removal) or the future.
            let past = expires <= time::OffsetDateTime::now_utc();
            attributes.insert(
                "Expires".into(),
                json!(if past { "<past>" } else { "<future>" }),
            );
        }
        if let Some(same_site) = cookie.same_site() {
            attributes.insert("SameSite".into(), json!(same_site.to_string()));
        }
        attributes.insert("Secure".into(), json!(cookie.secure().unwrap_or(false)));
        attributes.insert(
            "HttpOnly".into(),
            json!(cookie.http_only().unwrap_or(false)),
        );
        let mut key = match cookie.domain() {
            Some(domain) => format!("{name} (Domain={domain})"),
            None => name.to_owned(),
        };
        let base = key.clone();
        let mut n = 1;
        while out.contains_key(&key) {
            n += 1;
            key = format!("{base} #{n}");
        }
        if let Some(domain) = cookie.domain() {
            attributes.insert("Domain".into(), json!(domain));
        }
        out.insert(key, Value::Object(attributes));
    }
    out
}
