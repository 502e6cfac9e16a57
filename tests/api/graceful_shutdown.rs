//! Rolling updates: two replicas on one PostgreSQL behind a load balancer that, like a
//! Kubernetes Service, never retries and follows readiness. One replica gets SIGTERM under
//! load: `/readyz` fails at once, it keeps serving (new connections too) for its drain period,
//! finishes what is in flight, exits 0, and comes back; no request fails.
//! Needs PostgreSQL (`.ci/run` installs it).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::balancer::Balancer;
use crate::common::node::free_port;
use crate::common::postgres::Postgres;
use crate::common::replicas::Replica;

const DRAIN: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Load {
    ok: AtomicU64,
    failures: Mutex<Vec<String>>,
    stop: AtomicBool,
}

/// One client (keep-alive to the balancer) asking for guest sign-ins (GET and POST) and the
/// JWKS in turn until told to stop.
async fn drive(load: Arc<Load>, auth_url: String) {
    let http = crate::common::client();
    let mut round = 0u64;
    while !load.stop.load(Ordering::SeqCst) {
        round += 1;
        let request = match round % 3 {
            0 => http.get(format!("{auth_url}/.well-known/jwks.json")),
            1 => http.get(format!("{auth_url}/guest/refresh")),
            _ => http.post(format!("{auth_url}/guest/refresh")),
        };
        let answer = request
            .header("x-requested-with", "XMLHttpRequest")
            .timeout(Duration::from_secs(20))
            .send()
            .await;
        match answer {
            Ok(response) if response.status() == 200 => {
                load.ok.fetch_add(1, Ordering::SeqCst);
            }
            Ok(response) => {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                load.failures
                    .lock()
                    .unwrap()
                    .push(format!("{status} {body}"));
            }
            Err(error) => load.failures.lock().unwrap().push(format!("{error:?}")),
        }
    }
}

async fn wait_until(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < limit, "{what} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_drains_and_fails_no_request() {
    let pg = Postgres::start();
    pg.execute("postgres", "CREATE DATABASE stagedoor").await;
    let ports = [free_port(), free_port()];
    let balancer = Balancer::start(
        ports
            .iter()
            .map(|port| format!("http://127.0.0.1:{port}"))
            .collect(),
    )
    .await;
    let config = format!(
        "stagedoor:\n  database: \"{}\"\n  baseUrl: \"{}\"\n  shutdown: {{ drainPeriod: {}s }}\n",
        pg.url_with_password_variable("stagedoor"),
        balancer.auth_url(),
        DRAIN.as_secs()
    );
    let mut replicas = Vec::new();
    for (index, port) in ports.iter().enumerate() {
        replicas.push(Replica::start(&format!("r{index}"), *port, &[config.as_str()]).await);
    }
    // The first sign-in of each replica waits out its key's publication lead.
    for replica in &replicas {
        let status = crate::common::client()
            .get(replica.url("/guest/refresh"))
            .header("x-requested-with", "XMLHttpRequest")
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200, "warming up {}", replica.name);
    }
    wait_until("both replicas in rotation", Duration::from_secs(5), || {
        (0..2).all(|index| balancer.upstream(index).ready.load(Ordering::SeqCst))
    })
    .await;

    let load = Arc::new(Load::default());
    let drivers: Vec<_> = (0..4)
        .map(|_| tokio::spawn(drive(load.clone(), balancer.auth_url())))
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let answered_before = balancer.upstream(0).answered.load(Ordering::SeqCst);
    assert!(answered_before > 0, "r0 served before its SIGTERM");

    let terminated = Instant::now();
    replicas[0].terminate();
    let victim = &replicas[0];
    let mut not_ready_after = None;
    while terminated.elapsed() < Duration::from_secs(1) {
        if victim.readyz().await == Some(503) {
            not_ready_after = Some(terminated.elapsed());
            break;
        }
    }
    let not_ready_after = not_ready_after.expect("/readyz answers 503 within 1 s of SIGTERM");
    // Still serving during the drain, on a new connection, which it closes after the answer.
    let direct = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
        .get(victim.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), 200, "a new connection during the drain");
    assert_eq!(direct.headers()["connection"], "close");
    let status = replicas[0].wait_exit(DRAIN + Duration::from_secs(8)).await;
    let stopped_after = terminated.elapsed();
    assert!(status.success(), "exit status after SIGTERM: {status}");
    assert!(
        stopped_after >= DRAIN,
        "it served for the drain period: {stopped_after:?}"
    );

    replicas[0].restart().await;
    let answered_stopped = balancer.upstream(0).answered.load(Ordering::SeqCst);
    wait_until(
        "the restarted replica back in rotation",
        Duration::from_secs(10),
        || balancer.upstream(0).answered.load(Ordering::SeqCst) > answered_stopped + 20,
    )
    .await;
    load.stop.store(true, Ordering::SeqCst);
    for driver in drivers {
        driver.await.unwrap();
    }
    let failures = load.failures.lock().unwrap().clone();
    eprintln!(
        "{} requests answered; /readyz 503 {not_ready_after:?} after SIGTERM, exit after {stopped_after:?}; r0 answered {answered_before} before, {} in all; r1 {}",
        load.ok.load(Ordering::SeqCst),
        balancer.upstream(0).answered.load(Ordering::SeqCst),
        balancer.upstream(1).answered.load(Ordering::SeqCst),
    );
    assert!(
        failures.is_empty() && balancer.failures().is_empty(),
        "{} failed requests: {:?}; in the balancer: {:?}",
        failures.len(),
        &failures[..failures.len().min(10)],
        balancer.failures()
    );
}

/// Request logs are written by a thread of their own: none is lost when the process stops
/// right after a burst of requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_log_line_is_written_before_the_exit() {
    let mut replica = Replica::start("logs", free_port(), &[]).await;
    let http = crate::common::client();
    let requests = 400;
    let sent: Vec<_> = (0..requests)
        .map(|_| {
            let (http, url) = (http.clone(), replica.url("/.well-known/jwks.json"));
            tokio::spawn(async move { http.get(url).send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    for request in sent {
        assert_eq!(request.await.unwrap().unwrap(), 200);
    }
    replica.terminate();
    assert!(replica.wait_exit(Duration::from_secs(10)).await.success());
    let log = std::fs::read_to_string(replica.log_path()).unwrap();
    let logged = log
        .lines()
        .filter(|line| line.contains("stagedoor::access") && line.contains("/jwks.json"))
        .count();
    assert_eq!(logged, requests, "access lines for the JWKS requests");
}
