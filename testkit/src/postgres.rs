//! A private, throwaway PostgreSQL cluster for the tests, from the server binaries on the machine.
//!
//! [`PgCluster::start`] runs `initdb` into a temporary directory (trust authentication, a
//! throwaway superuser `euno`), starts the server on a free loopback port and on a unix socket in
//! that directory, with durability off for speed, and creates the database `euno`. Each test
//! makes its own database in it ([`PgCluster::create_database`]); a test binary shares one
//! cluster ([`PgCluster::shared`]), since a cluster costs a second or two to start.
//!
//! `initdb` and the server refuse to run as root. As root, both run as the `postgres` user (or
//! `nobody`), through `runuser`, `setpriv` or `su`, whichever exists, in a directory owned by that
//! user; otherwise they run as the current user.
//!
//! The binaries are looked for in `$EUNO_PG_BIN`, else in the newest
//! `/usr/lib/postgresql/<version>/bin` (Debian's layout), else on `PATH`. Where there are none,
//! [`PgCluster::start`] prints one `SKIPPED: …` line and returns `None`, unless
//! `EUNO_REQUIRE_POSTGRES=1`, which makes it an error.

use std::ffi::{CString, OsString};
use std::io::{self, Read as _, Seek as _};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::watchdog::Watchdog;

/// Set to `1` to make missing server binaries an error instead of a skip.
pub const REQUIRE_VAR: &str = "EUNO_REQUIRE_POSTGRES";
/// A directory holding `initdb`, `postgres` and `pg_ctl`, searched instead of the usual places.
pub const BIN_VAR: &str = "EUNO_PG_BIN";
/// The superuser `initdb` creates; it needs no password (trust authentication on loopback).
pub const SUPERUSER: &str = "euno";
/// The database [`PgCluster::start`] creates and [`PgCluster::url`] names.
pub const DEFAULT_DATABASE: &str = "euno";

/// Where the binaries are looked for when `EUNO_PG_BIN` is not set, as the skip line says it.
const USUAL_PLACES: &str = "/usr/lib/postgresql/*/bin or on PATH";
/// Debian's layout: one directory per major version.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";
/// The three programs a cluster needs, all from one directory: `initdb` and `pg_ctl` find the
/// `postgres` beside them.
const PROGRAMS: [&str; 3] = ["initdb", "postgres", "pg_ctl"];
/// How long `pg_ctl` may wait for the server to start or stop.
const PG_CTL_WAIT_SECONDS: &str = "60";
/// How long a client connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How many free ports to try when another process takes the one picked before the server binds.
const PORT_ATTEMPTS: usize = 10;
/// The settings file the harness owns, included from `postgresql.conf`.
const SETTINGS_FILE: &str = "euno-testkit.conf";

/// Why a cluster could not be started, used or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    /// No server binaries, and `EUNO_REQUIRE_POSTGRES=1` forbids skipping.
    #[error(
        "PostgreSQL server binaries (initdb, postgres, pg_ctl) not found in {searched}, and \
         {REQUIRE_VAR}=1 requires them: install postgresql (Debian: apt-get install postgresql) \
         or point {BIN_VAR} at their directory"
    )]
    NotFound {
        /// Where they were looked for.
        searched: String,
    },
    /// Running as root, and neither `postgres` nor `nobody` exists to run the server as.
    #[error(
        "running as root, the PostgreSQL server needs an unprivileged user, but neither \
         `postgres` nor `nobody` exists"
    )]
    NoUnprivilegedUser,
    /// Running as root, and no way to switch to the server's user.
    #[error(
        "running as root, the PostgreSQL server must run as `{user}`, but none of runuser, \
         setpriv or su was found"
    )]
    NoUserSwitch {
        /// The user the server would run as.
        user: String,
    },
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A PostgreSQL program exited unsuccessfully.
    #[error("{what} failed ({status}): {output}")]
    Command {
        /// Which program, doing what.
        what: String,
        /// Its exit status.
        status: ExitStatus,
        /// Its output, or the end of the server log.
        output: String,
    },
    /// Every free port picked was taken by someone else before the server could bind it.
    #[error("the PostgreSQL server found no free loopback port in {PORT_ATTEMPTS} attempts: {log}")]
    NoPort {
        /// The end of the server log.
        log: String,
    },
    /// A database name that is not a plain lowercase identifier.
    #[error(
        "database name `{0}` is not a plain identifier (a-z, 0-9 and _, not starting with a \
         digit, at most 63 bytes)"
    )]
    BadName(String),
    /// A client operation on the cluster failed.
    #[error("{what} (PostgreSQL on 127.0.0.1:{port}): {detail}")]
    Client {
        /// What was being done.
        what: String,
        /// The cluster's port.
        port: u16,
        /// The server's message, when it sent one (the client error's own text is only
        /// "db error" then), else the client error's.
        detail: String,
        /// The client's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The operation needs a running server, and the cluster is stopped.
    #[error("the PostgreSQL cluster on port {port} is stopped")]
    Stopped {
        /// The cluster's port.
        port: u16,
    },
}

