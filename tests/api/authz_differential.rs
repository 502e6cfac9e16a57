//! The same real clients against Node's auth backend (0.30.1, the flags on, development
//! mode) and against stagedoor, side by side: the CLI's whole session and the MCP SDK's
//! authorize-refresh, compared event by event. What differs is what stagedoor chose
//! (`expires_in`, the first metadata URL answering).

use std::time::Duration;

use serde_json::Value;

use crate::common::TestServer;
use crate::common::clients::{DriverRun, run};
use crate::common::node::{NodeBackend, free_port};

const FLAGS: &str = r#"
auth:
  providers:
    guest: { userEntityRef: user:default/alice, dangerouslyAllowOutsideDevelopment: true }
  experimentalDynamicClientRegistration: { enabled: true }
  clientIdMetadataDocuments: { enabled: true }
  experimentalRefreshToken: { enabled: true }
"#;

/// The event names in order (the `http` ones differ: stagedoor answers the SDK's first URL).
fn summary(run: &DriverRun) -> Vec<String> {
    run.events
        .iter()
        .filter(|event| event["event"] != "noise" && event["event"] != "http")
        .map(|event| event["event"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn guest_token(http: &reqwest::Client, auth_url: &str) -> String {
    let session: Value = http
        .get(format!("{auth_url}/guest/refresh"))
        .header("x-requested-with", "XMLHttpRequest")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    session["backstageIdentity"]["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The CLI's whole session and the MCP SDK's authorize-refresh against one backend.
async fn drive(backend_url: &str, auth_url: &str) -> (DriverRun, DriverRun) {
    let token = guest_token(&crate::common::client(), auth_url).await;
    let owned = |args: &[&str]| args.iter().map(|arg| (*arg).to_owned()).collect::<Vec<_>>();
    let args = owned(&[
        "--backend-url",
        backend_url,
        "--approve-token",
        &token,
        "--callback-port",
        "ephemeral",
        "login",
        "show",
        "print-token",
        "expire",
        "print-token",
        "logout",
    ]);
    let cli = run("cli-driver.mjs", &args, Duration::from_secs(120)).await;
    let issuer = auth_url.replace("127.0.0.1", "localhost");
    let args = owned(&[
        "--issuer",
        &issuer,
        "--approve-token",
        &token,
        "authorize",
        "refresh",
    ]);
    let mcp = run("mcp-driver.mjs", &args, Duration::from_secs(120)).await;
    (cli, mcp)
}

#[tokio::test]
async fn the_cli_and_the_mcp_sdk_see_the_same_session_from_node_and_from_stagedoor() {
    let node = NodeBackend::start_auth(&["guest"], FLAGS, &[("NODE_ENV", "development")]).await;
    let port = free_port();
    let stagedoor_config = format!(
        "backend: {{ baseUrl: \"http://localhost:{port}\" }}\n\
         stagedoor:\n  listen: {{ host: 127.0.0.1, port: {port} }}\n  development: true\n  \
         catalog: {{ baseUrl: \"{}\", auth: {{ type: static, token: {} }} }}\n",
        node.catalog_url(),
        crate::common::node::STATIC_TOKEN
    );
    let stagedoor = TestServer::start(&[FLAGS, &stagedoor_config]).await;
    let node_url = format!("http://localhost:{}", node.port);
    let (node_cli, node_mcp) = drive(&node_url, node.auth_url()).await;
    let ours_url = format!("http://localhost:{port}");
    let (ours_cli, ours_mcp) = drive(&ours_url, &stagedoor.url("")).await;
    for pair in [[&node_cli, &ours_cli], [&node_mcp, &ours_mcp]] {
        pair[0].assert_ok();
        pair[1].assert_ok();
        assert_eq!(summary(pair[0]), summary(pair[1]));
    }
    same_cli_session(&node_cli, &ours_cli);
    let scope = |run: &DriverRun| run.first("tokens")["scope"].clone();
    assert_eq!(scope(&node_mcp), scope(&ours_mcp));
    // Node answers only the third URL the SDK asks; stagedoor the first.
    let statuses = |run: &DriverRun| -> Vec<u64> {
        run.all("http")
            .iter()
            .take(3)
            .filter_map(|event| event["status"].as_u64())
            .collect()
    };
    assert_eq!(statuses(&node_mcp), [404, 404, 200]);
    assert_eq!(statuses(&ours_mcp)[0], 200);
}

/// What the CLI saw of each step, the same from both.
fn same_cli_session(node: &DriverRun, ours: &DriverRun) {
    assert_eq!(
        node.first("session")["body"]["clientName"],
        ours.first("session")["body"]["clientName"]
    );
    assert_eq!(node.first("login")["hasRefreshToken"], true);
    assert_eq!(ours.first("login")["hasRefreshToken"], true);
    let after_logout = |run: &DriverRun| {
        let refresh = &run.first("logout")["refreshAfterLogout"];
        (refresh["status"].clone(), refresh["body"]["error"].clone())
    };
    assert_eq!(after_logout(node), after_logout(ours));
    let printed = |run: &DriverRun| {
        (
            run.all("print-token")[1]["changed"].clone(),
            run.all("print-token")[1]["refreshTokenRotated"].clone(),
        )
    };
    assert_eq!(printed(node), printed(ours));
    // `auth show`: Node needs a user_info row from a provider sign-in (the guest's, here).
    assert_eq!(node.first("show")["stdout"], ours.first("show")["stdout"]);
}
