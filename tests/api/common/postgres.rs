//! A throwaway PostgreSQL cluster per test: `initdb` in a temporary directory, a free port on
//! loopback, password authentication over TCP. Stopped (and deleted) when dropped; can be
//! stopped and started again mid-test. Needs Debian's `postgresql` package (`.ci/run`
//! installs it) or `STAGEDOOR_PG_BIN` pointing at a directory with `initdb` and `pg_ctl`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::node::free_port;

pub const USER: &str = "stagedoor";
pub const PASSWORD: &str = "pg-test-password-4b1d";

pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
}

fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("STAGEDOOR_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path().join("bin"))
                .filter(|bin| bin.join("initdb").is_file())
                .collect()
        })
        .unwrap_or_default();
    candidates.sort_by_key(|path| {
        path.parent()
            .and_then(Path::file_name)
            .and_then(|name| name.to_str())
            .and_then(|name| name.parse::<u32>().ok())
            .unwrap_or(0)
    });
    candidates.pop().expect(
        "PostgreSQL is not installed: apt-get install postgresql (.ci/run does), or set STAGEDOOR_PG_BIN",
    )
}

fn is_root() -> bool {
    // initdb and postgres refuse to run as root: run them as the `postgres` user instead.
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Postgres {
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("stagedoor-pg-")
            .tempdir()
            .unwrap();
        let pg = Self {
            bin: bin_dir(),
            port: free_port(),
            dir,
        };
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(pg.dir.path())
                .status()
                .unwrap();
            assert!(status.success(), "chown the cluster directory to postgres");
        }
        let password_file = pg.dir.path().join("password");
        std::fs::write(&password_file, PASSWORD).unwrap();
        pg.run(
            "initdb",
            &[
                "-D",
                &pg.data_dir(),
                "-U",
                USER,
                "--pwfile",
                password_file.to_str().unwrap(),
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        );
        pg.start_server();
        pg
    }

    fn data_dir(&self) -> String {
        self.dir.path().join("data").to_string_lossy().into_owned()
    }

    fn command(&self, program: &str) -> Command {
        let executable = self.bin.join(program);
        if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(executable);
            command
        } else {
            Command::new(executable)
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let output = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
        assert!(
            output.status.success(),
            "{program} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Starts the server (again) on the same port and data; returns once it accepts
    /// connections.
    pub fn start_server(&self) {
        let socket_dir = self.dir.path().to_string_lossy().into_owned();
        let server_options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={socket_dir} \
             -c max_connections=200 -c fsync=off -c full_page_writes=off",
            self.port
        );
        let log = self.dir.path().join("server.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data_dir(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &server_options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    /// Stops the server at once, as a crash or a failover would (in-flight connections die).
    pub fn stop_server(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.data_dir(), "-m", "immediate", "-w", "stop"],
        );
    }

    /// A URL for `database` with the password written out.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{USER}:{PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// The same URL with the password as `${PGTEST_PASSWORD}`, for configs.
    pub fn url_with_password_variable(&self, database: &str) -> String {
        format!(
            "postgres://{USER}:${{PGTEST_PASSWORD}}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// Runs SQL with psql-free means: a one-off sqlx connection.
    pub async fn execute(&self, database: &str, sql: &str) {
        use sqlx::Connection;
        let mut connection = sqlx::PgConnection::connect(&self.url(database))
            .await
            .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut connection)
            .await
            .unwrap();
        connection.close().await.unwrap();
    }

    pub async fn query_i64(&self, database: &str, sql: &str) -> i64 {
        use sqlx::Connection;
        let mut connection = sqlx::PgConnection::connect(&self.url(database))
            .await
            .unwrap();
        let value: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&mut connection)
            .await
            .unwrap();
        connection.close().await.unwrap();
        value
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-D", &self.data_dir(), "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
