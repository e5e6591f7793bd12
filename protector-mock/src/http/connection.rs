//! The OpenStack listener: a TCP listener whose connections a handler can kill, so that a
//! simulated timeout (the request was applied, the answer is lost) or a request that slipped
//! in while its site went down gets no HTTP answer at all; and whose drop the server can wait
//! for, so that a site taken down refuses connections from then on.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// Marks a response that must not be sent: the connection is closed instead.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropConnection;

/// The peer of a connection and the switch that kills it.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionInfo {
    #[expect(dead_code, reason = "kept for debugging output of the connect info")]
    pub peer: SocketAddr,
    kill: Arc<AtomicBool>,
}

impl ConnectionInfo {
    /// From now on the connection reads end-of-file and refuses writes: hyper drops it without
    /// sending the response being prepared.
    pub(crate) fn kill(&self) {
        self.kill.store(true, Ordering::SeqCst);
    }
}

impl Connected<IncomingStream<'_, SimListener>> for ConnectionInfo {
    fn connect_info(stream: IncomingStream<'_, SimListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// A TCP listener that tells `closed` when it is dropped (the port refuses connections from
/// then on).
pub(crate) struct SimListener {
    inner: TcpListener,
    _closed: oneshot::Sender<()>,
}

impl SimListener {
    /// Wraps `inner`; the receiver resolves (with an error) once the listener is dropped.
    pub(crate) fn new(inner: TcpListener) -> (SimListener, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        (SimListener { inner, _closed: tx }, rx)
    }
}

impl Listener for SimListener {
    type Io = KillableStream;
    type Addr = ConnectionInfo;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, peer)) => {
                    let kill = Arc::new(AtomicBool::new(false));
                    let _ = stream.set_nodelay(true);
                    return (
                        KillableStream {
                            inner: stream,
                            kill: kill.clone(),
                        },
                        ConnectionInfo { peer, kill },
                    );
                }
                // Out of file descriptors and the like: wait and retry, as axum does.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(ConnectionInfo {
            peer: self.inner.local_addr()?,
            kill: Arc::new(AtomicBool::new(false)),
        })
    }
}

/// A TCP stream that behaves as closed once killed.
pub(crate) struct KillableStream {
    inner: TcpStream,
    kill: Arc<AtomicBool>,
}

impl KillableStream {
    fn killed(&self) -> bool {
        self.kill.load(Ordering::SeqCst)
    }
}

impl AsyncRead for KillableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.killed() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.killed() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "connection dropped by the simulator",
            )));
        }
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
