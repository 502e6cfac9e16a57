//! The container image, really built (buildah or podman, from the Dockerfile, no base image),
//! inspected, exported, and run from its root filesystem as a runtime runs it: user 65532, a
//! read-only root, only the mounted config, names resolved by the static binary on its own
//! (no libc, no NSS modules in the image), a guest sign-in, SIGTERM → exit 0.
//! Skipped, with the reason, where neither engine is installed (CI installs buildah).

use std::collections::BTreeSet;
use std::io::Read;
use std::net::Ipv4Addr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::dns::DnsServer;
use crate::common::image::{self, Image};
use crate::common::node::free_port;
use crate::common::runtime::{Container, Host, mount_options, recorder, resolv_conf, status_field};

const MB: u64 = 1_000_000;

/// The image's Entrypoint followed by its Cmd: what `docker run stagedoor` runs.
fn default_command(image: &Image) -> Vec<String> {
    ["Entrypoint", "Cmd"]
        .iter()
        .flat_map(|key| image.config[key].as_array().unwrap().clone())
        .map(|word| word.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_image_holds_one_static_binary_and_runs_as_65532() {
    let Some(image) = image::built() else { return };
    let config = &image.config;
    assert_eq!(config["User"], "65532:65532");
    assert_eq!(config["WorkingDir"], "/var/lib/stagedoor");
    assert_eq!(config["ExposedPorts"], serde_json::json!({"7007/tcp": {}}));
    assert_eq!(
        default_command(image),
        [
            "/usr/local/bin/stagedoor",
            "serve",
            "--config",
            "/etc/stagedoor/app-config.yaml"
        ]
    );

    // Everything in it: no shell, no package manager, no libc, nothing else.
    let mut files = BTreeSet::new();
    let mut unpacked = 0;
    walk(&image.rootfs, &image.rootfs, &mut |relative, metadata| {
        files.insert(relative.to_owned());
        unpacked += metadata.len();
        let owner = (metadata.uid(), metadata.gid());
        let expected = if relative == "var/lib/stagedoor" {
            (65532, 65532)
        } else {
            (0, 0)
        };
        assert_eq!(owner, expected, "owner of /{relative}");
        assert_eq!(metadata.mode() & 0o002, 0, "/{relative} is world-writable");
    });
    let expected: BTreeSet<String> = [
        "etc",
        "etc/group",
        "etc/nsswitch.conf",
        "etc/passwd",
        "etc/ssl",
        "etc/ssl/certs",
        "etc/ssl/certs/ca-certificates.crt",
        "usr",
        "usr/local",
        "usr/local/bin",
        "usr/local/bin/stagedoor",
        "var",
        "var/lib",
        "var/lib/stagedoor",
    ]
    .map(str::to_owned)
    .into();
    assert_eq!(files, expected);
    for absent in ["bin/sh", "usr/bin/apt", "usr/bin/dpkg", "sbin/apk", "lib"] {
        assert!(!image.rootfs.join(absent).exists(), "/{absent}");
    }
    let binary = std::fs::read(image.rootfs.join("usr/local/bin/stagedoor")).unwrap();
    assert!(
        !has_interpreter(&binary),
        "the binary is dynamically linked"
    );
    let read = |file: &str| std::fs::read_to_string(image.rootfs.join(file)).unwrap();
    assert!(read("etc/passwd").contains("\nstagedoor:x:65532:65532:"));
    assert!(read("etc/group").contains("\nstagedoor:x:65532:"));
    assert!(read("etc/nsswitch.conf").contains("\nhosts: files dns\n"));
    assert!(read("etc/ssl/certs/ca-certificates.crt").contains("BEGIN CERTIFICATE"));

    eprintln!(
        "image ({}): {:.1} MB of layers, {:.1} MB unpacked, built in {:.1} s",
        image.engine,
        image.layer_bytes as f64 / MB as f64,
        unpacked as f64 / MB as f64,
        image.build_time.as_secs_f64()
    );
    assert!(image.layer_bytes <= 30 * MB && unpacked <= 30 * MB);
}

fn walk(root: &Path, dir: &Path, visit: &mut dyn FnMut(&str, &std::fs::Metadata)) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let metadata = std::fs::symlink_metadata(&path).unwrap();
        visit(
            path.strip_prefix(root).unwrap().to_str().unwrap(),
            &metadata,
        );
        if metadata.is_dir() {
            walk(root, &path, visit);
        }
    }
}

/// Whether an ELF64 executable names a dynamic loader (a `PT_INTERP` program header).
fn has_interpreter(elf: &[u8]) -> bool {
    assert_eq!(&elf[..5], b"\x7fELF\x02", "an ELF64 file");
    let u16_at = |at: usize| usize::from(u16::from_le_bytes([elf[at], elf[at + 1]]));
    let offset = usize::try_from(u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap())).unwrap();
    let (size, count) = (u16_at(0x36), u16_at(0x38));
    (0..count).any(|index| {
        let header = offset + index * size;
        u32::from_le_bytes(elf[header..header + 4].try_into().unwrap()) == 3
    })
}

