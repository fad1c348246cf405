//! TCP that remembers what the peer sent, so that a TLS handshake that runs out of time can
//! say how far the peer got (how many bytes, and the first of them) instead of only that it
//! timed out: a peer that trickles a ClientHello and one that sends nothing at all are told
//! apart in the transcript.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// How many of the peer's first bytes are kept for the transcript.
const FIRST_BYTES_KEPT: usize = 16;

/// What the peer has sent on a connection so far: a count on every read, and the first bytes,
/// which are locked for only until they are complete (a read after the handshake costs one
/// atomic add).
#[derive(Debug, Default)]
struct Received {
    total: AtomicUsize,
    first: Mutex<Vec<u8>>,
}

/// A handle on what a [`CountedTcp`] has received, which outlives the stream (a timed-out
/// handshake drops the stream with its future).
#[derive(Clone, Debug, Default)]
pub struct ReceivedBytes(Arc<Received>);

impl ReceivedBytes {
    fn record(&self, bytes: &[u8]) {
        let before = self.0.total.fetch_add(bytes.len(), Ordering::Relaxed);
        if before >= FIRST_BYTES_KEPT {
            return;
        }
        let mut first = self.0.first.lock().unwrap_or_else(PoisonError::into_inner);
        let room = FIRST_BYTES_KEPT.saturating_sub(first.len());
        first.extend_from_slice(&bytes[..room.min(bytes.len())]);
    }
}

impl fmt::Display for ReceivedBytes {
    /// "nothing", or "37 bytes, starting 16 03 01 00 20 …".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.0.total.load(Ordering::Relaxed);
        if total == 0 {
            return f.write_str("nothing");
        }
        let first = self.0.first.lock().unwrap_or_else(PoisonError::into_inner);
        let plural = if total == 1 { "" } else { "s" };
        write!(f, "{total} byte{plural}, starting")?;
        for byte in first.iter() {
            write!(f, " {byte:02x}")?;
        }
        if total > first.len() {
            f.write_str(" …")?;
        }
        Ok(())
    }
}

/// A TCP stream that records every byte read from it in a [`ReceivedBytes`].
#[derive(Debug)]
pub struct CountedTcp {
    tcp: TcpStream,
    received: ReceivedBytes,
}

impl CountedTcp {
    /// Wraps `tcp`; what it receives from now on is counted in the returned handle.
    pub fn new(tcp: TcpStream) -> (CountedTcp, ReceivedBytes) {
        let received = ReceivedBytes::default();
        (
            CountedTcp {
                tcp,
                received: received.clone(),
            },
            received,
        )
    }
}

impl AsyncRead for CountedTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.tcp).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &poll {
            this.received.record(&buf.filled()[before..]);
        }
        poll
    }
}

impl AsyncWrite for CountedTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_received_says_nothing() {
        assert_eq!(ReceivedBytes::default().to_string(), "nothing");
    }

    #[test]
    fn received_bytes_give_the_count_and_the_first_sixteen_in_hex() {
        let received = ReceivedBytes::default();
        received.record(&[0x16, 0x03]);
        received.record(&[0x01; 20]);
        let shown = received.to_string();
        assert!(
            shown.starts_with("22 bytes, starting 16 03 01 01"),
            "{shown}"
        );
        assert_eq!(shown.matches(' ').count(), 2 + 16 + 1, "{shown}");
        assert!(shown.ends_with(" …"), "{shown}");
    }

    #[test]
    fn one_byte_is_singular_and_complete() {
        let received = ReceivedBytes::default();
        received.record(b"<");
        assert_eq!(received.to_string(), "1 byte, starting 3c");
    }
}