/// A running (or deliberately stopped) private PostgreSQL cluster; see the module documentation.
///
/// Dropping it stops the server (`pg_ctl stop -m immediate`) and removes its directory. A cluster
/// that is never dropped (in a `static`, or when the process is killed) is cleaned up the same
/// way by a watchdog process once the test process is gone.
#[derive(Debug)]
pub struct PgCluster {
    /// The directory holding `initdb`, `postgres` and `pg_ctl`.
    bin_dir: PathBuf,
    /// Who runs `initdb` and the server.
    run_as: RunAs,
    /// The temporary directory: the data directory, the socket and the server log.
    root: PathBuf,
    /// The loopback port the server listens on; kept across restarts.
    port: u16,
    /// Whether the server was started and not stopped since.
    running: bool,
    /// Cleans up when the cluster is dropped or the process ends; `None` once finished.
    watchdog: Option<Watchdog>,
}

/// The cluster of this test binary, started by the first [`PgCluster::shared`] call.
static SHARED: OnceLock<Result<Option<PgCluster>, String>> = OnceLock::new();

impl PgCluster {
    /// Starts a cluster of its own: `Ok(None)` (after one loud `SKIPPED` line on stderr) where
    /// the machine has no server binaries, an error instead when `EUNO_REQUIRE_POSTGRES=1`.
    pub fn start() -> Result<Option<PgCluster>, PgError> {
        let (bin_dir, searched) = locate_binaries();
        let Some(bin_dir) = bin_dir else {
            if crate::required(REQUIRE_VAR) {
                return Err(PgError::NotFound { searched });
            }
            crate::announce_skip(&skip_line(&searched));
            return Ok(None);
        };
        Self::start_from(bin_dir).map(Some)
    }

