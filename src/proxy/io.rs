//! I/O wrappers: one pass-through type, [`PassThrough`], that every wrapper the proxy puts around
//! a socket is made of, and the byte counting that TCP metrics read ([`CountingIo`]).
//!
//! A wrapper states only what it does differently from the I/O it wraps, as a [`Hooks`]
//! implementation: look at the bytes read ([`Hooks::on_read`]: byte counting, the HTTP/2
//! SETTINGS tracker in `h2_settings`), count the bytes written ([`Hooks::on_write`]), or take over
//! a read or a write altogether (replaying detected bytes in `detect`, replacing hyper's bare
//! answers in `parse_errors`). Everything else — flush, shutdown, and whether writes are
//! vectored, so hyper's vectored writes stay vectored through any stack of wrappers — is
//! delegated here once. The hooks are a type parameter, so each wrapper compiles to direct calls:
//! no dynamic dispatch and no copy per poll.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What a [`PassThrough`] does differently from the I/O it wraps. Every method has a default
/// that passes straight through; a wrapper overrides the ones it needs.
pub trait Hooks {
    /// Sees the bytes each read returned (only reads that returned some).
    #[inline]
    fn on_read(&mut self, _bytes: &[u8]) {}

    /// Sees how many bytes each write (vectored or not) accepted (only writes that accepted some).
    #[inline]
    fn on_write(&mut self, _n: usize) {}

    /// Sees each error a read or a write of the default methods returned.
    #[inline]
    fn on_error(&mut self, _err: &io::Error) {}

    /// Reads from `io` into `buf`: by default a read of `io`, then [`Hooks::on_read`].
    #[inline]
    fn poll_read<I: AsyncRead>(
        &mut self,
        io: Pin<&mut I>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = io.poll_read(cx, buf);
        let new = &buf.filled()[before..];
        if !new.is_empty() {
            self.on_read(new);
        }
        if let Poll::Ready(Err(e)) = &res {
            self.on_error(e);
        }
        res
    }

    /// Writes `buf` to `io`: by default a write of `io`, then [`Hooks::on_write`].
    #[inline]
    fn poll_write<I: AsyncWrite>(
        &mut self,
        io: Pin<&mut I>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let res = io.poll_write(cx, buf);
        match &res {
            Poll::Ready(Ok(n)) if *n > 0 => self.on_write(*n),
            Poll::Ready(Err(e)) => self.on_error(e),
            _ => {}
        }
        res
    }

    /// Writes `bufs` to `io`: by default a vectored write of `io`, then [`Hooks::on_write`].
    #[inline]
    fn poll_write_vectored<I: AsyncWrite>(
        &mut self,
        io: Pin<&mut I>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let res = io.poll_write_vectored(cx, bufs);
        match &res {
            Poll::Ready(Ok(n)) if *n > 0 => self.on_write(*n),
            Poll::Ready(Err(e)) => self.on_error(e),
            _ => {}
        }
        res
    }
}

pin_project_lite::pin_project! {
    /// `io` with `hooks` on its reads and writes; flush, shutdown and `is_write_vectored` are
    /// `io`'s own.
    #[derive(Debug)]
    pub struct PassThrough<I, H> {
        #[pin]
        io: I,
        hooks: H,
    }
}

impl<I, H> PassThrough<I, H> {
    /// Wraps `io`.
    pub fn with_hooks(io: I, hooks: H) -> Self {
        PassThrough { io, hooks }
    }

    /// The wrapped I/O.
    pub fn get_ref(&self) -> &I {
        &self.io
    }

    /// The hooks.
    pub fn hooks(&self) -> &H {
        &self.hooks
    }

    /// The wrapped I/O and the hooks.
    pub fn into_parts(self) -> (I, H) {
        (self.io, self.hooks)
    }
}

impl<I: AsyncRead, H: Hooks> AsyncRead for PassThrough<I, H> {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        this.hooks.poll_read(this.io, cx, buf)
    }
}

impl<I: AsyncWrite, H: Hooks> AsyncWrite for PassThrough<I, H> {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        this.hooks.poll_write(this.io, cx, buf)
    }

    #[inline]
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        this.hooks.poll_write_vectored(this.io, cx, bufs)
    }

    #[inline]
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    #[inline]
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_flush(cx)
    }

    #[inline]
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }
}

/// Receives the byte counts of one connection.
pub trait ByteCounter: Send + Sync {
    /// `n` bytes were read from the socket.
    fn read(&self, n: u64);
    /// `n` bytes were written to the socket.
    fn wrote(&self, n: u64);
    /// A read or write of the socket failed with OS error `errno` (`tcp_close_total{errno}`).
    fn failed(&self, _errno: i32) {}
}

/// Counts bytes through `io` into a [`ByteCounter`].
pub type CountingIo<I> = PassThrough<I, Counting>;

/// The hooks of [`CountingIo`].
pub struct Counting(Arc<dyn ByteCounter>);

impl Hooks for Counting {
    #[inline]
    fn on_read(&mut self, bytes: &[u8]) {
        self.0.read(bytes.len() as u64);
    }

    #[inline]
    fn on_write(&mut self, n: usize) {
        self.0.wrote(n as u64);
    }

    #[inline]
    fn on_error(&mut self, err: &io::Error) {
        if let Some(errno) = err.raw_os_error() {
            self.0.failed(errno);
        }
    }
}

impl<I> CountingIo<I> {
    /// Wraps `io`.
    pub fn new(io: I, counter: Arc<dyn ByteCounter>) -> Self {
        PassThrough::with_hooks(io, Counting(counter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[derive(Default)]
    struct Counts {
        read: AtomicU64,
        wrote: AtomicU64,
    }

    impl ByteCounter for Counts {
        fn read(&self, n: u64) {
            self.read.fetch_add(n, Ordering::Relaxed);
        }
        fn wrote(&self, n: u64) {
            self.wrote.fetch_add(n, Ordering::Relaxed);
        }
    }

    #[tokio::test]
    async fn every_byte_read_and_written_is_counted_vectored_or_not() {
        let (near, mut far) = tokio::io::duplex(64);
        let counts = Arc::new(Counts::default());
        let mut io = CountingIo::new(near, counts.clone());
        io.write_all(b"hello").await.unwrap();
        let bufs = [io::IoSlice::new(b"ab"), io::IoSlice::new(b"cde")];
        let n = io.write_vectored(&bufs).await.unwrap();
        far.write_all(b"0123456789").await.unwrap();
        let mut got = [0u8; 10];
        io.read_exact(&mut got).await.unwrap();
        assert_eq!(counts.wrote.load(Ordering::Relaxed), 5 + n as u64);
        assert_eq!(counts.read.load(Ordering::Relaxed), 10);
    }

    /// A writer that says whether it writes vectored, as a TCP stream does.
    struct Vectored(bool);

    impl AsyncWrite for Vectored {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn is_write_vectored(&self) -> bool {
            self.0
        }
    }

    struct NoHooks;
    impl Hooks for NoHooks {}

    #[test]
    fn vectored_writes_stay_vectored_through_a_stack_of_wrappers() {
        for vectored in [true, false] {
            let stacked = PassThrough::with_hooks(
                PassThrough::with_hooks(Vectored(vectored), NoHooks),
                NoHooks,
            );
            assert_eq!(stacked.is_write_vectored(), vectored);
        }
    }
}
