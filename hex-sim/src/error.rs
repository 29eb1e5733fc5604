//! The ways starting the simulator can fail.
//!
//! Once it is serving, the simulator answers every request with some response (that is its job),
//! so these errors are all about setting it up: reading a fixture, a fault that cannot be served,
//! binding the socket, starting the runtime.

use std::path::PathBuf;

/// Why the simulator could not be built or started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// A workspace fixture file could not be read.
    #[error("cannot read the Hex workspace fixture {path}: {source}")]
    ReadFixture {
        /// The fixture file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A workspace fixture file is not a workspace object or an array of projects.
    #[error(
        "the Hex workspace fixture {path} is not valid: {source} (expected {{\"id\", \"name\", \"projects\": [...]}} or an array of project objects, each with a string \"id\")"
    )]
    ParseFixture {
        /// The fixture file.
        path: PathBuf,
        /// What the JSON parser found.
        source: serde_json::Error,
    },
    /// A Minidash workspace fixture file could not be read.
    #[error("cannot read the Minidash workspace fixture {path}: {source}")]
    ReadMinidashFixture {
        /// The fixture file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A Minidash workspace fixture file is not a workspace object.
    #[error(
        "the Minidash workspace fixture {path} is not valid: {source} (expected {{\"datasets\": [...], \"dashboards\": [...]}} with the API's fields)"
    )]
    ParseMinidashFixture {
        /// The fixture file.
        path: PathBuf,
        /// What the JSON parser found.
        source: serde_json::Error,
    },
    /// A Minidash workspace that cannot be served, e.g. with an id twice in one listing.
    #[error("the Minidash workspace{} cannot be served: {reason}", fixture_suffix(fixture.as_deref()))]
    InvalidMinidashWorkspace {
        /// The fixture file it came from, if any.
        fixture: Option<PathBuf>,
        /// What is wrong with it.
        reason: String,
    },
    /// A fault setting the simulator cannot act on.
    #[error("invalid hex-sim fault `{fault}`: {reason}")]
    InvalidFault {
        /// The fault's name, as the CLI spells it.
        fault: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A project could not be serialized (only possible with exotic `extra` values).
    #[error("cannot serialize Hex project {id}: {source}")]
    Serialize {
        /// The project id.
        id: String,
        /// The serializer's error.
        source: serde_json::Error,
    },
    /// The listening socket could not be bound or configured.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The dedicated runtime or thread of a [`crate::SimHandle`] could not be started.
    #[error("cannot start the hex-sim server thread: {source}")]
    Spawn {
        /// The I/O error.
        source: std::io::Error,
    },
    /// The server stopped with an I/O error.
    #[error("the hex-sim server failed: {source}")]
    Serve {
        /// The I/O error.
        source: std::io::Error,
    },
}

/// ` of the fixture <path>`, or nothing for a workspace built in code.
fn fixture_suffix(fixture: Option<&std::path::Path>) -> String {
    fixture
        .map(|path| format!(" of the fixture {}", path.display()))
        .unwrap_or_default()
}
