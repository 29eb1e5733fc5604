//! Write Euno source connectors in Rust.
//!
//! A connector is a WASI 0.2 component implementing the `euno:connector@0.2.0` contract
//! (`wit/v0.2.0/connector.wit`): it declares its settings (`spec`), checks that it can reach its
//! source (`check`) and discovers the source's resources (`discover`), which `euno-host` keeps
//! in its inventory. This crate is everything such a connector shares, so that the connector's
//! own code is its API model, its settings and its mapping:
//!
//! - [`Connector`], the trait to implement, and [`export!`], which makes it the component;
//! - [`types`], the contract's types, with builders ([`spec`], [`resource`]);
//! - [`Config`], typed access to settings with errors naming the field;
//! - [`http`], a client with throttle, retries, timeouts, typed errors and cursor [`pages`];
//! - [`Context`]: emitting in batches, log, progress and checkpoint saving; [`Run`]: the run's
//!   facts and the last checkpoint;
//! - [`timestamp`], RFC 3339 and HTTP-date;
//! - `testing` (feature `testing`), a native harness: a fake host and canned HTTP.
//!
//! # Quick start
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib", "rlib"]
//!
//! [dependencies]
//! euno-connector-sdk = { path = "../sdk" }
//! serde = { version = "1", features = ["derive"] }
//!
//! [dev-dependencies]
//! euno-connector-sdk = { path = "../sdk", features = ["testing"] }
//! ```
//!
//! `src/lib.rs`:
//!
//! ```
//! use euno_connector_sdk::prelude::*;
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Page {
//!     items: Vec<Book>,
//!     next_cursor: Option<String>,
//! }
//!
//! #[derive(Deserialize)]
//! struct Book {
//!     id: String,
//!     title: String,
//! }
//!
//! pub struct Bookshelf;
//!
//! impl Connector for Bookshelf {
//!     fn spec() -> ConnectorSpec {
//!         ConnectorSpec::new("bookshelf", "Bookshelf", env!("CARGO_PKG_VERSION"))
//!             .description("Discovers the books of a Bookshelf library.")
//!             .field(ConfigField::url("base_url", "Base URL").required())
//!             .field(ConfigField::secret("api_key", "API key"))
//!             .field(fields::requests_per_minute(60))
//!             .resource_types(["bookshelf_book"])
//!             .base_url_field("base_url")
//!             .credential(CredentialScheme::header("x-api-key", "api_key"))
//!     }
//!
//!     fn check(_: &Config, cx: &mut Context) -> Result<String, ConnectorError> {
//!         cx.http().json::<Page>(Request::get("/books").query("limit", 1))?;
//!         Ok("Bookshelf answers and the API key can list books".to_owned())
//!     }
//!
//!     fn discover(_: &Config, _: &Run, cx: &mut Context) -> Result<(), ConnectorError> {
//!         let first = Request::get("/books").query("limit", 100);
//!         let mut listing = pages(first, "cursor", |page: &Page| page.next_cursor.clone());
//!         while let Some(page) = listing.next(cx.http())? {
//!             for book in page.items {
//!                 let uri = uri(["bookshelf", "books", &book.id]);
//!                 cx.emit(Resource::new(uri, "bookshelf_book", book.title).native_id(book.id));
//!             }
//!         }
//!         Ok(())
//!     }
//! }
//!
//! euno_connector_sdk::export!(Bookshelf);
//! ```
//!
//! Build the component with `cargo build --target wasm32-wasip2 --release`; the `.wasm` in
//! `target/wasm32-wasip2/release/` is the connector (`connector = "<path>"` in a source file).
//!
//! # Testing
//!
//! With the `testing` feature, `euno_connector_sdk::testing::Harness` runs the connector's
//! `check` and `discover` natively: canned HTTP answers by route, a clock that records sleeps
//! without sleeping, and a fake host that captures emitted resources, logs, progress, waits and
//! the checkpoint, and fails the test on any rule the host would enforce. See its docs.

pub mod config;
pub mod connector;
pub mod context;
pub mod http;
pub mod ports;
pub mod resource;
pub mod spec;
pub mod timestamp;
pub mod types;

#[doc(hidden)]
pub mod bindings;
#[cfg(target_arch = "wasm32")]
mod platform;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use config::Config;
pub use connector::Connector;
pub use context::{Context, Run};
pub use http::{Client, HttpOptions, Pages, Request, pages};

/// What a connector's code usually needs, in one `use`.
pub mod prelude {
    pub use crate::resource::{uri, uri_segment};
    pub use crate::spec::fields;
    pub use crate::timestamp::parse_rfc3339;
    pub use crate::types::{
        ConfigField, ConnectorError, ConnectorSpec, CredentialScheme, LogLevel, PropertyValue,
        Resource,
    };
    pub use crate::{Config, Connector, Context, HttpOptions, Pages, Request, Run, pages};
}

/// What [`export!`] expands to needs; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings;
    pub use crate::bindings::exports::euno::connector::connector::Guest;
    #[cfg(target_arch = "wasm32")]
    pub use crate::connector::exports;
}
