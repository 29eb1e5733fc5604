//! The Sources page and its JSON API, served by `serve --http` (and `demo --http`) beside the
//! scheduler, over the same sources directory, inventory and connectors.
//!
//! Its modules, bottom-up: [`access`] (who may do what: loopback, the admin token, sessions,
//! CSRF, cross-origin refusal), [`sources`] (where definitions live, behind [`SourceStore`], and
//! the one model the page and the API edit), [`service`] (every operation, once), [`api`] (the
//! JSON routes), [`pages`] (the HTML routes); this module binds, layers the security headers
//! and the body limit over both, and shuts down.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, header};
use tokio::sync::watch;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::inventory::Database;
use crate::sandbox::{LoadError, Runtime};
use crate::secret::Secret;
use crate::vault::Vault;

pub mod access;
pub mod api;
pub mod pages;
pub mod service;
pub mod sources;

pub use access::Access;
pub use service::Service;
pub use sources::{DatabaseStore, FileStore, SourceStore};

/// The largest request body taken, in bytes: a source is a few KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The Content-Security-Policy of every answer: no script at all, nothing from elsewhere, no
/// framing, forms posting only here.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                       frame-ancestors 'none'; base-uri 'none'";

/// How to serve.
pub struct WebOptions {
    /// Where to listen.
    pub addr: SocketAddr,
    /// The admin token; required unless `addr` is loopback.
    pub admin_token: Option<Secret>,
    /// Where the source definitions live: the ones `serve` schedules.
    pub store: Arc<dyn SourceStore>,
    /// The source files (`serve --sources`), if any.
    pub sources_dir: Option<PathBuf>,
    /// The connectors directory, if any.
    pub connectors_dir: Option<PathBuf>,
    /// The inventory.
    pub inventory: Database,
    /// The key of sealed secrets.
    pub vault: Vault,
}

impl std::fmt::Debug for WebOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebOptions")
            .field("addr", &self.addr)
            .field("admin_token", &self.admin_token)
            .field("sources_dir", &self.sources_dir)
            .finish_non_exhaustive()
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebError {
    /// A non-loopback address without an admin token.
    #[error(
        "--http {addr}: serving on an address other than loopback needs an admin token \
         (--admin-token or EUNO_ADMIN_TOKEN); or bind 127.0.0.1"
    )]
    NeedsToken {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The address cannot be bound.
    #[error("--http {addr}: cannot listen: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The admin token is unusable.
    #[error("the admin token must be at least 16 characters, with no spaces or control characters")]
    WeakToken,
    /// The connectors cannot be loaded.
    #[error(transparent)]
    Connectors(#[from] LoadError),
}

/// A running server: its address, and how to stop it.
pub struct WebServer {
    /// Where it listens.
    pub addr: SocketAddr,
    service: Arc<Service>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl WebServer {
    /// Stops accepting requests, cancels the runs started from the page and waits for them to
    /// be recorded.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        self.service.finish_runs().await;
    }
}

/// The whole application: both route sets, the access guard, the headers, the body limit.
pub fn app(service: Arc<Service>, access: Arc<Access>) -> Router {
    let pages = Arc::new(pages::Pages {
        service: Arc::clone(&service),
        access: Arc::clone(&access),
    });
    let header = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    Router::new()
        .nest("/api/v1", api::routes().with_state(service))
        .merge(pages::routes().with_state(pages))
        .layer(axum::middleware::from_fn_with_state(access, access::guard))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(header(header::CONTENT_SECURITY_POLICY, CSP))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // `same-origin`, not `no-referrer`: under the latter a browser's form posts say `Origin: null`.
        .layer(header(header::REFERRER_POLICY, "same-origin"))
        .layer(header(header::CACHE_CONTROL, "no-store"))
        .layer(header(
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ))
        .layer(header(
            HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ))
}

/// Binds and starts serving; refuses a non-loopback address without an admin token.
pub async fn start(runtime: Runtime, options: WebOptions) -> Result<WebServer, WebError> {
    if let Some(token) = &options.admin_token {
        let text = token.expose();
        if text.len() < 16 || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(WebError::WeakToken);
        }
    } else if !options.addr.ip().is_loopback() {
        return Err(WebError::NeedsToken { addr: options.addr });
    }
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|source| WebError::Bind {
            addr: options.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| WebError::Bind {
        addr: options.addr,
        source,
    })?;
    let (stop, stopped) = watch::channel(false);
    let service = Arc::new(
        Service::new(
            runtime,
            options.inventory,
            options.connectors_dir.as_deref(),
            options.store,
            options.vault,
            stopped.clone(),
        )
        .await?,
    );
    let access = Arc::new(Access::new(options.admin_token));
    let app = app(Arc::clone(&service), access);
    let mut shutdown = stopped;
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = shutdown.wait_for(|stop| *stop).await;
            })
            .await;
        if let Err(error) = served {
            tracing::error!("the Sources page stopped: {error}");
        }
    });
    tracing::info!(%addr, "the Sources page is listening");
    Ok(WebServer {
        addr,
        service,
        stop,
        task,
    })
}
