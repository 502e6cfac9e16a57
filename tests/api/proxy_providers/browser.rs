//! A real browser through a real proxy flow: headless Chromium loads a page from a small test
//! proxy standing in for Google IAP, whose script calls `/api/auth/gcpIap/refresh` as
//! Backstage's frontend does; the proxy injects IAP's signed assertion on the way to
//! stagedoor, and the page reports what it got back. Needs Debian's `chromium` (skipped with
//! the reason otherwise; a failure under `CI=true`, where `.ci/run` installs it).
//! `STAGEDOOR_BROWSER_SCREENSHOT=<file.png>` also saves the page as the browser shows it.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::World;

const PAGE: &str = r#"<!doctype html><html><head><title>stagedoor behind IAP</title></head><body>
<pre id="out">signing in…</pre>
<script>
fetch('/api/auth/gcpIap/refresh', { credentials: 'include' })
  .then(async response => ({ status: response.status, body: await response.json() }))
  .catch(error => ({ status: 0, body: String(error) }))
  .then(result => {
    document.getElementById('out').textContent = JSON.stringify(result, null, 2);
    return fetch('/report', { method: 'POST', body: JSON.stringify(result) });
  });
</script></body></html>"#;

struct Proxy {
    upstream: String,
    assertion: String,
    http: reqwest::Client,
    report: Mutex<Option<Value>>,
}

/// The proxy: the page, the page's report, and `/api/auth/*` forwarded to stagedoor with the
/// IAP assertion added (whatever the browser sent under that name is replaced).
async fn handle(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    if path == "/" {
        return ([("content-type", "text/html; charset=utf-8")], PAGE).into_response();
    }
    if path == "/report" {
        let body = axum::body::to_bytes(request.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        *proxy.report.lock().unwrap() = serde_json::from_slice(&body).ok();
        return StatusCode::NO_CONTENT.into_response();
    }
    let mut forwarded = proxy.http.request(
        request.method().clone(),
        format!("{}{path}", proxy.upstream),
    );
    for (name, value) in request.headers() {
        if name != "host" && name != "x-goog-iap-jwt-assertion" {
            forwarded = forwarded.header(name, value);
        }
    }
    let answer = forwarded
        .header("x-goog-iap-jwt-assertion", &proxy.assertion)
        .send()
        .await
        .expect("stagedoor");
    let status = answer.status();
    let content_type = answer.headers().get("content-type").cloned();
    let body: Bytes = answer.bytes().await.unwrap_or_default();
    let mut response = (status, body).into_response();
    if let Some(content_type) = content_type {
        response.headers_mut().insert("content-type", content_type);
    }
    response
        .headers_mut()
        .insert("x-proxied-by", HeaderValue::from_static("test-iap"));
    response
}

/// Chromium in its own process group, which is ended whole (its helpers too) when dropped.
struct Browser(Child);

impl Drop for Browser {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|name| {
        Command::new(name)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    })
}

#[tokio::test]
async fn a_browser_signs_in_through_an_identity_aware_proxy() {
    let Some(binary) = chromium() else {
        assert!(
            std::env::var("CI").is_err(),
            "chromium is missing under CI (.ci/run installs it)"
        );
        eprintln!("skipped: no chromium (apt-get install chromium)");
        return;
    };
    let world = World::start(
        "gcpIap",
        "[{ resolver: emailMatchingUserEntityAnnotation }]",
        "",
    )
    .await;
    let minted = world
        .keys
        .mint("iap", json!({"email": "bob@example.com"}))
        .await;
    let proxy = Arc::new(Proxy {
        upstream: world.server.root_url(""),
        assertion: minted["token"].as_str().unwrap().to_owned(),
        http: crate::common::client(),
        report: Mutex::new(None),
    });
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(proxy.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let profile = tempfile::tempdir().unwrap();
    let _browser = Browser(
        Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("http://{address}/"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromium"),
    );
    let started = Instant::now();
    let report = loop {
        if let Some(report) = proxy.report.lock().unwrap().clone() {
            break report;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the page reported nothing"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(report["status"], 200, "{report}");
    let body = &report["body"];
    assert_eq!(
        body["backstageIdentity"]["identity"]["userEntityRef"], "user:default/bob",
        "{report}"
    );
    assert_eq!(body["profile"]["email"], "bob@example.com");
    assert_eq!(body["providerInfo"]["iapToken"]["email"], "bob@example.com");
    if let Ok(path) = std::env::var("STAGEDOOR_BROWSER_SCREENSHOT") {
        // For a person to look at: the page as the browser shows it.
        let status = tokio::process::Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--window-size=900,700",
            ])
            .args([
                "--virtual-time-budget=5000",
                &format!("--screenshot={path}"),
            ])
            .arg(format!(
                "--user-data-dir={}",
                profile.path().join("shot").display()
            ))
            .arg(format!("http://{address}/"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .status();
        let status = tokio::time::timeout(Duration::from_secs(60), status).await;
        assert!(
            status.is_ok_and(|status| status.is_ok_and(|s| s.success())),
            "screenshot"
        );
    }
    let token = body["backstageIdentity"]["token"].as_str().unwrap();
    let jwks = world.server.jwks().await;
    let claims = crate::common::jose::verify(token, &jwks).expect("stagedoor's token verifies");
    assert_eq!(claims["sub"], "user:default/bob");
}
