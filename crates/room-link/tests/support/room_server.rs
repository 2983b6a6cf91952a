//! A WHIP room server for tests: axum on loopback answering SDP offers with webrtc-rs `rtc`
//! (the same stack as the link), one UDP socket and one task per session. Each session
//! plays a tone into the call, decodes what it hears (kept for frequency checks), records
//! DTMF (RFC 4733 events and data-channel messages) and can send DTMF or hang up.

#![allow(dead_code)] // each test binary uses a different part

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use bytes::BytesMut;
use rtc::data_channel::RTCDataChannelId;
use rtc::interceptor::Registry;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::configure_rtcp_reports;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_OPUS, MIME_TYPE_PCMU, MIME_TYPE_TELEPHONE_EVENT, MediaEngine,
};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::event::{RTCDataChannelEvent, RTCPeerConnectionEvent};
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::{
    CandidateConfig, CandidateHostConfig, RTCDtlsTransportState, RTCIceCandidate,
    RTCIceCandidateInit,
};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use rtp_relay::codec::{CodecKind, Decoder, Encoder, OpusConfig};
use rtp_relay::dtmf::{DtmfEvent, DtmfReceiver, DtmfSender, DtmfSenderConfig, event_for_digit};
use rtp_relay::tone::{Cadence, ToneGenerator, ToneSpec};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

pub const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// How the room answers.
#[derive(Debug, Clone)]
pub struct RoomOptions {
    /// Accept PCMU (listed before Opus, so a PCMU-first offer gets PCMU).
    pub accept_pcmu: bool,
    /// Accept RFC 4733 telephone-event.
    pub telephone_event: bool,
    /// Answer with a candidate nobody listens on and never send anything.
    pub unreachable: bool,
    /// Frequency of the tone the room plays, Hz.
    pub tone_hz: f64,
    /// Keep (and decode) the audio heard, the last [`KEEP_AUDIO`]; off for load runs,
    /// which only count packets.
    pub keep_audio: bool,
}

/// How much decoded audio a session keeps.
pub const KEEP_AUDIO: Duration = Duration::from_secs(2);

impl Default for RoomOptions {
    fn default() -> Self {
        RoomOptions {
            accept_pcmu: false,
            telephone_event: true,
            unreachable: false,
            tone_hz: 440.0,
            keep_audio: true,
        }
    }
}

/// What a room session saw.
#[derive(Debug, Default)]
pub struct SessionRecord {
    pub room: String,
    /// Decoded audio from the link, at 48 kHz (Opus) or 8 kHz (PCMU): the last
    /// [`KEEP_AUDIO`].
    pub pcm: Vec<i16>,
    pub pcm_rate: u32,
    pub codec: Option<CodecKind>,
    /// DTMF digits by RFC 4733 event.
    pub dtmf_events: Vec<char>,
    /// Raw data-channel text messages.
    pub dc_messages: Vec<String>,
    pub connected: bool,
    /// The link closed DTLS (close_notify arrived).
    pub dtls_closed_by_link: bool,
    pub deleted: bool,
}

/// A command to a running room session.
#[derive(Debug, Clone, Copy)]
pub enum Command {
    /// Press a digit toward the link.
    Dtmf(char),
    /// Close the connection (DTLS close_notify) without a DELETE.
    Hangup,
    /// Vanish: stop answering anything, send nothing more (a crashed server, a dead
    /// path), so only ICE consent (RFC 7675) can notice.
    Vanish,
}

/// Packet counts over every session.
#[derive(Debug, Default, Clone, Copy)]
pub struct Totals {
    /// Sessions answered.
    pub sessions: u64,
    /// Sessions whose media task is running.
    pub active: u64,
    /// Audio packets received from the link.
    pub audio_in: u64,
    /// Audio packets sent to the link.
    pub audio_out: u64,
}