    /// The cluster shared by every test of this test binary, started on first use; `None` when
    /// skipped (the `SKIPPED` line is printed once). Each test should make its own database in
    /// it with [`create_database`](Self::create_database).
    ///
    /// # Panics
    ///
    /// When the cluster cannot be started, in every test that asks for it.
    pub fn shared() -> Option<&'static PgCluster> {
        match SHARED.get_or_init(|| PgCluster::start().map_err(|error| error.to_string())) {
            Ok(cluster) => cluster.as_ref(),
            Err(error) => panic!("{error}"),
        }
    }

    /// `postgresql://euno@127.0.0.1:PORT/euno`: the database made at start.
    pub fn url(&self) -> String {
        self.url_for(DEFAULT_DATABASE)
    }

    /// `postgresql://euno@127.0.0.1:PORT/<database>`.
    pub fn url_for(&self, database: &str) -> String {
        format!(
            "postgresql://{SUPERUSER}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// The loopback port the server listens on (the same after a restart).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory of the server's unix socket (`.s.PGSQL.<port>`), for clients that prefer
    /// one (libpq: `host=<this directory>`).
    pub fn socket_dir(&self) -> &Path {
        &self.root
    }

    /// The directory the server binaries were taken from.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// Whether the server is running (not stopped with [`stop`](Self::stop)).
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// Creates the database `name` (empty, owned by the superuser) and returns its URL. Tests
    /// sharing a cluster each make their own database, so they never see each other's tables.
    pub fn create_database(&self, name: &str) -> Result<String, PgError> {
        if !is_plain_identifier(name) {
            return Err(PgError::BadName(name.to_owned()));
        }
        self.execute("postgres", &format!("CREATE DATABASE \"{name}\""))?;
        Ok(self.url_for(name))
    }

    /// Stops the server the way an operator restarting it would (`pg_ctl stop -m fast`: open
    /// sessions are ended, clients see their connections close). The files stay; start it again
    /// with [`start_again`](Self::start_again).
    pub fn stop(&mut self) -> Result<(), PgError> {
        if !self.running {
            return Ok(());
        }
        self.pg_ctl("stopping the PostgreSQL server", &["stop", "-m", "fast"])?;
        self.running = false;
        Ok(())
    }

    /// Starts a stopped server again, on the same port, with the same data.
    pub fn start_again(&mut self) -> Result<(), PgError> {
        if self.running {
            return Ok(());
        }
        self.start_server()
    }

    /// Runs `initdb` and starts the server, from the binaries in `bin_dir`.
    fn start_from(bin_dir: PathBuf) -> Result<PgCluster, PgError> {
        let run_as = RunAs::for_server()?;
        let root = tempfile::Builder::new()
            .prefix("euno-pg-")
            .tempdir()
            .map_err(|source| PgError::Io {
                what: "creating a temporary directory for PostgreSQL".to_owned(),
                source,
            })?
            .keep();
        let mut cluster = PgCluster {
            port: 0,
            running: false,
            watchdog: None,
            bin_dir,
            run_as,
            root,
        };
        match Watchdog::spawn(&cluster.root, &cluster.stop_argv()) {
            // From here on, dropping `cluster` (on an error below) removes the directory.
            Ok(watchdog) => cluster.watchdog = Some(watchdog),
            Err(source) => {
                let _ = std::fs::remove_dir_all(&cluster.root);
                return Err(PgError::Io {
                    what: "starting the PostgreSQL watchdog (/bin/sh)".to_owned(),
                    source,
                });
            }
        }
        if let RunAs::User { uid, gid, .. } = &cluster.run_as {
            std::os::unix::fs::chown(&cluster.root, Some(*uid), Some(*gid)).map_err(|source| {
                PgError::Io {
                    what: format!("giving {} to the server's user", cluster.root.display()),
                    source,
                }
            })?;
        }
        cluster.initdb()?;
        cluster.start_server()?;
        cluster.execute(
            "postgres",
            &format!("CREATE DATABASE \"{DEFAULT_DATABASE}\""),
        )?;
        Ok(cluster)
    }

    /// The data directory, inside the temporary directory.
    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// The server log, inside the temporary directory (not the data directory, so that it is
    /// there to read when the data directory is the problem).
    fn log_file(&self) -> PathBuf {
        self.root.join("server.log")
    }

    /// What the watchdog runs: an immediate stop, which needs no clean shutdown of the files
    /// about to be removed.
    fn stop_argv(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["stop".into(), "-D".into()];
        args.push(self.data_dir().into_os_string());
        args.extend(["-m", "immediate", "-w", "-t", PG_CTL_WAIT_SECONDS].map(OsString::from));
        self.run_as.argv(&self.bin_dir.join("pg_ctl"), &args)
    }

    /// Creates the data directory: trust authentication, the `euno` superuser, no fsync.
    fn initdb(&self) -> Result<(), PgError> {
        let mut args: Vec<OsString> = vec!["-D".into(), self.data_dir().into_os_string()];
        args.extend(
            [
                "--username",
                SUPERUSER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
            ]
            .map(OsString::from),
        );
        self.run("initdb", &args)?;
        // Our settings live in a file of their own, rewritten before each start.
        let conf = self.data_dir().join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).map_err(|source| PgError::Io {
            what: format!("reading {}", conf.display()),
            source,
        })?;
        text.push_str(&format!(
            "\n# Added by euno-testkit.\ninclude '{SETTINGS_FILE}'\n"
        ));
        std::fs::write(&conf, text).map_err(|source| PgError::Io {
            what: format!("writing {}", conf.display()),
            source,
        })
    }

    /// Starts the server and waits until it accepts connections. On the first start, picks a
    /// free port, and picks another when someone takes it before the server binds it.
    fn start_server(&mut self) -> Result<(), PgError> {
        let attempts = if self.port == 0 { PORT_ATTEMPTS } else { 1 };
        let mut last_log = String::new();
        for _ in 0..attempts {
            let port = if self.port == 0 {
                free_port()?
            } else {
                self.port
            };
            self.write_settings(port)?;
            let log_start = std::fs::metadata(self.log_file()).map_or(0, |meta| meta.len());
            match self.pg_ctl("starting the PostgreSQL server", &["start"]) {
                Ok(()) => {
                    self.port = port;
                    self.running = true;
                    return Ok(());
                }
                Err(PgError::Command { what, status, .. }) => {
                    last_log = self.log_since(log_start);
                    let taken = last_log.contains("could not bind")
                        || last_log.contains("Address already in use");
                    if !taken || self.port != 0 {
                        return Err(PgError::Command {
                            what,
                            status,
                            output: last_log,
                        });
                    }
                }
                Err(other) => return Err(other),
            }
        }
        Err(PgError::NoPort { log: last_log })
    }

    /// Writes the harness's settings: loopback and a socket in the temporary directory only,
    /// and speed over durability (the cluster is thrown away).
    fn write_settings(&self, port: u16) -> Result<(), PgError> {
        let socket_dir = self.root.to_string_lossy().replace('\'', "''");
        let settings = format!(
            "listen_addresses = '127.0.0.1'\n\
             port = {port}\n\
             unix_socket_directories = '{socket_dir}'\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             shared_buffers = 16MB\n"
        );
        let path = self.data_dir().join(SETTINGS_FILE);
        std::fs::write(&path, settings).map_err(|source| PgError::Io {
            what: format!("writing {}", path.display()),
            source,
        })
    }

    /// Runs `pg_ctl <action> -D <data> -w …` with the server log in the temporary directory.
    fn pg_ctl(&self, what: &str, action: &[&str]) -> Result<(), PgError> {
        let mut args: Vec<OsString> = action.iter().map(OsString::from).collect();
        args.push("-D".into());
        args.push(self.data_dir().into_os_string());
        args.push("-l".into());
        args.push(self.log_file().into_os_string());
        args.extend(["-w", "-t", PG_CTL_WAIT_SECONDS].map(OsString::from));
        self.run("pg_ctl", &args).map_err(|error| match error {
            PgError::Command { status, output, .. } => PgError::Command {
                what: what.to_owned(),
                status,
                output,
            },
            other => other,
        })
    }

    /// Runs one of the PostgreSQL programs as the server's user, in the temporary directory
    /// (the test's own directory may be closed to that user).
    fn run(&self, program: &str, args: &[OsString]) -> Result<(), PgError> {
        let argv = self.run_as.argv(&self.bin_dir.join(program), args);
        let output = Command::new(&argv[0])
            .args(&argv[1..])
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| PgError::Io {
                what: format!("running {}", Path::new(&argv[0]).display()),
                source,
            })?;
        if output.status.success() {
            return Ok(());
        }
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        Err(PgError::Command {
            what: format!("{program} ({})", self.bin_dir.display()),
            status: output.status,
            output: one_line(&text),
        })
    }

    /// The server log written since byte `start`, on one line.
    fn log_since(&self, start: u64) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(self.log_file()) {
            // A log that cannot be read leaves the error without details, nothing worse.
            let _ = file
                .seek(io::SeekFrom::Start(start))
                .and_then(|_| file.read_to_string(&mut text));
        }
        one_line(&text)
    }

    /// Runs `sql` in `database` over a fresh connection.
    ///
    /// On a thread of its own with its own runtime, so that it can be called from synchronous
    /// tests and from inside an async runtime alike (blocking on a runtime from within another
    /// panics).
    fn execute(&self, database: &str, sql: &str) -> Result<(), PgError> {
        if !self.running {
            return Err(PgError::Stopped { port: self.port });
        }
        let port = self.port;
        let client_error = |what: &str, source: tokio_postgres::Error| PgError::Client {
            what: what.to_owned(),
            port,
            detail: source
                .as_db_error()
                .map_or_else(|| source.to_string(), |db| db.to_string()),
            source,
        };
        let mut config = tokio_postgres::Config::new();
        config
            .host("127.0.0.1")
            .port(port)
            .user(SUPERUSER)
            .dbname(database)
            .connect_timeout(CONNECT_TIMEOUT);
        let task = async {
            let (client, connection) = config
                .connect(tokio_postgres::NoTls)
                .await
                .map_err(|source| client_error(&format!("connecting to {database}"), source))?;
            let connection = tokio::spawn(connection);
            client
                .batch_execute(sql)
                .await
                .map_err(|source| client_error(sql, source))?;
            drop(client);
            // The connection ends once the client is gone; its own error adds nothing.
            let _ = connection.await;
            Ok(())
        };
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|source| PgError::Io {
                            what: "starting a runtime for the PostgreSQL client".to_owned(),
                            source,
                        })?
                        .block_on(task)
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if let Some(watchdog) = self.watchdog.take() {
            // `pg_ctl stop` on a stopped cluster only says so; the watchdog always runs it.
            watchdog.finish();
        }
    }
}

