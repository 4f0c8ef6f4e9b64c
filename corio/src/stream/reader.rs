//! `StreamReader`: buffered reads with asyncio's API.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncBufRead, AsyncRead};

use super::StreamError;

/// asyncio's default stream buffer limit: 64 KiB.
pub const DEFAULT_LIMIT: usize = 64 * 1024;

/// Buffered reading from a stream (asyncio's `StreamReader`): `read`,
/// `read_line`, `read_until`, `read_exact`, `read_to_end`, `at_eof`.
///
/// Every method is cancel-safe: bytes are only taken out of the buffer when
/// a call returns them, so a `read_line` dropped half-way (by a timeout, say)
/// loses nothing; the next call sees every byte.
///
/// `limit` (64 KiB by default) bounds how far `read_line`/`read_until` search
/// for the separator: past it they fail with [`StreamError::LimitOverrun`],
/// leaving the data readable.
pub struct StreamReader {
    io: Box<dyn AsyncRead + Unpin>,
    /// Initialized storage; `buf[start..end]` is the buffered data.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    limit: usize,
}

impl std::fmt::Debug for StreamReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamReader")
            .field("buffered", &(self.end - self.start))
            .field("eof", &self.eof)
            .field("limit", &self.limit)
            .finish()
    }
}

/// Bytes read per system call at least (the buffer grows beyond for long lines).
const MIN_READ: usize = 4096;

impl StreamReader {
    /// A reader over `io` with the default 64 KiB limit.
    pub fn new(io: impl AsyncRead + Unpin + 'static) -> StreamReader {
        StreamReader::with_limit(io, DEFAULT_LIMIT)
    }

    /// A reader over `io` with a given limit.
    pub fn with_limit(io: impl AsyncRead + Unpin + 'static, limit: usize) -> StreamReader {
        StreamReader {
            io: Box::new(io),
            buf: Vec::new(),
            start: 0,
            end: 0,
            eof: false,
            limit,
        }
    }