#[derive(Default)]
pub struct Shared {
    pub totals: Totals,
    /// Sessions send no audio while set (`POST /mute`, `POST /unmute`): a load run stops
    /// the room's audio before it compares counters.
    pub muted: bool,
    pub sessions: HashMap<String, SessionRecord>,
    pub commands: HashMap<String, mpsc::UnboundedSender<Command>>,
    /// (room, Authorization header) of every POST.
    pub posts: Vec<(String, Option<String>)>,
    /// (room, SDP offer) of every POST with a UTF-8 body.
    pub offers: Vec<(String, String)>,
}

#[derive(Clone)]
pub struct RoomServer {
    pub addr: SocketAddr,
    pub shared: Arc<Mutex<Shared>>,
    opts: Arc<RoomOptions>,
}

impl RoomServer {
    pub async fn start(opts: RoomOptions) -> RoomServer {
        let listener = TcpListener::bind((LOOPBACK, 0))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let server = RoomServer {
            addr,
            shared: Arc::new(Mutex::new(Shared::default())),
            opts: Arc::new(opts),
        };
        let app = Router::new()
            .route("/rooms/{room}/whip", post(whip_post))
            .route("/rooms/{room}/session/{id}", delete(whip_delete))
            .route("/stats", get(stats))
            .route("/mute", post(mute))
            .route("/unmute", post(unmute))
            .with_state(server.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        server
    }

    pub fn url_template(&self) -> String {
        format!("http://{}/rooms/{{room}}/whip", self.addr)
    }

    pub fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The id of the only session of `room`, once there is one.
    pub fn session_of(&self, room: &str) -> Option<String> {
        self.lock()
            .sessions
            .iter()
            .find(|(_, s)| s.room == room)
            .map(|(id, _)| id.clone())
    }

    /// The SDP offer posted for `room` (the first, when there were several); panics when
    /// none was.
    pub fn offer(&self, room: &str) -> String {
        self.lock()
            .offers
            .iter()
            .find(|(r, _)| r == room)
            .map(|(_, sdp)| sdp.clone())
            .unwrap_or_else(|| panic!("no offer for {room}"))
    }

    pub fn command(&self, session: &str, cmd: Command) {
        if let Some(tx) = self.lock().commands.get(session) {
            let _ = tx.send(cmd);
        }
    }

    /// Runs `f` on the session record.
    pub fn with<T>(&self, session: &str, f: impl FnOnce(&SessionRecord) -> T) -> Option<T> {
        self.lock().sessions.get(session).map(f)
    }
}

async fn whip_post(
    State(server): State<RoomServer>,
    Path(room): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    server.lock().posts.push((room.clone(), auth));
    match room.as_str() {
        "full" => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        "forbidden" => return StatusCode::FORBIDDEN.into_response(),
        _ => {}
    }
    let Ok(offer) = String::from_utf8(body.to_vec()) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    server.lock().offers.push((room.clone(), offer.clone()));
    let socket = match UdpSocket::bind((LOOPBACK, 0)).await {
        Ok(s) => s,
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let Ok(local) = socket.local_addr() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let candidate_addr = if server.opts.unreachable {
        // A loopback port nobody listens on: bind one and let it go.
        let probe = std::net::UdpSocket::bind((LOOPBACK, 0)).unwrap_or_else(|e| panic!("{e}"));
        probe.local_addr().unwrap_or_else(|e| panic!("{e}"))
    } else {
        local
    };
    let (pc, sender, ssrc, answer) = match answer(&server.opts, &offer, candidate_addr) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("room fixture: cannot answer: {e}");
            return StatusCode::BAD_REQUEST.into_response();
        }
    };
    let id = format!("s{}", local.port());
    let (tx, rx) = mpsc::unbounded_channel();
    {
        let mut s = server.lock();
        s.sessions.insert(
            id.clone(),
            SessionRecord {
                room: room.clone(),
                ..SessionRecord::default()
            },
        );
        s.commands.insert(id.clone(), tx);
        s.totals.sessions += 1;
    }
    if !server.opts.unreachable {
        let media = Media {
            pc,
            sender,
            ssrc,
            socket,
            local,
            id: id.clone(),
            shared: server.shared.clone(),
            tone_hz: server.opts.tone_hz,
            keep_audio: server.opts.keep_audio,
        };
        tokio::spawn(media.run(rx));
    }
    let mut resp = (StatusCode::CREATED, answer).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/sdp"),
    );
    if let Ok(v) = header::HeaderValue::from_str(&format!("session/{id}")) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// `GET /stats`: [`Totals`] as `name value` lines (for load runs in another process).
