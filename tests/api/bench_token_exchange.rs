//! Benchmark (ignored in normal runs): token exchanges per second with a warm JWKS cache, for
//! a client-credentials token of the real test OP (RS256, 2048-bit), mapped by a template
//! (no catalog) and through the `userEntityRefFromClaims` resolver with a warm catalog cache.
//! Client and server share the machine. Run: `bench/exchange.sh` (a release build).

use std::time::{Duration, Instant};

use crate::common::TestServer;
use crate::common::exchange::{client_credentials, form, machine_clients};
use crate::common::idp::Idp;

const SECONDS: u64 = 5;

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

/// `connections` loops exchanging `token` for [`SECONDS`]; prints exchanges/s, p50, p99.
async fn measure(name: &str, server: &TestServer, token: &str, connections: usize) {
    let url = server.url("/v1/token");
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form(token))
        .finish();
    let send = |http: reqwest::Client, url: String, body: String| async move {
        let response = http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
        response.bytes().await.expect("body");
    };
    // Warm up: JWKS fetched, catalog answer cached, connections open.
    for _ in 0..200 {
        send(server.http.clone(), url.clone(), body.clone()).await;
    }
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (http, url, body) = (crate::common::client(), url.clone(), body.clone());
            tokio::spawn(async move {
                let mut samples = Vec::new();
                while Instant::now() < deadline {
                    let started = Instant::now();
                    send(http.clone(), url.clone(), body.clone()).await;
                    samples.push(started.elapsed());
                }
                samples
            })
        })
        .collect();
    let mut samples = Vec::new();
    for worker in workers {
        samples.extend(worker.await.expect("worker"));
    }
    let rate = samples.len() as f64 / SECONDS as f64;
    let p50 = percentile(&mut samples, 0.5);
    let p99 = percentile(&mut samples, 0.99);
    println!(
        "{name:<46} {connections:>2} conn  {rate:>8.0} exchanges/s   p50 {:>6.2} ms   p99 {:>6.2} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
    );
}

fn config(issuer: &str, catalog: &str, mapping: &str) -> String {
    format!(
        "stagedoor:\n  audit: {{ sink: \"off\" }}\n  catalog: {{ baseUrl: '{catalog}' }}\n  tokenExchange:\n    rateLimit: {{ perMinute: 1000000, burst: 1000000 }}\n    issuers:\n      - issuer: {issuer}\n        audiences: [urn:stagedoor:test]\n        clients: [ci-bot]\n{mapping}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with bench/exchange.sh"]
async fn token_exchanges_per_second() {
    let idp = Idp::start(Some(&machine_clients(&["ci-bot"]))).await;
    let catalog = crate::common::empty_catalog().await;
    let token = client_credentials(&idp, "ci-bot", None).await;
    println!("\n{SECONDS} s per row, loopback, warm JWKS cache:");
    let template = TestServer::start(&[&config(
        &idp.issuer,
        &catalog,
        "        userEntityRef: user:default/bot-{client_id}\n",
    )])
    .await;
    for connections in [1, 8] {
        measure("userEntityRef template", &template, &token, connections).await;
    }
    template.server.stop().await;
    let resolver = TestServer::start(&[&config(
        &idp.issuer,
        &catalog,
        "        signIn:\n          resolvers:\n            - resolver: userEntityRefFromClaims\n              template: user:default/bot-{client_id}\n              dangerouslyAllowSignInWithoutUserInCatalog: true\n",
    )])
    .await;
    for connections in [1, 8] {
        measure(
            "resolver, catalog answer cached",
            &resolver,
            &token,
            connections,
        )
        .await;
    }
}
