//! The `euno-host` command line: argument parsing, the commands, and what each prints.
//!
//! Every command returns an [`Outcome`] that `main` maps to the process exit status: 0 success,
//! 2 a configuration error (bad arguments, source file or connector), 3 a failed run, 4 a run
//! whose cleanup the safety guard refused, 1 anything else.
//!
//! What the commands print goes through [`show`]: a reader that leaves early (`euno-host runs |
//! head -1`) neither panics the process nor changes its exit status. Every text that came from a
//! connector or a server (names, URIs, types, errors, warnings, a connector's own description)
//! is [`inert`] in the human tables; `--json` keeps the exact data, escaped by JSON itself.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::bindings::{ConnectorError, ConnectorSpec, FieldKind};
use crate::http_policy::Origin;
use crate::inventory::{Inventory, StoredResource, format_timestamp};
use crate::run::{self, RunError, RunOptions, RunReport};
use crate::runtime::{CallError, Connector, LoadError, Runtime, Trust};
use std::sync::Arc;

use crate::connectors::{self, Registry};
use crate::daemon::{self, ServeOptions};
use crate::source::{ConnectorRef, SourceFile};
use crate::text::inert;

/// Euno's sandboxed connector runtime: discovers resources with WebAssembly connectors and keeps
/// them in a local inventory.
#[derive(Debug, Parser)]
#[command(name = "euno-host", version, about, long_about = None)]
pub struct Cli {
    /// Where the inventory and compiled connectors live.
    #[arg(long, global = true, env = "EUNO_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

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
    /// Show each source's schedule, next run and last run.
    Status(StatusArgs),
    /// Manage installed connector components.
    #[command(subcommand)]
    Connectors(ConnectorsCommand),
}

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The directory of source files (`*.toml`), watched for changes.
    #[arg(long, env = "EUNO_SOURCES_DIR", value_name = "DIR")]
    pub sources: PathBuf,
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
}

/// Arguments of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The directory of source files (`*.toml`).
    #[arg(long, env = "EUNO_SOURCES_DIR", value_name = "DIR")]
    pub sources: PathBuf,
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
    /// Drop a source's sponsorships, and the resources no other source sponsors.
    Remove {
        /// The source's name.
        name: String,
    },
}

/// How a command ended; `main` turns it into the exit status.
#[derive(Debug)]
pub enum Outcome {
    /// Success.
    Ok,
    /// Bad arguments, source file or connector.
    Config(String),
    /// A run failed; the inventory is unchanged.
    RunFailed(String),
    /// A run succeeded but its cleanup was refused by the guard.
    CleanupRefused(String),
    /// Anything else.
    Internal(String),
}

impl Outcome {
    /// The process exit status.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Internal(_) => 1,
            Self::Config(_) => 2,
            Self::RunFailed(_) => 3,
            Self::CleanupRefused(_) => 4,
        }
    }
}

impl From<LoadError> for Outcome {
    fn from(error: LoadError) -> Self {
        Self::Config(error.to_string())
    }
}

impl From<RunError> for Outcome {
    fn from(error: RunError) -> Self {
        match error {
            RunError::Source(e) => Self::Config(e.to_string()),
            RunError::InvalidSetting { .. } => Self::Config(error.to_string()),
            RunError::Busy(message) => Self::RunFailed(message),
            RunError::Failed { .. } => Self::RunFailed(error.to_string()),
            other => Self::Internal(other.to_string()),
        }
    }
}

/// Where data lives when `--data-dir` and `EUNO_DATA_DIR` are absent.
pub fn default_data_dir() -> PathBuf {
    dirs::data_local_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("euno-host")
}

/// The paths a command works with.
pub struct Paths {
    /// The data directory.
    pub data_dir: PathBuf,
}

impl Paths {
    /// The inventory database.
    pub fn inventory(&self) -> PathBuf {
        self.data_dir.join("inventory.sqlite3")
    }

    /// Compiled components.
    pub fn cache(&self) -> PathBuf {
        self.data_dir.join("cache")
    }
}

