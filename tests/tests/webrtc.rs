//! End to end: the real `sipbridge` binary with `[rooms] kind = "webrtc"`, SIP legs driven
//! by SIPp on loopback, room legs joined over WHIP to the in-repo WebRTC room server
//! (room-link's test fixture: axum + webrtc-rs `rtc`, Opus only unless told otherwise).
//!
//! SIPp does the signaling (`tests/data/webrtc/*.xml`); its SDP names a UDP socket of this
//! test, so the test is the phone's media: it sends a PCMU tone and RFC 4733 digits and
//! checks, by frequency, what comes back from the room through the gateway's Opus
//! transcoding, and what the room heard.

#[path = "../../crates/room-link/tests/support/room_server.rs"]
mod room_server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use room_server::{Command, RoomOptions, RoomServer};
use rtp_relay::analysis::tone_fraction;
use rtp_relay::codec::CodecKind;
use sipbridge_e2e::{API_KEY, Child, Gateway, free_port, sipp, workspace_root};

mod phone;
use phone::{Phone, RATE};

const ROOM_HZ: f64 = 440.0;
const PHONE_HZ: f64 = 1000.0;
/// Safety bound on every wait (not a speed assertion).
const BOUND: Duration = Duration::from_secs(15);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"))
}

/// `[rooms]` pointing at the fixture, join tokens minted with the test API key.
fn rooms_config(server: &RoomServer) -> String {
    format!(
        r#"
[rooms]
kind = "webrtc"
url = "{}"
token_key = "{API_KEY}"
"#,
        server.url_template()
    )
}

fn data(name: &str) -> String {
    workspace_root()
        .join("tests/data/webrtc")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn log_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("sipp-webrtc-{name}-{}.log", std::process::id()))
}

fn sipp_log(name: &str) -> String {
    std::fs::read_to_string(log_path(name)).unwrap_or_default()
}

