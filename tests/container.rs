//! The container image, really built (buildah or podman, from the Dockerfile, no base image),
//! inspected, exported, and run from its root filesystem as a runtime runs it: user 65532, a
//! read-only root, only the mounted config, names resolved by the static binary on its own
//! (no libc, no NSS modules in the image), a guest sign-in, SIGTERM → exit 0.
//! Skipped, with the reason, where neither engine is installed (CI installs buildah).

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::dns::DnsServer;
use common::image::{self, Container, Image, Mounts};
use common::node::free_port;

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
        "image: {:.1} MB of layers, {:.1} MB unpacked, built in {:.1} s",
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

/// A TCP server on 127.0.0.1 that records the first bytes of each connection and answers
/// HTTP 404: a catalog or IdP that shows whether (and by which name) it was reached.
fn recorder() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buffer = [0u8; 4096];
            let length = stream.read(&mut buffer).unwrap_or(0);
            log.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buffer[..length]).into_owned());
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    (port, seen)
}

/// What Docker and Kubernetes write into a container's /etc/hosts, plus one host alias.
const HOSTS: &str =
    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n127.0.0.1\tcatalog.hosts.test\n";

/// A Pod's resolv.conf (search list, ndots:5) with `dns` as the cluster's resolver.
fn resolv_conf(dns: &DnsServer) -> String {
    format!(
        "search stagedoor.svc.cluster.local svc.cluster.local cluster.local\nnameserver {}\noptions ndots:5 timeout:1 attempts:2\n",
        dns.address
    )
}

/// The files a runtime would mount: config dir (read-only, as a ConfigMap), hosts,
/// resolv.conf, and the data volume owned by 65532.
struct Host {
    dir: tempfile::TempDir,
}

impl Host {
    fn new(config: &str, resolv_conf: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        std::fs::create_dir_all(path("config")).unwrap();
        std::fs::create_dir_all(path("data")).unwrap();
        std::fs::write(path("config/app-config.yaml"), config).unwrap();
        std::fs::set_permissions(
            path("config/app-config.yaml"),
            PermissionsExt::from_mode(0o444),
        )
        .unwrap();
        std::fs::write(path("hosts"), HOSTS).unwrap();
        std::fs::write(path("resolv.conf"), resolv_conf).unwrap();
        std::os::unix::fs::chown(path("data"), Some(65532), Some(65532)).unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn command(
        &self,
        container: &Container,
        image: &Image,
        args: &[String],
        env: &[(&str, &str)],
    ) -> Command {
        let (config_dir, hosts, resolv_conf, data) = (
            self.path("config"),
            self.path("hosts"),
            self.path("resolv.conf"),
            self.path("data"),
        );
        let mounts = Mounts {
            config_dir: &config_dir,
            hosts: &hosts,
            resolv_conf: &resolv_conf,
            data: &data,
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        container.command(image, &mounts, &args, env)
    }
}

/// A field of /proc/<pid>/status, e.g. `Uid`.
fn status_field(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let prefix = format!("{field}:");
    status
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The mount options of `mount_point` as the process sees it.
fn mount_options(pid: u32, mount_point: &str) -> String {
    let mounts = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    mounts
        .lines()
        .rev()
        .map(|line| line.split(' ').collect::<Vec<_>>())
        .find(|fields| fields[4] == mount_point)
        .map(|fields| fields[5].to_owned())
        .unwrap_or_else(|| panic!("{mount_point} not mounted:\n{mounts}"))
}

async fn wait_ready(child: &mut Child, port: u16) {
    let client = common::client();
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
            let child = std::mem::replace(child, Command::new("true").spawn().unwrap());
            let output = child.wait_with_output().unwrap();
            panic!(
                "not ready (exited: {exited}): {:?}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
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
        "app:\n  baseUrl: http://localhost:3000\nbackend:\n  baseUrl: http://localhost:{port}\nauth:\n  providers:\n    guest:\n      userEntityRef: ${{GUEST_USER}}\n      dangerouslyAllowOutsideDevelopment: true\nstagedoor:\n  listen: {{ port: {port} }}\n  catalog: {{ baseUrl: 'http://catalog.hosts.test:{catalog}/api/catalog' }}\n"
    );
    let host = Host::new(&config, &resolv_conf(&dns));
    let container = Container::new(image);
    let mut child = host
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
    wait_ready(&mut child, port).await;

    let session =
        common::get_json(&format!("http://127.0.0.1:{port}/api/auth/guest/refresh")).await;
    assert_eq!(
        session["backstageIdentity"]["identity"]["userEntityRef"], "user:default/container",
        "the secret-style ${{VAR}} came from the environment"
    );
    let asked = catalog_requests.lock().unwrap().clone();
    assert!(
        asked.iter().any(|request| request.contains(&format!("\r\nhost: catalog.hosts.test:{catalog}\r\n"))),
        "the catalog, found through /etc/hosts (DNS says NXDOMAIN), was asked: {asked:?}"
    );

    let pid = child.id();
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
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stopping.elapsed() < Duration::from_secs(10));
}

#[test]
fn the_static_binary_resolves_names_without_libc_files() {
    let Some(image) = image::built() else { return };
    let dns = DnsServer::start(&[("db.dns.test", Ipv4Addr::LOCALHOST)])
        .expect("a DNS server on port 53 (root)");
    let (idp, idp_requests) = recorder();
    let (database, database_connections) = recorder();
    let config = format!(
        "app:\n  baseUrl: http://localhost:3000\nbackend:\n  baseUrl: http://localhost:7007\nauth:\n  environment: production\n  providers:\n    oidc:\n      production:\n        metadataUrl: http://localhost:{idp}/.well-known/openid-configuration\n        clientId: stagedoor\n        clientSecret: ${{AUTH_OIDC_CLIENT_SECRET}}\nstagedoor:\n  database: postgres://stagedoor:${{PGPASSWORD}}@db.dns.test:{database}/stagedoor\n"
    );
    let host = Host::new(&config, &resolv_conf(&dns));
    let container = Container::new(image);
    let args = [
        "/usr/local/bin/stagedoor",
        "doctor",
        "--config",
        "/etc/stagedoor/app-config.yaml",
    ]
    .map(str::to_owned);
    let env = [
        ("AUTH_OIDC_CLIENT_SECRET", "s3cret-for-the-test"),
        ("PGPASSWORD", "s3cret"),
    ];
    let output = host
        .command(&container, image, &args, &env)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);

    assert!(
        idp_requests.lock().unwrap().iter().any(|request| request
            .starts_with("GET /.well-known/openid-configuration ")
            && request.contains(&format!("\r\nhost: localhost:{idp}\r\n"))),
        "the IdP at localhost was asked (reqwest, /etc/hosts):\n{report}"
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
