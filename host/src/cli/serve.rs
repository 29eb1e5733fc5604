//! `serve` and `status`.

use std::time::Duration;

use super::args::{ServeArgs, StatusArgs};
use super::context::{Context, Paths};
use super::outcome::Outcome;
use super::output::{show, show_json};
use super::render::status_text;
use super::table::Layout;
use crate::scheduler::{self, ServeOptions};

/// `serve`: runs every enabled source on its schedule until SIGINT or SIGTERM.
pub async fn serve(context: &Context, args: ServeArgs) -> Outcome {
    if let Some(worker) = args.worker {
        crate::inventory::set_worker(worker);
    }
    // With a shared database and no connectors directory of its own, a worker runs the
    // connectors stored in the database, copied into a cache in its data directory.
    let connectors_from_database = context.paths.database.is_some() && context.connectors.is_none();
    let connectors_dir = if connectors_from_database {
        Some(context.paths.data_dir.join("connectors-from-database"))
    } else {
        context.connectors.clone()
    };
    let options = ServeOptions {
        sources_dir: args.sources,
        connectors_dir,
        connectors_from_database,
        inventory: context.paths.inventory(),
        max_parallel: args.max_parallel,
        poll: Duration::from_millis(args.poll_ms.max(10)),
        settle: Duration::from_millis(args.settle_ms),
        shutdown_grace: Duration::from_secs(args.shutdown_grace_seconds),
        lease: Duration::from_secs(args.lease_seconds),
    };
    match scheduler::serve(context.runtime.clone(), options).await {
        Ok(()) => Outcome::Ok,
        Err(e) => e.into(),
    }
}

/// `status`: each source's schedule, next run and last run, from the inventory and, with
/// `--sources`, the sources directory.
pub fn status(paths: &Paths, args: StatusArgs) -> Outcome {
    let now = jiff::Timestamp::now();
    let list = match scheduler::status(args.sources.as_deref(), &paths.inventory(), now) {
        Ok(list) => list,
        Err(e) => return e.into(),
    };
    if args.json {
        return show_json(&list);
    }
    show(&status_text(&list, now, Layout::stdout()), Outcome::Ok)
}
