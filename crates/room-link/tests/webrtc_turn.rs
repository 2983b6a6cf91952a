//! The WebRTC room link with a relayed candidate from a real TURN server (coturn on
//! loopback, OS-chosen port) against the in-repo room server: with
//! `ice_transport_policy = relay` tones cross both ways through the relay and the
//! allocation is released on leave; a wrong credential falls back to host candidates with
//! policy `all` and fails the join with policy `relay`; refreshes (also after a stale
//! nonce) keep the allocation past its lifetime; aiortc as the room uses the relayed
//! candidate too.
//!
//! Needs coturn's `turnserver` (tests/run.sh installs it); without it the tests fail unless
//! SIPBRIDGE_SKIP_TURN is set. The aiortc test skips like webrtc_aiortc.rs without aiortc.

mod support;

use std::time::{Duration, Instant};

use room_link::webrtc::{
    ApiCredentials, IceTransportPolicy, TurnServer as TurnConfig, WebRtcLinkConfig, WebRtcRooms,
};
use room_link::{Error, JoinRequest, MediaCapabilities, RoomLink, RoomSession};
use rtp_relay::analysis::tone_fraction;
use rtp_relay::codec::{Codec, CodecKind};
use support::aiortc::AiortcRoom;
use support::phone::{BOUND, last_half_second, talk};
use support::room_server::{LOOPBACK, RoomOptions, RoomServer};
use support::turn_server::{DropFirstRefresh, TurnServer};

const USER: &str = "sipbridge-test";
const PASSWORD: &str = "turn-secret-123";
const ROOM_HZ: f64 = 440.0;
const PHONE_HZ: f64 = 1000.0;

fn config(
    server: &RoomServer,
    turn: &TurnServer,
    credential: &str,
    policy: IceTransportPolicy,
) -> WebRtcLinkConfig {
    let mut cfg = WebRtcLinkConfig::new(server.url_template(), LOOPBACK);
    cfg.credentials = Some(ApiCredentials {
        key: "APItest".into(),
        secret: "test-secret-test-secret-test-secret".into(),
    });
    cfg.turn_servers = vec![TurnConfig {
        address: turn.addr,
        username: USER.into(),
        credential: credential.into(),
    }];
    cfg.ice_transport_policy = policy;
    // Generous on a loaded machine; a healthy loopback allocation takes two round trips.
    cfg.turn_timeout = Duration::from_secs(3);
    cfg.join_timeout = BOUND;
    cfg
}

fn request(room: &str) -> JoinRequest {
    JoinRequest {
        room: room.into(),
        identity: "sip_+15550100".into(),
        name: "Caller".into(),
        attributes: Vec::new(),
        media: MediaCapabilities {
            codecs: vec![Codec::with_default_pt(CodecKind::Opus)],
            telephone_event: Some(101),
            ptime: Duration::from_millis(20),
        },
    }
}

/// Tone both ways, then checks by frequency what each side heard.
async fn tones_cross(server: &RoomServer, room: &str, session: &RoomSession) {
    let id = server
        .session_of(room)
        .unwrap_or_else(|| panic!("no session for {room}"));
    let (heard, rate, _) = talk(session, PHONE_HZ, Duration::from_millis(1200)).await;
    let phone_hears = tone_fraction(last_half_second(&heard, rate), rate, ROOM_HZ);
    assert!(
        phone_hears > 0.5,
        "room tone at the phone: {phone_hears:.3} of {} samples",
        heard.len()
    );
    let (room_pcm, room_rate) = server
        .with(&id, |r| (r.pcm.clone(), r.pcm_rate))
        .unwrap_or_default();
    let room_hears = tone_fraction(last_half_second(&room_pcm, room_rate), room_rate, PHONE_HZ);
    assert!(
        room_hears > 0.5,
        "phone tone in the room: {room_hears:.3} of {} samples",
        room_pcm.len()
    );
}

/// A room playing [`ROOM_HZ`] and a session joined to it with `turn` as the TURN server
/// (`password` for its credential) under `policy`; `tweak` adjusts the link's config.
async fn call_with(
    turn: &TurnServer,
    room: &str,
    password: &str,
    policy: IceTransportPolicy,
    tweak: impl FnOnce(&mut WebRtcLinkConfig),
) -> (RoomServer, RoomSession) {
    let server = RoomServer::start(RoomOptions {
        tone_hz: ROOM_HZ,
        ..RoomOptions::default()
    })
    .await;
    let mut cfg = config(&server, turn, password, policy);
    tweak(&mut cfg);
    let session = WebRtcRooms::new(cfg)
        .join(request(room), Instant::now() + BOUND)
        .await
        .unwrap_or_else(|e| panic!("join: {e}\n{}", turn.log().join("\n")));
    (server, session)
}