/// The containerised server, killed if the test fails before it is stopped.
struct Server(Option<Child>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn wait_ready(child: &mut Child, port: u16) {
    let client = crate::common::client();
    let started = Instant::now();
    loop {
        let ready = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .is_ok_and(|response| response.status() == 200);
        if ready {
            return;
        }
        let exited = child.try_wait().unwrap().is_some();
        if exited || started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let status = child.wait().unwrap();
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            panic!("not ready (exited by itself: {exited}): {status:?}\n{stderr}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_image_signs_in_read_only_as_65532_and_stops_on_sigterm() {
    let Some(image) = image::built() else { return };
    let dns = DnsServer::start(&[]).expect("a DNS server on port 53 (root)");
    let (catalog, catalog_requests) = recorder();
    let port = free_port();
    let config = format!(
        "app:\n  baseUrl: http://localhost:3000\nbackend:\n  baseUrl: http://localhost:{port}\nauth:\n  providers:\n    guest:\n      userEntityRef: ${{GUEST_USER}}\n      dangerouslyAllowOutsideDevelopment: true\nstagedoor:\n  listen: {{ port: {port} }}\n  catalog: {{ baseUrl: 'http://catalog.hosts.test:{catalog}/api/catalog' }}\n  shutdown: {{ drainPeriod: 1s }}\n"
    );
    let host = Host::new(&config, &resolv_conf(&dns));
    let container = Container::new(image);
    let child = host
        .command(
            &container,
            image,
            &default_command(image),
            &[("GUEST_USER", "user:default/container")],
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Server(Some(child));
    wait_ready(server.0.as_mut().unwrap(), port).await;

    let session =
        crate::common::get_json(&format!("http://127.0.0.1:{port}/api/auth/guest/refresh")).await;
    assert_eq!(
        session["backstageIdentity"]["identity"]["userEntityRef"], "user:default/container",
        "the secret-style ${{VAR}} came from the environment"
    );
    let asked = catalog_requests.lock().unwrap().clone();
    assert!(
        asked.iter().any(|request| request.contains(&format!("\r\nhost: catalog.hosts.test:{catalog}\r\n"))),
        "the catalog, found through /etc/hosts (DNS says NXDOMAIN), was asked: {asked:?}"
    );

    let pid = server.0.as_ref().unwrap().id();
    assert_eq!(status_field(pid, "Uid"), "65532 65532 65532 65532");
    assert_eq!(status_field(pid, "Gid"), "65532 65532 65532 65532");
    assert_eq!(status_field(pid, "Groups"), "");
    assert_eq!(status_field(pid, "CapEff"), "0000000000000000");
    assert!(
        mount_options(pid, "/").starts_with("ro"),
        "a read-only root"
    );
    assert!(mount_options(pid, "/etc/stagedoor").starts_with("ro"));
    assert!(mount_options(pid, "/var/lib/stagedoor").starts_with("rw"));
    let database = host.path("data/stagedoor.sqlite");
    assert_eq!(
        std::fs::metadata(&database).map(|m| m.uid()).ok(),
        Some(65532),
        "the default SQLite file, in the image's working directory, written by 65532"
    );

    let stopping = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = server.0.take().unwrap().wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stopping.elapsed() < Duration::from_secs(10));
}

// Two threads: the test blocks on the doctor process while the https IdP answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_static_binary_resolves_names_and_trusts_the_ca_bundle() {
    let Some(image) = image::built() else { return };
    let dns = DnsServer::start(&[("db.dns.test", Ipv4Addr::LOCALHOST)])
        .expect("a DNS server on port 53 (root)");
    let dir = tempfile::tempdir().unwrap();
    let (discovery, ca) = crate::common::tls::tls_idp(200, dir.path(), "localhost").await;
    let (database, database_connections) = recorder();
    let config = format!(
        "app:\n  baseUrl: http://localhost:3000\nbackend:\n  baseUrl: http://localhost:7007\nauth:\n  environment: production\n  providers:\n    oidc:\n      production:\n        metadataUrl: {discovery}\n        clientId: stagedoor\n        clientSecret: ${{AUTH_OIDC_CLIENT_SECRET}}\nstagedoor:\n  database: postgres://stagedoor:${{PGPASSWORD}}@db.dns.test:{database}/stagedoor\n"
    );
    let host = Host::new(&config, &resolv_conf(&dns));
    let container = Container::new(image);
    // The image's CA bundle, with the test CA added, as an image built on a machine trusting it.
    let bundle = container
        .root
        .path()
        .join("etc/ssl/certs/ca-certificates.crt");
    let mut certificates = std::fs::read_to_string(&bundle).unwrap();
    certificates.push_str(&std::fs::read_to_string(ca).unwrap());
    std::fs::write(&bundle, certificates).unwrap();
    let args = [
        "/usr/local/bin/stagedoor",
        "doctor",
        "--config",
        "/etc/stagedoor/app-config.yaml",
    ];
    let env = [
        ("AUTH_OIDC_CLIENT_SECRET", "s3cret-for-the-test"),
        ("PGPASSWORD", "s3cret"),
    ];
    let args = args.map(str::to_owned);
    let output = host
        .command(&container, image, &args, &env)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);

    assert!(
        report.contains("the TLS certificate of localhost is valid for 200 more days"),
        "the IdP at localhost (reqwest, /etc/hosts) answered over TLS, trusted through\n\
         /etc/ssl/certs/ca-certificates.crt:\n{report}"
    );
    assert!(
        !database_connections.lock().unwrap().is_empty(),
        "PostgreSQL at db.dns.test was reached (sqlx, DNS through the Pod's search list):\n{report}"
    );
    let asked = dns.asked.lock().unwrap().clone();
    assert!(
        asked.contains(&"db.dns.test.stagedoor.svc.cluster.local".to_owned()),
        "{asked:?}"
    );
    assert!(asked.contains(&"db.dns.test".to_owned()), "{asked:?}");
    assert!(
        !report.contains("lookup") && !report.contains("resolution"),
        "{report}"
    );
}
