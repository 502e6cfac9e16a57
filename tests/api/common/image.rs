//! The container image, built for real from the Dockerfile with buildah (or podman) in a
//! throwaway store, exported as an OCI layout and unpacked, and a way to run a command from
//! its root filesystem as a container runtime would (no runtime can run here: the sandbox
//! refuses `setrlimit`): a private mount namespace, the root read-only, the config, hosts and
//! resolv.conf mounted read-only, a writable volume on the data directory, the image's
//! working directory, uid and gid 65532 without supplementary groups or capabilities.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::manifest_dir;

pub const TAG: &str = "localhost/stagedoor:container-test";

pub struct Image {
    /// buildah or podman.
    pub engine: String,
    /// The OCI image configuration's `config` (User, Entrypoint, Cmd, ExposedPorts, ...).
    pub config: serde_json::Value,
    /// The layers as the engine exports them.
    pub layer_bytes: u64,
    /// The unpacked root filesystem, shared by the tests: never write into it.
    pub rootfs: PathBuf,
    /// Staging the binary and context (cargo) and building the image.
    pub build_time: Duration,
}

/// The image, built once per test process; `None` (with the reason on stderr) where no engine
/// is installed or not running as root. Under CI a missing engine fails instead.
pub fn built() -> Option<&'static Image> {
    static IMAGE: OnceLock<Option<Image>> = OnceLock::new();
    IMAGE.get_or_init(build).as_ref()
}

fn skip(why: &str) -> Option<Image> {
    assert!(std::env::var_os("CI").is_none(), "CI must run this: {why}");
    eprintln!("skipped: {why}");
    None
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Runs a command to completion, failing the test with its output otherwise.
pub fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{command:?}: {error}"));
    assert!(
        output.status.success(),
        "{command:?}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn build() -> Option<Image> {
    // STAGEDOOR_TEST_ENGINE=podman tries podman where both are installed.
    let preferred = std::env::var("STAGEDOOR_TEST_ENGINE").unwrap_or_default();
    let engines = [preferred.as_str(), "buildah", "podman"];
    let Some(engine) = engines.into_iter().find(|e| !e.is_empty() && installed(e)) else {
        return skip("neither buildah nor podman is installed (apt-get install buildah)");
    };
    if !is_root() {
        return skip("building and running the image's root filesystem needs root");
    }
    let started = Instant::now();
    let root = manifest_dir();
    // Without the variables `cargo test` sets for this test: build scripts (ring's) rerun when
    // they change, which would rebuild the release binary between test and shell runs.
    let mut stage = Command::new(root.join("scripts/image.sh"));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_BIN_",
            "CARGO_CRATE_",
            "CARGO_PRIMARY_",
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix))
        {
            stage.env_remove(&*name);
        }
    }
    run(stage.current_dir(&root));
    let work = root.join("target/container-test");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let storage = [
        "--root",
        &path(&work.join("storage")),
        "--runroot",
        &path(&work.join("run")),
        "--storage-driver",
        "vfs",
    ]
    .map(str::to_owned);
    let build = if engine == "buildah" { "bud" } else { "build" };
    run(Command::new(engine)
        .args(&storage)
        .args([
            build,
            "--isolation",
            "chroot",
            "-t",
            TAG,
            "-f",
            "Dockerfile",
        ])
        .arg(root.join("target/image")));
    let build_time = started.elapsed();
    let layout = work.join("oci");
    run(Command::new(engine).args(&storage).args([
        "push",
        TAG,
        &format!("oci:{}:test", path(&layout)),
    ]));
    let _ = std::fs::remove_dir_all(work.join("storage"));
    let (config, layers) = read_layout(&layout);
    let rootfs = work.join("rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    let mut layer_bytes = 0;
    for layer in layers {
        layer_bytes += std::fs::metadata(&layer).unwrap().len();
        run(Command::new("tar")
            .args(["--same-owner", "--same-permissions", "-xf"])
            .arg(&layer)
            .arg("-C")
            .arg(&rootfs));
    }
    Some(Image {
        engine: engine.to_owned(),
        config,
        layer_bytes,
        rootfs,
        build_time,
    })
}

fn path(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

fn blob(layout: &Path, digest: &serde_json::Value) -> PathBuf {
    let digest = digest.as_str().unwrap();
    let (algorithm, hex) = digest.split_once(':').unwrap();
    layout.join("blobs").join(algorithm).join(hex)
}

fn json(file: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap()
}

/// The image configuration's `config` and the layer files, bottom first.
fn read_layout(layout: &Path) -> (serde_json::Value, Vec<PathBuf>) {
    let index = json(&layout.join("index.json"));
    let manifest = json(&blob(layout, &index["manifests"][0]["digest"]));
    let config = json(&blob(layout, &manifest["config"]["digest"]));
    let layers = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|layer| blob(layout, &layer["digest"]))
        .collect();
    (config["config"].clone(), layers)
}
