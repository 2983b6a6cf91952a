//! Plain RTP toward a room server that ingests RTP, signaled WHIP-style.
//!
//! Join: bind a UDP socket, POST an SDP offer (`Content-Type: application/sdp`, optional
//! bearer token) to the configured URL with `{room}` filled in; the server answers `201
//! Created` with the SDP answer in the body and the session's URL in `Location` (resolved
//! against the POST URL, RFC 3986 §5.2). Leave: DELETE that URL. Any other status is
//! [`Error::Rejected`] with the status; a 201 without answer or `Location` is
//! [`Error::BadResponse`].
//!
//! Media: the link's task owns the socket. Audio from the gateway goes out with the link's
//! SSRC and its own continuous sequence numbers (DTMF events share the sequence space), the
//! payload type mapped to the room's number; the payload bytes are never touched. Arriving
//! RTP is accepted from the answered address only, its payload type mapped back, and handed
//! to the gateway as a slice of the receive buffer (no copy, no decode); telephone-events
//! become [`RoomEvent::Dtmf`]. RTCP arriving on the socket (rtcp-mux) is ignored.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use http::{Method, Uri};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use rtp_relay::dtmf::{DtmfEvent, DtmfReceiver, DtmfSender, DtmfSenderConfig, event_for_digit};
use rtp_relay::rtp::{RtpHeader, RtpPacket};
use tokio::net::UdpSocket;
use tokio::sync::oneshot;

use crate::error::Error;
use crate::http::{self as client, Outgoing};
use crate::offer_answer::{LocalEndpoint, MediaConfig, RtcpMode, SdpSession, process_answer};
use crate::session::{
    AudioFrame, BoxFuture, CloseReason, FromSession, JoinRequest, LinkSide, Outbound,
    ParticipantId, QueueConfig, RoomEvent, RoomLink, RoomSession, SessionControl, SessionInfo,
    SessionMedia,
};
use sip_message::sdp::Direction;

/// The participant id under which DTMF from the room server is reported (the server does
/// not say which of its participants pressed).
pub const ROOM_SERVER: ParticipantId = ParticipantId(0);

/// Largest UDP datagram read.
const MAX_DATAGRAM: usize = 2048;

/// Settings of [`RtpRooms`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpLinkConfig {
    /// The join URL, `http://…`, with `{room}` replaced by the room name.
    pub url_template: String,
    /// Bearer token for the `Authorization` header, if the server wants one.
    pub bearer_token: Option<String>,
    /// Local address the media socket binds to (the port is chosen by the OS).
    pub bind: IpAddr,
    /// Address written in the SDP offer; `None` writes `bind`.
    pub advertise: Option<IpAddr>,
    /// Longest a join's POST may take; the caller's deadline still wins when earlier.
    pub join_timeout: Duration,
    /// Longest a leave's DELETE may take.
    pub leave_timeout: Duration,
    /// Largest SDP answer accepted, in bytes.
    pub max_answer_bytes: usize,
    /// Session queue sizes.
    pub queues: QueueConfig,
    /// Seed of the RNG for SSRCs, sequence numbers and SDP session ids.
    pub seed: u64,
    /// No RTP from the room server for this long (from the join, or since its last packet)
    /// ends the session with [`RoomEvent::Closed`]`(`[`CloseReason::LinkFailed`]`)`: plain
    /// RTP has no other way to say the room is gone. `None` waits forever.
    pub media_timeout: Option<Duration>,
}

impl RtpLinkConfig {
    /// A configuration for `url_template`, binding media to `bind`, with 5 s join and 2 s
    /// leave timeouts, 64 KiB answers and no media timeout.
    #[must_use]
    pub fn new(url_template: impl Into<String>, bind: IpAddr) -> Self {
        RtpLinkConfig {
            url_template: url_template.into(),
            bearer_token: None,
            bind,
            advertise: None,
            join_timeout: Duration::from_secs(5),
            leave_timeout: Duration::from_secs(2),
            max_answer_bytes: 64 * 1024,
            queues: QueueConfig::default(),
            seed: 0,
            media_timeout: None,
        }
    }
}

/// The plain-RTP [`RoomLink`].
#[derive(Debug, Clone)]
pub struct RtpRooms {
    cfg: Arc<RtpLinkConfig>,
    rng: Arc<Mutex<ChaCha8Rng>>,
}

