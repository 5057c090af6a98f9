//! Serving TCP connections to the router, with what `axum::serve` leaves out: time limits on a
//! request's headers, on its body and on a kept-alive connection waiting for its next request,
//! and a cap on the connections one client address may hold open at once. Without them a client
//! that opens connections and sends nothing, or half a request, holds them and the file
//! descriptors behind them for ever, until nobody else can connect.
//!
//! hyper reads and writes HTTP; this module only times it. hyper's own `header_read_timeout`
//! starts again as soon as a response is written, so it would also end every kept-alive
//! connection after the header timeout; the deadline of each phase is therefore kept here (see
//! [`Watch`]), from the bytes the connection reads and the requests it answers.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use axum::routing::future::RouteFuture;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tower::Service;
use tower_http::timeout::DeadlineBody;

use super::rate_limit::client_key;

use crate::clock;

/// The limits of `zp serve`; a zero duration or count turns that limit off.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// From a connection's opening, or from the first byte of a later request on it, to the end
    /// of the request's headers.
    pub header: Duration,
    /// From the end of a request's headers to the end of its body; then 408.
    pub body: Duration,
    /// How long a kept-alive connection may wait for the first byte of its next request.
    pub idle: Duration,
    /// Connections one client address (IPv6: one /64) may hold open at once.
    pub per_ip: usize,
}

/// Serves `router` on `listener` until `stop` resolves; then stops accepting, lets the requests
/// under way finish, and closes the idle connections.
pub async fn serve(listener: TcpListener, router: Router, limits: Limits, stop: impl Future<Output = ()>) {
    let clients = Arc::new(Clients { cap: limits.per_ip, live: Mutex::default() });
    let (closing, closing_rx) = watch::channel(false);
    let mut stop = std::pin::pin!(stop);
    let mut warned_at: Option<Instant> = None;
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(&err, &mut warned_at).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        // Beyond its cap a client's connection is closed at once (dropping the stream), before it
        // costs more than its accept.
        let Some(slot) = clients.admit(remote.ip()) else { continue };
        let connection =
            Connection { router: router.clone(), remote, limits, _slot: slot, closing: closing_rx.clone() };
        tokio::spawn(connection.run(stream));
    }
    drop(listener);
    drop(closing_rx);
    closing.send_replace(true);
    // Resolves once every connection has ended and dropped its receiver.
    closing.closed().await;
}

async fn accept_failed(err: &io::Error, warned_at: &mut Option<Instant>) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(err.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    // Out of file descriptors, most likely: wait for connections to end rather than spin, and
    // say so now and then rather than on every try.
    if warned_at.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
        tracing::warn!(error = %err, "cannot accept connections");
        *warned_at = Some(clock::tokio_instant());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Live connections per client address, keyed as the rate limit keys them.
#[derive(Debug)]
struct Clients {
    cap: usize,
    live: Mutex<HashMap<IpAddr, Live>>,
}

#[derive(Debug, Default)]
struct Live {
    count: usize,
    /// Whether this address's refusals were logged since it last had no connection.
    warned: bool,
}

/// One admitted connection, counted until dropped.
#[derive(Debug)]
struct Slot {
    clients: Option<Arc<Clients>>,
    key: IpAddr,
}

impl Clients {
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let key = client_key(ip);
        if self.cap == 0 {
            return Some(Slot { clients: None, key });
        }
        let mut live = lock(&self.live);
        let entry = live.entry(key).or_default();
        if entry.count >= self.cap {
            if !entry.warned {
                entry.warned = true;
                tracing::warn!(client = %key, cap = self.cap, "connection cap reached; closing this client's further connections");
            }
            return None;
        }
        entry.count += 1;
        Some(Slot { clients: Some(self.clone()), key })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(clients) = &self.clients else { return };
        let mut live = lock(&clients.live);
        if let Some(entry) = live.get_mut(&self.key) {
            entry.count = entry.count.saturating_sub(1);
            if entry.count == 0 {
                live.remove(&self.key);
            }
        }
    }
}

struct Connection {
    router: Router,
    remote: SocketAddr,
    limits: Limits,
    _slot: Slot,
    closing: watch::Receiver<bool>,
}

