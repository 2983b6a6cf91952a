//! The WebRTC room link against an in-repo room server (axum + webrtc-rs `rtc` on
//! loopback, OS-chosen ports): audio both ways checked by frequency, DTMF both ways (RFC
//! 4733 and data channel), hangup from either side, ICE failure, signaling errors, token.

mod support;

use std::time::{Duration, Instant};

use room_link::webrtc::token::JoinClaims;
use room_link::webrtc::{ApiCredentials, WebRtcLinkConfig, WebRtcRooms};
use room_link::{CloseReason, Error, JoinRequest, MediaCapabilities, RoomEvent, RoomLink};
use rtp_relay::analysis::tone_fraction;
use rtp_relay::codec::{Codec, CodecKind};
use support::phone::{BOUND, last_half_second, next_event, talk};
use support::room_server::{Command, LOOPBACK, RoomOptions, RoomServer};

const SECRET: &str = "test-secret-test-secret-test-secret";

fn config(server: &RoomServer) -> WebRtcLinkConfig {
    let mut cfg = WebRtcLinkConfig::new(server.url_template(), LOOPBACK);
    cfg.credentials = Some(ApiCredentials {
        key: "APItest".into(),
        secret: SECRET.into(),
    });
    // Long ICE timeouts: a hangup seen within BOUND was seen through DTLS, not ICE.
    cfg.ice_disconnected_timeout = Duration::from_secs(30);
    cfg.ice_failed_timeout = Duration::from_secs(30);
    cfg
}

fn request(room: &str, codecs: Vec<Codec>) -> JoinRequest {
    JoinRequest {
        room: room.into(),
        identity: "sip_+15550100".into(),
        name: "Caller".into(),
        attributes: vec![("sip.trunk".into(), "t1".into())],
        media: MediaCapabilities {
            codecs,
            telephone_event: Some(101),
            ptime: Duration::from_millis(20),
        },
    }
}

fn opus() -> Codec {
    Codec::with_default_pt(CodecKind::Opus)
}

fn pcmu() -> Codec {
    Codec::with_default_pt(CodecKind::Pcmu)
}

/// Joins `room` through a link with `cfg`; the session and the room server's id of it.
async fn join(
    server: &RoomServer,
    cfg: WebRtcLinkConfig,
    room: &str,
    codecs: Vec<Codec>,
) -> (room_link::RoomSession, String) {
    let session = WebRtcRooms::new(cfg)
        .join(request(room, codecs), Instant::now() + BOUND)
        .await
        .unwrap_or_else(|e| panic!("join: {e}"));
    let id = server
        .session_of(room)
        .unwrap_or_else(|| panic!("no session"));
    (session, id)
}

/// The session ends with `reason` and nothing after it; leaving afterwards still DELETEs.
async fn ends_then_leaves(
    server: &RoomServer,
    id: &str,
    session: room_link::RoomSession,
    reason: CloseReason,
) {
    assert_eq!(next_event(&session).await, Some(RoomEvent::Closed(reason)));
    assert_eq!(next_event(&session).await, None);
    support::leave(session).await;
    assert_eq!(server.with(id, |r| r.deleted), Some(true));
}