impl RtpRooms {
    /// A link with `cfg`.
    #[must_use]
    pub fn new(cfg: RtpLinkConfig) -> Self {
        let rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        RtpRooms {
            cfg: Arc::new(cfg),
            rng: Arc::new(Mutex::new(rng)),
        }
    }

    fn random(&self) -> u64 {
        self.rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next_u64()
    }

    async fn join_inner(&self, req: JoinRequest, deadline: Instant) -> Result<RoomSession, Error> {
        let cfg = &self.cfg;
        let caps = &req.media;
        if caps.codecs.is_empty() {
            return Err(Error::InvalidRequest("no codec offered"));
        }
        let now = tokio::time::Instant::now();
        let deadline = tokio::time::Instant::from_std(deadline).min(now + cfg.join_timeout);
        let url = client::expand(&cfg.url_template, &req.room)?;
        let socket = UdpSocket::bind(SocketAddr::new(cfg.bind, 0))
            .await
            .map_err(|e| Error::Socket(e.kind()))?;
        let port = socket
            .local_addr()
            .map_err(|e| Error::Socket(e.kind()))?
            .port();
        let media_cfg = MediaConfig {
            codecs: caps.codecs.clone(),
            telephone_event: caps.telephone_event,
            // One telephone-event number crosses the session API; it is offered at 8 kHz.
            telephone_event_48k: None,
            ptime: Some(caps.ptime),
            direction: Direction::SendRecv,
            rtcp: RtcpMode::Mux,
            prefer_local_order: false,
            // An Opus room bridged to the SIP leg is told that leg's rate (RFC 7587 §6.1).
            opus_fmtp: rtp_relay::codec::opus_fmtp_bridged_to(caps.bridged_codec()),
        };
        // RFC 8866 §5.2: session ids should fit a 63-bit NTP-style value.
        let mut sdp = SdpSession::new(self.random() >> 2);
        let local = LocalEndpoint {
            address: cfg.advertise.unwrap_or(cfg.bind),
            rtp_port: port,
        };
        let offer = sdp.offer(&media_cfg, local)?;
        let extra = [
            ("x-participant-identity", req.identity.as_str()),
            ("x-participant-name", req.name.as_str()),
        ];
        let (answer_sdp, session_url) = client::post_offer(
            &url,
            cfg.bearer_token.as_deref(),
            &extra,
            offer,
            cfg.max_answer_bytes,
            deadline,
        )
        .await?;
        let answer = if answer_sdp.is_empty() {
            Err(Error::BadResponse("201 without an SDP answer"))
        } else {
            process_answer(&media_cfg, &answer_sdp)
        };
        let neg = match answer {
            Ok(n) => n,
            Err(e) => {
                // The server created a session we cannot use: remove it again.
                if let Err(d) = delete(cfg, &session_url).await {
                    tracing::warn!(error = %d, "rtp room link: DELETE of an unusable session failed");
                }
                return Err(e);
            }
        };
        // The session API uses the gateway's numbers; the wire uses the room's.
        let api_codec = caps
            .codecs
            .iter()
            .copied()
            .find(|c| c.kind == neg.codec.kind)
            .ok_or(Error::BadAnswer("no offered codec in the answer"))?;
        let api_te = neg.telephone_event.and(caps.telephone_event);
        let info = SessionInfo {
            room: req.room.clone(),
            participant: ParticipantId(1),
            media: SessionMedia {
                codec: api_codec,
                telephone_event: api_te,
                ptime: neg.ptime,
            },
        };
        let (stop_tx, stop_rx) = oneshot::channel();
        let control = Box::new(RtpControl {
            cfg: self.cfg.clone(),
            session_url,
            stop: stop_tx,
        });
        let (session, side) = RoomSession::new(info, cfg.queues, control);
        let r = self.random();
        let driver = Driver {
            socket,
            remote: neg.remote_rtp,
            side,
            map: PayloadMap {
                api_audio: api_codec.payload_type,
                api_te,
                wire_audio_out: neg.codec.payload_type,
                wire_audio_in: neg.local_payload_type,
                wire_te_out: neg.telephone_event,
                wire_te_in: neg.local_telephone_event,
            },
            clock_rate: neg.clock_rate,
            ptime: neg.ptime,
            media_timeout: cfg.media_timeout,
            ssrc: r as u32,
            sequence: (r >> 32) as u16,
            last_timestamp: (r >> 48) as u32,
        };
        tokio::spawn(driver.run(stop_rx));
        Ok(session)
    }
}

