//! WebRTC toward a room server, on webrtc-rs's sans-IO `rtc` core, signaled by WHIP
//! (RFC 9725).
//!
//! # Join
//! 1. Bind a UDP socket (one per session, so an SFU that serves every participant on one
//!    port still tells our sessions apart by 5-tuple), build an `rtc` peer connection with
//!    one sendrecv audio transceiver, our host candidate and, with
//!    [`WebRtcLinkConfig::stun_servers`], a server-reflexive one (module `gather`), with
//!    [`WebRtcLinkConfig::turn_servers`] a relayed one allocated on the same socket (module
//!    `turn`; [`IceTransportPolicy::Relay`] offers it alone), plus end-of-candidates (no
//!    trickle: RFC 9725 §4.3.2 lets the offer carry every candidate), create the offer.
//! 2. POST it (`Content-Type: application/sdp`) to the configured URL with `{room}` filled
//!    in, with `Authorization: Bearer` a JWT minted for this participant and room
//!    ([`token`]). RFC 9725 §4.2: the answer comes back as `201 Created` with a `Location`
//!    (resolved against the POST URL); any other status is [`Error::Rejected`].
//! 3. Apply the answer and hand the peer to the link's driver, then wait until ICE and
//!    DTLS are up: the join returns only with media ready. ICE or DTLS failure is
//!    [`Error::MediaFailed`] (cause `room_link_failed`); the caller's deadline or
//!    [`WebRtcLinkConfig::join_timeout`] cutting the wait is [`Error::Timeout`]. Either
//!    way the server's session is DELETEd again.
//!
//! # Media
//! Opus/48000/2 is always offered, whatever the gateway offers: the session's codec is then
//! Opus and the gateway transcodes the SIP leg's PCMU, PCMA or G.722 to and from it.
//! PCMU/8000 is offered too when [`WebRtcLinkConfig::allow_pcmu`] and the gateway offers
//! it, in the gateway's order, so a room that accepts PCMU gets the SIP leg's payloads
//! untouched. The session API carries the negotiated codec's payloads with the gateway's
//! payload type (Opus's usual 111 when the gateway had no Opus). A room sending one audio
//! stream has it passed through, never decoded; several streams (an SFU forwarding each
//! speaker) are mixed into one for the phone (module `tracks`).
//!
//! One telephone-event is offered, at the first codec's clock (`build_peer` says why).
//! DTMF from the gateway ([`crate::RoomSession::send_dtmf`]) goes out as RFC 4733 events
//! when the room accepted it, else as a JSON message on the data channel named
//! [`WebRtcLinkConfig::dtmf_data_channel`] (module `dtmf_message` has the format), else it is
//! dropped with a log line. Telephone-events and DTMF messages from the room become
//! [`RoomEvent::Dtmf`](crate::RoomEvent::Dtmf) (from [`crate::rtp::ROOM_SERVER`]); the session API never carries
//! telephone-event payloads ([`crate::SessionMedia::telephone_event`] is `None`).
//!
//! # Lifecycle
//! [`WebRtcLinkConfig::drivers`] driver tasks per [`WebRtcRooms`] own the peer connections
//! (module `driver`), each session on one of them; each session adds only a small feeder task
//! that waits on its socket and lanes. The room
//! hanging up (a DTLS `close_notify`) ends the session with
//! [`RoomEvent::Closed`](crate::RoomEvent::Closed)`(`[`CloseReason::RoomClosed`](crate::CloseReason::RoomClosed)`)`; ICE failure or consent expiry
//! (RFC 7675 §5.1, after [`WebRtcLinkConfig::ice_disconnected_timeout`] +
//! [`WebRtcLinkConfig::ice_failed_timeout`] without responses) with
//! [`CloseReason::LinkFailed`](crate::CloseReason::LinkFailed). Leaving sends `close_notify` and DELETEs the session URL.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use http::{Method, Uri};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use rtc::interceptor::Registry;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::configure_rtcp_reports;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_OPUS, MIME_TYPE_PCMU, MIME_TYPE_TELEPHONE_EVENT, MediaEngine,
};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use rtp_relay::codec::{Codec, CodecKind};
use rtp_relay::dtmf::DtmfReceiver;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use crate::error::Error;
use crate::http::{self as client, Outgoing};
use crate::session::{
    BoxFuture, JoinRequest, ParticipantId, QueueConfig, RoomLink, RoomSession, SessionControl,
    SessionInfo, SessionMedia,
};

