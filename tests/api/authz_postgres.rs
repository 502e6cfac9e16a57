//! The authorization server on PostgreSQL, shared by two replicas: a flow may move between
//! them at every step, and every change that must happen once (a consent decision, a code, a
//! refresh token rotation) happens once across both.

use serde_json::json;

use crate::common::authz::{
    Authz, CLI_CLIENT_ID, CLI_REDIRECT, VERIFIER, assert_oauth, cli_params, pairs,
};
use crate::common::postgres::Postgres;

async fn replicas(pg: &Postgres) -> (Authz, Authz) {
    let database = format!("stagedoor: {{ database: \"{}\" }}", pg.url("stagedoor"));
    let a = Authz::start(&[&database]).await;
    let b = a.replica().await;
    (a, b)
}

#[tokio::test]
async fn a_flow_moves_between_replicas_and_each_step_happens_once() {
    let pg = Postgres::start();
    let (a, b) = replicas(&pg).await;
    // Authorize on one, read and decide the consent on the other, concurrently on both.
    let id = a.session(&pairs(&cli_params(CLI_REDIRECT))).await;
    let session = b.server.get_json(&format!("/v1/sessions/{id}")).await;
    assert_eq!(session["clientId"], CLI_CLIENT_ID);
    let user = b.user_token().await;
    let (first, second) = tokio::join!(
        a.decide(&id, "approve", Some(&user)),
        b.decide(&id, "approve", Some(&user))
    );
    let approved = match (first.0, second.0) {
        (200, 400) => first.1,
        (400, 200) => second.1,
        other => panic!("one approval wins: {other:?}"),
    };
    let code = crate::common::authz::code_of(approved["redirectUrl"].as_str().unwrap());
    let exchange = json!({"grant_type": "authorization_code", "code": code,
        "redirect_uri": CLI_REDIRECT, "code_verifier": VERIFIER, "client_id": CLI_CLIENT_ID});
    let (first, second) = tokio::join!(a.token_json(exchange.clone()), b.token_json(exchange));
    let tokens = match (first.0, second.0) {
        (200, 400) => first.1,
        (400, 200) => second.1,
        other => panic!("one exchange wins: {other:?}"),
    };
    // The token one replica signed is accepted by the other.
    let access = tokens["access_token"].as_str().unwrap();
    let userinfo = b
        .server
        .http
        .get(b.server.url("/v1/userinfo"))
        .bearer_auth(access)
        .send();
    assert_eq!(userinfo.await.unwrap().status(), 200);

    // Concurrent refreshes on both replicas rotate once; the loser's token was current, so
    // the session lives on. (On a fresh sign-in: the losing exchange above is a replayed
    // code, which revokes the winner's refresh token when it comes second, RFC 6749 §4.1.2,
    // and which comes second is the scheduler's choice.)
    let token = b.cli_login().await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (first, second) = tokio::join!(a.refresh(&token), b.refresh(&token));
    let live = match (first.0, second.0) {
        (200, 400) => first.1,
        (400, 200) => second.1,
        other => panic!("one refresh wins: {other:?} {first:?} {second:?}"),
    };
    let live = live["refresh_token"].as_str().unwrap().to_owned();
    let (status, refreshed) = b.refresh(&live).await;
    assert_eq!(status, 200, "{refreshed}");
    // The token rotated out on one replica, presented to the other later: reuse, the
    // session ends.
    // (The replicas' clocks moved apart at start-up: each waited out its first key.)
    use stagedoor::clock::Clock;
    let later = a.server.clock.now_millis().max(b.server.clock.now_millis()) + 6_000;
    a.server.clock.set_millis(later);
    let (status, body) = a.refresh(&live).await;
    let reuse = "Refresh token was already used; the offline session is revoked";
    assert_oauth(status, &body, (400, "invalid_grant", reuse));
    let current = refreshed["refresh_token"].as_str().unwrap();
    assert_eq!(b.refresh(current).await.0, 400);
    let tables = pg
        .query_i64(
            "stagedoor",
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'stagedoor' \
             AND table_name IN ('oauth_clients', 'oauth_authorization_sessions', \
             'oauth_authorization_codes', 'offline_sessions', 'offline_session_retired_tokens')",
        )
        .await;
    assert_eq!(tables, 5);
}

#[tokio::test]
async fn many_concurrent_refreshes_of_one_token_rotate_it_exactly_once() {
    let pg = Postgres::start();
    let (a, b) = replicas(&pg).await;
    let token = a.cli_login().await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..8 {
        let server = if index % 2 == 0 { &a.server } else { &b.server };
        let (http, url) = (server.http.clone(), server.url("/v1/token"));
        let body = json!({"grant_type": "refresh_token", "refresh_token": token});
        tasks.spawn(async move {
            let response = http.post(url).json(&body).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap())
        });
    }
    let results = tasks.join_all().await;
    let winners: Vec<_> = results
        .iter()
        .filter(|(status, _)| *status == 200)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let live = winners[0].1["refresh_token"].as_str().unwrap();
    assert_eq!(a.refresh(live).await.0, 200);
    let rows = pg
        .query_i64(
            "stagedoor",
            "SELECT count(*) FROM stagedoor.offline_session_retired_tokens",
        )
        .await;
    assert_eq!(rows, 2, "each rotation retires one token");
}
