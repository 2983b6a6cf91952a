//! A task that drives a share of the peer connections of a [`super::WebRtcRooms`]
//! ([`super::WebRtcLinkConfig::drivers`] of them; a session stays on one for its life).
//!
//! Inputs arrive on one bounded channel: datagrams and session items forwarded by each
//! session's small feeder task (which owns nothing but the waiting), new peers from joins,
//! and removals from leaves. The driver keeps one timer for all its peers: a min-heap of
//! `(deadline, peer)` with lazy deletion (an entry counts only if it is still that peer's
//! current deadline), so a wake-up costs O(log n) whatever the number of calls.
//!
//! After every input or timeout the peer concerned is flushed (writes → events → reads, the
//! `rtc` contract) and its next deadline re-armed.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use crate::session::{FromSession, LinkSide};

use super::peer::{Peer, Phase};

/// Largest UDP datagram read.
const MAX_DATAGRAM: usize = 2048;

/// Identifies a peer within its driver.
pub(super) type PeerId = u64;

/// What the driver is told.
pub(super) enum Input {
    /// A joined peer, answer applied, ready to connect.
    Add(PeerId, Box<Peer>),
    /// A datagram for a peer.
    Datagram(PeerId, Instant, SocketAddr, BytesMut),
    /// Something the gateway sent on a session.
    FromSession(PeerId, FromSession),
    /// Leave: close the connection (close_notify goes out), then acknowledge.
    Remove(PeerId, Option<oneshot::Sender<()>>),
}

struct Entry {
    peer: Box<Peer>,
    /// The deadline currently armed in the heap for this peer.
    armed: Option<Instant>,
}

/// Runs until every sender of `rx` is gone (the link and all its sessions).
pub(super) async fn run(mut rx: mpsc::Receiver<Input>) {
    let mut peers: HashMap<PeerId, Entry> = HashMap::new();
    let mut timers: BinaryHeap<Reverse<(Instant, PeerId)>> = BinaryHeap::new();
    loop {
        let next = timers.peek().map(|Reverse((t, _))| *t);
        let input = tokio::select! {
            biased;
            input = rx.recv() => match input {
                Some(i) => Some(i),
                None => break,
            },
            () = sleep_until(next) => None,
        };
        let now = tokio::time::Instant::now().into_std();
        match input {
            Some(Input::Add(id, peer)) => {
                peers.insert(id, Entry { peer, armed: None });
                touch(&mut peers, &mut timers, id, now);
            }
            Some(Input::Datagram(id, at, from, data)) => {
                if let Some(e) = peers.get_mut(&id) {
                    e.peer.handle_datagram(at, from, data);
                    touch(&mut peers, &mut timers, id, now);
                }
            }
            Some(Input::FromSession(id, item)) => {
                if let Some(e) = peers.get_mut(&id) {
                    e.peer.handle_from_session(now, item);
                    touch(&mut peers, &mut timers, id, now);
                }
            }
            Some(Input::Remove(id, done)) => {
                if let Some(mut e) = peers.remove(&id) {
                    e.peer.close(None);
                }
                if let Some(done) = done {
                    let _ = done.send(());
                }
            }
            None => {}
        }
        // Due timers run after every input too: a steady stream of inputs must not starve
        // them (the select above prefers inputs).
        while let Some(Reverse((t, id))) = timers.peek().copied() {
            if t > now {
                break;
            }
            timers.pop();
            let Some(e) = peers.get_mut(&id) else {
                continue;
            };
            if e.armed != Some(t) {
                continue; // stale entry
            }
            e.armed = None;
            e.peer.handle_timeout(now);
            touch(&mut peers, &mut timers, id, now);
        }
    }
    for (_, mut e) in peers.drain() {
        e.peer.close(None);
    }
}

/// Flushes peer `id`, drops it when it ended, else re-arms its timer.
fn touch(
    peers: &mut HashMap<PeerId, Entry>,
    timers: &mut BinaryHeap<Reverse<(Instant, PeerId)>>,
    id: PeerId,
    now: Instant,
) {
    let Some(e) = peers.get_mut(&id) else {
        return;
    };
    e.peer.flush(now);
    if e.peer.phase == Phase::Ended {
        if let Some(mut e) = peers.remove(&id) {
            e.peer.close(None);
        }
        return;
    }
    let next = e.peer.poll_timeout();
    if next != e.armed {
        e.armed = next;
        if let Some(t) = next {
            timers.push(Reverse((t, id)));
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
        None => std::future::pending().await,
    }
}

/// Waits on one session's socket and lanes and forwards what arrives to the driver. Ends
/// when `stop` fires or is dropped (the peer is gone), or the driver is gone.
pub(super) async fn feed(
    id: PeerId,
    socket: Arc<UdpSocket>,
    side: LinkSide,
    tx: mpsc::Sender<Input>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut buf = BytesMut::with_capacity(MAX_DATAGRAM * 16);
    let mut side_open = true;
    loop {
        if buf.capacity() < MAX_DATAGRAM {
            // One allocation serves many datagrams: each is split off and handed over.
            buf = BytesMut::with_capacity(MAX_DATAGRAM * 16);
        }
        buf.resize(MAX_DATAGRAM, 0);
        let input = tokio::select! {
            _ = &mut stop => break,
            r = socket.recv_from(&mut buf) => match r {
                Ok((n, from)) => {
                    buf.truncate(n);
                    let now = tokio::time::Instant::now().into_std();
                    Input::Datagram(id, now, from, buf.split())
                }
                Err(e) => {
                    // ICMP errors surface here on some systems; the connection's own
                    // timers decide whether the path is dead.
                    tracing::debug!(error = %e, "webrtc room link: receive failed");
                    continue;
                }
            },
            item = side.take(), if side_open => match item {
                Some(item) => Input::FromSession(id, item),
                None => {
                    // The gateway closed its side; its leave (or abandon) removes the peer.
                    side_open = false;
                    continue;
                }
            },
        };
        if tx.send(input).await.is_err() {
            break;
        }
    }
}