mod driver;
mod dtmf_message;
mod gather;
mod peer;
pub mod token;
mod tracks;
mod turn;

pub use token::ApiCredentials;
pub use turn::{IceTransportPolicy, TurnServer};

use driver::{Input, PeerId};
use peer::{PayloadMap, Peer, Phase};

/// Payload type of telephone-event/48000 in our offer (with Opus).
const TE_48K_PT: u8 = 126;
/// Payload type of telephone-event/8000 in our offer (with PCMU).
const TE_8K_PT: u8 = 101;

/// Settings of [`WebRtcRooms`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebRtcLinkConfig {
    /// The WHIP endpoint, `http://…`, with `{room}` replaced by the room name.
    pub url_template: String,
    /// Key and secret the join tokens are minted with; `None` sends no `Authorization`.
    pub credentials: Option<ApiCredentials>,
    /// How long a minted token is valid (its `exp` − `nbf`).
    pub token_ttl: Duration,
    /// Local address media sockets bind to (the port is chosen by the OS).
    pub bind: IpAddr,
    /// Address of our host candidate; `None` uses `bind` (which must then not be
    /// unspecified). A NAT's public address goes here (1:1 NAT).
    pub advertise: Option<IpAddr>,
    /// Longest a join may take (POST plus ICE and DTLS); the caller's deadline still wins
    /// when earlier.
    pub join_timeout: Duration,
    /// Longest a leave's DELETE may take; also bounds the TURN allocation's release
    /// (its Refresh with lifetime 0, retransmitted in the background after the session is
    /// gone).
    pub leave_timeout: Duration,
    /// Largest SDP answer accepted, in bytes.
    pub max_answer_bytes: usize,
    /// Session queue sizes.
    pub queues: QueueConfig,
    /// Seed of the RNG for SSRCs and sequence numbers.
    pub seed: u64,
    /// Offer PCMU/8000 besides Opus when the gateway offers it (pass-through).
    pub allow_pcmu: bool,
    /// Label of a data channel opened on every session for DTMF when the room does not
    /// negotiate telephone-event; `None` opens none (no SCTP association, cheaper).
    pub dtmf_data_channel: Option<String>,
    /// Interval between ICE connectivity checks. `rtc`'s default (200 ms) nominates the
    /// pair only on its next tick, ~220 ms after the answer; 20 ms connects in ~30 ms
    /// (WEBRTC_NOTES.md).
    pub ice_check_interval: Duration,
    /// No ICE response for this long: disconnected (RFC 8445 §16 timers).
    pub ice_disconnected_timeout: Duration,
    /// Disconnected for this long more: failed, and the session ends with
    /// [`CloseReason::LinkFailed`](crate::CloseReason::LinkFailed). With the default 5 s + 25 s this is RFC 7675's 30 s
    /// consent expiry.
    pub ice_failed_timeout: Duration,
    /// Interval of ICE keepalives / consent checks (RFC 7675 §5.1: 5 s on average).
    pub ice_keepalive_interval: Duration,
    /// Driver tasks; each session is driven by one of them (by its id), so the link uses
    /// that many cores. At least 1.
    pub drivers: usize,
    /// STUN servers asked for our public address (a server-reflexive candidate besides the
    /// host one); empty gathers none.
    pub stun_servers: Vec<SocketAddr>,
    /// Longest the STUN gathering may delay a join (the join's deadline still wins).
    pub stun_timeout: Duration,
    /// First retransmission timeout of STUN Binding and TURN requests, doubling after
    /// each (RFC 8489 §6.2.1: SHOULD be configurable, 500 ms by default; a join waits for
    /// these answers, so the link starts lower).
    pub stun_rto: Duration,
    /// TURN servers to allocate a relayed candidate on (module `turn`); the first that
    /// grants an allocation is used. Empty allocates none.
    pub turn_servers: Vec<TurnServer>,
    /// Longest the TURN allocation may delay a join (the join's deadline still wins).
    pub turn_timeout: Duration,
    /// Which candidates the offer carries; [`IceTransportPolicy::Relay`] offers only the
    /// relayed one, and a join without an allocation then fails. With
    /// [`IceTransportPolicy::All`] a pair using the relayed candidate is nominated only when
    /// no direct pair has worked for [`WebRtcLinkConfig::ice_relay_acceptance_wait`].
    pub ice_transport_policy: IceTransportPolicy,
    /// With [`IceTransportPolicy::All`], how long the controlling agent waits for a direct
    /// pair before it nominates one using the relayed candidate (`rtc`'s relay acceptance
    /// minimum wait; RFC 8445 §8.1.1 leaves when to stop checking to the controlling
    /// agent). Unused with [`IceTransportPolicy::Relay`], which nominates at once.
    pub ice_relay_acceptance_wait: Duration,
}

