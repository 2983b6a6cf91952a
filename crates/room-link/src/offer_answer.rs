//! SDP offer/answer for audio (RFC 3264), shared by the gateway's SIP leg and the `rtp` room
//! link.
//!
//! - [`SdpSession::offer`] writes an offer from a [`MediaConfig`] (codec preferences, RFC 4733
//!   telephone-events, `ptime`, direction, RFC 3605 `rtcp` or RFC 5761 `rtcp-mux`);
//! - [`SdpSession::answer`] answers a peer's offer, returning the answer body and the
//!   [`NegotiatedMedia`];
//! - [`process_answer`] reads the peer's answer to one of our offers.
//!
//! [`SdpSession`] owns the `o=` line across a dialog: RFC 3264 §8 requires the version to
//! grow by one with every changed description and to stay put for an unchanged one.
//!
//! Errors: unparsable SDP is [`Error::MalformedSdp`] (SIP 400); an offer with nothing we can
//! use is [`Error::NotAcceptable`] with a reason (SIP 488, RFC 3261 §21.4.26); an answer that
//! does not fit our offer is [`Error::BadAnswer`].

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rtp_relay::codec::{Codec, CodecKind};
use sip_message::sdp::{
    AddrType, Attribute, Connection, Direction, Host, Media, MediaBuilder, MediaType, Origin,
    Proto, Rtcp, SdpBuilder, SessionDescription,
};

use crate::error::Error;

/// Packet time used when neither side states one: 20 ms, the RFC 3551 §4.5 default frame
/// time for the codecs sipbridge speaks.
pub const DEFAULT_PTIME: Duration = Duration::from_millis(20);

/// `fmtp` written for Opus by default (RFC 7587 §6.1): 10 ms minimum packets, in-band FEC
/// wanted; no rate limit (what an Opus leg bridged to another Opus leg declares).
const OPUS_FMTP: &str = rtp_relay::codec::opus_fmtp_bridged_to(CodecKind::Opus);

/// `fmtp` written for telephone-event: the 16 DTMF events (RFC 4733 §2.4.1, §3.2).
const TELEPHONE_EVENT_FMTP: &str = "0-16";

/// How RTCP is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcpMode {
    /// RTCP on the RTP port (RFC 5761); offered as `a=rtcp-mux`, accepted when offered.
    Mux,
    /// RTCP on the next port, stated as `a=rtcp:<port+1>` (RFC 3605 §2.1); an offered
    /// `rtcp-mux` is declined.
    Separate,
}

/// What we offer and accept for the audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// Codecs in order of preference, each with the payload type we use for it in offers
    /// (static numbers for G.711/G.722, a dynamic one for Opus).
    pub codecs: Vec<Codec>,
    /// Payload type of `telephone-event/8000` (RFC 4733), `None` to neither offer nor
    /// accept DTMF events with 8 kHz codecs.
    pub telephone_event: Option<u8>,
    /// Payload type of `telephone-event/48000`, offered only together with Opus (RFC 4733
    /// §2.1: the event clock is the audio clock, 48 kHz for Opus per RFC 7587 §4.1).
    pub telephone_event_48k: Option<u8>,
    /// Our `a=ptime`, `None` to write none.
    pub ptime: Option<Duration>,
    /// The direction we want (RFC 3264 §5.1); `sendonly` puts the peer on hold.
    pub direction: Direction,
    /// RTCP transport.
    pub rtcp: RtcpMode,
    /// When answering, pick the first of *our* codecs the offer contains instead of the
    /// first of the offerer's that we support (RFC 3264 §6.1 lets the answerer choose; the
    /// offerer's order is a preference, not a rule).
    pub prefer_local_order: bool,
    /// The `a=fmtp` parameters written for Opus. A leg bridged to a narrower one declares
    /// that leg's rate ([`rtp_relay::codec::opus_fmtp_bridged_to`], RFC 7587 §6.1) so a
    /// compliant peer does not spend bits and our CPU on audio the bridge throws away.
    pub opus_fmtp: &'static str,
}

