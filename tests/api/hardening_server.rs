//! Regression tests for issue 17's findings about the server itself: slow and idle clients
//! cannot hold connections (header, keep-alive and body deadlines, a connection cap that
//! keeps `/healthz` answering), forwarded addresses are believed only from trusted proxies,
//! every admin action is audited, logged values cannot forge log lines, and risky settings
//! are refused or flagged.

use std::time::{Duration, Instant};

use crate::common::exchange::Minter;
use crate::common::node::free_port;
use crate::common::replicas::Replica;
use crate::common::{TestServer, client};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LIMITS: &str = "stagedoor:\n  listen: { headerTimeout: 1s, keepAliveTimeout: 1s, requestTimeout: 2s, maxConnections: 64 }\n";

/// Waits until the server closes `socket` (EOF or reset) and returns how long that took;
/// `None` if it is still open after `limit`.
async fn closed_within(socket: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buffer = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(
            tokio::time::Instant::from_std(started + limit),
            socket.read(&mut buffer),
        )
        .await
        {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

async fn healthz_is_quick(server: &TestServer) {
    let started = Instant::now();
    let response = client()
        .get(server.root_url("/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .expect("healthz answers");
    assert_eq!(response.status(), 200);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn slow_and_idle_clients_are_cut_off_and_healthz_keeps_answering() {
    let server = TestServer::start(&[LIMITS]).await;
    let address = server.server.address;
    // 20 sockets that send nothing, 20 that trickle a header a byte at a time.
    let mut idle = Vec::new();
    let mut slow = Vec::new();
    for _ in 0..20 {
        idle.push(TcpStream::connect(address).await.unwrap());
        let mut socket = TcpStream::connect(address).await.unwrap();
        socket
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        slow.push(socket);
    }
    let trickler = tokio::spawn(async move {
        for _ in 0..10 {
            for socket in &mut slow {
                let _ = socket.write_all(b"X").await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        slow
    });
    healthz_is_quick(&server).await;
    for socket in &mut idle {
        let closed = closed_within(socket, Duration::from_secs(3)).await;
        assert!(
            closed.is_some(),
            "an idle connection is closed after the keep-alive timeout"
        );
    }
    let mut slow = trickler.await.unwrap();
    for socket in &mut slow {
        // Trickling does not extend the header deadline (1 s, long passed by now).
        assert!(
            closed_within(socket, Duration::from_millis(500))
                .await
                .is_some()
        );
    }
    healthz_is_quick(&server).await;

    // A keep-alive connection that goes quiet after a request is closed too.
    let mut socket = TcpStream::connect(address).await.unwrap();
    socket
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let closed = closed_within(&mut socket, Duration::from_secs(3))
        .await
        .unwrap();
    assert!(closed >= Duration::from_millis(900), "{closed:?}");

    // The start of a second request sent along with a first one, never finished: closed too.
    let mut socket = TcpStream::connect(address).await.unwrap();
    socket
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHo")
        .await
        .unwrap();
    assert!(
        closed_within(&mut socket, Duration::from_secs(4))
            .await
            .is_some(),
        "a half-sent pipelined request does not hold the connection"
    );
}

#[tokio::test]
async fn a_trickled_body_gets_408_at_the_request_deadline() {
    let minter = Minter::start("k1").await;
    let exchange = format!(
        "stagedoor:\n  tokenExchange:\n    issuers:\n      - {{ issuer: {}, jwksUrl: {}, audiences: [a], clients: [c], userEntityRef: 'user:default/c' }}\n",
        minter.base,
        minter.jwks_url()
    );
    let server = TestServer::start(&[LIMITS, &exchange]).await;
    let mut socket = TcpStream::connect(server.server.address).await.unwrap();
    socket
        .write_all(b"POST /api/auth/v1/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=")
        .await
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    while started.elapsed() < Duration::from_secs(5) {
        let _ = socket.write_all(b"x").await;
        if let Ok(Ok(read)) =
            tokio::time::timeout(Duration::from_millis(300), socket.read(&mut buffer)).await
        {
            if read == 0 {
                break;
            }
            answer.extend_from_slice(&buffer[..read]);
            if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn at_the_connection_cap_new_connections_wait_and_the_log_says_why() {
    let port = free_port();
    let mut replica = Replica::start(
        "cap",
        port,
        &["stagedoor:\n  listen: { keepAliveTimeout: 1s, maxConnections: 4 }\n"],
    )
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    let started = Instant::now();
    let response = client()
        .get(replica.root_url("/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("served once an idle connection is closed");
    assert_eq!(response.status(), 200);
    let waited = started.elapsed();
    assert!(
        (Duration::from_millis(500)..Duration::from_secs(4)).contains(&waited),
        "{waited:?}"
    );
    let log = std::fs::read_to_string(replica.log_path()).unwrap();
    assert!(
        log.contains("4 connections are open, the limit (stagedoor.listen.maxConnections)"),
        "{log}"
    );
    replica.stop().await;
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies_and_admin_actions_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let admin = |trusted: &str| {
        format!(
            "stagedoor:\n  listen: {{ trustedProxies: [{trusted}] }}\n  audit: {{ sink: file, path: {} }}\n  sessions: {{ enabled: true, secret: a-session-secret-of-at-least-32-characters }}\n  admin: {{ tokens: [admin-token-for-tests-0123456789abcdef] }}\n",
            audit.display()
        )
    };
    let server = TestServer::start(&[&admin("192.0.2.1")]).await;
    let send = |method: reqwest::Method, path: &str, token: &str| {
        client()
            .request(method, server.url(path))
            .bearer_auth(token)
            .header("x-forwarded-for", "6.6.6.6")
            .header("user-agent", "ops-script/1.0")
            .header("x-request-id", "req-17")
            .send()
    };
    let path = "/.stagedoor/sessions?user=user:default/jane";
    assert_eq!(
        send(reqwest::Method::GET, path, "wrong")
            .await
            .unwrap()
            .status(),
        401
    );
    let token = "admin-token-for-tests-0123456789abcdef";
    assert_eq!(
        send(reqwest::Method::GET, path, token)
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        send(reqwest::Method::DELETE, path, token)
            .await
            .unwrap()
            .status(),
        200
    );
    server.server.stop().await;

    // A trusted proxy's header names the client: the last hop that is not a trusted proxy.
    let server = TestServer::start(&[&admin("127.0.0.0/8")]).await;
    let response = client()
        .get(server.url(path))
        .bearer_auth("wrong")
        .header("x-forwarded-for", "6.6.6.6, 198.51.100.7")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    server.server.stop().await;

    let events = wait_for_events(&audit, 4).await;
    let summary: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
                e["ip"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("admin_access", "failure", "127.0.0.1"),
            ("sessions_listed", "success", "127.0.0.1"),
            ("sessions_revoked", "success", "127.0.0.1"),
            ("admin_access", "failure", "198.51.100.7"),
        ],
        "an untrusted peer's X-Forwarded-For is ignored"
    );
    for event in &events[..3] {
        assert_eq!(event["userAgent"], "ops-script/1.0", "{event}");
        assert_eq!(event["requestId"], "req-17", "{event}");
    }
    assert_eq!(events[1]["actor"], "stagedoor.admin.tokens.0");
    assert_eq!(events[2]["user"], "user:default/jane");
    assert_eq!(
        events[2]["reason"],
        "revoked 0 sessions (0 of them offline sessions)"
    );
}

async fn wait_for_events(path: &std::path::Path, count: usize) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let events: Vec<Value> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        if events.len() >= count || started.elapsed() > Duration::from_secs(5) {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_value_with_a_newline_cannot_forge_a_log_line() {
    let minter = Minter::start("k1").await;
    let exchange = format!(
        "stagedoor:\n  tokenExchange:\n    issuers:\n      - {{ issuer: {}, jwksUrl: {}, audiences: [a], clients: [c], userEntityRef: 'user:default/c' }}\n",
        minter.base,
        minter.jwks_url()
    );
    let port = free_port();
    let mut replica =
        Replica::start_with_env("logs", port, &[&exchange], &[("RUST_LOG", "debug")]).await;
    let forged = "x\n2026-11-26T00:00:00.000000Z  INFO stagedoor::access: request method=GET path=/forged status=200";
    let response = client()
        .post(replica.url("/v1/token"))
        .form(&[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("subject_token", "a.b.c"),
            // Quoted as it is into the refusal that is logged.
            ("subject_token_type", forged),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = std::fs::read_to_string(replica.log_path()).unwrap();
    assert!(log.contains("token exchange refused"), "{log}");
    assert!(log.contains("path=/forged"), "the value is logged: {log}");
    assert!(
        !log.lines()
            .any(|line| line.contains("path=/forged") && !line.contains("refused")),
        "{log}"
    );
    replica.stop().await;
}
