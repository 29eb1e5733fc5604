//! `hex-sim`: run the Hex API simulator from the command line, or (`hex-sim minidash`) the
//! Minidash API of the example connector.
//!
//! For demos and for clients in another process (a peer connector being benchmarked, a manual
//! `curl`). It prints one line with the base URL once it is listening, so a script can wait for
//! that line, and serves until Ctrl-C.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use hex_sim::minidash::{MinidashConfig, MinidashFaults, MinidashServer, MinidashWorkspace};
use hex_sim::{
    ErrorShape, Faults, RateLimitBurst, Scope, ServerErrorBurst, SimConfig, Simulator, SlowPage,
    Workspace,
};

/// A local HTTP server that behaves like the Hex public API v1 (or, with `minidash`, like the
/// Minidash API of the example connector).
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    /// Serve another API instead of Hex.
    #[command(subcommand)]
    api: Option<Api>,
    /// How many synthetic projects to serve.
    #[arg(long, default_value_t = 250, conflicts_with = "from_json")]
    projects: usize,
    /// The seed of the synthetic workspace: the same seed serves the same bytes.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Serve this JSON fixture instead: `{"id", "name", "projects": [...], "lineage": {...}}` or an
    /// array of projects.
    #[arg(long, value_name = "FILE")]
    from_json: Option<PathBuf>,
    /// The port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The bearer token clients must send.
    #[arg(long, default_value = SimConfig::DEFAULT_TOKEN)]
    token: String,
    /// Override the workspace id (`org.id` of `/users/me`).
    #[arg(long)]
    workspace_id: Option<String>,
    /// Override the workspace name.
    #[arg(long)]
    workspace_name: Option<String>,
    /// Serve the workspace as Enterprise: `queriedTables` answers instead of 403.
    #[arg(long)]
    enterprise: bool,

    /// Allow this many `GET /projects` requests per fixed one-minute window; excess gets 429.
    #[arg(long, value_name = "N", help_heading = "Faults")]
    rate_limit_per_minute: Option<u32>,
    /// Send no `Retry-After` header with the 429s of --rate-limit-per-minute.
    #[arg(long, help_heading = "Faults")]
    no_retry_after: bool,
    /// Send `Retry-After` as an HTTP date (when the wait ends) instead of seconds.
    #[arg(long, help_heading = "Faults")]
    retry_after_date: bool,
    /// Fail COUNT `GET /projects` requests from request START with STATUS (default 500).
    #[arg(long, value_name = "START:COUNT[:STATUS]", help_heading = "Faults")]
    server_errors: Option<ServerErrorBurst>,
    /// Answer COUNT `GET /projects` requests from request START with 429, with `Retry-After`
    /// SECS (default 1) or none.
    #[arg(long, value_name = "START:COUNT[:SECS|none]", help_heading = "Faults")]
    rate_limit_burst: Option<RateLimitBurst>,
    /// Wait this long before every API response.
    #[arg(long, value_name = "MS", default_value_t = 0, help_heading = "Faults")]
    delay_ms: u64,
    /// Wait DELAY_MS more before sending page PAGE.
    #[arg(long, value_name = "PAGE:DELAY_MS", help_heading = "Faults")]
    slow_page: Option<SlowPage>,
    /// Send a body that is not JSON as page N (1-based, counting pages served).
    #[arg(long, value_name = "N", help_heading = "Faults")]
    malformed_page: Option<u32>,
    /// Send only the first half of page N's JSON.
    #[arg(long, value_name = "N", help_heading = "Faults")]
    truncated_page: Option<u32>,
    /// Return the same non-null `after` cursor on every page, forever.
    #[arg(long, help_heading = "Faults")]
    repeat_cursor: bool,
    /// Answer every API request 403, naming SCOPE as the missing token scope.
    #[arg(long, value_name = "SCOPE", help_heading = "Faults")]
    forbidden: Option<String>,
    /// The token lacks this read scope (repeatable): data-connections, cells, runs,
    /// queried-tables, export or users; those endpoints answer 403.
    #[arg(long, value_name = "SCOPE", help_heading = "Faults")]
    missing_scope: Vec<Scope>,
    /// The JSON error body shape: reason-details or code-message.
    #[arg(long, value_name = "SHAPE", default_value_t = ErrorShape::ReasonDetails, help_heading = "Faults")]
    error_shape: ErrorShape,
}

