//! Batched UDP I/O for the media workers: `recvmmsg` to drain a socket, `sendmmsg` to flush
//! what a batch produced for one socket.
//!
//! System calls are most of a relayed packet's cost (≈ 90 % of the relay's CPU is kernel
//! time in `relay-bench`; a loopback `sendto` + `recvfrom` pair cost 1–6 µs on the VMs it
//! ran on). A relayed RTP
//! packet needs one receive and one send, but a plain drain loop also pays a final
//! `recvfrom` that returns `WouldBlock` for every readable socket on every wake-up — with
//! 50 packets/s per socket that is one wasted call per packet. [`RecvBatch::recv`] reads up
//! to [`BATCH`] datagrams in one `recvmmsg(MSG_DONTWAIT)`; when it returns fewer, the kernel
//! stopped at `EAGAIN`, so the socket is drained and edge-triggered readiness will fire
//! again for the next datagram: no extra call.
//!
//! [`TxQueue`] collects the datagrams a batch forwards and sends each run of datagrams for
//! the same socket with one `sendmmsg` (a single datagram goes out with `sendto`). Datagrams
//! relayed in place are not copied: the queue refers to the receive buffers, so it is
//! flushed before the next receive reuses them.
//!
//! The `nix` wrappers keep this free of `unsafe`. Their `MultiHeaders` keep raw pointers (so
//! they are not `Send`: a worker builds its batches on its own thread) and carry each
//! header's `msg_namelen` over from the previous call, which the kernel reads as the size
//! of the address buffer; a receive batch is therefore used for one address family only
//! (a socket's peers all have its family), so that length always fits.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

use nix::errno::Errno;
use nix::sys::socket::{
    ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg,
};

/// Datagrams read by one `recvmmsg`.
pub(crate) const BATCH: usize = 32;

/// Largest datagram accepted; a datagram that fills the buffer (or comes back with
/// `MSG_TRUNC`) was truncated (RTP over UDP stays below the path MTU, RFC 3550 §11 /
/// RFC 8085 §3.2).
pub(crate) const DATAGRAM: usize = 4096;

/// Datagrams the send queue holds: one receive batch, each relayed at most once.
const TX_QUEUE: usize = BATCH;

/// One received datagram.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Received {
    /// Bytes received (at most [`DATAGRAM`]).
    pub(crate) len: usize,
    /// The sender; `None` for an address of another family (not expected on an IP socket).
    pub(crate) from: Option<SocketAddr>,
    /// The datagram did not fit the buffer.
    pub(crate) truncated: bool,
}

/// Buffers and headers for `recvmmsg`, reused across calls (nothing is allocated per
/// datagram).
pub(crate) struct RecvBatch {
    /// One set of headers per address family (see the module docs).
    headers: [MultiHeaders<SockaddrStorage>; 2],
    bufs: Box<[[u8; DATAGRAM]; BATCH]>,
    received: [Received; BATCH],
}

impl RecvBatch {
    pub(crate) fn new() -> Self {
        let bufs: Box<[[u8; DATAGRAM]]> = vec![[0u8; DATAGRAM]; BATCH].into_boxed_slice();
        let Ok(bufs) = bufs.try_into() else {
            unreachable!("the vector has BATCH elements")
        };
        Self {
            headers: [
                MultiHeaders::preallocate(BATCH, None),
                MultiHeaders::preallocate(BATCH, None),
            ],
            bufs,
            received: [Received {
                len: 0,
                from: None,
                truncated: false,
            }; BATCH],
        }
    }

