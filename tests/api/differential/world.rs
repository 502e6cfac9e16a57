//! Everything both backends are run against: one test IdP per provider case (shaped as that
//! product), the Node reference (auth-backend 0.30.1 with the case's modules, its own catalog)
//! and the real stagedoor binary, configured with the same `auth.providers` and using the
//! Node backend's catalog.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;

use crate::common::{idp::Idp, node, node::NodeBackend, replicas::Replica, tls::TestCa};
use crate::differential::cases::{CASES, Case};

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
    pub idps: BTreeMap<&'static str, Idp>,
    pub backends: [Backend; 2],
    _node: NodeBackend,
    _stagedoor: Replica,
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
        for case in CASES {
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
        let ca_file = ca.ca_file.to_str().unwrap().to_owned();
        let modules: Vec<&str> = CASES.iter().map(|case| case.module).collect();
        let node_config = format!("{auth}{CORS}");
        let node = NodeBackend::start_auth_at(
            node_port,
            &modules,
            &node_config,
            &[("NODE_EXTRA_CA_CERTS", &ca_file)],
        )
        .await;
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
        }
    }
}

/// stagedoor's test base config allows the app's origin with credentials; so does Node here.
const CORS: &str = "backend:
  cors:
    origin: http://localhost:3000
    methods: [GET, HEAD, PATCH, POST, PUT, DELETE]
    credentials: true
";

fn auth_config(idps: &BTreeMap<&'static str, Idp>) -> String {
    let mut yaml = format!(
        "auth:\n  environment: development\n  session:\n    secret: {SESSION_SECRET}\n  providers:\n"
    );
    for case in CASES {
        yaml.push_str(&case.provider_yaml(&idps[case.id].issuer));
    }
    yaml
}

/// The case's IdP, with clients `backstage` and `backstage-second` whose redirect URIs are the
/// callbacks of both backends.
async fn start_idp(case: &Case, ca: &TestCa, ports: [u16; 2]) -> Idp {
    let redirect_uris: Vec<String> = ports
        .iter()
        .map(|port| format!("http://localhost:{port}/api/auth/{}/handler/frame", case.id))
        .collect();
    let client = |id: &str, secret: &str| {
        json!({
            "client_id": id,
            "client_secret": secret,
            "redirect_uris": redirect_uris,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": case.idp.client_auth,
            "id_token_signed_response_alg": "RS256",
        })
    };
    let clients = json!([
        client("backstage", "backstage-secret"),
        client("backstage-second", "second-secret")
    ]);
    let mut env = vec![("IDP_ISSUER_PATH", case.idp.issuer_path)];
    env.extend_from_slice(case.idp.env);
    if let Some(routes) = case.idp.routes {
        env.push(("IDP_ROUTES", routes));
    }
    if case.idp.tls {
        Idp::start_tls(Some(&clients), &env, ca).await
    } else {
        Idp::start_with(Some(&clients), &env).await
    }
}