/// Polls `f` until it returns `Some`, up to BOUND.
async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + BOUND;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn opus_tone_and_dtmf_cross_both_ways_then_the_room_hangs_up() {
    let server = RoomServer::start(RoomOptions::default()).await;
    let link = WebRtcRooms::new(config(&server));
    assert_eq!(link.kind(), "webrtc");
    let session = link
        .join(request("r1", vec![opus()]), Instant::now() + BOUND)
        .await
        .unwrap_or_else(|e| panic!("join: {e}"));
    assert_eq!(session.info().media.codec, opus());
    assert_eq!(session.info().media.telephone_event, None);
    let id = server
        .session_of("r1")
        .unwrap_or_else(|| panic!("no session"));

    // Tone both ways: 1 kHz from the phone, 440 Hz from the room.
    let (heard, rate, _) = talk(&session, 1000.0, Duration::from_millis(1200)).await;
    let phone_hears = tone_fraction(last_half_second(&heard, rate), rate, 440.0);
    assert!(
        phone_hears > 0.5,
        "room tone at the phone: {phone_hears:.3} of {} samples",
        heard.len()
    );
    let (room_pcm, room_rate) = server
        .with(&id, |r| (r.pcm.clone(), r.pcm_rate))
        .unwrap_or_default();
    let room_hears = tone_fraction(last_half_second(&room_pcm, room_rate), room_rate, 1000.0);
    assert!(
        room_hears > 0.5,
        "phone tone in the room: {room_hears:.3} of {} samples",
        room_pcm.len()
    );

    // DTMF phone → room as RFC 4733 events. Regression: the offer used to carry Opus
    // only (no telephone-event), so the digit was dropped.
    session
        .send_dtmf('5', Duration::from_millis(100))
        .unwrap_or_else(|e| panic!("{e}"));
    eventually("digit 5 in the room", || {
        server
            .with(&id, |r| r.dtmf_events.contains(&'5'))
            .filter(|x| *x)
    })
    .await;
    // DTMF room → phone.
    server.command(&id, Command::Dtmf('7'));
    match next_event(&session).await {
        Some(RoomEvent::Dtmf { digit, .. }) => assert_eq!(digit, '7'),
        other => panic!("expected DTMF 7, got {other:?}"),
    }

    // The room hangs up (close_notify, no DELETE): the session ends as room closed, long
    // before ICE could notice (30 s timeouts above).
    server.command(&id, Command::Hangup);
    // Leaving afterwards still DELETEs (and succeeds).
    ends_then_leaves(&server, &id, session, CloseReason::RoomClosed).await;
}

#[tokio::test]
async fn pcmu_passes_through_when_the_room_accepts_it() {
    let server = RoomServer::start(RoomOptions {
        accept_pcmu: true,
        ..RoomOptions::default()
    })
    .await;
    let (session, id) = join(&server, config(&server), "r2", vec![pcmu(), opus()]).await;
    assert_eq!(session.info().media.codec, pcmu());
    let (heard, rate, _) = talk(&session, 1000.0, Duration::from_millis(1000)).await;
    assert_eq!(rate, 8000);
    let phone_hears = tone_fraction(last_half_second(&heard, rate), rate, 440.0);
    assert!(
        phone_hears > 0.5,
        "room tone at the phone: {phone_hears:.3}"
    );
    let (room_pcm, kind) = server
        .with(&id, |r| (r.pcm.clone(), r.codec))
        .unwrap_or_default();
    assert_eq!(kind, Some(CodecKind::Pcmu));
    let room_hears = tone_fraction(last_half_second(&room_pcm, 8000), 8000, 1000.0);
    assert!(room_hears > 0.5, "phone tone in the room: {room_hears:.3}");
    // RFC 4733 at PCMU's 8 kHz clock.
    session
        .send_dtmf('2', Duration::from_millis(100))
        .unwrap_or_else(|e| panic!("{e}"));
    eventually("digit 2 in the room", || {
        server
            .with(&id, |r| r.dtmf_events.contains(&'2'))
            .filter(|x| *x)
    })
    .await;
    support::leave(session).await;
}

/// Regression: `rtc`'s `add_track` narrowed the offer to the track's first codec, so a
/// gateway offering PCMU first could not fall back to Opus (nor offer telephone-event).
#[tokio::test]
async fn opus_is_the_fallback_when_the_room_refuses_pcmu() {
    let server = RoomServer::start(RoomOptions::default()).await;
    let (session, id) = join(&server, config(&server), "r8", vec![pcmu(), opus()]).await;
    assert_eq!(session.info().media.codec, opus());
    let (heard, rate, _) = talk(&session, 1000.0, Duration::from_millis(800)).await;
    let phone_hears = tone_fraction(last_half_second(&heard, rate), rate, 440.0);
    assert!(
        phone_hears > 0.5,
        "room tone at the phone: {phone_hears:.3}"
    );
    assert_eq!(server.with(&id, |r| r.codec), Some(Some(CodecKind::Opus)));
    support::leave(session).await;
}