#[derive(Debug, Subcommand)]
enum Api {
    /// Serve the Minidash API (`examples/minidash/README.md`) under `/api` instead of Hex.
    Minidash(MinidashArgs),
}

/// The options of `hex-sim minidash`.
#[derive(Debug, Args)]
struct MinidashArgs {
    /// How many synthetic datasets to serve.
    #[arg(long, default_value_t = 40, conflicts_with = "from_json")]
    datasets: usize,
    /// How many synthetic dashboards to serve.
    #[arg(long, default_value_t = 60, conflicts_with = "from_json")]
    dashboards: usize,
    /// The seed of the synthetic workspace: the same seed serves the same bytes.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Serve this JSON fixture instead: `{"datasets": [...], "dashboards": [...]}`.
    #[arg(long, value_name = "FILE")]
    from_json: Option<PathBuf>,
    /// The port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The key clients must send as `X-Api-Key`.
    #[arg(long, default_value = MinidashConfig::DEFAULT_API_KEY)]
    api_key: String,
    /// Answer COUNT API requests from request START with 429, with `Retry-After` SECS (default
    /// 1) or none.
    #[arg(long, value_name = "START:COUNT[:SECS|none]", help_heading = "Faults")]
    rate_limit_burst: Option<RateLimitBurst>,
    /// Fail COUNT API requests from request START with STATUS (default 500).
    #[arg(long, value_name = "START:COUNT[:STATUS]", help_heading = "Faults")]
    server_errors: Option<ServerErrorBurst>,
}

impl Cli {
    fn faults(&self) -> Faults {
        Faults {
            rate_limit_per_minute: self.rate_limit_per_minute,
            retry_after: !self.no_retry_after,
            retry_after_http_date: self.retry_after_date,
            server_errors: self.server_errors,
            rate_limit_burst: self.rate_limit_burst,
            delay_ms: self.delay_ms,
            slow_page: self.slow_page,
            malformed_page: self.malformed_page,
            truncated_page: self.truncated_page,
            repeat_cursor: self.repeat_cursor,
            forbidden: self.forbidden.clone(),
            missing_scopes: self.missing_scope.clone(),
            error_shape: self.error_shape,
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Api::Minidash(args)) = cli.api {
        return serve_minidash(args).await;
    }
    let mut workspace = match &cli.from_json {
        Some(path) => Workspace::from_json_file(path)?,
        None => Workspace::synthetic(cli.seed, cli.projects),
    };
    if let Some(id) = &cli.workspace_id {
        workspace.id.clone_from(id);
    }
    if let Some(name) = &cli.workspace_name {
        workspace.name.clone_from(name);
    }
    if cli.enterprise {
        workspace.lineage.enterprise = true;
    }
    let config = SimConfig {
        token: cli.token.clone(),
        workspace,
        faults: cli.faults(),
    };
    let simulator = Simulator::new(config)?;

    let listener = listen(cli.port, |addr| {
        format!(
            "hex-sim listening on http://{addr}/api/v1 ({} projects)",
            simulator.project_count()
        )
    })
    .await?;

    simulator
        .serve(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// `hex-sim minidash`: the same listening line and Ctrl-C as for Hex.
async fn serve_minidash(args: MinidashArgs) -> anyhow::Result<()> {
    let workspace = match &args.from_json {
        Some(path) => MinidashWorkspace::from_json_file(path)?,
        None => MinidashWorkspace::synthetic(args.seed, args.datasets, args.dashboards),
    };
    let server = MinidashServer::new(MinidashConfig {
        api_key: args.api_key,
        workspace,
        faults: MinidashFaults {
            rate_limit_burst: args.rate_limit_burst,
            server_errors: args.server_errors,
        },
    })?;
    let (datasets, dashboards) = server.counts();
    let listener = listen(args.port, |addr| {
        format!(
            "hex-sim listening on http://{addr}/api (Minidash: {datasets} datasets, {dashboards} dashboards)"
        )
    })
    .await?;

    server
        .serve(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// Listens on loopback `port` (0: any free port) and prints `announce(address)` as the first line
/// of stdout, flushed, which is how callers learn where the simulator is.
async fn listen(
    port: u16,
    announce: impl FnOnce(std::net::SocketAddr) -> String,
) -> anyhow::Result<tokio::net::TcpListener> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}; is the port taken?"))?;
    let addr = listener
        .local_addr()
        .context("cannot read the listening address")?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", announce(addr))?;
    stdout.flush()?;
    Ok(listener)
}
