//! Running sources by themselves: `serve` and `status`.
//!
//! Its modules, bottom-up:
//! - [`schedule`]: the `[schedule]` table and the pure arithmetic of slots;
//! - [`sources`]: the sources directory, read once each file has settled;
//! - [`tick`]: the [`Scheduler`], whose `tick(now, events)` decides what runs when, with no
//!   clock, directory or task of its own (the tests drive it with a clock of theirs);
//! - [`serve`]: the async shell that reads the clock, scans, starts runs and shuts down;
//! - [`status`]: what `status` shows.

pub mod schedule;
pub mod serve;
pub mod sources;
pub mod status;
pub mod tick;

pub use schedule::Schedule;
pub use serve::{ServeError, ServeOptions, serve};
pub use sources::{ApplyError, definition};
pub use status::{SourceStatus, status};
pub use tick::Scheduler;