#[tokio::test]
async fn leaving_closes_dtls_and_deletes_the_session() {
    let server = RoomServer::start(RoomOptions::default()).await;
    let (session, id) = join(&server, config(&server), "r3", vec![opus()]).await;
    eventually("room connected", || {
        server.with(&id, |r| r.connected).filter(|c| *c)
    })
    .await;
    support::leave(session).await;
    assert_eq!(server.with(&id, |r| r.deleted), Some(true));
    // The room saw the link's close_notify (its own DELETE handling closes too, so this
    // is either; what matters is that the room's connection ended).
    eventually("room session ended", || {
        let gone = !server.lock().commands.contains_key(&id);
        gone.then_some(())
    })
    .await;
}

/// A room that vanishes mid-call (no close_notify, no answers to consent checks) ends
/// the session as a link failure once ICE consent expires (RFC 7675 §5.1), here with short
/// timeouts.
#[tokio::test]
async fn consent_expiry_mid_call_ends_the_session_as_a_link_failure() {
    let server = RoomServer::start(RoomOptions::default()).await;
    let mut cfg = config(&server);
    cfg.ice_keepalive_interval = Duration::from_millis(200);
    cfg.ice_disconnected_timeout = Duration::from_millis(600);
    cfg.ice_failed_timeout = Duration::from_millis(600);
    let (session, id) = join(&server, cfg, "r12", vec![opus()]).await;
    let (heard, _, _) = talk(&session, 1000.0, Duration::from_millis(400)).await;
    assert!(!heard.is_empty(), "media flowed before the room vanished");
    server.command(&id, Command::Vanish);
    // Leaving still DELETEs.
    ends_then_leaves(&server, &id, session, CloseReason::LinkFailed).await;
}

