//! Every step of the authorization server leaves one audit event and one count: authorize,
//! consent (approve and reject), token issuance, refresh, revocation and registration, with
//! the user and client they concern and never a token or a secret.

use serde_json::{Value, json};

use crate::common::authz::{
    Authz, CLI_CLIENT_ID, CLI_REDIRECT, VERIFIER, cli_params, code_of, pairs,
};

/// The one event named `name` whose `reason` is `reason` (or any, if `None`).
fn one<'a>(events: &'a [Value], name: &str, reason: Option<&str>) -> &'a Value {
    let found: Vec<&Value> = all(events, name)
        .into_iter()
        .filter(|event| reason.is_none_or(|reason| event["reason"] == reason))
        .collect();
    assert_eq!(found.len(), 1, "{name} {reason:?}: {events:#?}");
    found[0]
}

fn all<'a>(events: &'a [Value], name: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|event| event["event"] == name)
        .collect()
}

/// What the flow left behind: the registered client, the rejected consent session and every
/// secret that must not reach the audit trail.
struct Steps {
    client_id: String,
    rejected: String,
    secrets: Vec<String>,
}

/// Registration, a rejected and an approved consent, a code exchanged, a refresh, a
/// revocation, the code replayed.
async fn take_every_step(authz: &Authz) -> Steps {
    let (client_id, secret) = authz.register("Agent", "http://127.0.0.1:9700/cb").await;
    let token = authz.user_token().await;
    let rejected = authz.session(&pairs(&cli_params(CLI_REDIRECT))).await;
    let (status, body) = authz.decide(&rejected, "reject", Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    let session = authz.session(&pairs(&cli_params(CLI_REDIRECT))).await;
    let (status, body) = authz.decide(&session, "approve", Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    let code = code_of(body["redirectUrl"].as_str().unwrap());
    let exchange = json!({"grant_type": "authorization_code", "code": code,
        "redirect_uri": CLI_REDIRECT, "client_id": CLI_CLIENT_ID, "code_verifier": VERIFIER});
    let (status, tokens) = authz.token_json(exchange.clone()).await;
    assert_eq!(status, 200, "{tokens}");
    let first = tokens["refresh_token"].as_str().unwrap();
    let (status, refreshed) = authz.refresh(first).await;
    assert_eq!(status, 200, "{refreshed}");
    let live = refreshed["refresh_token"].as_str().unwrap();
    let form = [("token", live), ("client_id", CLI_CLIENT_ID)];
    assert_eq!(authz.revoke(&form, None).await, 200);
    assert_eq!(authz.token_json(exchange).await.0, 400, "the replay fails");
    let access = tokens["access_token"].as_str().unwrap();
    Steps {
        client_id,
        rejected,
        secrets: [secret.as_str(), &code, access, first, live]
            .map(str::to_owned)
            .to_vec(),
    }
}

#[tokio::test]
async fn each_step_of_a_flow_leaves_one_audit_event_and_one_count() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let audit_config = format!(
        "stagedoor: {{ audit: {{ sink: file, path: \"{}\" }} }}",
        audit.display()
    );
    let authz = Authz::start(&[&audit_config]).await;
    let steps = take_every_step(&authz).await;
    // The last step is the replayed code: its refused `oauth_token` is the last event written.
    crate::common::audit_events(&audit, "oauth_token", 2).await;
    let text = std::fs::read_to_string(&audit).unwrap();
    let events: Vec<Value> = text
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let alice = json!("user:default/alice");
    let (success, client) = (json!("success"), json!(CLI_CLIENT_ID));

    let register = one(&events, "oauth_register", None);
    assert_eq!(register["outcome"], success);
    assert_eq!(register["subject"], steps.client_id.as_str());
    assert_eq!(register["reason"], "Agent");
    let authorized = all(&events, "oauth_authorize");
    assert_eq!(authorized.len(), 2, "{authorized:#?}");
    assert!(
        authorized
            .iter()
            .all(|event| event["outcome"] == success && event["subject"] == client)
    );
    assert_eq!(
        authorized[0]["reason"],
        steps.rejected.as_str(),
        "the consent session"
    );
    for decision in ["reject", "approve"] {
        let consent = one(&events, "oauth_consent", Some(decision));
        assert_eq!((&consent["outcome"], &consent["user"]), (&success, &alice));
    }
    let issued = all(&events, "oauth_token");
    assert_eq!(issued.len(), 2, "{issued:#?}");
    let first = issued[0];
    assert_eq!(
        (&first["outcome"], &first["user"], &first["subject"]),
        (&success, &alice, &client)
    );
    assert_eq!(issued[1]["outcome"], "failure");
    let refresh = one(&events, "oauth_refresh", None);
    assert_eq!(
        (&refresh["outcome"], &refresh["user"], &refresh["subject"]),
        (&success, &alice, &client)
    );
    let revoke = one(&events, "oauth_revoke", None);
    assert_eq!((&revoke["outcome"], &revoke["user"]), (&success, &alice));
    for secret in &steps.secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a secret in the audit trail"
        );
    }
    assert_counts(&authz).await;
}

async fn assert_counts(authz: &Authz) {
    let url = authz.server.root_url("/metrics");
    let response = authz.server.http.get(url).send().await.unwrap();
    let text = response.text().await.unwrap();
    for (event, outcome, count) in [
        ("register", "success", 1),
        ("authorize", "success", 2),
        ("consent", "success", 2),
        ("token", "success", 1),
        ("token", "failure", 1),
        ("refresh", "success", 1),
        ("revoke", "success", 1),
    ] {
        let line = format!(
            "stagedoor_authorization_server_events_total{{event=\"{event}\",outcome=\"{outcome}\"}} {count}"
        );
        assert!(text.contains(&line), "{line} in\n{text}");
    }
}
