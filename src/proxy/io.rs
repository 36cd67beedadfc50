//! Byte-counting I/O, so TCP metrics see every byte read and written on proxied connections.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Receives the byte counts of one connection.
pub trait ByteCounter: Send + Sync {
    /// `n` bytes were read from the socket.
    fn read(&self, n: u64);
    /// `n` bytes were written to the socket.
    fn wrote(&self, n: u64);
}

pin_project_lite::pin_project! {
    /// Counts bytes through `io` into a [`ByteCounter`].
    pub struct CountingIo<I> {
        #[pin]
        io: I,
        counter: Arc<dyn ByteCounter>,
    }
}

impl<I> CountingIo<I> {
    /// Wraps `io`.
    pub fn new(io: I, counter: Arc<dyn ByteCounter>) -> Self {
        CountingIo { io, counter }
    }

    /// The wrapped I/O.
    pub fn get_ref(&self) -> &I {
        &self.io
    }
}

impl<I: AsyncRead> AsyncRead for CountingIo<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let res = this.io.poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            this.counter.read(n as u64);
        }
        res
    }
}

impl<I: AsyncWrite> AsyncWrite for CountingIo<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let res = this.io.poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = res {
            this.counter.wrote(n as u64);
        }
        res
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let res = this.io.poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = res {
            this.counter.wrote(n as u64);
        }
        res
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }
}