/// Who runs `initdb` and the server.
#[derive(Debug)]
enum RunAs {
    /// The current user, who is not root.
    Myself,
    /// Another user, switched to by `switch`.
    User {
        /// The user's name.
        name: String,
        /// The user's id, to give it the temporary directory.
        uid: u32,
        /// The user's group.
        gid: u32,
        /// How to run a program as the user.
        switch: Switch,
    },
}

/// A program that runs another as a given user.
#[derive(Debug)]
enum Switch {
    /// `runuser -u USER -- PROGRAM ARGS…` (util-linux).
    Runuser(PathBuf),
    /// `setpriv --reuid … --regid … --init-groups -- PROGRAM ARGS…` (util-linux).
    Setpriv(PathBuf),
    /// `su -s /bin/sh USER -c 'exec "$0" "$@"' PROGRAM ARGS…`.
    Su(PathBuf),
}

impl RunAs {
    /// Myself when not root; otherwise `postgres` (or `nobody`) and a way to switch to it.
    fn for_server() -> Result<RunAs, PgError> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return Ok(RunAs::Myself);
        }
        let (name, uid, gid) = ["postgres", "nobody"]
            .into_iter()
            .find_map(|name| lookup_user(name).map(|(uid, gid)| (name.to_owned(), uid, gid)))
            .ok_or(PgError::NoUnprivilegedUser)?;
        let switch = if let Some(path) = find_program("runuser") {
            Switch::Runuser(path)
        } else if let Some(path) = find_program("setpriv") {
            Switch::Setpriv(path)
        } else if let Some(path) = find_program("su") {
            Switch::Su(path)
        } else {
            return Err(PgError::NoUserSwitch { user: name });
        };
        Ok(RunAs::User {
            name,
            uid,
            gid,
            switch,
        })
    }

    /// The command line that runs `program args…` as this user.
    fn argv(&self, program: &Path, args: &[OsString]) -> Vec<OsString> {
        let mut argv: Vec<OsString> = match self {
            RunAs::Myself => Vec::new(),
            RunAs::User {
                name,
                uid,
                gid,
                switch,
            } => match switch {
                Switch::Runuser(path) => vec![path.into(), "-u".into(), name.into(), "--".into()],
                Switch::Setpriv(path) => vec![
                    path.into(),
                    format!("--reuid={uid}").into(),
                    format!("--regid={gid}").into(),
                    "--init-groups".into(),
                    "--".into(),
                ],
                // The arguments go to the shell as "$0" "$@": nothing to quote.
                Switch::Su(path) => vec![
                    path.into(),
                    "-s".into(),
                    "/bin/sh".into(),
                    name.into(),
                    "-c".into(),
                    r#"exec "$0" "$@""#.into(),
                ],
            },
        };
        argv.push(program.into());
        argv.extend(args.iter().cloned());
        argv
    }
}

