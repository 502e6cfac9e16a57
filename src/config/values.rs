//! Value shapes several parts of the configuration share.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(one) => vec![one],
            Self::Many(many) => many,
        }
    }
}

/// A port written as a number, or as a string (what `${PORT}` substitution yields).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawPort {
    Number(u64),
    Text(String),
}