impl MediaConfig {
    /// A configuration with `codecs`, telephone-event at payload types 101 (8 kHz) and 110
    /// (48 kHz), 20 ms ptime, `sendrecv` and `rtcp-mux`.
    #[must_use]
    pub fn new(codecs: Vec<Codec>) -> Self {
        MediaConfig {
            codecs,
            telephone_event: Some(101),
            telephone_event_48k: Some(110),
            ptime: Some(DEFAULT_PTIME),
            direction: Direction::SendRecv,
            rtcp: RtcpMode::Mux,
            prefer_local_order: false,
            opus_fmtp: OPUS_FMTP,
        }
    }

    /// Checks the configuration: at least one codec, no payload type used twice, every
    /// number within RTP's 7 bits.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`].
    pub fn validate(&self) -> Result<(), Error> {
        if self.codecs.is_empty() {
            return Err(Error::InvalidRequest("no codec configured"));
        }
        let mut seen = [false; 128];
        let pts = self
            .codecs
            .iter()
            .map(|c| c.payload_type)
            .chain(self.telephone_event)
            .chain(self.telephone_event_48k.filter(|_| self.offers_opus()));
        for pt in pts {
            let slot = seen
                .get_mut(usize::from(pt))
                .ok_or(Error::InvalidRequest("payload type above 127"))?;
            if *slot {
                return Err(Error::InvalidRequest("payload type used twice"));
            }
            *slot = true;
        }
        Ok(())
    }

    fn offers_opus(&self) -> bool {
        self.codecs.iter().any(|c| c.kind == CodecKind::Opus)
    }

    fn supports(&self, kind: CodecKind) -> bool {
        self.codecs.iter().any(|c| c.kind == kind)
    }

    /// Our telephone-event payload type for an audio clock rate.
    fn telephone_event_for(&self, clock_rate: u32) -> Option<u8> {
        match clock_rate {
            8000 => self.telephone_event,
            48000 => self.telephone_event_48k,
            _ => None,
        }
    }
}

/// Where our media arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalEndpoint {
    /// The address written in `c=` and `o=`.
    pub address: IpAddr,
    /// The RTP port (RTCP uses it too with `rtcp-mux`, else the next one).
    pub rtp_port: u16,
}

/// The result of a negotiation: everything the media path needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NegotiatedMedia {
    /// Index of the negotiated `m=` line.
    pub media_index: usize,
    /// Where to send RTP.
    pub remote_rtp: SocketAddr,
    /// Where to send RTCP; `None` with `rtcp-mux` (same as RTP).
    pub remote_rtcp: Option<SocketAddr>,
    /// Whether RTCP is multiplexed on the RTP port (RFC 5761).
    pub rtcp_mux: bool,
    /// The codec and the payload type to *send* with (the number the peer declared).
    pub codec: Codec,
    /// The payload type arriving packets carry (the number we declared; RFC 3264 §5.1
    /// lets each side choose its own, though they usually agree).
    pub local_payload_type: u8,
    /// RTP clock rate of the codec.
    pub clock_rate: u32,
    /// telephone-event payload type to send DTMF with, if negotiated.
    pub telephone_event: Option<u8>,
    /// telephone-event payload type arriving DTMF carries, if negotiated.
    pub local_telephone_event: Option<u8>,
    /// Packet time to send with: the peer's `ptime` (a receiver's preference, RFC 8866
    /// §6.4), else ours, else [`DEFAULT_PTIME`], made usable by [`usable_ptime`].
    pub ptime: Duration,
    /// Our direction: whether we send and/or receive.
    pub direction: Direction,
}

