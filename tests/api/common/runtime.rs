//! Running a command from the image's root filesystem as a container runtime would (no
//! runtime can run here: the sandbox refuses `setrlimit`): a private mount namespace, the root
//! read-only, the config, hosts and resolv.conf mounted read-only, a writable volume on the
//! data directory, the image's working directory, uid and gid 65532 without supplementary
//! groups or capabilities. And the stubs and probes the container tests use around it.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::dns::DnsServer;
use super::image::{Image, run};

/// What a container runtime puts around the image: each path is mounted read-only over the
/// image, except `data`, a writable volume (like an `emptyDir`) on the working directory.
pub struct Mounts<'a> {
    pub config_dir: &'a Path,
    pub hosts: &'a Path,
    pub resolv_conf: &'a Path,
    pub data: &'a Path,
}

const RUNTIME: &str = r#"set -eu
root=$1 config=$2 hosts=$3 resolv=$4 data=$5
shift 5
ro() { mount --bind "$1" "$2" && mount -o remount,bind,ro "$2"; }
mount --bind "$root" "$root"
ro "$config" "$root/etc/stagedoor"
ro "$hosts" "$root/etc/hosts"
ro "$resolv" "$root/etc/resolv.conf"
mount --bind "$data" "$root/var/lib/stagedoor"
mount -o remount,bind,ro "$root"
exec nsenter --root="$root" --wd="$root/var/lib/stagedoor" --setuid 65532 --setgid 65532 -- "$@"
"#;

/// A container of the image: a private copy of its root filesystem (with the mount points a
/// runtime creates) and the command that runs `args` in it with only the image's environment
/// plus `env`.
pub struct Container {
    pub root: tempfile::TempDir,
}

impl Container {
    pub fn new(image: &Image) -> Self {
        let root = tempfile::tempdir().unwrap();
        run(Command::new("cp")
            .arg("-a")
            .arg(image.rootfs.join("."))
            .arg(root.path()));
        std::fs::create_dir_all(root.path().join("etc/stagedoor")).unwrap();
        for file in ["etc/hosts", "etc/resolv.conf"] {
            std::fs::write(root.path().join(file), "").unwrap();
        }
        Self { root }
    }

    pub fn command(
        &self,
        image: &Image,
        mounts: &Mounts,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Command {
        let mut command = Command::new("unshare");
        command
            .args([
                "--mount",
                "--propagation",
                "private",
                "--",
                "sh",
                "-c",
                RUNTIME,
                "sh",
            ])
            .arg(self.root.path())
            .args([
                mounts.config_dir,
                mounts.hosts,
                mounts.resolv_conf,
                mounts.data,
            ])
            .args(args)
            .env_clear();
        for pair in image.config["Env"].as_array().into_iter().flatten() {
            if let Some((name, value)) = pair.as_str().and_then(|pair| pair.split_once('=')) {
                command.env(name, value);
            }
        }
        command.envs(env.iter().copied());
        command
    }
}

/// A TCP server on 127.0.0.1 that records the first bytes of each connection and answers
/// HTTP 404: a catalog or IdP that shows whether (and by which name) it was reached.
pub fn recorder() -> (u16, Arc<Mutex<Vec<String>>>) {
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
pub const HOSTS: &str =
    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n127.0.0.1\tcatalog.hosts.test\n";

/// A Pod's resolv.conf (search list, ndots:5) with `dns` as the cluster's resolver.
pub fn resolv_conf(dns: &DnsServer) -> String {
    format!(
        "search stagedoor.svc.cluster.local svc.cluster.local cluster.local\nnameserver {}\noptions ndots:5 timeout:1 attempts:2\n",
        dns.address
    )
}

/// The files a runtime would mount: config dir (read-only, as a ConfigMap), hosts,
/// resolv.conf, and the data volume owned by 65532.
pub struct Host {
    dir: tempfile::TempDir,
}

impl Host {
    pub fn new(config: &str, resolv_conf: &str) -> Self {
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

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn command(
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
pub fn status_field(pid: u32, field: &str) -> String {
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
pub fn mount_options(pid: u32, mount_point: &str) -> String {
    let mounts = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    mounts
        .lines()
        .rev()
        .map(|line| line.split(' ').collect::<Vec<_>>())
        .find(|fields| fields[4] == mount_point)
        .map(|fields| fields[5].to_owned())
        .unwrap_or_else(|| panic!("{mount_point} not mounted:\n{mounts}"))
}