async fn stats(State(server): State<RoomServer>) -> String {
    let t = server.lock().totals;
    format!(
        "sessions {}\nactive {}\naudio_in {}\naudio_out {}\n",
        t.sessions, t.active, t.audio_in, t.audio_out
    )
}

async fn mute(State(server): State<RoomServer>) -> StatusCode {
    server.lock().muted = true;
    StatusCode::OK
}

async fn unmute(State(server): State<RoomServer>) -> StatusCode {
    server.lock().muted = false;
    StatusCode::OK
}

async fn whip_delete(
    State(server): State<RoomServer>,
    Path((_room, id)): Path<(String, String)>,
) -> StatusCode {
    let mut s = server.lock();
    match s.sessions.get_mut(&id) {
        Some(rec) => {
            rec.deleted = true;
            if let Some(tx) = s.commands.get(&id) {
                let _ = tx.send(Command::Hangup);
            }
            StatusCode::OK
        }
        None => StatusCode::NOT_FOUND,
    }
}

type Answer = (RTCPeerConnection, RTCRtpSenderId, u32, String);

fn answer(
    opts: &RoomOptions,
    offer: &str,
    candidate: SocketAddr,
) -> Result<Answer, Box<dyn std::error::Error>> {
    let mut media = MediaEngine::default();
    let mut codecs = Vec::new();
    if opts.accept_pcmu {
        codecs.push((MIME_TYPE_PCMU, 8000, 1, "", 0, 101));
    }
    codecs.push((
        MIME_TYPE_OPUS,
        48000,
        2,
        "minptime=10;useinbandfec=1",
        111,
        126,
    ));
    for (mime, rate, ch, fmtp, pt, te_pt) in codecs {
        media.register_codec(
            RTCRtpCodecParameters {
                rtp_codec: RTCRtpCodec {
                    mime_type: mime.to_owned(),
                    clock_rate: rate,
                    channels: ch,
                    sdp_fmtp_line: fmtp.to_owned(),
                    rtcp_feedback: Vec::new(),
                },
                payload_type: pt,
            },
            RtpCodecKind::Audio,
        )?;
        if opts.telephone_event {
            media.register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: RTCRtpCodec {
                        mime_type: MIME_TYPE_TELEPHONE_EVENT.to_owned(),
                        clock_rate: rate,
                        channels: 1,
                        sdp_fmtp_line: "0-15".to_owned(),
                        rtcp_feedback: Vec::new(),
                    },
                    payload_type: te_pt,
                },
                RtpCodecKind::Audio,
            )?;
        }
    }
    let registry = configure_rtcp_reports(Registry::new());
    let settings = SettingEngineBuilder::new()
        .with_ice_connection_attempts(Some(Duration::from_millis(20)), None)
        .with_include_loopback_candidate(true)
        .build();
    let mut pc = RTCPeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_setting_engine(settings)
        .with_media_engine(media)
        .with_interceptor_registry(registry)
        .build(Instant::now())?;
    let ssrc = 0x5eed_0001;
    let track = MediaStreamTrack::new(
        "room".to_owned(),
        "room-audio".to_owned(),
        "room".to_owned(),
        RtpCodecKind::Audio,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: RTCRtpCodec {
                mime_type: MIME_TYPE_OPUS.to_owned(),
                clock_rate: 48000,
                channels: 2,
                sdp_fmtp_line: String::new(),
                rtcp_feedback: Vec::new(),
            },
            ..Default::default()
        }],
    );
    let sender = pc.add_track(track)?;
    pc.set_remote_description(
        Instant::now(),
        RTCSessionDescription::offer(offer.to_owned())?,
    )?;
    let c = CandidateHostConfig {
        base_config: CandidateConfig {
            network: "udp".to_owned(),
            address: candidate.ip().to_string(),
            port: candidate.port(),
            component: 1,
            ..Default::default()
        },
        ..Default::default()
    }
    .new_candidate_host()?;
    pc.add_local_candidate(RTCIceCandidate::from(&c).to_json()?)?;
    pc.add_local_candidate(RTCIceCandidateInit::default())?;
    let answer = pc.create_answer(None)?;
    pc.set_local_description(Instant::now(), answer)?;
    let sdp = pc
        .local_description()
        .map(|d| d.sdp)
        .ok_or("no local description")?;
    Ok((pc, sender, ssrc, sdp))
}