/// The loud line printed when the tests are skipped.
fn skip_line(searched: &str) -> String {
    format!(
        "SKIPPED: PostgreSQL tests: no server binaries found in {searched} (install postgresql, \
         or set {REQUIRE_VAR}=1 to make this a failure)"
    )
}

/// Finds the server binaries: the directory, or `None`, and where they were looked for.
fn locate_binaries() -> (Option<PathBuf>, String) {
    if let Some(dir) = std::env::var_os(BIN_VAR) {
        let dir = PathBuf::from(dir);
        let searched = format!("{} ({BIN_VAR})", dir.display());
        return (has_programs(&dir).then_some(dir), searched);
    }
    let found = newest_debian_bin_dir().or_else(|| {
        std::env::var_os("PATH")
            .into_iter()
            .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
            .find(|dir| has_programs(dir))
    });
    (found, USUAL_PLACES.to_owned())
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding all three programs.
fn newest_debian_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir(DEBIAN_ROOT)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name();
            let version = name
                .to_str()?
                .split('.')
                .map(|part| part.parse().ok())
                .collect::<Option<Vec<u32>>>()?;
            let bin = entry.path().join("bin");
            has_programs(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// Whether `dir` holds `initdb`, `postgres` and `pg_ctl`.
fn has_programs(dir: &Path) -> bool {
    PROGRAMS
        .iter()
        .all(|program| crate::is_executable(&dir.join(program)))
}

/// `name` on `PATH`, or in the system directories root's `PATH` usually has.
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| crate::is_executable(candidate))
}