    /// Reads up to [`BATCH`] datagrams without blocking. `Ok(n)` with `n < BATCH` means the
    /// socket is drained; `WouldBlock` means it was already empty; `Interrupted` asks for
    /// another try.
    pub(crate) fn recv(&mut self, fd: RawFd, ipv6: bool) -> io::Result<usize> {
        let headers = &mut self.headers[usize::from(ipv6)];
        let mut slices = self.bufs.each_mut().map(|b| [IoSliceMut::new(b)]);
        let results = recvmmsg(fd, headers, slices.iter_mut(), MsgFlags::MSG_DONTWAIT, None)
            .map_err(io::Error::from)?;
        let mut n = 0;
        for (r, slot) in results.zip(self.received.iter_mut()) {
            *slot = Received {
                len: r.bytes.min(DATAGRAM),
                from: r.address.and_then(|a| socket_addr(&a)),
                truncated: r.flags.contains(MsgFlags::MSG_TRUNC) || r.bytes >= DATAGRAM,
            };
            n += 1;
        }
        Ok(n)
    }

    /// Datagram `i` of the last [`RecvBatch::recv`] and its buffer, for in-place rewriting.
    pub(crate) fn datagram_mut(&mut self, i: usize) -> (Received, &mut [u8]) {
        let r = self.received[i];
        (r, &mut self.bufs[i][..r.len])
    }

    /// The bytes of datagram `i` of the last receive (as rewritten).
    fn datagram(&self, i: usize) -> &[u8] {
        &self.bufs[i][..self.received[i].len]
    }
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    fd: RawFd,
    to: SocketAddr,
    /// Datagram index in the receive batch.
    datagram: usize,
}

/// What a flush did, for the counters.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Flushed {
    /// Datagrams the kernel took.
    pub(crate) sent: u64,
    /// Their bytes.
    pub(crate) bytes: u64,
    /// Datagrams refused (full send buffer, unreachable, …): lost, as UDP may lose them.
    pub(crate) failed: u64,
    /// `sendto` / `sendmmsg` calls made.
    pub(crate) calls: u64,
}

/// Datagrams of the receive batch waiting to be sent, grouped per socket at flush time.
pub(crate) struct TxQueue {
    headers: MultiHeaders<SockaddrStorage>,
    pending: Vec<Pending>,
    addrs: Vec<Option<SockaddrStorage>>,
}

impl TxQueue {
    pub(crate) fn new() -> Self {
        Self {
            headers: MultiHeaders::preallocate(TX_QUEUE, None),
            pending: Vec::with_capacity(TX_QUEUE),
            addrs: Vec::with_capacity(TX_QUEUE),
        }
    }

    /// Whether a datagram can be queued (the queue holds a whole receive batch).
    pub(crate) fn has_room(&self) -> bool {
        self.pending.len() < TX_QUEUE
    }

    /// Queues datagram `i` of the receive batch to go out of socket `fd` to `to`. The
    /// caller checked [`TxQueue::has_room`].
    pub(crate) fn push_received(&mut self, fd: RawFd, to: SocketAddr, i: usize) {
        debug_assert!(self.has_room());
        self.pending.push(Pending {
            fd,
            to,
            datagram: i,
        });
    }

    /// Sends everything queued: one `sendmmsg` per run of datagrams out of the same
    /// socket (one datagram alone goes out with `sendto`).
    pub(crate) fn flush(&mut self, rx: &RecvBatch) -> Flushed {
        let mut done = Flushed::default();
        let mut start = 0;
        while start < self.pending.len() {
            let fd = self.pending[start].fd;
            let end = self.pending[start..]
                .iter()
                .position(|p| p.fd != fd)
                .map_or(self.pending.len(), |k| start + k);
            self.send_run(rx, start, end, &mut done);
            start = end;
        }
        self.pending.clear();
        done
    }