impl WebRtcLinkConfig {
    /// A configuration for `url_template` with media on `bind`: no token, 10 min token
    /// TTL, 5 s join and 2 s leave timeouts, PCMU allowed, no data channel, 20 ms ICE
    /// checks, 5 s + 25 s ICE failure, 2 s keepalives, no STUN or TURN server (500 ms and
    /// 1 s gathering budgets when some are set), every candidate type offered and a relayed
    /// pair nominated after 2 s without a direct one.
    #[must_use]
    pub fn new(url_template: impl Into<String>, bind: IpAddr) -> Self {
        WebRtcLinkConfig {
            url_template: url_template.into(),
            credentials: None,
            token_ttl: Duration::from_secs(600),
            bind,
            advertise: None,
            join_timeout: Duration::from_secs(5),
            leave_timeout: Duration::from_secs(2),
            max_answer_bytes: 64 * 1024,
            queues: QueueConfig::default(),
            seed: 0,
            allow_pcmu: true,
            dtmf_data_channel: None,
            ice_check_interval: Duration::from_millis(20),
            ice_disconnected_timeout: Duration::from_secs(5),
            ice_failed_timeout: Duration::from_secs(25),
            ice_keepalive_interval: Duration::from_secs(2),
            drivers: std::thread::available_parallelism().map_or(1, |n| n.get().min(8)),
            stun_servers: Vec::new(),
            stun_timeout: Duration::from_millis(500),
            stun_rto: Duration::from_millis(100),
            turn_servers: Vec::new(),
            turn_timeout: Duration::from_secs(1),
            ice_transport_policy: IceTransportPolicy::All,
            ice_relay_acceptance_wait: Duration::from_secs(2),
        }
    }
}

/// The WebRTC [`RoomLink`].
#[derive(Debug, Clone)]
pub struct WebRtcRooms {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cfg: WebRtcLinkConfig,
    rng: Mutex<ChaCha8Rng>,
    /// The drivers' inputs, started on the first join (they need a runtime).
    drivers: OnceLock<Vec<mpsc::Sender<Input>>>,
}

/// Capacity of a driver's input channel: datagrams and frames of its sessions.
const DRIVER_QUEUE: usize = 4096;

impl WebRtcRooms {
    /// A link with `cfg`.
    #[must_use]
    pub fn new(cfg: WebRtcLinkConfig) -> Self {
        let rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        WebRtcRooms {
            inner: Arc::new(Inner {
                cfg,
                rng: Mutex::new(rng),
                drivers: OnceLock::new(),
            }),
        }
    }

