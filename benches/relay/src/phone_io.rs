//! The generator's socket I/O: datagrams sent in batches, each batch stamped with the wall
//! clock just before its system call, and datagrams received with the kernel's arrival
//! time (`SO_TIMESTAMPNS`, `socket(7)`).
//!
//! Latency is then measured from the moment a packet left the generator to the moment the
//! kernel queued the relayed packet on the phone's socket: the time the generator's own
//! thread needs to get around to reading it (on a 2-core machine, while it is sending the
//! next slot) is not charged to the relay. The kernel stamps with `CLOCK_REALTIME`, so the
//! send stamps use the same clock ([`wall_ns`]).

use std::io::{self, IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg,
    sendmmsg, setsockopt, sockopt,
};
use nix::sys::time::TimeSpec;

/// Datagrams per `recvmmsg` / `sendmmsg`.
pub(crate) const BATCH: usize = 32;
/// Largest datagram the generator sends or reads (RTP of 20 ms of audio stays far below).
pub(crate) const DATAGRAM: usize = 1500;

/// Nanoseconds since the Unix epoch on `CLOCK_REALTIME`, the clock of `SO_TIMESTAMPNS`.
pub(crate) fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Asks the kernel to stamp every datagram queued on `socket` with its arrival time.
pub(crate) fn stamp_arrivals(socket: &impl AsFd) -> Result<()> {
    setsockopt(socket, sockopt::ReceiveTimestampns, &true).context("SO_TIMESTAMPNS")
}

/// Socket buffers of `bytes` each way (capped by `net.core.{r,w}mem_max`), for a socket
/// that carries many phones.
pub(crate) fn large_buffers(socket: &impl AsFd, bytes: usize) -> Result<()> {
    setsockopt(socket, sockopt::RcvBuf, &bytes).context("SO_RCVBUF")?;
    setsockopt(socket, sockopt::SndBuf, &bytes).context("SO_SNDBUF")
}

/// Receive buffers and headers, reused across calls (nothing is allocated per call).
pub(crate) struct Receiver {
    headers: MultiHeaders<SockaddrStorage>,
    bufs: Box<[[u8; DATAGRAM]; BATCH]>,
}

impl Receiver {
    pub(crate) fn new() -> Self {
        Self {
            headers: MultiHeaders::preallocate(BATCH, Some(nix::cmsg_space!(TimeSpec))),
            bufs: Box::new([[0u8; DATAGRAM]; BATCH]),
        }
    }

    /// Reads everything queued on `socket` (which is non-blocking) and hands each datagram
    /// to `on` with its kernel arrival time (0 if the kernel gave none). Returns how many
    /// were read.
    pub(crate) fn drain(
        &mut self,
        socket: &impl AsRawFd,
        mut on: impl FnMut(&[u8], u64),
    ) -> io::Result<usize> {
        let fd = socket.as_raw_fd();
        let mut total = 0;
        loop {
            let mut got = [(0usize, 0u64); BATCH];
            let mut k = 0;
            let mut slices = self.bufs.each_mut().map(|b| [IoSliceMut::new(b)]);
            let results = match recvmmsg(
                fd,
                &mut self.headers,
                slices.iter_mut(),
                MsgFlags::MSG_DONTWAIT,
                None,
            ) {
                Ok(r) => r,
                Err(Errno::EAGAIN) => return Ok(total),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            };
            for r in results {
                let mut at = 0;
                if let Ok(cmsgs) = r.cmsgs() {
                    for c in cmsgs {
                        if let ControlMessageOwned::ScmTimestampns(ts) = c {
                            at = (ts.tv_sec() as u64)
                                .saturating_mul(1_000_000_000)
                                .saturating_add(ts.tv_nsec() as u64);
                        }
                    }
                }
                got[k] = (r.bytes.min(DATAGRAM), at);
                k += 1;
            }
            for (i, &(len, at)) in got[..k].iter().enumerate() {
                on(&self.bufs[i][..len], at);
            }
            total += k;
            // Fewer than a batch: the kernel stopped at an empty queue.
            if k < BATCH {
                return Ok(total);
            }
        }
    }
}

