//! Backstage entity references (`kind:namespace/name`), parsed as `@backstage/catalog-model` does.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityRef {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntityRefError {
    #[error("it has no kind; expected kind:namespace/name, e.g. user:default/jane")]
    MissingKind,
    #[error("it is not an entity ref; expected kind:namespace/name, e.g. user:default/jane")]
    Malformed,
}

impl EntityRef {
    /// Parses `[kind:][namespace/]name`, requiring a kind (as token issuance does).
    /// The namespace defaults to `default`; case is kept as written.
    pub fn parse_with_kind(input: &str) -> Result<Self, EntityRefError> {
        let (kind, rest) = match input.split_once(':') {
            Some((kind, rest)) => (Some(kind), rest),
            None => (None, input),
        };
        let (namespace, name) = match rest.split_once('/') {
            Some((namespace, name)) => (Some(namespace), name),
            None => (None, rest),
        };
        let is_bad = |part: &str| part.is_empty() || part.contains([':', '/']);
        if is_bad(name) || kind.is_some_and(is_bad) || namespace.is_some_and(is_bad) {
            return Err(EntityRefError::Malformed);
        }
        let kind = kind.ok_or(EntityRefError::MissingKind)?;
        Ok(Self {
            kind: kind.to_owned(),
            namespace: namespace.unwrap_or("default").to_owned(),
            name: name.to_owned(),
        })
    }

    /// `stringifyEntityRef`: all three parts lower-cased.
    pub fn to_normalized_string(&self) -> String {
        format!(
            "{}:{}/{}",
            self.kind.to_lowercase(),
            self.namespace.to_lowercase(),
            self.name.to_lowercase()
        )
    }
}

impl fmt::Display for EntityRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}/{}", self.kind, self.namespace, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_and_partial_refs() {
        let full = EntityRef::parse_with_kind("user:development/guest").unwrap();
        assert_eq!(full.to_string(), "user:development/guest");
        let no_namespace = EntityRef::parse_with_kind("User:Jane").unwrap();
        assert_eq!(no_namespace.to_normalized_string(), "user:default/jane");
    }

    #[test]
    fn rejects_refs_without_kind_or_with_empty_parts() {
        assert_eq!(
            EntityRef::parse_with_kind("guest"),
            Err(EntityRefError::MissingKind)
        );
        assert_eq!(
            EntityRef::parse_with_kind("default/guest"),
            Err(EntityRefError::MissingKind)
        );
        for bad in [
            "",
            "user:",
            "user:ns/",
            ":ns/name",
            "user:/name",
            "a:b:c",
            "a:b/c/d",
        ] {
            assert_eq!(
                EntityRef::parse_with_kind(bad),
                Err(EntityRefError::Malformed),
                "{bad}"
            );
        }
    }
}
