//! Live configuration: the real binary reloads when a `--config` file changes, as on SIGHUP
//! (same `config_reload` audit event), whether the file is edited in place or swapped the way
//! the kubelet updates a ConfigMap volume (a new `..<timestamp>` directory, then the `..data`
//! symlink renamed over the old one); a broken file is refused and the configuration in force
//! stays.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::node::free_port;

/// Kills the server when the test ends, passing or not.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn guest_config(user: &str) -> String {
    format!("auth:\n  providers:\n    guest:\n      userEntityRef: {user}\n")
}

/// Starts `stagedoor serve` on the tests' base config, `config` (the watched file), and a
/// file with its port and audit file, in `dir`.
async fn start(dir: &Path, config: &Path) -> (Server, String) {
    let port = free_port();
    let base = dir.join("base.yaml");
    std::fs::write(&base, crate::common::BASE_CONFIG).unwrap();
    let local = dir.join("local.yaml");
    std::fs::write(
        &local,
        format!(
            "stagedoor:\n  listen: {{ port: {port} }}\n  audit: {{ sink: file, path: {} }}\n",
            dir.join("audit.jsonl").display()
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_stagedoor"))
        .arg("serve")
        .args(["--config".as_ref(), base.as_os_str()])
        .args(["--config".as_ref(), config.as_os_str()])
        .args(["--config".as_ref(), local.as_os_str()])
        .env_remove("NODE_ENV")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stagedoor.log")).unwrap())
        .spawn()
        .unwrap();
    let server = Server(child);
    let base_url = format!("http://127.0.0.1:{port}/api/auth");
    let started = Instant::now();
    while crate::common::client()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .is_err()
    {
        assert!(started.elapsed() < Duration::from_secs(20), "not started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (server, base_url)
}

async fn guest_user(base_url: &str) -> String {
    let session = crate::common::get_json(&format!("{base_url}/guest/refresh")).await;
    session["backstageIdentity"]["identity"]["userEntityRef"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The `config_reload` audit events so far, as `success` / `failure`.
fn reload_outcomes(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|event| event["event"] == "config_reload")
        .map(|event| event["outcome"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Waits (up to 10 s: a 1 s poll, 1 s of debounce, a loaded machine) for `condition`.
async fn eventually<F: std::future::Future<Output = bool>>(
    what: &str,
    mut condition: impl FnMut() -> F,
) {
    let started = Instant::now();
    while !condition().await {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what} within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_config_file_is_reloaded_and_a_broken_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("app-config.yaml");
    std::fs::write(&config, guest_config("user:default/before")).unwrap();
    let (_server, base_url) = start(dir.path(), &config).await;
    assert_eq!(guest_user(&base_url).await, "user:default/before");

    std::fs::write(&config, guest_config("user:default/after")).unwrap();
    eventually("the edit in force", || async {
        guest_user(&base_url).await == "user:default/after"
    })
    .await;
    assert_eq!(reload_outcomes(dir.path()), ["success"]);

    // A broken value, then broken YAML: each refused once, the configuration in force stays.
    std::fs::write(&config, guest_config("not-a-ref")).unwrap();
    eventually("the broken value refused", || async {
        reload_outcomes(dir.path()).len() == 2
    })
    .await;
    std::fs::write(&config, "auth: [\n").unwrap();
    eventually("the broken YAML refused", || async {
        reload_outcomes(dir.path()).len() == 3
    })
    .await;
    assert_eq!(
        reload_outcomes(dir.path()),
        ["success", "failure", "failure"]
    );
    assert_eq!(guest_user(&base_url).await, "user:default/after");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        reload_outcomes(dir.path()).len(),
        3,
        "a refused file is not retried until it changes"
    );
    let log = std::fs::read_to_string(dir.path().join("stagedoor.log")).unwrap();
    assert!(
        log.contains("a config file changed: reloading the configuration"),
        "{log}"
    );
    assert!(
        log.contains("not-a-ref"),
        "the refusal names the value: {log}"
    );
}

/// The kubelet's AtomicWriter: the files in `..<version>/`, `..data` pointing at it, and each
/// file a symlink through `..data`.
fn write_configmap(volume: &Path, version: &str, yaml: &str) {
    let data = volume.join(format!("..{version}"));
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("app-config.yaml"), yaml).unwrap();
    let previous = std::fs::read_link(volume.join("..data")).ok();
    symlink(format!("..{version}"), volume.join("..data_tmp")).unwrap();
    std::fs::rename(volume.join("..data_tmp"), volume.join("..data")).unwrap();
    if !volume.join("app-config.yaml").exists() {
        symlink("..data/app-config.yaml", volume.join("app-config.yaml")).unwrap();
    }
    if let Some(previous) = previous {
        std::fs::remove_dir_all(volume.join(previous)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configmap_update_by_symlink_swap_is_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let volume = dir.path().join("etc-stagedoor");
    std::fs::create_dir(&volume).unwrap();
    write_configmap(
        &volume,
        "2026_01_01_00_00_00.1",
        &guest_config("user:default/v1"),
    );
    let (_server, base_url) = start(dir.path(), &volume.join("app-config.yaml")).await;
    assert_eq!(guest_user(&base_url).await, "user:default/v1");

    write_configmap(
        &volume,
        "2026_01_01_00_01_00.2",
        &guest_config("user:default/v2"),
    );
    eventually("the swapped ConfigMap in force", || async {
        guest_user(&base_url).await == "user:default/v2"
    })
    .await;
    assert_eq!(reload_outcomes(dir.path()), ["success"]);
}