/// The uid and gid of the user `name`, if it exists.
fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let name = CString::new(name).ok()?;
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: `passwd` is plain data (integers and pointers) for which all zeroes is valid.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call, `buffer` outlives it and its length is
    // passed; `entry` is read only when `result` says it was filled in.
    let status = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut result,
        )
    };
    (status == 0 && !result.is_null()).then_some((entry.pw_uid, entry.pw_gid))
}

/// A loopback port nobody listens on right now.
fn free_port() -> Result<u16, PgError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|source| PgError::Io {
            what: "finding a free loopback port".to_owned(),
            source,
        })
}

/// Whether `name` can be used as a database name without quoting surprises.
fn is_plain_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The last lines of `text`, joined into one line for a one-line error.
fn one_line(text: &str) -> String {
    const LINES: usize = 12;
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    let start = lines.len().saturating_sub(LINES);
    lines[start..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_skip_line_says_where_and_what_to_do() {
        assert_eq!(
            skip_line(USUAL_PLACES),
            "SKIPPED: PostgreSQL tests: no server binaries found in /usr/lib/postgresql/*/bin or \
             on PATH (install postgresql, or set EUNO_REQUIRE_POSTGRES=1 to make this a failure)"
        );
    }

    #[test]
    fn database_names_are_plain_identifiers() {
        assert!(is_plain_identifier("euno"));
        assert!(is_plain_identifier("test_42"));
        assert!(!is_plain_identifier(""));
        assert!(!is_plain_identifier("4ever"));
        assert!(!is_plain_identifier("Upper"));
        assert!(!is_plain_identifier("a\"; DROP DATABASE euno; --"));
        assert!(!is_plain_identifier(&"a".repeat(64)));
    }

    #[test]
    fn su_passes_arguments_without_quoting() {
        let run_as = RunAs::User {
            name: "postgres".to_owned(),
            uid: 101,
            gid: 104,
            switch: Switch::Su(PathBuf::from("/bin/su")),
        };
        let argv = run_as.argv(Path::new("/pg/initdb"), &["-D".into(), "/tmp/a b'c".into()]);
        assert_eq!(
            argv,
            [
                "/bin/su",
                "-s",
                "/bin/sh",
                "postgres",
                "-c",
                r#"exec "$0" "$@""#,
                "/pg/initdb",
                "-D",
                "/tmp/a b'c"
            ]
            .map(OsString::from)
        );
    }
}
