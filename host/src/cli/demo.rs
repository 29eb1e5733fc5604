//! `euno-host demo`: the whole chain on one machine with nothing else installed. It starts the
//! Hex API simulator on loopback with a synthetic workspace, discovers it with the bundled
//! connector in the sandbox, stores the result, and says how to look at it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::args::DemoArgs;
use super::context::Context;
use super::outcome::Outcome;
use super::output::show;
use super::render::{ProgressLine, report_text};
use super::serve::serve_with_page;
use crate::connectors;
use crate::fsutil;
use crate::run::{self, RunOptions};
use crate::scheduler::ServeOptions;
use crate::secret::Secret;
use crate::source::SourceFile;
use crate::vault::Vault;

/// The demo source's name in the inventory.
pub const DEMO_SOURCE: &str = "Hex demo";

/// Runs the demo.
pub async fn demo(context: &Context, args: DemoArgs) -> Outcome {
    let runtime = &context.runtime;
    let paths = &context.paths;
    let token = "hxtp_demo_token";
    let workspace = hex_sim::Workspace::synthetic(args.seed, args.projects);
    let workspace_id = workspace.id.clone();
    let sim = match hex_sim::SimHandle::spawn(hex_sim::SimConfig {
        token: token.to_owned(),
        workspace,
        faults: hex_sim::Faults::default(),
    }) {
        Ok(sim) => sim,
        Err(e) => return Outcome::Internal(format!("could not start the Hex API simulator: {e}")),
    };
    show(
        &format!(
            "Hex API simulator listening on {} ({} projects)\n",
            sim.base_url(),
            args.projects
        ),
        Outcome::Ok,
    );

    // The token is a literal here; a real source file would say api_token = "${HEX_API_TOKEN}".
    let text = format!(
        "name = \"{DEMO_SOURCE}\"\nconnector = \"hex\"\n\n[secrets]\napi_token = \"{token}\"\n\n[settings]\nbase_url = \"{}\"\nworkspace_id = \"{workspace_id}\"\nworkspace_name = \"demo_workspace\"\nrequests_per_minute = 0\n",
        sim.base_url()
    );
    let file = match SourceFile::parse(Path::new("<demo source>"), &text) {
        Ok(file) => file,
        // The demo writes its own source file: a mistake in it is the program's, not the user's.
        Err(e) => return Outcome::Internal(e.to_string()),
    };
    let connector = match connectors::load_bundled(runtime).await {
        Ok(connector) => connector,
        Err(e) => return e.into(),
    };
    let options = RunOptions {
        dry_run: false,
        scheduled_slot: None,
        allow_mass_removal: false,
        full: false,
    };
    match run::run_source(
        runtime,
        &paths.inventory(),
        &file,
        &connector,
        options,
        Arc::new(ProgressLine::on_stderr()),
        None,
    )
    .await
    {
        Ok(report) => {
            let mut text = report_text(&report);
            let count = |t: &str| report.by_type.get(t).copied().unwrap_or(0);
            text += &format!(
                "\nWorkspace hex.{workspace_id}: {} workspace, {} projects, {} components\n",
                count("hex_workspace"),
                count("hex_project"),
                count("hex_component"),
            );
            let data_dir = paths.data_dir.display();
            text += "\nLook at what was discovered:\n";
            text += &format!(
                "  euno-host --data-dir {data_dir} resources --source \"{DEMO_SOURCE}\"\n"
            );
            text += &format!(
                "  euno-host --data-dir {data_dir} resources --source \"{DEMO_SOURCE}\" --json\n"
            );
            text += &format!("  euno-host --data-dir {data_dir} runs\n");
            if args.http.is_none() {
                text += "  or the Sources page: euno-host demo --http\n";
            }
            show(&text, Outcome::Ok);
        }
        Err(e) => return e.into(),
    }
    match args.http {
        Some(addr) => serve_demo(context, addr, &sim.base_url(), &workspace_id, token).await,
        None => Outcome::Ok,
    }
}

/// Serves the Sources page over the demo's data, with the demo source in a sources directory of
/// its own (its token sealed, as the page would keep it), until Ctrl-C.
async fn serve_demo(
    context: &Context,
    addr: std::net::SocketAddr,
    base_url: &str,
    workspace_id: &str,
    token: &str,
) -> Outcome {
    let sources_dir = context.paths.data_dir.join("demo-sources");
    let text = format!(
        "name = \"{DEMO_SOURCE}\"\nconnector = \"hex\"\n\n[settings]\nbase_url = \"{base_url}\"\nworkspace_id = \"{workspace_id}\"\nworkspace_name = \"demo_workspace\"\nrequests_per_minute = 0\n"
    );
    let vault = Arc::new(Vault::new(&context.paths.data_dir));
    let secrets = BTreeMap::from([("api_token".to_owned(), Secret::new(token.to_owned()))]);
    if let Err(e) = vault.seal(DEMO_SOURCE, &secrets) {
        return Outcome::Internal(e.to_string());
    }
    if let Err(e) = fsutil::write_atomically(&sources_dir.join("hex-demo.toml"), text.as_bytes()) {
        return Outcome::Internal(format!("{}: {e}", sources_dir.display()));
    }
    let options = ServeOptions {
        sources_dir,
        connectors_dir: context.connectors.clone(),
        inventory: context.paths.inventory(),
        max_parallel: 2,
        poll: Duration::from_secs(1),
        settle: Duration::from_millis(200),
        shutdown_grace: Duration::from_secs(10),
        vault,
    };
    show("Press Ctrl-C to stop.\n", Outcome::Ok);
    serve_with_page(context, options, Some(addr), None).await
}
