//! Keep-alive connections for a run's outgoing requests.
//!
//! wasmtime-wasi-http's default sender opens a new TCP connection for every request, and for
//! `https` a new TLS session with a TLS configuration built from the root store each time. A
//! connector pages through an API one request after another, so a run keeps its HTTP/1.1
//! connections open and sends the next request on an idle one: no connect, no handshake, and the
//! API sees one client instead of a thousand. The pool belongs to one run (one store), so
//! connections are never shared between sources, and it closes with the run.
//!
//! Timeouts are those of the request options, as with the default sender: connecting (TCP, TLS
//! and the HTTP handshake) within `connect_timeout`, the response head within
//! `first_byte_timeout`, and no gap longer than `between_bytes_timeout` in the body.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::uri::Scheme;
use http::{Request, Response, Uri};
use http_body::{Body, Frame, SizeHint};
use hyper::client::conn::http1::{self, SendRequest};
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

/// Idle connections kept per origin; more are closed when they come back.
const MAX_IDLE_PER_ORIGIN: usize = 4;

/// A run's idle connections, by origin.
#[derive(Default)]
pub struct ConnectionPool {
    idle: Mutex<HashMap<PoolKey, Vec<SendRequest<WasiBody>>>>,
}

/// Where a connection goes: `https` or not, and `host:port`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PoolKey {
    tls: bool,
    authority: String,
}

impl PoolKey {
    fn of(uri: &Uri) -> Result<Self, HttpError> {
        let authority = uri.authority().ok_or(HttpError::HttpRequestUriInvalid)?;
        let tls = uri.scheme() == Some(&Scheme::HTTPS);
        let authority = match authority.port() {
            Some(_) => authority.to_string(),
            None => format!("{authority}:{}", if tls { 443 } else { 80 }),
        };
        Ok(Self { tls, authority })
    }
}

impl ConnectionPool {
    /// Sends `request` (whose URI is absolute) on an idle connection to its origin, or on a new
    /// one. A request that an idle connection could not take (the server had closed it) goes on
    /// a new connection; nothing is sent twice.
    pub async fn send(
        self: Arc<Self>,
        mut request: Request<WasiBody>,
        options: &RequestOptions,
    ) -> Result<Response<WasiBody>, HttpError> {
        let key = PoolKey::of(request.uri())?;
        // On the wire the request line carries only the path; `Host` is already set.
        *request.uri_mut() = origin_form(request.uri());
        let first_byte = options.first_byte_timeout.unwrap_or(DEFAULT_TIMEOUT);

        let request = match self.take_idle(&key) {
            Some(mut sender) => {
                match timeout(first_byte, sender.try_send_request(request)).await? {
                    Ok(response) => return Ok(self.finish(key, sender, response, options)),
                    Err(mut error) => match error.take_message() {
                        // Never sent: the idle connection was closing. It goes on a fresh one.
                        Some(request) => request,
                        None => return Err(HttpError::from(error.into_error())),
                    },
                }
            }
            None => request,
        };
        let mut sender = connect(&key, options).await?;
        let response = timeout(first_byte, sender.send_request(request))
            .await?
            .map_err(HttpError::from)?;
        Ok(self.finish(key, sender, response, options))
    }

    /// Keeps `sender` for the next request and wraps the response body in its timeout.
    fn finish(
        &self,
        key: PoolKey,
        sender: SendRequest<WasiBody>,
        response: Response<hyper::body::Incoming>,
        options: &RequestOptions,
    ) -> Response<WasiBody> {
        self.put_idle(key, sender);
        let between_bytes = options.between_bytes_timeout.unwrap_or(DEFAULT_TIMEOUT);
        response.map(|incoming| {
            http_body_util::BodyExt::boxed_unsync(TimedBody::new(incoming, between_bytes))
        })
    }

    /// An open connection to `key` that can take a request now. A connection still streaming
    /// its previous response stays in the pool; a closed one is dropped.
    fn take_idle(&self, key: &PoolKey) -> Option<SendRequest<WasiBody>> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let senders = idle.get_mut(key)?;
        senders.retain(|sender| !sender.is_closed());
        let ready = senders.iter().rposition(SendRequest::is_ready)?;
        Some(senders.swap_remove(ready))
    }

    fn put_idle(&self, key: PoolKey, sender: SendRequest<WasiBody>) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let senders = idle.entry(key).or_default();
        senders.retain(|sender| !sender.is_closed());
        if senders.len() >= MAX_IDLE_PER_ORIGIN {
            senders.remove(0);
        }
        senders.push(sender);
    }

    /// How many connections the pool holds, idle or busy.
    #[cfg(test)]
    fn held(&self) -> usize {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.values().map(Vec::len).sum()
    }
}

/// What the default sender assumes when the options set no timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

async fn timeout<T>(limit: Duration, future: impl Future<Output = T>) -> Result<T, HttpError> {
    tokio::time::timeout(limit, future)
        .await
        .map_err(|_| HttpError::ConnectionReadTimeout)
}

/// `uri` without its scheme and authority: `/path?query`.
fn origin_form(uri: &Uri) -> Uri {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    Uri::builder()
        .path_and_query(path)
        .build()
        .expect("a path and query taken from a valid URI")
}

