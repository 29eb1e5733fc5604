//! A simulator on its own thread, for callers that are not (or must not share) a tokio runtime.
//!
//! Synchronous tests, benchmarks and the host's demo all want "a Hex API at some URL" without
//! caring how it runs. [`SimHandle`] gives it its own thread and runtime, so it neither needs nor
//! disturbs the caller's runtime, and stops it when dropped. The thread and runtime part,
//! [`Background`], also runs the Minidash API's handle.

use std::future::Future;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::pin::Pin;
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
    simulator: Simulator,
    server: Background,
}

impl SimHandle {
    /// Prepares the workspace, binds `127.0.0.1:0` and starts serving on a dedicated thread.
    ///
    /// The socket is listening when this returns, so requests can be sent at once.
    pub fn spawn(config: SimConfig) -> Result<SimHandle, SimError> {
        let simulator = Simulator::new(config)?;
        let server = simulator.clone();
        let server = Background::spawn("hex-sim", move |listener, shutdown| {
            server.serve(listener, shutdown)
        })?;
        Ok(SimHandle { simulator, server })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The API base URL, `http://127.0.0.1:PORT/api/v1`, to configure a client with.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v1", self.addr())
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
        self.server.stop()
    }
}

/// What a [`Background`] server waits on to stop.
pub(crate) type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A server on `127.0.0.1:0` on a thread and runtime of its own, stopped when dropped: the part
/// of [`SimHandle`] that the other APIs' handles share.
#[derive(Debug)]
pub(crate) struct Background {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), SimError>>>,
}

impl Background {
    /// Binds `127.0.0.1:0` and runs `serve` on a thread named after `name` and the port; the
    /// socket is listening when this returns.
    pub(crate) fn spawn<S, F>(name: &str, serve: S) -> Result<Background, SimError>
    where
        S: FnOnce(tokio::net::TcpListener, Shutdown) -> F + Send + 'static,
        F: Future<Output = Result<(), SimError>> + Send + 'static,
    {
        let bind_error = |source| SimError::Bind {
            addr: "127.0.0.1:0".to_owned(),
            source,
        };
        let listener = StdTcpListener::bind(("127.0.0.1", 0)).map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;

        let (shutdown, shutdown_requested) = oneshot::channel();
        let (started, startup) = mpsc::channel();
        let worker_name = format!("{name}-worker");
        let thread = std::thread::Builder::new()
            .name(format!("{name}-{}", addr.port()))
            .spawn(move || run(serve, &worker_name, listener, shutdown_requested, &started))
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
        Ok(Background {
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The address the server listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server, waiting up to two seconds for requests in flight, and reports whether it
    /// had failed; only the first call does anything.
    pub(crate) fn stop(&mut self) -> Result<(), SimError> {
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

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// The server thread: a runtime of its own, serving until shutdown is asked for (or the handle is
/// gone), then a bounded grace period for requests in flight.
fn run<S, F>(
    serve: S,
    worker_name: &str,
    listener: StdTcpListener,
    shutdown_requested: oneshot::Receiver<()>,
    started: &mpsc::Sender<Result<(), SimError>>,
) -> Result<(), SimError>
where
    S: FnOnce(tokio::net::TcpListener, Shutdown) -> F,
    F: Future<Output = Result<(), SimError>> + Send + 'static,
{
    let setup = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(worker_name)
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
        let server = tokio::spawn(serve(
            listener,
            Box::pin(async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }),
        ));
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
