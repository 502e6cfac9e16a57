//! Fetching a client's metadata document outside development (CVE-2026-32236): https only, no
//! private, loopback or link-local target (every address a name resolves to is checked, and
//! the connection goes to a checked address) unless the operator's pattern names the URL
//! exactly.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::TestServer;
use crate::common::authz::challenge;

/// Counts TCP connections (a TLS handshake that then fails is still a connection).
async fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (port, count)
}

async fn refused(server: &TestServer, client_id: &str, message: &str) {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", client_id),
            ("redirect_uri", "http://127.0.0.1:9700/cb"),
            ("response_type", "code"),
            ("code_challenge", &challenge("v")),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    let response = server.get(&format!("/v1/authorize?{query}")).await;
    crate::common::assert_error(response, 400, "InputError", message).await;
}

#[tokio::test]
async fn private_targets_are_refused_before_any_connection_unless_named_exactly() {
    let (port, connections) = counting_listener().await;
    let config = format!(
        r#"
auth:
  clientIdMetadataDocuments:
    enabled: true
    allowedClientIdPatterns:
      - https://localhost:*/*
      - https://10.0.0.1/*
      - https://169.254.169.254/*
      - https://[::1]/*
      - https://127.0.0.1:{port}/wild/*
      - https://127.0.0.1:{port}/exact.json
      - http://localhost:*/*
"#
    );
    let server = TestServer::start(&[&config]).await;
    // A name that resolves to loopback, private and link-local addresses, and IPv6 loopback.
    refused(
        &server,
        &format!("https://localhost:{port}/c.json"),
        "Invalid client_id URL",
    )
    .await;
    refused(&server, "https://10.0.0.1/c.json", "Invalid client_id URL").await;
    refused(
        &server,
        "https://169.254.169.254/latest/c.json",
        "Invalid client_id URL",
    )
    .await;
    refused(&server, "https://[::1]/c.json", "Invalid client_id URL").await;
    refused(
        &server,
        &format!("https://127.0.0.1:{port}/wild/c.json"),
        "Invalid client_id URL",
    )
    .await;
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "refused before connecting"
    );
    // Plain http outside development: not a metadata document URL, so no such client.
    refused(
        &server,
        &format!("http://localhost:{port}/c.json"),
        "Invalid client_id",
    )
    .await;
    // The CLI's own http client id too (Node: http only with NODE_ENV=development).
    let cli = "http://localhost:7007/api/auth/.well-known/oauth-client/cli.json";
    refused(&server, cli, "Invalid client_id").await;
    // An exact pattern is the operator's choice: fetched (here the TLS handshake fails).
    let exact = format!("https://127.0.0.1:{port}/exact.json");
    refused(&server, &exact, "Failed to fetch client metadata").await;
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}
