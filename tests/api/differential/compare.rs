//! Field-by-field comparison of two transcripts, and the report of what differs.

use std::collections::BTreeMap;

use serde_json::Value;

/// One field that differs between Node and stagedoor (`None`: absent on that side).
#[derive(Debug)]
pub struct Diff {
    pub provider: &'static str,
    pub scenario: String,
    /// `<step>.<field>.<field>...`, e.g. `callback.cookies.oidc-nonce.Max-Age`
    pub path: String,
    pub node: Option<Value>,
    pub stagedoor: Option<Value>,
}

impl Diff {
    /// The step (the first segment of the path).
    pub fn step(&self) -> &str {
        self.path.split('.').next().unwrap_or_default()
    }

    /// The path contains `part`.
    pub fn at(&self, part: &str) -> bool {
        self.path.contains(part)
    }

    pub fn ends(&self, suffix: &str) -> bool {
        self.path.ends_with(suffix)
    }

    /// Present at stagedoor only.
    pub fn only_stagedoor(&self) -> bool {
        self.node.is_none() && self.stagedoor.is_some()
    }

    /// Present at Node only.
    pub fn only_node(&self) -> bool {
        self.node.is_some() && self.stagedoor.is_none()
    }

    pub fn node_str(&self) -> &str {
        self.node
            .as_ref()
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn stagedoor_str(&self) -> &str {
        self.stagedoor
            .as_ref()
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// Leaves of a JSON value by path; an empty object or array is a leaf.
pub fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    let join = |key: &str| {
        if prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{prefix}.{key}")
        }
    };
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, value) in map {
                flatten(&join(key), value, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (index, value) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{index}]"), value, out);
            }
        }
        leaf => {
            out.insert(prefix.to_owned(), leaf.clone());
        }
    }
}

pub fn diffs(provider: &'static str, scenario: &str, node: &Value, stagedoor: &Value) -> Vec<Diff> {
    let (mut left, mut right) = (BTreeMap::new(), BTreeMap::new());
    flatten("", node, &mut left);
    flatten("", stagedoor, &mut right);
    let mut paths: Vec<&String> = left.keys().chain(right.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter(|path| !same(path, left.get(*path), right.get(*path)))
        .map(|path| Diff {
            provider,
            scenario: scenario.to_owned(),
            path: path.clone(),
            node: left.get(path).cloned(),
            stagedoor: right.get(path).cloned(),
        })
        .collect()
}

/// Equal, or both within a second of each other for a lifetime counted down from the IdP's
/// `expires_in` (Node's openid-client recomputes it from `expires_at` and gets 3599 for 3600).
fn same(path: &str, left: Option<&Value>, right: Option<&Value>) -> bool {
    match (left, right) {
        (Some(Value::Number(a)), Some(Value::Number(b))) if path.ends_with("expiresInSeconds") => {
            (a.as_f64().unwrap_or(0.0) - b.as_f64().unwrap_or(0.0)).abs() <= 2.0
        }
        _ => left == right,
    }
}

fn show(value: &Option<Value>) -> String {
    match value {
        None => "(absent)".to_owned(),
        Some(value) => {
            let text = value.to_string();
            if text.chars().count() > 300 {
                format!("{}…", text.chars().take(300).collect::<String>())
            } else {
                text
            }
        }
    }
}

/// One block per difference, readable in a test failure.
pub fn report(diffs: &[Diff]) -> String {
    let mut text = String::new();
    for diff in diffs {
        text.push_str(&format!(
            "{} / {} / {}\n    node:      {}\n    stagedoor: {}\n",
            diff.provider,
            diff.scenario,
            diff.path,
            show(&diff.node),
            show(&diff.stagedoor)
        ));
    }
    text
}
