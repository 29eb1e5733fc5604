//! The command line's arguments: what `euno-host --help` shows.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Euno's sandboxed connector runtime: discovers resources with WebAssembly connectors and keeps
/// them in a local inventory.
#[derive(Debug, Parser)]
#[command(name = "euno-host", version, about, long_about = None)]
pub struct Cli {
    /// Where the inventory and compiled connectors live.
    #[arg(long, global = true, env = "EUNO_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// A PostgreSQL inventory shared by many hosts, e.g. `postgresql://euno@db:5432/euno`;
    /// without it, the SQLite file in the data directory.
    #[arg(long, global = true, env = "EUNO_DATABASE_URL", value_name = "URL")]
    pub database: Option<String>,

    /// Log filter, e.g. `info`, `debug`, `euno_host=debug`.
    #[arg(
        long,
        global = true,
        env = "EUNO_LOG",
        default_value = "warn",
        value_name = "FILTER"
    )]
    pub log: String,

    /// Installed connector components (`*.wasm`), found by the id their `spec()` reports.
    #[arg(long, global = true, env = "EUNO_CONNECTORS_DIR", value_name = "DIR")]
    pub connectors: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a Hex API simulator on loopback and discover it with the bundled connector.
    Demo(DemoArgs),
    /// Describe a connector: its settings and the resource types it emits.
    Spec(SpecArgs),
    /// Check that a source is reachable and its credentials work.
    Check(SourceArgs),
    /// Run one discovery of a source and record it in the inventory.
    Run(RunArgs),
    /// List the resources in the inventory.
    Resources(ResourcesArgs),
    /// List the run history.
    Runs(RunsArgs),
    /// Manage sources known to the inventory.
    #[command(subcommand)]
    Sources(SourcesCommand),
    /// Run every enabled source on its schedule, following changes to sources and connectors.
    Serve(ServeArgs),
    /// Show each source's schedule, next run and last run (and, with --sources, its file).
    Status(StatusArgs),
    /// Manage installed connector components.
    #[command(subcommand)]
    Connectors(ConnectorsCommand),
    /// Print a shell completion script (see the README for where to put it).
    Completions(CompletionsArgs),
    /// Print the manual page (roff), e.g. `euno-host man > ~/.local/share/man/man1/euno-host.1`.
    Man,
}

/// Arguments of `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The directory of source files (`*.toml`), watched for changes. With `--database`, optional:
    /// its files are applied to the database as they change (as with `sources apply`), and the
    /// sources scheduled are those the database holds.
    #[arg(long, env = "EUNO_SOURCES_DIR", value_name = "DIR")]
    pub sources: Option<PathBuf>,
    /// This worker's name, recorded on its runs and shown by `runs` and `status` (default
    /// `<host name>-<pid>`).
    #[arg(long, env = "EUNO_WORKER", value_name = "NAME")]
    pub worker: Option<String>,
    /// Runs at once, across sources.
    #[arg(long, default_value_t = 4)]
    pub max_parallel: usize,
    /// How often to look for changed files and due runs, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub poll_ms: u64,
    /// How long, in milliseconds, a new or changed source file must stay unchanged before it is
    /// read, so that a file still being written is never acted on.
    #[arg(long, default_value_t = 2000)]
    pub settle_ms: u64,
    /// Seconds in-flight runs may take to finish after SIGINT/SIGTERM before they are cancelled.
    #[arg(long, default_value_t = 30)]
    pub shutdown_grace_seconds: u64,
    /// With `--database`: seconds a slot's lease lasts without renewal (renewed every third of
    /// it). A worker silent for longer loses its slot to another, which runs it again.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub lease_seconds: u64,
    /// Also serve the Sources page and the JSON API (`/api/v1`) at this address, e.g.
    /// `127.0.0.1:8080`. Off unless given. Any address other than loopback needs
    /// `--admin-token`.
    #[arg(long, env = "EUNO_HTTP", value_name = "ADDR")]
    pub http: Option<std::net::SocketAddr>,
    /// The admin token the API (`Authorization: Bearer`) and the login form ask for; at least 16
    /// characters. Required to serve on an address other than loopback.
    #[arg(
        long,
        env = "EUNO_ADMIN_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub admin_token: Option<String>,
}

