//! Serving connections with limits, as Node's HTTP server has them: a deadline for a request's
//! headers, an idle keep-alive timeout, a deadline for the whole request body, and a cap on
//! concurrent connections (beyond it, new connections wait in the kernel's backlog), so slow
//! or idle clients cannot hold the service's sockets and file descriptors.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::Bytes;
use http_body::{Body as _, Frame};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tower::ServiceExt;

use super::watchdog::{Activity, Deadlines, Verdict, Watchdog};

/// `stagedoor.listen`'s connection limits; the defaults are Node's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A request's headers must arrive within this (Node's `headersTimeout`, 60 s).
    pub header_timeout: Duration,
    /// An idle keep-alive connection is closed after this (Node's `keepAliveTimeout`, 5 s).
    pub keep_alive_timeout: Duration,
    /// A request's body must arrive within this of its headers (Node's `requestTimeout`).
    pub request_timeout: Duration,
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(60),
            keep_alive_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(300),
            max_connections: 1024,
        }
    }
}

/// The error a request body reports once its deadline has passed.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub struct BodyDeadlinePassed(pub Duration);

/// How often "at the connection limit" is logged, at most.
const LIMIT_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Serves `router` on `listener` until `shutdown` completes, then lets open connections
/// finish their requests.
pub async fn serve<S>(
    listener: TcpListener,
    router: S,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) where
    S: App,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (closing, closing_rx) = watch::channel(false);
    let watchdog = Watchdog::new(Deadlines {
        headers: limits.header_timeout,
        keep_alive: limits.keep_alive_timeout,
    });
    let watching = {
        let watchdog = watchdog.clone();
        tokio::spawn(async move { watchdog.run(closing_rx).await })
    };
    let (open, mut all_closed) = mpsc::channel::<()>(1);
    let mut last_limit_log: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        if permits.available_permits() == 0
            && last_limit_log.is_none_or(|at| at.elapsed() >= LIMIT_LOG_INTERVAL)
        {
            last_limit_log = Some(Instant::now());
            tracing::warn!(
                "{} connections are open, the limit (stagedoor.listen.maxConnections); new connections wait until one closes",
                limits.max_connections
            );
        }
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit,
            () = &mut shutdown => break,
        };
        let Ok(permit) = permit else { break };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors or a connection reset before accept: back off a
                    // little rather than spin.
                    tracing::warn!("accepting a connection failed: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            router: router.clone(),
            limits,
            activity: watchdog.follow(),
        };
        let open = open.clone();
        tokio::spawn(async move {
            connection.run(stream, peer).await;
            drop(permit);
            drop(open);
        });
    }
    drop(listener);
    let _ = closing.send(true);
    drop(open);
    let _ = all_closed.recv().await;
    watching.abort();
}

tokio::task_local! {
    /// The client address of the request being served: no extension, which would cost each
    /// request three allocations.
    static PEER: SocketAddr;
}

/// The client address of the request being served, inside [`serve`].
pub fn peer() -> Option<SocketAddr> {
    PEER.try_with(|peer| *peer).ok()
}

/// What [`serve`] serves: an axum `Router`, or a tower stack answering as one.
pub trait App:
    tower::Service<
        http::Request<Body>,
        Response = http::Response<Body>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> App for S where
    S: tower::Service<
            http::Request<Body>,
            Response = http::Response<Body>,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

struct Connection<S> {
    router: S,
    limits: ConnectionLimits,
    /// Followed by the watchdog from its accept, before the server can begin to stop: it is
    /// closed with the others then.
    activity: Arc<Activity>,
}

impl<S: App> Connection<S> {
    async fn run(self, stream: TcpStream, peer: SocketAddr) {
        let activity = self.activity;
        let io = TokioIo::new(Watched {
            stream,
            activity: activity.clone(),
        });
        let service = {
            let (router, activity) = (self.router.clone(), activity.clone());
            let request_timeout = self.limits.request_timeout;
            hyper::service::service_fn(move |request: http::Request<Incoming>| {
                activity.receiving.store(false, Ordering::Release);
                activity.in_flight.fetch_add(1, Ordering::AcqRel);
                activity.requests.fetch_add(1, Ordering::AcqRel);
                let request = request.map(|body| {
                    if body.is_end_stream() {
                        // Nothing to read (most requests): no boxed body to allocate.
                        Body::empty()
                    } else {
                        Body::new(Deadline::new(body, request_timeout))
                    }
                });
                let (router, activity) = (router.clone(), activity.clone());
                async move {
                    let response = PEER.scope(peer, router.oneshot(request)).await;
                    activity.in_flight.fetch_sub(1, Ordering::AcqRel);
                    Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
                }
            })
        };
        // The header deadline is kept by the watchdog, not by hyper, whose timer costs an
        // allocation and a timer-wheel entry for every request.
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.header_read_timeout(None).keep_alive(true);
        let connection = builder.serve_connection(io, service);
        tokio::pin!(connection);
        let mut closing = false;
        std::future::poll_fn(|cx| {
            match activity.verdict(cx.waker()) {
                Verdict::Serve => {}
                Verdict::Close if closing => {}
                Verdict::Close => {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
                Verdict::Drop => return Poll::Ready(()),
            }
            connection.as_mut().poll(cx).map(|_| ())
        })
        .await;
    }
}

/// The TCP stream, noting when the bytes of a new request begin to arrive.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before && self.activity.in_flight.load(Ordering::Acquire) == 0 {
            self.activity.receiving.store(true, Ordering::Release);
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    // Vectored, as the socket is: hyper then writes a response's head and body with one
    // `writev` instead of copying the body into its buffer first.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// A request body that must arrive in full before a deadline (a body trickled a byte at a
/// time would otherwise hold its connection for ever).
struct Deadline {
    body: Incoming,
    limit: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Deadline {
    fn new(body: Incoming, limit: Duration) -> Self {
        Self {
            body,
            limit,
            sleep: Box::pin(tokio::time::sleep(limit)),
        }
    }
}

impl http_body::Body for Deadline {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyDeadlinePassed(self.limit).into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
