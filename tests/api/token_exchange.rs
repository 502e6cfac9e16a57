//! Token exchange (RFC 8693) at `POST /api/auth/v1/token`: client-credentials JWTs from the
//! real test OpenID Provider become Backstage tokens the real Node catalog accepts; forged,
//! ill-timed, foreign and malformed requests get RFC 6749 errors; the rate limit and the
//! audit trail work; bad configuration stops start-up naming the key.

use std::path::Path;
use std::time::Duration;

use crate::common::exchange::{
    self as ex, ACCESS_TOKEN_TYPE, GRANT_TYPE, ID_TOKEN_TYPE, JWT_TYPE, Minter, assert_oauth_error,
    client_credentials, exchange, exchange_json, form, machine_clients,
};
use crate::common::idp::Idp;
use crate::common::node::{NodeBackend, free_port};
use crate::common::{TestServer, jose};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The audit lines of token exchanges, once there are at least `count`.
async fn audit_events(path: &Path, count: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let events: Vec<Value> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .filter(|event: &Value| event["event"] == "token_exchange")
            .collect();
        if events.len() >= count {
            return events;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} audit events",
            events.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_machine_token_becomes_a_catalog_identity_the_node_backend_accepts() {
    let idp = Idp::start_with(
        Some(&machine_clients(&["ci-bot"])),
        &[("IDP_ACCESS_TOKEN_TTL", "7200")],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let org = dir.path().join("org.yaml");
    let harness_org =
        std::fs::read_to_string(crate::common::node::harness_dir().join("catalog/org.yaml"))
            .unwrap();
    std::fs::write(
        &org,
        format!("{harness_org}\n---\napiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: bot-ci-bot\nspec:\n  memberOf: [team-b]\n"),
    )
    .unwrap();
    let audit = dir.path().join("audit.jsonl");
    let port = free_port();
    // No jwksUrl or metadataUrl: the keys come from the issuer's discovery document.
    let config = format!(
        r#"
stagedoor:
  catalog: {{ baseUrl: "http://127.0.0.1:{port}/api/catalog" }}
  audit: {{ sink: file, path: "{}" }}
  tokenExchange:
    issuers:
      - issuer: {}
        audiences: [urn:stagedoor:test]
        clients: [ci-bot]
        ownershipEntityRefs: [group:default/platform]
        signIn:
          resolvers:
            - resolver: userEntityRefFromClaims
              template: user:default/bot-{{client_id}}
"#,
        audit.display(),
        idp.issuer
    );
    let server = TestServer::start(&[&config]).await;
    let backend = NodeBackend::start_at(port, &server.server.base_url(), Some(&org)).await;
    while backend.entity_status("bot-ci-bot").await != Some(200) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let subject = client_credentials(&idp, "ci-bot", None).await;
    assert_eq!(jose::header(&subject)["typ"], "at+jwt");
    let response = exchange(&server, &form(&subject)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["issued_token_type"], ACCESS_TOKEN_TYPE, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    // The IdP's token lives 2 h: backstageTokenExpiration (1 h) is the cap.
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().unwrap();
    let claims = jose::verify(token, &server.jwks().await).expect("verifies");
    assert_eq!(claims["sub"], "user:default/bot-ci-bot");
    assert_eq!(claims["aud"], "backstage");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );

    // The real Backstage catalog takes it as a user token...
    let catalog = crate::common::client()
        .get(format!(
            "{}/api/catalog/entities/by-name/user/default/alice",
            backend.base
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(catalog.status(), 200);
    // ...and Backstage's user info service sees the catalog user's ownership plus the
    // configured refs, from the full token and from the limited token rebuilt from `uip`.
    let expected = json!({
        "userEntityRef": "user:default/bot-ci-bot",
        "ownershipEntityRefs": ["user:default/bot-ci-bot", "group:default/team-b", "group:default/platform"],
    });
    let base = server.server.base_url();
    assert_eq!(
        NodeBackend::user_info(&base, token).await.unwrap(),
        expected
    );
    assert_eq!(
        NodeBackend::user_info(&base, &jose::limited_token(token))
            .await
            .unwrap(),
        expected
    );

    // `requested_token_type=jwt` names the same kind of token as a JWT.
    let mut jwt_form = form(&subject);
    jwt_form.push(("requested_token_type", JWT_TYPE.to_owned()));
    jwt_form.push(("audience", "backstage".to_owned()));
    let body: Value = exchange(&server, &jwt_form).await.json().await.unwrap();
    assert_eq!(body["issued_token_type"], JWT_TYPE, "{body}");

    let events = audit_events(&audit, 2).await;
    assert_eq!(events[0]["outcome"], "success");
    assert_eq!(events[0]["user"], "user:default/bot-ci-bot");
    assert_eq!(events[0]["subject"], "ci-bot");
    assert_eq!(events[0]["provider"], idp.issuer.as_str());
    assert_eq!(events[0]["ip"], "127.0.0.1");
    let line = std::fs::read_to_string(&audit).unwrap();
    assert!(
        !line.contains(token) && !line.contains(&subject),
        "no token in the audit log"
    );
}

#[tokio::test]
async fn idp_tokens_of_other_clients_audiences_and_ages_are_refused() {
    let idp = Idp::start_with(
        Some(&machine_clients(&["ci-bot", "rogue-bot"])),
        &[
            ("IDP_RESOURCES", "urn:stagedoor:test,urn:other:api"),
            ("IDP_ACCESS_TOKEN_TTL", "600"),
        ],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let config = format!(
        r#"
stagedoor:
  audit: {{ sink: file, path: "{}" }}
  tokenExchange:
    issuers:
      - issuer: {}
        metadataUrl: {}
        audiences: urn:stagedoor:test
        algorithms: [RS256]
        clients: [ci-bot]
        maxTokenAge: 2m
        userEntityRef: user:default/bot-{{client_id}}
"#,
        audit.display(),
        idp.issuer,
        idp.discovery_url()
    );
    let server = TestServer::start(&[&config]).await;

    let rogue = client_credentials(&idp, "rogue-bot", None).await;
    let (status, body) = exchange_json(&server, &rogue).await;
    assert_oauth_error(
        status,
        &body,
        (
            400,
            "unauthorized_client",
            "client \"rogue-bot\" may not exchange",
        ),
    );
    let elsewhere = client_credentials(&idp, "ci-bot", Some("urn:other:api")).await;
    let (status, body) = exchange_json(&server, &elsewhere).await;
    assert_oauth_error(
        status,
        &body,
        (
            400,
            "invalid_grant",
            "audience [\"urn:other:api\"] is not one",
        ),
    );

    // A good token: the Backstage token ends when the IdP's does (10 min, not 1 h).
    let subject = client_credentials(&idp, "ci-bot", None).await;
    let subject_exp = jose::payload(&subject)["exp"].as_i64().unwrap();
    let (status, body) = exchange_json(&server, &subject).await;
    assert_eq!(status, 200, "{body}");
    // (The server's clock stands still, at the time the server started.)
    let now = stagedoor::clock::Clock::now_seconds(server.clock.as_ref());
    assert_eq!(body["expires_in"].as_i64().unwrap(), subject_exp - now);
    let claims = jose::payload(body["access_token"].as_str().unwrap());
    assert_eq!(claims["exp"].as_i64().unwrap(), subject_exp);
    assert_eq!(claims["sub"], "user:default/bot-ci-bot");

    // Replayed after its age limit (2 min), then after its expiry.
    server.clock.advance_seconds(150);
    let (status, body) = exchange_json(&server, &subject).await;
    assert_oauth_error(
        status,
        &body,
        (400, "invalid_grant", "exchanged only within 120 s of issue"),
    );
    server.clock.advance_seconds(500);
    let (status, body) = exchange_json(&server, &subject).await;
    assert_oauth_error(status, &body, (400, "invalid_grant", "has expired"));

    let events = audit_events(&audit, 5).await;
    assert_eq!(events[0]["outcome"], "failure");
    assert_eq!(events[0]["subject"], "rogue-bot");
    assert_eq!(events[0]["provider"], idp.issuer.as_str());
    assert!(
        events[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("unauthorized_client: ")
    );
    assert_eq!(events[2]["outcome"], "success");
    assert_eq!(
        events[3]["subject"], "ci-bot",
        "the replaying client is named"
    );
    assert!(events[4]["reason"].as_str().unwrap().contains("expired"));
}

/// Claims of a token the test's key signs, valid for the `minted` issuer entry.
fn claims(minter: &Minter, overrides: Value) -> Value {
    let now = jose::now_secs();
    let mut claims = json!({
        "iss": minter.base, "sub": "ci-bot", "client_id": "ci-bot", "aud": "api://backstage",
        "iat": now - 5, "exp": now + 300,
    });
    for (key, value) in overrides.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(key);
        } else {
            claims[key] = value.clone();
        }
    }
    claims
}

fn minted_config(minter: &Minter, extra: &str) -> String {
    format!(
        r#"
stagedoor:
  audit: {{ sink: "off" }}
  tokenExchange:
    issuers:
      - issuer: {base}
        jwksUrl: {jwks}
        audiences: [api://backstage, ci-bot]
        algorithms: [ES256]
        clients: [ci-bot, other-bot]
        userEntityRef: user:default/bot-{{client_id}}
        ownershipEntityRefs: [group:default/bots]
      - issuer: https://rs256-only.example.com
        jwksUrl: {jwks}
        audiences: [api://backstage]
        algorithms: [RS256]
        clients: [ci-bot]
        userEntityRef: user:default/bot-{{client_id}}
      - issuer: https://discovered.example.com
        metadataUrl: {base}/.well-known/openid-configuration
        audiences: [api://backstage]
        clients: [ci-bot]
        userEntityRef: user:default/bot-{{client_id}}
      - issuer: https://unreachable.example.com
        jwksUrl: http://127.0.0.1:1/jwks
        audiences: [api://backstage]
        clients: [ci-bot]
        userEntityRef: user:default/bot-{{client_id}}
{extra}"#,
        base = minter.base,
        jwks = minter.jwks_url()
    )
}

#[tokio::test]
async fn forged_foreign_and_ill_timed_tokens_are_refused() {
    let minter = Minter::start("test-key-1").await;
    let server = TestServer::start(&[&minted_config(&minter, "")]).await;
    let now = jose::now_secs();

    let good = minter.sign(&claims(&minter, json!({})));
    let (status, body) = exchange_json(&server, &good).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        jose::payload(body["access_token"].as_str().unwrap())["sub"],
        "user:default/bot-ci-bot"
    );
    let userinfo: Value = server
        .http
        .get(server.url("/v1/userinfo"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        userinfo["claims"]["ent"],
        json!(["user:default/bot-ci-bot", "group:default/bots"])
    );

    // An ID token: its single audience is the client it was issued to.
    let id_token = minter.sign(&claims(
        &minter,
        json!({"client_id": null, "sub": "jane", "aud": "ci-bot"}),
    ));
    let mut id_form = form(&id_token);
    id_form[2].1 = ID_TOKEN_TYPE.to_owned();
    let response = exchange(&server, &id_form).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        jose::payload(body["access_token"].as_str().unwrap())["sub"],
        "user:default/bot-ci-bot"
    );

    let other_key = ex::new_key();
    let cases: Vec<(&str, String, (u16, &str, &str))> = vec![
        (
            "unknown issuer",
            minter.sign(&claims(&minter, json!({"iss": "https://evil.example.com"}))),
            (
                400,
                "invalid_grant",
                "issuer \"https://evil.example.com\" is not trusted",
            ),
        ),
        (
            "wrong audience",
            minter.sign(&claims(
                &minter,
                json!({"aud": ["https://other.example.com"]}),
            )),
            (
                400,
                "invalid_grant",
                "audience [\"https://other.example.com\"]",
            ),
        ),
        (
            "expired",
            minter.sign(&claims(
                &minter,
                json!({"iat": now - 400, "exp": now - 100}),
            )),
            (400, "invalid_grant", "has expired"),
        ),
        (
            "not yet valid",
            minter.sign(&claims(&minter, json!({"nbf": now + 600}))),
            (400, "invalid_grant", "not valid yet"),
        ),
        (
            "issued in the future",
            minter.sign(&claims(
                &minter,
                json!({"iat": now + 600, "exp": now + 900}),
            )),
            (400, "invalid_grant", "issued in the future"),
        ),
        (
            "no iat",
            minter.sign(&claims(&minter, json!({"iat": null}))),
            (400, "invalid_grant", "no iat claim"),
        ),
        (
            "signed by another key under the published kid",
            ex::sign_es256(&other_key, &minter.kid, &claims(&minter, json!({}))),
            (400, "invalid_grant", "signature is invalid"),
        ),
        (
            "tampered signature",
            jose::tamper(&good),
            (400, "invalid_grant", "signature is invalid"),
        ),
        (
            "unknown kid",
            ex::sign_es256(&other_key, "not-published", &claims(&minter, json!({}))),
            (400, "invalid_grant", "no key with kid"),
        ),
        (
            "alg none",
            ex::unsigned(&claims(&minter, json!({}))),
            (400, "invalid_grant", "\"none\", which is never accepted"),
        ),
        (
            "HMAC",
            ex::hmac_signed(&claims(&minter, json!({}))),
            (400, "invalid_grant", "\"HS256\", which is never accepted"),
        ),
        (
            "an algorithm the issuer entry does not allow",
            minter.sign(&claims(
                &minter,
                json!({"iss": "https://rs256-only.example.com"}),
            )),
            (
                400,
                "invalid_grant",
                "signed with ES256, which is not allowed",
            ),
        ),
        (
            "a client not in the allow-list",
            minter.sign(&claims(&minter, json!({"client_id": "intruder"}))),
            (
                400,
                "unauthorized_client",
                "client \"intruder\" may not exchange",
            ),
        ),
        (
            "no client at all",
            minter.sign(&claims(&minter, json!({"client_id": null, "sub": null}))),
            (400, "unauthorized_client", "names no client"),
        ),
        (
            "not a JWT",
            "opaque-access-token".to_owned(),
            (400, "invalid_grant", "not a JWT"),
        ),
        (
            "a discovery document of another issuer",
            minter.sign(&claims(
                &minter,
                json!({"iss": "https://discovered.example.com"}),
            )),
            (500, "server_error", "An internal error occurred logId="),
        ),
        (
            "keys that cannot be fetched",
            minter.sign(&claims(
                &minter,
                json!({"iss": "https://unreachable.example.com"}),
            )),
            (503, "temporarily_unavailable", "cannot be fetched"),
        ),
    ];
    for (case, token, expected) in cases {
        let (status, body) = exchange_json(&server, &token).await;
        assert_eq!(status, expected.0, "{case}: {body}");
        assert_oauth_error(status, &body, expected);
    }
    // A failed discovery is remembered for a moment, with its kind of error.
    let misfit = minter.sign(&claims(
        &minter,
        json!({"iss": "https://discovered.example.com"}),
    ));
    let (status, body) = exchange_json(&server, &misfit).await;
    assert_oauth_error(status, &body, (500, "server_error", "logId="));
}

#[tokio::test]
async fn each_client_has_its_own_rate_limit() {
    let minter = Minter::start("test-key-1").await;
    let server = TestServer::start(&[&minted_config(
        &minter,
        "    rateLimit: { perMinute: 6, burst: 3 }\n",
    )])
    .await;
    let ci = minter.sign(&claims(&minter, json!({})));
    for _ in 0..3 {
        assert_eq!(exchange_json(&server, &ci).await.0, 200);
    }
    let response = exchange(&server, &form(&ci)).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "10");
    let body: Value = response.json().await.unwrap();
    assert_oauth_error(
        429,
        &body,
        (
            429,
            "slow_down",
            "too many token exchanges for client ci-bot",
        ),
    );
    let other = minter.sign(&claims(&minter, json!({"client_id": "other-bot"})));
    assert_eq!(
        exchange_json(&server, &other).await.0,
        200,
        "another client"
    );
    // One exchange comes back every 10 s (6 a minute).
    server.clock.advance_seconds(10);
    assert_eq!(exchange_json(&server, &ci).await.0, 200);
    assert_eq!(exchange_json(&server, &ci).await.0, 429);
}

/// Sends raw bytes and returns the status line's code and the body.
async fn raw_request(server: &TestServer, request: &[u8]) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(server.server.address)
        .await
        .unwrap();
    stream.write_all(request).await.unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text[9..12].parse().unwrap();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

#[tokio::test]
async fn malformed_requests_get_oauth_errors() {
    let minter = Minter::start("test-key-1").await;
    let server = TestServer::start(&[&minted_config(&minter, "")]).await;
    let url = server.url("/v1/token");
    let post = |content_type: Option<&str>, body: Vec<u8>| {
        let mut request = server.http.post(&url).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send()
    };
    let check = |expected: (u16, &'static str, &'static str)| {
        move |response: reqwest::Response| async move {
            let status = response.status().as_u16();
            assert_eq!(response.headers()["cache-control"], "no-store");
            let body: Value = response.json().await.expect("an OAuth error body");
            assert_oauth_error(status, &body, expected);
        }
    };
    let good = minter.sign(&claims(&minter, json!({})));
    let form_body = |pairs: &[(&str, &str)]| {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
            .into_bytes()
    };
    let complete = form_body(&[
        ("grant_type", GRANT_TYPE),
        ("subject_token", &good),
        ("subject_token_type", ACCESS_TOKEN_TYPE),
    ]);

    let json_body = serde_json::to_vec(&json!({"grant_type": GRANT_TYPE})).unwrap();
    check((
        400,
        "invalid_request",
        "content type \"application/json\" is not accepted",
    ))(post(Some("application/json"), json_body).await.unwrap())
    .await;
    check((400, "invalid_request", "has no content type"))(
        post(None, complete.clone()).await.unwrap(),
    )
    .await;
    let form_type = Some("application/x-www-form-urlencoded; charset=UTF-8");
    let response = post(form_type, complete.clone()).await.unwrap();
    assert_eq!(response.status(), 200, "a charset parameter is fine");
    for (body, expected) in [
        (
            b"\xff\xfe garbage \x00".to_vec(),
            (400, "invalid_request", "at \"grant_type\""),
        ),
        (
            form_body(&[("grant_type", "client_credentials")]),
            (
                400,
                "unsupported_grant_type",
                "Grant type client_credentials is not supported",
            ),
        ),
        (
            form_body(&[
                ("grant_type", GRANT_TYPE),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
            ]),
            (400, "invalid_request", "subject_token is required"),
        ),
        (
            [complete.as_slice(), b"&grant_type=x"].concat(),
            (400, "invalid_request", "grant_type is sent more than once"),
        ),
        (
            [
                complete.as_slice(),
                b"&audience=https%3A%2F%2Fevil.example.com",
            ]
            .concat(),
            (400, "invalid_target", "is not this server"),
        ),
        (
            form_body(&[
                ("grant_type", GRANT_TYPE),
                ("subject_token", &good),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:refresh_token",
                ),
            ]),
            (400, "invalid_request", "subject_token_type"),
        ),
    ] {
        check(expected)(post(form_type, body).await.unwrap()).await;
    }

    // Over 100 kB: declared, or streamed in chunks with no length.
    let large = [complete.as_slice(), b"&padding=", &vec![b'a'; 110 * 1024]].concat();
    check((413, "invalid_request", "larger than 100 kB"))(post(form_type, large).await.unwrap())
        .await;
    let chunk = format!("{:x}\r\n{}\r\n", 60 * 1024, "a".repeat(60 * 1024));
    let chunked = format!(
        "POST /api/auth/v1/token HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/x-www-form-urlencoded\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n{chunk}{chunk}0\r\n\r\n"
    );
    let (status, body) = raw_request(&server, chunked.as_bytes()).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("\"error\":\"invalid_request\""), "{body}");

    let response = server.http.get(&url).send().await.unwrap();
    assert_eq!(response.headers()["allow"], "POST");
    check((405, "invalid_request", "only accepts POST"))(response).await;

    // Without stagedoor.tokenExchange the endpoint does not exist: Backstage's 404.
    let plain = TestServer::start(&[]).await;
    let response = ex::exchange(&plain, &form(&good)).await;
    crate::common::assert_error(response, 404, "NotFoundError", "Unknown auth provider 'v1'").await;
}

#[track_caller]
fn assert_config_problem(yaml: &str, expected: &[&str]) {
    let sources = [
        stagedoor::config::Source::Text {
            name: "base.yaml".into(),
            yaml: crate::common::BASE_CONFIG.into(),
        },
        stagedoor::config::Source::Text {
            name: "exchange.yaml".into(),
            yaml: yaml.into(),
        },
    ];
    let error = stagedoor::config::load(&sources, &|_| None)
        .err()
        .unwrap_or_else(|| panic!("config should be refused:\n{yaml}"))
        .to_string();
    for part in expected {
        assert!(error.contains(part), "expected {part:?} in:\n{error}");
    }
}

#[test]
fn bad_token_exchange_config_names_the_key() {
    let entry = |body: &str| {
        format!(
            "stagedoor:\n  tokenExchange:\n    issuers:\n      - issuer: https://idp.example.com\n{body}"
        )
    };
    let valid = "        audiences: [api://backstage]\n        clients: [ci]\n        userEntityRef: user:default/bot-{client_id}\n";
    assert_config_problem(
        "stagedoor:\n  tokenExchange: { issuers: [] }\n",
        &["stagedoor.tokenExchange.issuers: needs at least one trusted issuer"],
    );
    assert_config_problem(
        "stagedoor:\n  tokenExchange:\n    issuers:\n      - audiences: [a]\n",
        &["stagedoor.tokenExchange.issuers.0.issuer: is required"],
    );
    assert_config_problem(
        &entry("        audience: [a]\n"),
        &["audience", "unknown field", "remove it or fix its spelling"],
    );
    assert_config_problem(
        &entry("        userEntityRef: user:default/x\n"),
        &[
            "stagedoor.tokenExchange.issuers.0.audiences: is required",
            "stagedoor.tokenExchange.issuers.0.clients: is required",
        ],
    );
    assert_config_problem(
        &entry(&format!(
            "{valid}        algorithms: [RS256, none, HS256, XX1]\n"
        )),
        &[
            "issuers.0.algorithms.1: \"none\" is never accepted",
            "issuers.0.algorithms.2: \"HS256\" is never accepted",
            "issuers.0.algorithms.3: \"XX1\" is not a supported algorithm",
        ],
    );
    assert_config_problem(
        &entry(&format!(
            "{valid}        jwksUrl: https://idp.example.com/jwks\n        metadataUrl: https://idp.example.com/.well-known/openid-configuration\n"
        )),
        &["issuers.0.jwksUrl: and metadataUrl are both set; keep one"],
    );
    assert_config_problem(
        &entry(&format!(
            "{valid}        jwksUrl: not-a-url\n        maxTokenAge: soon\n"
        )),
        &[
            "issuers.0.jwksUrl: \"not-a-url\" is not an absolute http(s) URL",
            "issuers.0.maxTokenAge: \"soon\" is not a duration",
        ],
    );
    assert_config_problem(
        &entry("        audiences: [a]\n        clients: [ci]\n"),
        &["stagedoor.tokenExchange.issuers.0: needs userEntityRef"],
    );
    assert_config_problem(
        &entry("        audiences: [a]\n        clients: [ci]\n        userEntityRef: 'a/b/c'\n"),
        &["issuers.0.userEntityRef: \"a/b/c\" does not make an entity ref"],
    );
    assert_config_problem(
        &entry(
            "        audiences: [a]\n        clients: [ci]\n        signIn:\n          resolvers:\n            - resolver: usernameMatchingUserEntityName\n",
        ),
        &[
            "issuers.0.signIn.resolvers.0.resolver: Sign-in resolver 'usernameMatchingUserEntityName' is not available",
        ],
    );
    assert_config_problem(
        &entry(&format!("{valid}        ownershipEntityRefs: [platform]\n")),
        &["issuers.0.ownershipEntityRefs.0: \"platform\" is not an entity ref"],
    );
    assert_config_problem(
        &format!("{}    rateLimit: {{ perMinute: 0 }}\n", entry(valid)),
        &["stagedoor.tokenExchange.rateLimit.perMinute: 0 is out of range"],
    );
}