    /// Sends `pending[start..end]` (one socket).
    fn send_run(&mut self, rx: &RecvBatch, mut start: usize, end: usize, done: &mut Flushed) {
        while start < end {
            let fd = self.pending[start].fd;
            done.calls += 1;
            let sent = if end - start == 1 {
                let p = self.pending[start];
                send_one(fd, rx.datagram(p.datagram), p.to).map(|_| 1)
            } else {
                self.addrs.clear();
                self.addrs.extend(
                    self.pending[start..end]
                        .iter()
                        .map(|p| Some(SockaddrStorage::from(p.to))),
                );
                let mut slices = [[IoSlice::new(&[])]; TX_QUEUE];
                for (slice, p) in slices.iter_mut().zip(&self.pending[start..end]) {
                    *slice = [IoSlice::new(rx.datagram(p.datagram))];
                }
                let no_cmsgs: [ControlMessage<'_>; 0] = [];
                loop {
                    match sendmmsg(
                        fd,
                        &mut self.headers,
                        &slices[..end - start],
                        &self.addrs,
                        no_cmsgs,
                        MsgFlags::MSG_DONTWAIT,
                    ) {
                        Err(Errno::EINTR) => continue,
                        other => break other.map(|r| r.count()).map_err(io::Error::from),
                    }
                }
            };
            match sent {
                Ok(n) if n > 0 => {
                    for p in &self.pending[start..start + n] {
                        done.bytes += rx.datagram(p.datagram).len() as u64;
                    }
                    done.sent += n as u64;
                    start += n;
                }
                // The first datagram of the run was refused: count it lost and go on with
                // the rest (the kernel reports one error per call).
                _ => {
                    done.failed += 1;
                    start += 1;
                }
            }
        }
    }
}

fn send_one(fd: RawFd, data: &[u8], to: SocketAddr) -> io::Result<usize> {
    let addr = SockaddrStorage::from(to);
    loop {
        match nix::sys::socket::sendto(fd, data, &addr, MsgFlags::MSG_DONTWAIT) {
            Err(Errno::EINTR) => continue,
            other => return other.map_err(io::Error::from),
        }
    }
}

fn socket_addr(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::V4(SocketAddrV4::from(*v4)));
    }
    a.as_sockaddr_in6()
        .map(|v6| SocketAddr::V6(SocketAddrV6::from(*v6)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    fn pair() -> (UdpSocket, UdpSocket) {
        let a = UdpSocket::bind("127.0.0.1:0").expect("bind a");
        let b = UdpSocket::bind("127.0.0.1:0").expect("bind b");
        a.set_nonblocking(true).expect("nonblocking");
        b.set_nonblocking(true).expect("nonblocking");
        (a, b)
    }

    #[test]
    fn short_batch_means_drained_and_empty_socket_would_block() {
        let (a, b) = pair();
        let to = b.local_addr().expect("addr");
        for i in 0..3u8 {
            a.send_to(&[i; 10], to).expect("send");
        }
        let mut rx = RecvBatch::new();
        let n = rx.recv(b.as_raw_fd(), false).expect("recv");
        assert_eq!(n, 3);
        for i in 0..3 {
            let (r, data) = rx.datagram_mut(i);
            assert_eq!(r.from, Some(a.local_addr().expect("addr")));
            assert!(!r.truncated);
            assert_eq!(data, &[i as u8; 10]);
        }
        let e = rx.recv(b.as_raw_fd(), false).expect_err("empty");
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn full_batch_leaves_the_rest_queued() {
        let (a, b) = pair();
        let to = b.local_addr().expect("addr");
        for i in 0..BATCH + 5 {
            a.send_to(&(i as u32).to_be_bytes(), to).expect("send");
        }
        let mut rx = RecvBatch::new();
        assert_eq!(rx.recv(b.as_raw_fd(), false).expect("first"), BATCH);
        assert_eq!(rx.recv(b.as_raw_fd(), false).expect("second"), 5);
        let (_, last) = rx.datagram_mut(4);
        assert_eq!(last, &((BATCH + 4) as u32).to_be_bytes());
    }

    #[test]
    fn oversized_datagram_is_flagged_truncated() {
        let (a, b) = pair();
        a.send_to(&[7u8; DATAGRAM + 100], b.local_addr().expect("addr"))
            .expect("send");
        let mut rx = RecvBatch::new();
        assert_eq!(rx.recv(b.as_raw_fd(), false).expect("recv"), 1);
        assert!(rx.datagram_mut(0).0.truncated);
    }

    #[test]
    fn ipv6_sources_keep_their_full_address() {
        let Ok(a) = UdpSocket::bind("[::1]:0") else {
            return; // no IPv6 loopback here
        };
        let b = UdpSocket::bind("[::1]:0").expect("bind b");
        b.set_nonblocking(true).expect("nonblocking");
        let mut rx = RecvBatch::new();
        // An IPv4 receive first must not shrink the IPv6 headers' address buffers.
        let (c, d) = pair();
        c.send_to(b"v4", d.local_addr().expect("addr"))
            .expect("send");
        assert_eq!(rx.recv(d.as_raw_fd(), false).expect("v4"), 1);
        a.send_to(b"v6", b.local_addr().expect("addr"))
            .expect("send");
        assert_eq!(rx.recv(b.as_raw_fd(), true).expect("v6"), 1);
        assert_eq!(
            rx.datagram_mut(0).0.from,
            Some(a.local_addr().expect("addr"))
        );
    }

    #[test]
    fn flush_sends_runs_per_socket_in_order() {
        let (a, b) = pair();
        let (c, d) = pair();
        // Receive three datagrams on `b`, then relay them: two out of `a` to `d` (one
        // sendmmsg), one out of `c` to `d` (one sendto).
        for i in 0..3u8 {
            c.send_to(&[i; 20], b.local_addr().expect("addr"))
                .expect("send");
        }
        let mut rx = RecvBatch::new();
        assert_eq!(rx.recv(b.as_raw_fd(), false).expect("recv"), 3);
        let to = d.local_addr().expect("addr");
        let mut tx = TxQueue::new();
        tx.push_received(a.as_raw_fd(), to, 0);
        tx.push_received(a.as_raw_fd(), to, 1);
        tx.push_received(c.as_raw_fd(), to, 2);
        let done = tx.flush(&rx);
        assert_eq!(done.sent, 3);
        assert_eq!(done.bytes, 60);
        assert_eq!(done.calls, 2, "one sendmmsg for a, one sendto for c");
        assert_eq!(done.failed, 0);
        let mut got = RecvBatch::new();
        assert_eq!(got.recv(d.as_raw_fd(), false).expect("recv"), 3);
        let from_a = a.local_addr().expect("addr");
        let mut seen = Vec::new();
        for i in 0..3 {
            let (r, data) = got.datagram_mut(i);
            seen.push((r.from == Some(from_a), data.to_vec()));
        }
        assert_eq!(
            seen,
            vec![
                (true, vec![0; 20]),
                (true, vec![1; 20]),
                (false, vec![2; 20])
            ]
        );
        assert!(tx.has_room(), "flush empties the queue");
    }

    #[test]
    fn a_refused_datagram_is_counted_and_the_rest_still_go() {
        let (a, b) = pair();
        let (c, d) = pair();
        for i in 0..2u8 {
            c.send_to(&[i; 20], b.local_addr().expect("addr"))
                .expect("send");
        }
        let mut rx = RecvBatch::new();
        assert_eq!(rx.recv(b.as_raw_fd(), false).expect("recv"), 2);
        let mut tx = TxQueue::new();
        // An IPv6 destination from an IPv4 socket is refused by the kernel.
        tx.push_received(a.as_raw_fd(), "[::1]:9".parse().expect("addr"), 0);
        tx.push_received(a.as_raw_fd(), d.local_addr().expect("addr"), 1);
        let done = tx.flush(&rx);
        assert_eq!((done.sent, done.failed), (1, 1));
        let mut got = RecvBatch::new();
        assert_eq!(got.recv(d.as_raw_fd(), false).expect("recv"), 1);
        assert_eq!(got.datagram_mut(0).1, &[1u8; 20]);
    }
}
