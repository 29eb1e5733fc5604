//! A local HTTP server that behaves like the Hex public API v1.
//!
//! The Hex connector cannot be demonstrated, tested or benchmarked against a real Hex workspace:
//! the API needs a paid plan and an admin, it is rate limited, and it will not fail on cue. This
//! crate stands in for it, with Hex's authentication (plain-text 401), error shapes and
//! `x-trace-id`, over a deterministic synthetic workspace or a JSON fixture, and it can inject the
//! faults a connector must survive ([`Faults`]). It serves, under `/api/v1`:
//!
//! | endpoint | what |
//! |---|---|
//! | `GET /projects` | cursor pages (`limit` 1..100, `after`, `before`), `include{Archived,Components,Trashed,Sharing}`, `sortBy` `CREATED_AT` (default) / `LAST_EDITED_AT` / `LAST_PUBLISHED_AT`, `sortDirection` `DESC` (default) / `ASC` |
//! | `GET /projects/{id}` | one project |
//! | `GET /users/me` | the API user, with the workspace as `org` (`org.id`) |
//! | `GET /data-connections`, `GET /data-connections/{id}` | connections, cursor paged, `sortBy` `CREATED_AT` / `NAME`; full and short forms |
//! | `GET /cells?projectId=` | a project's draft cells, cursor paged, imported components' SQL cells inlined unmarked |
//! | `GET /projects/{id}/runs` | runs newest first, `limit`/`offset` paging with `nextPage`/`previousPage` URLs, `statusFilter`, `runTriggerFilter` |
//! | `GET /projects/{id}/queriedTables` | tables a published project's runs queried, cursor paged; 403 `{"message"}` unless [`Lineage::enterprise`] |
//! | `POST /projects/export` | `{"projectId", "version"}` → `{"filename", "content"}`, the project as YAML, component imports as `config.component: {id, version}` |
//! | `GET /collections`, `GET /groups`, `GET /users` | the directory the projects' sharing reveals, cursor paged |
//!
//! and, outside the API and without auth, `GET /__sim/stats`: [`SimStats`] and, under
//! `endpoints`, [`EndpointStats`].
//!
//! Lineage tests compare a connector against the ground truth: [`Workspace::expected_lineage`]
//! says which warehouse tables each project's own SQL reads, which connections and components it
//! uses, and its latest run; [`Workspace::edited`] changes a workspace between two runs.
//!
//! ```no_run
//! use hex_sim::{SimConfig, SimHandle, Workspace};
//!
//! let sim = SimHandle::spawn(SimConfig::new(Workspace::synthetic(42, 250)))?;
//! println!("point the connector at {} with token {}", sim.base_url(), SimConfig::DEFAULT_TOKEN);
//! # Ok::<(), hex_sim::SimError>(())
//! ```
//!
//! The facts the simulator follows are in `shared/hex-api.md`; where Hex's behaviour is unknown
//! the choice made is documented on the item it affects.
//!
//! The crate also serves a second API, [`minidash`]: the small BI service of the example
//! connector in `examples/minidash`, with its own workspace, handle, knobs and counts
//! (`hex-sim minidash` on the command line).

mod catalog;
mod cursor;
mod error;
mod export;
mod faults;
mod handle;
mod lineage;
pub mod minidash;
mod model;
mod server;
mod stats;
mod synthetic;
mod timestamp;

pub use error::SimError;
pub use faults::{
    ErrorShape, Faults, ParseFaultError, RateLimitBurst, Scope, ServerErrorBurst, SlowPage,
};
pub use handle::SimHandle;
pub use lineage::{
    Cell, CellContents, ComponentRef, DataConnection, ExpectedLineage, Lineage, ProjectContent,
    QueriedTable, Run, SourceContents, SqlContents, platform_of,
};
pub use model::{
    Access, Analytics, AppViews, Category, CollectionAccess, Field, GroupAccess, Named, Person,
    Project, Reviews, Schedule, Sharing, UserAccess, Workspace,
};
pub use server::{SimConfig, Simulator, serve};
pub use stats::{EndpointStats, ProjectRequests, SimStats};
pub use synthetic::EditSummary;
pub use timestamp::{REFERENCE_MILLIS, REFERENCE_TIMESTAMP, format_millis};