/// Opens a connection to `key` (TCP, TLS for `https`, the HTTP/1.1 handshake) and starts
/// driving it; the task ends when the connection closes.
async fn connect(
    key: &PoolKey,
    options: &RequestOptions,
) -> Result<SendRequest<WasiBody>, HttpError> {
    let limit = options.connect_timeout.unwrap_or(DEFAULT_TIMEOUT);
    let opened = async {
        let tcp = TcpStream::connect(&key.authority)
            .await
            .map_err(HttpError::Connect)?;
        // Requests are small and answered at once: do not wait to coalesce them.
        let _ = tcp.set_nodelay(true);
        if key.tls {
            let name = tls_server_name(&key.authority)?;
            let tls = tokio_rustls::TlsConnector::from(tls_config())
                .connect(name, tcp)
                .await
                .map_err(HttpError::Tls)?;
            handshake(TokioIo::new(tls)).await
        } else {
            handshake(TokioIo::new(tcp)).await
        }
    };
    tokio::time::timeout(limit, opened)
        .await
        .map_err(|_| HttpError::ConnectionTimeout)?
}

async fn handshake<T>(io: T) -> Result<SendRequest<WasiBody>, HttpError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, connection) = http1::Builder::new().handshake(io).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!("an outgoing connection closed: {error}");
        }
    });
    Ok(sender)
}

/// The TLS client configuration (the webpki root certificates), built once per process.
fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.into(),
            };
            Arc::new(
                rustls::ClientConfig::builder()
                    .with_root_certificates(roots)
                    .with_no_client_auth(),
            )
        })
        .clone()
}

/// The name a server's certificate must carry: an IP literal as an address (IPv6 in brackets
/// included), anything else as a host name without its port.
fn tls_server_name(authority: &str) -> Result<rustls::pki_types::ServerName<'static>, HttpError> {
    use rustls::pki_types::ServerName;
    if let Ok(address) = authority.parse::<std::net::SocketAddr>() {
        return Ok(ServerName::from(address.ip()));
    }
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host);
    ServerName::try_from(host.to_owned()).map_err(|_| HttpError::HttpRequestUriInvalid)
}

/// A response body that fails when it goes quiet for longer than `between_bytes`.
struct TimedBody {
    incoming: hyper::body::Incoming,
    between_bytes: Duration,
    quiet: Pin<Box<tokio::time::Sleep>>,
}

impl TimedBody {
    fn new(incoming: hyper::body::Incoming, between_bytes: Duration) -> Self {
        Self {
            incoming,
            between_bytes,
            quiet: Box::pin(tokio::time::sleep(between_bytes)),
        }
    }
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let next = tokio::time::Instant::now() + this.between_bytes;
                this.quiet.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) if error.is_timeout() => {
                Poll::Ready(Some(Err(HttpError::HttpResponseTimeout)))
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(HttpError::from(error)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                ready!(this.quiet.as_mut().poll(cx));
                Poll::Ready(Some(Err(HttpError::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead as _, BufReader, Write as _};
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http_body_util::{BodyExt as _, Empty};

    use super::*;

    /// A loopback HTTP/1.1 server that answers every request with `hello` and counts the
    /// connections it accepts; with `close`, it closes each connection after one answer.
    fn server(close: bool) -> (String, Arc<AtomicUsize>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                counter.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                    let mut writer = stream;
                    loop {
                        let mut line = String::new();
                        // The request line and headers, up to the blank line.
                        loop {
                            line.clear();
                            match reader.read_line(&mut line) {
                                Ok(0) | Err(_) => return,
                                Ok(_) if line == "\r\n" => break,
                                Ok(_) => {}
                            }
                        }
                        let connection = if close { "close" } else { "keep-alive" };
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: {connection}\r\n\r\nhello"
                        );
                        if writer.write_all(answer.as_bytes()).is_err() || close {
                            return;
                        }
                    }
                });
            }
        });
        (address, accepted)
    }

    async fn get(pool: &Arc<ConnectionPool>, address: &str) -> Result<Bytes, HttpError> {
        let request = Request::get(format!("http://{address}/projects?limit=1"))
            .header(http::header::HOST, address)
            .body(Empty::new().map_err(|never| match never {}).boxed_unsync())
            .expect("a request");
        let options = RequestOptions {
            connect_timeout: Some(Duration::from_secs(5)),
            first_byte_timeout: Some(Duration::from_secs(5)),
            between_bytes_timeout: Some(Duration::from_secs(5)),
        };
        let response = Arc::clone(pool).send(request, &options).await?;
        Ok(response.into_body().collect().await?.to_bytes())
    }

    #[tokio::test]
    async fn sequential_requests_share_one_connection() {
        let (address, accepted) = server(false);
        let pool = Arc::new(ConnectionPool::default());
        for _ in 0..5 {
            assert_eq!(get(&pool, &address).await.expect("answered"), "hello");
            // Let the connection's task see the end of the body.
            tokio::task::yield_now().await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        assert_eq!(pool.held(), 1);
    }

    #[tokio::test]
    async fn a_server_that_closes_each_connection_still_answers_every_request() {
        let (address, accepted) = server(true);
        let pool = Arc::new(ConnectionPool::default());
        for _ in 0..3 {
            assert_eq!(get(&pool, &address).await.expect("answered"), "hello");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn nothing_listening_is_a_connection_error() {
        let address = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("address").to_string()
        };
        let pool = Arc::new(ConnectionPool::default());
        let error = get(&pool, &address).await.expect_err("refused");
        assert!(matches!(error, HttpError::Connect(_)), "{error}");
    }

    #[test]
    fn server_names_drop_the_port_and_keep_ip_literals() {
        use rustls::pki_types::ServerName;
        assert_eq!(
            tls_server_name("app.hex.tech:443").expect("a name"),
            ServerName::try_from("app.hex.tech").expect("a name")
        );
        assert_eq!(
            tls_server_name("[::1]:443").expect("an address"),
            ServerName::from(std::net::Ipv6Addr::LOCALHOST)
        );
    }
}