    fn random(&self) -> u64 {
        self.inner
            .rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next_u64()
    }

    /// The driver of session `id`.
    fn driver(&self, id: PeerId) -> mpsc::Sender<Input> {
        let drivers = self.inner.drivers.get_or_init(|| {
            (0..self.inner.cfg.drivers.max(1))
                .map(|_| {
                    let (tx, rx) = mpsc::channel(DRIVER_QUEUE);
                    tokio::spawn(driver::run(rx));
                    tx
                })
                .collect()
        });
        // `id` is random: sessions spread evenly.
        drivers[(id % drivers.len() as u64) as usize].clone()
    }

    async fn join_inner(&self, req: JoinRequest, deadline: Instant) -> Result<RoomSession, Error> {
        let cfg = &self.inner.cfg;
        let now = tokio::time::Instant::now();
        let deadline = tokio::time::Instant::from_std(deadline).min(now + cfg.join_timeout);
        let offered = offered_codecs(cfg, &req.media.codecs);
        let url = client::expand(&cfg.url_template, &req.room)?;
        let host = cfg.advertise.unwrap_or(cfg.bind);
        if host.is_unspecified() {
            return Err(Error::InvalidRequest(
                "webrtc link needs a bind or advertise address that is not unspecified",
            ));
        }
        let socket = Arc::new(
            UdpSocket::bind(SocketAddr::new(cfg.bind, 0))
                .await
                .map_err(|e| Error::Socket(e.kind()))?,
        );
        // What the socket is bound to (the TURN client's local address) and what our host
        // candidate says (the advertised address, same port).
        let bound = socket.local_addr().map_err(|e| Error::Socket(e.kind()))?;
        let local = SocketAddr::new(host, bound.port());
        let mut transaction = [0u8; 12];
        transaction[..8].copy_from_slice(&self.random().to_le_bytes());
        transaction[8..].copy_from_slice(&(self.random() as u32).to_le_bytes());
        let relay_only = cfg.ice_transport_policy == IceTransportPolicy::Relay;
        let start = tokio::time::Instant::now();
        let budget = |timeout: Duration| deadline.min(start + timeout).into_std();
        // The policy leaves the reflexive candidate out: no point asking for it.
        let stun_servers: &[SocketAddr] = if relay_only { &[] } else { &cfg.stun_servers };
        let (reflexive, relay) = gather::gather(
            &socket,
            gather::StunGather::new(
                stun_servers,
                transaction,
                cfg.stun_rto,
                start.into_std(),
                budget(cfg.stun_timeout),
            ),
            turn::TurnGather::new(
                &cfg.turn_servers,
                bound,
                cfg.stun_rto,
                start.into_std(),
                budget(cfg.turn_timeout),
            ),
        )
        .await;
        let reflexive = reflexive.filter(|mapped| *mapped != local);
        let mut unused = turn::UnusedRelay {
            socket: socket.clone(),
            relay,
            timeout: cfg.leave_timeout,
        };
        if relay_only && unused.relay.is_none() {
            return Err(Error::MediaFailed(
                "ice_transport_policy is relay and no TURN server granted an allocation",
            ));
        }
        let ssrc = self.random() as u32;
        let candidates = gather::Candidates {
            host: (!relay_only).then_some(local),
            reflexive,
            relayed: unused.relay.as_ref().map(turn::TurnRelay::relayed),
            base: local,
        };
        let phone = req.media.bridged_codec();
        let (mut pc, sender) = build_peer(cfg, &offered, phone, &candidates, ssrc)?;
        let data_channel = match &cfg.dtmf_data_channel {
            Some(label) => Some(
                pc.create_data_channel(label, None)
                    .map_err(|_| Error::InvalidRequest("data channel could not be created"))?
                    .id(),
            ),
            None => None,
        };
        let std_now = now.into_std();
        let offer = pc
            .create_offer(None)
            .map_err(|_| Error::InvalidRequest("SDP offer could not be created"))?;
        let offer_sdp = offer.sdp.clone();
        pc.set_local_description(std_now, offer)
            .map_err(|_| Error::InvalidRequest("SDP offer could not be applied"))?;

        let bearer = match &cfg.credentials {
            Some(c) => Some(token::mint(
                c,
                &req.room,
                &req.identity,
                &req.name,
                &req.attributes,
                SystemTime::now(),
                cfg.token_ttl,
            )?),
            None => None,
        };
        let (answer, session_url) = client::post_offer(
            &url,
            bearer.as_deref(),
            &[],
            offer_sdp.into(),
            cfg.max_answer_bytes,
            deadline,
        )
        .await?;
        let bearer = bearer.map(Arc::<str>::from);
        let id = self.random();
        let control_base = WebRtcControl {
            cfg: self.inner.clone(),
            session_url,
            bearer,
            driver: self.driver(id),
            id,
        };
        let negotiated = apply_answer(&mut pc, sender, &answer, &req.media.codecs);
        let (map, api_codec) = match negotiated {
            Ok(n) => n,
            Err(e) => {
                // The server created a session we cannot use: remove it again.
                control_base.delete_logged().await;
                return Err(e);
            }
        };
        let wire_codec = Codec {
            kind: api_codec.kind,
            payload_type: map.wire_audio,
        };
        let info = SessionInfo {
            room: req.room.clone(),
            participant: ParticipantId(1),
            media: SessionMedia {
                codec: api_codec,
                telephone_event: None,
                ptime: req.media.ptime,
            },
        };
        let mut turn = unused.relay.take();
        drop(unused);
        if let Some(t) = turn.as_mut() {
            // RFC 8656 §9: the server drops what the room's candidates send to the relayed
            // address until we hold a permission for them; ask before the first check.
            let at = tokio::time::Instant::now().into_std();
            if let Ok(text) = std::str::from_utf8(&answer) {
                for peer in turn::remote_candidates(text) {
                    t.permit(at, peer);
                }
            }
        }
        let tx = control_base.driver.clone();
        let (session, side) = RoomSession::new(info, cfg.queues, Box::new(control_base));
        let (connected_tx, connected_rx) = oneshot::channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let r = self.random();
        let peer = Peer {
            pc,
            socket: socket.clone(),
            local,
            side: side.clone(),
            sender,
            ssrc,
            sequence: r as u16,
            last_timestamp: (r >> 32) as u32,
            map,
            data_channel,
            data_channel_open: false,
            connected: Some(connected_tx),
            _stop_feeder: stop_tx,
            dtmf_in: DtmfReceiver::new(),
            dtmf_out: None,
            phase: Phase::Connecting,
            send_drops: 0,
            tracks: tracks::Tracks::new(api_codec, wire_codec),
            relay_only,
            turn,
            release_timeout: cfg.leave_timeout,
        };
        tokio::spawn(driver::feed(id, socket, side, tx.clone(), stop_rx));
        if tx.send(Input::Add(id, Box::new(peer))).await.is_err() {
            return Err(Error::Closed);
        }
        let started = tokio::time::Instant::now();
        let outcome = match tokio::time::timeout_at(deadline, connected_rx).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(e),
            Ok(Err(_)) => Err(Error::Closed),
            Err(_) => Err(Error::Timeout {
                step: "connect",
                after: deadline.saturating_duration_since(started),
            }),
        };
        match outcome {
            Ok(()) => Ok(session),
            Err(e) => {
                if let Err(d) = session.leave().await {
                    tracing::warn!(error = %d, "webrtc room link: DELETE after a failed connect failed");
                }
                Err(e)
            }
        }
    }
}

