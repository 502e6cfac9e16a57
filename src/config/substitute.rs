//! Backstage's config value transforms: `${VAR}` substitution (`$${` escapes it) and the
//! `$env` / `$file` directives, applied to every string of a loaded YAML file.

use std::path::Path;

use figment::value::{Dict, Value};

/// A reference that could not be resolved, with the key path it was found at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    pub path: String,
    pub reason: String,
}

pub struct Substituter<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    base_dir: &'a Path,
    pub unresolved: Vec<Unresolved>,
}

impl<'a> Substituter<'a> {
    pub fn new(env: &'a dyn Fn(&str) -> Option<String>, base_dir: &'a Path) -> Self {
        Self {
            env,
            base_dir,
            unresolved: Vec::new(),
        }
    }

    /// Transforms a whole document. Values whose references cannot be resolved are removed
    /// (Backstage makes them undefined) and recorded in `unresolved`.
    pub fn apply(&mut self, document: Dict) -> Dict {
        let mut path = Vec::new();
        self.dict(document, &mut path)
    }

    fn dict(&mut self, dict: Dict, path: &mut Vec<String>) -> Dict {
        let mut out = Dict::new();
        for (key, value) in dict {
            path.push(key.clone());
            if let Some(value) = self.value(value, path) {
                out.insert(key, value);
            }
            path.pop();
        }
        out
    }

    fn value(&mut self, value: Value, path: &mut Vec<String>) -> Option<Value> {
        match value {
            Value::String(tag, text) => match substitute(&text, self.env) {
                Ok(text) => Some(Value::String(tag, text)),
                Err(variable) => {
                    self.record(path, format!("environment variable {variable} is not set (referenced as ${{{variable}}}); set it, or remove the reference"));
                    None
                }
            },
            Value::Dict(tag, dict) => match directive(&dict) {
                Some((name, argument)) => self.directive(name, argument, path, tag),
                None => Some(Value::Dict(tag, self.dict(dict, path))),
            },
            Value::Array(tag, items) => {
                let mut out = Vec::with_capacity(items.len());
                for (index, item) in items.into_iter().enumerate() {
                    path.push(index.to_string());
                    out.extend(self.value(item, path));
                    path.pop();
                }
                Some(Value::Array(tag, out))
            }
            other => Some(other),
        }
    }

    fn directive(
        &mut self,
        name: &str,
        argument: &Value,
        path: &[String],
        tag: figment::value::Tag,
    ) -> Option<Value> {
        let Some(argument) = argument.as_str() else {
            self.record(path, format!("{name} needs a string argument"));
            return None;
        };
        let resolved = match name {
            "$env" => (self.env)(argument).ok_or_else(|| {
                format!("environment variable {argument} is not set (referenced with $env); set it, or remove the reference")
            }),
            "$file" => {
                let file = self.base_dir.join(argument);
                std::fs::read_to_string(&file)
                    .map(|content| content.trim_end_matches(['\r', '\n']).to_owned())
                    .map_err(|error| format!("cannot read {} (referenced with $file): {error}", file.display()))
            }
            _ => Err(format!("{name} is not supported by stagedoor; use $env, $file or ${{VAR}}")),
        };
        match resolved {
            Ok(text) => Some(Value::String(tag, text)),
            Err(reason) => {
                self.record(path, reason);
                None
            }
        }
    }

    fn record(&mut self, path: &[String], reason: String) {
        self.unresolved.push(Unresolved {
            path: path.join("."),
            reason,
        });
    }
}

fn directive(dict: &Dict) -> Option<(&str, &Value)> {
    if dict.len() != 1 {
        return None;
    }
    let (key, value) = dict.iter().next()?;
    key.starts_with('$').then_some((key.as_str(), value))
}

/// Replaces every `${VAR}` in `text`; `$${...}` stands for a literal `${...}`.
/// Returns the name of the first variable that is not set.
pub fn substitute(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    if !text.contains("${") {
        return Ok(text.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let Some(length) = rest[start + 2..].find('}') else {
            break;
        };
        let escaped = start > 0 && rest.as_bytes()[start - 1] == b'$';
        let reference = &rest[start..start + 2 + length + 1];
        if escaped {
            out.push_str(&rest[..start - 1]);
            out.push_str(reference);
        } else {
            out.push_str(&rest[..start]);
            let name = rest[start + 2..start + 2 + length].trim();
            out.push_str(&env(name).ok_or_else(|| name.to_owned())?);
        }
        rest = &rest[start + reference.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("example.com".into()),
            "PORT" => Some("7007".into()),
            _ => None,
        }
    }

    #[test]
    fn substitutes_and_escapes() {
        assert_eq!(
            substitute("https://${HOST}:${ PORT }/x", &env),
            Ok("https://example.com:7007/x".into())
        );
        assert_eq!(substitute("$${HOST}", &env), Ok("${HOST}".into()));
        assert_eq!(substitute("plain", &env), Ok("plain".into()));
        assert_eq!(substitute("open ${HOST", &env), Ok("open ${HOST".into()));
        assert_eq!(substitute("${NOPE}", &env), Err("NOPE".into()));
    }

    #[test]
    fn records_unresolved_references_with_their_path() {
        let yaml = "auth:\n  providers:\n    x:\n      secret: ${NOPE}\n      id: ${HOST}\n      list: ['${NOPE}', a]\n      file: {$file: missing.txt}\n      env: {$env: PORT}\n";
        let data = <figment::providers::Yaml as figment::providers::Format>::string(yaml);
        let dict = figment::Provider::data(&data)
            .unwrap()
            .remove(&figment::Profile::Default)
            .unwrap();
        let mut substituter = Substituter::new(&env, Path::new("/nonexistent"));
        let out = substituter.apply(dict);
        let paths: Vec<_> = substituter
            .unresolved
            .iter()
            .map(|u| u.path.as_str())
            .collect();
        assert_eq!(
            paths,
            [
                "auth.providers.x.file",
                "auth.providers.x.list.0",
                "auth.providers.x.secret"
            ]
        );
        let provider = &out["auth"].as_dict().unwrap()["providers"]
            .as_dict()
            .unwrap()["x"];
        let provider = provider.as_dict().unwrap();
        assert_eq!(provider["id"].as_str(), Some("example.com"));
        assert_eq!(provider["env"].as_str(), Some("7007"));
        assert!(!provider.contains_key("secret"));
    }
}
