//! The whole outbound path — API trait → Deadline → call task → sip-core ringing timer →
//! SIP over real loopback sockets → callee — in tokio's paused time, so rings of 30 s, 90 s and
//! 10 minutes take milliseconds and are measured exactly.
//!
//! Pins the incident in DESIGN.md: a hidden timeout anywhere on this path would end the ring
//! before `ringing_timeout`. Each case runs with tracing enabled and disabled and must give the
//! same timings (tracing only observes).
//!
//! A transfer's target ringing (REFER, `TransferSIPParticipant`) is held to the same precision.
//!
//! The room's side of ringing is tested here too: the ringback tone of `play_dialtone` (in
//! paused time) and early media from a callee's 183 (in real time: the RTP crosses the media
//! engine's worker threads).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use control::proto::livekit::CreateSipParticipantRequest;
use control::service::{CallFilter, CallId, CallState};
use control::{ApiTimings, CallService, CreateCall, TimeoutCause, TwirpCode};
use gateway::call::Gateway;
use gateway::config::Config;
use gateway::sip::shell::{self, ShellConfig, SipHandle};
use room_link::embedded::{EmbeddedConfig, EmbeddedRooms};
use room_link::{BoxFuture, JoinRequest, MediaCapabilities, RoomEvent, RoomLink, RoomSession};
use rtp_relay::analysis;
use rtp_relay::codec::{Codec, CodecKind, g711};
use rtp_relay::rtp::RtpHeader;
use sip_core::{Body, Endpoint, Event, Reply};
use tokio::sync::mpsc;
use tokio::time::Instant;

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";

/// Timer precision the issue asks for: the ring ends at T ± 10 ms.
const TOLERANCE: Duration = Duration::from_millis(10);

async fn sip_stack() -> (SipHandle, mpsc::Receiver<Event>) {
    let config = ShellConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        udp_recv_buffer: 1 << 20,
        tcp_idle_timeout: Duration::from_secs(3600),
        tcp_connect_timeout: Duration::from_secs(32),
        limits: Default::default(),
    };
    let (tx, rx) = mpsc::channel(1024);
    let handle = shell::start(
        config,
        |local| Endpoint::new(sip_core::Config::new("127.0.0.1", local.port()), 11),
        tx,
    )
    .await
    .expect("SIP shell");
    (handle, rx)
}

/// A callee that rings (180) and answers after `answer_after`, or never.
fn spawn_callee(
    handle: SipHandle,
    mut events: mpsc::Receiver<Event>,
    answer_after: Option<Duration>,
) {
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match event {
                Event::IncomingCall { call, .. } => {
                    let h = handle.clone();
                    tokio::spawn(async move {
                        let _ = h
                            .with(move |ep, now| ep.respond(now, call, Reply::status(180)))
                            .await;
                        if let Some(after) = answer_after {
                            tokio::time::sleep(after).await;
                            let _ = h
                                .with(move |ep, now| {
                                    ep.respond(now, call, Reply::with_body(200, Body::sdp(SDP)))
                                })
                                .await;
                        }
                    });
                }
                Event::Request { request, .. } => {
                    let _ = handle
                        .with(move |ep, now| ep.reply(now, request, Reply::status(200)))
                        .await;
                }
                _ => {}
            }
        }
    });
}

async fn gateway_to(callee: SocketAddr) -> Arc<Gateway> {
    gateway_and_rooms(callee, Duration::ZERO).await.0
}

/// Embedded rooms whose joins take `delay` longer (a room server far away).
struct SlowJoin {
    rooms: Arc<EmbeddedRooms>,
    delay: Duration,
}

impl RoomLink for SlowJoin {
    fn kind(&self) -> &'static str {
        "slow-embedded"
    }

    fn join(
        &self,
        req: JoinRequest,
        deadline: std::time::Instant,
    ) -> BoxFuture<'_, Result<RoomSession, room_link::Error>> {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            self.rooms.join(req, deadline).await
        })
    }
}