impl RoomLink for RtpRooms {
    fn kind(&self) -> &'static str {
        "rtp"
    }

    fn join(
        &self,
        req: JoinRequest,
        deadline: Instant,
    ) -> BoxFuture<'_, Result<RoomSession, Error>> {
        Box::pin(self.join_inner(req, deadline))
    }
}

async fn delete(cfg: &RtpLinkConfig, url: &Uri) -> Result<(), Error> {
    let deadline = tokio::time::Instant::now() + cfg.leave_timeout;
    let resp = client::send(
        Outgoing {
            method: Method::DELETE,
            url,
            bearer: cfg.bearer_token.as_deref(),
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

struct RtpControl {
    cfg: Arc<RtpLinkConfig>,
    session_url: Uri,
    stop: oneshot::Sender<()>,
}

impl SessionControl for RtpControl {
    fn leave(self: Box<Self>) -> BoxFuture<'static, Result<(), Error>> {
        Box::pin(async move {
            let _ = self.stop.send(());
            delete(&self.cfg, &self.session_url).await
        })
    }

    fn abandon(self: Box<Self>) {
        let RtpControl {
            cfg,
            session_url,
            stop,
        } = *self;
        let _ = stop.send(());
        // Best effort: the server's session would otherwise outlive the call.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = delete(&cfg, &session_url).await {
                    tracing::warn!(error = %e, "rtp room link: DELETE after abandon failed");
                }
            });
        }
    }
}

/// Payload type numbers on the session API and on the wire.
#[derive(Debug, Clone, Copy)]
struct PayloadMap {
    api_audio: u8,
    api_te: Option<u8>,
    wire_audio_out: u8,
    wire_audio_in: u8,
    wire_te_out: Option<u8>,
    wire_te_in: Option<u8>,
}

struct Driver {
    socket: UdpSocket,
    remote: SocketAddr,
    side: LinkSide,
    map: PayloadMap,
    clock_rate: u32,
    ptime: Duration,
    media_timeout: Option<Duration>,
    ssrc: u32,
    sequence: u16,
    last_timestamp: u32,
}

impl Driver {
    async fn run(mut self, mut stop: oneshot::Receiver<()>) {
        let mut rx = BytesMut::with_capacity(MAX_DATAGRAM * 32);
        let mut tx = vec![0u8; MAX_DATAGRAM];
        let mut dtmf_in = DtmfReceiver::new();
        let mut dtmf_out: Option<DtmfSender> = None;
        let mut last_rx = tokio::time::Instant::now();
        let mut end = CloseReason::RoomClosed;
        loop {
            if rx.capacity() < MAX_DATAGRAM {
                // One allocation serves many datagrams: each is split off and frozen.
                rx = BytesMut::with_capacity(MAX_DATAGRAM * 32);
            }
            rx.resize(MAX_DATAGRAM, 0);
            let wake = dtmf_out
                .as_ref()
                .and_then(DtmfSender::poll_timeout)
                .map(tokio::time::Instant::from_std);
            let silence = self.media_timeout.map(|t| last_rx + t);
            tokio::select! {
                _ = &mut stop => break,
                r = self.socket.recv_from(&mut rx) => {
                    match r {
                        Ok((n, from)) => {
                            rx.truncate(n);
                            let datagram = rx.split().freeze();
                            if from.ip() == self.remote.ip() {
                                last_rx = tokio::time::Instant::now();
                                self.handle_datagram(&datagram, &mut dtmf_in);
                            }
                        }
                        Err(e) => {
                            // ICMP port unreachable surfaces here on some systems: the room
                            // may come up later, so only log.
                            tracing::debug!(error = %e, "rtp room link: receive failed");
                        }
                    }
                }
                item = self.side.take() => match item {
                    Some(FromSession::Audio(frame)) => self.send_audio(&frame, &mut tx).await,
                    Some(FromSession::Command(Outbound::Dtmf { digit, duration })) => {
                        self.queue_dtmf(digit, duration, &mut dtmf_out);
                        self.send_dtmf(&mut dtmf_out, &mut tx).await;
                    }
                    None => break,
                },
                () = sleep_until(wake) => self.send_dtmf(&mut dtmf_out, &mut tx).await,
                () = sleep_until(silence) => {
                    tracing::info!(remote = %self.remote, "rtp room link: media timeout");
                    end = CloseReason::LinkFailed;
                    break;
                }
            }
        }
        self.side.finish(Some(RoomEvent::Closed(end)));
    }