impl NegotiatedMedia {
    /// Whether we may send media.
    #[must_use]
    pub fn sends(&self) -> bool {
        matches!(self.direction, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether we expect to receive media.
    #[must_use]
    pub fn receives(&self) -> bool {
        matches!(self.direction, Direction::SendRecv | Direction::RecvOnly)
    }
}

/// Our side of one SDP session (one dialog): the `o=` line and its version.
#[derive(Debug, Clone)]
pub struct SdpSession {
    session_id: u64,
    version: u64,
    last: Option<Bytes>,
}

impl SdpSession {
    /// A session with `session_id` (from the caller's seeded RNG: RFC 8866 §5.2 wants it
    /// globally unique; a random 62-bit value is the usual choice). The first description
    /// carries version `session_id` too, as RFC 8866 §5.2 suggests (an NTP-like start).
    #[must_use]
    pub fn new(session_id: u64) -> Self {
        SdpSession {
            session_id,
            version: session_id,
            last: None,
        }
    }

    /// The session id of `o=`.
    #[must_use]
    pub fn session_id(&self) -> u64 {
        self.session_id
    }

    /// The version of the last description written.
    #[must_use]
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Writes an offer (initial or re-offer) with one audio stream.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for an invalid [`MediaConfig`].
    pub fn offer(&mut self, cfg: &MediaConfig, local: LocalEndpoint) -> Result<Bytes, Error> {
        cfg.validate()?;
        Ok(self.write(|origin| {
            let mut m = MediaBuilder::new(MediaType::Audio, local.rtp_port, Proto::RtpAvp);
            for c in &cfg.codecs {
                m = add_codec(m, *c, cfg.opus_fmtp);
            }
            if let Some(pt) = cfg.telephone_event {
                m = add_telephone_event(m, pt, 8000);
            }
            if let Some(pt) = cfg.telephone_event_48k.filter(|_| cfg.offers_opus()) {
                m = add_telephone_event(m, pt, 48000);
            }
            m = finish_media(m, cfg.ptime, cfg.direction, cfg.rtcp, local);
            session(origin, local).media(m)
        }))
    }

    /// Answers `offer` (RFC 3264 §6): the first usable audio stream is accepted, every other
    /// `m=` line is rejected with port 0, keeping the count and order (§6: "The answer MUST
    /// contain exactly the same number of "m=" lines as the offer").
    ///
    /// # Errors
    /// [`Error::MalformedSdp`] (400), [`Error::NotAcceptable`] with the reason the last
    /// audio stream was refused (488), [`Error::InvalidRequest`] for a bad config.
    pub fn answer(
        &mut self,
        offer: &[u8],
        cfg: &MediaConfig,
        local: LocalEndpoint,
    ) -> Result<(Bytes, NegotiatedMedia), Error> {
        cfg.validate()?;
        let sdp = SessionDescription::parse(offer)?;
        let mut reason = "no audio stream offered";
        let mut chosen: Option<(NegotiatedMedia, Option<Duration>)> = None;
        for (index, m) in sdp.media().enumerate() {
            if chosen.is_some() || m.kind() != MediaType::Audio {
                continue;
            }
            match select_offered(&m, cfg) {
                Ok((codec, te)) => {
                    let offered_dir = m.direction();
                    let mut neg = negotiate(&m, index, codec, codec.payload_type, te, te, cfg)?;
                    neg.direction = intersect(offered_dir.reversed(), cfg.direction);
                    if is_unspecified(&neg) {
                        // RFC 3264 §8.4: c=0.0.0.0 is the old way to say "do not send to me".
                        neg.direction = intersect(neg.direction, Direction::RecvOnly);
                    }
                    chosen = Some((neg, m.ptime()));
                }
                Err(r) => reason = r,
            }
        }
        let Some((neg, offered_ptime)) = chosen else {
            return Err(Error::NotAcceptable { reason });
        };
        let body = self.write(|origin| {
            let mut b = session(origin, local);
            for (index, m) in sdp.media().enumerate() {
                if index != neg.media_index {
                    b = b.media(rejected(&m));
                    continue;
                }
                let mut mb = MediaBuilder::new(MediaType::Audio, local.rtp_port, m.proto());
                mb = add_codec(mb, neg.codec, cfg.opus_fmtp);
                if let Some(pt) = neg.telephone_event {
                    mb = add_telephone_event(mb, pt, neg.clock_rate);
                }
                let rtcp = if neg.rtcp_mux {
                    RtcpMode::Mux
                } else {
                    RtcpMode::Separate
                };
                // Honour the offerer's ptime: answer with the frame size we will send, so
                // both directions use one (written only when either side stated one).
                let ptime = offered_ptime.or(cfg.ptime).map(|_| neg.ptime);
                b = b.media(finish_media(mb, ptime, neg.direction, rtcp, local));
            }
            b
        });
        Ok((body, neg))
    }

    /// Writes a description through `build`, managing the `o=` version: unchanged content
    /// keeps the version, changed content bumps it by one (RFC 3264 §8).
    fn write<'a>(&mut self, build: impl Fn(Origin<'a>) -> SdpBuilder<'a>) -> Bytes {
        let session_id = self.session_id;
        let origin = |version| Origin {
            username: "sipbridge",
            session_id,
            session_version: version,
            addrtype: AddrType::Ip4,
            address: Host::Name("invalid"),
        };
        let render = |version| {
            let mut buf = BytesMut::with_capacity(512);
            build(origin(version)).write(&mut buf);
            buf.freeze()
        };
        let body = render(self.version);
        match &self.last {
            Some(last) if *last == body => body,
            Some(_) => {
                self.version = self.version.wrapping_add(1);
                let body = render(self.version);
                self.last = Some(body.clone());
                body
            }
            None => {
                self.last = Some(body.clone());
                body
            }
        }
    }
}

