//! Several real stagedoor processes sharing one PostgreSQL database, behind a round-robin
//! load balancer, with the real Node Backstage backend and the real test IdP: fast key
//! rotation, kill -9 under load, concurrent first start, a database outage, and a rolling
//! change of static keys. Every request is counted; none may fail.
//! Needs PostgreSQL (`.ci/run` installs it), `tests/node-backstage/setup.sh` and
//! `tests/idp/setup.sh` (the README's test command runs them).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::browser::Browser;
use crate::common::idp::Idp;
use crate::common::jose;
use crate::common::node::{NodeBackend, free_port};
use crate::common::postgres::Postgres;
use crate::common::replicas::{Proxy, Replica};
use serde_json::{Value, json};

/// Each test runs a database, several replicas and Node processes on a small machine:
/// one test at a time, so that timings mean something.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const XHR: (&str, &str) = ("x-requested-with", "XMLHttpRequest");
const POPUP_QUERY: &str = "scope=openid%20profile%20email%20offline_access&origin=http%3A%2F%2Flocalhost%3A3000&flow=popup&env=development";

/// Successes and failures by kind, with the first few failures spelled out.
#[derive(Default)]
struct Tally {
    ok: BTreeMap<String, u64>,
    failed: BTreeMap<String, u64>,
    examples: Vec<String>,
    /// The longest answer per kind, where timed.
    slowest: BTreeMap<String, Duration>,
}

impl Tally {
    fn ok(&mut self, kind: &str) {
        *self.ok.entry(kind.to_owned()).or_default() += 1;
    }

    fn fail(&mut self, kind: &str, detail: impl Display) {
        *self.failed.entry(kind.to_owned()).or_default() += 1;
        if self.examples.len() < 20 {
            self.examples.push(format!("{kind}: {detail}"));
        }
    }

    fn check(&mut self, kind: &str, result: Result<(), String>) {
        match result {
            Ok(()) => self.ok(kind),
            Err(detail) => self.fail(kind, detail),
        }
    }

    fn timed(&mut self, kind: &str, elapsed: Duration) {
        let slowest = self.slowest.entry(kind.to_owned()).or_default();
        *slowest = (*slowest).max(elapsed);
    }

    fn failures(&self) -> u64 {
        self.failed.values().sum()
    }

    fn successes(&self) -> u64 {
        self.ok.values().sum()
    }

    fn report(&self) -> String {
        format!(
            "ok {:?}; failed {:?}; slowest {:?}; first failures:\n  {}",
            self.ok,
            self.failed,
            self.slowest,
            self.examples.join("\n  ")
        )
    }

    fn assert_no_failures(&self) {
        assert_eq!(self.failures(), 0, "{}", self.report());
    }
}

type SharedTally = Arc<Mutex<Tally>>;

fn record(tally: &SharedTally, kind: &str, result: Result<(), String>) {
    tally.lock().unwrap().check(kind, result);
}

/// Runs `request`, then records its result and how long it took.
async fn timed(
    tally: &SharedTally,
    kind: &str,
    request: impl std::future::Future<Output = Result<(), String>>,
) {
    let started = Instant::now();
    let result = request.await;
    let mut tally = tally.lock().unwrap();
    tally.timed(kind, started.elapsed());
    tally.check(kind, result);
}

/// Status and body of a GET, with an optional bearer token and extra headers.
async fn get(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> Result<(u16, String), String> {
    let mut request = http.get(url).timeout(Duration::from_secs(20));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request
        .send()
        .await
        .map_err(|error| format!("GET {url}: {error:?}"))?;
    let status = response.status().as_u16();
    let body = response
        .text()
        .await
        .map_err(|error| format!("GET {url}: body: {error:?}"))?;
    Ok((status, body))
}

/// The JSON body of a GET that must answer 200.
async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    match get(http, url, None, &[]).await? {
        (200, body) => serde_json::from_str(&body).map_err(|error| format!("{url}: {error}")),
        (status, body) => Err(format!("GET {url}: {status} {body}")),
    }
}

