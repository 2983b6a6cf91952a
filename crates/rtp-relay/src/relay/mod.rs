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
//! send batch (`sendmmsg`/GSO), with no allocation and no copy. The path does a bounds-
//! checked table index by socket id, a header parse, a few comparisons and at most twelve
//! byte writes; it allocates nothing.
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

mod rewrite;
#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub use rewrite::Rewrite;
use rewrite::{Rewriter, RtcpMap};

use crate::Error;
use crate::demux::{PacketClass, classify};
use crate::dtmf::{DtmfEvent, DtmfReceiver};
use crate::rtcp::{self, PT_BYE, RtcpCompound, RtcpView};
use crate::rtp::{RtpLayout, read_u32};
use crate::stats::{LegStats, SourceStats, instant_to_units};

/// A local socket, named by the I/O shell (e.g. its local port). Ids index a flat table,
/// so keep them below [`RelayConfig::max_sockets`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(pub u32);

/// A call in the relay table. Handles of removed calls are never valid again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallHandle {
    index: u32,
    generation: u32,
}

/// One of the two legs of a call (e.g. A = SIP trunk, B = room).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The first leg.
    A,
    /// The second leg.
    B,
}

impl Side {
    /// The other leg.
    pub fn other(self) -> Self {
        match self {
            Self::A => Self::B,
            Self::B => Self::A,
        }
    }

    fn index(self) -> usize {
        match self {
            Self::A => 0,
            Self::B => 1,
        }
    }
}

/// RTP or RTCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamKind {
    /// Media.
    Rtp,
    /// Control.
    Rtcp,
}

/// Symmetric latching policy of a leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Latching {
    /// Send to the SDP address; accept packets from anywhere.
    Off,
    /// Learn the peer from the first valid packet, then send there.
    On(Relatch),
}

/// What happens when a latched leg receives valid packets from another address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relatch {
    /// Never move: packets from other addresses are dropped.
    Never,
    /// Move once the latched peer has been silent this long (a NAT rebinding or a moved
    /// endpoint), but not while it is active (which would let a third party hijack the
    /// stream by injecting packets).
    AfterSilence(Duration),
    /// Follow the latest valid source immediately.
    Always,
}

/// A set of RTP payload types (0..=127) a leg accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadTypes(u128);

impl PayloadTypes {
    /// Every payload type.
    pub const ALL: Self = Self(u128::MAX);

    /// Exactly the given payload types (values above 127 are ignored).
    pub fn only(pts: &[u8]) -> Self {
        Self(
            pts.iter()
                .filter(|&&pt| pt < 128)
                .fold(0, |acc, &pt| acc | 1 << pt),
        )
    }

    /// Whether `pt` is in the set.
    pub fn contains(&self, pt: u8) -> bool {
        pt < 128 && self.0 & (1 << pt) != 0
    }
}

/// Configuration of one leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegConfig {
    /// Local socket for RTP (and RTCP under rtcp-mux).
    pub rtp_socket: SocketId,
    /// Local socket for RTCP; `None` means rtcp-mux (RFC 5761) on `rtp_socket`.
    pub rtcp_socket: Option<SocketId>,
    /// Remote RTP address from SDP (`c=` and `m=` port), if known.
    pub remote_rtp: Option<SocketAddr>,
    /// Remote RTCP address from SDP (`a=rtcp`, RFC 3605); without it the RTP port + 1
    /// (RFC 3550 §11). Ignored under rtcp-mux.
    pub remote_rtcp: Option<SocketAddr>,
    /// Symmetric latching policy.
    pub latching: Latching,
    /// Payload types accepted from this leg; others are dropped and never latch.
    pub accept: PayloadTypes,
    /// RTP clock rate of what this leg sends (jitter, timestamp gaps).
    pub clock_rate: u32,
    /// Negotiated telephone-event payload type: its packets are decoded into
    /// [`Event::Dtmf`] (and still forwarded).
    pub telephone_event: Option<u8>,
    /// How packets sent out of this leg are rewritten.
    pub rewrite: Rewrite,
    /// Payload types renamed on the way out of this leg, `(from, to)`, for two legs that
    /// negotiated different dynamic numbers for the same format.
    pub payload_type_map: Vec<(u8, u8)>,
    /// The peer negotiated reduced-size RTCP (RFC 5506), so compounds need not start
    /// with SR/RR.
    pub reduced_size_rtcp: bool,
    /// Whether this leg's silence counts for the media timeouts.
    pub watch_media: bool,
}

