//! Request validation with Node's messages (its zod schemas, rendered by
//! `zod-validation-error`): `Validation error: <issue> at "<field>"; ...`, as an OAuth
//! `invalid_request`.

use url::Url;

use super::error::OidcError;

/// A parameter as read: absent, a string, or (JSON) another type, named.
pub type Param<'a> = Result<Option<&'a str>, &'static str>;

#[derive(Default)]
pub struct Checks {
    issues: Vec<String>,
}

impl Checks {
    /// A string of at least one character.
    pub fn required(&mut self, field: &str, value: Param<'_>) -> Option<String> {
        match value {
            Ok(Some(text)) if !text.is_empty() => Some(text.to_owned()),
            Ok(Some(_)) => {
                self.issue(
                    field,
                    "Too small: expected string to have >=1 characters".to_owned(),
                );
                None
            }
            Ok(None) => self.wrong_type(field, "undefined"),
            Err(found) => self.wrong_type(field, found),
        }
    }

    pub fn optional(&mut self, field: &str, value: Param<'_>) -> Option<String> {
        match value {
            Ok(value) => value.map(str::to_owned),
            Err(found) => self.wrong_type(field, found),
        }
    }

    /// A required URL.
    pub fn required_url(&mut self, field: &str, value: Param<'_>) -> Option<String> {
        match value {
            Ok(Some(text)) => self.url(field, text),
            Ok(None) => self.wrong_type(field, "undefined"),
            Err(found) => self.wrong_type(field, found),
        }
    }

    pub fn optional_url(&mut self, field: &str, value: Param<'_>) -> Option<String> {
        match value {
            Ok(Some(text)) => self.url(field, text),
            Ok(None) => None,
            Err(found) => self.wrong_type(field, found),
        }
    }

    pub fn url(&mut self, field: &str, text: &str) -> Option<String> {
        if Url::parse(text).is_ok() {
            Some(text.to_owned())
        } else {
            self.issue(field, "Invalid URL".to_owned());
            None
        }
    }

    fn wrong_type(&mut self, field: &str, found: &str) -> Option<String> {
        self.issue(
            field,
            format!("Invalid input: expected string, received {found}"),
        );
        None
    }

    pub fn issue(&mut self, field: &str, message: String) {
        self.issues.push(format!("{message} at \"{field}\""));
    }

    /// `Ok` when nothing was wrong.
    pub fn finish(self) -> Result<(), OidcError> {
        if self.issues.is_empty() {
            Ok(())
        } else {
            Err(OidcError::invalid_request(format!(
                "Validation error: {}",
                self.issues.join("; ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_node_s() {
        let mut checks = Checks::default();
        checks.required("client_id", Ok(None));
        checks.required_url("redirect_uri", Ok(Some("not a url")));
        checks.required("response_type", Ok(Some("")));
        checks.optional("state", Err("number"));
        let error = checks.finish().unwrap_err();
        assert_eq!(
            error.description,
            "Validation error: Invalid input: expected string, received undefined at \"client_id\"; \
             Invalid URL at \"redirect_uri\"; Too small: expected string to have >=1 characters at \
             \"response_type\"; Invalid input: expected string, received number at \"state\""
        );
    }
}