/// Runs the parsed command.
pub async fn execute(cli: Cli) -> Outcome {
    let paths = Paths {
        data_dir: cli.data_dir.unwrap_or_else(default_data_dir),
    };
    let runtime = match Runtime::new(Some(paths.cache())) {
        Ok(runtime) => runtime,
        Err(e) => return Outcome::Internal(e.to_string()),
    };
    let dir = cli.connectors;
    let context = Context {
        runtime,
        paths,
        connectors: dir,
    };
    let (runtime, paths) = (&context.runtime, &context.paths);
    match cli.command {
        Command::Demo(args) => crate::demo::demo(runtime, paths, args).await,
        Command::Spec(args) => spec(&context, args).await,
        Command::Check(args) => check(&context, args).await,
        Command::Run(args) => run(&context, args).await,
        Command::Resources(args) => resources(paths, args),
        Command::Runs(args) => runs(paths, args),
        Command::Sources(SourcesCommand::Remove { name }) => remove_source(paths, &name),
        Command::Serve(args) => serve(&context, args).await,
        Command::Status(args) => status(paths, args),
        Command::Connectors(ConnectorsCommand::Install {
            file,
            allow_origin,
            replace,
        }) => install(&context, &file, &allow_origin, replace).await,
        Command::Connectors(ConnectorsCommand::List { json }) => {
            list_connectors(&context, json).await
        }
    }
}

/// What every command may need.
pub struct Context {
    /// The engine and linker.
    pub runtime: Runtime,
    /// Where data lives.
    pub paths: Paths,
    /// The connectors directory, when given.
    pub connectors: Option<PathBuf>,
}

async fn serve(context: &Context, args: ServeArgs) -> Outcome {
    let options = ServeOptions {
        sources_dir: args.sources,
        connectors_dir: context.connectors.clone(),
        inventory: context.paths.inventory(),
        max_parallel: args.max_parallel,
        poll: std::time::Duration::from_millis(args.poll_ms.max(10)),
        settle: std::time::Duration::from_millis(args.settle_ms),
        shutdown_grace: std::time::Duration::from_secs(args.shutdown_grace_seconds),
    };
    match daemon::serve(context.runtime.clone(), options).await {
        Ok(()) => Outcome::Ok,
        Err(message) => Outcome::Config(message),
    }
}

fn status(paths: &Paths, args: StatusArgs) -> Outcome {
    let list = match daemon::status(&args.sources, &paths.inventory(), jiff::Timestamp::now()) {
        Ok(list) => list,
        Err(message) => return Outcome::Internal(message),
    };
    if args.json {
        return show_json(&list);
    }
    let mut text = String::new();
    for s in &list {
        match (&s.name, &s.error) {
            (_, Some(error)) => text += &format!("INVALID  {}\n", inert(error)),
            (Some(name), None) => {
                text += &format!("{}  ({})\n", inert(name), inert(&s.file));
                let schedule = s.schedule.as_deref().unwrap_or("");
                let state = if s.enabled {
                    ""
                } else {
                    " [disabled: runs only when asked]"
                };
                text += &format!("  schedule: {schedule}{state}\n");
                text += &format!("  next run: {}\n", s.next_run.as_deref().unwrap_or("-"));
                match &s.last_run {
                    Some(r) => {
                        text += &format!(
                            "  last run: {} {} at {} (added {}, updated {}, unchanged {}, removed {}){}\n",
                            r.id,
                            r.outcome,
                            r.started_at,
                            r.added,
                            r.updated,
                            r.unchanged,
                            r.removed,
                            if s.running {
                                "; a run is in progress"
                            } else {
                                ""
                            }
                        );
                        if let Some(error) = &r.error {
                            text += &format!("    error: {}\n", inert(error));
                        }
                        if let Some(reason) = &r.cleanup_refused {
                            text += &format!("    cleanup refused: {}\n", inert(reason));
                        }
                    }
                    None => text += "  last run: never\n",
                }
            }
            (None, None) => {}
        }
    }
    show(&text, Outcome::Ok)
}