impl LegConfig {
    /// A leg on `rtp_socket` with rtcp-mux, latching that may move after 5 s of silence,
    /// every payload type accepted, an 8 kHz clock, rewriting on source change, and media
    /// timeouts watched.
    pub fn new(rtp_socket: SocketId) -> Self {
        Self {
            rtp_socket,
            rtcp_socket: None,
            remote_rtp: None,
            remote_rtcp: None,
            latching: Latching::On(Relatch::AfterSilence(Duration::from_secs(5))),
            accept: PayloadTypes::ALL,
            clock_rate: 8000,
            telephone_event: None,
            rewrite: Rewrite::OnSourceChange,
            payload_type_map: Vec::new(),
            reduced_size_rtcp: false,
            watch_media: true,
        }
    }
}

/// Media timeouts of a call. Both are off while the call is ringing (see
/// [`Relay::set_ringing`]) and fire at most once per arming.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MediaTimeouts {
    /// No RTP at all from a watched leg this long after arming.
    pub no_media: Option<Duration>,
    /// No RTP from a watched leg this long after its last packet (or after arming).
    pub silence: Option<Duration>,
}

/// Configuration of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallConfig {
    /// The first leg.
    pub a: LegConfig,
    /// The second leg.
    pub b: LegConfig,
    /// Media timeouts.
    pub timeouts: MediaTimeouts,
    /// Start in the ringing state (timeouts disarmed).
    pub ringing: bool,
}

/// Relay table limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayConfig {
    /// Maximum simultaneous calls.
    pub max_calls: usize,
    /// Socket ids must be below this (the socket table is a flat array of this size at
    /// most; 65 536 fits "socket id = local port").
    pub max_sockets: u32,
    /// Informational events (latching, source changes) beyond this many undrained events
    /// are dropped and counted; timeouts, digits and BYEs are always kept.
    pub event_queue_limit: usize,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            max_calls: 10_000,
            max_sockets: 65_536,
            event_queue_limit: 4096,
        }
    }
}

/// Which media timeout fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaTimeoutKind {
    /// No RTP ever arrived after arming.
    NoMedia,
    /// RTP stopped.
    Silence,
}

/// What the relay reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A leg learned (or moved) its peer address.
    Latched {
        /// The call.
        call: CallHandle,
        /// The leg.
        side: Side,
        /// RTP or RTCP.
        stream: StreamKind,
        /// The new peer address.
        address: SocketAddr,
        /// The address latched before, for a re-latch.
        previous: Option<SocketAddr>,
    },
    /// The source of the stream sent out of `side` changed; the rewriter made it continuous.
    SourceChanged {
        /// The call.
        call: CallHandle,
        /// The leg the stream is sent out of.
        side: Side,
        /// Previous input SSRC.
        previous_ssrc: u32,
        /// New input SSRC.
        ssrc: u32,
    },
    /// A media timeout fired (cause `MediaTimeout` at the API). The call's timeouts are
    /// disarmed until armed again.
    MediaTimeout {
        /// The call.
        call: CallHandle,
        /// The silent leg.
        side: Side,
        /// Which timeout.
        kind: MediaTimeoutKind,
    },
    /// A telephone-event from a leg.
    Dtmf {
        /// The call.
        call: CallHandle,
        /// The leg it came from.
        side: Side,
        /// The event.
        event: DtmfEvent,
    },
    /// The first RTP packet arrived from a leg (for media-delay metrics; the media
    /// timeouts track silence by themselves).
    MediaStarted {
        /// The call.
        call: CallHandle,
        /// The leg.
        side: Side,
    },
    /// The leg's peer sent an RTCP BYE.
    RtcpBye {
        /// The call.
        call: CallHandle,
        /// The leg.
        side: Side,
    },
}

impl Event {
    fn is_essential(&self) -> bool {
        matches!(
            self,
            Self::MediaTimeout { .. } | Self::Dtmf { .. } | Self::RtcpBye { .. }
        )
    }
}

/// Where to send a forwarded datagram: the same (possibly rewritten) bytes, from `socket`
/// to `destination`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Local socket to send from.
    pub socket: SocketId,
    /// Remote address.
    pub destination: SocketAddr,
}

