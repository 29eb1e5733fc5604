//! Builders shared by the end-to-end tests: a data directory per test, source files, and the
//! `euno-host` binary run as a user would run it.

use std::path::{Path, PathBuf};
use std::process::Command;

use hex_sim::{Faults, SimConfig, SimHandle, Workspace};
use serde_json::Value;

/// The binary under test.
pub const EUNO_HOST: &str = env!("CARGO_BIN_EXE_euno-host");
/// The misbehaving connector, built by `host/build.rs`.
pub const TEST_GUEST: &str = env!("EUNO_TEST_GUEST_COMPONENT");
/// The token every simulator in these tests accepts.
pub const TOKEN: &str = "hxtp_e2e_secret_token_7f3a";

/// What one `euno-host` invocation did.
#[derive(Debug)]
pub struct Output {
    /// Exit status (`-1` when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Output {
    /// Parses stdout as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

/// One isolated `euno-host` installation: its own data directory and source files, and its
/// inventory: the SQLite file in the data directory, or a PostgreSQL database of its own.
pub struct Host {
    dir: tempfile::TempDir,
    /// `--database`, when the inventory is on PostgreSQL.
    database: Option<String>,
}

impl Host {
    /// A fresh data directory, its inventory the SQLite file in it.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("creating a temporary directory"),
            database: None,
        }
    }

    /// A fresh data directory whose inventory is a new database in the test binary's
    /// PostgreSQL cluster; `None` when the machine has none (the cluster said so, loudly).
    pub fn on_postgres() -> Option<Self> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let cluster = testkit::postgres::PgCluster::shared()?;
        let name = format!(
            "e2e_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let url = cluster.create_database(&name).expect("creating a database");
        Some(Self {
            database: Some(url),
            ..Self::new()
        })
    }

    /// A fresh data directory whose inventory is the PostgreSQL database at `url`.
    pub fn with_database(url: String) -> Self {
        Self {
            database: Some(url),
            ..Self::new()
        }
    }

    /// The PostgreSQL inventory's URL, when it is on PostgreSQL.
    pub fn database_url(&self) -> Option<&str> {
        self.database.as_deref()
    }

    /// `euno-host` on this data directory (and database), not yet started.
    pub fn command(&self) -> Command {
        let mut command = Command::new(EUNO_HOST);
        command
            .arg("--data-dir")
            .arg(self.data_dir())
            .env_remove("EUNO_DATA_DIR")
            .env_remove("EUNO_DATABASE_URL")
            .env("EUNO_LOG", "warn");
        if let Some(url) = &self.database {
            command.arg("--database").arg(url);
        }
        command
    }

    /// Runs `sql` on the inventory behind the binary's back (SQL both backends speak).
    pub fn execute_sql(&self, sql: &str) {
        match &self.database {
            None => rusqlite::Connection::open(self.data_dir().join("inventory.sqlite3"))
                .and_then(|db| db.execute_batch(sql))
                .expect("changing the SQLite inventory"),
            Some(url) => {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime");
                runtime.block_on(async {
                    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                        .await
                        .expect("connecting to the PostgreSQL inventory");
                    tokio::spawn(connection);
                    client
                        .batch_execute(sql)
                        .await
                        .expect("changing the PostgreSQL inventory");
                });
            }
        }
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs `euno-host` with `args` and `env`, on this data directory.
    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = self.command();
        command.args(args);
        for (key, value) in env {
            command.env(key, value);
        }
        let output = command.output().expect("starting euno-host");
        Output {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs `euno-host` with `args`.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with_env(args, &[])
    }

    /// Writes a source file and returns its path.
    pub fn source_file(&self, file_name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(file_name);
        std::fs::write(&path, text).expect("writing a source file");
        path
    }

    /// Writes a file of any content (a component, say) beside the source files.
    pub fn file(&self, file_name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(file_name);
        std::fs::write(&path, bytes).expect("writing a file");
        path
    }

    /// `resources --json`, optionally for one source.
    pub fn resources(&self, source: Option<&str>) -> Vec<Value> {
        let mut args = vec!["resources", "--json"];
        if let Some(source) = source {
            args.extend(["--source", source]);
        }
        let output = self.run(&args);
        assert_eq!(output.code, 0, "{output:#?}");
        output.json().as_array().expect("a JSON array").clone()
    }
}

/// A simulator serving `workspace` with `faults`.
pub fn simulator(workspace: Workspace, faults: Faults) -> SimHandle {
    SimHandle::spawn(SimConfig {
        token: TOKEN.to_owned(),
        workspace,
        faults,
    })
    .expect("starting the Hex API simulator")
}

/// A Hex source file for `sim`, the token in `[secrets]`, with `extra` lines appended to
/// `[settings]`.
pub fn hex_source(name: &str, base_url: &str, extra_settings: &str) -> String {
    format!(
        "name = \"{name}\"\nconnector = \"hex\"\n\n[secrets]\napi_token = \"${{HEX_API_TOKEN}}\"\n\n[settings]\nbase_url = \"{base_url}\"\nrequests_per_minute = 0\n{extra_settings}\n"
    )
}

/// The environment that supplies the token to `${HEX_API_TOKEN}`.
pub fn token_env() -> [(&'static str, &'static str); 1] {
    [("HEX_API_TOKEN", TOKEN)]
}

/// A source running the test guest in `mode`, with extra settings and extra top-level tables.
pub fn test_guest_source(name: &str, mode: &str, settings: &str, tables: &str) -> String {
    component_source(Path::new(TEST_GUEST), name, mode, settings, tables)
}

