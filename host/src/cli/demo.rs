//! `euno-host demo`: the whole chain on one machine with nothing else installed. It starts the
//! Hex API simulator on loopback with a synthetic workspace, discovers it with the bundled
//! connector in the sandbox, stores the result, and says how to look at it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::args::DemoArgs;
use super::context::Context;
use super::outcome::Outcome;
use super::output::show;
use super::progress::LiveProgress;
use super::render::report_text;
use super::serve::serve_with_page;
use crate::connectors;
use crate::fsutil;
use crate::run::{self, RunEvents, RunOptions, Unwatched};
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
    let hidden = Hidden::of(&workspace);
    let sim = match hex_sim::SimHandle::spawn(hex_sim::SimConfig {
        token: token.to_owned(),
        workspace,
        faults: hex_sim::Faults::default(),
    }) {
        Ok(sim) => sim,
        Err(e) => return Outcome::Internal(format!("could not start the Hex API simulator: {e}")),
    };
    if !args.quiet {
        show(
            &format!(
                "Hex API simulator listening on {} ({} projects and components)\n",
                sim.base_url(),
                args.projects
            ),
            Outcome::Ok,
        );
    }

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
        lease: None,
    };
    let live = (!args.quiet).then(|| {
        Arc::new(LiveProgress::on_stderr(
            DEMO_SOURCE,
            &connector.spec.display_name,
        ))
    });
    let events: Arc<dyn RunEvents> = match &live {
        Some(live) => live.clone(),
        None => Arc::new(Unwatched),
    };
    let ran = run::run_source(
        runtime,
        &paths.inventory(),
        &file,
        &connector,
        options,
        events,
        None,
    )
    .await;
    if let Some(live) = &live {
        live.clear();
    }
    let outcome = match ran {
        Ok(_) if args.quiet => Outcome::Ok,
        Ok(report) => {
            let mut text = report_text(&report);
            let count = |t: &str| report.by_type.get(t).copied().unwrap_or(0);
            text += &format!(
                "\nWorkspace hex.{workspace_id}: {} workspace, {} projects, {} components\n",
                count("hex_workspace"),
                count("hex_project"),
                count("hex_component"),
            );
            text += &hidden.explain(args.projects, count("hex_project") + count("hex_component"));
            let data_dir = paths.data_dir.display();
            text += "\nLook further:\n";
            text += &format!(
                "  euno-host --data-dir {data_dir} resources --source \"{DEMO_SOURCE}\"\n"
            );
            text += &format!(
                "  euno-host --data-dir {data_dir} resources --source \"{DEMO_SOURCE}\" --json\n"
            );
            text += &format!("  euno-host --data-dir {data_dir} runs\n");
            text += &format!("  euno-host --data-dir {data_dir} status\n");
            text += "  euno-host spec    (every setting of the Hex connector)\n";
            if args.http.is_none() {
                text += "  euno-host demo --http    (the Sources page)\n";
            }
            show(&text, Outcome::Ok)
        }
        Err(e) => e.into(),
    };
    match (args.http, outcome) {
        (Some(addr), Outcome::Ok) => {
            serve_demo(context, addr, &sim.base_url(), &workspace_id, token).await
        }
        (_, outcome) => outcome,
    }
}

/// Serves the Sources page over the demo's data until Ctrl-C, the simulator still up: the demo
/// source in a sources directory of its own, its token sealed as the page would keep it.
async fn serve_demo(
    context: &Context,
    addr: std::net::SocketAddr,
    base_url: &str,
    workspace_id: &str,
    token: &str,
) -> Outcome {
    let sources_dir = context.paths.data_dir.join("demo-sources");
    let vault = Vault::new(&context.paths.data_dir);
    let sealed = match vault.seal(DEMO_SOURCE, "api_token", &Secret::new(token.to_owned())) {
        Ok(sealed) => sealed,
        Err(e) => return Outcome::Internal(e.to_string()),
    };
    let text = format!(
        "name = \"{DEMO_SOURCE}\"\nconnector = \"hex\"\n\n[secrets]\napi_token = \"{sealed}\"\n\n[settings]\nbase_url = \"{base_url}\"\nworkspace_id = \"{workspace_id}\"\nworkspace_name = \"demo_workspace\"\nrequests_per_minute = 0\n"
    );
    let file = sources_dir.join("hex-demo.toml");
    if let Err(e) = fsutil::write_atomically(&file, text.as_bytes()) {
        return Outcome::Internal(format!("{}: {e}", file.display()));
    }
    let options = ServeOptions {
        sources_dir: Some(sources_dir),
        connectors_dir: context.connectors.clone(),
        inventory: context.paths.inventory(),
        max_parallel: 2,
        poll: Duration::from_secs(1),
        settle: Duration::from_millis(200),
        shutdown_grace: Duration::from_secs(10),
        lease: Duration::from_secs(60),
        connectors_from_database: false,
        vault,
    };
    show("Press Ctrl-C to stop.\n", Outcome::Ok);
    serve_with_page(context, options, Some(addr), None).await
}

/// What the Hex API leaves out unless asked, as the simulator serves it: the demo says so, so
/// that 300 served and 256 discovered is no mystery.
struct Hidden {
    components: usize,
    archived: usize,
    trashed: usize,
}

impl Hidden {
    fn of(workspace: &hex_sim::Workspace) -> Self {
        let count = |hidden: fn(&hex_sim::Project) -> bool| {
            workspace.projects.iter().filter(|p| hidden(p)).count()
        };
        Self {
            components: count(hex_sim::Project::is_component),
            archived: count(hex_sim::Project::is_archived),
            trashed: count(hex_sim::Project::is_trashed),
        }
    }

    /// Why `discovered` of `served` projects and components were discovered, and the settings
    /// of a source file that would include the rest.
    fn explain(&self, served: usize, discovered: u64) -> String {
        let mut text = format!(
            "\nThe simulator serves {served} projects and components; {discovered} were discovered.\n"
        );
        let reasons = [
            (self.components, "components", "include_components"),
            (self.archived, "archived", "include_archived"),
            (self.trashed, "in the trash", "include_trashed"),
        ];
        if reasons.iter().all(|(n, _, _)| *n == 0) {
            return text;
        }
        text += "Like Hex's API, the connector leaves out by default (a project may be both \
                 archived and in the trash):\n";
        for (n, what, setting) in reasons.into_iter().filter(|(n, _, _)| *n > 0) {
            text += &format!(
                "  {n:>5} {what:<13} include them with `{setting} = true` in [settings]\n"
            );
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_names_what_is_left_out_and_the_setting_for_it() {
        let hidden = Hidden {
            components: 24,
            archived: 12,
            trashed: 0,
        };
        let text = hidden.explain(300, 264);
        assert!(text.contains("serves 300 projects and components; 264 were discovered"));
        assert!(
            text.contains("   24 components    include them with `include_components = true`"),
            "{text}"
        );
        assert!(text.contains("include_archived = true"), "{text}");
        assert!(
            !text.contains("include_trashed"),
            "nothing in the trash: {text}"
        );
        let none = Hidden {
            components: 0,
            archived: 0,
            trashed: 0,
        };
        assert!(!none.explain(5, 5).contains("leaves out"));
    }
}
