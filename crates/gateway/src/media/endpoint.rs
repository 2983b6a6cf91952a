//! The application side of an endpoint: a drop-oldest packet queue in, a socket handle out.
//!
//! An endpoint is a local RTP port whose media is produced and consumed inside sipbridge (an
//! embedded room, a WebRTC peer). The worker thread pushes each received RTP packet into a
//! [`MediaRx`]; the application sends through a [`MediaTx`] straight from its own task.
//!
//! The receive queue drops the *oldest* packet when full: for live audio the newest packet
//! is the one worth playing, and a consumer that fell behind should skip ahead rather than
//! play stale audio late. Drops are counted.

use std::collections::VecDeque;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use tokio::sync::Notify;

use super::MediaError;

/// State shared by the worker (producer) and a [`MediaRx`] (consumer).
#[derive(Debug)]
pub(crate) struct RxShared {
    queue: Mutex<VecDeque<Bytes>>,
    capacity: usize,
    notify: Notify,
    dropped: AtomicU64,
    closed: AtomicBool,
}

impl RxShared {
    pub(crate) fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            queue: Mutex::new(VecDeque::with_capacity(capacity.min(1024))),
            capacity: capacity.max(1),
            notify: Notify::new(),
            dropped: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        })
    }

    /// Queues a packet, dropping the oldest when full. Returns whether one was dropped.
    pub(crate) fn push(&self, packet: Bytes) -> bool {
        let dropped = {
            let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            let full = q.len() >= self.capacity;
            if full {
                q.pop_front();
            }
            q.push_back(packet);
            full
        };
        if dropped {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        self.notify.notify_one();
        dropped
    }

    /// No more packets will come (the endpoint was released or the engine stopped).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn pop(&self) -> Option<Bytes> {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
    }
}

/// Received RTP packets of an endpoint (whole packets, header included), in arrival order.
///
/// Bounded: when the application does not keep up, the oldest packets are dropped and
/// counted ([`MediaRx::dropped`]).
#[derive(Debug)]
pub struct MediaRx {
    shared: Arc<RxShared>,
}

impl MediaRx {
    pub(crate) fn new(shared: Arc<RxShared>) -> Self {
        Self { shared }
    }

    /// The next packet; `None` once the endpoint is released and the queue is empty.
    pub async fn recv(&mut self) -> Option<Bytes> {
        loop {
            if let Some(p) = self.shared.pop() {
                return Some(p);
            }
            if self.shared.closed.load(Ordering::Acquire) {
                // A packet may have been queued between the pop and the close.
                return self.shared.pop();
            }
            // `notify_one` stores a permit when nobody waits, so a push between the pop
            // above and this await is not missed.
            self.shared.notify.notified().await;
        }
    }

    /// The next packet if one is queued, without waiting.
    pub fn try_recv(&mut self) -> Option<Bytes> {
        self.shared.pop()
    }

    /// Packets dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped()
    }

    /// Whether the endpoint was released (queued packets can still be read).
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }
}

/// State shared by the worker (which learns the peer) and every [`MediaTx`] clone.
#[derive(Debug)]
pub(crate) struct TxShared {
    socket: UdpSocket,
    destination: Mutex<Option<SocketAddr>>,
    closed: AtomicBool,
    sent: AtomicU64,
}

impl TxShared {
    pub(crate) fn new(socket: UdpSocket, destination: Option<SocketAddr>) -> Arc<Self> {
        Arc::new(Self {
            socket,
            destination: Mutex::new(destination),
            closed: AtomicBool::new(false),
            sent: AtomicU64::new(0),
        })
    }

    pub(crate) fn set_destination(&self, destination: Option<SocketAddr>) {
        *self
            .destination
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = destination;
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }
}

/// Sends RTP out of an endpoint's port toward its peer: the latched address, or the one
/// from SDP before anything was received. Cloneable; sending never blocks.
///
/// The handle shares the port's socket: drop every clone after releasing the endpoint so
/// the port is really closed before its drain period ends.
#[derive(Debug, Clone)]
pub struct MediaTx {
    shared: Arc<TxShared>,
}

impl MediaTx {
    pub(crate) fn new(shared: Arc<TxShared>) -> Self {
        Self { shared }
    }

    /// Sends one RTP (or RTCP, under rtcp-mux) packet.
    ///
    /// # Errors
    /// [`MediaError::Released`] after release, [`MediaError::NoDestination`] while the peer
    /// is unknown, [`MediaError::Io`] when the socket refuses (e.g. its send buffer is full:
    /// the packet is lost, as any UDP packet may be).
    pub fn send(&self, packet: &[u8]) -> Result<(), MediaError> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(MediaError::Released);
        }
        let destination = self.destination().ok_or(MediaError::NoDestination)?;
        self.shared.socket.send_to(packet, destination)?;
        self.shared.sent.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Where packets go now.
    pub fn destination(&self) -> Option<SocketAddr> {
        *self
            .shared
            .destination
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Packets sent so far through every clone.
    pub fn sent(&self) -> u64 {
        self.shared.sent.load(Ordering::Relaxed)
    }

    /// The local address packets leave from.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.shared.socket.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_queue_drops_the_oldest_and_counts() {
        let shared = RxShared::new(2);
        let mut rx = MediaRx::new(shared.clone());
        assert!(!shared.push(Bytes::from_static(b"1")));
        assert!(!shared.push(Bytes::from_static(b"2")));
        assert!(shared.push(Bytes::from_static(b"3")));
        assert_eq!(rx.dropped(), 1);
        assert_eq!(rx.try_recv().as_deref(), Some(&b"2"[..]));
        assert_eq!(rx.try_recv().as_deref(), Some(&b"3"[..]));
        assert_eq!(rx.try_recv(), None);
    }

    #[tokio::test]
    async fn recv_wakes_on_push_and_ends_after_close() {
        let shared = RxShared::new(4);
        let mut rx = MediaRx::new(shared.clone());
        let producer = shared.clone();
        let task = tokio::spawn(async move {
            producer.push(Bytes::from_static(b"a"));
            producer.close();
        });
        assert_eq!(rx.recv().await.as_deref(), Some(&b"a"[..]));
        assert_eq!(rx.recv().await, None);
        assert!(rx.is_closed());
        task.await.expect("producer task");
    }
}