/// A source running `component` (a copy of the test guest) in `mode`, with extra settings and
/// extra top-level tables.
pub fn component_source(
    component: &Path,
    name: &str,
    mode: &str,
    settings: &str,
    tables: &str,
) -> String {
    format!(
        "name = \"{name}\"\nconnector = \"{}\"\n\n[settings]\nmode = \"{mode}\"\n{settings}\n{tables}\n",
        component.display()
    )
}

/// The `[network]` table granting `urls` (their origins).
pub fn network_allow(urls: &[&str]) -> String {
    let quoted: Vec<String> = urls.iter().map(|u| format!("\"{u}\"")).collect();
    format!("[network]\nallow = [{}]\n", quoted.join(", "))
}

/// `bytes` (a copy of the test guest) with the one occurrence of `find` overwritten by
/// `replacement`, of the same length: a value in its data section the guest keeps for tests.
fn patched(mut bytes: Vec<u8>, find: &[u8], replacement: &[u8]) -> Vec<u8> {
    assert_eq!(find.len(), replacement.len(), "a patch of the same length");
    let found: Vec<usize> = bytes
        .windows(find.len())
        .enumerate()
        .filter(|(_, window)| *window == find)
        .map(|(at, _)| at)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{:?} in the test guest",
        String::from_utf8_lossy(find)
    );
    bytes[found[0]..found[0] + find.len()].copy_from_slice(replacement);
    bytes
}

/// `bytes` (a copy of the test guest) with the text `old` after `marker`, NUL-padded to `padded`
/// bytes, replaced by `new`.
fn marked_patch(bytes: Vec<u8>, marker: &str, old: &str, new: &str, padded: usize) -> Vec<u8> {
    assert!(new.len() <= padded, "at most {padded} bytes: {new}");
    let value = |text: &str| {
        let mut value = marker.as_bytes().to_vec();
        value.extend_from_slice(text.as_bytes());
        value.resize(marker.len() + padded, 0);
        value
    };
    patched(bytes, &value(old), &value(new))
}

/// A copy of the test guest whose `spec()` reports `id` (at most 21 bytes) instead of
/// `test-guest`: an impostor.
pub fn test_guest_reporting(id: &str) -> Vec<u8> {
    let bytes = std::fs::read(TEST_GUEST).expect("reading the test guest");
    marked_patch(bytes, "euno-test-guest-id:", "test-guest", id, 21)
}

/// A copy of the test guest that looks well-behaved about its credential (its bearer is
/// `password`, which its spec marks secret) but whose spec names as its base URL `exfil_url`,
/// defaulting to `http://127.0.0.1:PORT/exfil`: its author's server, played by a loopback stub.
pub fn test_guest_exfiltrating_to(port: u16) -> Vec<u8> {
    let bytes = std::fs::read(TEST_GUEST).expect("reading the test guest");
    let bytes = marked_patch(
        bytes,
        "euno-test-guest-bearer:",
        "api_token",
        "password",
        21,
    );
    patched(
        bytes,
        b"http://127.0.0.1:65000/exfil",
        format!("http://127.0.0.1:{port:05}/exfil").as_bytes(),
    )
}

/// A Hex API at one fixed loopback address whose workspace a test can replace between runs, as
/// when a company's Hex changes between two discoveries. The connector builds the projects' links
/// from the base URL, so keeping the address keeps every unchanged project unchanged.
pub struct ReplaceableSim {
    addr: std::net::SocketAddr,
    /// The simulator serving now (a clone shares its counters).
    simulator: Option<hex_sim::Simulator>,
    server: Option<(
        tokio::sync::oneshot::Sender<()>,
        std::thread::JoinHandle<()>,
    )>,
}

impl ReplaceableSim {
    /// Serves `workspace` with `faults` on a free port.
    pub fn new(workspace: Workspace, faults: Faults) -> Self {
        let mut sim = Self {
            addr: ([127, 0, 0, 1], 0).into(),
            simulator: None,
            server: None,
        };
        sim.replace(workspace, faults);
        sim
    }

    /// The API base URL, `http://127.0.0.1:PORT/api/v1`, the same for the life of this value.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v1", self.addr)
    }

    /// Stops serving the current workspace, and serves `workspace` with `faults` at the same
    /// address. Requests still in flight are cut off: the runs that made them are over.
    pub fn replace(&mut self, workspace: Workspace, faults: Faults) {
        self.stop();
        let simulator = hex_sim::Simulator::new(SimConfig {
            token: TOKEN.to_owned(),
            workspace,
            faults,
        })
        .expect("preparing the Hex API simulator");
        self.simulator = Some(simulator.clone());
        // std sets SO_REUSEADDR on Unix, but the old listener may take a moment to close.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let listener = loop {
            match std::net::TcpListener::bind(self.addr) {
                Ok(listener) => break listener,
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => panic!("binding the simulator to {} again: {e}", self.addr),
            }
        };
        self.addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the simulator");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                tokio::select! {
                    served = simulator.serve(listener, std::future::pending()) => {
                        served.expect("the simulator failed");
                    }
                    _ = stopped => {}
                }
            });
        });
        self.server = Some((stop, thread));
    }

    /// The requests about one project since the current workspace was served.
    pub fn project_requests(&self, project_id: &str) -> hex_sim::ProjectRequests {
        self.simulator
            .as_ref()
            .expect("a simulator is serving")
            .project_requests(project_id)
    }

    fn stop(&mut self) {
        if let Some((stop, thread)) = self.server.take() {
            let _ = stop.send(());
            thread.join().expect("the simulator thread panicked");
        }
    }
}

impl Drop for ReplaceableSim {
    fn drop(&mut self) {
        self.stop();
    }
}