impl RoomLink for WebRtcRooms {
    fn kind(&self) -> &'static str {
        "webrtc"
    }

    fn join(
        &self,
        req: JoinRequest,
        deadline: Instant,
    ) -> BoxFuture<'_, Result<RoomSession, Error>> {
        Box::pin(self.join_inner(req, deadline))
    }
}

/// The codecs the link offers to the room: PCMU when the gateway has it (and it is
/// allowed), where the gateway lists it, so a room that takes it gets the SIP leg's payloads
/// untouched; Opus always (RFC 7874 §3: WebRTC endpoints MUST implement Opus), in the
/// gateway's order when the gateway has it, else last, and the gateway transcodes to it from
/// whatever the phone speaks (PCMA, G.722, …).
fn offered_codecs(cfg: &WebRtcLinkConfig, gateway: &[Codec]) -> Vec<CodecKind> {
    let mut kinds: Vec<CodecKind> = Vec::with_capacity(2);
    for kind in gateway.iter().map(|c| c.kind) {
        let usable = kind == CodecKind::Opus || (kind == CodecKind::Pcmu && cfg.allow_pcmu);
        if usable && !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    if !kinds.contains(&CodecKind::Opus) {
        kinds.push(CodecKind::Opus);
    }
    kinds
}

/// The formats of `kind` and of its telephone-event. Opus bridged to a `phone` leg narrower
/// than full band declares that leg's rate (`maxplaybackrate`, `sprop-maxcapturerate`,
/// RFC 7587 §6.1): a sender that honours it spares itself, the network and our decoder
/// the audio the bridge throws away.
fn codec_parameters(
    kind: CodecKind,
    phone: CodecKind,
) -> (RTCRtpCodecParameters, RTCRtpCodecParameters) {
    let (mime, channels, fmtp, pt, te_pt) = match kind {
        // RFC 7587 §7: opus/48000/2 whatever is sent; in-band FEC helps on lossy paths.
        CodecKind::Opus => (
            MIME_TYPE_OPUS,
            2,
            rtp_relay::codec::opus_fmtp_bridged_to(phone),
            111,
            TE_48K_PT,
        ),
        _ => (MIME_TYPE_PCMU, 1, "", 0, TE_8K_PT),
    };
    let clock_rate = kind.clock_rate();
    let codec = RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: mime.to_owned(),
            clock_rate,
            channels,
            sdp_fmtp_line: fmtp.to_owned(),
            rtcp_feedback: Vec::new(),
        },
        payload_type: pt,
    };
    // RFC 4733 §2.1: telephone-event uses the clock of the audio it accompanies.
    let te = RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: MIME_TYPE_TELEPHONE_EVENT.to_owned(),
            clock_rate,
            channels: 1,
            sdp_fmtp_line: "0-15".to_owned(),
            rtcp_feedback: Vec::new(),
        },
        payload_type: te_pt,
    };
    (codec, te)
}

