//! What the relay reports: events, the forwarding decision and drop reasons.

use std::net::SocketAddr;
use std::time::Instant;

use super::{CallHandle, Side, SocketId, StreamKind};
use crate::Error;
use crate::demux::PacketClass;
use crate::dtmf::DtmfEvent;

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
    pub(super) fn is_essential(&self) -> bool {
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
    /// The other leg is muted (see [`Relay::set_muted`](super::Relay::set_muted)).
    Muted,
}

/// Where the stream sent out of a leg stands, to originate packets that continue it (see
/// [`Relay::inject`](super::Relay::inject)): e.g. anchor a [`DtmfSender`](crate::dtmf::DtmfSender) with
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
