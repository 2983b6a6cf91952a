//! The relay table: calls with two legs, symmetric latching, rewriting, media timeouts and
//! per-leg statistics.
//!
//! # The per-packet call
//!
//! [`Relay::handle_datagram`] takes the datagram *mutably*, rewrites it in place when
//! needed and returns an [`Action`]: either "send these same bytes from socket S to
//! address D" ([`Transmit`]) or why it was dropped. The forwarding decision is returned
//! directly instead of being queued for `poll_transmit()` because a queued transmit would
//! have to own its bytes (a copy, or a `Bytes` allocation per packet); returning it lets
//! the I/O shell keep the datagram in its receive buffer and put that very slice into its
//! send batch (`sendmmsg`/GSO), with no allocation and no copy. The path is: index the
//! socket table by [`SocketId`] (O(1)), classify the first two bytes (RFC 7983/5761),
//! validate the header in place, check payload type and latched source, update the
//! counters, sequence (RFC 3550 A.1) and jitter (A.8) state, and — only when the output
//! stream needs it — overwrite SSRC, sequence number and timestamp (12 bytes) and the
//! payload-type/marker byte. It allocates nothing (`tests/relay_no_alloc.rs` checks this
//! with a counting allocator).
//!
//! Everything else — latching, source changes, DTMF digits, media timeouts — is reported
//! through [`Relay::poll_event`]; deadlines through [`Relay::poll_timeout`].
//!
//! # Legs, sockets and addresses
//!
//! Each leg has a local RTP socket and, without rtcp-mux, a local RTCP socket, both named
//! by a [`SocketId`] the I/O shell chooses (the local port is a good choice). A socket id
//! is an index into a flat table, so the lookup is O(1). The leg's remote addresses come
//! from SDP; with [`Latching::On`] the relay learns the real peer address from the first
//! valid RTP packet (symmetric RTP, the usual answer to NAT) and sends there instead.
//!
//! # Originating packets inside a relayed stream
//!
//! To play DTMF or a tone toward one leg without breaking the stream the far end sees,
//! [`Relay::set_muted`] holds back forwarded packets (without using up sequence numbers),
//! [`Relay::output_clock`] tells where the output stream stands, and [`Relay::inject`]
//! stamps the caller's packets with the stream's SSRC and next sequence numbers.

mod config;
mod event;
mod forward;
mod rewrite;
#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub use config::{
    CallConfig, CallHandle, Latching, LegConfig, MediaTimeouts, PayloadTypes, Relatch, RelayConfig,
    Side, SocketId, StreamKind,
};
pub use event::{Action, DropReason, Event, MediaTimeoutKind, OutputClock, Transmit};
pub use rewrite::{MappedHeader, Rewrite, Rewriter};

use forward::{Ctx, Leg, forward_rtcp, forward_rtp, usable};

use crate::Error;
use crate::demux::{PacketClass, classify};
use crate::rtp::RtpLayout;
use crate::stats::LegStats;
#[derive(Debug, Clone, Copy)]
struct Binding {
    call: u32,
    side: Side,
    kind: StreamKind,
}

#[derive(Debug)]
struct Call {
    legs: [Leg; 2],
    timeouts: MediaTimeouts,
    armed_at: Option<Instant>,
    /// Identifies this call's live timer entries; bumped on every (dis)arm so stale heap
    /// entries are recognised and skipped.
    timer_token: u64,
}

impl Call {
    /// The earliest media deadline, with the leg and kind it belongs to.
    fn deadline(&self) -> Option<(Instant, Side, MediaTimeoutKind)> {
        let armed = self.armed_at?;
        let mut best: Option<(Instant, Side, MediaTimeoutKind)> = None;
        for side in [Side::A, Side::B] {
            let leg = &self.legs[side.index()];
            if !leg.watch_media {
                continue;
            }
            let d = match leg.last_rtp {
                None => self
                    .timeouts
                    .no_media
                    .map(|d| (armed + d, side, MediaTimeoutKind::NoMedia)),
                // Media seen before arming (early media while ringing) counts from arming.
                Some(t) => self
                    .timeouts
                    .silence
                    .map(|d| (t.max(armed) + d, side, MediaTimeoutKind::Silence)),
            };
            if let Some(d) = d {
                if best.is_none_or(|b| d.0 < b.0) {
                    best = Some(d);
                }
            }
        }
        best
    }