fn build_peer(
    cfg: &WebRtcLinkConfig,
    offered: &[CodecKind],
    phone: CodecKind,
    candidates: &gather::Candidates,
    ssrc: u32,
) -> Result<(RTCPeerConnection, rtc::rtp_transceiver::RTCRtpSenderId), Error> {
    let bad = |_| Error::InvalidRequest("webrtc peer connection could not be configured");
    let mut media = MediaEngine::default();
    // The m-line's formats: the audio codecs in the gateway's order, then ONE
    // telephone-event, at the clock of the first (preferred) codec. `rtc` matches formats
    // by MIME type and fmtp but not by clock rate, so a second telephone-event (8 kHz and
    // 48 kHz) would collapse into the first one's payload type, in our offer and in an
    // `rtc`/pion-style answerer alike. A room answering another codec with it gets events
    // at the telephone-event's own clock (RFC 4733 §2.1 lets the clock be redefined;
    // RFC 7160 covers several clock rates in one RTP session).
    let mut preferences = Vec::with_capacity(offered.len() + 1);
    let mut event = None;
    for kind in offered {
        let (codec, te) = codec_parameters(*kind, phone);
        media
            .register_codec(codec.clone(), RtpCodecKind::Audio)
            .map_err(bad)?;
        preferences.push(codec);
        event.get_or_insert(te);
    }
    let first = preferences
        .first()
        .map(|c| c.rtp_codec.clone())
        .ok_or(Error::InvalidRequest("no codec to offer"))?;
    if let Some(te) = event {
        media
            .register_codec(te.clone(), RtpCodecKind::Audio)
            .map_err(bad)?;
        preferences.push(te);
    }
    // Audio only: sender and receiver reports, no NACK/TWCC (they buy nothing for audio
    // and cost per packet; WEBRTC_NOTES.md).
    let registry = configure_rtcp_reports(Registry::new());
    // As controlling agent `rtc` nominates a pair with a relayed candidate only after
    // waiting for a better one (pion's relayAcceptanceMinWait; RFC 8445 §8.1.1 leaves when
    // to stop checking to the controlling agent): the configured wait. With only the
    // relayed candidate offered there is none to wait for: nominate at once (else every
    // relay-only join takes that much more).
    let relay_only = candidates.host.is_none() && candidates.reflexive.is_none();
    let relay_wait = if relay_only {
        Duration::ZERO
    } else {
        cfg.ice_relay_acceptance_wait
    };
    let settings = SettingEngineBuilder::new()
        .with_ice_connection_attempts(Some(cfg.ice_check_interval), None)
        .with_ice_timeouts(
            Some(cfg.ice_disconnected_timeout),
            Some(cfg.ice_failed_timeout),
            Some(cfg.ice_keepalive_interval),
        )
        .with_include_loopback_candidate(true)
        .with_relay_acceptance_min_wait(Some(relay_wait))
        .build();
    let mut pc = RTCPeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_setting_engine(settings)
        .with_media_engine(media)
        .with_interceptor_registry(registry)
        .build(tokio::time::Instant::now().into_std())
        .map_err(bad)?;
    let track = MediaStreamTrack::new(
        "sipbridge".to_owned(),
        "sipbridge-audio".to_owned(),
        "audio".to_owned(),
        RtpCodecKind::Audio,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: first,
            ..Default::default()
        }],
    );
    let sender = pc.add_track(track).map_err(bad)?;
    // `add_track` narrows the transceiver's formats to the track's one codec, which would
    // leave telephone-event and the other codecs out of the offer: the room could then
    // neither get RFC 4733 DTMF nor fall back to Opus when it refuses PCMU. Offer them all.
    let transceiver = pc.get_transceivers().next().ok_or(Error::InvalidRequest(
        "no audio transceiver after add_track",
    ))?;
    pc.rtp_transceiver(transceiver)
        .ok_or(Error::InvalidRequest(
            "no audio transceiver after add_track",
        ))?
        .set_codec_preferences(preferences)
        .map_err(bad)?;
    gather::add_local_candidates(&mut pc, candidates)?;
    // The empty candidate ends gathering: the offer carries a=end-of-candidates.
    pc.add_local_candidate(RTCIceCandidateInit::default())
        .map_err(bad)?;
    Ok((pc, sender))
}