async fn install(
    context: &Context,
    file: &std::path::Path,
    allow_origin: &[String],
    replace: bool,
) -> Outcome {
    let Some(dir) = &context.connectors else {
        return Outcome::Config(
            "`connectors install` needs --connectors DIR (or EUNO_CONNECTORS_DIR)".to_owned(),
        );
    };
    let mut allow = Vec::new();
    for text in allow_origin {
        match Origin::grant(text) {
            Ok(origin) if allow.contains(&origin) => {}
            Ok(origin) => allow.push(origin),
            Err(e) => {
                return Outcome::Config(format!(
                    "--allow-origin `{}` cannot be granted: {e}",
                    inert(text)
                ));
            }
        }
    }
    let options = connectors::InstallOptions { allow, replace };
    match connectors::install(&context.runtime, file, dir, options).await {
        Ok((path, connector)) => show(
            &format!(
                "Installed {} {} (digest {}) as {}{}\n",
                inert(&connector.spec.id),
                inert(&connector.spec.version),
                connector.digest,
                path.display(),
                granted_text(&connector)
            ),
            Outcome::Ok,
        ),
        Err(e) => Outcome::Config(e.to_string()),
    }
}

/// The origins granted at installation, in words, for the table and install's summary.
fn granted_text(connector: &Connector) -> String {
    match &connector.trust {
        Trust::Component { installed_origins } if !installed_origins.is_empty() => {
            let origins: Vec<String> = installed_origins.iter().map(Origin::to_string).collect();
            format!("; may reach {}", origins.join(", "))
        }
        _ => String::new(),
    }
}

async fn list_connectors(context: &Context, json: bool) -> Outcome {
    let registry = match Registry::open(&context.runtime, context.connectors.as_deref()).await {
        Ok(registry) => registry,
        Err(e) => return Outcome::Config(e.to_string()),
    };
    #[derive(Serialize)]
    struct Row {
        /// Absent for a file that did not load.
        id: Option<String>,
        version: Option<String>,
        digest: Option<String>,
        /// Absent for the bundled connector.
        file: Option<String>,
        /// The origins granted at installation.
        allow: Vec<String>,
        /// Whether this file replaces the bundled connector.
        replaces_bundled: bool,
        /// Why the file is not in use, when it is not.
        error: Option<String>,
    }
    let row = |file: Option<&std::path::Path>, c: Option<&Connector>, error: Option<String>| {
        let allow = match c.map(|c| &c.trust) {
            Some(Trust::Component { installed_origins }) => {
                installed_origins.iter().map(Origin::to_string).collect()
            }
            _ => Vec::new(),
        };
        Row {
            id: c.map(|c| c.spec.id.clone()),
            version: c.map(|c| c.spec.version.clone()),
            digest: c.map(|c| c.digest.clone()),
            file: file.map(|f| f.display().to_string()),
            allow,
            replaces_bundled: error.is_none()
                && file.is_some()
                && c.is_some_and(|c| c.spec.id == crate::connectors::BUNDLED_ID),
            error,
        }
    };
    let mut rows: Vec<Row> = registry
        .current()
        .list()
        .into_iter()
        .map(|(file, c)| row(file.as_deref(), Some(&c), None))
        .collect();
    let rejected = registry.rejected();
    rows.extend(rejected.iter().map(|r| {
        row(
            Some(&r.file),
            r.connector.as_deref(),
            Some(r.reason.clone()),
        )
    }));
    if json {
        return show_json(&rows);
    }
    let mut text = String::new();
    for row in rows.iter().filter(|row| row.error.is_none()) {
        let granted = if row.allow.is_empty() {
            String::new()
        } else {
            format!("; may reach {}", row.allow.join(", "))
        };
        text += &format!(
            "{:<16} {:<10} {}  {}{granted}\n",
            inert(row.id.as_deref().unwrap_or_default()),
            inert(row.version.as_deref().unwrap_or_default()),
            row.digest.as_deref().unwrap_or_default(),
            inert(row.file.as_deref().unwrap_or("(bundled)")),
        );
    }
    for r in &rejected {
        text += &format!(
            "REJECTED {}: {}\n",
            inert(&r.file.display().to_string()),
            inert(&r.reason)
        );
    }
    show(&text, Outcome::Ok)
}

