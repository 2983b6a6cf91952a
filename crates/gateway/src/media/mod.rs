//! Media I/O: RTP ports, sockets and worker threads around the sans-IO relay core.
//!
//! # Shape
//!
//! A [`MediaEngine`] owns a [`PortPool`](port_pool::PortPool) over `[rtp] port_range` and a
//! few worker threads (`[rtp] workers`, 0 = one per core). Each worker is a plain OS thread
//! with its own edge-triggered `mio::Poll` over its share of the UDP sockets and its own
//! [`rtp_relay::relay::Relay`] table; both legs of a session live on the same worker, so
//! the per-packet path takes no lock and crosses no thread: receive into a fixed buffer,
//! `Relay::handle_datagram` rewrites it in place, send the same bytes from the other leg's
//! socket. Readable sockets are drained until `WouldBlock` (edge-triggered readiness
//! requires it). Commands (new session, new remote, release, …) reach a worker over a
//! channel plus a `mio::Waker`; answers come back on a oneshot, so every method of the
//! engine is `async` and cheap.
//!
//! Workers are OS threads, not tokio tasks: a busy relay should not share a scheduler with
//! signalling, and a blocking `epoll_wait` is the cheapest possible idle. A worker reads
//! `Instant::now()` once per wake-up and uses that `now` for every packet of the batch and
//! for the relay's media timers (the relay core itself never reads a clock). These timers
//! therefore run on real time: tests with `tokio::time::pause()` do not move them.
//!
//! # Two uses of a port
//!
//! - **bridge**: two ports relayed through the relay table ([`MediaEngine::bridge`]): latching,
//!   SSRC/sequence/timestamp rewriting, media timeouts, RFC 4733 DTMF detection and
//!   statistics. When the two legs' codecs differ (e.g. PCMU on a trunk, Opus toward a room)
//!   each direction goes through an [`rtp_relay::codec::Transcoder`].
//! - **endpoint**: one port whose received RTP goes to the application ([`MediaRx`]) and from
//!   which the application sends ([`MediaTx`]) ([`MediaEngine::endpoint`]). Every call's
//!   SIP leg is one (`call::media`): the call's pump moves audio between it and the room
//!   session, and PIN prompts and digits use it before that. Latching, statistics, DTMF and
//!   media timeouts work as in a bridge; a media timeout ends the call (`media_timeout`).
//!
//! # Usage (call orchestration)
//!
//! ```no_run
//! # async fn sketch(engine: gateway::media::MediaEngine) -> Result<(), gateway::media::MediaError> {
//! use gateway::media::{BridgeConfig, Codec, CodecKind, LegSpec, MediaTag, RtcpPort, Side};
//! // 1. Ports for the SDP offers (one per leg).
//! let trunk = engine.allocate(RtcpPort::Mux)?;
//! let room = engine.allocate(RtcpPort::Mux)?;
//! let offer_addr = trunk.local_addr(); // c= and m= of the SIP offer
//! # let _ = (offer_addr, room.local_addr());
//! // 2. Once the codecs are known: relay them (ringing = media timeouts off).
//! let a = LegSpec::new(Codec::with_default_pt(CodecKind::Pcmu));
//! let b = LegSpec::new(Codec::with_default_pt(CodecKind::Opus));
//! let mut cfg = BridgeConfig::new(MediaTag(42), a, b, engine.default_timeouts());
//! cfg.ringing = true;
//! let id = engine.bridge(trunk, room, cfg).await?;
//! // 3. The SDP answer arrived: where to send; 200 OK: arm the media timeouts.
//! # let answer: std::net::SocketAddr = "192.0.2.1:4000".parse().unwrap();
//! engine.set_remote(id, Side::A, Some(answer), None).await?;
//! engine.set_ringing(id, false).await?;
//! // 4. Hang-up (or a MediaEvent with MediaEventKind::MediaTimeout): release; the ports
//! //    drain for `[rtp] port_drain_s` before reuse.
//! let stats = engine.release(id).await?;
//! # let _ = stats;
//! # Ok(()) }
//! ```
//!
//! # Metrics
//!
//! Aggregate only (no per-call labels): `sipbridge_rtp_packets_total{direction=in|out}`,
//! `sipbridge_rtp_bytes_total{direction}`, `sipbridge_rtp_drops_total{reason}`,
//! `sipbridge_rtp_transcoded_frames_total`, `sipbridge_rtp_endpoint_packets_total`,
//! `sipbridge_media_sessions{worker}`, `sipbridge_rtp_loss_ratio{worker}` and
//! `sipbridge_rtp_jitter_max_seconds{worker}` over the live legs (refreshed every 5 s),
//! `sipbridge_media_events_dropped_total`. Workers add their counts once per wake-up, not
//! per packet. Install the metrics recorder before
//! [`MediaEngine::start`]: workers take their counter handles when they start.

