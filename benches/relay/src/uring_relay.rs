//! `--plain-uring`: the plain relay of `--plain-tokio` (no parsing, a fixed peer per socket)
//! with its system calls batched through io_uring: one receive kept in flight per socket,
//! each arrival answered by a send from the call's other socket, and one `io_uring_enter`
//! per loop for everything that completed. It prices what the socket API costs once the
//! per-packet system calls and `epoll_wait` are gone, which is the question for the relay's
//! next step (benches/relay/README.md).
//!
//! The kernel reads and writes the buffers and message headers of an operation until its
//! completion arrives, so they live in boxed slices allocated once, never moved or freed
//! while the ring runs; that is the whole of the `unsafe` here.
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

    /// Points the header at this op's own buffer (and address, for a send). Called once the
    /// op sits at its final place in its boxed slice.
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
    let mut recvs = Op::boxed(n);
    let mut sends = Op::boxed(SEND_SLOTS);
    for op in recvs.iter_mut() {
        op.wire(DATAGRAM, false);
    }
    let mut free: Vec<usize> = (0..SEND_SLOTS).rev().collect();
    let push = |ring: &mut IoUring, entry: io_uring::squeue::Entry| -> Result<()> {
        loop {
            // SAFETY: every entry points into `recvs` or `sends`, which outlive the ring's use
            // (this function never returns while operations are in flight, and the process
            // exits rather than dropping them); a slot is reused only after its completion.
            if unsafe { ring.submission().push(&entry) }.is_ok() {
                return Ok(());
            }
            ring.submit().context("io_uring_enter")?;
        }
    };
    let recv_entry = |i: usize, recvs: &mut [Op]| {
        opcode::RecvMsg::new(types::Fd(fds[i]), &raw mut recvs[i].msg)
            .build()
            .user_data((i as u64) << 1)
    };
    for i in 0..n {
        let e = recv_entry(i, &mut recvs);
        push(&mut ring, e)?;
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
                let len = result as usize;
                let out = index ^ 1;
                match free.pop() {
                    Some(slot) => {
                        let op = &mut sends[slot];
                        op.buf[..len].copy_from_slice(&recvs[index].buf[..len]);
                        op.addr = dest[out];
                        op.wire(len, true);
                        let e = opcode::SendMsg::new(types::Fd(fds[out]), &raw const op.msg)
                            .build()
                            .user_data(((slot as u64) << 1) | 1);
                        push(&mut ring, e)?;
                    }
                    None => dropped += 1,
                }
            }
            let e = recv_entry(index, &mut recvs);
            push(&mut ring, e)?;
        }
        if dropped > 0 && dropped.is_power_of_two() {
            eprintln!("plain-uring: {dropped} packets dropped (no free send slot)");
        }
    }
}