/// Loads the connector a source names: by id from the connectors directory (or the bundled
/// Hex connector), or from a file.
pub async fn load_connector(
    context: &Context,
    reference: &ConnectorRef,
) -> Result<Arc<Connector>, Outcome> {
    match reference {
        ConnectorRef::Id(id)
            if id == crate::connectors::BUNDLED_ID && context.connectors.is_none() =>
        {
            Ok(Arc::new(context.runtime.load_bundled_hex().await?))
        }
        reference => {
            let registry = Registry::open(&context.runtime, context.connectors.as_deref())
                .await
                .map_err(|e| Outcome::Config(e.to_string()))?;
            daemon::resolve_connector(&context.runtime, &registry.current(), reference)
                .await
                .map_err(Outcome::Config)
        }
    }
}

async fn load_source(
    context: &Context,
    args: &SourceArgs,
) -> Result<(SourceFile, Arc<Connector>), Outcome> {
    let file = SourceFile::load(&args.source).map_err(|e| Outcome::Config(e.to_string()))?;
    let reference = match &args.connector {
        Some(path) => ConnectorRef::File(path.clone()),
        None => file.connector.clone(),
    };
    let connector = load_connector(context, &reference).await?;
    Ok((file, connector))
}

async fn spec(context: &Context, args: SpecArgs) -> Outcome {
    let reference = args.connector.map_or(
        ConnectorRef::Id(crate::connectors::BUNDLED_ID.to_owned()),
        ConnectorRef::File,
    );
    let connector = match load_connector(context, &reference).await {
        Ok(connector) => connector,
        Err(outcome) => return outcome,
    };
    if args.json {
        show_json(&SpecView::of(&connector))
    } else {
        show(&spec_text(&connector), Outcome::Ok)
    }
}

async fn check(context: &Context, args: SourceArgs) -> Outcome {
    let runtime = &context.runtime;
    let (file, connector) = match load_source(context, &args).await {
        Ok(loaded) => loaded,
        Err(outcome) => return outcome,
    };
    let source = match run::resolve(&file, &connector) {
        Ok(source) => source,
        Err(e) => return Outcome::Config(e.to_string()),
    };
    print_notes(&file, &source.notes);
    let sandbox = run::sandbox_for(&file, &source);
    match runtime
        .check(&connector, sandbox, &source.name, source.config.clone())
        .await
    {
        Ok(message) => show(
            &format!("Source \"{}\": OK: {message}\n", inert(&source.name)),
            Outcome::Ok,
        ),
        Err(e) => {
            let message = format!("source \"{}\": check failed: {e}", source.name);
            match e {
                CallError::Connector(ConnectorError::InvalidConfig(_)) => Outcome::Config(message),
                _ => Outcome::RunFailed(message),
            }
        }
    }
}

async fn run(context: &Context, args: RunArgs) -> Outcome {
    let (runtime, paths) = (&context.runtime, &context.paths);
    let (file, connector) = match load_source(context, &args.source).await {
        Ok(loaded) => loaded,
        Err(outcome) => return outcome,
    };
    // Resolving again inside the run is cheap; this is only for the notes, which a failed
    // resolution has none of (the run reports its error).
    if let Ok(source) = run::resolve(&file, &connector) {
        print_notes(&file, &source.notes);
    }
    let options = RunOptions {
        dry_run: args.dry_run,
        show_progress: true,
        scheduled_slot: None,
        allow_mass_removal: args.allow_mass_removal,
    };
    match run::run_source(
        runtime,
        &paths.inventory(),
        &file,
        &connector,
        options,
        None,
    )
    .await
    {
        Ok(report) => {
            // The run is committed: a reader that left early does not change its exit status.
            let outcome = match &report.summary.cleanup_refused {
                Some(reason) => Outcome::CleanupRefused(format!(
                    "source \"{}\": cleanup refused: {reason}",
                    report.source
                )),
                None => Outcome::Ok,
            };
            show(&report_text(&report), outcome)
        }
        Err(e) => e.into(),
    }
}

