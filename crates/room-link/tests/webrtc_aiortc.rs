//! The WebRTC room link against an independent WebRTC implementation: Python's aiortc as a
//! WHIP room server (tests/data/webrtc/aiortc_room.py) on loopback. Tones both ways
//! checked by frequency (Opus, and PCMU passed through), DTMF both ways on the data channel
//! (aiortc has no RFC 4733), the room hanging up, leaving with DELETE.
//!
//! Skips with a note when python3/aiortc/aiohttp are missing and SIPBRIDGE_REQUIRE_AIORTC
//! is unset (tests/run.sh installs them and sets it).

mod support;

use std::time::{Duration, Instant};

use room_link::webrtc::{ApiCredentials, WebRtcLinkConfig, WebRtcRooms};
use room_link::{CloseReason, JoinRequest, MediaCapabilities, RoomEvent, RoomLink, RoomSession};
use rtp_relay::analysis::tone_fraction;
use rtp_relay::codec::{Codec, CodecKind};
use support::aiortc::AiortcRoom;
use support::phone::{BOUND, last_half_second, next_event, talk};
use support::room_server::LOOPBACK;

const ROOM_HZ: f64 = 440.0;
const PHONE_HZ: f64 = 1000.0;

fn config(room: &AiortcRoom) -> WebRtcLinkConfig {
    let mut cfg = WebRtcLinkConfig::new(room.url_template(), LOOPBACK);
    cfg.credentials = Some(ApiCredentials {
        key: "APItest".into(),
        secret: "test-secret-test-secret-test-secret".into(),
    });
    cfg.dtmf_data_channel = Some("dtmf".into());
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
        attributes: Vec::new(),
        media: MediaCapabilities {
            codecs,
            telephone_event: Some(101),
            ptime: Duration::from_millis(20),
        },
    }
}

async fn join(room: &AiortcRoom, name: &str, codecs: Vec<Codec>) -> RoomSession {
    WebRtcRooms::new(config(room))
        .join(request(name, codecs), Instant::now() + BOUND)
        .await
        .unwrap_or_else(|e| panic!("join {name}: {e}"))
}

/// Tone both ways, then checks by frequency what each side heard.
async fn tones_cross(room: &AiortcRoom, name: &str, session: &RoomSession) {
    let (heard, rate, _) = talk(session, PHONE_HZ, Duration::from_millis(1500)).await;
    let phone_hears = tone_fraction(last_half_second(&heard, rate), rate, ROOM_HZ);
    assert!(
        phone_hears > 0.5,
        "aiortc's tone at the phone: {phone_hears:.3} of {} samples at {rate} Hz",
        heard.len()
    );
    let (room_pcm, room_rate) = room.pcm(name, 500).await;
    assert!(room_rate > 0, "aiortc decoded nothing");
    let room_hears = tone_fraction(&room_pcm, room_rate, PHONE_HZ);
    assert!(
        room_hears > 0.5,
        "the phone's tone in aiortc: {room_hears:.3} of {} samples at {room_rate} Hz",
        room_pcm.len()
    );
}

async fn state(room: &AiortcRoom, name: &str) -> serde_json::Value {
    room.state(name)
        .await
        .unwrap_or_else(|| panic!("aiortc has no session for {name}"))
}

#[tokio::test]
async fn opus_tones_and_data_channel_dtmf_cross_then_aiortc_hangs_up() {
    let Some(room) = AiortcRoom::start(ROOM_HZ) else {
        return;
    };
    let session = join(&room, "a1", vec![Codec::with_default_pt(CodecKind::Opus)]).await;
    assert_eq!(session.info().media.codec.kind, CodecKind::Opus);
    assert_eq!(state(&room, "a1").await["codec"], "opus/48000/2");
    tones_cross(&room, "a1", &session).await;

    // aiortc negotiates no telephone-event: DTMF goes on the data channel both ways. The
    // channel opens after DTLS and SCTP, so press until a message arrives.
    let end = Instant::now() + BOUND;
    let msg = loop {
        let _ = session.send_dtmf('5', Duration::from_millis(100));
        let st = state(&room, "a1").await;
        if let Some(m) = st["dc_messages"].get(0).and_then(|m| m.as_str()) {
            break m.to_owned();
        }
        assert!(Instant::now() < end, "no DTMF message reached aiortc: {st}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(msg, r#"{"type":"dtmf","digit":"5","duration_ms":100}"#);
    assert_eq!(room.dtmf("a1", '#').await, 200);
    match next_event(&session).await {
        Some(RoomEvent::Dtmf { digit, .. }) => assert_eq!(digit, '#'),
        other => panic!("expected DTMF #, got {other:?}"),
    }

    // aiortc closes its peer connection (DTLS close_notify, no DELETE): the session ends as
    // room closed, long before ICE could notice (30 s timeouts above).
    assert_eq!(room.hangup("a1").await, 200);
    assert_eq!(
        next_event(&session).await,
        Some(RoomEvent::Closed(CloseReason::RoomClosed))
    );
    assert_eq!(next_event(&session).await, None);
    support::leave(session).await;
    assert_eq!(state(&room, "a1").await["deleted"], true);
}

#[tokio::test]
async fn pcmu_passes_through_to_aiortc_and_leaving_deletes() {
    let Some(room) = AiortcRoom::start(ROOM_HZ) else {
        return;
    };
    let session = join(
        &room,
        "a2",
        vec![
            Codec::with_default_pt(CodecKind::Pcmu),
            Codec::with_default_pt(CodecKind::Opus),
        ],
    )
    .await;
    assert_eq!(session.info().media.codec.kind, CodecKind::Pcmu);
    assert_eq!(state(&room, "a2").await["codec"], "PCMU/8000");
    tones_cross(&room, "a2", &session).await;
    support::leave(session).await;
    let st = state(&room, "a2").await;
    assert_eq!(st["deleted"], true, "{st}");
    assert_eq!(st["connection"], "closed", "{st}");
}