/// [`call_with`] through `turn` only (policy `relay`).
async fn relayed_call(turn: &TurnServer, room: &str) -> (RoomServer, RoomSession) {
    call_with(turn, room, PASSWORD, IceTransportPolicy::Relay, |_| {}).await
}

#[tokio::test]
async fn relay_only_media_crosses_both_ways_through_coturn_and_leave_releases_it() {
    let Some(turn) = TurnServer::start(USER, PASSWORD) else {
        return;
    };
    let (server, session) = relayed_call(&turn, "relayed").await;

    // Only the relayed candidate was offered: the media can have taken no other path.
    let offer = server.offer("relayed");
    assert!(
        offer.contains("typ relay"),
        "no relayed candidate:\n{offer}"
    );
    assert!(
        !offer.contains("typ host"),
        "host candidate offered:\n{offer}"
    );
    assert!(
        !offer.contains("typ srflx"),
        "reflexive candidate offered:\n{offer}"
    );
    let relayed_port = offer
        .lines()
        .find(|l| l.contains("typ relay"))
        .and_then(|l| l.split_ascii_whitespace().nth(5))
        .unwrap_or_else(|| panic!("relay candidate without a port:\n{offer}"))
        .to_owned();

    tones_cross(&server, "relayed", &session).await;

    // coturn authenticated our user and granted the allocation, and permissions for the
    // room's address.
    let log_bound = Duration::from_secs(5);
    for parts in [
        &[USER, "ALLOCATE processed, success"][..],
        &[USER, "CREATE_PERMISSION processed, success"][..],
    ] {
        turn.expect_log(parts, log_bound, "allocation and permissions")
            .await;
    }
    assert!(
        turn.log().iter().any(|l| l.contains(&relayed_port)),
        "coturn never mentioned the relayed port {relayed_port}:\n{}",
        turn.log().join("\n")
    );

    // Leave releases the allocation: a Refresh with lifetime 0 (RFC 8656 §7).
    support::leave(session).await;
    turn.expect_log(
        &[USER, "REFRESH processed, success"],
        log_bound,
        "no released allocation",
    )
    .await;
}

#[tokio::test]
async fn the_allocation_is_refreshed_before_it_expires() {
    // coturn answers the Allocate with LIFETIME 4 s: the link must send a Refresh (RFC 8656
    // §7) before that runs out, from the TURN client's timer run by the driver, or coturn
    // deletes the allocation and the media stops.
    let Some(turn) = TurnServer::start_with(USER, PASSWORD, &["--max-allocate-lifetime=4"]) else {
        return;
    };
    let (server, session) = relayed_call(&turn, "refreshed").await;
    let id = server
        .session_of("refreshed")
        .unwrap_or_else(|| panic!("no session"));
    // Talk past the granted lifetime, then check that both directions still carry the
    // tones: only audio that arrives after the 4 s counts.
    let _ = talk(&session, PHONE_HZ, Duration::from_millis(5000)).await;
    // The room keeps its last 2 s of audio: start afresh.
    if let Some(r) = server.lock().sessions.get_mut(&id) {
        r.pcm.clear();
    }
    tones_cross(&server, "refreshed", &session).await;
    // The first Refresh was due at half the 4 s: already logged, so no wait.
    turn.expect_log(
        &[USER, "REFRESH processed, success"],
        Duration::ZERO,
        "no Refresh within 6 s of a 4 s allocation",
    )
    .await;
    support::leave(session).await;
}