/// The gateway and its embedded rooms (for a test participant of its own); the gateway's
/// joins take `join_delay` longer.
async fn gateway_and_rooms(
    callee: SocketAddr,
    join_delay: Duration,
) -> (Arc<Gateway>, Arc<EmbeddedRooms>) {
    let mut config = Config::embedded_default().expect("default config");
    config.sip.listen = "127.0.0.1:0".parse().expect("addr");
    config.outbound_trunks[0].address = callee.to_string();
    let (sip, events) = sip_stack().await;
    let rooms = Arc::new(EmbeddedRooms::new(EmbeddedConfig::default()));
    let link: Arc<dyn RoomLink> = if join_delay.is_zero() {
        rooms.clone()
    } else {
        Arc::new(SlowJoin {
            rooms: rooms.clone(),
            delay: join_delay,
        })
    };
    let catalog = control::Catalog::open(None, config.catalog_entries()).expect("catalog");
    let gw = Gateway::new(Arc::new(config), catalog, sip, link, 5).expect("gateway");
    tokio::spawn(gw.clone().run_events(events));
    (gw, rooms)
}

fn request(ringing_timeout_s: u64, wait: bool) -> CreateCall {
    request_with(ringing_timeout_s, wait, false)
}

fn request_with(ringing_timeout_s: u64, wait: bool, play_dialtone: bool) -> CreateCall {
    let json = format!(
        r#"{{"sipTrunkId":"ST_local","sipCallTo":"+15550199999","roomName":"sim","waitUntilAnswered":{wait},"ringingTimeout":"{ringing_timeout_s}s","playDialtone":{play_dialtone}}}"#
    );
    let pb: CreateSipParticipantRequest = serde_json::from_str(&json).expect("request JSON");
    CreateCall::from_proto(pb).expect("valid request")
}

fn timings() -> ApiTimings {
    ApiTimings {
        setup_allowance: Duration::from_secs(5),
        answer_margin: Duration::from_secs(1),
    }
}

/// Places a sync create against a callee answering after `answer_after` (or never) and returns
/// the API outcome and how long it took in (paused) time.
async fn sync_create(
    ringing: Duration,
    answer_after: Option<Duration>,
) -> (Result<control::CallInfo, control::CallError>, Duration) {
    let (callee, events) = sip_stack().await;
    spawn_callee(callee.clone(), events, answer_after);
    let gw = gateway_to(callee.local_addr()).await;
    let req = request(ringing.as_secs(), true);
    let deadline = timings().deadline_for_create(Instant::now().into_std(), ringing, true);
    let start = Instant::now();
    let result = gw.create_call(req, deadline, None).await;
    let took = start.elapsed();
    if let Ok(info) = &result {
        hang_up(&gw, info.call_id.clone()).await;
        assert!(
            all_calls_end(&gw, deadline).await,
            "the call did not end after HangupCall"
        );
    }
    (result, took)
}

/// `HangupCall` of `call_id`.
async fn hang_up(gw: &Gateway, call_id: CallId) {
    gw.hangup_call(
        call_id,
        timings().deadline_for_short_op(Instant::now().into_std()),
    )
    .await
    .expect("hangup");
}

