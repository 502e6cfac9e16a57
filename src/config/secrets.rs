//! Finding secrets written in plain text in config files (for `stagedoor doctor`).

use figment::value::{Dict, Value};

/// Keys whose values are secrets, compared case-insensitively on the last path segment.
const SECRET_KEYS: &[&str] = &[
    "clientsecret",
    "secret",
    "password",
    "token",
    "tokens",
    "privatekey",
    "apikey",
];

/// Calls `report` with the path of every secret that is a literal string.
pub(super) fn find_plain(document: &Dict, path: &mut Vec<String>, report: &mut dyn FnMut(String)) {
    for (key, value) in document {
        path.push(key.clone());
        visit(value, path, report);
        path.pop();
    }
}

fn visit(value: &Value, path: &mut Vec<String>, report: &mut dyn FnMut(String)) {
    let secret_key = path
        .iter()
        .rev()
        .find(|segment| segment.parse::<usize>().is_err())
        .is_some_and(|key| SECRET_KEYS.contains(&key.to_ascii_lowercase().as_str()));
    match value {
        Value::String(_, text) if secret_key && is_literal(text) => report(path.join(".")),
        // A database URL with a password in it.
        Value::String(_, text) if has_url_password(text) => report(path.join(".")),
        Value::Dict(_, dict) => {
            // `{$env: VAR}` and `{$file: path}` are references, not secrets.
            if dict.contains_key("$env") || dict.contains_key("$file") {
                return;
            }
            find_plain(dict, path, report);
        }
        Value::Array(_, items) => {
            for (index, item) in items.iter().enumerate() {
                path.push(index.to_string());
                visit(item, path, report);
                path.pop();
            }
        }
        _ => {}
    }
}

fn is_literal(text: &str) -> bool {
    !text.trim().is_empty() && !text.contains("${")
}

fn has_url_password(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once("://") else {
        return false;
    };
    if !matches!(scheme, "postgres" | "postgresql" | "mysql" | "redis") {
        return false;
    }
    let authority = rest.split('/').next().unwrap_or_default();
    authority
        .rsplit_once('@')
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .is_some_and(|(_, password)| is_literal(password))
}

/// Bits a secret's characters carry, estimated from their frequencies (Shannon): one repeated
/// character has none, a 32-character `openssl rand -base64 24` has about 140.
pub(super) fn estimated_bits(secret: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    let mut total = 0usize;
    for c in secret.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
        total += 1;
    }
    let total_f = total as f64;
    let per_char: f64 = counts
        .values()
        .map(|&count| {
            let p = count as f64 / total_f;
            -p * p.log2()
        })
        .sum();
    per_char * total_f
}

/// Below this a secret is refused as guessable (a random 32-character hex string has ~115).
pub(super) const MIN_SECRET_BITS: f64 = 96.0;

#[cfg(test)]
mod tests {
    use super::*;
    use figment::providers::{Format, Yaml};
    use figment::{Profile, Provider};

    fn plain(yaml: &str) -> Vec<String> {
        let mut data = Yaml::string(yaml).data().unwrap();
        let document = data.remove(&Profile::Default).unwrap();
        let mut found = Vec::new();
        find_plain(&document, &mut Vec::new(), &mut |path| found.push(path));
        found
    }

    #[test]
    fn literal_secrets_are_found_and_references_are_not() {
        let yaml = "auth:\n  providers:\n    oidc:\n      development:\n        clientSecret: hunter2\n        clientId: backstage\n    okta:\n      production:\n        clientSecret: ${OKTA_SECRET}\n    github:\n      development:\n        clientSecret: { $env: GH_SECRET }\nstagedoor:\n  database: postgres://sd:pw@db/x\n  admin:\n    tokens: [abc, '${ADMIN}']\n  sessions: { secret: '${S}' }\nbackend:\n  database:\n    connection: { password: secret-pw, host: db }\n";
        assert_eq!(
            plain(yaml),
            vec![
                "auth.providers.oidc.development.clientSecret",
                "backend.database.connection.password",
                "stagedoor.admin.tokens.0",
                "stagedoor.database",
            ]
        );
    }
}
