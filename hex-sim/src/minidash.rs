//! The Minidash API: the second API this crate serves, for the example connector of
//! `examples/minidash` and the end-to-end tests that run it through `euno-host`.
//!
//! Minidash is a small, made-up BI service, documented in `examples/minidash/README.md`; this
//! module serves exactly that document, under `/api`:
//!
//! | route | what |
//! |---|---|
//! | `GET /datasets?limit=&cursor=` | `{"items": [dataset...], "next_cursor"}`, by id |
//! | `GET /dashboards?limit=&cursor=` | `{"items": [dashboard without dataset_ids...], "next_cursor"}`, by id |
//! | `GET /dashboards/{id}` | the dashboard with its `dataset_ids`; `{id}` percent-decoded (`x%2F1` is `x/1`) |
//!
//! Every request needs `X-Api-Key` (else `401 {"error": "invalid api key"}`); `limit` is 1..=200,
//! 50 by default (else `400 {"error": "limit must be between 1 and 200"}`); a cursor is opaque and
//! only one the same listing made is accepted (else `400 {"error": "invalid cursor"}`); an unknown
//! dashboard is `404 {"error": "no such dashboard"}`. Every error carries `X-Trace-Id`, every
//! answer `Content-Type: application/json`. Outside the API and without a key,
//! `GET /__sim/stats` serves [`MinidashStats`].
//!
//! Tests build a [`MinidashWorkspace`] (synthetic from a seed, or from JSON), serve it with a
//! [`MinidashHandle`], point the connector at [`MinidashHandle::base_url`], and compare what it
//! found with [`MinidashWorkspace::expected_reads`]. Between two runs,
//! [`MinidashWorkspace::edited`] changes some dashboards' datasets (moving their `updated_at`, as
//! Minidash does) and [`MinidashHandle::replace`] serves the result at the same address; the
//! per-dashboard counts of [`MinidashStats::dashboard_gets`] then show which dashboards the
//! second run fetched. [`MinidashFaults`] answers the n-th request with 429 or 500.
//!
//! ```no_run
//! use hex_sim::minidash::{MinidashConfig, MinidashHandle, MinidashWorkspace};
//!
//! let workspace = MinidashWorkspace::synthetic(42, 40, 60);
//! let api = MinidashHandle::spawn(MinidashConfig::new(workspace.clone()))?;
//! println!("base_url = {}, key {}", api.base_url(), MinidashConfig::DEFAULT_API_KEY);
//! let (edited, changed) = workspace.edited(7, 3);
//! api.replace(edited)?;
//! # let _ = changed;
//! # Ok::<(), hex_sim::SimError>(())
//! ```

mod handle;
mod model;
mod server;

pub use handle::MinidashHandle;
pub use model::{Dashboard, Dataset, MinidashWorkspace};
pub use server::{MinidashConfig, MinidashFaults, MinidashServer, MinidashStats};