/// Whether every call reaches `Ended`. The media workers are OS threads that paused time does
/// not wait for: while a call task awaits a worker's reply (starting the phone's media right
/// after the answer), tokio sees an idle runtime and may jump the clock past `HangupCall`'s
/// deadline. So this gives the workers bounded real time (≤ 2 s) as well as virtual time.
async fn all_calls_end(gw: &Gateway, deadline: control::Deadline) -> bool {
    let filter = || CallFilter {
        room_name: None,
        include_ended: true,
    };
    for _ in 0..2000 {
        let calls = gw.list_calls(filter(), deadline).await.expect("list");
        if calls.iter().all(|c| c.state == CallState::Ended) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    false
}

async fn answered_one_second_before(ringing: Duration) -> Duration {
    let answer = ringing - Duration::from_secs(1);
    let (result, took) = sync_create(ringing, Some(answer)).await;
    let info = result.expect("answered");
    assert_eq!(info.state, CallState::Active);
    assert!(
        took >= answer && took < answer + TOLERANCE,
        "answered after {took:?}, callee answered at {answer:?}"
    );
    took
}

async fn never_answered(ringing: Duration) -> Duration {
    let (result, took) = sync_create(ringing, None).await;
    assert_rang_out(&result.expect_err("rang out"), took, ringing);
    took
}

/// `err` is a ring-no-answer reported `took` after the ring began, within [`TOLERANCE`] of
/// `ringing`.
fn assert_rang_out(err: &control::CallError, took: Duration, ringing: Duration) {
    assert_eq!(
        err.timeout_cause,
        Some(TimeoutCause::RingNoAnswer),
        "{err:?}"
    );
    assert_eq!(err.code, TwirpCode::DeadlineExceeded);
    assert!(
        took >= ringing && took < ringing + TOLERANCE,
        "ring ended after {took:?}, timeout {ringing:?}"
    );
}

/// Runs `f` once without and once with a tracing subscriber; the timings must be identical.
async fn with_and_without_tracing<F, Fut>(f: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Duration>,
{
    let quiet = f().await;
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_test_writer()
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let traced = f().await;
    drop(guard);
    assert_eq!(quiet, traced, "tracing changed the timing");
}

#[tokio::test(start_paused = true)]
async fn default_30_s_ring_answered_at_29_s() {
    with_and_without_tracing(|| answered_one_second_before(Duration::from_secs(30))).await;
}

#[tokio::test(start_paused = true)]
async fn default_30_s_ring_never_answered() {
    with_and_without_tracing(|| never_answered(Duration::from_secs(30))).await;
}

#[tokio::test(start_paused = true)]
async fn ring_of_90_s_answered_at_89_s_and_never() {
    with_and_without_tracing(|| answered_one_second_before(Duration::from_secs(90))).await;
    with_and_without_tracing(|| never_answered(Duration::from_secs(90))).await;
}

#[tokio::test(start_paused = true)]
async fn ring_of_10_min_answered_at_9_59_and_never() {
    with_and_without_tracing(|| answered_one_second_before(Duration::from_secs(600))).await;
    with_and_without_tracing(|| never_answered(Duration::from_secs(600))).await;
}

#[tokio::test(start_paused = true)]
async fn silent_trunk_ends_with_timer_b() {
    // Nobody listens at the trunk address: no response at all, Timer B = 64·T1 = 32 s.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let gw = gateway_to(silent.local_addr().expect("addr")).await;
    let ringing = Duration::from_secs(60);
    let deadline = timings().deadline_for_create(Instant::now().into_std(), ringing, true);
    let start = Instant::now();
    let err = gw
        .create_call(request(60, true), deadline, None)
        .await
        .expect_err("no answer");
    let took = start.elapsed();
    assert_eq!(err.timeout_cause, Some(TimeoutCause::SipTimerB), "{err:?}");
    let timer_b = Duration::from_millis(500 * 64);
    assert!(took >= timer_b && took < timer_b + TOLERANCE, "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn async_create_returns_before_the_answer_and_the_call_goes_on() {
    let (callee, events) = sip_stack().await;
    spawn_callee(callee.clone(), events, Some(Duration::from_secs(20)));
    let gw = gateway_to(callee.local_addr()).await;
    let deadline =
        timings().deadline_for_create(Instant::now().into_std(), Duration::from_secs(30), false);
    let start = Instant::now();
    let info = gw
        .create_call(request(30, false), deadline, None)
        .await
        .expect("dialing");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_ne!(info.state, CallState::Ended);
    tokio::time::sleep(Duration::from_secs(21)).await;
    let now = gw
        .get_call(
            info.call_id.clone(),
            timings().deadline_for_short_op(Instant::now().into_std()),
        )
        .await
        .expect("call");
    assert_eq!(
        now.state,
        CallState::Active,
        "answered at 20 s although the API returned at once"
    );
}

#[tokio::test(start_paused = true)]
async fn max_call_duration_ends_an_answered_call() {
    let (callee, events) = sip_stack().await;
    spawn_callee(callee.clone(), events, Some(Duration::ZERO));
    let gw = gateway_to(callee.local_addr()).await;
    let json = r#"{"sipTrunkId":"ST_local","sipCallTo":"+15550199999","roomName":"sim","waitUntilAnswered":true,"maxCallDuration":"60s"}"#;
    let pb: CreateSipParticipantRequest = serde_json::from_str(json).expect("request JSON");
    let req = CreateCall::from_proto(pb).expect("valid");
    let deadline =
        timings().deadline_for_create(Instant::now().into_std(), Duration::from_secs(30), true);
    let info = gw.create_call(req, deadline, None).await.expect("answered");
    let answered = Instant::now();
    let short = || timings().deadline_for_short_op(Instant::now().into_std());
    tokio::time::sleep(Duration::from_secs(59)).await;
    let call = gw
        .get_call(info.call_id.clone(), short())
        .await
        .expect("call");
    assert_eq!(call.state, CallState::Active);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let call = gw
        .get_call(info.call_id.clone(), short())
        .await
        .expect("call");
    assert_eq!(call.state, CallState::Ended, "{call:?}");
    let end = call.end.expect("end");
    assert_eq!(end.timeout_cause, Some(TimeoutCause::MaxDuration));
    assert!(answered.elapsed() >= Duration::from_secs(60));
}

/// Regression: the sync create must answer when the ringing timer fires, not when the CANCEL
/// handshake ends. This callee rings and then ignores everything (no 200 to the CANCEL, no 487),
/// so only Timer B of the CANCEL (32 s later) would end the SIP side.
#[tokio::test(start_paused = true)]
async fn ring_out_is_reported_when_the_timer_fires_even_if_the_callee_ignores_cancel() {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let callee = socket.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_535];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if !text.starts_with("INVITE ") {
                continue;
            }
            let copy = |name: &str| {
                text.lines()
                    .filter(|l| {
                        l.to_ascii_lowercase()
                            .starts_with(&format!("{}:", name.to_ascii_lowercase()))
                    })
                    .map(|l| format!("{l}\r\n"))
                    .collect::<String>()
            };
            let to = copy("To").trim_end().to_owned();
            let ringing = format!(
                "SIP/2.0 180 Ringing\r\n{}{}{to};tag=deaf\r\n{}{}Content-Length: 0\r\n\r\n",
                copy("Via"),
                copy("From"),
                copy("Call-ID"),
                copy("CSeq"),
            );
            let _ = socket.send_to(ringing.as_bytes(), from).await;
        }
    });
    let gw = gateway_to(callee).await;
    let ringing = Duration::from_secs(30);
    let deadline = timings().deadline_for_create(Instant::now().into_std(), ringing, true);
    let start = Instant::now();
    let err = gw
        .create_call(request(30, true), deadline, None)
        .await
        .expect_err("rang out");
    let took = start.elapsed();
    assert_eq!(
        err.timeout_cause,
        Some(TimeoutCause::RingNoAnswer),
        "{err:?}"
    );
    assert!(
        took >= ringing && took < ringing + TOLERANCE,
        "answered after {took:?}"
    );
}

