//! A simulator on its own thread, for callers that are not (or must not share) a tokio runtime.
//!
//! Synchronous tests, benchmarks and the host's demo all want "a Hex API at some URL" without
//! caring how it runs. [`SimHandle`] gives it its own thread and runtime, so it neither needs nor
//! disturbs the caller's runtime, and stops it when dropped.

use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use crate::error::SimError;
use crate::server::{SimConfig, Simulator};
use crate::stats::{EndpointStats, ProjectRequests, SimStats};

/// How long requests in flight get to finish after shutdown is asked for.
const GRACE: Duration = Duration::from_secs(2);

/// A running simulator on `127.0.0.1`, stopped when dropped.
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    simulator: Simulator,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), SimError>>>,
}

impl SimHandle {
    /// Prepares the workspace, binds `127.0.0.1:0` and starts serving on a dedicated thread.
    ///
    /// The socket is listening when this returns, so requests can be sent at once.
    pub fn spawn(config: SimConfig) -> Result<SimHandle, SimError> {
        let simulator = Simulator::new(config)?;
        let bind_error = |source| SimError::Bind {
            addr: "127.0.0.1:0".to_owned(),
            source,
        };
        let listener = StdTcpListener::bind(("127.0.0.1", 0)).map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;

        let (shutdown, shutdown_requested) = oneshot::channel();
        let (started, startup) = mpsc::channel();
        let server = simulator.clone();
        let thread = std::thread::Builder::new()
            .name(format!("hex-sim-{}", addr.port()))
            .spawn(move || run(server, listener, shutdown_requested, &started))
            .map_err(|source| SimError::Spawn { source })?;
        // The runtime is built on the server thread (dropping one inside the caller's runtime
        // would panic); wait for it so that a failure is reported here.
        match startup.recv() {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(error),
            Err(_) => {
                let result = thread.join();
                return Err(match result {
                    Ok(Err(error)) => error,
                    _ => SimError::Spawn {
                        source: std::io::Error::other("the server thread died starting"),
                    },
                });
            }
        }
        Ok(SimHandle {
            addr,
            simulator,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API base URL, `http://127.0.0.1:PORT/api/v1`, to configure a client with.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v1", self.addr)
    }

    /// The counters so far.
    pub fn stats(&self) -> SimStats {
        self.simulator.stats()
    }

    /// The lineage endpoints' counters so far.
    pub fn endpoint_stats(&self) -> EndpointStats {
        self.simulator.endpoint_stats()
    }

    /// The requests about one project so far.
    pub fn project_requests(&self, project_id: &str) -> ProjectRequests {
        self.simulator.project_requests(project_id)
    }

    /// Stops the server, waiting up to two seconds for requests in flight, and reports whether it
    /// had failed. Dropping the handle does the same and ignores the outcome.
    pub fn shutdown(mut self) -> Result<(), SimError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), SimError> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(SimError::Serve {
                source: std::io::Error::other("the server thread panicked"),
            }),
            None => Ok(()),
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// The server thread: a runtime of its own, serving until shutdown is asked for (or the handle is
/// gone), then a bounded grace period for requests in flight.
fn run(
    simulator: Simulator,
    listener: StdTcpListener,
    shutdown_requested: oneshot::Receiver<()>,
    started: &mpsc::Sender<Result<(), SimError>>,
) -> Result<(), SimError> {
    let setup = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("hex-sim-worker")
        .enable_all()
        .build()
        .map_err(|source| SimError::Spawn { source })
        .and_then(|runtime| {
            let _entered = runtime.enter();
            let listener =
                tokio::net::TcpListener::from_std(listener).map_err(|source| SimError::Bind {
                    addr: "127.0.0.1:0".to_owned(),
                    source,
                })?;
            Ok((runtime, listener))
        });
    let (runtime, listener) = match setup {
        Ok(ready) => {
            let _ = started.send(Ok(()));
            ready
        }
        Err(error) => {
            let _ = started.send(Err(error));
            return Ok(());
        }
    };

    let result = runtime.block_on(async move {
        let (stop, mut stopped) = watch::channel(false);
        let server = tokio::spawn(simulator.serve(listener, async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }));
        // A dropped sender also means stop.
        let _ = shutdown_requested.await;
        let _ = stop.send(true);
        match tokio::time::timeout(GRACE, server).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(SimError::Serve {
                source: std::io::Error::other("the server task panicked"),
            }),
            // Connections still busy after the grace period are cut when the runtime drops.
            Err(_) => Ok(()),
        }
    });
    runtime.shutdown_timeout(Duration::from_millis(100));
    result
}