struct Media {
    pc: RTCPeerConnection,
    sender: RTCRtpSenderId,
    ssrc: u32,
    socket: UdpSocket,
    local: SocketAddr,
    id: String,
    shared: Arc<Mutex<Shared>>,
    tone_hz: f64,
    keep_audio: bool,
}

struct Negotiated {
    kind: CodecKind,
    pt: u8,
    /// Telephone-event payload type and clock.
    te: Option<(u8, u32)>,
    decoder: Decoder,
    decoder_rate: u32,
    /// One second of the tone, encoded once per codec and frequency (played in a loop: a
    /// whole number of cycles, so the loop is seamless for whole-Hz tones).
    tone: Arc<Vec<bytes::Bytes>>,
    next_frame: usize,
    /// Samples per 20 ms frame at the codec's sample rate.
    frame_samples: usize,
}

/// [`Negotiated::tone`], shared by every session (encoding per session would make the
/// fixture, not the link, the cost of a load run).
fn encoded_tone(kind: CodecKind, hz: f64) -> Option<Arc<Vec<bytes::Bytes>>> {
    type Cache = Mutex<HashMap<(CodecKind, u64), Arc<Vec<bytes::Bytes>>>>;
    static CACHE: std::sync::OnceLock<Cache> = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Cache::default);
    let key = (kind, hz.to_bits());
    if let Some(t) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Some(t.clone());
    }
    let mut encoder = Encoder::new(kind, &OpusConfig::default()).ok()?;
    let rate = encoder.sample_rate();
    let mut tone = ToneGenerator::new(ToneSpec::new(&[(hz, 0.3)], Cadence::continuous()), rate);
    let frame = rate as usize / 50;
    let mut pcm = vec![0i16; frame];
    let mut out = vec![0u8; 1500];
    let mut frames = Vec::with_capacity(50);
    for _ in 0..50 {
        tone.fill(&mut pcm);
        let len = encoder.encode(&pcm, &mut out).ok()?;
        frames.push(bytes::Bytes::copy_from_slice(&out[..len]));
    }
    let frames = Arc::new(frames);
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, frames.clone());
    Some(frames)
}

impl Media {
    fn record(&self, f: impl FnOnce(&mut SessionRecord)) {
        let mut s = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = s.sessions.get_mut(&self.id) {
            f(r);
        }
    }