/// An outbound call (async create) with a participant of our own already in its room.
struct ListenedCall {
    gw: Arc<Gateway>,
    listener: RoomSession,
    call_id: CallId,
    deadline: control::Deadline,
}

impl ListenedCall {
    async fn dial(callee: SocketAddr, play_dialtone: bool, join_delay: Duration) -> Self {
        let (gw, rooms) = gateway_and_rooms(callee, join_delay).await;
        let listener = listen_in(&rooms).await;
        let deadline = timings().deadline_for_create(
            Instant::now().into_std(),
            Duration::from_secs(30),
            false,
        );
        let info = gw
            .create_call(request_with(30, false, play_dialtone), deadline, None)
            .await
            .expect("dialing");
        assert_ne!(info.state, CallState::Active);
        ListenedCall {
            gw,
            listener,
            call_id: info.call_id,
            deadline,
        }
    }

    /// What the listener hears for `listen`, as 8 kHz PCM.
    async fn hear(&self, listen: Duration) -> Vec<i16> {
        hear(&self.listener, Instant::now() + listen).await
    }

    async fn state(&self) -> CallState {
        self.gw
            .get_call(self.call_id.clone(), self.deadline)
            .await
            .expect("call")
            .state
    }

    async fn hang_up(self) {
        hang_up(&self.gw, self.call_id).await;
        assert!(
            all_calls_end(&self.gw, self.deadline).await,
            "the call did not end"
        );
    }
}