/// Prints a resolved source's notes on stderr, one line each, naming the file.
fn print_notes(file: &SourceFile, notes: &[String]) {
    for note in notes {
        eprintln!("euno-host: note: {}: {note}", file.path.display());
    }
}

/// The summary `run` and `demo` print.
pub fn report_text(report: &RunReport) -> String {
    let s = &report.summary;
    let kinds: Vec<String> = report
        .by_type
        .iter()
        .map(|(t, n)| format!("{n} {}", inert(t)))
        .collect();
    let mut text = format!(
        "Source \"{}\": run {} {} with {} {} (digest {})\n",
        inert(&report.source),
        s.run_id,
        if report.dry_run {
            "(dry run) succeeded"
        } else {
            "succeeded"
        },
        inert(&report.connector.id),
        inert(&report.connector.version),
        &report.connector.digest[..12.min(report.connector.digest.len())],
    );
    text += &format!(
        "  discovered {} resources ({}) with {} requests in {:.2} s\n",
        report.emitted,
        if kinds.is_empty() {
            "none".to_owned()
        } else {
            kinds.join(", ")
        },
        report.requests,
        report.elapsed.as_secs_f64(),
    );
    let verb = if report.dry_run { "would be " } else { "" };
    text += &format!(
        "  {verb}added {}, {verb}updated {}, unchanged {}, {verb}removed {}\n",
        s.added, s.updated, s.unchanged, s.removed
    );
    if let Some(reason) = &s.cleanup_refused {
        text += &format!("  cleanup refused: {}\n", inert(reason));
    }
    for warning in &report.warnings {
        text += &format!("  warning: {}\n", inert(warning));
    }
    if report.dry_run {
        // What a refused cleanup would have removed is listed apart: the run would not remove it.
        let remove = if s.cleanup_refused.is_some() {
            "refused: would remove"
        } else {
            "would remove"
        };
        for (label, uris) in [
            ("would add", &s.added_uris),
            ("would update", &s.updated_uris),
            (remove, &s.removed_uris),
        ] {
            for uri in uris {
                text += &format!("  {label} {}\n", inert(uri));
            }
        }
    }
    text
}

fn open_inventory(paths: &Paths) -> Result<Inventory, Outcome> {
    Inventory::open(&paths.inventory()).map_err(|e| Outcome::Internal(e.to_string()))
}

/// A resource as `resources --json` prints it.
#[derive(Serialize)]
struct ResourceView<'a> {
    uri: &'a str,
    #[serde(rename = "type")]
    resource_type: &'a str,
    name: &'a str,
    parent: Option<&'a str>,
    native_id: Option<&'a str>,
    properties: &'a serde_json::Map<String, serde_json::Value>,
    sponsors: &'a [String],
    first_seen: String,
    last_seen: String,
    last_changed: String,
}

impl<'a> ResourceView<'a> {
    fn of(r: &'a StoredResource) -> Self {
        Self {
            uri: &r.uri,
            resource_type: &r.resource_type,
            name: &r.name,
            parent: r.parent_uri.as_deref(),
            native_id: r.native_id.as_deref(),
            properties: &r.properties,
            sponsors: &r.sponsors,
            first_seen: format_timestamp(r.first_seen),
            last_seen: format_timestamp(r.last_seen),
            last_changed: format_timestamp(r.last_changed),
        }
    }
}

/// An Euno custom-integration observation: `{"uri", "properties": {"type", "name", ...}}`.
fn euno_observation(r: &StoredResource) -> serde_json::Value {
    let mut properties = serde_json::Map::new();
    properties.insert("type".to_owned(), r.resource_type.clone().into());
    properties.insert("name".to_owned(), r.name.clone().into());
    if let Some(parent) = &r.parent_uri {
        properties.insert("parent".to_owned(), parent.clone().into());
    }
    if let Some(native_id) = &r.native_id {
        properties.insert("native_id".to_owned(), native_id.clone().into());
    }
    for (key, value) in &r.properties {
        properties
            .entry(key.clone())
            .or_insert_with(|| value.clone());
    }
    serde_json::json!({ "uri": r.uri, "properties": properties })
}

