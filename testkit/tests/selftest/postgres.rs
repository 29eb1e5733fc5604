//! The PostgreSQL harness against a real cluster: a database per test, the settings it promises,
//! restart, and clean-up by `Drop` and by the watchdog when the test process is killed.

use std::net::{Ipv4Addr, TcpStream};
use std::path::PathBuf;

use testkit::postgres::{PgCluster, PgError};
use tokio_postgres::{Client, NoTls};

use crate::support::{eventually, holding, spawn_probe};

/// A client of one database, usable from a synchronous test.
struct Db {
    runtime: tokio::runtime::Runtime,
    client: Client,
}

impl Db {
    /// Connects to `url`.
    fn connect(url: &str) -> Result<Db, tokio_postgres::Error> {
        Self::connect_with(url.parse()?)
    }

    /// Connects with `config`.
    fn connect_with(config: tokio_postgres::Config) -> Result<Db, tokio_postgres::Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let (client, connection) = runtime.block_on(config.connect(NoTls))?;
        // The connection makes progress whenever a query below blocks on the runtime.
        runtime.spawn(connection);
        Ok(Db { runtime, client })
    }

    /// Runs `sql` (one or more statements).
    fn execute(&self, sql: &str) -> Result<(), tokio_postgres::Error> {
        self.runtime.block_on(self.client.batch_execute(sql))
    }

    /// The first column of every row `sql` returns, as text.
    fn column(&self, sql: &str) -> Result<Vec<String>, tokio_postgres::Error> {
        let rows = self.runtime.block_on(self.client.query(sql, &[]))?;
        Ok(rows.iter().map(|row| row.get::<_, String>(0)).collect())
    }
}

/// Whether anything accepts TCP connections on the loopback `port`.
fn listening(port: u16) -> bool {
    TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok()
}

#[test]
fn the_shared_cluster_gives_each_test_its_own_database() {
    let Some(pg) = PgCluster::shared() else {
        return;
    };
    let first = pg
        .create_database("selftest_isolation_a")
        .expect("creating a database");
    let second = pg
        .create_database("selftest_isolation_b")
        .expect("creating another database");
    assert_eq!(
        first,
        format!(
            "postgresql://euno@127.0.0.1:{}/selftest_isolation_a",
            pg.port()
        )
    );

    let a = Db::connect(&first).expect("connecting to the first database");
    a.execute("CREATE TABLE things (name text); INSERT INTO things VALUES ('from a')")
        .expect("writing to the first database");
    assert_eq!(
        a.column("SELECT name FROM things")
            .expect("reading it back"),
        ["from a"]
    );
    let b = Db::connect(&second).expect("connecting to the second database");
    assert_eq!(
        b.column("SELECT coalesce(to_regclass('things')::text, 'absent')")
            .expect("looking for the table"),
        ["absent"],
        "a table of one test's database is visible in another's"
    );
}

#[test]
fn the_default_database_runs_with_the_promised_settings() {
    let Some(pg) = PgCluster::shared() else {
        return;
    };
    assert_eq!(
        pg.url(),
        format!("postgresql://euno@127.0.0.1:{}/euno", pg.port())
    );
    let db = Db::connect(&pg.url()).expect("connecting to the default database");
    let settings = db
        .column(
            "SELECT current_user || ' ' || current_database() || ' fsync=' || \
             current_setting('fsync') || ' listen=' || current_setting('listen_addresses')",
        )
        .expect("reading the settings");
    assert_eq!(settings, ["euno euno fsync=off listen=127.0.0.1"]);
}

#[test]
fn the_unix_socket_in_the_temporary_directory_accepts_connections() {
    let Some(pg) = PgCluster::shared() else {
        return;
    };
    let mut config = tokio_postgres::Config::new();
    config
        .host_path(pg.socket_dir())
        .port(pg.port())
        .user("euno")
        .dbname("euno");
    let db = Db::connect_with(config).expect("connecting over the unix socket");
    assert_eq!(
        db.column("SELECT coalesce(inet_server_addr()::text, 'local socket')")
            .expect("asking how we are connected"),
        ["local socket"]
    );
}

#[test]
fn database_names_that_are_not_plain_identifiers_or_taken_are_refused() {
    let Some(pg) = PgCluster::shared() else {
        return;
    };
    let error = pg
        .create_database("Bad-Name")
        .expect_err("a name that needs quoting");
    assert!(matches!(error, PgError::BadName(_)), "{error}");
    pg.create_database("selftest_twice")
        .expect("creating it once");
    let error = pg
        .create_database("selftest_twice")
        .expect_err("creating it twice");
    assert!(
        error.to_string().contains("already exists"),
        "the error does not say why: {error}"
    );
}

#[test]
fn a_private_cluster_restarts_with_its_data_and_port_and_is_gone_once_dropped() {
    let Some(mut pg) = PgCluster::start().expect("starting a cluster") else {
        return;
    };
    let url = pg.url();
    let port = pg.port();
    let before = Db::connect(&url).expect("connecting");
    before
        .execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")
        .expect("writing");

    pg.stop().expect("stopping the server");
    assert!(!pg.is_running());
    assert!(
        before.execute("SELECT 1").is_err(),
        "a session survived the server stopping"
    );
    assert!(
        Db::connect(&url).is_err(),
        "a stopped server accepted a connection"
    );
    assert!(matches!(
        pg.create_database("selftest_while_stopped"),
        Err(PgError::Stopped { .. })
    ));

    pg.start_again().expect("starting the server again");
    assert!(pg.is_running());
    assert_eq!(pg.port(), port, "the port changed across the restart");
    let after = Db::connect(&url).expect("reconnecting after the restart");
    assert_eq!(
        after
            .column("SELECT n::text FROM kept")
            .expect("reading after the restart"),
        ["42"]
    );

    // Dropping it, with a session open, stops the server and removes every file.
    let dir = pg.socket_dir().to_owned();
    assert!(dir.join("data").join("postmaster.pid").exists());
    drop(pg);
    assert!(!dir.exists(), "{} is still there", dir.display());
    assert!(!listening(port), "something still listens on {port}");
    assert!(
        after.execute("SELECT 1").is_err(),
        "a session outlived the cluster"
    );
}

#[test]
fn a_killed_test_process_leaves_no_cluster_behind() {
    let mut child = spawn_probe("probe::pg_hold");
    let Some(line) = holding(&mut child) else {
        return;
    };
    let (port, dir) = line
        .trim()
        .split_once(' ')
        .unwrap_or_else(|| panic!("the probe said {line:?}"));
    let port: u16 = port.parse().expect("a port");
    let dir = PathBuf::from(dir);
    assert!(listening(port), "the probe's cluster is not running");

    // SIGKILL: no unwinding, no atexit, nothing of the process runs again.
    child.kill().expect("killing the probe");
    child.wait().expect("reaping the probe");

    assert!(
        eventually(60, || !dir.exists()),
        "{} is still there after its test process was killed",
        dir.display()
    );
    assert!(!listening(port), "the cluster outlived its test process");
}