/// Why a datagram was not forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropReason {
    /// No call has this socket.
    UnknownSocket,
    /// Not RTP/RTCP (STUN, DTLS, …; RFC 7983): for the I/O shell to handle or ignore.
    NotMedia(PacketClass),
    /// Malformed RTP.
    InvalidRtp(Error),
    /// Malformed RTCP, or RTP on an RTCP socket.
    InvalidRtcp(Error),
    /// A payload type the leg does not accept.
    PayloadType(u8),
    /// From an address other than the latched peer.
    WrongSource,
    /// The other leg has no address to send to yet.
    NoDestination,
    /// The other leg is muted (see [`Relay::set_muted`]).
    Muted,
}

/// Where the stream sent out of a leg stands, to originate packets that continue it (see
/// [`Relay::inject`]): e.g. anchor a [`DtmfSender`](crate::dtmf::DtmfSender) with
/// `DtmfSender::new(cfg, clock.at, clock.timestamp)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputClock {
    /// The SSRC the far end sees.
    pub ssrc: u32,
    /// The last sequence number sent.
    pub sequence: u16,
    /// The timestamp of the last packet sent.
    pub timestamp: u32,
    /// When that packet was sent.
    pub at: Instant,
}

/// The forwarding decision for one datagram.
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send the (rewritten) datagram.
    Send(Transmit),
    /// Drop it.
    Drop(DropReason),
}

#[derive(Debug, Clone, Copy)]
struct Binding {
    call: u32,
    side: Side,
    kind: StreamKind,
}

#[derive(Debug)]
struct Leg {
    rtp_socket: SocketId,
    rtcp_socket: Option<SocketId>,
    remote_rtp: Option<SocketAddr>,
    remote_rtcp: Option<SocketAddr>,
    latching: Latching,
    accept: PayloadTypes,
    clock_rate: u32,
    telephone_event: Option<u8>,
    reduced_size_rtcp: bool,
    watch_media: bool,
    rtp_peer: Option<SocketAddr>,
    rtcp_peer: Option<SocketAddr>,
    last_rtp: Option<Instant>,
    last_rtcp: Option<Instant>,
    stats: LegStats,
    source: Option<SourceStats>,
    earlier_expected: u64,
    earlier_lost: i64,
    dtmf: Option<DtmfReceiver>,
    /// Rewriting of the stream sent out of this leg.
    out: Rewriter,
    /// Forwarding out of this leg is paused (packets the caller injects still go).
    muted: bool,
}

impl Leg {
    fn new(cfg: &LegConfig) -> Self {
        Self {
            rtp_socket: cfg.rtp_socket,
            rtcp_socket: cfg.rtcp_socket,
            remote_rtp: usable(cfg.remote_rtp),
            remote_rtcp: usable(cfg.remote_rtcp),
            latching: cfg.latching,
            accept: cfg.accept,
            clock_rate: cfg.clock_rate,
            telephone_event: cfg.telephone_event,
            reduced_size_rtcp: cfg.reduced_size_rtcp,
            watch_media: cfg.watch_media,
            rtp_peer: None,
            rtcp_peer: None,
            last_rtp: None,
            last_rtcp: None,
            stats: LegStats {
                clock_rate: cfg.clock_rate,
                ..LegStats::default()
            },
            source: None,
            earlier_expected: 0,
            earlier_lost: 0,
            dtmf: cfg.telephone_event.map(|_| DtmfReceiver::new()),
            out: Rewriter::new(cfg.rewrite, &cfg.payload_type_map),
            muted: false,
        }
    }

    fn rtp_destination(&self) -> Option<SocketAddr> {
        match self.latching {
            Latching::Off => self.remote_rtp,
            Latching::On(_) => self.rtp_peer.or(self.remote_rtp),
        }
    }

    fn rtcp_destination(&self) -> Option<(SocketId, SocketAddr)> {
        let Some(sock) = self.rtcp_socket else {
            return Some((self.rtp_socket, self.rtp_destination()?));
        };
        let latched = match self.latching {
            Latching::Off => None,
            Latching::On(_) => self.rtcp_peer,
        };
        let addr = latched.or(self.remote_rtcp).or_else(|| {
            // RFC 3550 §11: without other signalling, RTCP uses the next higher port.
            let rtp = self.rtp_destination()?;
            let port = rtp.port().checked_add(1)?;
            Some(SocketAddr::new(rtp.ip(), port))
        })?;
        Some((sock, addr))
    }