mod batch;
mod endpoint;
mod engine;
pub mod port_pool;
mod worker;

use std::net::SocketAddr;

pub use endpoint::{MediaRx, MediaTx};
pub use engine::{EngineConfig, MediaEngine, MediaPort};
pub use rtp_relay::codec::{Codec, CodecKind, OpusConfig, TranscoderStats};
pub use rtp_relay::dtmf::DtmfEvent;
pub use rtp_relay::relay::{Latching, MediaTimeoutKind, MediaTimeouts, Relatch, Side, StreamKind};
pub use rtp_relay::stats::LegStats;

/// A session (bridge or endpoint) in the engine. The worker that owns it is encoded in
/// the id, so commands need no lookup table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MediaId(u64);

impl MediaId {
    fn new(serial: u64, worker: usize) -> Self {
        Self(serial << 8 | (worker as u64 & 0xff))
    }

    fn worker(self) -> usize {
        (self.0 & 0xff) as usize
    }
}

/// An id the caller chooses for a session; every [`MediaEvent`] of the session carries it
/// (e.g. the call's index in the orchestration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MediaTag(pub u64);

/// Whether a port gets a separate RTCP port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcpPort {
    /// RTCP shares the RTP port (rtcp-mux, RFC 5761): only the even port is bound.
    Mux,
    /// RTCP on `port + 1` (RFC 3550 §11), bound along with the RTP port.
    Separate,
}

/// One leg of a session, from the SDP offer/answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegSpec {
    /// The audio codec and its payload type on this leg.
    pub codec: Codec,
    /// The negotiated telephone-event payload type (RFC 4733), if any.
    pub telephone_event: Option<u8>,
    /// Remote RTP address from SDP, when already known.
    pub remote_rtp: Option<SocketAddr>,
    /// Remote RTCP address (`a=rtcp`, RFC 3605); default RTP port + 1. Ignored under mux.
    pub remote_rtcp: Option<SocketAddr>,
    /// rtcp-mux negotiated (RFC 5761). Without it the port's RTCP socket (`port + 1`) is
    /// used, bound now if the port was allocated with [`RtcpPort::Mux`].
    pub rtcp_mux: bool,
    /// Symmetric latching policy.
    pub latching: Latching,
    /// Whether this leg's silence counts for the media timeouts.
    pub watch_media: bool,
}

impl LegSpec {
    /// A leg with `codec`, no telephone-event, remote unknown, rtcp-mux, media watched, and
    /// the relay core's default latching (latch on the first packet; move only after the
    /// latched peer has been silent 5 s, see `rtp_relay::relay::LegConfig::new`).
    pub fn new(codec: Codec) -> Self {
        let relay = rtp_relay::relay::LegConfig::new(rtp_relay::relay::SocketId(0));
        Self {
            codec,
            telephone_event: None,
            remote_rtp: None,
            remote_rtcp: None,
            rtcp_mux: true,
            latching: relay.latching,
            watch_media: true,
        }
    }
}

/// A bridge between two ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeConfig {
    /// Carried by every event of the bridge.
    pub tag: MediaTag,
    /// The first leg (conventionally the SIP trunk).
    pub a: LegSpec,
    /// The second leg.
    pub b: LegSpec,
    /// Media timeouts (see [`MediaEngine::default_timeouts`]).
    pub timeouts: MediaTimeouts,
    /// Start with the media timeouts off (call still ringing).
    pub ringing: bool,
    /// Frame duration of transcoded output in ms (SDP `ptime`).
    pub ptime_ms: u32,
    /// Opus encoder settings for a transcoded leg that speaks Opus.
    pub opus: OpusConfig,
}