/// Waits until SIPp logged the gateway's RTP port.
fn gateway_rtp(name: &str) -> SocketAddr {
    let end = Instant::now() + BOUND;
    while Instant::now() < end {
        if let Some(rest) = sipp_log(name).split("gateway_rtp_port=").nth(1) {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(port) = digits.parse::<u16>() {
                return SocketAddr::from(([127, 0, 0, 1], port));
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!(
        "SIPp {name} never logged the gateway's RTP port; log:\n{}",
        sipp_log(name)
    );
}

/// Runs SIPp `xml` (from tests/data/webrtc) with the phone's RTP port and `args`.
fn run_sipp(name: &str, xml: &str, phone_rtp: u16, args: &[&str]) -> Child {
    let log = log_path(name);
    let _ = std::fs::remove_file(&log);
    let (xml, rtp, port) = (data(xml), phone_rtp.to_string(), free_port().to_string());
    let log = log.to_string_lossy().into_owned();
    let mut all = vec![
        "-sf",
        &xml,
        "-key",
        "phone_rtp",
        &rtp,
        "-i",
        "127.0.0.1",
        "-p",
        &port,
        "-m",
        "1",
        "-trace_logs",
        "-log_file",
        &log,
    ];
    all.extend_from_slice(args);
    sipp(&all, 60)
}

fn sipp_ok(child: Child, what: &str, gw: &Gateway) {
    let out = child.wait_for(Duration::from_secs(60));
    assert!(
        out.status.success(),
        "{what}: SIPp failed ({:?})\nstdout:\n{}\nstderr:\n{}\ngateway log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        gw.log()
    );
}

/// Polls `f` until it returns `Some`, up to BOUND.
fn eventually<T>(what: &str, gw: &Gateway, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + BOUND;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < end,
            "timed out waiting for {what}; gateway log:\n{}",
            gw.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Phone tone → room and room tone → phone, checked by frequency on both sides.
fn tones_cross(phone: &mut Phone, gw_rtp: SocketAddr, server: &RoomServer, id: &str) {
    phone.send_tone(gw_rtp, PHONE_HZ, 2000);
    let heard = phone.heard();
    let tail = &heard[heard.len().saturating_sub(RATE as usize / 2)..];
    let phone_hears = tone_fraction(tail, RATE, ROOM_HZ);
    assert!(
        phone_hears > 0.5,
        "the room's {ROOM_HZ} Hz at the phone: {phone_hears:.3} of {} samples",
        heard.len()
    );
    let (pcm, rate) = server
        .with(id, |r| (r.pcm.clone(), r.pcm_rate))
        .unwrap_or_default();
    let tail = &pcm[pcm.len().saturating_sub(rate as usize / 2)..];
    let room_hears = tone_fraction(tail, rate, PHONE_HZ);
    assert!(
        room_hears > 0.5,
        "the phone's {PHONE_HZ} Hz in the room: {room_hears:.3} of {} samples at {rate} Hz",
        pcm.len()
    );
}

/// An inbound PCMU call into a WebRTC room (Opus, transcoded by the gateway): tones both
/// ways, a digit from the phone reaches the room as an RFC 4733 event, then the room hangs
/// up and the gateway ends the SIP leg with BYE.
#[test]
fn inbound_call_joins_a_webrtc_room_and_the_room_hangs_up() {
    let rt = runtime();
    let server = rt.block_on(RoomServer::start(RoomOptions {
        tone_hz: ROOM_HZ,
        ..RoomOptions::default()
    }));
    let extra = format!(
        r#"{}
[[inbound_trunks]]
sip_trunk_id = "ST_in"
allowed_addresses = ["127.0.0.0/8"]

[[dispatch_rules]]
sip_dispatch_rule_id = "SDR_in"
trunk_ids = ["ST_in"]
[dispatch_rules.rule.dispatch_rule_direct]
room_name = "webrtc-in"
"#,
        rooms_config(&server)
    );
    let gw = Gateway::start("webrtc-in", &extra);
    let mut phone = Phone::new();
    let target = gw.sip.to_string();
    let caller = run_sipp(
        "in",
        "uac_room_hangs_up.xml",
        phone.port,
        &[
            &target,
            "-s",
            "+15550009999",
            "-key",
            "caller",
            "+15550000001",
        ],
    );
    let gw_rtp = gateway_rtp("in");
    let id = eventually("the room session", &gw, || server.session_of("webrtc-in"));
    let codec = eventually("the room connected", &gw, || {
        server.with(&id, |r| r.codec).flatten()
    });
    assert_eq!(codec, CodecKind::Opus);
    // The join carried a token for the API key (the grant itself is checked in room-link).
    let auth = server.lock().posts.first().and_then(|(_, a)| a.clone());
    assert!(
        auth.is_some_and(|a| a.starts_with("Bearer ey")),
        "no bearer token"
    );

    tones_cross(&mut phone, gw_rtp, &server, &id);

    phone.send_digits(gw_rtp, "4");
    eventually("digit 4 in the room", &gw, || {
        server
            .with(&id, |r| r.dtmf_events.contains(&'4'))
            .filter(|x| *x)
    });

    // The room hangs up (DTLS close_notify): the gateway BYEs the caller, whose scenario
    // then completes, and the call ends as a room hangup.
    server.command(&id, Command::Hangup);
    sipp_ok(caller, "caller", &gw);
    let calls = gw.twirp(
        "sipbridge.Calls/ListCalls",
        r#"{"include_ended":true}"#,
        &[],
    );
    assert!(
        calls.body.contains("room_hangup"),
        "call ended by the room: {}",
        calls.body
    );
    drop(rt);
}

/// An outbound call (CreateSIPParticipant) whose room leg is WebRTC: tones both ways
/// through the transcoding, then the callee hangs up and the room session is DELETEd.
#[test]
fn outbound_call_joins_a_webrtc_room_and_the_callee_hangs_up() {
    let rt = runtime();
    let server = rt.block_on(RoomServer::start(RoomOptions {
        tone_hz: ROOM_HZ,
        ..RoomOptions::default()
    }));
    let mut phone = Phone::new();
    let sipp_port = free_port();
    let callee = {
        let log = log_path("out");
        let _ = std::fs::remove_file(&log);
        let (xml, rtp, port) = (
            data("uas_media.xml"),
            phone.port.to_string(),
            sipp_port.to_string(),
        );
        let log = log.to_string_lossy().into_owned();
        sipp(
            &[
                "-sf",
                &xml,
                "-key",
                "phone_rtp",
                &rtp,
                "-i",
                "127.0.0.1",
                "-p",
                &port,
                "-m",
                "1",
                "-d",
                "6000",
                "-trace_logs",
                "-log_file",
                &log,
            ],
            60,
        )
    };
    let extra = format!(
        r#"{}
[[outbound_trunks]]
sip_trunk_id = "ST_out"
address = "127.0.0.1:{sipp_port}"
transport = "udp"
numbers = ["+15550100000"]
"#,
        rooms_config(&server)
    );
    let gw = Gateway::start("webrtc-out", &extra);
    let res = gw.twirp(
        "livekit.SIP/CreateSIPParticipant",
        r#"{"sip_trunk_id":"ST_out","sip_call_to":"+15550199999","room_name":"webrtc-out","participant_identity":"sip_callee","wait_until_answered":true}"#,
        &[],
    );
    assert_eq!(res.status, 200, "{}\n{}", res.body, gw.log());
    let gw_rtp = gateway_rtp("out");
    let id = eventually("the room session", &gw, || server.session_of("webrtc-out"));
    let codec = eventually("the room connected", &gw, || {
        server.with(&id, |r| r.codec).flatten()
    });
    assert_eq!(codec, CodecKind::Opus);

    tones_cross(&mut phone, gw_rtp, &server, &id);

    // The callee hangs up after its 6 s: the gateway leaves the room (DELETE).
    sipp_ok(callee, "callee", &gw);
    eventually("the room session DELETEd", &gw, || {
        server.with(&id, |r| r.deleted).filter(|d| *d)
    });
    drop(rt);
}