    fn snapshot(&self) -> LegStats {
        let mut s = self.stats;
        s.expected = self.earlier_expected;
        s.lost = self.earlier_lost;
        if let Some(src) = &self.source {
            s.expected += src.expected();
            s.lost += src.lost();
            s.jitter = src.jitter();
        }
        s
    }
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
struct Events {
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

/// An SDP address the relay can send to: port 0 rejects the stream (RFC 3264 §6) and the
/// unspecified address `0.0.0.0` is the old hold convention (RFC 3264 §8.4, RFC 2543);
/// neither is a destination.
fn usable(addr: Option<SocketAddr>) -> Option<SocketAddr> {
    addr.filter(|a| a.port() != 0 && !a.ip().is_unspecified())
}

/// Per-datagram context.
struct Ctx {
    now: Instant,
    epoch: Instant,
    call: CallHandle,
    side: Side,
    from: SocketAddr,
}

enum Admit {
    Accept,
    Latch(Option<SocketAddr>),
    Reject,
}

fn admit(
    latching: Latching,
    peer: Option<SocketAddr>,
    last: Option<Instant>,
    now: Instant,
    from: SocketAddr,
) -> Admit {
    let Latching::On(policy) = latching else {
        return Admit::Accept;
    };
    match peer {
        None => Admit::Latch(None),
        Some(p) if p == from => Admit::Accept,
        Some(p) => match policy {
            Relatch::Never => Admit::Reject,
            Relatch::Always => Admit::Latch(Some(p)),
            Relatch::AfterSilence(d) => {
                if last.is_none_or(|t| now.saturating_duration_since(t) >= d) {
                    Admit::Latch(Some(p))
                } else {
                    Admit::Reject
                }
            }
        },
    }
}

fn forward_rtp(
    ctx: &Ctx,
    inn: &mut Leg,
    out: &mut Leg,
    packet: &mut [u8],
    events: &mut Events,
) -> Action {
    let layout = match RtpLayout::parse(packet) {
        Ok(l) => l,
        Err(e) => {
            inn.stats.dropped_invalid += 1;
            return Action::Drop(DropReason::InvalidRtp(e));
        }
    };
    let pt = packet[1] & 0x7f;
    if !inn.accept.contains(pt) {
        inn.stats.dropped_payload_type += 1;
        return Action::Drop(DropReason::PayloadType(pt));
    }
    match admit(inn.latching, inn.rtp_peer, inn.last_rtp, ctx.now, ctx.from) {
        Admit::Accept => {}
        Admit::Latch(previous) => {
            inn.rtp_peer = Some(ctx.from);
            events.push(Event::Latched {
                call: ctx.call,
                side: ctx.side,
                stream: StreamKind::Rtp,
                address: ctx.from,
                previous,
            });
        }
        Admit::Reject => {
            inn.stats.dropped_source += 1;
            return Action::Drop(DropReason::WrongSource);
        }
    }
    if inn.last_rtp.is_none() {
        events.push(Event::MediaStarted {
            call: ctx.call,
            side: ctx.side,
        });
    }
    inn.last_rtp = Some(ctx.now);
    inn.stats.rtp_packets += 1;
    inn.stats.rtp_bytes += packet.len() as u64;

    let seq = u16::from_be_bytes([packet[2], packet[3]]);
    let ts = read_u32(packet, 4);
    let ssrc = read_u32(packet, 8);
    let src = match &mut inn.source {
        Some(s) if s.ssrc() == ssrc => s,
        slot => {
            if let Some(old) = slot.take() {
                inn.earlier_expected += old.expected();
                inn.earlier_lost += old.lost();
                inn.stats.source_changes += 1;
                // A new source has its own timestamp space (RFC 3550 §5.1: random initial
                // value); DTMF history from the old one would make its events look stale.
                if let Some(rx) = &mut inn.dtmf {
                    rx.reset();
                    while let Some(event) = rx.poll_event() {
                        events.push(Event::Dtmf {
                            call: ctx.call,
                            side: ctx.side,
                            event,
                        });
                    }
                }
            }
            slot.insert(SourceStats::new(ssrc, seq))
        }
    };
    src.update_seq(seq);
    if inn.telephone_event == Some(pt) {
        // Telephone-events carry the event onset as timestamp (RFC 4733 §2.3.3), which
        // would distort the audio jitter; they feed the DTMF receiver instead.
        if let Some(rx) = &mut inn.dtmf {
            let marker = packet[1] & 0x80 != 0;
            let payload = &packet[layout.payload_start..layout.payload_end];
            if rx.handle_payload(marker, ts, payload).is_ok() {
                while let Some(event) = rx.poll_event() {
                    events.push(Event::Dtmf {
                        call: ctx.call,
                        side: ctx.side,
                        event,
                    });
                }
            }
        }
    } else {
        src.update_jitter(instant_to_units(ctx.epoch, ctx.now, inn.clock_rate), ts);
    }

    let Some(destination) = out.rtp_destination() else {
        inn.stats.dropped_no_destination += 1;
        return Action::Drop(DropReason::NoDestination);
    };
    let change = if out.muted {
        out.out.skip(ctx.now, packet, inn.clock_rate)
    } else {
        out.out.apply(ctx.now, packet, inn.clock_rate)
    };
    if let Some((previous_ssrc, ssrc)) = change {
        events.push(Event::SourceChanged {
            call: ctx.call,
            side: ctx.side.other(),
            previous_ssrc,
            ssrc,
        });
    }
    if out.muted {
        return Action::Drop(DropReason::Muted);
    }
    inn.stats.forwarded += 1;
    Action::Send(Transmit {
        socket: out.rtp_socket,
        destination,
    })
}

fn forward_rtcp(
    ctx: &Ctx,
    arrived_on: StreamKind,
    inn: &mut Leg,
    out: &mut Leg,
    packet: &mut [u8],
    events: &mut Events,
) -> Action {
    let parsed = if inn.reduced_size_rtcp {
        RtcpCompound::parse_reduced_size(packet)
    } else {
        RtcpCompound::parse(packet)
    };
    let compound = match parsed {
        Ok(c) => c,
        Err(e) => {
            inn.stats.dropped_invalid += 1;
            return Action::Drop(DropReason::InvalidRtcp(e));
        }
    };
    let mut bye = false;
    let mut report = None;
    let ours = inn.out.output_ssrc();
    for p in compound.packets() {
        bye |= p.packet_type() == PT_BYE;
        // RFC 3550 §6.4: the peer's reception report about the stream the relay sends it
        // tells what the far end hears; keep the latest for metrics.
        let blocks = match p.view() {
            Ok(RtcpView::SenderReport(sr)) => {
                sr.reports().find(|b| ours.is_none_or(|s| s == b.ssrc))
            }
            Ok(RtcpView::ReceiverReport(rr)) => {
                rr.reports().find(|b| ours.is_none_or(|s| s == b.ssrc))
            }
            _ => None,
        };
        report = blocks.or(report);
    }
    if inn.rtcp_socket.is_none() || arrived_on == StreamKind::Rtp {
        // Under rtcp-mux RTCP does not latch by itself (RFC 5761 §4: same 5-tuple as RTP);
        // it must come from the RTP peer unless that peer may be replaced at any time.
        if let (Latching::On(policy), Some(peer)) = (inn.latching, inn.rtp_peer) {
            if peer != ctx.from && policy != Relatch::Always {
                inn.stats.dropped_source += 1;
                return Action::Drop(DropReason::WrongSource);
            }
        }
    } else {
        match admit(
            inn.latching,
            inn.rtcp_peer,
            inn.last_rtcp,
            ctx.now,
            ctx.from,
        ) {
            Admit::Accept => {}
            Admit::Latch(previous) => {
                inn.rtcp_peer = Some(ctx.from);
                events.push(Event::Latched {
                    call: ctx.call,
                    side: ctx.side,
                    stream: StreamKind::Rtcp,
                    address: ctx.from,
                    previous,
                });
            }
            Admit::Reject => {
                inn.stats.dropped_source += 1;
                return Action::Drop(DropReason::WrongSource);
            }
        }
    }
    inn.last_rtcp = Some(ctx.now);
    inn.stats.rtcp_packets += 1;
    inn.stats.rtcp_bytes += packet.len() as u64;
    if report.is_some() {
        inn.stats.peer_report = report;
    }
    if bye {
        events.push(Event::RtcpBye {
            call: ctx.call,
            side: ctx.side,
        });
    }
    let Some((socket, destination)) = out.rtcp_destination() else {
        inn.stats.dropped_no_destination += 1;
        return Action::Drop(DropReason::NoDestination);
    };
    let map = RtcpMap {
        forward: &out.out,
        reverse: &inn.out,
    };
    if !map.is_identity() {
        rtcp::translate_in_place(packet, &map);
    }
    inn.stats.forwarded += 1;
    Action::Send(Transmit {
        socket,
        destination,
    })
}
