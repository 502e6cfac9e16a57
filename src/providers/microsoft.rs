//! `microsoft` (§11.8): Microsoft Entra ID (v2.0 endpoints) for a tenant, `common`,
//! `organizations` or `consumers`, with the profile from Microsoft Graph (`/me` and the 96×96
//! photo), as Node's module builds it (`tests/fixtures/node/microsoft/README.md`). Beyond Node,
//! `authority` and `graphUrl` point at a national cloud (`https://login.microsoftonline.us`,
//! `https://login.chinacloudapi.cn`), a proxy or a test double.

mod graph;

use std::sync::Arc;

use super::oauth::{Behaviour, OAuthEnvSettings, Preset, ScopeRule, UserinfoCall, base_url};
use crate::oauth::idp::{ClientAuth, Metadata};
use crate::section::Section;
use graph::Graph;

/// Entra ID of the global cloud.
pub const AUTHORITY: &str = "https://login.microsoftonline.com";
/// Microsoft Graph of the global cloud.
pub const GRAPH: &str = "https://graph.microsoft.com";

pub fn settings(
    reader: &mut Section<'_>,
    environment: &str,
    external_base_url: &str,
) -> OAuthEnvSettings {
    let skip_profile = reader.bool("skipUserProfile").unwrap_or(false);
    let graph_url = base_url(reader, "graphUrl", GRAPH);
    let mut settings =
        Preset::settings("microsoft", reader, environment, external_base_url, preset);
    let graph = Graph {
        graph_url,
        skip: skip_profile,
        token_endpoint: endpoint(&settings, |metadata| &metadata.token_endpoint),
        client_id: settings.client_id.clone(),
        client_secret: settings.client_secret.clone(),
    };
    settings.behaviour.profile_api = Some(Arc::new(graph));
    settings
}

/// `{authority}/{tenantId}/oauth2/v2.0/authorize` and `/token`, the tenant's `domainHint`.
fn preset(reader: &mut Section<'_>) -> Preset {
    let authority = base_url(reader, "authority", AUTHORITY);
    let tenant = tenant(reader);
    let base = format!("{authority}/{tenant}/oauth2/v2.0");
    let mut start_params = Vec::new();
    if let Some(hint) = reader.string("domainHint") {
        start_params.push(("domain_hint".to_owned(), hint));
    }
    let mut behaviour = Behaviour::passport(UserinfoCall::None);
    // The ID token comes straight from the token endpoint over TLS and is only read, as Node
    // does (OpenID Connect Core 3.1.3.7): with `common` and `organizations` its issuer names
    // the user's own tenant.
    behaviour.verify_id_token = false;
    behaviour.openid_nonce = false;
    behaviour.username_claim = None;
    // Entra ID compares scopes without regard to case, and a token is for one resource.
    behaviour.scope_rule = ScopeRule::ResourceAlone {
        with: &["offline_access"],
    };
    Preset {
        metadata: Metadata {
            authorization_endpoint: format!("{base}/authorize"),
            token_endpoint: format!("{base}/token"),
            ..Metadata::default()
        },
        client_auth: ClientAuth::Post,
        prompt: None,
        start_params,
        required_scopes: &["email", "openid", "offline_access", "user.read"],
        behaviour,
    }
}

/// `tenantId`, required: a directory id, a verified domain, `common`, `organizations` or
/// `consumers`. An empty one is `common` (passport-microsoft's default).
fn tenant(reader: &mut Section<'_>) -> String {
    match reader.string("tenantId") {
        Some(tenant) if tenant.is_empty() => "common".to_owned(),
        Some(tenant) if tenant.contains(['/', '?', '#']) => {
            reader.problem(
                "tenantId",
                format!("\"{tenant}\" is not a tenant: use the directory (tenant) id, a verified domain, common, organizations or consumers"),
            );
            tenant
        }
        Some(tenant) => tenant,
        None => reader.required(
            "tenantId",
            "the directory (tenant) id, or common, organizations or consumers",
        ),
    }
}

fn endpoint(settings: &OAuthEnvSettings, pick: fn(&Metadata) -> &String) -> String {
    match &settings.endpoints {
        super::oauth::Endpoints::Fixed(metadata) => pick(metadata).clone(),
        super::oauth::Endpoints::Discovery { .. } => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::value::Dict;

    fn read(yaml: &str) -> (OAuthEnvSettings, Vec<String>) {
        let data = <figment::providers::Yaml as figment::providers::Format>::string(yaml);
        let dict: Dict = figment::Provider::data(&data)
            .unwrap()
            .remove(&figment::Profile::Default)
            .unwrap();
        let mut problems = Vec::new();
        let mut section = Section {
            base: "auth.providers.microsoft.development".into(),
            config: &dict,
            problems: &mut problems,
        };
        let settings = settings(
            &mut section,
            "development",
            "http://localhost:7007/api/auth",
        );
        let problems = problems
            .into_iter()
            .map(|p| format!("{}: {}", p.path, p.message));
        (settings, problems.collect())
    }

    fn metadata(settings: &OAuthEnvSettings) -> &Metadata {
        match &settings.endpoints {
            super::super::oauth::Endpoints::Fixed(metadata) => metadata,
            _ => panic!("fixed endpoints"),
        }
    }

    #[test]
    fn the_urls_are_nodes_by_default_and_follow_a_national_cloud() {
        let (global, problems) = read(
            "clientId: app\nclientSecret: s\ntenantId: organizations\ndomainHint: example.com\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            metadata(&global).authorization_endpoint,
            "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize"
        );
        assert_eq!(
            metadata(&global).token_endpoint,
            "https://login.microsoftonline.com/organizations/oauth2/v2.0/token"
        );
        assert_eq!(
            global.start_params,
            [("domain_hint".to_owned(), "example.com".to_owned())]
        );
        let (us, _) = read(
            "clientId: app\nclientSecret: s\ntenantId: contoso.us\nauthority: https://login.microsoftonline.us/\ngraphUrl: https://graph.microsoft.us\n",
        );
        assert_eq!(
            metadata(&us).token_endpoint,
            "https://login.microsoftonline.us/contoso.us/oauth2/v2.0/token"
        );
        let graph = format!("{:?}", us.behaviour.profile_api);
        assert!(graph.contains("https://graph.microsoft.us"), "{graph}");
        let (empty, _) = read("clientId: app\nclientSecret: s\ntenantId: ''\n");
        assert!(metadata(&empty).token_endpoint.contains("/common/"));
    }

    #[test]
    fn a_tenant_is_required() {
        let (_, problems) = read("clientId: app\nclientSecret: s\n");
        assert_eq!(
            problems,
            [
                "auth.providers.microsoft.development.tenantId: is required, e.g. the directory (tenant) id, or common, organizations or consumers"
            ]
        );
        let (_, problems) =
            read("clientId: app\nclientSecret: s\ntenantId: a/b\nauthority: ftp://x\n");
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