/// What a participant already in the room hears during the first `listen` of an outbound
/// call whose callee answers after 5 s, as 8 kHz PCM.
async fn room_hears_while_ringing(play_dialtone: bool, listen: Duration) -> Vec<i16> {
    let (callee, events) = sip_stack().await;
    spawn_callee(callee.clone(), events, Some(Duration::from_secs(5)));
    let call = ListenedCall::dial(callee.local_addr(), play_dialtone, Duration::ZERO).await;
    let heard = call.hear(listen).await;
    call.hang_up().await;
    heard
}

/// `play_dialtone`: while the callee rings, the room hears the ringback tone (440 + 480 Hz,
/// on for the first 2 s of its cadence); without it, the SIP participant is silent.
#[tokio::test(start_paused = true)]
async fn play_dialtone_plays_ringback_into_the_room_while_ringing() {
    let heard = room_hears_while_ringing(true, Duration::from_millis(1800)).await;
    // The room's jitter buffer and mixer take a few frames; judge the last second.
    let tail = &heard[heard.len().saturating_sub(8000)..];
    assert_eq!(
        tail.len(),
        8000,
        "a second of room audio ({} samples)",
        heard.len()
    );
    let ringback =
        analysis::tone_fraction(tail, 8000, 440.0) + analysis::tone_fraction(tail, 8000, 480.0);
    assert!(
        ringback > 0.8,
        "ringback is {ringback:.2} of the room audio, at {:.1} dBFS",
        analysis::rms_dbfs(tail)
    );

    let quiet = room_hears_while_ringing(false, Duration::from_millis(1800)).await;
    assert!(
        analysis::rms_dbfs(&quiet) < -60.0,
        "without play_dialtone the room hears {:.1} dBFS",
        analysis::rms_dbfs(&quiet)
    );
}

/// A participant of our own in the room `sim`, receiving PCMU.
async fn listen_in(rooms: &EmbeddedRooms) -> RoomSession {
    rooms
        .join(
            JoinRequest {
                room: "sim".into(),
                identity: "listener".into(),
                name: "listener".into(),
                attributes: Vec::new(),
                media: MediaCapabilities {
                    codecs: vec![Codec::with_default_pt(CodecKind::Pcmu)],
                    telephone_event: None,
                    ptime: Duration::from_millis(20),
                },
            },
            Instant::now().into_std() + Duration::from_secs(5),
        )
        .await
        .expect("listener joins")
}

/// What `listener` hears until `until`, as 8 kHz PCM.
async fn hear(listener: &RoomSession, until: Instant) -> Vec<i16> {
    let mut heard = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout_at(until, listener.recv()).await {
        if let RoomEvent::Audio(frame) = event {
            if frame.payload_type == Codec::with_default_pt(CodecKind::Pcmu).payload_type {
                heard.extend(frame.payload.iter().map(|&b| g711::decode_ulaw(b)));
            }
        }
    }
    heard
}