fn resources(paths: &Paths, args: ResourcesArgs) -> Outcome {
    let inventory = match open_inventory(paths) {
        Ok(inventory) => inventory,
        Err(outcome) => return outcome,
    };
    let list = match inventory.resources(args.source.as_deref()) {
        Ok(list) => list,
        Err(e) => return Outcome::Internal(e.to_string()),
    };
    let format = if args.json {
        "json"
    } else {
        args.format.as_deref().unwrap_or("table")
    };
    let mut out = std::io::stdout().lock();
    let written = match format {
        "json" => {
            let views: Vec<ResourceView<'_>> = list.iter().map(ResourceView::of).collect();
            serde_json::to_writer_pretty(&mut out, &views)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out))
        }
        "euno" => list
            .iter()
            .try_for_each(|r| writeln!(out, "{}", euno_observation(r))),
        _ => {
            let mut result = writeln!(out, "{:<16} {:<56} NAME", "TYPE", "URI");
            for r in &list {
                result = result.and_then(|()| {
                    writeln!(
                        out,
                        "{:<16} {:<56} {}",
                        inert(&r.resource_type),
                        inert(&r.uri),
                        inert(&r.name)
                    )
                });
            }
            result.and_then(|()| writeln!(out, "{} resources", list.len()))
        }
    };
    written_out(written.and_then(|()| out.flush()), Outcome::Ok)
}

fn runs(paths: &Paths, args: RunsArgs) -> Outcome {
    let inventory = match open_inventory(paths) {
        Ok(inventory) => inventory,
        Err(outcome) => return outcome,
    };
    let list = match inventory.runs(args.source.as_deref(), Some(args.limit)) {
        Ok(list) => list,
        Err(e) => return Outcome::Internal(e.to_string()),
    };
    if args.json {
        return show_json(&list);
    }
    let mut text = format!(
        "{:>5}  {:<24} {:<10} {:<25} {:>7} {:>6} {:>7} {:>9} {:>7}\n",
        "RUN",
        "SOURCE",
        "OUTCOME",
        "STARTED",
        "EMITTED",
        "ADDED",
        "UPDATED",
        "UNCHANGED",
        "REMOVED"
    );
    for r in &list {
        let outcome = serde_json::to_value(r.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        text += &format!(
            "{:>5}  {:<24} {:<10} {:<25} {:>7} {:>6} {:>7} {:>9} {:>7}\n",
            r.id,
            truncate(&inert(&r.source), 24),
            outcome,
            format_timestamp(r.started_at),
            r.emitted,
            r.added,
            r.updated,
            r.unchanged,
            r.removed
        );
        if let Some(error) = &r.error {
            text += &format!("       error: {}\n", inert(error));
        }
        if let Some(reason) = &r.cleanup_refused {
            text += &format!("       cleanup refused: {}\n", inert(reason));
        }
        for warning in &r.warnings {
            text += &format!("       warning: {}\n", inert(warning));
        }
    }
    show(&text, Outcome::Ok)
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_owned()
    } else {
        text.chars().take(width - 1).chain(['…']).collect()
    }
}

fn remove_source(paths: &Paths, name: &str) -> Outcome {
    let mut inventory = match open_inventory(paths) {
        Ok(inventory) => inventory,
        Err(outcome) => return outcome,
    };
    // Every source that ever sponsored a resource has run, so a name without runs is a typo;
    // removing it would "succeed" while the source meant stays.
    match inventory.last_run(name) {
        Ok(Some(_)) => {}
        Ok(None) => {
            return Outcome::Config(format!(
                "no source named \"{name}\" has ever run in this inventory; `euno-host runs` \
                 lists the sources that have"
            ));
        }
        Err(e) => return Outcome::Internal(e.to_string()),
    }
    match inventory.remove_source(name, jiff::Timestamp::now()) {
        Ok(removed) => show(
            &format!(
                "Source \"{}\" removed; {removed} resources no longer sponsored by any source were removed\n",
                inert(name)
            ),
            Outcome::Ok,
        ),
        Err(e) => Outcome::Internal(e.to_string()),
    }
}