    fn handle_datagram(&mut self, datagram: &bytes::Bytes, dtmf: &mut DtmfReceiver) {
        let Ok(pkt) = RtpPacket::parse(datagram) else {
            return;
        };
        // RFC 5761 §4: with rtcp-mux, packet types 192..=223 (payload types 64..=95 with
        // the marker bit) are RTCP.
        if (64..=95).contains(&pkt.payload_type()) {
            return;
        }
        let pt = pkt.payload_type();
        if Some(pt) == self.map.wire_te_in {
            if dtmf
                .handle_payload(pkt.marker(), pkt.timestamp(), pkt.payload())
                .is_ok()
            {
                while let Some(ev) = dtmf.poll_event() {
                    if let (DtmfEvent::Began { .. }, Some(digit)) = (ev, ev.digit()) {
                        let _ = self.side.deliver_event(RoomEvent::Dtmf {
                            from: ROOM_SERVER,
                            digit,
                        });
                    }
                }
            }
            return;
        }
        if pt != self.map.wire_audio_in {
            return;
        }
        let layout = pkt.layout();
        let frame = AudioFrame {
            payload_type: self.map.api_audio,
            sequence: pkt.sequence(),
            timestamp: pkt.timestamp(),
            marker: pkt.marker(),
            // A view of the receive buffer: no copy.
            payload: datagram.slice(layout.payload_start..layout.payload_end),
        };
        let _ = self.side.deliver_audio(frame);
    }

    async fn send_audio(&mut self, frame: &AudioFrame, tx: &mut [u8]) {
        let pt = if frame.payload_type == self.map.api_audio {
            self.map.wire_audio_out
        } else if Some(frame.payload_type) == self.map.api_te {
            match self.map.wire_te_out {
                Some(pt) => pt,
                None => return,
            }
        } else {
            return;
        };
        if frame.payload_type == self.map.api_audio {
            self.last_timestamp = frame.timestamp;
        }
        let header = RtpHeader {
            marker: frame.marker,
            payload_type: pt,
            sequence: self.sequence,
            timestamp: frame.timestamp,
            ssrc: self.ssrc,
        };
        if let Ok(n) = header.write(&frame.payload, tx) {
            self.sequence = self.sequence.wrapping_add(1);
            if let Err(e) = self.socket.send_to(&tx[..n], self.remote).await {
                tracing::debug!(error = %e, "rtp room link: send failed");
            }
        }
    }

    fn queue_dtmf(&mut self, digit: char, duration: Duration, out: &mut Option<DtmfSender>) {
        let (Some(pt), Some(event)) = (self.map.wire_te_out, event_for_digit(digit)) else {
            return;
        };
        let now = tokio::time::Instant::now().into_std();
        if out.is_none() {
            let cfg = DtmfSenderConfig {
                payload_type: pt,
                clock_rate: self.clock_rate,
                packet_interval: self.ptime,
                ..DtmfSenderConfig::default()
            };
            *out = DtmfSender::new(cfg, now, self.last_timestamp).ok();
        }
        if let Some(s) = out.as_mut() {
            if !s.is_sending() {
                s.set_clock(now, self.last_timestamp);
            }
            let _ = s.send_event(event, duration);
        }
    }

    async fn send_dtmf(&mut self, out: &mut Option<DtmfSender>, tx: &mut [u8]) {
        let Some(s) = out.as_mut() else {
            return;
        };
        let now = tokio::time::Instant::now().into_std();
        while let Some(pkt) = s.poll_transmit(now) {
            if let Ok(n) = pkt.write(self.sequence, self.ssrc, tx) {
                self.sequence = self.sequence.wrapping_add(1);
                if let Err(e) = self.socket.send_to(&tx[..n], self.remote).await {
                    tracing::debug!(error = %e, "rtp room link: send failed");
                }
            }
        }
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
