//! `backend.actions` (which actions the registry exposes) and where the plugins that call
//! actions publish their service-token keys.

use std::collections::BTreeMap;

use globset::{Glob, GlobMatcher};

#[derive(Debug, Clone, Default)]
pub struct ActionsSettings {
    /// `backend.actions.pluginSources`: when set, only these plugins' actions are exposed.
    pub plugin_sources: Option<Vec<String>>,
    /// `backend.actions.filter.include` / `.exclude`.
    pub include: Vec<ActionRule>,
    pub exclude: Vec<ActionRule>,
    /// Where calling plugins publish their service-token keys.
    pub discovery: PluginDiscovery,
}

/// A filter rule: an id glob and attribute values, all of which must match.
#[derive(Debug, Clone)]
pub struct ActionRule {
    id: Option<GlobMatcher>,
    attributes: Vec<(String, bool)>,
}

const ATTRIBUTES: &[&str] = &["destructive", "readOnly", "idempotent"];

impl ActionRule {
    pub fn new(id: Option<&str>, attributes: &BTreeMap<String, bool>) -> Result<Self, String> {
        let id = id
            .map(|pattern| {
                Glob::new(pattern)
                    .map(|glob| glob.compile_matcher())
                    .map_err(|error| format!("id \"{pattern}\" is not a valid pattern: {error}"))
            })
            .transpose()?;
        let mut kept = Vec::new();
        for (name, value) in attributes {
            if !ATTRIBUTES.contains(&name.as_str()) {
                return Err(format!(
                    "attributes.{name} is not an action attribute; use destructive, readOnly or idempotent"
                ));
            }
            kept.push((name.clone(), *value));
        }
        Ok(Self {
            id,
            attributes: kept,
        })
    }

    /// `attributes`: the action's (`destructive`, `readOnly`, `idempotent`).
    pub fn matches(&self, id: &str, attributes: &[(&str, bool)]) -> bool {
        self.id.as_ref().is_none_or(|glob| glob.is_match(id))
            && self.attributes.iter().all(|(name, value)| {
                attributes
                    .iter()
                    .any(|(other, actual)| other == name && actual == value)
            })
    }
}

/// Where a plugin is, as Backstage's discovery finds it: the internal target of the first
/// `discovery.endpoints` entry naming it (or `*`), else `backend.baseUrl` + `/api/<id>`.
#[derive(Debug, Clone, Default)]
pub struct PluginDiscovery {
    /// (plugins, internal URL template with `{{pluginId}}`).
    pub endpoints: Vec<(Vec<String>, String)>,
    pub backend_base_url: Option<String>,
}

impl PluginDiscovery {
    pub fn base_url(&self, plugin_id: &str) -> Option<String> {
        let found = self.endpoints.iter().find(|(plugins, _)| {
            plugins
                .iter()
                .any(|plugin| plugin == plugin_id || plugin == "*")
        });
        match found {
            Some((_, target)) => Some(
                target
                    .replace("{{pluginId}}", plugin_id)
                    .replace("{{ pluginId }}", plugin_id)
                    .trim_end_matches('/')
                    .to_owned(),
            ),
            None => self
                .backend_base_url
                .as_ref()
                .map(|base| format!("{}/api/{plugin_id}", base.trim_end_matches('/'))),
        }
    }
}