/// The RTP address of an SDP body (`c=` and the first `m=` port).
fn sdp_rtp_address(sdp: &[u8]) -> SocketAddr {
    let text = std::str::from_utf8(sdp).expect("SDP text");
    let ip = text
        .lines()
        .find_map(|l| l.strip_prefix("c=IN IP4 "))
        .expect("c= line")
        .trim();
    let port = text
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("m= line");
    format!("{ip}:{port}").parse().expect("RTP address")
}

/// A callee with early media: 183 with an SDP answer at once, a 1 kHz PCMU tone from its own
/// RTP socket toward the gateway from then on, 200 (the same answer) after `answer_after`.
fn spawn_early_media_callee(
    handle: SipHandle,
    mut events: mpsc::Receiver<Event>,
    answer_after: Duration,
) {
    tokio::spawn(async move {
        let rtp = std::sync::Arc::new(
            tokio::net::UdpSocket::bind("127.0.0.1:0")
                .await
                .expect("callee RTP"),
        );
        let sdp = format!(
            "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
            rtp.local_addr().expect("addr").port()
        );
        while let Some(event) = events.recv().await {
            match event {
                Event::IncomingCall { call, request, .. } => {
                    let gateway_rtp = sdp_rtp_address(&request.body());
                    let (h, sdp, rtp) = (handle.clone(), sdp.clone(), rtp.clone());
                    tokio::spawn(async move {
                        let early = sdp.clone();
                        let _ = h
                            .with(move |ep, now| {
                                ep.respond(now, call, Reply::with_body(183, Body::sdp(early)))
                            })
                            .await;
                        let tone = tokio::spawn(send_tone(rtp, gateway_rtp, 1000.0));
                        tokio::time::sleep(answer_after).await;
                        let _ = h
                            .with(move |ep, now| {
                                ep.respond(now, call, Reply::with_body(200, Body::sdp(sdp)))
                            })
                            .await;
                        let _ = tone.await;
                    });
                }
                Event::Request { request, .. } => {
                    let _ = handle
                        .with(move |ep, now| ep.reply(now, request, Reply::status(200)))
                        .await;
                }
                _ => {}
            }
        }
    });
}

/// Sends 10 s of a `freq` Hz tone as 20 ms PCMU packets.
async fn send_tone(socket: std::sync::Arc<tokio::net::UdpSocket>, to: SocketAddr, freq: f64) {
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut phase = 0f64;
    for n in 0..500u16 {
        tick.tick().await;
        let payload: Vec<u8> = (0..160)
            .map(|_| {
                phase += freq / 8000.0;
                g711::encode_ulaw(((phase * std::f64::consts::TAU).sin() * 8000.0) as i16)
            })
            .collect();
        let header = RtpHeader {
            marker: n == 0,
            payload_type: 0,
            sequence: n,
            timestamp: u32::from(n) * 160,
            ssrc: 0x0ea7_1e00,
        };
        let mut packet = [0u8; 172];
        let len = header.write(&payload, &mut packet).expect("RTP");
        if socket.send_to(&packet[..len], to).await.is_err() {
            return;
        }
    }
}

/// Early media: a callee that answers 183 with SDP and sends audio before its 200 is heard
/// in the room while the call still rings, and the call goes on after the answer.
#[tokio::test]
async fn early_media_from_a_183_reaches_the_room_before_the_answer() {
    let (callee, events) = sip_stack().await;
    spawn_early_media_callee(callee.clone(), events, Duration::from_secs(2));
    let call = ListenedCall::dial(callee.local_addr(), false, Duration::ZERO).await;
    let early = call.hear(Duration::from_millis(1500)).await;
    assert_ne!(
        call.state().await,
        CallState::Active,
        "answered before the early audio was judged"
    );
    let tail = &early[early.len().saturating_sub(4000)..];
    assert_eq!(
        tail.len(),
        4000,
        "early audio heard: {} samples",
        early.len()
    );
    let tone = analysis::tone_fraction(tail, 8000, 1000.0);
    assert!(
        tone > 0.8,
        "1 kHz is {tone:.2} of the early room audio, at {:.1} dBFS",
        analysis::rms_dbfs(tail)
    );

    // After the answer the same media goes on.
    let later = call.hear(Duration::from_millis(1500)).await;
    assert_eq!(call.state().await, CallState::Active);
    let tail = &later[later.len().saturating_sub(4000)..];
    assert!(analysis::tone_fraction(tail, 8000, 1000.0) > 0.8);
    call.hang_up().await;
}