#[tokio::test]
async fn a_refresh_refused_for_a_stale_nonce_is_sent_again_with_the_new_one() {
    // Regression: the TURN client takes the new NONCE from a 438 (Stale Nonce) answer to a
    // Refresh but does not send the Refresh again, so the allocation would run out. coturn
    // here lets a nonce live 1 s and grants 4 s allocations: the Refresh at 2 s meets a
    // stale nonce (RFC 8489 §9.2.4 / RFC 8656 §7.3) and must be retried.
    let Some(turn) = TurnServer::start_with(
        USER,
        PASSWORD,
        &["--max-allocate-lifetime=4", "--stale-nonce=1"],
    ) else {
        return;
    };
    let (server, session) = relayed_call(&turn, "stale").await;
    tones_cross(&server, "stale", &session).await;
    turn.expect_log(
        &[USER, "REFRESH processed, success"],
        BOUND,
        "no successful Refresh",
    )
    .await;
    support::leave(session).await;
}

#[tokio::test]
async fn a_release_refused_for_a_stale_nonce_is_sent_again_with_the_new_one() {
    // Regression: the release (Refresh with LIFETIME 0) met a 438 (Stale Nonce) and was never
    // sent again, so the allocation lived until it expired. coturn here lets a nonce live
    // 1 s (checked in whole seconds, so stale from 2 s on); the call lasts over 3 s, so the
    // release carries a stale nonce and must be retried with the new one (RFC 8489 §9.2.5,
    // RFC 8656 §7.3). The default lifetime (600 s) means no Refresh before the release.
    let Some(turn) = TurnServer::start_with(USER, PASSWORD, &["--stale-nonce=1"]) else {
        return;
    };
    let (server, session) = relayed_call(&turn, "stale-release").await;
    let _ = talk(&session, PHONE_HZ, Duration::from_millis(2000)).await;
    tones_cross(&server, "stale-release", &session).await;
    assert!(
        turn.log()
            .iter()
            .all(|l| !(l.contains(USER) && l.contains("REFRESH processed"))),
        "a Refresh before the release:\n{}",
        turn.log().join("\n")
    );
    support::leave(session).await;
    for parts in [
        &[USER, "error 438: Stale nonce"][..],
        &[USER, "REFRESH processed, success"][..],
    ] {
        turn.expect_log(parts, BOUND, "release after a stale nonce")
            .await;
    }
}

#[tokio::test]
async fn an_allocation_is_released_when_the_room_refuses_the_join() {
    let Some(turn) = TurnServer::start(USER, PASSWORD) else {
        return;
    };
    let server = RoomServer::start(RoomOptions::default()).await;
    let link = WebRtcRooms::new(config(&server, &turn, PASSWORD, IceTransportPolicy::Relay));
    // The fixture answers 503 for a room named "full".
    let err = link
        .join(request("full"), Instant::now() + BOUND)
        .await
        .err()
        .unwrap_or_else(|| panic!("joined a full room"));
    assert_eq!(err, Error::Rejected { status: 503 });
    // The allocation made for the offer is not left to expire: Refresh with lifetime 0.
    for parts in [
        &[USER, "ALLOCATE processed, success"][..],
        &[USER, "REFRESH processed, success"][..],
    ] {
        turn.expect_log(parts, BOUND, "release after the refused join")
            .await;
    }
}

#[tokio::test]
async fn a_lost_release_is_sent_again() {
    let Some(turn) = TurnServer::start(USER, PASSWORD) else {
        return;
    };
    let lossy = DropFirstRefresh::start(turn.addr).await;
    let server = RoomServer::start(RoomOptions::default()).await;
    let mut cfg = config(&server, &turn, PASSWORD, IceTransportPolicy::Relay);
    cfg.turn_servers[0].address = lossy.addr;
    let session = WebRtcRooms::new(cfg)
        .join(request("lossy"), Instant::now() + BOUND)
        .await
        .unwrap_or_else(|e| panic!("join through TURN: {e}"));
    support::leave(session).await;
    // The only Refresh of this short call is the release; the network lost the first one.
    turn.expect_log(
        &[USER, "REFRESH processed, success"],
        BOUND,
        &format!(
            "allocation not released after a lost Refresh ({} seen)",
            lossy.refreshes_seen()
        ),
    )
    .await;
    assert!(lossy.refreshes_seen() >= 2);
}

