//! Servers the authorization server talks to in tests: a host of client metadata documents
//! (good ones and every kind of bad one, counting what it is asked) and a catalog whose users
//! a test can remove.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Serves `/<name>.json` documents on 127.0.0.1, each `client_id` its own URL.
pub struct DocHost {
    pub base: String,
    requests: Arc<AtomicUsize>,
}

/// The redirect URI every good document registers.
pub const DOC_REDIRECT: &str = "http://127.0.0.1:9700/cb";

async fn document(
    State((base, requests)): State<(String, Arc<AtomicUsize>)>,
    Path(name): Path<String>,
) -> Response {
    requests.fetch_add(1, Ordering::SeqCst);
    let id = format!("{base}/{name}");
    let doc = |extra: serde_json::Value| {
        let mut doc =
            json!({"client_id": id, "client_name": "Doc Client", "redirect_uris": [DOC_REDIRECT]});
        if let (Some(doc), Some(extra)) = (doc.as_object_mut(), extra.as_object()) {
            doc.extend(extra.clone());
        }
        (
            [(header::CONTENT_TYPE, "application/json")],
            doc.to_string(),
        )
            .into_response()
    };
    match name.trim_end_matches(".json") {
        "good" => doc(json!({})),
        "mismatch" => doc(json!({"client_id": "https://elsewhere.example.com/c.json"})),
        "no-redirects" => doc(json!({"redirect_uris": []})),
        "bad-redirect" => doc(json!({"redirect_uris": ["not a url"]})),
        "secret" => doc(json!({"client_secret": "s"})),
        "basic" => doc(json!({"token_endpoint_auth_method": "client_secret_basic"})),
        "remote-redirect" => doc(json!({"redirect_uris": ["https://app.example.com/cb"]})),
        "redirect" => (
            StatusCode::FOUND,
            [(header::LOCATION, format!("{base}/good.json"))],
        )
            .into_response(),
        "big" => {
            let padding = "x".repeat(70 * 1024);
            doc(json!({"padding": padding}))
        }
        "big-chunked" => {
            let body = axum::body::Body::new(Chunks { count: 20 });
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        "not-json" => "this is not JSON".into_response(),
        "slow" => {
            tokio::time::sleep(std::time::Duration::from_secs(11)).await;
            doc(json!({}))
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A body of `count` chunks of 8 KiB with no declared length (sent chunked).
struct Chunks {
    count: usize,
}

impl http_body::Body for Chunks {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        if self.count == 0 {
            return std::task::Poll::Ready(None);
        }
        self.count -= 1;
        let chunk = bytes::Bytes::from(vec![b' '; 8 * 1024]);
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(chunk))))
    }
}

impl DocHost {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
        let requests = Arc::new(AtomicUsize::new(0));
        let app = axum::Router::new()
            .route("/{name}", axum::routing::get(document))
            .with_state((base.clone(), requests.clone()));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { base, requests }
    }

    /// The client id of document `name` (`good`, `redirect`, ...).
    pub fn id(&self, name: &str) -> String {
        format!("{}/{name}.json", self.base)
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// A catalog with users a test can remove: `alice` (in `group:default/team-a`) and `bob`;
/// a test can also make it fail (500) for a while.
pub struct FakeCatalog {
    pub base_url: String,
    present: Arc<Mutex<BTreeSet<String>>>,
}

/// `"!down"` in the set makes every answer a 500.
const DOWN: &str = "!down";

async fn entity(
    State(present): State<Arc<Mutex<BTreeSet<String>>>>,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> Response {
    if present.lock().unwrap().contains(DOWN) {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let known = present.lock().unwrap().contains(&name);
    if !kind.eq_ignore_ascii_case("user") || namespace != "default" || !known {
        let body = json!({"error": {"name": "NotFoundError", "message": "no such entity"}});
        return (StatusCode::NOT_FOUND, json_body(body)).into_response();
    }
    json_body(json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "User",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"profile": {"email": format!("{name}@example.com")}, "memberOf": ["team-a"]},
        "relations": [{"type": "memberOf", "targetRef": "group:default/team-a"}],
    }))
    .into_response()
}

fn json_body(value: serde_json::Value) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
}

impl FakeCatalog {
    pub async fn start() -> Self {
        let present = Arc::new(Mutex::new(BTreeSet::from([
            "alice".to_owned(),
            "bob".to_owned(),
        ])));
        let app = axum::Router::new()
            .route(
                "/api/catalog/entities/by-name/{kind}/{namespace}/{name}",
                axum::routing::get(entity),
            )
            .with_state(present.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            base_url: format!("http://{address}/api/catalog"),
            present,
        }
    }

    pub fn remove(&self, name: &str) {
        self.present.lock().unwrap().remove(name);
    }

    pub fn set_down(&self, down: bool) {
        let mut present = self.present.lock().unwrap();
        if down {
            present.insert(DOWN.to_owned());
        } else {
            present.remove(DOWN);
        }
    }
}