/// Early media that starts before the room leg has joined wins over `play_dialtone`: the room
/// hears the callee's audio alone, no ringback mixed into it.
#[tokio::test]
async fn early_media_before_the_room_joins_is_not_mixed_with_ringback() {
    let (callee, events) = sip_stack().await;
    spawn_early_media_callee(callee.clone(), events, Duration::from_secs(3));
    let call = ListenedCall::dial(callee.local_addr(), true, Duration::from_millis(500)).await;
    let heard = call.hear(Duration::from_millis(2000)).await;
    let tail = &heard[heard.len().saturating_sub(8000)..];
    assert_eq!(
        tail.len(),
        8000,
        "room audio heard: {} samples",
        heard.len()
    );
    let tone = analysis::tone_fraction(tail, 8000, 1000.0);
    let ringback =
        analysis::tone_fraction(tail, 8000, 440.0) + analysis::tone_fraction(tail, 8000, 480.0);
    assert!(
        tone > 0.8 && ringback < 0.05,
        "1 kHz {tone:.2}, ringback {ringback:.2} of the room audio"
    );
    call.hang_up().await;
}

// ---- A transfer's target ringing (TransferSIPParticipant → REFER), in paused time ----

/// A callee that answers at once and, when REFERred, accepts (202), reports "100 Trying"
/// and "180 Ringing", then the target's answer after `target_answers_after` (or never), as
/// a transferee does (RFC 3515 §2.4.4–2.4.5). When the REFER arrived goes to `referred`.
fn spawn_transferee(
    handle: SipHandle,
    mut events: mpsc::Receiver<Event>,
    target_answers_after: Option<Duration>,
    referred: mpsc::UnboundedSender<Instant>,
) {
    let notify = |h: SipHandle, call, state: &'static str, frag: &'static str| async move {
        let _ = h
            .with(move |ep, now| {
                let headers = vec![
                    ("Event".to_owned(), "refer".to_owned()),
                    ("Subscription-State".to_owned(), state.to_owned()),
                ];
                let body = Body {
                    content_type: "message/sipfrag".to_owned(),
                    data: frag.into(),
                };
                ep.request(now, call, sip_core::Method::Notify, headers, Some(body))
            })
            .await;
    };
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match event {
                Event::IncomingCall { call, .. } => {
                    let _ = handle
                        .with(move |ep, now| {
                            ep.respond(now, call, Reply::with_body(200, Body::sdp(SDP)))
                        })
                        .await;
                }
                Event::Request {
                    call: Some(call),
                    request,
                    message,
                    ..
                } if message.method() == sip_core::Method::Refer => {
                    let _ = referred.send(Instant::now());
                    let _ = handle
                        .with(move |ep, now| ep.reply(now, request, Reply::status(202)))
                        .await;
                    let h = handle.clone();
                    tokio::spawn(async move {
                        notify(h.clone(), call, "active;expires=120", "SIP/2.0 100 Trying").await;
                        notify(h.clone(), call, "active;expires=120", "SIP/2.0 180 Ringing").await;
                        if let Some(after) = target_answers_after {
                            tokio::time::sleep(after).await;
                            notify(h, call, "terminated;reason=noresource", "SIP/2.0 200 OK").await;
                        }
                    });
                }
                Event::Request { request, .. } => {
                    let _ = handle
                        .with(move |ep, now| ep.reply(now, request, Reply::status(200)))
                        .await;
                }
                _ => {}
            }
        }
    });
}