    /// A time no later than any deadline this call can reach from `at` on, whatever
    /// packets arrive later: a leg without media can still receive its first packet at
    /// `at` and then fall silent, so its bound is the earlier of its no-media deadline and
    /// `at` + silence. The heap only holds such bounds, so packets never touch the heap.
    fn next_check(&self, at: Instant) -> Option<Instant> {
        let armed = self.armed_at?;
        let mut best: Option<Instant> = None;
        for leg in self.legs.iter().filter(|l| l.watch_media) {
            let silence = |from: Instant| self.timeouts.silence.map(|d| from.max(armed) + d);
            let t = match leg.last_rtp {
                None => match (self.timeouts.no_media.map(|d| armed + d), silence(at)) {
                    (Some(x), Some(y)) => Some(x.min(y)),
                    (x, y) => x.or(y),
                },
                Some(last) => silence(last),
            };
            if let Some(t) = t {
                best = Some(best.map_or(t, |b| b.min(t)));
            }
        }
        best
    }
}

#[derive(Debug)]
struct Slot {
    generation: u32,
    call: Option<Call>,
}

#[derive(Debug)]
pub(super) struct Events {
    queue: VecDeque<Event>,
    limit: usize,
    dropped: u64,
}

impl Events {
    fn push(&mut self, ev: Event) {
        if self.queue.len() >= self.limit && !ev.is_essential() {
            self.dropped += 1;
            return;
        }
        self.queue.push_back(ev);
    }
}

/// The sans-IO relay core. See the module docs for the per-packet call.
#[derive(Debug)]
pub struct Relay {
    config: RelayConfig,
    epoch: Instant,
    sockets: Vec<Option<Binding>>,
    calls: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
    /// Min-heap of `(check at, call index, timer token)`. An entry may be earlier than the
    /// call's real deadline (packets move the silence deadline without touching the heap,
    /// to keep the packet path free of heap work); it is re-evaluated when it comes due.
    timers: BinaryHeap<Reverse<(Instant, u32, u64)>>,
    next_token: u64,
    events: Events,
}

impl Relay {
    /// An empty relay; `now` anchors its jitter clock.
    pub fn new(config: RelayConfig, now: Instant) -> Self {
        Self {
            config,
            epoch: now,
            sockets: Vec::new(),
            calls: Vec::new(),
            free: Vec::new(),
            live: 0,
            timers: BinaryHeap::new(),
            next_token: 0,
            events: Events {
                queue: VecDeque::with_capacity(config.event_queue_limit.min(4096)),
                limit: config.event_queue_limit,
                dropped: 0,
            },
        }
    }

    /// Number of calls in the table.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether the table holds no call.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Informational events dropped because the queue was not drained.
    pub fn events_dropped(&self) -> u64 {
        self.events.dropped
    }