    fn negotiate(&mut self) -> Option<Negotiated> {
        let codecs = self
            .pc
            .rtp_sender(self.sender)?
            .get_parameters()
            .rtp_parameters
            .codecs
            .clone();
        let (kind, pt, rate) = codecs.iter().find_map(|c| {
            let name = c.rtp_codec.mime_type.strip_prefix("audio/")?;
            let kind = CodecKind::from_rtpmap(name, c.rtp_codec.clock_rate)?;
            Some((kind, c.payload_type, c.rtp_codec.clock_rate))
        })?;
        // The telephone-event at the audio's clock, else the one negotiated at another
        // clock (the link offers one only; `rtc` matches it whatever its clock).
        let events = || {
            codecs.iter().filter(|c| {
                c.rtp_codec
                    .mime_type
                    .eq_ignore_ascii_case(MIME_TYPE_TELEPHONE_EVENT)
            })
        };
        let te = events()
            .find(|c| c.rtp_codec.clock_rate == rate)
            .or_else(|| events().next())
            .map(|c| (c.payload_type, c.rtp_codec.clock_rate));
        let pcm_rate = kind.sample_rate();
        let decoder = Decoder::new(kind, pcm_rate).ok()?;
        let tone = encoded_tone(kind, self.tone_hz)?;
        self.record(|r| {
            r.codec = Some(kind);
            r.pcm_rate = pcm_rate;
        });
        Some(Negotiated {
            kind,
            pt,
            te,
            decoder,
            decoder_rate: pcm_rate,
            tone,
            next_frame: 0,
            frame_samples: pcm_rate as usize / 50,
        })
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        self.shared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .totals
            .active += 1;
        let mut buf = vec![0u8; 2048];
        let mut neg: Option<Negotiated> = None;
        let mut dc: Option<RTCDataChannelId> = None;
        let mut dtmf_in = DtmfReceiver::new();
        let mut dtmf_out: Option<DtmfSender> = None;
        let mut seq: u16 = 1;
        let mut ts: u32 = 0;
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let mut dec = vec![0i16; 5760];
        let mut connected = false;
        'run: loop {
            while let Some(w) = self.pc.poll_write() {
                let _ = self.socket.send_to(&w.message, w.transport.peer_addr).await;
            }
            while let Some(ev) = self.pc.poll_event() {
                match ev {
                    RTCPeerConnectionEvent::OnConnectionStateChangeEvent(s) => match s {
                        RTCPeerConnectionState::Connected => {
                            connected = true;
                            neg = self.negotiate();
                            self.record(|r| r.connected = true);
                        }
                        RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
                            break 'run;
                        }
                        _ => {}
                    },
                    RTCPeerConnectionEvent::OnDataChannel(RTCDataChannelEvent::OnOpen(id)) => {
                        dc = Some(id);
                    }
                    _ => {}
                }
            }
            while let Some(TaggedRTCMessage { message, .. }) = self.pc.poll_read() {
                match message {
                    RTCMessage::RtpPacket(_, p) => {
                        let Some(n) = neg.as_mut() else { continue };
                        if Some(p.header.payload_type) == n.te.map(|(pt, _)| pt) {
                            if dtmf_in
                                .handle_payload(p.header.marker, p.header.timestamp, &p.payload)
                                .is_ok()
                            {
                                while let Some(ev) = dtmf_in.poll_event() {
                                    if let (DtmfEvent::Began { .. }, Some(d)) = (ev, ev.digit()) {
                                        self.record(|r| r.dtmf_events.push(d));
                                    }
                                }
                            }
                        } else if p.header.payload_type == n.pt {
                            self.shared
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .totals
                                .audio_in += 1;
                            if !self.keep_audio {
                                continue;
                            }
                            if let Ok(k) = n.decoder.decode(&p.payload, &mut dec) {
                                let got = &dec[..k];
                                let keep = (KEEP_AUDIO.as_millis() as usize)
                                    * (n.decoder_rate as usize)
                                    / 1000;
                                self.record(|r| {
                                    r.pcm.extend_from_slice(got);
                                    let excess = r.pcm.len().saturating_sub(keep);
                                    r.pcm.drain(..excess);
                                });
                            }
                        }
                    }
                    RTCMessage::DataChannelMessage(_, m) => {
                        let text = String::from_utf8_lossy(&m.data).into_owned();
                        self.record(|r| r.dc_messages.push(text));
                    }
                    _ => {}
                }
            }
            let dtls = self
                .pc
                .rtp_sender(self.sender)
                .and_then(|s| s.transport().map(|t| t.state()));
            if connected && dtls == Some(RTCDtlsTransportState::Closed) {
                self.record(|r| r.dtls_closed_by_link = true);
                break 'run;
            }
            let next = self
                .pc
                .poll_timeout()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(next)) => {
                    let _ = self.pc.handle_timeout(Instant::now());
                }
                r = self.socket.recv_from(&mut buf) => {
                    if let Ok((n, from)) = r {
                        let _ = self.pc.handle_read(TaggedBytesMut {
                            now: Instant::now(),
                            transport: TransportContext {
                                local_addr: self.local,
                                peer_addr: from,
                                ecn: None,
                                transport_protocol: TransportProtocol::UDP,
                            },
                            message: BytesMut::from(&buf[..n]),
                        });
                    }
                }
                cmd = commands.recv() => match cmd {
                    Some(Command::Hangup) | None => {
                        let _ = self.pc.close();
                        while let Some(w) = self.pc.poll_write() {
                            let _ = self.socket.send_to(&w.message, w.transport.peer_addr).await;
                        }
                        break 'run;
                    }
                    Some(Command::Vanish) => break 'run,
                    Some(Command::Dtmf(digit)) => {
                        let Some(n) = neg.as_ref() else { continue };
                        match (n.te, event_for_digit(digit)) {
                            (Some((pt, te_rate)), Some(event)) => {
                                let cfg = DtmfSenderConfig {
                                    payload_type: pt,
                                    clock_rate: te_rate,
                                    ..DtmfSenderConfig::default()
                                };
                                let te_ts = (u64::from(ts) * u64::from(te_rate) / u64::from(n.kind.clock_rate())) as u32;
                                let mut s = dtmf_out.take().or_else(|| DtmfSender::new(cfg, Instant::now(), te_ts).ok());
                                if let Some(s) = s.as_mut() {
                                    s.set_clock(Instant::now(), te_ts);
                                    let _ = s.send_event(event, Duration::from_millis(100));
                                }
                                dtmf_out = s;
                            }
                            _ => {
                                if let Some(id) = dc {
                                    if let Some(mut ch) = self.pc.data_channel(id) {
                                        let msg = format!(r#"{{"type":"dtmf","digit":"{digit}","duration_ms":100}}"#);
                                        let _ = ch.send_text(Instant::now(), msg);
                                    }
                                }
                            }
                        }
                    }
                },
                _ = tick.tick() => {
                    let Some(n) = neg.as_mut() else { continue };
                    let now = Instant::now();
                    let sending_dtmf = dtmf_out.as_ref().is_some_and(DtmfSender::is_sending);
                    if let Some(s) = dtmf_out.as_mut() {
                        while let Some(p) = s.poll_transmit(now) {
                            let payload = bytes::Bytes::copy_from_slice(&p.event.to_bytes());
                            write(&mut self.pc, self.sender, self.ssrc, &mut seq, p.marker, p.payload_type, p.timestamp, payload);
                        }
                    }
                    if !sending_dtmf {
                        let payload = n.tone[n.next_frame % n.tone.len()].clone();
                        n.next_frame += 1;
                        let muted = self.shared.lock().unwrap_or_else(|e| e.into_inner()).muted;
                        if !muted && write(&mut self.pc, self.sender, self.ssrc, &mut seq, false, n.pt, ts, payload) {
                            self.shared.lock().unwrap_or_else(|e| e.into_inner()).totals.audio_out += 1;
                        }
                    }
                    ts = ts.wrapping_add(n.kind.ticks_for_samples(n.frame_samples as u64, n.decoder_rate) as u32);
                }
            }
        }
        let mut s = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        s.commands.remove(&self.id);
        s.totals.active -= 1;
    }
}

#[allow(clippy::too_many_arguments)]
fn write(
    pc: &mut RTCPeerConnection,
    sender: RTCRtpSenderId,
    ssrc: u32,
    seq: &mut u16,
    marker: bool,
    pt: u8,
    ts: u32,
    payload: bytes::Bytes,
) -> bool {
    let packet = rtc::rtp::Packet {
        header: rtc::rtp::header::Header {
            version: 2,
            marker,
            payload_type: pt,
            sequence_number: *seq,
            timestamp: ts,
            ssrc,
            ..Default::default()
        },
        payload,
    };
    *seq = seq.wrapping_add(1);
    match pc.rtp_sender(sender) {
        Some(mut s) => s.write_rtp(Instant::now(), packet).is_ok(),
        None => false,
    }
}