#[tokio::test]
async fn one_server_for_stun_and_turn_gives_both_answers_to_the_right_asker() {
    // STUN and TURN gathering share the session socket and here the server too: each
    // response must reach the machine that asked (by transaction).
    let Some(turn) = TurnServer::start(USER, PASSWORD) else {
        return;
    };
    let stun = turn.addr;
    let (server, session) = call_with(&turn, "both", PASSWORD, IceTransportPolicy::All, |c| {
        c.stun_servers = vec![stun];
    })
    .await;
    let offer = server.offer("both");
    // On loopback the mapped address is the host address itself, so no reflexive
    // candidate: the host and the relayed one.
    assert!(offer.contains("typ host"), "no host candidate:\n{offer}");
    assert!(
        offer.contains("typ relay"),
        "no relayed candidate:\n{offer}"
    );
    assert!(
        !offer.contains("typ srflx"),
        "reflexive duplicate of host:\n{offer}"
    );
    tones_cross(&server, "both", &session).await;
    support::leave(session).await;
}

#[tokio::test]
async fn a_wrong_credential_falls_back_to_host_candidates_with_policy_all() {
    let Some(turn) = TurnServer::start(USER, PASSWORD) else {
        return;
    };
    let (server, session) = call_with(
        &turn,
        "fallback",
        "not-the-password",
        IceTransportPolicy::All,
        |_| {},
    )
    .await;
    let offer = server.offer("fallback");
    assert!(offer.contains("typ host"), "no host candidate:\n{offer}");
    assert!(
        !offer.contains("typ relay"),
        "relayed candidate offered:\n{offer}"
    );
    // coturn saw the attempt and refused it (the credential is checked, not ignored).
    turn.expect_log(
        &[&format!("user {USER} credentials are incorrect")],
        Duration::from_secs(5),
        "coturn never refused the allocation",
    )
    .await;
    tones_cross(&server, "fallback", &session).await;
    support::leave(session).await;
}

#[tokio::test]
async fn a_wrong_credential_fails_the_join_with_policy_relay() {
    let Some(turn) = TurnServer::start(USER, PASSWORD) else {
        return;
    };
    let server = RoomServer::start(RoomOptions::default()).await;
    let link = WebRtcRooms::new(config(
        &server,
        &turn,
        "not-the-password",
        IceTransportPolicy::Relay,
    ));
    match link.join(request("refused"), Instant::now() + BOUND).await {
        Err(e @ Error::MediaFailed(_)) => {
            let text = e.to_string();
            assert!(
                text.contains("relay") && text.contains("TURN"),
                "unclear error: {text}"
            );
            assert_eq!(e.cause(), "room_link_failed");
        }
        Err(e) => panic!("expected MediaFailed, got {e:?}"),
        Ok(_) => panic!("joined without a relayed candidate under policy relay"),
    }
    // Nothing reached the room server: the link gave up before POSTing an offer.
    assert!(server.lock().offers.is_empty());
}

#[tokio::test]
async fn relay_only_media_crosses_with_aiortc_as_the_room() {
    // An independent ICE stack (aiortc's aioice) checks and uses our relayed candidate.
    let Some(turn) = TurnServer::start(USER, PASSWORD) else {
        return;
    };
    let Some(room) = AiortcRoom::start(ROOM_HZ) else {
        return;
    };
    let mut cfg = WebRtcLinkConfig::new(room.url_template(), LOOPBACK);
    cfg.turn_servers = vec![TurnConfig {
        address: turn.addr,
        username: USER.into(),
        credential: PASSWORD.into(),
    }];
    cfg.ice_transport_policy = IceTransportPolicy::Relay;
    cfg.turn_timeout = Duration::from_secs(3);
    cfg.join_timeout = BOUND;
    let session = WebRtcRooms::new(cfg)
        .join(request("aio"), Instant::now() + BOUND)
        .await
        .unwrap_or_else(|e| panic!("join aiortc through TURN: {e}\n{}", turn.log().join("\n")));
    let (heard, rate, _) = talk(&session, PHONE_HZ, Duration::from_millis(1500)).await;
    let phone_hears = tone_fraction(last_half_second(&heard, rate), rate, ROOM_HZ);
    assert!(
        phone_hears > 0.5,
        "aiortc's tone at the phone: {phone_hears:.3} of {} samples",
        heard.len()
    );
    let (room_pcm, room_rate) = room.pcm("aio", 500).await;
    let room_hears = tone_fraction(&room_pcm, room_rate, PHONE_HZ);
    assert!(
        room_hears > 0.5,
        "the phone's tone in aiortc: {room_hears:.3} of {} samples",
        room_pcm.len()
    );
    turn.expect_log(
        &[USER, "ALLOCATE processed, success"],
        BOUND,
        "no allocation",
    )
    .await;
    support::leave(session).await;
}