/// Answers a call, transfers it with `ringing` against a target answering after
/// `target_answers_after` (or never); returns the transfer's outcome and how long it took.
async fn transfer_with_target(
    ringing: Duration,
    target_answers_after: Option<Duration>,
) -> (
    Result<control::service::TransferOutcome, control::CallError>,
    Duration,
) {
    let (callee, events) = sip_stack().await;
    let (referred, mut refer_arrived) = mpsc::unbounded_channel();
    spawn_transferee(callee.clone(), events, target_answers_after, referred);
    let gw = gateway_to(callee.local_addr()).await;
    let ring = Duration::from_secs(30);
    let deadline = timings().deadline_for_create(Instant::now().into_std(), ring, true);
    let info = gw
        .create_call(request(30, true), deadline, None)
        .await
        .expect("answered");
    let json = format!(
        r#"{{"participantIdentity":"{}","roomName":"sim","transferTo":"sip:+15550188@example.com","ringingTimeout":"{}s"}}"#,
        info.participant_identity,
        ringing.as_secs()
    );
    let pb: control::proto::livekit::TransferSipParticipantRequest =
        serde_json::from_str(&json).expect("transfer JSON");
    let req = control::TransferCall::from_proto(pb).expect("valid transfer");
    // The caller's budget gets a minute to spare: before the REFER leaves, the call task may
    // wait for a media worker while paused time jumps ahead (see below); what is measured
    // here is the call's own ring timer, not the router's budget (tested in `control`).
    let deadline = timings().deadline_for_create(
        Instant::now().into_std(),
        ringing + Duration::from_secs(60),
        true,
    );
    let result = gw.transfer(req, deadline).await;
    // Timed from the REFER's arrival: before it, the call task may wait for a media worker
    // (an OS thread paused time does not wait for, see `all_calls_end`) while the clock
    // jumps; the target's ring is what is measured.
    let referred_at = refer_arrived.try_recv().expect("the callee got a REFER");
    let took = referred_at.elapsed();
    if result.is_err() {
        // The call stays after a failed transfer: end it.
        hang_up(&gw, info.call_id.clone()).await;
    }
    assert!(
        all_calls_end(&gw, deadline).await,
        "the call did not end after the transfer"
    );
    let ended = gw
        .get_call(
            info.call_id,
            timings().deadline_for_short_op(Instant::now().into_std()),
        )
        .await
        .expect("call");
    let cause = ended.end.map(|e| e.cause);
    let expected = if result.is_ok() {
        control::service::EndCause::Transferred
    } else {
        control::service::EndCause::ApiHangup
    };
    assert_eq!(cause, Some(expected), "{result:?}");
    (result, took)
}

async fn transfer_answered_one_second_before(ringing: Duration) -> Duration {
    let answer = ringing - Duration::from_secs(1);
    let (result, took) = transfer_with_target(ringing, Some(answer)).await;
    let outcome = result.expect("transferred");
    assert!(outcome.transfer_id.starts_with("STR_"), "{outcome:?}");
    assert_eq!(outcome.sip_status.map(|s| s.code), Some(200));
    assert!(
        took >= answer && took < answer + TOLERANCE,
        "transferred after {took:?}, target answered at {answer:?}"
    );
    took
}

async fn transfer_never_answered(ringing: Duration) -> Duration {
    let (result, took) = transfer_with_target(ringing, None).await;
    let err = result.expect_err("rang out");
    assert_rang_out(&err, took, ringing);
    assert_eq!(err.sip_status.map(|s| s.code), Some(180), "last progress");
    took
}

/// The incident's shape for transfers: a 90 s ringing timeout is honoured to the
/// millisecond, answered at 89 s or never, with and without tracing. (The ring is timed
/// from the REFER's acceptance, here within the same instant as its arrival.)
#[tokio::test(start_paused = true)]
async fn transfer_target_ringing_90_s_answered_at_89_s_and_never() {
    with_and_without_tracing(|| transfer_answered_one_second_before(Duration::from_secs(90))).await;
    with_and_without_tracing(|| transfer_never_answered(Duration::from_secs(90))).await;
}