impl BridgeConfig {
    /// A bridge that is answered (timeouts armed), with 20 ms transcoded frames and the
    /// codec crate's Opus defaults.
    pub fn new(tag: MediaTag, a: LegSpec, b: LegSpec, timeouts: MediaTimeouts) -> Self {
        Self {
            tag,
            a,
            b,
            timeouts,
            ringing: false,
            ptime_ms: 20,
            opus: OpusConfig::default(),
        }
    }
}

/// An endpoint on one port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointConfig {
    /// Carried by every event of the endpoint.
    pub tag: MediaTag,
    /// The remote side.
    pub leg: LegSpec,
    /// Media timeouts (see [`MediaEngine::default_timeouts`]).
    pub timeouts: MediaTimeouts,
    /// Start with the media timeouts off.
    pub ringing: bool,
    /// Received packets the [`MediaRx`] holds before dropping the oldest.
    pub queue: usize,
}

impl EndpointConfig {
    /// An answered endpoint whose receive queue holds 50 packets (one second of 20 ms audio).
    pub fn new(tag: MediaTag, leg: LegSpec, timeouts: MediaTimeouts) -> Self {
        Self {
            tag,
            leg,
            timeouts,
            ringing: false,
            queue: 50,
        }
    }
}

/// Something that happened to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaEvent {
    /// The caller's tag.
    pub tag: MediaTag,
    /// The session.
    pub id: MediaId,
    /// What happened.
    pub kind: MediaEventKind,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaEventKind {
    /// No media (or media stopped) on a watched leg: the call ends with cause
    /// `media_timeout`. The timeouts are disarmed until [`MediaEngine::set_ringing`] arms
    /// them again.
    MediaTimeout {
        /// The silent leg.
        side: Side,
        /// Which timeout.
        kind: MediaTimeoutKind,
    },
    /// A telephone-event (RFC 4733) from a leg.
    Dtmf {
        /// The leg it came from.
        side: Side,
        /// The event.
        event: DtmfEvent,
    },
    /// The first RTP packet arrived from a leg (media delay after answer).
    MediaStarted {
        /// The leg.
        side: Side,
    },
    /// The leg's peer sent an RTCP BYE.
    RtcpBye {
        /// The leg.
        side: Side,
    },
    /// A leg learned (or moved to) its peer's address.
    Latched {
        /// The leg.
        side: Side,
        /// RTP or RTCP.
        stream: StreamKind,
        /// The peer address.
        address: SocketAddr,
    },
    /// The source sending into `side`'s peer changed SSRC; the stream was kept continuous.
    SourceChanged {
        /// The leg the stream is sent out of.
        side: Side,
        /// The new input SSRC.
        ssrc: u32,
    },
}

impl MediaEventKind {
    /// Events the call must see (they end or steer it); the others are informational and
    /// may be dropped when the event channel is full.
    pub fn is_essential(&self) -> bool {
        matches!(
            self,
            Self::MediaTimeout { .. } | Self::Dtmf { .. } | Self::RtcpBye { .. }
        )
    }
}

/// Statistics of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionStats {
    /// What each leg received (A, B). For an endpoint only A is a real peer; B counts what
    /// was handed to the application.
    pub legs: [LegStats; 2],
    /// Transcoder counters (A→B, B→A) of a transcoded bridge.
    pub transcoders: Option<[TranscoderStats; 2]>,
    /// Packets an endpoint's receive queue dropped.
    pub endpoint_dropped: u64,
}

/// Errors of the media engine.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// Every port of `[rtp] port_range` is in use, draining, or refused by the OS.
    #[error("no free RTP port in the configured range")]
    PortsExhausted,
    /// A socket operation failed.
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
    /// The relay core refused (table full, bad argument) or a codec could not be set up.
    #[error("relay: {0}")]
    Relay(#[from] rtp_relay::Error),
    /// No session has this id (released, or never existed).
    #[error("unknown media session")]
    UnknownSession,
    /// The engine's workers have stopped.
    #[error("media engine stopped")]
    Stopped,
    /// The caller asked for something the engine cannot do.
    #[error("invalid media request: {0}")]
    Invalid(&'static str),
    /// An endpoint's peer address is not known yet.
    #[error("no destination known for this endpoint yet")]
    NoDestination,
    /// The endpoint was released.
    #[error("endpoint released")]
    Released,
}
