//! A local HTTP server that behaves like the Hex public API v1.
//!
//! The Hex connector cannot be demonstrated, tested or benchmarked against a real Hex workspace:
//! the API needs a paid plan and an admin, it is rate limited, and it will not fail on cue. This
//! crate stands in for it. It serves `GET /projects` (cursor pagination, visibility flags,
//! optional sharing), `GET /projects/{id}`, `GET /users/me` and two stubs a peer client calls,
//! with Hex's authentication and error behaviour, over a deterministic synthetic workspace or a
//! JSON fixture, and it can inject the faults a connector must survive ([`Faults`]).
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

mod catalog;
mod cursor;
mod error;
mod faults;
mod handle;
mod model;
mod server;
mod stats;
mod synthetic;
mod timestamp;

pub use error::SimError;
pub use faults::{ErrorShape, Faults, ParseFaultError, RateLimitBurst, ServerErrorBurst, SlowPage};
pub use handle::SimHandle;
pub use model::{
    Access, Analytics, AppViews, Category, CollectionAccess, Field, GroupAccess, Named, Person,
    Project, Reviews, Schedule, Sharing, UserAccess, Workspace,
};
pub use server::{SimConfig, Simulator, serve};
pub use stats::SimStats;
pub use timestamp::{REFERENCE_MILLIS, REFERENCE_TIMESTAMP, format_millis};