/// Reads the peer's answer to an offer made with `cfg` by [`SdpSession::offer`] (one audio
/// `m=` line).
///
/// # Errors
/// [`Error::MalformedSdp`]; [`Error::NotAcceptable`] when the answerer rejected the stream
/// (port 0); [`Error::BadAnswer`] when the answer does not fit the offer.
pub fn process_answer(cfg: &MediaConfig, answer: &[u8]) -> Result<NegotiatedMedia, Error> {
    let sdp = SessionDescription::parse(answer)?;
    if sdp.media_count() != 1 {
        return Err(Error::BadAnswer("m-line count differs from the offer"));
    }
    let Some(m) = sdp.media().next() else {
        return Err(Error::BadAnswer("m-line count differs from the offer"));
    };
    if m.kind() != MediaType::Audio {
        return Err(Error::BadAnswer("m-line type differs from the offer"));
    }
    if m.port() == 0 {
        return Err(Error::NotAcceptable {
            reason: "the answerer rejected the audio stream",
        });
    }
    // RFC 3264 §7: the answer's codecs are those the answerer will receive; use the first
    // one we offered, with the answerer's payload type number.
    let codec = m
        .codecs()
        .filter(|c| !c.is_telephone_event())
        .find_map(|c| {
            let kind = CodecKind::from_rtpmap(c.encoding, c.clock_rate)?;
            cfg.supports(kind).then_some(Codec {
                kind,
                payload_type: c.payload_type,
            })
        })
        .ok_or(Error::BadAnswer("no offered codec in the answer"))?;
    let local_pt = cfg
        .codecs
        .iter()
        .find(|c| c.kind == codec.kind)
        .map_or(codec.payload_type, |c| c.payload_type);
    let clock = codec.kind.clock_rate();
    let local_te = cfg.telephone_event_for(clock);
    let te = local_te.and_then(|_| {
        m.codecs()
            .find(|c| c.is_telephone_event() && c.clock_rate == clock)
            .map(|c| c.payload_type)
    });
    let mut neg = negotiate(&m, 0, codec, local_pt, te, te.and(local_te), cfg)?;
    neg.direction = intersect(m.direction().reversed(), cfg.direction);
    if is_unspecified(&neg) {
        neg.direction = intersect(neg.direction, Direction::RecvOnly);
    }
    Ok(neg)
}

