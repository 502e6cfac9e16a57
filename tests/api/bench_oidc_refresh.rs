//! Benchmark (ignored in normal runs): `/refresh` for an OIDC user against the real test OP,
//! and the same IdP round trip (refresh grant + userinfo) called directly, so stagedoor's own
//! share is the difference. Run: `bench/oidc.sh` (a release build of this test).

use std::time::{Duration, Instant};

use crate::common::TestServer;
use crate::common::browser::Browser;
use crate::common::idp::Idp;

const ROUNDS: usize = 300;

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn report(name: &str, mut samples: Vec<Duration>) -> Duration {
    let p50 = percentile(&mut samples, 0.5);
    let p99 = percentile(&mut samples, 0.99);
    let total: Duration = samples.iter().sum();
    println!(
        "{name:<40} p50 {:>7.2} ms   p99 {:>7.2} ms   {:>6.0} req/s sequential",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        samples.len() as f64 / total.as_secs_f64()
    );
    p50
}

#[tokio::test]
#[ignore = "benchmark: run with bench/oidc.sh"]
async fn oidc_refresh_latency() {
    let idp = Idp::start(None).await;
    let catalog = crate::common::empty_catalog().await;
    let server = TestServer::start(&[&format!(
        "stagedoor:\n  catalog: {{ baseUrl: '{catalog}' }}\nauth:\n  providers:\n    oidc:\n      development:\n        metadataUrl: {}\n        clientId: backstage\n        clientSecret: backstage-secret\n        prompt: consent\n        signIn:\n          resolvers: [{{ resolver: emailMatchingUserEntityProfileEmail, dangerouslyAllowSignInWithoutUserInCatalog: true }}]\n",
        idp.discovery_url()
    )])
    .await;
    let mut browser = Browser::default();
    let page = idp
        .popup_sign_in(
            &mut browser,
            &server.server.base_url(),
            "login=alice@example.com",
        )
        .await;
    assert!(page.popup_message()["response"]["backstageIdentity"].is_object());
    let host = format!("127.0.0.1:{}", server.server.address.port());
    let mut refresh_token = browser.cookie(&host, "oidc-refresh-token").unwrap();

    // 1. The IdP alone: what stagedoor has to wait for on every refresh.
    let http = crate::common::client();
    let discovery: serde_json::Value = http
        .get(idp.discovery_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token_endpoint = discovery["token_endpoint"].as_str().unwrap().to_owned();
    let userinfo_endpoint = discovery["userinfo_endpoint"].as_str().unwrap().to_owned();
    let mut idp_samples = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let decoded = percent_encoding::percent_decode_str(&refresh_token)
            .decode_utf8()
            .unwrap()
            .into_owned();
        let tokens: serde_json::Value = http
            .post(&token_endpoint)
            .basic_auth("backstage", Some("backstage-secret"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", decoded.as_str()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let access = tokens["access_token"]
            .as_str()
            .expect("access token")
            .to_owned();
        http.get(&userinfo_endpoint)
            .bearer_auth(&access)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        idp_samples.push(started.elapsed());
        refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    }
    // The direct loop rotated the session's token: hand the newest one back to the browser.
    browser.set_cookie(
        &host,
        "oidc-refresh-token",
        "/api/auth/oidc",
        &refresh_token,
    );

    // 2. stagedoor's /refresh, end to end (the same IdP calls, plus ID token validation,
    //    the resolver with a warm cache, token signing and cookies).
    let url = server.url("/oidc/refresh?optional&env=development");
    let mut stagedoor_samples = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let page = browser
            .request(
                reqwest::Method::GET,
                &url,
                &[("x-requested-with", "XMLHttpRequest")],
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        stagedoor_samples.push(started.elapsed());
    }
    println!("\n{ROUNDS} sequential refreshes on loopback:");
    let idp_p50 = report("IdP round trip (refresh grant + userinfo)", idp_samples);
    let total_p50 = report("stagedoor /refresh, end to end", stagedoor_samples);
    println!(
        "stagedoor's own work (p50 difference): {:.2} ms",
        (total_p50.as_secs_f64() - idp_p50.as_secs_f64()) * 1e3
    );
}
