//! Routing, errors and hostile inputs (§2): clear errors in Backstage's shape,
//! never a panic or a 500 for a caller's mistake.

use crate::common::{TestServer, assert_error};

#[tokio::test]
async fn routing_follows_backstage_precedence() {
    let server = TestServer::start(&[]).await;
    let send = |method: &str, path: &str| {
        server
            .http
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                server.url(path),
            )
            .send()
    };
    for (method, path, segment) in [
        ("GET", "/github/start?env=development", "github"),
        ("POST", "/guest/logout", "guest"),
        ("GET", "/guest/foo", "guest"),
        ("DELETE", "/guest/refresh", "guest"),
        ("GET", "/v1/nonexistent", "v1"),
        ("POST", "/v1/userinfo", "v1"),
        ("POST", "/.well-known/jwks.json", ".well-known"),
        ("GET", "/.backstage/auth/v1/cookie", ".backstage"),
    ] {
        let message = format!("Unknown auth provider '{segment}'");
        assert_error(
            send(method, path).await.unwrap(),
            404,
            "NotFoundError",
            &message,
        )
        .await;
    }
    for (method, path) in [
        ("GET", "/guest/start"),
        ("GET", "/guest/handler/frame"),
        ("POST", "/guest/handler/frame"),
    ] {
        assert_error(
            send(method, path).await.unwrap(),
            501,
            "NotImplementedError",
            "Not implemented",
        )
        .await;
    }
    // Case and a trailing slash do not matter, as in Express.
    assert_eq!(send("GET", "/GUEST/Refresh/").await.unwrap().status(), 200);
    assert_eq!(
        send("HEAD", "/.well-known/jwks.json")
            .await
            .unwrap()
            .status(),
        200
    );
    // Outside the plugin, or at its root: a bare 404.
    for path in [
        "/api/auth",
        "/api/auth/",
        "/api/authx/guest/refresh",
        "/",
        "/api/catalog/entities",
    ] {
        let response = server.http.get(server.root_url(path)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(response.text().await.unwrap(), "", "{path}");
    }
}

#[tokio::test]
async fn error_bodies_carry_the_request_relative_to_the_mount() {
    let server = TestServer::start(&[]).await;
    let body: serde_json::Value = server
        .get("/nope/start?env=development&x=%20y")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "error": {"name": "NotFoundError", "message": "Unknown auth provider 'nope'"},
            "request": {"method": "GET", "url": "/nope/start?env=development&x=%20y"},
            "response": {"statusCode": 404}
        })
    );
}

#[tokio::test]
async fn guest_outside_development_needs_the_dangerous_flag() {
    let server = TestServer::start(&[
        "auth:\n  providers:\n    guest:\n      dangerouslyAllowOutsideDevelopment: false\n",
    ])
    .await;
    assert_error(
        server.get("/guest/refresh").await,
        403,
        "NotAllowedError",
        "The guest provider cannot be used outside of a development environment unless 'auth.providers.guest.dangerouslyAllowOutsideDevelopment' is enabled",
    )
    .await;
    let server = TestServer::start(&[
        "auth:\n  providers:\n    guest:\n      dangerouslyAllowOutsideDevelopment: false\n",
        "stagedoor:\n  development: true\n",
    ])
    .await;
    assert_eq!(server.get("/guest/refresh").await.status(), 200);
}

#[tokio::test]
async fn an_unconfigured_guest_provider_is_not_registered() {
    let mut settings = crate::common::settings(&[]);
    settings.providers.guest = None;
    let server = TestServer::start_with(settings).await;
    assert_error(
        server.get("/guest/refresh").await,
        404,
        "NotFoundError",
        "No auth provider registered for 'guest'",
    )
    .await;
}

#[tokio::test]
async fn hostile_inputs_get_clear_errors_and_the_server_keeps_serving() {
    let server = TestServer::start(&[]).await;
    // Oversized headers: refused by the HTTP layer, not a crash.
    let huge = "a".repeat(1024 * 1024);
    let result = server
        .http
        .get(server.url("/v1/userinfo"))
        .header("authorization", format!("Bearer {huge}"))
        .send()
        .await;
    if let Ok(response) = result {
        assert_eq!(response.status(), 431);
    }
    let many = (0..200).fold(
        server.http.get(server.url("/guest/refresh")),
        |request, i| request.header(format!("x-h-{i}"), "v"),
    );
    if let Ok(response) = many.send().await {
        assert!(response.status().is_client_error(), "{}", response.status());
    }
    // A declared body above the limit.
    let response = server
        .http
        .post(server.url("/guest/refresh"))
        .header("content-type", "application/json")
        .body(vec![b'x'; 200 * 1024])
        .send()
        .await
        .unwrap();
    assert_error(
        response,
        413,
        "PayloadTooLargeError",
        "request entity too large",
    )
    .await;
    // Odd paths and encodings.
    for path in [
        "/%00/start",
        "/guest/%2e%2e/refresh",
        "/..%2f..%2fetc/passwd",
        "/v1/userinfo%00",
    ] {
        let status = server.get(path).await.status();
        assert_eq!(status, 404, "{path}");
    }
    // Bad token shapes in every position.
    for token in [
        "..",
        "e30.e30.",
        "eyJ0eXAiOiJ2bmQuYmFja3N0YWdlLnVzZXIifQ.e30.AAAA",
        &"e".repeat(10_000),
    ] {
        let response = server
            .http
            .get(server.url("/v1/userinfo"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{token:.40}");
    }
    assert_eq!(
        server.get("/guest/refresh").await.status(),
        200,
        "still serving"
    );
}
