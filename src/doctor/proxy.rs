//! The authenticating-proxy providers' risks (issue 14): oauth2Proxy and azureEasyAuth sign in
//! whoever sends their headers, so they are only safe where nothing but the proxy can reach
//! stagedoor. Also at start-up, as warnings.

use super::{Finding, Severity};
use crate::config::Settings;
use crate::providers::proxy::ProxyKind;

pub(super) fn risky_settings(settings: &Settings) -> Vec<Finding> {
    let listen = &settings.web.listen;
    let mut findings = Vec::new();
    for proxy in &settings.providers.proxy {
        let headers = match proxy.kind {
            ProxyKind::OAuth2Proxy => "x-forwarded-user/-email",
            ProxyKind::AzureEasyAuth => "x-ms-token-aad-id-token",
            _ => continue,
        };
        let check = format!("auth.providers.{}", proxy.id);
        if let Some(sources) = &proxy.allowed_sources {
            findings.push(Finding::new(
                Severity::Info,
                format!("{check}.allowedSources"),
                format!("only {sources} may send the {headers} headers; keep that list to the proxy's own addresses"),
            ));
            continue;
        }
        if crate::net::is_loopback_host(&listen.host) {
            continue;
        }
        findings.push(
            Finding::new(
                Severity::Warning,
                check.clone(),
                format!(
                    "signs in whoever sends the {headers} headers, and stagedoor listens on {}:{} with no allowedSources: anyone who can reach it without going through the proxy can sign in as anyone",
                    listen.host, listen.port
                ),
            )
            .fix(format!(
                "set {check}.allowedSources to the proxy's addresses (e.g. [10.0.3.0/24]), or listen on 127.0.0.1 beside the proxy; and let only the proxy reach stagedoor (a NetworkPolicy, a firewall)"
            )),
        );
    }
    findings
}