impl Connection {
    async fn run(mut self, stream: TcpStream) {
        let watch = Arc::new(Watch::new(self.limits));
        let io = TokioIo::new(Watched { stream, watch: watch.clone() });
        let service = Answerer {
            router: self.router.clone(),
            remote: self.remote,
            body: self.limits.body,
            watch: watch.clone(),
        };
        let mut builder = hyper::server::conn::http1::Builder::new();
        // Timed here instead (see the module's note); without a timer hyper would warn of its default.
        builder.keep_alive(true).header_read_timeout(None);
        let mut conn = std::pin::pin!(builder.serve_connection(io, service));
        let mut closing = false;
        loop {
            let deadline = watch.deadline();
            tokio::select! {
                ended = conn.as_mut() => {
                    if let Err(err) = ended {
                        tracing::debug!(client = %self.remote, error = %err, "connection ended with an error");
                    }
                    break;
                }
                () = until(deadline) => {
                    // The deadline may have moved while asleep; only a passed one closes.
                    if watch.deadline().is_some_and(|at| at <= clock::tokio_instant()) {
                        tracing::debug!(client = %self.remote, "closing a stalled connection");
                        break;
                    }
                }
                () = watch.sooner.notified() => {}
                _ = self.closing.changed(), if !closing => {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Where a connection stands, and so when it must have made progress.
#[derive(Debug)]
struct Watch {
    limits: Limits,
    phase: Mutex<Phase>,
    /// Set while waiting for the first byte of a request after a response, so that reads take the
    /// lock only then.
    waiting: AtomicBool,
    /// Woken when the deadline moves closer: a request's first byte, the end of a response.
    sooner: Notify,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Since the connection opened, for its first request: the header timeout.
    Opened { since: Instant },
    /// Since the last response, for the next request's first byte: the idle timeout.
    Idle { since: Instant },
    /// Since a request's first byte, for the end of its headers: the header timeout.
    Head { since: Instant },
    /// Requests being answered: their bodies have their own deadline.
    Busy { requests: usize },
}

impl Watch {
    fn new(limits: Limits) -> Self {
        Watch {
            limits,
            phase: Mutex::new(Phase::Opened { since: clock::tokio_instant() }),
            waiting: AtomicBool::new(false),
            sooner: Notify::new(),
        }
    }

    fn deadline(&self) -> Option<Instant> {
        let after = |since: Instant, limit: Duration| (!limit.is_zero()).then(|| since + limit);
        match *lock(&self.phase) {
            Phase::Opened { since } | Phase::Head { since } => after(since, self.limits.header),
            Phase::Idle { since } => after(since, self.limits.idle),
            Phase::Busy { .. } => None,
        }
    }

    /// The connection read some bytes.
    fn read_some(&self) {
        if self.waiting.load(Ordering::Relaxed) && self.waiting.swap(false, Ordering::Relaxed) {
            let mut phase = lock(&self.phase);
            if let Phase::Idle { .. } = *phase {
                *phase = Phase::Head { since: clock::tokio_instant() };
                self.sooner.notify_one();
            }
        }
    }

    fn begin(&self) {
        let mut phase = lock(&self.phase);
        *phase = match *phase {
            Phase::Busy { requests } => Phase::Busy { requests: requests + 1 },
            _ => Phase::Busy { requests: 1 },
        };
        self.waiting.store(false, Ordering::Relaxed);
    }

    fn end(&self) {
        let mut phase = lock(&self.phase);
        match *phase {
            Phase::Busy { requests } if requests > 1 => *phase = Phase::Busy { requests: requests - 1 },
            _ => {
                *phase = Phase::Idle { since: clock::tokio_instant() };
                self.waiting.store(true, Ordering::Relaxed);
                self.sooner.notify_one();
            }
        }
    }
}

/// A request being answered, from the call until its response body is written or dropped.
#[derive(Debug)]
struct Busy(Arc<Watch>);

impl Busy {
    fn begin(watch: &Arc<Watch>) -> Self {
        watch.begin();
        Busy(watch.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// The socket, telling the [`Watch`] when bytes arrive.
struct Watched {
    stream: TcpStream,
    watch: Arc<Watch>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.watch.read_some();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The router as hyper calls it: with the client's address (for the rate limit, as
/// `into_make_service_with_connect_info` gave it), a deadline on the request body, and the
/// response tracked until it is written.
#[derive(Clone)]
struct Answerer {
    router: Router,
    remote: SocketAddr,
    body: Duration,
    watch: Arc<Watch>,
}

impl hyper::service::Service<Request<Incoming>> for Answerer {
    type Response = Response<Tracked>;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, request: Request<Incoming>) -> Answer {
        let busy = Busy::begin(&self.watch);
        let (mut parts, body) = request.into_parts();
        parts.extensions.insert(ConnectInfo(self.remote));
        // A body known to be empty needs no timer.
        let body = if self.body.is_zero() || http_body::Body::is_end_stream(&body) {
            Body::new(body)
        } else {
            Body::new(DeadlineBody::new(self.body, body))
        };
        let response = self.router.clone().call(Request::from_parts(parts, body));
        Answer { response, busy: Some(busy) }
    }
}

struct Answer {
    response: RouteFuture<Infallible>,
    busy: Option<Busy>,
}

impl Future for Answer {
    type Output = Result<Response<Tracked>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let response = ready!(Pin::new(&mut self.response).poll(cx))?;
        let busy = self.busy.take();
        Poll::Ready(Ok(response.map(|body| Tracked { body, _busy: busy })))
    }
}

/// A response body that ends its request's [`Busy`] when hyper is done with it.
struct Tracked {
    body: Body,
    _busy: Option<Busy>,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_ip: usize) -> Limits {
        Limits {
            header: Duration::from_secs(10),
            body: Duration::from_secs(30),
            idle: Duration::from_secs(60),
            per_ip,
        }
    }

    #[test]
    fn each_client_is_capped_and_freed_slots_are_reused() {
        let clients = Arc::new(Clients { cap: 2, live: Mutex::default() });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = clients.admit(a).unwrap();
        let _second = clients.admit(a).unwrap();
        assert!(clients.admit(a).is_none(), "a third connection from one address");
        assert!(clients.admit(b).is_some(), "another address is unaffected");
        // The same /64 is one client, as for the rate limit.
        let v6 = |s: &str| s.parse::<IpAddr>().unwrap();
        let _x = clients.admit(v6("2001:db8::1")).unwrap();
        let _y = clients.admit(v6("2001:db8::2")).unwrap();
        assert!(clients.admit(v6("2001:db8::3")).is_none());
        drop(first);
        assert!(clients.admit(a).is_some(), "a closed connection frees its slot");
        let unlimited = Arc::new(Clients { cap: 0, live: Mutex::default() });
        let held: Vec<Slot> = (0..1000).filter_map(|_| unlimited.admit(a)).collect();
        assert_eq!(held.len(), 1000);
        assert!(lock(&unlimited.live).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn deadlines_follow_the_phase() {
        let watch = Arc::new(Watch::new(limits(0)));
        let opened = clock::tokio_instant();
        assert_eq!(
            watch.deadline(),
            Some(opened + Duration::from_secs(10)),
            "header timeout from the opening"
        );
        watch.read_some();
        assert_eq!(watch.deadline(), Some(opened + Duration::from_secs(10)), "still from the opening");
        let busy = Busy::begin(&watch);
        assert_eq!(watch.deadline(), None, "a request being answered");
        tokio::time::advance(Duration::from_secs(5)).await;
        drop(busy);
        let idle = clock::tokio_instant();
        assert_eq!(watch.deadline(), Some(idle + Duration::from_secs(60)), "idle timeout after a response");
        tokio::time::advance(Duration::from_secs(50)).await;
        watch.read_some();
        let head = clock::tokio_instant();
        assert_eq!(
            watch.deadline(),
            Some(head + Duration::from_secs(10)),
            "header timeout from the first byte"
        );
        watch.read_some();
        assert_eq!(watch.deadline(), Some(head + Duration::from_secs(10)), "later bytes change nothing");

        let off = Watch::new(Limits { header: Duration::ZERO, idle: Duration::ZERO, ..limits(0) });
        assert_eq!(off.deadline(), None);
    }
}
