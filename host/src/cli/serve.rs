//! `serve` and `status`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::args::{ServeArgs, StatusArgs};
use super::context::{Context, Paths};
use super::outcome::Outcome;
use super::output::{show, show_json};
use super::render::status_text;
use crate::scheduler::{self, ServeOptions};
use crate::secret::Secret;
use crate::vault::Vault;
use crate::web::{self, WebOptions};

/// `serve`: runs every enabled source on its schedule until SIGINT or SIGTERM.
pub async fn serve(context: &Context, args: ServeArgs) -> Outcome {
    let vault = Arc::new(Vault::new(&context.paths.data_dir));
    let options = ServeOptions {
        sources_dir: args.sources,
        connectors_dir: context.connectors.clone(),
        inventory: context.paths.inventory(),
        max_parallel: args.max_parallel,
        poll: Duration::from_millis(args.poll_ms.max(10)),
        settle: Duration::from_millis(args.settle_ms),
        shutdown_grace: Duration::from_secs(args.shutdown_grace_seconds),
        vault,
    };
    serve_with_page(context, options, args.http, args.admin_token).await
}

/// Runs the scheduler, and beside it the Sources page when `http` is given; prints the page's
/// URL on stdout once it listens.
pub async fn serve_with_page(
    context: &Context,
    options: ServeOptions,
    http: Option<SocketAddr>,
    admin_token: Option<String>,
) -> Outcome {
    let page = match http {
        Some(addr) => {
            let web = WebOptions {
                addr,
                admin_token: admin_token.map(Secret::new),
                sources_dir: options.sources_dir.clone(),
                connectors_dir: options.connectors_dir.clone(),
                inventory: options.inventory.clone(),
                vault: Arc::clone(&options.vault),
            };
            if let Err(e) = std::fs::create_dir_all(&options.sources_dir) {
                return Outcome::Config(format!(
                    "{}: cannot create the sources directory: {e}",
                    options.sources_dir.display()
                ));
            }
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

/// `status`: each source's schedule, next run and last run.
pub fn status(paths: &Paths, args: StatusArgs) -> Outcome {
    let list = match scheduler::status(&args.sources, &paths.inventory(), jiff::Timestamp::now()) {
        Ok(list) => list,
        Err(e) => return e.into(),
    };
    if args.json {
        return show_json(&list);
    }
    show(&status_text(&list), Outcome::Ok)
}
