//! Identities and configuration of the relay table: sockets, calls, legs, latching.

use std::net::SocketAddr;
use std::time::Duration;

use super::Rewrite;

/// A local socket, named by the I/O shell (e.g. its local port). Ids index a flat table,
/// so keep them below [`RelayConfig::max_sockets`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(pub u32);

/// A call in the relay table. Handles of removed calls are never valid again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallHandle {
    pub(super) index: u32,
    pub(super) generation: u32,
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

    pub(super) fn index(self) -> usize {
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
    /// [`Event::Dtmf`](super::Event::Dtmf) (and still forwarded).
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
/// [`Relay::set_ringing`](super::Relay::set_ringing)) and fire at most once per arming.
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