    /// The separator search limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Changes the separator search limit.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// The bytes buffered and not yet returned.
    pub fn buffer(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Whether EOF was reached and the buffer is empty.
    pub fn at_eof(&self) -> bool {
        self.eof && self.start == self.end
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        let out = self.buf[self.start..self.start + n].to_vec();
        self.consume_n(n);
        out
    }

    fn consume_n(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Makes room for at least `MIN_READ` more bytes.
    fn reserve(&mut self) {
        if self.buf.len() - self.end >= MIN_READ {
            return;
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < MIN_READ {
            let grown = (self.buf.len() * 2).max(self.end + MIN_READ);
            self.buf.resize(grown, 0);
        }
    }

    /// Reads once more into the buffer; `Ok(0)` at EOF.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        self.poll_fill_at_most(cx, usize::MAX)
    }

    /// Reads once more into the buffer, at most `max` bytes (at least one).
    fn poll_fill_at_most(&mut self, cx: &mut Context<'_>, max: usize) -> Poll<io::Result<usize>> {
        if self.eof {
            return Poll::Ready(Ok(0));
        }
        self.reserve();
        let (end, cap) = (self.end, self.buf.len());
        let stop = end + max.clamp(1, cap - end);
        let n = std::task::ready!(Pin::new(&mut self.io).poll_read(cx, &mut self.buf[end..stop]))?;
        self.end += n;
        if n == 0 {
            self.eof = true;
        }
        Poll::Ready(Ok(n))
    }

    async fn fill(&mut self) -> io::Result<usize> {
        poll_fn(|cx| self.poll_fill(cx)).await
    }

    async fn fill_at_most(&mut self, max: usize) -> io::Result<usize> {
        poll_fn(|cx| self.poll_fill_at_most(cx, max)).await
    }

    /// Up to `n` bytes: what is buffered, or else one read from the stream.
    /// Empty at EOF.
    pub async fn read(&mut self, n: usize) -> io::Result<Vec<u8>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        if self.start == self.end {
            self.fill().await?;
        }
        let available = (self.end - self.start).min(n);
        Ok(self.take(available))
    }

    /// One line, ending with `\n` (included). At EOF, the last bytes without
    /// a newline (possibly empty) — not an error, as asyncio's `readline`.
    pub async fn read_line(&mut self) -> Result<Vec<u8>, StreamError> {
        match self.read_until(b"\n").await {
            Err(StreamError::IncompleteRead { partial, .. }) => Ok(partial),
            other => other,
        }
    }

    /// Bytes up to and including `separator` (asyncio's `readuntil`).
    ///
    /// Errors: [`StreamError::LimitOverrun`] if the separator does not start
    /// within `limit` bytes (the data stays buffered);
    /// [`StreamError::IncompleteRead`] at EOF without it.
    ///
    /// The rule is asyncio's: a separator starting at index `limit` or
    /// before is accepted; the overrun is reported as soon as more than
    /// `limit + separator.len() - 1` bytes are buffered without one. While
    /// searching, the reader buffers no more than that, so a peer that
    /// never sends a newline costs at most the limit in memory.
    pub async fn read_until(&mut self, separator: &[u8]) -> Result<Vec<u8>, StreamError> {
        if separator.is_empty() {
            return Err(
                io::Error::new(io::ErrorKind::InvalidInput, "read_until: empty separator").into(),
            );
        }
        let mut searched = 0;
        loop {
            let data = &self.buf[self.start..self.end];
            if let Some(i) = find(&data[searched..], separator) {
                let at = searched + i;
                if at > self.limit {
                    return Err(StreamError::LimitOverrun {
                        consumed: at + separator.len(),
                    });
                }
                return Ok(self.take(at + separator.len()));
            }
            // The most that can be buffered while a separator may still
            // start within the limit.
            let most = self.limit.saturating_add(separator.len() - 1);
            if data.len() > most {
                return Err(StreamError::LimitOverrun {
                    consumed: data.len(),
                });
            }
            searched = (data.len() + 1).saturating_sub(separator.len());
            if self.eof {
                let n = data.len();
                return Err(StreamError::IncompleteRead {
                    partial: self.take(n),
                    expected: None,
                });
            }
            // One byte past `most` is enough to know the limit is overrun.
            let room = most + 1 - data.len();
            self.fill_at_most(room).await?;
        }
    }

    /// Exactly `n` bytes; [`StreamError::IncompleteRead`] (with what was
    /// read) if EOF comes first.
    pub async fn read_exact(&mut self, n: usize) -> Result<Vec<u8>, StreamError> {
        loop {
            let available = self.end - self.start;
            if available >= n {
                return Ok(self.take(n));
            }
            if self.eof {
                return Err(StreamError::IncompleteRead {
                    partial: self.take(available),
                    expected: Some(n),
                });
            }
            self.fill().await?;
        }
    }

    /// Everything until EOF.
    pub async fn read_to_end(&mut self) -> io::Result<Vec<u8>> {
        while !self.eof {
            self.fill().await?;
        }
        let n = self.end - self.start;
        Ok(self.take(n))
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() == 1 {
        return haystack.iter().position(|&b| b == needle[0]);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl AsyncRead for StreamReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.start == this.end {
            if out.len() >= MIN_READ && !this.eof {
                // Large read with nothing buffered: skip the copy.
                return Pin::new(&mut this.io).poll_read(cx, out);
            }
            std::task::ready!(this.poll_fill(cx))?;
        }
        let n = (this.end - this.start).min(out.len());
        out[..n].copy_from_slice(&this.buf[this.start..this.start + n]);
        this.consume_n(n);
        Poll::Ready(Ok(n))
    }
}

impl AsyncBufRead for StreamReader {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if this.start == this.end {
            std::task::ready!(this.poll_fill(cx))?;
        }
        Poll::Ready(Ok(&this.buf[this.start..this.end]))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        this.consume_n(amt.min(this.end - this.start));
    }
}