/// Arguments of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Also list the source files of this directory (`*.toml`): those not yet run, and those
    /// changed since their last run. Without it, every source the inventory knows (the
    /// definitions applied to it, and every source that has run).
    #[arg(long, env = "EUNO_SOURCES_DIR", value_name = "DIR")]
    pub sources: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `connectors` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConnectorsCommand {
    /// Validate a component and place it in the connectors directory as `<id>.wasm`, with a
    /// manifest `<id>.toml` recording what is granted to it.
    Install {
        /// The component file.
        file: PathBuf,
        /// An origin the connector may reach, `scheme://host[:port]` (repeatable). Without any,
        /// it reaches only what a source file's `[network]` table grants.
        #[arg(long = "allow-origin", value_name = "ORIGIN")]
        allow_origin: Vec<String>,
        /// Replace the connector that has the same id: an installed one, or the bundled Hex
        /// connector.
        #[arg(long)]
        replace: bool,
    },
    /// List the connectors: id, version, digest, file, granted origins, and the files rejected.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check that a connector keeps every promise of the contract: runs spec, check and discover
    /// (twice, the second with the first's checkpoint) against a source, into a scratch
    /// inventory, and prints one line per check. Exits non-zero if any fails.
    Test {
        /// The component file (`.wasm`), or a connector id (`hex`: the bundled one).
        connector: String,
        /// The source file to discover; its `connector` key is ignored.
        #[arg(long, value_name = "FILE")]
        source: PathBuf,
    },
}

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Projects in the simulated workspace.
    #[arg(long, default_value_t = 300)]
    pub projects: usize,
    /// Seed of the simulated workspace.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// No live line and no summary: only errors, on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Then serve the Sources page over the demo's data at this address (loopback,
    /// `127.0.0.1:8080` when no address is given) until Ctrl-C, with the simulator still up.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:8080")]
    pub http: Option<std::net::SocketAddr>,
}

/// Arguments of `spec`.
#[derive(Debug, Args)]
pub struct SpecArgs {
    /// A connector component; the bundled Hex connector when absent.
    #[arg(long, value_name = "PATH")]
    pub connector: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments naming a source file.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// The source file (TOML).
    #[arg(long, value_name = "FILE")]
    pub source: PathBuf,
    /// Use this component instead of the one the source file names.
    #[arg(long, value_name = "PATH")]
    pub connector: Option<PathBuf>,
}

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The source to run.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Show what would change and what cleanup would remove, without writing.
    #[arg(long)]
    pub dry_run: bool,
    /// Let this run's cleanup remove more than the source's `max_removal_ratio` (by default half
    /// of its resources), or all of them: for a source that really lost them.
    #[arg(long)]
    pub allow_mass_removal: bool,
    /// No live line and no summary: only errors, on stderr, and the exit status.
    #[arg(long, short)]
    pub quiet: bool,
    /// Give the connector no checkpoint, so that it fetches everything again (relations
    /// included) instead of only what changed since the last successful run.
    #[arg(long)]
    pub full: bool,
}

/// Arguments of `resources`.
#[derive(Debug, Args)]
pub struct ResourcesArgs {
    /// Only resources this source sponsors.
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// Print a JSON array.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// `table` (default), `json`, or `euno`: one Euno observation a line.
    #[arg(long, value_parser = ["table", "json", "euno"])]
    pub format: Option<String>,
}

/// Arguments of `runs`.
#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Only this source's runs.
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// Print a JSON array.
    #[arg(long)]
    pub json: bool,
    /// At most this many runs, newest first.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

/// `sources` subcommands.
#[derive(Debug, Subcommand)]
pub enum SourcesCommand {
    /// Validate source files and store them in the inventory, where every `serve --database`
    /// worker finds them; reports each as new, changed or unchanged. A secret must be written
    /// `${VAR}`: its value is never stored.
    Apply {
        /// A source file (`*.toml`), or a directory of them.
        path: PathBuf,
    },
    /// List the source definitions stored in the inventory.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Drop a source's definition and its sponsorships, and the resources no other source
    /// sponsors.
    Remove {
        /// The source's name.
        name: String,
    },
}
