//! `serve` and `status`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::args::{ServeArgs, StatusArgs};
use super::context::{Context, Paths};
use super::outcome::Outcome;
use super::output::{show, show_json};
use super::render::status_text;
use super::table::Layout;
use crate::scheduler::{self, ServeError, ServeOptions};
use crate::secret::Secret;
use crate::vault::Vault;
use crate::web::{self, DatabaseStore, FileStore, SourceStore, WebOptions};

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
        vault: Vault::new(&context.paths.data_dir),
    };
    serve_with_page(context, options, args.http, args.admin_token).await
}

/// Runs the scheduler, and beside it the Sources page when `http` is given; prints the page's
/// URL on stdout once it listens. The page edits the sources the scheduler schedules: the
/// definitions in a shared database (`--database`), else the files of `--sources`.
pub async fn serve_with_page(
    context: &Context,
    options: ServeOptions,
    http: Option<SocketAddr>,
    admin_token: Option<String>,
) -> Outcome {
    let page = match http {
        Some(addr) => {
            let store: Arc<dyn SourceStore> = match (&context.paths.database, &options.sources_dir)
            {
                (Some(database), _) => Arc::new(DatabaseStore::new(database.clone())),
                (None, Some(dir)) => {
                    if let Err(e) = std::fs::create_dir_all(dir) {
                        return Outcome::Config(format!(
                            "{}: cannot create the sources directory: {e}",
                            dir.display()
                        ));
                    }
                    Arc::new(FileStore::new(dir))
                }
                (None, None) => return ServeError::NoSources.into(),
            };
            let web = WebOptions {
                addr,
                admin_token: admin_token.map(Secret::new),
                store,
                sources_dir: options.sources_dir.clone(),
                connectors_dir: options.connectors_dir.clone(),
                inventory: options.inventory.clone(),
                vault: options.vault.clone(),
            };
            match web::start(context.runtime.clone(), web).await {
                Ok(server) => {
                    show(
                        &format!("The Sources page: http://{}/\n", server.addr),
                        Outcome::Ok,
                    );
                    Some(server)
                }
                Err(e) => return e.into(),
            }
        }
        None => None,
    };
    let outcome = match scheduler::serve(context.runtime.clone(), options).await {
        Ok(()) => Outcome::Ok,
        Err(e) => e.into(),
    };
    if let Some(server) = page {
        server.stop().await;
    }
    outcome
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