/// Writes `text` to standard output and returns `outcome`: see [`written_out`].
pub fn show(text: &str, outcome: Outcome) -> Outcome {
    let mut out = std::io::stdout().lock();
    let written = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    written_out(written, outcome)
}

/// `value` as pretty JSON on standard output, then success: see [`written_out`].
fn show_json<T: Serialize + ?Sized>(value: &T) -> Outcome {
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out))
        .and_then(|()| out.flush());
    written_out(written, Outcome::Ok)
}

/// The outcome of a command once its output is written. A reader that left early (EPIPE: `|
/// head -1`, a closed pager) is no failure of the command, which did what it was asked: the
/// outcome stands. Any other failure to write turns a success into an internal error (exit 1), so
/// that lost output is never silent; a failure already reported keeps its own status.
fn written_out(written: std::io::Result<()>, outcome: Outcome) -> Outcome {
    match written {
        Ok(()) => outcome,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => outcome,
        Err(e) => match outcome {
            Outcome::Ok => Outcome::Internal(format!("writing to standard output failed: {e}")),
            other => other,
        },
    }
}

/// `spec --json`.
#[derive(Serialize)]
struct SpecView<'a> {
    id: &'a str,
    display_name: &'a str,
    version: &'a str,
    description: &'a str,
    digest: &'a str,
    resource_types: &'a [String],
    base_url_field: Option<&'a str>,
    bearer_credential_field: Option<&'a str>,
    fields: Vec<FieldView<'a>>,
}

#[derive(Serialize)]
struct FieldView<'a> {
    name: &'a str,
    label: &'a str,
    description: &'a str,
    kind: &'static str,
    required: bool,
    secret: bool,
    default: Option<&'a str>,
}

fn kind_name(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Text => "text",
        FieldKind::Integer => "integer",
        FieldKind::Boolean => "boolean",
        FieldKind::Url => "url",
    }
}

impl<'a> SpecView<'a> {
    fn of(connector: &'a Connector) -> Self {
        let spec: &'a ConnectorSpec = &connector.spec;
        Self {
            id: &spec.id,
            display_name: &spec.display_name,
            version: &spec.version,
            description: &spec.description,
            digest: &connector.digest,
            resource_types: &spec.resource_types,
            base_url_field: spec.base_url_field.as_deref(),
            bearer_credential_field: spec.bearer_credential_field.as_deref(),
            fields: spec
                .fields
                .iter()
                .map(|f| FieldView {
                    name: &f.name,
                    label: &f.label,
                    description: &f.description,
                    kind: kind_name(f.kind),
                    required: f.required,
                    secret: f.secret,
                    default: f.default_value.as_deref(),
                })
                .collect(),
        }
    }
}

/// `spec`'s text. Every word of it but the digest is the component's own, so all of it is inert.
fn spec_text(connector: &Connector) -> String {
    let spec = &connector.spec;
    let mut text = format!(
        "{} ({} {}, from {}, digest {})\n{}\n\nResource types: {}\n\nSettings:\n",
        inert(&spec.display_name),
        inert(&spec.id),
        inert(&spec.version),
        inert(&connector.origin),
        &connector.digest[..12],
        inert(&spec.description),
        inert(&spec.resource_types.join(", "))
    );
    for f in &spec.fields {
        let mut flags = vec![kind_name(f.kind).to_owned()];
        if f.required {
            flags.push("required".to_owned());
        }
        if f.secret {
            flags.push("secret".to_owned());
        }
        if let Some(default) = &f.default_value {
            flags.push(format!("default {}", inert(default)));
        }
        text += &format!(
            "  {:<26} {} [{}]\n      {}\n",
            inert(&f.name),
            inert(&f.label),
            flags.join(", "),
            inert(&f.description)
        );
    }
    text
}
