//! The parts of a catalog entity that sign-in needs.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Deserialize)]
pub struct Entity {
    pub kind: String,
    pub metadata: Metadata,
    #[serde(default)]
    pub spec: Value,
    #[serde(default)]
    pub relations: Vec<Relation>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    pub name: String,
    pub namespace: Option<String>,
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Relation {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(rename = "targetRef")]
    pub target_ref: String,
}

impl Entity {
    /// `stringifyEntityRef`: `kind:namespace/name`, lower-cased.
    pub fn entity_ref(&self) -> String {
        format!(
            "{}:{}/{}",
            self.kind.to_lowercase(),
            self.metadata
                .namespace
                .as_deref()
                .unwrap_or("default")
                .to_lowercase(),
            self.metadata.name.to_lowercase()
        )
    }

    /// Backstage's default ownership (§10.4): the user, then its direct `memberOf` groups,
    /// in relation order, without duplicates.
    pub fn ownership_refs(&self) -> Vec<String> {
        let mut refs = vec![self.entity_ref()];
        for relation in &self.relations {
            if relation.kind == "memberOf"
                && relation.target_ref.starts_with("group:")
                && !refs.contains(&relation.target_ref)
            {
                refs.push(relation.target_ref.clone());
            }
        }
        refs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_is_the_user_then_direct_groups_deduplicated() {
        let entity: Entity = serde_json::from_value(serde_json::json!({
            "kind": "User",
            "metadata": {"name": "Jane", "namespace": "Default"},
            "relations": [
                {"type": "memberOf", "targetRef": "group:default/a"},
                {"type": "memberOf", "targetRef": "group:default/a"},
                {"type": "memberOf", "targetRef": "user:default/x"},
                {"type": "ownerOf", "targetRef": "component:default/c"},
                {"type": "memberOf", "targetRef": "group:default/b"}
            ]
        }))
        .unwrap();
        assert_eq!(entity.entity_ref(), "user:default/jane");
        assert_eq!(
            entity.ownership_refs(),
            ["user:default/jane", "group:default/a", "group:default/b"]
        );
    }
}
