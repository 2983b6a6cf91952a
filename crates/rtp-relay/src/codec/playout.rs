//! A small playout (jitter) buffer ordering packets by RTP sequence number.
//!
//! It holds packets only while there is a hole in front of them: a packet that is the next
//! expected one is released at once, so in-order audio gains no delay. When a hole has
//! `depth` packets queued behind it, the hole is declared lost and reported as one
//! [`PlayoutEvent::Lost`] so the decoder can conceal it. Packets older than the last
//! released one arrive too late and are dropped; so are duplicates. Nothing here reads a
//! clock — the buffer runs on sequence numbers alone, which is what a sans-IO media core
//! can know.
//!
//! Sequence numbers are extended to 64 bits so that wrap-around (RFC 3550 §A.1) orders
//! correctly.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

/// Largest depth accepted: 16 packets (320 ms of 20 ms packets) bounds memory and delay.
pub const MAX_DEPTH: usize = 16;

/// Consecutive "late" packets after which the buffer decides the sender restarted its
/// sequence numbers and resynchronises instead of dropping audio forever.
const LATE_RESYNC: u32 = 8;

/// A jump forward of more than this many packets is a restart of the sequence space, not
/// loss: the packets in between will never come.
pub const MAX_GAP: u64 = 100;

/// A buffered RTP packet (only what the decoder needs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufferedPacket {
    /// RTP sequence number.
    pub sequence: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// RTP marker bit.
    pub marker: bool,
    /// The payload.
    pub payload: Bytes,
}

/// What the buffer releases, in playout order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlayoutEvent {
    /// The next packet.
    Packet(BufferedPacket),
    /// `count` consecutive packets starting at `first` never arrived in time.
    Lost {
        /// Sequence number of the first missing packet.
        first: u16,
        /// How many are missing (at most [`MAX_GAP`]).
        count: u16,
    },
    /// The sequence space restarted: what follows does not continue what came before, and
    /// there is no loss to conceal.
    Resync,
}

/// Counters of the buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlayoutStats {
    /// Packets accepted into the buffer.
    pub accepted: u64,
    /// Packets released in order.
    pub released: u64,
    /// Packets that arrived out of order but in time, and were put back in order.
    pub reordered: u64,
    /// Packets dropped because they arrived after their slot was played.
    pub late: u64,
    /// Packets dropped because the same sequence number was already buffered or played.
    pub duplicates: u64,
    /// Packets declared lost.
    pub lost: u64,
    /// Times the sequence space restarted.
    pub resyncs: u64,
}

/// The playout buffer.
#[derive(Debug, Clone)]
pub struct PlayoutBuffer {
    depth: usize,
    /// Extended sequence number of the next packet to release; `None` before the first.
    next: Option<u64>,
    /// Highest extended sequence number seen, the reference for extending new ones.
    highest: u64,
    held: BTreeMap<u64, BufferedPacket>,
    ready: VecDeque<PlayoutEvent>,
    late_run: u32,
    stats: PlayoutStats,
}

impl PlayoutBuffer {
    /// Creates a buffer that waits for at most `depth` packets behind a hole (clamped to
    /// 1..=[`MAX_DEPTH`]). Depth 3 to 5 suits 20 ms packets on ordinary networks.
    #[must_use]
    pub fn new(depth: usize) -> Self {
        Self {
            depth: depth.clamp(1, MAX_DEPTH),
            next: None,
            highest: 0,
            held: BTreeMap::new(),
            ready: VecDeque::new(),
            late_run: 0,
            stats: PlayoutStats::default(),
        }
    }

    /// The configured depth.
    #[must_use]
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Packets currently held behind a hole.
    #[must_use]
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether no packet is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> PlayoutStats {
        self.stats
    }

    /// The packet right after the head of the buffer, if held: the one that follows a gap
    /// just reported as [`PlayoutEvent::Lost`] (its Opus FEC data can rebuild the last
    /// lost frame).
    #[must_use]
    pub fn peek(&self) -> Option<&BufferedPacket> {
        self.held.first_key_value().map(|(_, p)| p)
    }

