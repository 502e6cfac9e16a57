//! The reader the `signIn` parsers share: problems named by their config path.

use figment::value::Dict;

use crate::section::Problem;

pub(super) struct Parser<'a> {
    pub(super) base: &'a str,
    pub(super) problems: Vec<Problem>,
}

impl Parser<'_> {
    pub(super) fn problem(&mut self, suffix: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            path: format!("{}.{suffix}", self.base),
            message: message.into(),
        });
    }
}

/// `Ok(None)` when absent; `Err` when present but not a list of strings.
pub(super) fn string_list(dict: &Dict, key: &str) -> Result<Option<Vec<String>>, ()> {
    let Some(value) = dict.get(key) else {
        return Ok(None);
    };
    let items = value.as_array().ok_or(())?;
    items
        .iter()
        .map(|item| item.as_str().map(str::to_owned).ok_or(()))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}