/// A guest sign-in at `auth_url` (a replica's or the proxy's `/api/auth`): the token.
async fn guest_token(http: &reqwest::Client, auth_url: &str) -> Result<String, String> {
    let url = format!("{auth_url}/guest/refresh");
    match get(http, &url, None, &[XHR]).await? {
        (200, body) => {
            let session: Value =
                serde_json::from_str(&body).map_err(|error| format!("{url}: {error}"))?;
            session["backstageIdentity"]["token"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("{url}: no token in {body}"))
        }
        (status, body) => Err(format!("GET {url}: {status} {body}")),
    }
}

/// `GET url` with the token must answer 200.
async fn accepted(http: &reqwest::Client, url: &str, token: &str) -> Result<(), String> {
    match get(http, url, Some(token), &[]).await? {
        (200, _) => Ok(()),
        (status, body) => Err(format!("GET {url}: {status} {body}")),
    }
}

/// A catalog endpoint of the Node backend that needs a valid user token.
fn node_entity_url(node: &NodeBackend) -> String {
    format!("{}/entities/by-name/user/default/alice", node.catalog_url())
}

fn kid(token: &str) -> String {
    jose::header(token)["kid"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Replicas sharing one database, behind one proxy whose URL is their external URL.
struct Cluster {
    proxy: Proxy,
    replicas: Vec<Replica>,
    shared: String,
}

impl Cluster {
    /// The proxy, on `count` ports chosen now; start the replicas with [`Cluster::spawn`].
    async fn proxy(count: usize) -> (Proxy, Vec<u16>) {
        let ports: Vec<u16> = (0..count).map(|_| free_port()).collect();
        let origins = ports
            .iter()
            .map(|port| format!("http://127.0.0.1:{port}"))
            .collect();
        (Proxy::start(origins).await, ports)
    }

    /// Starts a replica on each port at once (not waiting), with `extra` YAML documents
    /// over the shared database and external URL. The database is created first: the
    /// replicas' race to create it is the subject of its own test.
    async fn spawn(pg: &Postgres, proxy: Proxy, ports: &[u16], extra: &[&str]) -> Self {
        pg.execute("postgres", "CREATE DATABASE stagedoor").await;
        let shared = format!(
            "stagedoor:\n  database: \"{}\"\n  baseUrl: \"{}\"\n",
            pg.url_with_password_variable("stagedoor"),
            proxy.auth_url()
        );
        let mut configs = vec![shared.as_str()];
        configs.extend_from_slice(extra);
        let replicas = ports
            .iter()
            .enumerate()
            .map(|(index, port)| Replica::spawn(&format!("r{index}"), *port, &configs))
            .collect();
        Self {
            proxy,
            replicas,
            shared,
        }
    }

    async fn wait_ready(&mut self) {
        for replica in &mut self.replicas {
            replica.wait_ready().await;
        }
    }

    /// A guest sign-in on every replica, at once. A replica makes its keys at the first
    /// request that needs them and waits out the publication lead before using each, so its
    /// first sign-in takes a few seconds; traffic measured afterwards is steady.
    async fn warm_up(&self) {
        let sign_ins: Vec<_> = self
            .replicas
            .iter()
            .map(|replica| {
                let url = replica.url("");
                tokio::spawn(async move { guest_token(&crate::common::client(), &url).await })
            })
            .collect();
        for (replica, sign_in) in self.replicas.iter().zip(sign_ins) {
            if let Err(error) = sign_in.await.unwrap() {
                panic!("warming up {}: {error}", replica.name);
            }
        }
    }
}

/// Three replicas rotating their generated keys every 5 s: for about five rotations, every
/// token from any replica verifies with every replica's JWKS, is accepted by every replica's
/// `/v1/userinfo`, and by the real Backstage backend that fetches the JWKS through the
/// load balancer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_keys_on_three_replicas_verify_everywhere() {
    let _serial = SERIAL.lock().await;
    let started = Instant::now();
    let pg = Postgres::start();
    let (proxy, ports) = Cluster::proxy(3).await;
    let mut cluster =
        Cluster::spawn(&pg, proxy, &ports, &["stagedoor:\n  keyRotation: 5s\n"]).await;
    let auth_url = cluster.proxy.auth_url();
    let (node, ()) = tokio::join!(NodeBackend::start(&auth_url, None), cluster.wait_ready());
    let set_up = started.elapsed();

    let http = crate::common::client();
    let mut tally = Tally::default();
    let mut kids = BTreeSet::new();
    let mut iterations = 0;
    let traffic = Instant::now();
    while traffic.elapsed() < Duration::from_secs(26) {
        let source = &cluster.replicas[iterations % cluster.replicas.len()];
        iterations += 1;
        let token = match guest_token(&http, &source.url("")).await {
            Ok(token) => token,
            Err(error) => {
                tally.fail("guest refresh", format!("{}: {error}", source.name));
                continue;
            }
        };
        tally.ok("guest refresh");
        kids.insert(kid(&token));
        let iss = jose::payload(&token)["iss"].clone();
        tally.check(
            "iss is the load balancer",
            (iss == auth_url.as_str())
                .then_some(())
                .ok_or_else(|| format!("iss {iss}")),
        );
        for replica in &cluster.replicas {
            let verified = match get_json(&http, &replica.url("/.well-known/jwks.json")).await {
                Ok(jwks) => jose::verify(&token, &jwks).map(drop).map_err(|error| {
                    format!(
                        "token of {} on {}'s JWKS: {error}",
                        source.name, replica.name
                    )
                }),
                Err(error) => Err(error),
            };
            tally.check("JWKS verification", verified);
            tally.check(
                "userinfo",
                accepted(&http, &replica.url("/v1/userinfo"), &token).await,
            );
        }
        tally.check(
            "Node catalog",
            accepted(&http, &node_entity_url(&node), &token)
                .await
                .map_err(|error| {
                    format!("token of {} (kid {}): {error}", source.name, kid(&token))
                }),
        );
    }
    let traffic = traffic.elapsed();
    eprintln!(
        "set-up {set_up:?}, traffic {traffic:?}: {iterations} iterations, {} kids, {}",
        kids.len(),
        tally.report()
    );
    tally.assert_no_failures();
    assert!(
        kids.len() >= 4,
        "at least 4 signing keys in {traffic:?}: {kids:?}"
    );
    assert_eq!(cluster.proxy.stats.failed(), 0);
    eprintln!("total {:?}", started.elapsed());
}

/// A sign-in through the real IdP via the load balancer, then OIDC refreshes and guest
/// sign-ins through it while one replica is killed with SIGKILL and later restarted: no
/// request fails, the session keeps refreshing, and the restarted replica serves again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_one_replica_under_load_fails_no_request() {
    let _serial = SERIAL.lock().await;
    let started = Instant::now();
    let pg = Postgres::start();
    let (proxy, ports) = Cluster::proxy(3).await;
    let callback = proxy.url("/oidc/handler/frame");
    let client = json!([{
        "client_id": "backstage",
        "client_secret": "backstage-secret",
        "redirect_uris": [callback],
        "post_logout_redirect_uris": ["http://localhost:3000"],
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
        "id_token_signed_response_alg": "RS256",
    }]);
    let idp = Idp::start(Some(&client)).await;
    let node_port = free_port();
    let oidc = format!(
        r#"
auth:
  providers:
    oidc:
      development:
        metadataUrl: {}
        clientId: backstage
        clientSecret: backstage-secret
        prompt: consent
        signIn:
          resolvers:
            - resolver: emailMatchingUserEntityProfileEmail
"#,
        idp.discovery_url()
    );
    let catalog = format!(
        "stagedoor:\n  catalog: {{ baseUrl: \"http://127.0.0.1:{node_port}/api/catalog\" }}\n"
    );
    let mut cluster = Cluster::spawn(&pg, proxy, &ports, &[&oidc, &catalog]).await;
    let auth_url = cluster.proxy.auth_url();
    let (_node, ()) = tokio::join!(
        NodeBackend::start_at(node_port, &auth_url, None),
        cluster.wait_ready()
    );
    cluster.warm_up().await;
    let set_up = started.elapsed();

    // Sign in through the load balancer: /start, the callback and the refreshes land on
    // different replicas.
    let mut browser = Browser::default();
    let start = browser
        .get(&cluster.proxy.url(&format!("/oidc/start?{POPUP_QUERY}")))
        .await;
    assert_eq!(start.status, 302, "{}", start.body);
    let authorize = start.location().unwrap();
    let answer = idp
        .answer(
            &mut browser,
            &authorize,
            "login=alice@example.com",
            &callback,
        )
        .await;
    let page = browser.get(&answer.url).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let message = page.popup_message();
    assert_eq!(message["type"], "authorization_response", "{message}");
    assert_eq!(
        message["response"]["backstageIdentity"]["identity"]["userEntityRef"],
        "user:default/alice"
    );
    let lb_host = cluster.proxy.host();
    assert!(browser.cookie(&lb_host, "oidc-refresh-token").is_some());

    let tally: SharedTally = Default::default();
    let stop = Arc::new(AtomicBool::new(false));
    let oidc_refreshes = Arc::new(AtomicU64::new(0));
    // Held during each OIDC refresh. The kill waits for it: a refresh in flight on the
    // killed replica has already rotated the refresh token at the IdP, and the new one dies
    // with the replica; no load balancer can save that session. Guest sign-ins are not
    // synchronised with the kill at all.
    let oidc_gate = Arc::new(tokio::sync::Mutex::new(()));
    let refresh_url = cluster.proxy.url(
        "/oidc/refresh?optional&scope=openid%20profile%20email%20offline_access&env=development",
    );
    let oidc_task = tokio::spawn({
        let (tally, stop, gate, count, url, host) = (
            tally.clone(),
            stop.clone(),
            oidc_gate.clone(),
            oidc_refreshes.clone(),
            refresh_url.clone(),
            lb_host.clone(),
        );
        async move {
            let mut last_cookie = browser.cookie(&host, "oidc-refresh-token");
            while !stop.load(Ordering::SeqCst) {
                let asked = Instant::now();
                let page = {
                    let _gate = gate.lock().await;
                    browser.request(reqwest::Method::GET, &url, &[XHR]).await
                };
                let elapsed = asked.elapsed();
                let cookie = browser.cookie(&host, "oidc-refresh-token");
                let result = if page.status != 200 {
                    Err(format!("{}: {}", page.status, page.body))
                } else if cookie.is_none() {
                    Err("the refresh cookie is gone".to_owned())
                } else {
                    let session: Value = serde_json::from_str(&page.body).unwrap_or_default();
                    let user = &session["backstageIdentity"]["identity"]["userEntityRef"];
                    (user == "user:default/alice")
                        .then_some(())
                        .ok_or_else(|| format!("session of {user}: {}", page.body))
                };
                let mut tally = tally.lock().unwrap();
                if result.is_ok() {
                    count.fetch_add(1, Ordering::SeqCst);
                    if cookie != last_cookie {
                        tally.ok("refresh cookie replaced");
                    }
                }
                last_cookie = cookie;
                tally.timed("OIDC refresh", elapsed);
                tally.check("OIDC refresh", result);
            }
            browser
        }
    });
    let guest_tasks: Vec<_> = (0..2)
        .map(|_| {
            let (tally, stop, url) = (tally.clone(), stop.clone(), auth_url.clone());
            tokio::spawn(async move {
                let http = crate::common::client();
                while !stop.load(Ordering::SeqCst) {
                    timed(&tally, "guest refresh", async {
                        guest_token(&http, &url).await.map(drop)
                    })
                    .await;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(3)).await;
    let victim = 1;
    let before_kill = oidc_refreshes.load(Ordering::SeqCst);
    let answered_before_kill = {
        let _gate = oidc_gate.lock().await;
        cluster.replicas[victim].kill_9();
        cluster.proxy.stats.answered_by(victim)
    };
    let killed_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let refreshes_while_down = oidc_refreshes.load(Ordering::SeqCst) - before_kill;
    let skipped_while_down = cluster.proxy.stats.skipped_at(victim);
    let answered_while_down = cluster.proxy.stats.answered_by(victim) - answered_before_kill;

    // Back on the same port with the same config; nothing else to do.
    cluster.replicas[victim].restart().await;
    let down_for = killed_at.elapsed();
    let answered_after_restart = cluster.proxy.stats.answered_by(victim);
    let refreshes_before_restart = oidc_refreshes.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let refreshes_after_restart = oidc_refreshes.load(Ordering::SeqCst) - refreshes_before_restart;
    stop.store(true, Ordering::SeqCst);
    let mut browser = oidc_task.await.unwrap();
    for task in guest_tasks {
        task.await.unwrap();
    }
    let tally = std::mem::take(&mut *tally.lock().unwrap());
    let stats = &cluster.proxy.stats;
    eprintln!(
        "set-up {set_up:?}; {} OIDC refreshes ({refreshes_while_down} while r{victim} was down \
         for {down_for:?}, {refreshes_after_restart} after its restart); proxy: r{victim} \
         refused {skipped_while_down} attempts, answered {answered_while_down} while down and \
         {} after its restart; {}",
        oidc_refreshes.load(Ordering::SeqCst),
        stats.answered_by(victim) - answered_after_restart,
        tally.report()
    );
    tally.assert_no_failures();
    assert_eq!(stats.failed(), 0, "the proxy answered 502");
    assert!(
        refreshes_while_down >= 5,
        "the session kept refreshing while a replica was down"
    );
    assert!(
        refreshes_after_restart >= 5,
        "the session kept refreshing after the restart"
    );
    assert!(
        skipped_while_down > 0,
        "the load balancer met the killed replica"
    );
    assert!(
        stats.answered_by(victim) > answered_after_restart,
        "the restarted replica is back in rotation"
    );
    assert!(tally.successes() > 100, "{}", tally.report());

    // The restarted replica, asked directly: ready, and it refreshes the same session.
    let restarted = &cluster.replicas[victim];
    assert_eq!(restarted.readyz().await, Some(200));
    let direct_host = restarted.host();
    for name in ["oidc-refresh-token", "oidc-granted-scope"] {
        if let Some(value) = browser.cookie(&lb_host, name) {
            browser.set_cookie(&direct_host, name, "/api/auth/oidc", &value);
        }
    }
    let direct = browser
        .request(
            reqwest::Method::GET,
            &refresh_url.replace(&auth_url, &restarted.url("")),
            &[XHR],
        )
        .await;
    assert_eq!(direct.status, 200, "{}", direct.body);
    let session: Value = serde_json::from_str(&direct.body).unwrap();
    assert_eq!(
        session["backstageIdentity"]["identity"]["userEntityRef"],
        "user:default/alice"
    );
    guest_token(&crate::common::client(), &restarted.url(""))
        .await
        .expect("a guest sign-in on the restarted replica");
    eprintln!("total {:?}", started.elapsed());
}

/// Two replicas started at the same moment on a database that does not exist yet: one
/// creates it, the migrations run exactly once, and both serve with one key set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_together_create_and_migrate_the_database_once() {
    let _serial = SERIAL.lock().await;
    let began = Instant::now();
    let pg = Postgres::start();
    let migrations = std::fs::read_dir(crate::common::manifest_dir().join("migrations/postgres"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "sql"))
        .count() as i64;
    assert!(migrations > 0);
    let http = crate::common::client();
    // Three rounds, each on a database of its own, for more chances to race.
    for round in 0..3 {
        let database = format!("stagedoor_fresh_{round}");
        let exists = format!("SELECT count(*) FROM pg_database WHERE datname = '{database}'");
        assert_eq!(pg.query_i64("postgres", &exists).await, 0);
        let config = format!(
            "stagedoor:\n  database: \"{}\"\n",
            pg.url_with_password_variable(&database)
        );
        let started = Instant::now();
        let mut a = Replica::spawn(&format!("a{round}"), free_port(), &[&config]);
        let mut b = Replica::spawn(&format!("b{round}"), free_port(), &[&config]);
        tokio::join!(a.wait_ready(), b.wait_ready());
        eprintln!("round {round}: both ready in {:?}", started.elapsed());

        assert_eq!(pg.query_i64("postgres", &exists).await, 1);
        let applied = pg
            .query_i64(&database, "SELECT count(*) FROM stagedoor._sqlx_migrations")
            .await;
        let succeeded = pg
            .query_i64(
                &database,
                "SELECT count(*) FROM stagedoor._sqlx_migrations WHERE success",
            )
            .await;
        assert_eq!(
            (applied, succeeded),
            (migrations, migrations),
            "one row per migration file; logs {} and {}",
            a.log_path().display(),
            b.log_path().display()
        );

        let from_a = guest_token(&http, &a.url("")).await.expect("guest on a");
        let from_b = guest_token(&http, &b.url("")).await.expect("guest on b");
        let jwks_a = get_json(&http, &a.url("/.well-known/jwks.json"))
            .await
            .unwrap();
        let jwks_b = get_json(&http, &b.url("/.well-known/jwks.json"))
            .await
            .unwrap();
        jose::verify(&from_a, &jwks_b).expect("a's token with b's JWKS");
        jose::verify(&from_b, &jwks_a).expect("b's token with a's JWKS");
        accepted(&http, &b.url("/v1/userinfo"), &from_a)
            .await
            .unwrap();
        accepted(&http, &a.url("/v1/userinfo"), &from_b)
            .await
            .unwrap();
    }
    eprintln!("total {:?}", began.elapsed());
}

/// The database stops under two replicas and comes back: readiness and database-bound
/// requests answer 503 (never 500) meanwhile, the JWKS keeps being served, and both recover
/// by themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_answers_503_and_recovers_without_restart() {
    let _serial = SERIAL.lock().await;
    let started = Instant::now();
    let pg = Postgres::start();
    let (proxy, ports) = Cluster::proxy(2).await;
    let mut cluster = Cluster::spawn(&pg, proxy, &ports, &[]).await;
    cluster.wait_ready().await;
    let http = crate::common::client();
    let mut tokens = Vec::new();
    for replica in &cluster.replicas {
        tokens.push(guest_token(&http, &replica.url("")).await.unwrap());
    }
    for replica in &cluster.replicas {
        let jwks = get_json(&http, &replica.url("/.well-known/jwks.json"))
            .await
            .unwrap();
        for token in &tokens {
            jose::verify(token, &jwks).expect("verifies before the outage");
        }
    }

    eprintln!(
        "{:?}: ready, tokens verified; stopping the database",
        started.elapsed()
    );
    pg.stop_server();
    let stopped = Instant::now();
    eprintln!("{:?}: stopped", started.elapsed());
    for replica in &cluster.replicas {
        while replica.readyz().await != Some(503) {
            assert!(
                stopped.elapsed() < Duration::from_secs(10),
                "{} still ready 10 s into the outage",
                replica.name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    eprintln!("both not ready {:?} after the stop", stopped.elapsed());
    let mut seen = BTreeMap::<String, BTreeSet<u16>>::new();
    for replica in &cluster.replicas {
        for token in &tokens {
            let asked = Instant::now();
            let (status, body) = get(&http, &replica.url("/v1/userinfo"), Some(token), &[])
                .await
                .unwrap();
            assert_eq!(
                status,
                503,
                "userinfo on {} during the outage ({:?}): {body}",
                replica.name,
                asked.elapsed()
            );
            let body: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(body["error"]["name"], "ServiceUnavailableError", "{body}");
            seen.entry("userinfo".into()).or_default().insert(status);
            eprintln!(
                "userinfo on {} answered 503 in {:?}",
                replica.name,
                asked.elapsed()
            );
        }
        let asked = Instant::now();
        let (status, body) = get(&http, &replica.url("/.well-known/jwks.json"), None, &[])
            .await
            .unwrap();
        assert_eq!(
            status, 200,
            "JWKS on {} during the outage: {body}",
            replica.name
        );
        eprintln!(
            "JWKS on {} answered 200 in {:?}",
            replica.name,
            asked.elapsed()
        );
        let jwks: Value = serde_json::from_str(&body).unwrap();
        for token in &tokens {
            jose::verify(token, &jwks).expect("the JWKS still lists the keys");
        }
        // A sign-in may or may not need the database; it must never be a 500.
        let asked = Instant::now();
        let (status, body) = get(&http, &replica.url("/guest/refresh"), None, &[XHR])
            .await
            .unwrap();
        assert!(
            status == 200 || status == 503,
            "guest sign-in on {} during the outage: {status} {body}",
            replica.name
        );
        if status == 503 {
            let body: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(body["error"]["name"], "ServiceUnavailableError", "{body}");
        }
        seen.entry("guest refresh".into())
            .or_default()
            .insert(status);
        eprintln!(
            "guest sign-in on {} answered {status} in {:?}",
            replica.name,
            asked.elapsed()
        );
        let health = get(&http, &replica.root_url("/healthz"), None, &[])
            .await
            .unwrap();
        assert_eq!(health.0, 200, "liveness does not depend on the database");
    }
    eprintln!("statuses during the outage: {seen:?}");

    eprintln!("{:?}: starting the database", started.elapsed());
    pg.start_server();
    let restarted = Instant::now();
    eprintln!("{:?}: started", started.elapsed());
    for replica in &cluster.replicas {
        while replica.readyz().await != Some(200) {
            assert!(
                restarted.elapsed() < Duration::from_secs(15),
                "{} not ready 15 s after the database came back; log {}:\n{}",
                replica.name,
                replica.log_path().display(),
                replica.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    eprintln!(
        "both ready {:?} after the database came back",
        restarted.elapsed()
    );
    for replica in &cluster.replicas {
        tokens.push(guest_token(&http, &replica.url("")).await.unwrap());
    }
    for replica in &cluster.replicas {
        let jwks = get_json(&http, &replica.url("/.well-known/jwks.json"))
            .await
            .unwrap();
        for token in &tokens {
            jose::verify(token, &jwks).expect("verifies after the outage");
            accepted(&http, &replica.url("/v1/userinfo"), token)
                .await
                .unwrap();
        }
    }
    assert!(cluster.replicas.iter_mut().all(Replica::is_running));
    eprintln!("{:?}: all verified after the outage", started.elapsed());
}

/// `auth.keyStore` with static keys, the first of which signs.
fn static_keys_config(keys: &[(&str, &(String, String))]) -> String {
    let mut yaml =
        "auth:\n  keyStore:\n    provider: static\n    static:\n      keys:\n".to_owned();
    for (id, (private, public)) in keys {
        yaml.push_str(&format!(
            "        - {{ keyId: {id}, privateKeyFile: \"{private}\", publicKeyFile: \"{public}\" }}\n"
        ));
    }
    yaml
}

/// Static keys [K1, K2] on three replicas, then a rolling restart (SIGTERM, new config,
/// start) to [K2, K1] under traffic: no request fails, the Node backend and every replica
/// accept every token, and the signing key moves from K1 to K2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_restart_to_a_new_static_signing_key_without_downtime() {
    let _serial = SERIAL.lock().await;
    let started = Instant::now();
    let keys_dir = tempfile::tempdir().unwrap();
    let k1 = crate::common::jose::write_static_key(keys_dir.path(), "k1");
    let k2 = crate::common::jose::write_static_key(keys_dir.path(), "k2");
    let before = static_keys_config(&[("k1", &k1), ("k2", &k2)]);
    let after = static_keys_config(&[("k2", &k2), ("k1", &k1)]);

    let pg = Postgres::start();
    let (proxy, ports) = Cluster::proxy(3).await;
    let mut cluster = Cluster::spawn(&pg, proxy, &ports, &[&before]).await;
    let auth_url = cluster.proxy.auth_url();
    let (node, ()) = tokio::join!(NodeBackend::start(&auth_url, None), cluster.wait_ready());
    cluster.warm_up().await;
    let set_up = started.elapsed();

    let tally: SharedTally = Default::default();
    let stop = Arc::new(AtomicBool::new(false));
    // How many replicas have been restarted with the new keys, and how many were taken down
    // for it (a replica answers with the new key before its restart is counted as done).
    let restarted = Arc::new(AtomicUsize::new(0));
    let touched = Arc::new(AtomicUsize::new(0));
    // `true` while a replica is down for its restart; the traffic asks only the others.
    let down: Arc<Vec<tokio::sync::RwLock<bool>>> = Arc::new(
        (0..cluster.replicas.len())
            .map(|_| tokio::sync::RwLock::new(false))
            .collect(),
    );
    // phase → kid → tokens.
    type Kids = BTreeMap<&'static str, BTreeMap<String, u64>>;
    let kids_seen: Arc<Mutex<Kids>> = Default::default();
    let replica_urls: Vec<String> = cluster.replicas.iter().map(|r| r.url("")).collect();
    let traffic = tokio::spawn({
        let touched = touched.clone();
        let (tally, stop, restarted, down, kids_seen) = (
            tally.clone(),
            stop.clone(),
            restarted.clone(),
            down.clone(),
            kids_seen.clone(),
        );
        let (auth_url, node_url) = (auth_url.clone(), node_entity_url(&node));
        async move {
            let http = crate::common::client();
            while !stop.load(Ordering::SeqCst) {
                let phase_before = restarted.load(Ordering::SeqCst);
                let asked = Instant::now();
                let token = guest_token(&http, &auth_url).await;
                tally
                    .lock()
                    .unwrap()
                    .timed("guest refresh", asked.elapsed());
                let token = match token {
                    Ok(token) => token,
                    Err(error) => {
                        record(&tally, "guest refresh", Err(error));
                        continue;
                    }
                };
                let phase = match (phase_before, touched.load(Ordering::SeqCst)) {
                    (_, 0) => "before",
                    (3, _) => "after",
                    _ => "during",
                };
                kids_seen
                    .lock()
                    .unwrap()
                    .entry(phase)
                    .or_default()
                    .entry(kid(&token))
                    .and_modify(|count| *count += 1)
                    .or_insert(1);
                record(&tally, "guest refresh", Ok(()));
                let node_result = accepted(&http, &node_url, &token).await;
                record(&tally, "Node catalog", node_result);
                for (index, url) in replica_urls.iter().enumerate() {
                    let down = down[index].read().await;
                    if !*down {
                        let result = accepted(&http, &format!("{url}/v1/userinfo"), &token).await;
                        record(&tally, "userinfo", result);
                    }
                }
            }
        }
    });

    tokio::time::sleep(Duration::from_secs(3)).await;
    let rolling = Instant::now();
    for index in 0..cluster.replicas.len() {
        touched.fetch_add(1, Ordering::SeqCst);
        *down[index].write().await = true;
        let replica = &mut cluster.replicas[index];
        replica.stop().await;
        // The replacement takes a moment to be scheduled: the load balancer meets a closed
        // port meanwhile.
        tokio::time::sleep(Duration::from_secs(1)).await;
        replica.set_configs(&[&cluster.shared, &after]);
        replica.restart().await;
        *down[index].write().await = false;
        restarted.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let rolling = rolling.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::SeqCst);
    traffic.await.unwrap();

    let tally = tally.lock().unwrap();
    let kids_seen = kids_seen.lock().unwrap();
    eprintln!(
        "set-up {set_up:?}, rolling restart {rolling:?}; kids {kids_seen:?}; proxy skipped {:?}; {}",
        (0..3)
            .map(|index| cluster.proxy.stats.skipped_at(index))
            .collect::<Vec<_>>(),
        tally.report()
    );
    tally.assert_no_failures();
    assert_eq!(cluster.proxy.stats.failed(), 0);
    let kids = |phase: &str| -> Vec<String> {
        kids_seen
            .get(phase)
            .map(|kids| kids.keys().cloned().collect())
            .unwrap_or_default()
    };
    assert_eq!(kids("before"), ["k1"], "tokens before the restarts");
    assert_eq!(kids("after"), ["k2"], "tokens after the restarts");
    assert_eq!(
        kids("during"),
        ["k1", "k2"],
        "both keys sign while the replicas disagree"
    );
    let skipped: u64 = (0..3)
        .map(|index| cluster.proxy.stats.skipped_at(index))
        .sum();
    assert!(skipped > 0, "the load balancer met a stopped replica");
    assert!(tally.successes() > 100, "{}", tally.report());
    eprintln!("total {:?}", started.elapsed());
}
