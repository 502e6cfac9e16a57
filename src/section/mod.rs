//! One section of the configuration, as the module that owns it reads it: a provider
//! environment, a feature's block. Values are read by key; every problem is collected with its
//! key path and a message that says how to fix it. `config` parses the files and hands each
//! owner its section; owners never see the rest of the configuration.

pub mod duration;

use std::time::Duration;

use figment::value::{Dict, Value};
use url::Url;

pub use duration::DurationValue;

/// A problem with the configuration: the key path and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Reads the keys of one section (`auth.providers.oidc.development`, ...).
pub struct Section<'a> {
    /// The section's key path, for messages.
    pub base: String,
    pub config: &'a Dict,
    pub problems: &'a mut Vec<Problem>,
}

impl Section<'_> {
    pub fn problem(&mut self, key: &str, message: impl Into<String>) {
        self.problems
            .push(Problem::new(format!("{}.{key}", self.base), message));
    }

    pub fn has(&self, key: &str) -> bool {
        self.config.contains_key(key)
    }

    pub fn value(&self, key: &str) -> Option<&Value> {
        self.config.get(key)
    }

    pub fn string(&mut self, key: &str) -> Option<String> {
        match self.config.get(key) {
            None => None,
            Some(value) => match value.as_str() {
                Some(text) => Some(text.to_owned()),
                None => {
                    self.problem(key, "must be a string");
                    None
                }
            },
        }
    }

    pub fn required(&mut self, key: &str, example: &str) -> String {
        self.string(key)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| {
                self.problem(key, format!("is required, e.g. {example}"));
                String::new()
            })
    }

    /// `true`/`false`; anything else is a problem (and `None`).
    pub fn bool(&mut self, key: &str) -> Option<bool> {
        let value = self.config.get(key)?;
        let parsed = value.to_bool();
        if parsed.is_none() {
            self.problem(key, "must be true or false");
        }
        parsed
    }

    pub fn url(&mut self, key: &str) -> Option<Url> {
        let text = self.string(key)?;
        match Url::parse(&text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => Some(url),
            _ => {
                self.problem(key, format!("\"{text}\" is not an absolute http(s) URL"));
                None
            }
        }
    }

    pub fn seconds(&mut self, key: &str) -> Option<f64> {
        let value = self.config.get(key)?;
        match value
            .deserialize::<DurationValue>()
            .map_err(|e| e.to_string())
            .and_then(|v| v.to_seconds())
        {
            Ok(seconds) => Some(seconds),
            Err(message) => {
                self.problem(key, message);
                None
            }
        }
    }

    /// A duration within `min..=max` seconds, else `default`.
    pub fn duration(&mut self, key: &str, default: Duration, (min, max): (f64, f64)) -> Duration {
        match self.seconds(key) {
            None => default,
            Some(seconds) if (min..=max).contains(&seconds) => Duration::from_secs_f64(seconds),
            Some(seconds) => {
                self.problem(
                    key,
                    format!("{seconds} s is out of range; use {min} to {max} seconds"),
                );
                default
            }
        }
    }

    /// A list of strings split by `split` (scopes: whitespace, `,` and `|`), from a string or
    /// a list.
    pub fn words(&mut self, key: &str, split: fn(&str) -> Vec<String>) -> Vec<String> {
        match self.config.get(key) {
            None => Vec::new(),
            Some(Value::String(_, text)) => split(text),
            Some(Value::Array(_, items)) => items
                .iter()
                .filter_map(Value::as_str)
                .flat_map(split)
                .collect(),
            Some(_) => {
                self.problem(key, "must be a string or a list");
                Vec::new()
            }
        }
    }
}