#[tokio::test]
async fn dtmf_uses_the_data_channel_when_the_room_has_no_telephone_event() {
    let server = RoomServer::start(RoomOptions {
        telephone_event: false,
        ..RoomOptions::default()
    })
    .await;
    let mut cfg = config(&server);
    cfg.dtmf_data_channel = Some("dtmf".into());
    let (session, id) = join(&server, cfg, "r4", vec![opus()]).await;
    // The channel opens after DTLS and SCTP: keep pressing until one arrives.
    let msg = eventually("a DTMF message in the room", || {
        let _ = session.send_dtmf('#', Duration::from_millis(80));
        server
            .with(&id, |r| r.dc_messages.first().cloned())
            .flatten()
    })
    .await;
    assert_eq!(msg, r##"{"type":"dtmf","digit":"#","duration_ms":80}"##);
    assert_eq!(server.with(&id, |r| r.dtmf_events.len()), Some(0));
    server.command(&id, Command::Dtmf('9'));
    match next_event(&session).await {
        Some(RoomEvent::Dtmf { digit, .. }) => assert_eq!(digit, '9'),
        other => panic!("expected DTMF 9, got {other:?}"),
    }
    support::leave(session).await;
}

#[tokio::test]
async fn ice_failure_ends_the_join_with_room_link_failed_within_the_deadline() {
    let server = RoomServer::start(RoomOptions {
        unreachable: true,
        ..RoomOptions::default()
    })
    .await;
    let mut cfg = config(&server);
    cfg.ice_disconnected_timeout = Duration::from_millis(500);
    cfg.ice_failed_timeout = Duration::from_millis(500);
    let link = WebRtcRooms::new(cfg);
    let deadline = Instant::now() + Duration::from_secs(8);
    let err = link
        .join(request("r5", vec![opus()]), deadline)
        .await
        .err()
        .unwrap_or_else(|| panic!("join to an unreachable room succeeded"));
    assert!(Instant::now() <= deadline + Duration::from_millis(500));
    assert!(matches!(err, Error::MediaFailed(_)), "{err:?}");
    assert_eq!(err.cause(), "room_link_failed");
    assert_eq!(err.sip_status(), 503);
    // The server's session was removed again.
    let id = server
        .session_of("r5")
        .unwrap_or_else(|| panic!("no session"));
    assert_eq!(server.with(&id, |r| r.deleted), Some(true));
}

#[tokio::test]
async fn join_deadline_cuts_the_connect_wait() {
    let server = RoomServer::start(RoomOptions {
        unreachable: true,
        ..RoomOptions::default()
    })
    .await;
    let link = WebRtcRooms::new(config(&server)); // ICE would take 60 s to fail
    let started = Instant::now();
    let err = link
        .join(
            request("r6", vec![opus()]),
            started + Duration::from_millis(700),
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("join to an unreachable room succeeded"));
    assert!(
        matches!(
            err,
            Error::Timeout {
                step: "connect",
                ..
            }
        ),
        "{err:?}"
    );
    let id = server
        .session_of("r6")
        .unwrap_or_else(|| panic!("no session"));
    assert_eq!(server.with(&id, |r| r.deleted), Some(true));
}

#[tokio::test]
async fn room_server_errors_map_to_link_errors_and_the_token_carries_the_grant() {
    let server = RoomServer::start(RoomOptions::default()).await;
    let link = WebRtcRooms::new(config(&server));
    let err = link
        .join(request("full", vec![opus()]), Instant::now() + BOUND)
        .await
        .err()
        .unwrap_or_else(|| panic!("joined a full room"));
    assert_eq!(err, Error::Rejected { status: 503 });
    assert_eq!(err.cause(), "room_link_failed");
    let auth = server
        .lock()
        .posts
        .iter()
        .find(|(room, _)| room == "full")
        .and_then(|(_, a)| a.clone())
        .unwrap_or_else(|| panic!("no Authorization"));
    let token = auth
        .strip_prefix("Bearer ")
        .unwrap_or_else(|| panic!("not a bearer token: {auth}"));
    let key =
        jsonwebtoken::DecodingKey::from_secret(SECRET.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let claims = jsonwebtoken::decode::<JoinClaims>(
        token,
        &key,
        &jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256),
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .claims;
    assert_eq!(claims.iss, "APItest");
    assert_eq!(claims.sub, "sip_+15550100");
    assert_eq!(claims.video.room, "full");
    assert!(claims.video.room_join);
    assert_eq!(
        claims.attributes.get("sip.trunk").map(String::as_str),
        Some("t1")
    );

    // A gateway without Opus or PCMU (G.722 here) still joins: the link offers Opus and the
    // gateway transcodes to it.
    let session = link
        .join(
            request("r7", vec![Codec::with_default_pt(CodecKind::G722)]),
            Instant::now() + BOUND,
        )
        .await
        .unwrap_or_else(|e| panic!("join with G.722 only: {e}"));
    assert_eq!(session.info().media.codec, opus());
    support::leave(session).await;
}

/// A PCMU-only gateway (an inbound call answered in PCMU) joins a room without PCMU with
/// Opus, the gateway transcoding.
#[tokio::test]
async fn a_pcmu_only_gateway_gets_opus_from_a_room_without_pcmu() {
    let server = RoomServer::start(RoomOptions::default()).await;
    let (session, id) = join(&server, config(&server), "r9", vec![pcmu()]).await;
    assert_eq!(session.info().media.codec, opus());
    let (heard, rate, _) = talk(&session, 1000.0, Duration::from_millis(800)).await;
    let phone_hears = tone_fraction(last_half_second(&heard, rate), rate, 440.0);
    assert!(
        phone_hears > 0.5,
        "room tone at the phone: {phone_hears:.3}"
    );
    assert_eq!(server.with(&id, |r| r.codec), Some(Some(CodecKind::Opus)));
    // RFC 7587 §6.1: the Opus offered for a PCMU phone declares the phone's 8 kHz, and the
    // room still answers it (rtc matches the answer's Opus whatever its fmtp).
    let offer = server.offer("r9");
    let fmtp = offer
        .lines()
        .find(|l| l.starts_with("a=fmtp:111 "))
        .unwrap_or_else(|| panic!("no Opus fmtp in\n{offer}"));
    assert!(
        fmtp.contains("maxplaybackrate=8000") && fmtp.contains("sprop-maxcapturerate=8000"),
        "{fmtp}"
    );
    // The one telephone-event offered is PCMU's 8 kHz one; the room took it along Opus.
    // Regression: `rtc` collapsed two offered telephone-events into one payload type and
    // the link looked only for one at 48 kHz, so digits were dropped.
    session
        .send_dtmf('3', Duration::from_millis(100))
        .unwrap_or_else(|e| panic!("{e}"));
    eventually("digit 3 in the room", || {
        server
            .with(&id, |r| r.dtmf_events.contains(&'3'))
            .filter(|x| *x)
    })
    .await;
    server.command(&id, Command::Dtmf('6'));
    match next_event(&session).await {
        Some(RoomEvent::Dtmf { digit, .. }) => assert_eq!(digit, '6'),
        other => panic!("expected DTMF 6, got {other:?}"),
    }
    support::leave(session).await;
}

/// A STUN server on loopback that maps every Binding request to `public` (RFC 8489 §6.3.1
/// success response with XOR-MAPPED-ADDRESS), as a NAT's outside would look. Answers
/// `count` requests at most.
async fn stun_server(public: std::net::SocketAddr, count: usize) -> std::net::SocketAddr {
    use rtc::stun::message::{BINDING_SUCCESS, Message};
    use rtc::stun::xoraddr::XorMappedAddress;
    let socket = tokio::net::UdpSocket::bind((LOOPBACK, 0))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = socket.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let mut buf = vec![0u8; 1500];
        for _ in 0..count {
            let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let mut req = Message::new();
            if req.unmarshal_binary(&buf[..n]).is_err() {
                continue;
            }
            let mut resp = Message::new();
            let mapped = XorMappedAddress {
                ip: public.ip(),
                port: public.port(),
            };
            if resp
                .build(&[
                    Box::new(req.transaction_id),
                    Box::new(BINDING_SUCCESS),
                    Box::new(mapped),
                ])
                .is_ok()
            {
                let _ = socket.send_to(&resp.raw, from).await;
            }
        }
    });
    addr
}

