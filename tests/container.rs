//! The container image. No container engine runs here, so these tests check the Dockerfile's
//! promises and run the binary the way the image runs it: as user 65532 with no home, the
//! config mounted read-only under /etc-like path, secrets from the environment, the SQLite
//! file in the working directory, listening on all interfaces, stopped with SIGTERM.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::node::free_port;

fn dockerfile() -> String {
    std::fs::read_to_string(common::manifest_dir().join("Dockerfile")).unwrap()
}

/// The instructions of the final stage.
fn runtime_stage(dockerfile: &str) -> Vec<String> {
    let lines: Vec<String> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect();
    let last_from = lines
        .iter()
        .rposition(|line| line.starts_with("FROM "))
        .unwrap();
    lines[last_from..].to_vec()
}

#[test]
fn the_dockerfile_builds_a_small_static_non_root_image() {
    let dockerfile = dockerfile();
    let stages = dockerfile
        .lines()
        .filter(|line| line.starts_with("FROM "))
        .count();
    assert_eq!(stages, 2, "multi-stage: build, then runtime");
    assert!(dockerfile.contains("cargo build --release --locked"));
    let runtime = runtime_stage(&dockerfile);
    assert!(
        runtime[0].starts_with("FROM gcr.io/distroless/static-debian12:nonroot"),
        "a static base of about 2 MB, no shell: {}",
        runtime[0]
    );
    let user = runtime
        .iter()
        .find_map(|line| line.strip_prefix("USER "))
        .expect("a USER");
    assert!(
        !user.starts_with('0') && !user.starts_with("root"),
        "{user}"
    );
    assert!(runtime.contains(&"EXPOSE 7007".to_owned()));
    assert!(runtime.contains(&r#"ENTRYPOINT ["/usr/local/bin/stagedoor"]"#.to_owned()));
    assert!(
        runtime
            .contains(&r#"CMD ["serve", "--config", "/etc/stagedoor/app-config.yaml"]"#.to_owned())
    );
    assert!(runtime.contains(&"WORKDIR /var/lib/stagedoor".to_owned()));
    let ignored = std::fs::read_to_string(common::manifest_dir().join(".dockerignore")).unwrap();
    assert!(
        ignored.lines().any(|line| line == "target"),
        "no build output in the context"
    );
    // The binary the image carries is built without debug info and stripped.
    let cargo = std::fs::read_to_string(common::manifest_dir().join("Cargo.toml")).unwrap();
    assert!(cargo.contains("strip = true"));
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

#[tokio::test]
async fn the_binary_runs_as_the_image_runs_it() {
    let root = tempfile::tempdir().unwrap();
    let etc = root.path().join("etc/stagedoor");
    let data = root.path().join("var/lib/stagedoor");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::create_dir_all(&data).unwrap();
    let port = free_port();
    let config = etc.join("app-config.yaml");
    std::fs::write(
        &config,
        format!(
            "app:\n  baseUrl: http://localhost:3000\nbackend:\n  baseUrl: http://localhost:{port}\nauth:\n  providers:\n    guest:\n      userEntityRef: ${{GUEST_USER}}\n      dangerouslyAllowOutsideDevelopment: true\nstagedoor:\n  listen: {{ port: {port} }}\n  catalog: {{ baseUrl: 'http://127.0.0.1:1/api/catalog' }}\n"
        ),
    )
    .unwrap();
    // Mounted read-only, as `-v ...:ro` does.
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut command = if is_root() {
        // The image's user: uid and gid 65532, owning only its data directory.
        for dir in [
            root.path().join("var"),
            root.path().join("var/lib"),
            data.clone(),
        ] {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let status = Command::new("chown")
            .args(["65532:65532"])
            .arg(&data)
            .status()
            .unwrap();
        assert!(status.success());
        let mut command = Command::new("setpriv");
        command.args(["--reuid=65532", "--regid=65532", "--clear-groups", "--"]);
        command.arg(env!("CARGO_BIN_EXE_stagedoor"));
        command
    } else {
        Command::new(env!("CARGO_BIN_EXE_stagedoor"))
    };
    let mut child = command
        .args(["serve", "--config"])
        .arg(&config)
        .current_dir(&data)
        .env_clear()
        .env("GUEST_USER", "user:default/container")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let client = common::client();
    let started = Instant::now();
    loop {
        let ready = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .is_ok_and(|response| response.status() == 200);
        if ready {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the binary exited: {:?}",
            child.wait_with_output().unwrap()
        );
        assert!(started.elapsed() < Duration::from_secs(20), "not ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let session: serde_json::Value =
        common::get_json(&format!("http://127.0.0.1:{port}/api/auth/guest/refresh")).await;
    assert_eq!(
        session["backstageIdentity"]["identity"]["userEntityRef"], "user:default/container",
        "the secret-style ${{VAR}} came from the environment"
    );
    let database = data.join("stagedoor.sqlite");
    assert!(
        database.is_file(),
        "the SQLite file lives in the working directory"
    );
    if is_root() {
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&database).unwrap().uid(), 65532);
    }

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