/// Picks the codec and telephone-event of an offered audio stream, or says why not.
fn select_offered(m: &Media<'_>, cfg: &MediaConfig) -> Result<(Codec, Option<u8>), &'static str> {
    if m.port() == 0 {
        return Err("audio stream disabled in the offer");
    }
    let proto = m.proto();
    if proto.is_secure() {
        return Err("secure RTP (SRTP) is not supported");
    }
    if !matches!(proto, Proto::RtpAvp | Proto::RtpAvpf) {
        return Err("unsupported media transport");
    }
    let offered = || {
        m.codecs()
            .filter(|c| !c.is_telephone_event())
            .filter_map(|c| {
                CodecKind::from_rtpmap(c.encoding, c.clock_rate).map(|kind| Codec {
                    kind,
                    payload_type: c.payload_type,
                })
            })
    };
    let codec = if cfg.prefer_local_order {
        cfg.codecs
            .iter()
            .find_map(|ours| offered().find(|c| c.kind == ours.kind))
    } else {
        offered().find(|c| cfg.supports(c.kind))
    };
    let codec = codec.ok_or("no common codec")?;
    let clock = codec.kind.clock_rate();
    // RFC 4733 §7.1.1: echo telephone-event when offered at the audio clock and we take it.
    let te = cfg.telephone_event_for(clock).and_then(|_| {
        m.codecs()
            .find(|c| c.is_telephone_event() && c.clock_rate == clock)
            .map(|c| c.payload_type)
    });
    Ok((codec, te))
}

/// The transport half of a negotiation: addresses, RTCP, ptime. Direction is set by the
/// caller.
fn negotiate(
    m: &Media<'_>,
    media_index: usize,
    codec: Codec,
    local_payload_type: u8,
    telephone_event: Option<u8>,
    local_telephone_event: Option<u8>,
    cfg: &MediaConfig,
) -> Result<NegotiatedMedia, Error> {
    let not_ip = Error::NotAcceptable {
        reason: "media address is not an IP literal",
    };
    let ip = m
        .connection()
        .ok_or(Error::NotAcceptable {
            reason: "no connection address",
        })?
        .address
        .ip()
        .ok_or(not_ip.clone())?;
    let remote_rtp = SocketAddr::new(ip, m.port());
    let rtcp_mux = m.rtcp_mux() && cfg.rtcp == RtcpMode::Mux;
    let remote_rtcp = if rtcp_mux {
        None
    } else {
        Some(match m.rtcp() {
            Some(Rtcp {
                port,
                address: Some((_, host)),
            }) => SocketAddr::new(host.ip().ok_or(not_ip)?, port),
            Some(Rtcp {
                port,
                address: None,
            }) => SocketAddr::new(ip, port),
            // RFC 3550 §11: RTCP on the next higher (odd) port by default.
            None => SocketAddr::new(ip, m.port().saturating_add(1)),
        })
    };
    Ok(NegotiatedMedia {
        media_index,
        remote_rtp,
        remote_rtcp,
        rtcp_mux,
        codec,
        local_payload_type,
        clock_rate: codec.kind.clock_rate(),
        telephone_event,
        local_telephone_event,
        ptime: usable_ptime(
            codec.kind,
            m.ptime().or(cfg.ptime).unwrap_or(DEFAULT_PTIME),
            m.maxptime(),
        ),
        direction: Direction::SendRecv,
    })
}

/// The packet time we actually send: `ptime` is only a receiver's preference (RFC 8866
/// §6.4, "SHOULD"), `maxptime` a limit (§6.5). Encoders produce whole 10 ms frames from
/// 10 to 120 ms, Opus only 10, 20, 40 or 60 ms (RFC 6716 §2.1.4), so the preference is
/// rounded down to the nearest such size within the limit (10 ms at the least).
#[must_use]
pub fn usable_ptime(kind: CodecKind, ptime: Duration, maxptime: Option<Duration>) -> Duration {
    let cap = maxptime.map_or(120, |m| m.as_millis().min(120) as u32);
    let want = (ptime.as_millis().min(120) as u32).min(cap);
    let ms = match kind {
        CodecKind::Opus => [60, 40, 20, 10]
            .into_iter()
            .find(|&p| p <= want)
            .unwrap_or(10),
        _ => (want / 10 * 10).max(10),
    };
    Duration::from_millis(u64::from(ms))
}

fn is_unspecified(neg: &NegotiatedMedia) -> bool {
    neg.remote_rtp.ip().is_unspecified()
}

/// The directions both sides allow (RFC 3264 §6.1: an answer to `sendonly` is `recvonly` or
/// `inactive`, to `recvonly` is `sendonly` or `inactive`, to `inactive` is `inactive`).
#[must_use]
pub fn intersect(a: Direction, b: Direction) -> Direction {
    let caps = |d: Direction| match d {
        Direction::SendRecv => (true, true),
        Direction::SendOnly => (true, false),
        Direction::RecvOnly => (false, true),
        Direction::Inactive => (false, false),
    };
    let ((sa, ra), (sb, rb)) = (caps(a), caps(b));
    match (sa && sb, ra && rb) {
        (true, true) => Direction::SendRecv,
        (true, false) => Direction::SendOnly,
        (false, true) => Direction::RecvOnly,
        (false, false) => Direction::Inactive,
    }
}

fn session<'a>(origin: Origin<'a>, local: LocalEndpoint) -> SdpBuilder<'a> {
    let origin = Origin {
        addrtype: AddrType::of(local.address),
        address: Host::Ip(local.address),
        ..origin
    };
    SdpBuilder::new(origin, "sipbridge").connection(Connection::ip(local.address))
}