    /// Adds a call and binds its sockets.
    pub fn add_call(&mut self, now: Instant, cfg: CallConfig) -> Result<CallHandle, Error> {
        if self.live >= self.config.max_calls {
            return Err(Error::TableFull(self.config.max_calls));
        }
        let mut ids = [None; 4];
        for (i, leg) in [&cfg.a, &cfg.b].into_iter().enumerate() {
            if leg.clock_rate == 0 {
                return Err(Error::InvalidArgument("clock rate must be positive"));
            }
            if [cfg.timeouts.no_media, cfg.timeouts.silence].contains(&Some(Duration::ZERO)) {
                return Err(Error::InvalidArgument("media timeouts must be positive"));
            }
            ids[2 * i] = Some(leg.rtp_socket);
            ids[2 * i + 1] = leg.rtcp_socket;
        }
        for (i, id) in ids.iter().enumerate() {
            let Some(id) = *id else { continue };
            if id.0 >= self.config.max_sockets {
                return Err(Error::SocketOutOfRange {
                    id: id.0,
                    max: self.config.max_sockets,
                });
            }
            let taken = self.sockets.get(id.0 as usize).is_some_and(Option::is_some);
            if taken || ids[..i].contains(&Some(id)) {
                return Err(Error::SocketInUse(id.0));
            }
        }
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.calls.push(Slot {
                    generation: 0,
                    call: None,
                });
                (self.calls.len() - 1) as u32
            }
        };
        for (side, leg) in [(Side::A, &cfg.a), (Side::B, &cfg.b)] {
            self.bind(leg.rtp_socket, index, side, StreamKind::Rtp);
            if let Some(s) = leg.rtcp_socket {
                self.bind(s, index, side, StreamKind::Rtcp);
            }
        }
        let slot = &mut self.calls[index as usize];
        slot.call = Some(Call {
            legs: [Leg::new(&cfg.a), Leg::new(&cfg.b)],
            timeouts: cfg.timeouts,
            armed_at: None,
            timer_token: 0,
        });
        let handle = CallHandle {
            index,
            generation: slot.generation,
        };
        self.live += 1;
        if !cfg.ringing {
            self.set_armed(now, handle, true)?;
        }
        Ok(handle)
    }

    /// Removes a call, unbinds its sockets and returns the final statistics of legs A and B.
    pub fn remove_call(&mut self, call: CallHandle) -> Result<[LegStats; 2], Error> {
        let slot = self
            .calls
            .get_mut(call.index as usize)
            .filter(|s| s.generation == call.generation)
            .ok_or(Error::UnknownCall)?;
        let c = slot.call.take().ok_or(Error::UnknownCall)?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(call.index);
        self.live -= 1;
        for leg in &c.legs {
            for id in [Some(leg.rtp_socket), leg.rtcp_socket]
                .into_iter()
                .flatten()
            {
                if let Some(b) = self.sockets.get_mut(id.0 as usize) {
                    *b = None;
                }
            }
        }
        self.compact_timers();
        Ok([c.legs[0].snapshot(), c.legs[1].snapshot()])
    }

    /// Switches the call's media timeouts off while it rings (`true`) and arms them, counting
    /// from `now`, when it is answered (`false`). Also used for hold/resume.
    pub fn set_ringing(
        &mut self,
        now: Instant,
        call: CallHandle,
        ringing: bool,
    ) -> Result<(), Error> {
        self.set_armed(now, call, !ringing)
    }

    /// New remote addresses for a leg (after a re-INVITE or UPDATE): forgets the latched
    /// peers so the leg latches again.
    pub fn set_remote(
        &mut self,
        call: CallHandle,
        side: Side,
        rtp: Option<SocketAddr>,
        rtcp: Option<SocketAddr>,
    ) -> Result<(), Error> {
        let leg = &mut self.call_mut(call)?.legs[side.index()];
        leg.remote_rtp = usable(rtp);
        leg.remote_rtcp = usable(rtcp);
        leg.rtp_peer = None;
        leg.rtcp_peer = None;
        Ok(())
    }

    /// Pauses (`true`) or resumes forwarding *out of* `side`, e.g. while the caller sends
    /// DTMF or a tone into that leg with [`inject`](Self::inject). Dropped packets do not
    /// use up sequence numbers, so the far end sees no loss; the first packet after
    /// resuming carries the marker bit. (With [`Rewrite::Off`] the gap stays visible.)
    pub fn set_muted(&mut self, call: CallHandle, side: Side, muted: bool) -> Result<(), Error> {
        let leg = &mut self.call_mut(call)?.legs[side.index()];
        if leg.muted && !muted {
            leg.out.mark_next();
        }
        leg.muted = muted;
        Ok(())
    }

    /// Sends a packet the caller originates out of `side`, as part of the stream the relay
    /// forwards there: it gets that stream's SSRC and next sequence number (the forwarded
    /// packets after it are shifted accordingly); its timestamp must already be in the
    /// output timestamp space (see [`output_clock`](Self::output_clock)). `packet` is
    /// rewritten in place; send it as the returned [`Transmit`] says.
    pub fn inject(
        &mut self,
        now: Instant,
        call: CallHandle,
        side: Side,
        packet: &mut [u8],
    ) -> Result<Transmit, Error> {
        RtpLayout::parse(packet)?;
        let c = self.call_mut(call)?;
        let clock_rate = c.legs[side.other().index()].clock_rate;
        let leg = &mut c.legs[side.index()];
        let destination = leg.rtp_destination().ok_or(Error::NoDestination)?;
        if !leg.out.inject(now, packet, clock_rate) {
            return Err(Error::InvalidArgument(
                "injecting into a leg needs Rewrite::OnSourceChange or Rewrite::Fixed",
            ));
        }
        Ok(Transmit {
            socket: leg.rtp_socket,
            destination,
        })
    }

    /// Where the stream sent out of `side` stands; `None` before its first packet (or with
    /// [`Rewrite::Off`]).
    pub fn output_clock(&self, call: CallHandle, side: Side) -> Result<Option<OutputClock>, Error> {
        let leg = &self.call(call)?.legs[side.index()];
        Ok(leg
            .out
            .position()
            .map(|(ssrc, sequence, timestamp, at)| OutputClock {
                ssrc,
                sequence,
                timestamp,
                at,
            }))
    }

    /// Statistics of one leg so far.
    pub fn stats(&self, call: CallHandle, side: Side) -> Result<LegStats, Error> {
        Ok(self.call(call)?.legs[side.index()].snapshot())
    }

    /// Statistics of every call, legs A and B, e.g. for a periodic metrics export.
    pub fn all_stats(&self) -> impl Iterator<Item = (CallHandle, [LegStats; 2])> + '_ {
        self.calls.iter().enumerate().filter_map(|(i, slot)| {
            let c = slot.call.as_ref()?;
            let handle = CallHandle {
                index: i as u32,
                generation: slot.generation,
            };
            Some((handle, [c.legs[0].snapshot(), c.legs[1].snapshot()]))
        })
    }

    /// The latched RTP and RTCP peers of a leg.
    pub fn latched(
        &self,
        call: CallHandle,
        side: Side,
    ) -> Result<(Option<SocketAddr>, Option<SocketAddr>), Error> {
        let leg = &self.call(call)?.legs[side.index()];
        Ok((leg.rtp_peer, leg.rtcp_peer))
    }

    /// The per-packet entry point: a datagram from `from` arrived on `socket`. `packet` is
    /// rewritten in place when the action is [`Action::Send`].
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        socket: SocketId,
        from: SocketAddr,
        packet: &mut [u8],
    ) -> Action {
        let Some(&Some(b)) = self.sockets.get(socket.0 as usize) else {
            return Action::Drop(DropReason::UnknownSocket);
        };
        let Some(slot) = self.calls.get_mut(b.call as usize) else {
            return Action::Drop(DropReason::UnknownSocket);
        };
        let handle = CallHandle {
            index: b.call,
            generation: slot.generation,
        };
        let Some(call) = slot.call.as_mut() else {
            return Action::Drop(DropReason::UnknownSocket);
        };
        let [a, bb] = &mut call.legs;
        let (inn, out) = match b.side {
            Side::A => (a, bb),
            Side::B => (bb, a),
        };
        let ctx = Ctx {
            now,
            epoch: self.epoch,
            call: handle,
            side: b.side,
            from,
        };
        match classify(packet) {
            PacketClass::Rtp if b.kind == StreamKind::Rtp => {
                forward_rtp(&ctx, inn, out, packet, &mut self.events)
            }
            PacketClass::Rtcp => forward_rtcp(&ctx, b.kind, inn, out, packet, &mut self.events),
            PacketClass::Rtp => {
                inn.stats.dropped_invalid += 1;
                Action::Drop(DropReason::InvalidRtcp(Error::NotRtcp(packet[1])))
            }
            other => {
                inn.stats.dropped_invalid += 1;
                Action::Drop(DropReason::NotMedia(other))
            }
        }
    }

    /// The next event. Drain after every `handle_*` call.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.queue.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called. May be earlier
    /// than any real deadline (an early wake-up does nothing), never later.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _, _))| *t)
    }

    /// Fires the media timeouts due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        // Each popped entry is dropped or pushed back strictly later than `now`, so the
        // loop ends after at most one pass over the due entries.
        while let Some(&Reverse((at, index, token))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(slot) = self.calls.get_mut(index as usize) else {
                continue;
            };
            let generation = slot.generation;
            let Some(call) = slot.call.as_mut().filter(|c| c.timer_token == token) else {
                continue;
            };
            match call.deadline() {
                None => {}
                Some((d, side, kind)) if d <= now => {
                    call.armed_at = None;
                    self.events.push(Event::MediaTimeout {
                        call: CallHandle { index, generation },
                        side,
                        kind,
                    });
                }
                Some((d, _, _)) => {
                    // Strictly after `now` (timeouts are non-zero), so the loop ends.
                    let at = call
                        .next_check(now)
                        .map_or(d, |c| c.min(d))
                        .max(now + Duration::from_nanos(1));
                    self.timers.push(Reverse((at, index, token)));
                }
            }
        }
    }

    fn bind(&mut self, id: SocketId, call: u32, side: Side, kind: StreamKind) {
        let i = id.0 as usize;
        if self.sockets.len() <= i {
            self.sockets.resize(i + 1, None);
        }
        self.sockets[i] = Some(Binding { call, side, kind });
    }

    fn call(&self, h: CallHandle) -> Result<&Call, Error> {
        self.calls
            .get(h.index as usize)
            .filter(|s| s.generation == h.generation)
            .and_then(|s| s.call.as_ref())
            .ok_or(Error::UnknownCall)
    }

    fn call_mut(&mut self, h: CallHandle) -> Result<&mut Call, Error> {
        self.calls
            .get_mut(h.index as usize)
            .filter(|s| s.generation == h.generation)
            .and_then(|s| s.call.as_mut())
            .ok_or(Error::UnknownCall)
    }

    fn set_armed(&mut self, now: Instant, h: CallHandle, armed: bool) -> Result<(), Error> {
        self.next_token += 1;
        let token = self.next_token;
        let call = self.call_mut(h)?;
        call.timer_token = token;
        call.armed_at = armed.then_some(now);
        if let Some(at) = call.next_check(now) {
            self.timers.push(Reverse((at, h.index, token)));
        }
        self.compact_timers();
        Ok(())
    }

    /// Drops stale heap entries once they outnumber the live ones, bounding the heap.
    fn compact_timers(&mut self) {
        if self.timers.len() <= 2 * self.live + 64 {
            return;
        }
        let calls = &self.calls;
        self.timers.retain(|Reverse((_, index, token))| {
            calls
                .get(*index as usize)
                .and_then(|s| s.call.as_ref())
                .is_some_and(|c| c.timer_token == *token && c.armed_at.is_some())
        });
    }
}