/// Applies the room's answer; returns the payload mapping and the session API codec.
fn apply_answer(
    pc: &mut RTCPeerConnection,
    sender: rtc::rtp_transceiver::RTCRtpSenderId,
    body: &[u8],
    gateway: &[Codec],
) -> Result<(PayloadMap, Codec), Error> {
    if body.is_empty() {
        return Err(Error::BadResponse("201 without an SDP answer"));
    }
    let sdp = std::str::from_utf8(body).map_err(|_| Error::BadAnswer("answer is not UTF-8"))?;
    let answer = RTCSessionDescription::answer(sdp.to_owned())
        .map_err(|_| Error::BadAnswer("answer could not be parsed"))?;
    pc.set_remote_description(tokio::time::Instant::now().into_std(), answer)
        .map_err(|_| Error::BadAnswer("answer does not fit the offer"))?;
    let codecs = pc
        .rtp_sender(sender)
        .ok_or(Error::BadAnswer("no audio sender after the answer"))?
        .get_parameters()
        .rtp_parameters
        .codecs
        .clone();
    let kind_of = |c: &RTCRtpCodecParameters| {
        let name = c.rtp_codec.mime_type.strip_prefix("audio/")?;
        CodecKind::from_rtpmap(name, c.rtp_codec.clock_rate)
    };
    let (wire, api) = codecs
        .iter()
        .find_map(|c| {
            let kind = kind_of(c)?;
            // The gateway's own payload type when it has the codec; else (Opus the gateway
            // transcodes to) the codec's usual number on the session API.
            let api = gateway
                .iter()
                .copied()
                .find(|g| g.kind == kind)
                .unwrap_or(Codec::with_default_pt(kind));
            Some((c, api))
        })
        .ok_or(Error::NotAcceptable {
            reason: "the room accepted none of the offered codecs",
        })?;
    let clock_rate = wire.rtp_codec.clock_rate;
    // The answer's telephone-event, at the audio's clock when there is one, else at
    // whichever clock the room accepted (see `build_peer`).
    let events = || {
        codecs.iter().filter(|c| {
            c.rtp_codec
                .mime_type
                .eq_ignore_ascii_case(MIME_TYPE_TELEPHONE_EVENT)
        })
    };
    let wire_te = events()
        .find(|c| c.rtp_codec.clock_rate == clock_rate)
        .or_else(|| events().next())
        .map(|c| (c.payload_type, c.rtp_codec.clock_rate));
    Ok((
        PayloadMap {
            api_audio: api.payload_type,
            wire_audio: wire.payload_type,
            wire_te: wire_te.map(|(pt, _)| pt),
            te_clock_rate: wire_te.map_or(clock_rate, |(_, rate)| rate),
            clock_rate,
            ptime: Duration::from_millis(20),
        },
        api,
    ))
}

