//! A Minidash API on its own thread, for synchronous tests and for callers in another runtime.
//!
//! The end-to-end tests run `euno-host` twice against one Minidash API whose workspace changed
//! in between, as a company's BI tool changes between two discoveries. The connector's checkpoint
//! and the inventory both key on what the API says, not on where it is, but a source file names
//! the URL, so [`MinidashHandle::replace`] swaps the workspace behind the same address.

use std::net::SocketAddr;

use super::model::MinidashWorkspace;
use super::server::{MinidashConfig, MinidashFaults, MinidashServer, MinidashStats};
use crate::error::SimError;
use crate::handle::Background;

/// A running Minidash API on `127.0.0.1`, stopped when dropped.
#[derive(Debug)]
pub struct MinidashHandle {
    server: MinidashServer,
    background: Background,
}

impl MinidashHandle {
    /// Checks the config, binds `127.0.0.1:0` and starts serving on a dedicated thread.
    ///
    /// The socket is listening when this returns, so requests can be sent at once.
    pub fn spawn(config: MinidashConfig) -> Result<MinidashHandle, SimError> {
        let server = MinidashServer::new(config)?;
        let serving = server.clone();
        let background = Background::spawn("minidash-sim", move |listener, shutdown| {
            serving.serve(listener, shutdown)
        })?;
        Ok(MinidashHandle { server, background })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.background.addr()
    }

    /// The API base URL, `http://127.0.0.1:PORT/api`, the connector's `base_url` setting.
    pub fn base_url(&self) -> String {
        format!("http://{}/api", self.addr())
    }

    /// The counters so far (they survive [`Self::replace`]; use [`MinidashStats::since`] for one
    /// run's share).
    pub fn stats(&self) -> MinidashStats {
        self.server.stats()
    }

    /// Serves `workspace` from now on at the same address; see [`MinidashServer::replace`].
    pub fn replace(&self, workspace: MinidashWorkspace) -> Result<(), SimError> {
        self.server.replace(workspace)
    }

    /// Uses `faults` from now on, numbering requests from 1 again; see
    /// [`MinidashServer::set_faults`].
    pub fn set_faults(&self, faults: MinidashFaults) -> Result<(), SimError> {
        self.server.set_faults(faults)
    }

    /// Stops the server, waiting up to two seconds for requests in flight, and reports whether it
    /// had failed. Dropping the handle does the same and ignores the outcome.
    pub fn shutdown(mut self) -> Result<(), SimError> {
        self.background.stop()
    }
}
