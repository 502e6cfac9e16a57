//! Everything both backends are run against: one IdP per provider case (the test OpenID
//! Provider shaped as that product, or the provider's fake), the Node reference (auth-backend
//! 0.30.1 with the case's modules, its own catalog, the fakes' hard-coded hosts redirected to
//! them) and the real stagedoor binary, configured with the same `auth.providers` and using
//! the Node backend's catalog.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;

use crate::common::fakes::Fake;
use crate::common::{idp::Idp, node, node::NodeBackend, replicas::Replica, tls::TestCa};
use crate::differential::cases::{self, Case, FakeShape, IdpKind, IdpShape};
use crate::differential::idps::CaseIdp;

/// One of the two backends under comparison.
pub struct Backend {
    pub name: &'static str,
    pub port: u16,
    /// `http://localhost:<port>/api/auth`, as its callback URLs name it.
    pub auth_url: String,
}

impl Backend {
    fn new(name: &'static str, port: u16) -> Self {
        Self {
            name,
            port,
            auth_url: format!("http://localhost:{port}/api/auth"),
        }
    }

    /// The browser's cookie jar key for it.
    pub fn host(&self) -> String {
        format!("localhost:{}", self.port)
    }
}

pub struct World {
    pub ca: Arc<TestCa>,
    pub idps: BTreeMap<&'static str, CaseIdp>,
    pub backends: [Backend; 2],
    _node: NodeBackend,
    _stagedoor: Replica,
    /// Holds the catalog file.
    _dir: tempfile::TempDir,
}

const SESSION_SECRET: &str = "differential-session-secret-0123456789";

impl World {
    pub async fn start() -> Self {
        let ca = Arc::new(TestCa::new());
        if let Ok(dir) = std::env::var("DIFFERENTIAL_DUMP") {
            std::fs::create_dir_all(&dir).unwrap();
            for file in [&ca.ca_file, &ca.cert_file, &ca.key_file] {
                std::fs::copy(
                    file,
                    format!("{dir}/{}", file.file_name().unwrap().display()),
                )
                .unwrap();
            }
        }
        let (node_port, stagedoor_port) = (node::free_port(), node::free_port());
        // The IdPs start side by side (each takes about a second).
        let mut starting = tokio::task::JoinSet::new();
        for case in cases::all() {
            let ca = ca.clone();
            starting.spawn(async move {
                let idp = start_idp(case, &ca, [node_port, stagedoor_port]).await;
                (case.id, idp)
            });
        }
        let mut idps = BTreeMap::new();
        while let Some(started) = starting.join_next().await {
            let (id, idp) = started.expect("an IdP started");
            idps.insert(id, idp);
        }
        let auth = auth_config(&idps);
        let dir = tempfile::tempdir().unwrap();
        let catalog = crate::common::provider::annotated_catalog(
            dir.path(),
            crate::differential::vcs_cases::ANNOTATIONS,
        );
        let node = start_node(node_port, &idps, &auth, &ca, &catalog).await;
        let ca_file = ca.ca_file.to_str().unwrap().to_owned();
        let stagedoor_config = format!(
            "backend:\n  baseUrl: http://localhost:{stagedoor_port}\n\
             stagedoor:\n  catalog:\n    baseUrl: {}\n    auth: {{ type: static, token: {} }}\n",
            node.catalog_url(),
            node::STATIC_TOKEN
        );
        let stagedoor = Replica::start_with_env(
            "differential",
            stagedoor_port,
            &[&auth, &stagedoor_config],
            &[("SSL_CERT_FILE", &ca_file)],
        )
        .await;
        Self {
            ca,
            idps,
            backends: [
                Backend::new("node", node_port),
                Backend::new("stagedoor", stagedoor_port),
            ],
            _node: node,
            _stagedoor: stagedoor,
            _dir: dir,
        }
    }
}

/// The Node reference with every case's module, trusting the test CA, reaching the hosts the
/// modules hard-code at the fakes, on the annotated catalog.
async fn start_node(
    port: u16,
    idps: &BTreeMap<&'static str, CaseIdp>,
    auth: &str,
    ca: &TestCa,
    catalog: &std::path::Path,
) -> NodeBackend {
    let redirected: serde_json::Map<String, serde_json::Value> = idps
        .values()
        .flat_map(CaseIdp::redirected_hosts)
        .map(|(host, address)| (host.to_owned(), json!(address)))
        .collect();
    let preload = crate::common::manifest_dir().join("tests/fixtures/node/redirect-hosts.cjs");
    let modules: Vec<&str> = cases::all().map(|case| case.module).collect();
    let env = [
        ("NODE_EXTRA_CA_CERTS", ca.ca_file.display().to_string()),
        ("NODE_OPTIONS", format!("--require {}", preload.display())),
        (
            "REDIRECT_HOSTS",
            serde_json::Value::Object(redirected).to_string(),
        ),
        ("CATALOG_FILE", catalog.display().to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    NodeBackend::start_auth_at(port, &modules, &format!("{auth}{CORS}"), &env).await
}

/// stagedoor's test base config allows the app's origin with credentials; so does Node here.
const CORS: &str = "backend:
  cors:
    origin: http://localhost:3000
    methods: [GET, HEAD, PATCH, POST, PUT, DELETE]
    credentials: true
";

fn auth_config(idps: &BTreeMap<&'static str, CaseIdp>) -> String {
    let mut yaml = format!(
        "auth:\n  environment: development\n  session:\n    secret: {SESSION_SECRET}\n  providers:\n"
    );
    for case in cases::all() {
        yaml.push_str(&case.provider_yaml(idps[case.id].base()));
    }
    yaml
}

/// The case's IdP: its fake, or the OpenID Provider with clients `backstage` and
/// `backstage-second` whose redirect URIs are the callbacks of both backends.
async fn start_idp(case: &Case, ca: &TestCa, ports: [u16; 2]) -> CaseIdp {
    match &case.idp {
        IdpKind::Op(shape) => CaseIdp::Op(start_op(case.id, shape, ca, ports).await),
        IdpKind::Fake(shape) => CaseIdp::Fake {
            fake: start_fake(shape, ca).await,
            hosts: shape.hosts,
        },
    }
}

async fn start_fake(shape: &FakeShape, ca: &TestCa) -> Fake {
    if shape.tls {
        Fake::start_tls(shape.name, shape.env, ca).await
    } else {
        Fake::start(shape.name, shape.env).await
    }
}

async fn start_op(id: &str, shape: &IdpShape, ca: &TestCa, ports: [u16; 2]) -> Idp {
    let redirect_uris: Vec<String> = ports
        .iter()
        .map(|port| format!("http://localhost:{port}/api/auth/{id}/handler/frame"))
        .collect();
    let client = |id: &str, secret: &str| {
        json!({
            "client_id": id,
            "client_secret": secret,
            "redirect_uris": redirect_uris,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": shape.client_auth,
            "id_token_signed_response_alg": "RS256",
        })
    };
    let clients = json!([
        client("backstage", "backstage-secret"),
        client("backstage-second", "second-secret")
    ]);
    let mut env = vec![("IDP_ISSUER_PATH", shape.issuer_path)];
    env.extend_from_slice(shape.env);
    if let Some(routes) = shape.routes {
        env.push(("IDP_ROUTES", routes));
    }
    if shape.tls {
        Idp::start_tls(Some(&clients), &env, ca).await
    } else {
        Idp::start_with(Some(&clients), &env).await
    }
}