/// Datagrams waiting to be sent, in the order queued.
pub(crate) struct Sender {
    socket: Vec<usize>,
    to: Vec<SocketAddr>,
    len: Vec<usize>,
    bufs: Vec<[u8; DATAGRAM]>,
    headers: MultiHeaders<SockaddrStorage>,
    /// Destinations of one `sendmmsg`, reused.
    addrs: Vec<Option<SockaddrStorage>>,
}

/// What a flush did (the datagrams the kernel took are reported through `on_sent`).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Sent {
    /// Datagrams the kernel refused (a full send buffer): never sent, so not counted as
    /// sent either; lost, as a network loses them.
    pub(crate) refused: u64,
}

impl Sender {
    pub(crate) fn new() -> Self {
        Self {
            socket: Vec::new(),
            to: Vec::new(),
            len: Vec::new(),
            bufs: Vec::new(),
            headers: MultiHeaders::preallocate(BATCH, None),
            addrs: Vec::with_capacity(BATCH),
        }
    }

    /// A buffer for the next datagram, which goes out of socket number `socket` to `to`;
    /// the caller writes it and reports its length with [`Sender::commit`].
    pub(crate) fn next(&mut self, socket: usize, to: SocketAddr) -> &mut [u8; DATAGRAM] {
        let i = self.socket.len();
        self.socket.push(socket);
        self.to.push(to);
        self.len.push(0);
        if self.bufs.len() <= i {
            self.bufs.push([0u8; DATAGRAM]);
        }
        &mut self.bufs[i]
    }

    /// The length of the datagram [`Sender::next`] gave out last.
    pub(crate) fn commit(&mut self, len: usize) {
        if let Some(l) = self.len.last_mut() {
            *l = len;
        }
    }

    /// Sends everything queued: each run of datagrams for the same socket in batches of
    /// [`BATCH`]; `stamp(datagram, now)` writes the wall-clock time into each datagram of a
    /// batch right before its system call, and `on_sent(now, n)` reports the `n` datagrams
    /// of the batch the kernel took (refused ones are counted in the returned [`Sent`]).
    pub(crate) fn flush<S: AsRawFd>(
        &mut self,
        sockets: &[S],
        mut stamp: impl FnMut(&mut [u8], u64),
        mut on_sent: impl FnMut(u64, u64),
    ) -> Sent {
        let mut done = Sent::default();
        let n = self.socket.len();
        let mut start = 0;
        while start < n {
            let s = self.socket[start];
            let mut end = start + 1;
            while end < n && end - start < BATCH && self.socket[end] == s {
                end += 1;
            }
            let now = wall_ns();
            for i in start..end {
                let len = self.len[i];
                stamp(&mut self.bufs[i][..len], now);
            }
            let fd = sockets[s].as_raw_fd();
            let mut first = start;
            let mut taken = 0u64;
            while first < end {
                let count = end - first;
                let mut slices = [[IoSlice::new(&[])]; BATCH];
                for (slice, i) in slices.iter_mut().zip(first..end) {
                    *slice = [IoSlice::new(&self.bufs[i][..self.len[i]])];
                }
                self.addrs.clear();
                self.addrs.extend(
                    self.to[first..end]
                        .iter()
                        .map(|&to| Some(SockaddrStorage::from(to))),
                );
                let no_cmsgs: [ControlMessage<'_>; 0] = [];
                let sent = match sendmmsg(
                    fd,
                    &mut self.headers,
                    &slices[..count],
                    &self.addrs,
                    no_cmsgs,
                    MsgFlags::MSG_DONTWAIT,
                ) {
                    Ok(r) => r.count(),
                    Err(Errno::EINTR) => continue,
                    Err(_) => 0,
                };
                if sent == 0 {
                    // The first datagram was refused: skip it and carry on with the rest.
                    done.refused += 1;
                    first += 1;
                } else {
                    taken += sent as u64;
                    first += sent;
                }
            }
            on_sent(now, taken);
            start = end;
        }
        self.socket.clear();
        self.to.clear();
        self.len.clear();
        done
    }
}