    /// Extends a 16-bit sequence number to the value closest to the highest seen.
    fn extend(&self, seq: u16) -> u64 {
        let hi = self.highest;
        let cycle = hi & !0xFFFF;
        let candidates = [
            cycle.wrapping_sub(0x1_0000) | u64::from(seq),
            cycle | u64::from(seq),
            (cycle + 0x1_0000) | u64::from(seq),
        ];
        // Start high enough (1 << 32) that the lower candidate never underflows.
        candidates
            .into_iter()
            .min_by_key(|&c| c.abs_diff(hi))
            .unwrap_or(cycle | u64::from(seq))
    }

    /// Adds a packet. Drain [`PlayoutBuffer::pop`] afterwards.
    pub fn push(&mut self, packet: BufferedPacket) {
        let Some(next) = self.next else {
            let ext = (1u64 << 32) | u64::from(packet.sequence);
            self.highest = ext;
            self.next = Some(ext);
            self.insert(ext, packet);
            return;
        };
        let ext = self.extend(packet.sequence);
        if ext < next {
            self.late_run += 1;
            if self.late_run < LATE_RESYNC {
                if next - ext <= MAX_GAP && self.was_played(ext) {
                    self.stats.duplicates += 1;
                } else {
                    self.stats.late += 1;
                }
                return;
            }
            self.resync(packet);
            return;
        }
        self.late_run = 0;
        if ext - next > MAX_GAP {
            self.resync(packet);
            return;
        }
        if self.held.contains_key(&ext) {
            self.stats.duplicates += 1;
            return;
        }
        if ext < self.highest {
            // A later packet came first: this one fills a hole and is put back in order.
            self.stats.reordered += 1;
        }
        self.highest = self.highest.max(ext);
        if ext == next && self.held.is_empty() {
            // The common case, in order with nothing held: released straight away, without
            // a round trip through the map (whose first insert allocates a node).
            self.stats.accepted += 1;
            self.stats.released += 1;
            self.next = Some(next + 1);
            self.ready.push_back(PlayoutEvent::Packet(packet));
            return;
        }
        self.insert(ext, packet);
    }

    /// Whether `ext` (older than `next`) was played rather than declared lost. We do not
    /// remember individual slots, so a packet within the last `depth` is presumed a
    /// duplicate of a played one; the counters are informational.
    fn was_played(&self, ext: u64) -> bool {
        self.next.is_some_and(|n| n - ext <= self.depth as u64)
    }

    fn insert(&mut self, ext: u64, packet: BufferedPacket) {
        self.stats.accepted += 1;
        self.held.insert(ext, packet);
    }

    /// Starts over at `packet`: everything held is released in order without concealment.
    fn resync(&mut self, packet: BufferedPacket) {
        self.stats.resyncs += 1;
        self.late_run = 0;
        while let Some((_, p)) = self.held.pop_first() {
            self.stats.released += 1;
            self.ready.push_back(PlayoutEvent::Packet(p));
        }
        self.ready.push_back(PlayoutEvent::Resync);
        let ext = (1u64 << 32) | u64::from(packet.sequence);
        self.highest = ext;
        self.next = Some(ext);
        self.insert(ext, packet);
    }

    /// Releases the next event, if one is due.
    pub fn pop(&mut self) -> Option<PlayoutEvent> {
        self.pop_inner(false)
    }

    /// Releases everything held, reporting holes as lost (end of stream).
    pub fn flush(&mut self) -> Option<PlayoutEvent> {
        self.pop_inner(true)
    }

    fn pop_inner(&mut self, force: bool) -> Option<PlayoutEvent> {
        if let Some(ev) = self.ready.pop_front() {
            return Some(ev);
        }
        let next = self.next?;
        let (&first, _) = self.held.first_key_value()?;
        if first == next {
            let (_, p) = self.held.pop_first()?;
            self.next = Some(next + 1);
            self.stats.released += 1;
            return Some(PlayoutEvent::Packet(p));
        }
        if force || self.held.len() >= self.depth {
            // `first - next` ≤ MAX_GAP by construction of `push`.
            let count = (first - next).min(MAX_GAP);
            self.next = Some(first);
            self.stats.lost += count;
            return Some(PlayoutEvent::Lost {
                first: next as u16,
                count: count as u16,
            });
        }
        None
    }
}
