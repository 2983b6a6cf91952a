//! `--plain-uring`: the plain relay of `--plain-tokio` (no parsing, a fixed peer per socket)
//! with its system calls batched through io_uring: one receive kept in flight per socket,
//! each arrival answered by a send from the call's other socket, and one `io_uring_enter`
//! per loop for everything that completed. It prices what the socket API costs once the
//! per-packet system calls and `epoll_wait` are gone, which is the question for the relay's
//! next step (benches/relay/README.md).
//!
//! The kernel reads and writes the buffers and message headers of an operation until its
//! completion arrives (and, once the ring is gone, possibly until the kernel has cancelled
//! it), so they live in slices allocated once and leaked: never moved, never freed, valid
//! for as long as the kernel may touch them, even if [`run`] returns early with operations
//! in flight. After start-up they are reached only through raw pointers to single entries,
//! and only to entries the kernel is not using (a receive whose completion arrived and is
//! not yet re-armed, a free send slot), so no Rust reference ever covers memory the kernel
//! may be writing. That is the whole of the `unsafe` here.
#![allow(unsafe_code)]

use std::net::{SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use io_uring::{IoUring, opcode, types};

/// Largest datagram relayed.
const DATAGRAM: usize = 1500;
/// Sends in flight at most; a packet finding none free is dropped (counted).
const SEND_SLOTS: usize = 16_384;
/// Submission queue entries.
const RING: u32 = 8192;

/// Buffer and header of one operation; the header points into the same allocation.
struct Op {
    buf: [u8; DATAGRAM],
    iov: libc::iovec,
    msg: libc::msghdr,
    addr: libc::sockaddr_in,
}

impl Op {
    fn boxed(n: usize) -> Box<[Op]> {
        (0..n)
            .map(|_| Op {
                buf: [0; DATAGRAM],
                // SAFETY: plain C structs of integers and pointers, all-zero is valid.
                iov: unsafe { std::mem::zeroed() },
                msg: unsafe { std::mem::zeroed() },
                addr: unsafe { std::mem::zeroed() },
            })
            .collect()
    }

    /// Points the header at this op's own buffer (and address, for a send). Called once per
    /// op at start-up, when it sits at its final place in its leaked slice and before the
    /// kernel has seen it; a send then only sets `iov.iov_len` and `addr` per packet.
    fn wire(&mut self, len: usize, with_addr: bool) {
        self.iov.iov_base = self.buf.as_mut_ptr().cast();
        self.iov.iov_len = len;
        self.msg.msg_iov = &raw mut self.iov;
        self.msg.msg_iovlen = 1;
        if with_addr {
            self.msg.msg_name = (&raw mut self.addr).cast();
            self.msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as u32;
        }
    }
}

fn sockaddr(addr: SocketAddr) -> Result<libc::sockaddr_in> {
    let SocketAddr::V4(v4): SocketAddr = addr else {
        bail!("IPv4 only: {addr}")
    };
    let v4: SocketAddrV4 = v4;
    Ok(libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: v4.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*v4.ip()).to_be(),
        },
        sin_zero: [0; 8],
    })
}

/// Relays between `sockets[2i]` and `sockets[2i + 1]`: what arrives on one goes from the other
/// to `peers` of the other (`peers[j]` is where socket `j` sends). Runs until an error.
pub(crate) fn run(
    sockets: Vec<UdpSocket>,
    peers: Vec<SocketAddr>,
    received: Arc<AtomicU64>,
) -> Result<()> {
    let n = sockets.len();
    let fds: Vec<i32> = sockets.iter().map(AsRawFd::as_raw_fd).collect();
    let dest: Vec<libc::sockaddr_in> = peers.into_iter().map(sockaddr).collect::<Result<_>>()?;
    let mut ring = IoUring::new(RING).context("io_uring_setup")?;
    // Leaked: see the module docs. Wired here, before any operation is submitted, while
    // these are the only references; afterwards only the raw base pointers are used.
    let recvs: &'static mut [Op] = Box::leak(Op::boxed(n));
    let sends: &'static mut [Op] = Box::leak(Op::boxed(SEND_SLOTS));
    for op in recvs.iter_mut() {
        op.wire(DATAGRAM, false);
    }
    for op in sends.iter_mut() {
        op.wire(0, true);
    }
    let recv_base: *mut Op = recvs.as_mut_ptr();
    let send_base: *mut Op = sends.as_mut_ptr();
    let mut free: Vec<usize> = (0..SEND_SLOTS).rev().collect();
    let push = |ring: &mut IoUring, entry: io_uring::squeue::Entry| -> Result<()> {
        loop {
            // SAFETY: every entry points at the header of one op of the leaked `recvs` or
            // `sends`, which is wired (its pointers lead into the same op) and never moved or
            // freed, so it stays valid for as long as the kernel may use it, even if this
            // function returns and the ring is dropped with the operation in flight. An op is
            // submitted only while no other operation uses it: a receive is re-armed after
            // its completion, a send slot reused after its completion.
            if unsafe { ring.submission().push(&entry) }.is_ok() {
                return Ok(());
            }
            ring.submit().context("io_uring_enter")?;
        }
    };
    let recv_entry = |i: usize| {
        debug_assert!(i < n);
        // SAFETY: `i < n`, so `recv_base.add(i)` stays inside the leaked `recvs`; `&raw mut`
        // of a field makes no reference, so nothing aliases what the kernel writes.
        let msg = unsafe { &raw mut (*recv_base.add(i)).msg };
        opcode::RecvMsg::new(types::Fd(fds[i]), msg)
            .build()
            .user_data((i as u64) << 1)
    };
    for i in 0..n {
        push(&mut ring, recv_entry(i))?;
    }
    let mut done: Vec<(u64, i32)> = Vec::with_capacity(RING as usize);
    let mut dropped = 0u64;
    loop {
        ring.submit_and_wait(1).context("io_uring_enter")?;
        done.clear();
        done.extend(ring.completion().map(|c| (c.user_data(), c.result())));
        for &(data, result) in &done {
            let index = (data >> 1) as usize;
            if data & 1 == 1 {
                free.push(index);
                continue;
            }
            if result > 0 {
                received.fetch_add(1, Ordering::Relaxed);
                let len = (result as usize).min(DATAGRAM);
                let out = index ^ 1;
                match free.pop() {
                    Some(slot) => {
                        // SAFETY: `slot < SEND_SLOTS` and `index < n` (both came from this
                        // function), so both pointers stay inside their leaked slices. The
                        // kernel uses neither op now: the send slot is free (its last send
                        // completed) and receive `index` has completed and is re-armed only
                        // below. So the references made here, to these two ops' fields
                        // only, alias nothing the kernel touches.
                        let msg = unsafe {
                            let op = send_base.add(slot);
                            let from = &(*recv_base.add(index)).buf;
                            (&mut (*op).buf)[..len].copy_from_slice(&from[..len]);
                            (*op).iov.iov_len = len;
                            (*op).addr = dest[out];
                            &raw const (*op).msg
                        };
                        let e = opcode::SendMsg::new(types::Fd(fds[out]), msg)
                            .build()
                            .user_data(((slot as u64) << 1) | 1);
                        push(&mut ring, e)?;
                    }
                    None => dropped += 1,
                }
            }
            push(&mut ring, recv_entry(index))?;
        }
        if dropped > 0 && dropped.is_power_of_two() {
            eprintln!("plain-uring: {dropped} packets dropped (no free send slot)");
        }
    }
}