fn add_codec<'a>(m: MediaBuilder<'a>, c: Codec, opus_fmtp: &'a str) -> MediaBuilder<'a> {
    let kind = c.kind;
    let m = m.codec(
        c.payload_type,
        kind.encoding_name(),
        kind.clock_rate(),
        kind.rtpmap_channels().map(u16::from),
    );
    if kind == CodecKind::Opus {
        m.fmtp(c.payload_type, opus_fmtp)
    } else {
        m
    }
}

fn add_telephone_event(m: MediaBuilder<'_>, pt: u8, clock_rate: u32) -> MediaBuilder<'_> {
    m.codec(pt, "telephone-event", clock_rate, None)
        .fmtp(pt, TELEPHONE_EVENT_FMTP)
}

fn finish_media(
    mut m: MediaBuilder<'_>,
    ptime: Option<Duration>,
    direction: Direction,
    rtcp: RtcpMode,
    local: LocalEndpoint,
) -> MediaBuilder<'_> {
    if let Some(p) = ptime {
        m = m.ptime(p);
    }
    m = match rtcp {
        RtcpMode::Mux => m.attribute(Attribute::RtcpMux),
        RtcpMode::Separate => m.attribute(Attribute::Rtcp(Rtcp {
            port: local.rtp_port.saturating_add(1),
            address: None,
        })),
    };
    // Always explicit: some carriers treat a missing attribute as their own default.
    m.direction(direction)
}

/// A rejected copy of an offered `m=` line: port 0, same media, proto and formats, nothing
/// else (RFC 3264 §6: "the port number MUST be set to zero", formats are kept so the line
/// stays valid).
fn rejected<'a>(m: &Media<'a>) -> MediaBuilder<'a> {
    let mut b = MediaBuilder::from(m);
    b.port = 0;
    b.port_count = None;
    b.information = None;
    b.connections.clear();
    b.bandwidths.clear();
    b.key = None;
    b.attributes.clear();
    b
}
