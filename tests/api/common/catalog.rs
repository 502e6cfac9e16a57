//! A small Backstage catalog for sign-in tests: the users of the proxy captures
//! (`tests/fixtures/node/proxy-backend/catalog/org.yaml`: alice and bob with their Google and
//! Entra annotations, ci-bot), answering by-name and filter lookups as the catalog does
//! (case-insensitive values) and recording every query.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

pub struct FakeCatalog {
    /// `http://127.0.0.1:<port>/api/catalog`.
    pub url: String,
    queries: Arc<Mutex<Vec<String>>>,
}

fn user(name: &str, annotations: Value, email: &str, groups: &[&str]) -> Value {
    let relations: Vec<Value> = groups
        .iter()
        .map(|group| json!({"type": "memberOf", "targetRef": format!("group:default/{group}")}))
        .collect();
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "User",
        "metadata": {"name": name, "namespace": "default", "annotations": annotations},
        "spec": {"profile": {"email": email}, "memberOf": groups},
        "relations": relations,
    })
}

fn users() -> Vec<Value> {
    vec![
        user(
            "alice",
            json!({"google.com/email": "alice@example.com", "google.com/user-id": "100000000000000000001",
                   "graph.microsoft.com/user-id": "a11ce000-0000-4000-8000-000000000001"}),
            "alice@example.com",
            &["team-a"],
        ),
        user(
            "bob",
            json!({"google.com/email": "bob@example.com", "google.com/user-id": "100000000000000000002",
                   "graph.microsoft.com/user-id": "b0b00000-0000-4000-8000-000000000002"}),
            "bob@example.com",
            &["team-b"],
        ),
        user("ci-bot", json!({}), "ci-bot@example.com", &[]),
    ]
}

/// The value at a dotted path where annotation keys contain dots and slashes.
fn field<'a>(entity: &'a Value, key: &str) -> Option<&'a Value> {
    if let Some(annotation) = key.strip_prefix("metadata.annotations.") {
        return entity["metadata"]["annotations"].get(annotation);
    }
    key.split('.')
        .try_fold(entity, |value, part| value.get(part))
}

fn matches(entity: &Value, filter: &str) -> bool {
    filter.split(',').all(|condition| {
        let Some((key, expected)) = condition.split_once('=') else {
            return false;
        };
        field(entity, key)
            .and_then(Value::as_str)
            .is_some_and(|value| value.eq_ignore_ascii_case(expected))
    })
}

type Queries = Arc<Mutex<Vec<String>>>;

async fn by_name(
    State(queries): State<Queries>,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> impl IntoResponse {
    queries
        .lock()
        .unwrap()
        .push(format!("by-name {kind}/{namespace}/{name}"));
    let found = users().into_iter().find(|entity| {
        kind.eq_ignore_ascii_case("user")
            && namespace.eq_ignore_ascii_case("default")
            && entity["metadata"]["name"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case(&name)
    });
    match found {
        Some(entity) => json_answer(StatusCode::OK, &entity),
        None => json_answer(
            StatusCode::NOT_FOUND,
            &json!({"error": {"name": "NotFoundError", "message": "not found"}}),
        ),
    }
}

async fn entities(State(queries): State<Queries>, RawQuery(query): RawQuery) -> impl IntoResponse {
    let filters: Vec<String> = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(key, _)| key == "filter")
        .map(|(_, value)| value.into_owned())
        .collect();
    queries
        .lock()
        .unwrap()
        .push(format!("filter {}", filters.join(" | ")));
    let found: Vec<Value> = users()
        .into_iter()
        .filter(|entity| filters.iter().any(|filter| matches(entity, filter)))
        .collect();
    json_answer(StatusCode::OK, &Value::Array(found))
}

fn json_answer(status: StatusCode, body: &Value) -> impl IntoResponse + use<> {
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
}

impl FakeCatalog {
    pub async fn start() -> Self {
        let queries: Queries = Arc::default();
        let app = axum::Router::new()
            .route(
                "/api/catalog/entities/by-name/{kind}/{namespace}/{name}",
                axum::routing::get(by_name),
            )
            .route("/api/catalog/entities", axum::routing::get(entities))
            .with_state(queries.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{address}/api/catalog"),
            queries,
        }
    }

    /// The lookups so far: `by-name User/default/alice`, `filter kind=user,...`.
    pub fn queries(&self) -> Vec<String> {
        self.queries.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.queries.lock().unwrap().clear();
    }
}