struct WebRtcControl {
    cfg: Arc<Inner>,
    session_url: Uri,
    bearer: Option<Arc<str>>,
    driver: mpsc::Sender<Input>,
    id: PeerId,
}

impl WebRtcControl {
    async fn delete(&self) -> Result<(), Error> {
        let deadline = tokio::time::Instant::now() + self.cfg.cfg.leave_timeout;
        let resp = client::send(
            Outgoing {
                method: Method::DELETE,
                url: &self.session_url,
                bearer: self.bearer.as_deref(),
                content_type: None,
                extra: &[],
                body: bytes::Bytes::new(),
                max_body: 4096,
            },
            deadline,
            "leave",
        )
        .await?;
        match resp.status {
            // 404: the session is already gone, which is what leaving wants.
            200..=299 | 404 => Ok(()),
            status => Err(Error::Rejected { status }),
        }
    }

    async fn delete_logged(&self) {
        if let Err(e) = self.delete().await {
            tracing::warn!(error = %e, "webrtc room link: DELETE failed");
        }
    }
}

impl SessionControl for WebRtcControl {
    fn leave(self: Box<Self>) -> BoxFuture<'static, Result<(), Error>> {
        Box::pin(async move {
            let (done_tx, done_rx) = oneshot::channel();
            // Bounded by the leave timeout like the DELETE: the driver answers at once
            // unless it is gone, in which case the send fails.
            if self
                .driver
                .send(Input::Remove(self.id, Some(done_tx)))
                .await
                .is_ok()
            {
                let _ = tokio::time::timeout(self.cfg.cfg.leave_timeout, done_rx).await;
            }
            self.delete().await
        })
    }

    fn abandon(self: Box<Self>) {
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = self.driver.send(Input::Remove(self.id, None)).await;
                // Best effort: the server's session would otherwise outlive the call.
                self.delete_logged().await;
            });
        }
    }
}