/// With a STUN server configured, the offer carries a server-reflexive candidate (the
/// mapped address, based on the host candidate) besides the host one, and the call still
/// connects over the host pair.
#[tokio::test]
async fn the_offer_carries_a_server_reflexive_candidate_from_stun() {
    let server = RoomServer::start(RoomOptions::default()).await;
    let public: std::net::SocketAddr = "127.0.0.2:40000".parse().unwrap_or_else(|e| panic!("{e}"));
    let stun = stun_server(public, 16).await;
    let mut cfg = config(&server);
    cfg.stun_servers = vec![stun];
    let link = WebRtcRooms::new(cfg);
    let session = link
        .join(request("r10", vec![opus()]), Instant::now() + BOUND)
        .await
        .unwrap_or_else(|e| panic!("join: {e}"));
    let offer = server.offer("r10");
    let host = offer
        .lines()
        .find(|l| l.contains("typ host"))
        .unwrap_or_else(|| panic!("no host candidate in\n{offer}"));
    let host_port = host
        .split_whitespace()
        .nth(5)
        .unwrap_or_else(|| panic!("{host}"));
    let srflx = offer
        .lines()
        .find(|l| l.contains("typ srflx"))
        .unwrap_or_else(|| panic!("no srflx candidate in\n{offer}"));
    assert!(
        srflx.contains(&format!(
            "127.0.0.2 40000 typ srflx raddr 127.0.0.1 rport {host_port}"
        )),
        "{srflx}"
    );
    support::leave(session).await;
}

/// A STUN server that never answers does not fail the join: the offer carries the host
/// candidate only.
#[tokio::test]
async fn an_unanswered_stun_server_leaves_the_host_candidate() {
    let server = RoomServer::start(RoomOptions::default()).await;
    let silent = std::net::UdpSocket::bind((LOOPBACK, 0)).unwrap_or_else(|e| panic!("{e}"));
    let mut cfg = config(&server);
    cfg.stun_servers = vec![silent.local_addr().unwrap_or_else(|e| panic!("{e}"))];
    cfg.stun_timeout = Duration::from_millis(400);
    let link = WebRtcRooms::new(cfg);
    let session = link
        .join(request("r11", vec![opus()]), Instant::now() + BOUND)
        .await
        .unwrap_or_else(|e| panic!("join: {e}"));
    let offer = server.offer("r11");
    assert!(offer.contains("typ host"), "{offer}");
    assert!(!offer.contains("typ srflx"), "{offer}");
    // The request was sent to the silent server (how often it was retransmitted within
    // the budget depends on scheduling, so it is not asserted).
    silent
        .set_nonblocking(true)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut buf = [0u8; 1500];
    let mut requests = 0;
    while silent.recv_from(&mut buf).is_ok() {
        requests += 1;
    }
    assert!(requests >= 1, "{requests} STUN requests");
    support::leave(session).await;
}
