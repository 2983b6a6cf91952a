//! End to end: inbound calls into the real `sipbridge` binary from real SIPp callers on
//! loopback (issue: inbound calls).
//!
//! SIPp does the signaling (`tests/sipp/uac_inbound.xml`, `uac_refused.xml`); the SDP offer
//! names a UDP socket of this test, so the test itself is the phone's media: it sends
//! tones and RFC 4733 digits and checks, by frequency, what the room sends back.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rtp_relay::analysis::tone_fraction;
use sipbridge_e2e::{Child, Gateway, free_port, scenario, sipp};

mod phone;
use phone::{Phone, RATE};

/// A trunk for loopback callers plus a direct rule into `room`.
fn open_trunk(room: &str, trunk_extra: &str, rule_extra: &str) -> String {
    format!(
        r#"
[[inbound_trunks]]
sip_trunk_id = "ST_in"
allowed_addresses = ["127.0.0.0/8"]
{trunk_extra}

[[dispatch_rules]]
sip_dispatch_rule_id = "SDR_in"
trunk_ids = ["ST_in"]
[dispatch_rules.rule.dispatch_rule_direct]
room_name = "{room}"
{rule_extra}
"#
    )
}

fn log_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("sipp-in-{name}-{}.log", std::process::id()))
}

/// Starts one SIPp caller with `xml` toward the gateway, dialing `called` from `caller`;
/// `hold_ms` is its `-d`.
fn caller(
    gw: &Gateway,
    name: &str,
    xml: &str,
    (called, caller): (&str, &str),
    phone_rtp: u16,
    hold_ms: u64,
    extra: &[&str],
) -> Child {
    let log = log_path(name);
    let _ = std::fs::remove_file(&log);
    let xml = scenario(xml).to_string_lossy().into_owned();
    let target = gw.sip.to_string();
    let rtp = phone_rtp.to_string();
    let hold = hold_ms.to_string();
    let port = free_port().to_string();
    let log_s = log.to_string_lossy().into_owned();
    let mut args = vec![
        target.as_str(),
        "-sf",
        &xml,
        "-s",
        called,
        "-key",
        "caller",
        caller,
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
        &hold,
        "-trace_logs",
        "-log_file",
        &log_s,
    ];
    // SIPp keeps the first value of a key: the default codec only when the test names none.
    if !extra.windows(2).any(|w| w == ["-key", "codec"]) {
        args.extend_from_slice(&["-key", "codec", "0"]);
    }
    args.extend_from_slice(extra);
    sipp(&args, 60)
}

/// What SIPp logged (`<log>` actions).
fn sipp_log(name: &str) -> String {
    std::fs::read_to_string(log_path(name)).unwrap_or_default()
}

/// Waits (at most 10 s) until SIPp `name` logged `what`.
fn wait_for_log(gw: &Gateway, name: &str, what: &str) {
    let since = Instant::now();
    while !sipp_log(name).contains(what) {
        assert!(
            since.elapsed() < Duration::from_secs(10),
            "SIPp {name} never logged {what:?}:\n{}\ngateway log:\n{}",
            sipp_log(name),
            gw.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until SIPp logged the gateway's RTP port (from the 200 OK).
fn gateway_rtp_port(name: &str, limit: Duration) -> u16 {
    let start = Instant::now();
    while start.elapsed() < limit {
        let log = sipp_log(name);
        if let Some(rest) = log.split("gateway_rtp_port=").nth(1) {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(port) = digits.parse() {
                return port;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!(
        "SIPp {name} never logged the gateway's RTP port; log:\n{}",
        sipp_log(name)
    );
}

fn gw_rtp(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn sipp_ok(child: Child, what: &str) {
    let out = child.wait_for(Duration::from_secs(60));
    assert!(
        out.status.success(),
        "{what}: SIPp failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn refused_with(gw: &Gateway, name: &str, called: &str, extra: &[&str]) -> u16 {
    let phone = Phone::new();
    let child = caller(
        gw,
        name,
        "uac_refused.xml",
        (called, "+15550001111"),
        phone.port,
        0,
        extra,
    );
    let out = child.wait_for(Duration::from_secs(60));
    let log = sipp_log(name);
    let code = log
        .split("final=")
        .nth(1)
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok());
    code.unwrap_or_else(|| {
        panic!(
            "{name}: no final response logged ({:?})\nSIPp log:\n{log}\nstderr:\n{}\ngateway log:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            gw.log()
        )
    })
}

/// Two phones call into one room; each hears the other's tone and not its own, and both
/// calls end with the caller's BYE.
#[test]
fn two_callers_talk_through_a_room() {
    let gw = Gateway::start("in-talk", &open_trunk("talk", "", ""));
    let (mut a, mut b) = (Phone::new(), Phone::new());
    let ca = caller(
        &gw,
        "talk-a",
        "uac_inbound.xml",
        ("+15550009999", "+15550000001"),
        a.port,
        6000,
        &[],
    );
    let cb = caller(
        &gw,
        "talk-b",
        "uac_inbound.xml",
        ("+15550009999", "+15550000002"),
        b.port,
        6000,
        &[],
    );
    let pa = gw_rtp(gateway_rtp_port("talk-a", Duration::from_secs(10)));
    let pb = gw_rtp(gateway_rtp_port("talk-b", Duration::from_secs(10)));
    // Both in the room; drop the first moments (joins, latching) and listen to a second of
    // each tone.
    std::thread::sleep(Duration::from_millis(300));
    let t = std::thread::spawn(move || {
        b.send_tone(pb, 600.0, 2000);
        b
    });
    a.send_tone(pa, 1000.0, 2000);
    let b = t.join().expect("phone b");
    let (ha, hb) = (a.heard(), b.heard());
    assert!(
        ha.len() > 4000 && hb.len() > 4000,
        "media flowed: a heard {} b heard {} samples",
        ha.len(),
        hb.len()
    );
    let tail = |v: &[i16]| v[v.len() / 3..].to_vec();
    let (ha, hb) = (tail(&ha), tail(&hb));
    assert!(tone_fraction(&ha, RATE, 600.0) > 0.5, "a hears b's 600 Hz");
    assert!(
        tone_fraction(&ha, RATE, 1000.0) < 0.1,
        "a does not hear itself"
    );
    assert!(
        tone_fraction(&hb, RATE, 1000.0) > 0.5,
        "b hears a's 1000 Hz"
    );
    assert!(
        tone_fraction(&hb, RATE, 600.0) < 0.1,
        "b does not hear itself"
    );
    sipp_ok(ca, "caller a");
    sipp_ok(cb, "caller b");
    let calls = gw.twirp(
        "sipbridge.Calls/ListCalls",
        r#"{"include_ended":true}"#,
        &[],
    );
    assert!(
        calls.body.contains("remote_hangup"),
        "calls ended by caller BYE: {}",
        calls.body
    );
    let metrics = gw.metrics();
    assert!(
        metrics.contains(r#"sipbridge_calls_started_total{direction="inbound"} 2"#),
        "{metrics}"
    );
}

/// A trunk with credentials challenged the `challenge` way (`www` → 401, `proxy` → 407); a
/// SIPp caller with the right password answers and the call goes through. Returns the
/// gateway's metrics.
fn digest_challenge_answered(challenge: &str, name: &str) -> String {
    let gw = Gateway::start(
        &format!("in-{name}"),
        &format!(
            "{}\n[inbound]\nauth_challenge = \"{challenge}\"\n",
            open_trunk(
                "auth",
                "auth_username = \"phone\"\nauth_password = \"s3cret-pass\"",
                ""
            )
        ),
    );
    let phone = Phone::new();
    let c = caller(
        &gw,
        &format!("auth-{name}"),
        "uac_inbound.xml",
        ("+15550009999", "+15550000001"),
        phone.port,
        500,
        &["-au", "phone", "-ap", "s3cret-pass"],
    );
    sipp_ok(c, &format!("{name} caller"));
    gw.metrics()
}

#[test]
fn digest_401_challenge_answered() {
    let m = digest_challenge_answered("www", "401");
    assert!(m.contains(r#"sipbridge_inbound_refused_total{reason="auth_challenge"} 1"#));
}

#[test]
fn digest_407_challenge_answered() {
    digest_challenge_answered("proxy", "407");
}

#[test]
fn wrong_password_gets_a_fresh_challenge_then_403() {
    let gw = Gateway::start(
        "in-badauth",
        &open_trunk(
            "auth",
            "auth_username = \"phone\"\nauth_password = \"s3cret-pass\"",
            "",
        ),
    );
    let code = refused_with(
        &gw,
        "badauth",
        "+15550009999",
        &["-au", "phone", "-ap", "wrong"],
    );
    assert_eq!(code, 403);
    let m = gw.metrics();
    assert!(
        m.contains(r#"sipbridge_inbound_refused_total{reason="auth_challenge"} 2"#),
        "{m}"
    );
    assert!(
        m.contains(r#"sipbridge_inbound_refused_total{reason="auth_failed"} 1"#),
        "{m}"
    );
}

#[test]
fn disallowed_source_gets_403() {
    let cfg = r#"
[[inbound_trunks]]
sip_trunk_id = "ST_far"
allowed_addresses = ["192.0.2.0/24"]

[[dispatch_rules]]
sip_dispatch_rule_id = "SDR_far"
[dispatch_rules.rule.dispatch_rule_direct]
room_name = "far"
"#;
    let gw = Gateway::start("in-acl", cfg);
    assert_eq!(refused_with(&gw, "acl", "+15550009999", &[]), 403);
}

#[test]
fn unknown_number_gets_404_and_no_common_codec_488() {
    let cfg = r#"
[[inbound_trunks]]
sip_trunk_id = "ST_num"
numbers = ["+15551230000"]
allowed_addresses = ["127.0.0.0/8"]

[[dispatch_rules]]
sip_dispatch_rule_id = "SDR_num"
[dispatch_rules.rule.dispatch_rule_direct]
room_name = "num"
"#;
    let gw = Gateway::start("in-404", cfg);
    assert_eq!(refused_with(&gw, "nonum", "+15559999999", &[]), 404);
    // The right number with only G.729 (payload type 18) offered.
    let code = refused_with(&gw, "g729", "+15551230000", &["-key", "codec", "18"]);
    assert_eq!(code, 488);
    let m = gw.metrics();
    assert!(m.contains(r#"reason="no_trunk""#), "{m}");
    assert!(m.contains(r#"reason="no_common_codec""#), "{m}");
}

#[test]
fn pin_room_opens_with_dtmf() {
    let cfg = r#"
[[inbound_trunks]]
sip_trunk_id = "ST_pin"
allowed_addresses = ["127.0.0.0/8"]

[[dispatch_rules]]
sip_dispatch_rule_id = "SDR_pin"
[dispatch_rules.rule.dispatch_rule_direct]
room_name = "secret"
pin = "4321"
"#;
    let gw = Gateway::start("in-pin", cfg);
    let mut phone = Phone::new();
    let c = caller(
        &gw,
        "pin",
        "uac_inbound.xml",
        ("+15550009999", "+15550000001"),
        phone.port,
        5000,
        &[],
    );
    let port = gw_rtp(gateway_rtp_port("pin", Duration::from_secs(10)));
    // The prompt: a 1400 Hz beep toward the phone before any digit.
    std::thread::sleep(Duration::from_millis(600));
    let prompt = phone.heard();
    assert!(
        tone_fraction(&prompt, RATE, 1400.0) > 0.3,
        "prompt tone heard ({} samples, dominant {:?} Hz)\ngateway log:\n{}",
        prompt.len(),
        rtp_relay::analysis::dominant_frequency(&prompt, RATE),
        gw.log()
    );
    phone.clear();
    // A wrong PIN first, then the right one.
    phone.send_digits(port, "1111#");
    phone.send_digits(port, "4321#");
    let start = Instant::now();
    let mut joined = String::new();
    while start.elapsed() < Duration::from_secs(5) {
        joined = gw.twirp("sipbridge.Calls/ListCalls", "{}", &[]).body;
        if joined.contains("secret") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        joined.contains("\"secret\""),
        "call joined the PIN room: {joined}"
    );
    sipp_ok(c, "pin caller");
    assert!(
        gw.metrics()
            .contains("sipbridge_calls_started_total{direction=\"inbound\"} 1")
    );
}

#[test]
fn invite_flood_from_one_source_gets_503() {
    let gw = Gateway::start(
        "in-flood",
        &format!(
            "{}\n[inbound]\ninvites_per_source_per_s = 1\ninvite_burst_per_source = 1\n",
            open_trunk("flood", "", "")
        ),
    );
    // The first call takes the burst; an immediate second one is over the limit.
    let phone = Phone::new();
    let first = caller(
        &gw,
        "flood-1",
        "uac_inbound.xml",
        ("+15550009999", "+15550000001"),
        phone.port,
        2000,
        &[],
    );
    let _ = gateway_rtp_port("flood-1", Duration::from_secs(10));
    assert_eq!(refused_with(&gw, "flood-2", "+15550009999", &[]), 503);
    sipp_ok(first, "first caller");
    assert!(gw.metrics().contains(r#"reason="rate_limited""#));
}

/// A room server that accepts join requests and never answers them: the room leg of every
/// call stays "joining", so the caller keeps hearing ringing.
struct SilentRoomServer {
    addr: SocketAddr,
    joins: Arc<std::sync::atomic::AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl SilentRoomServer {
    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind room server");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let joins = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (j, s) = (joins.clone(), stop.clone());
        std::thread::spawn(move || {
            // Held open (unanswered) until the server stops; bounded by the test's calls.
            let mut held = Vec::new();
            while !s.load(Ordering::Relaxed) && held.len() < 64 {
                match listener.accept() {
                    Ok((conn, _)) => {
                        j.fetch_add(1, Ordering::Relaxed);
                        held.push(conn);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Self { addr, joins, stop }
    }

    /// `[rooms]` pointing at this server with a long join timeout, so that only the call's
    /// own deadlines (CANCEL, the trunk's ringing_timeout) end a join.
    fn rooms_config(&self) -> String {
        format!(
            "\n[rooms]\nkind = \"rtp\"\nurl = \"http://{}/join/{{room}}\"\njoin_timeout_ms = 60000\n",
            self.addr
        )
    }

    fn joins(&self) -> usize {
        self.joins.load(Ordering::Relaxed)
    }
}

impl Drop for SilentRoomServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The caller gives up while the room leg is still joining: 200 to the CANCEL, 487 to the
/// INVITE (RFC 3261 §9.2), counted as a caller cancel.
#[test]
fn caller_cancel_while_the_room_joins_gets_487() {
    let room = SilentRoomServer::start();
    let cfg = open_trunk("slow", "ringing_timeout_s = 30", "") + &room.rooms_config();
    let gw = Gateway::start("in-cancel", &cfg);
    let phone = Phone::new();
    let child = caller(
        &gw,
        "cancel",
        "uac_cancel.xml",
        ("+15550009999", "+15550000001"),
        phone.port,
        1000,
        &[],
    );
    let out = child.wait_for(Duration::from_secs(60));
    let log = sipp_log("cancel");
    assert!(
        out.status.success() && log.contains("final=487"),
        "CANCEL answered with 487 ({:?})\nSIPp log:\n{log}\nstderr:\n{}\ngateway log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        gw.log()
    );
    assert_eq!(
        room.joins(),
        1,
        "the room leg was joining when the caller cancelled"
    );
    let m = gw.metrics();
    assert!(m.contains(r#"reason="caller_cancel""#), "{m}");
    assert!(
        m.contains(r#"sipbridge_ring_duration_seconds_count{outcome="remote_hangup""#),
        "{m}"
    );
}

/// A room that does not join rings the caller for exactly the trunk's ringing_timeout (4 s
/// here: longer than any hidden 3 s default could allow), then 480 with the named cause
/// ring_no_answer.
#[test]
fn a_room_that_never_joins_rings_for_the_trunks_ringing_timeout_then_480() {
    let room = SilentRoomServer::start();
    let cfg = open_trunk("slow", "ringing_timeout_s = 4", "") + &room.rooms_config();
    let gw = Gateway::start("in-ringout", &cfg);
    let start = Instant::now();
    let code = refused_with(&gw, "ringout", "+15550009999", &[]);
    assert_eq!(code, 480, "gateway log:\n{}", gw.log());
    let rang = start.elapsed();
    assert!(rang >= Duration::from_secs(4), "rang only {rang:?}");
    // The room leg's own 60 s join timeout did not end it: the trunk's timer did.
    assert!(rang < Duration::from_secs(30), "rang {rang:?}");
    let m = gw.metrics();
    assert!(m.contains(r#"reason="room_join_timeout""#), "{m}");
    assert!(
        m.contains(r#"timeout_cause="ring_no_answer""#) && m.contains(r#"sip_code="480""#),
        "{m}"
    );
}

/// The management API end to end: a trunk and a rule created through `livekit.SIP` survive
/// a restart (SIGKILL, so nothing but the database's own commits can save them), take a call
/// into their room, and once deleted take no more calls.
#[test]
fn trunks_and_rules_made_through_the_api_survive_a_restart_and_take_calls() {
    let mut gw = Gateway::start("in-manage", "\n[data]\ndir = \"data\"\n");
    let json = |r: sipbridge_e2e::HttpResponse| -> serde_json::Value {
        assert_eq!(r.status, 200, "{}", r.body);
        serde_json::from_str(&r.body).expect("JSON response")
    };
    let trunk = json(gw.twirp(
        "livekit.SIP/CreateSIPInboundTrunk",
        r#"{"trunk":{"name":"api trunk","numbers":["+15557770000"],"allowedAddresses":["127.0.0.0/8"]}}"#,
        &[],
    ));
    let trunk_id = trunk["sipTrunkId"].as_str().expect("trunk id").to_owned();
    let rule = json(gw.twirp(
        "livekit.SIP/CreateSIPDispatchRule",
        &format!(
            r#"{{"dispatchRule":{{"name":"api rule","trunkIds":["{trunk_id}"],"rule":{{"dispatchRuleDirect":{{"roomName":"api-room"}}}}}}}}"#
        ),
        &[],
    ));
    let rule_id = rule["sipDispatchRuleId"]
        .as_str()
        .expect("rule id")
        .to_owned();

    gw.restart();

    let trunks = json(gw.twirp("livekit.SIP/ListSIPInboundTrunk", "{}", &[]));
    assert_eq!(
        trunks["items"][0]["sipTrunkId"],
        trunk_id.as_str(),
        "{trunks}"
    );
    assert_eq!(trunks["items"][0]["numbers"][0], "+15557770000", "{trunks}");
    let rules = json(gw.twirp("livekit.SIP/ListSIPDispatchRule", "{}", &[]));
    assert_eq!(
        rules["items"][0]["sipDispatchRuleId"],
        rule_id.as_str(),
        "{rules}"
    );

    // A call to the trunk's number joins the rule's room.
    let phone = Phone::new();
    let c = caller(
        &gw,
        "manage",
        "uac_inbound.xml",
        ("+15557770000", "+15550000001"),
        phone.port,
        3000,
        &[],
    );
    let _ = gateway_rtp_port("manage", Duration::from_secs(10));
    let calls = gw.twirp("sipbridge.Calls/ListCalls", "{}", &[]).body;
    assert!(
        calls.contains("\"api-room\""),
        "call joined the API rule's room: {calls}"
    );
    sipp_ok(c, "caller into the API trunk");

    // Deleted, and still deleted after another restart: the number is unknown again.
    json(gw.twirp(
        "livekit.SIP/DeleteSIPDispatchRule",
        &format!(r#"{{"sipDispatchRuleId":"{rule_id}"}}"#),
        &[],
    ));
    json(gw.twirp(
        "livekit.SIP/DeleteSIPTrunk",
        &format!(r#"{{"sipTrunkId":"{trunk_id}"}}"#),
        &[],
    ));
    gw.restart();
    let trunks = json(gw.twirp("livekit.SIP/ListSIPInboundTrunk", "{}", &[]));
    assert!(
        trunks["items"].as_array().is_none_or(Vec::is_empty),
        "{trunks}"
    );
    assert_eq!(refused_with(&gw, "manage-gone", "+15557770000", &[]), 404);
}

/// An inbound caller `a` in room `xfer` with a listener `b`, transferred with
/// `play_dialtone` to a target that rings 2.5 s and then answers with `final` (e.g.
/// "200 OK"). `a` talks (1 kHz) all along. Checks that `b` hears `a` before the transfer
/// and ringback, not `a`, while it runs. Returns the gateway, both SIPp callers, the
/// transfer's response, `a`'s call id, and `b`'s phone (cleared as the transfer ended).
fn transfer_inbound_caller(
    name: &str,
    final_status: &str,
) -> (
    Gateway,
    Child,
    Child,
    sipbridge_e2e::HttpResponse,
    String,
    Phone,
) {
    let gw = Gateway::start(name, &open_trunk("xfer", "", ""));
    let (mut a, mut b) = (Phone::new(), Phone::new());
    let listener = caller(
        &gw,
        &format!("{name}-b"),
        "uac_inbound.xml",
        ("+15550009999", "+15550000002"),
        b.port,
        9000,
        &[],
    );
    let transferee = caller(
        &gw,
        &format!("{name}-a"),
        "uac_transferee.xml",
        ("+15550009999", "+15550000001"),
        a.port,
        2500,
        &["-key", "final", final_status],
    );
    let pa = gw_rtp(gateway_rtp_port(
        &format!("{name}-a"),
        Duration::from_secs(10),
    ));
    let pb = gw_rtp(gateway_rtp_port(
        &format!("{name}-b"),
        Duration::from_secs(10),
    ));
    b.send_tone(pb, 600.0, 200);
    let calls = gw.twirp("sipbridge.Calls/ListCalls", r#"{"room_name":"xfer"}"#, &[]);
    let calls: serde_json::Value = serde_json::from_str(&calls.body).expect("JSON");
    let a_call = calls["calls"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["fromNumber"] == "+15550000001"))
        .unwrap_or_else(|| panic!("a's call in {calls}"))
        .clone();
    let identity = a_call["participantIdentity"].as_str().expect("identity");
    // A talks (1 kHz) all along; the room hears it before the transfer ...
    std::thread::spawn(move || a.send_tone(pa, 1000.0, 5000));
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        tone_fraction(&b.heard(), RATE, 1000.0) > 0.5,
        "b hears a before the transfer"
    );
    b.clear();
    let start = Instant::now();
    let res = gw.twirp(
        "livekit.SIP/TransferSIPParticipant",
        &format!(
            r#"{{"participant_identity":"{identity}","room_name":"xfer","transfer_to":"tel:+15550188","play_dialtone":true,"ringing_timeout":"10s"}}"#
        ),
        &[],
    );
    let took = start.elapsed();
    let during = b.heard();
    b.clear();
    assert!(
        took >= Duration::from_millis(2500),
        "{took:?}: {}",
        res.body
    );
    // ... and ringback, not a, while a reaches the target (the first 300 ms skipped: the
    // REFER's round trip and the tone's start; within the tone's first 2 s "on").
    assert!(during.len() > 16_000, "b heard {} samples", during.len());
    let tail = &during[2400..16_000];
    let ringback = tone_fraction(tail, RATE, 440.0) + tone_fraction(tail, RATE, 480.0);
    assert!(ringback > 0.8, "ringback {ringback:.2} of what b heard");
    assert!(
        tone_fraction(tail, RATE, 1000.0) < 0.05,
        "b does not hear a during the transfer"
    );
    let a_id = a_call["callId"].as_str().expect("call id").to_owned();
    (gw, transferee, listener, res, a_id, b)
}

/// `a`'s call record once it ended.
fn ended_call(gw: &Gateway, call_id: &str) -> String {
    let mut info = String::new();
    for _ in 0..100 {
        info = gw
            .twirp(
                "sipbridge.Calls/GetCall",
                &format!(r#"{{"call_id":"{call_id}"}}"#),
                &[],
            )
            .body;
        if info.contains("endCause") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    info
}

/// `TransferSIPParticipant` with `play_dialtone` on an inbound caller: while the phone
/// reaches the target, the rest of the room hears ringback (440 + 480 Hz) instead of the
/// phone; on the target's 200 (reported by NOTIFY) the gateway leaves the call with BYE and
/// records it as transferred.
#[test]
fn an_inbound_caller_is_transferred_with_ringback_in_the_room() {
    let (gw, transferee, listener, res, a_id, _b) = transfer_inbound_caller("in-xfer", "200 OK");
    assert_eq!(res.status, 200, "{}\n{}", res.body, gw.log());
    assert!(res.body.contains("STS_TRANSFER_SUCCESSFUL"), "{}", res.body);
    sipp_ok(transferee, "transferee");
    let info = ended_call(&gw, &a_id);
    assert!(info.contains(r#""endCause":"transferred""#), "{info}");
    sipp_ok(listener, "listener");
}

/// The same transfer to a busy target: it fails with 486, the ringback stops and the room
/// hears the phone again on the same stream; the call stays until it is hung up.
#[test]
fn a_failed_transfer_gives_the_room_the_phone_back() {
    let (gw, transferee, listener, res, a_id, b) =
        transfer_inbound_caller("in-xfer-busy", "486 Busy Here");
    assert_eq!(res.status, 429, "{}\n{}", res.body, gw.log());
    assert!(
        res.body.contains(r#""sip_status_code":"486""#),
        "{}",
        res.body
    );
    std::thread::sleep(Duration::from_millis(1300));
    let after = b.heard();
    assert!(after.len() > 8000, "b heard {} samples", after.len());
    let tail = &after[2400..];
    assert!(
        tone_fraction(tail, RATE, 1000.0) > 0.5,
        "b hears a again after the failed transfer"
    );
    let ringback = tone_fraction(tail, RATE, 440.0) + tone_fraction(tail, RATE, 480.0);
    assert!(ringback < 0.05, "ringback {ringback:.2} after the transfer");
    let hung = gw.twirp(
        "sipbridge.Calls/HangupCall",
        &format!(r#"{{"call_id":"{a_id}"}}"#),
        &[],
    );
    assert_eq!(hung.status, 200, "{}", hung.body);
    sipp_ok(transferee, "transferee");
    let info = ended_call(&gw, &a_id);
    assert!(info.contains(r#""endCause":"api_hangup""#), "{info}");
    sipp_ok(listener, "listener");
}

/// A caller that holds the call with a re-INVITE (`a=inactive`), stays on hold for 4 s and
/// resumes with its first description again (as a session refresh looks, RFC 4028) gets a
/// 200 with a matching answer each time, and no media while on hold. It sends no RTP at all. With a 2 s first-packet
/// timeout the call survives the hold (the timeouts pause while the phone says it will not
/// send) and ends at the timeout counted from the resume: `media_timeout`.
#[test]
fn a_held_call_is_not_ended_as_silent_and_resumes() {
    let gw = Gateway::start_with_media_timeouts("in-hold", &open_trunk("hold", "", ""), [2, 60]);
    let phone = Phone::new();
    let start = Instant::now();
    let holder = caller(
        &gw,
        "hold",
        "uac_hold.xml",
        ("+15550009999", "+15550000003"),
        phone.port,
        4000,
        &[],
    );
    // On hold (`a=inactive`: we answered inactive) the phone gets no media (RFC 3264 §6.1);
    // after the resume it does again.
    wait_for_log(&gw, "hold", "held: a=inactive");
    std::thread::sleep(Duration::from_millis(300));
    phone.clear();
    std::thread::sleep(Duration::from_millis(2000));
    let during_hold = phone.heard().len();
    wait_for_log(&gw, "hold", "resumed: a=sendrecv");
    phone.clear();
    std::thread::sleep(Duration::from_millis(1000));
    let after_resume = phone.heard().len();
    assert_eq!(during_hold, 0, "the phone got media while on hold");
    // The room sends each participant its mix (silence here) every 20 ms.
    assert!(
        after_resume > 4000,
        "{after_resume} samples after the resume"
    );
    let out = holder.wait_for(Duration::from_secs(60));
    let took = start.elapsed();
    let log = sipp_log("hold");
    assert!(
        out.status.success(),
        "SIPp failed ({:?})\n{log}\nstderr:\n{}\ngateway log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        gw.log()
    );
    assert!(log.contains("held: a=inactive"), "{log}");
    assert!(log.contains("resumed: a=sendrecv"), "{log}");
    // 4 s on hold, then the 2 s first-packet timeout from the resume.
    assert!(took >= Duration::from_secs(6), "BYE after {took:?}");
    let calls = gw.twirp(
        "sipbridge.Calls/ListCalls",
        r#"{"include_ended":true}"#,
        &[],
    );
    assert!(calls.body.contains("media_timeout"), "{}", calls.body);
}

/// A re-INVITE without an offer (RFC 3261 §14.2): the gateway's 200 carries its offer
/// (`sendrecv`) and the ACK the answer, which here moves the phone's media to another port:
/// the room's audio then goes there and no longer to the first one.
#[test]
fn an_offerless_reinvite_is_answered_in_the_ack_and_moves_the_media() {
    let gw = Gateway::start("in-offerless", &open_trunk("offerless", "", ""));
    let (first, second) = (Phone::new(), Phone::new());
    let port2 = second.port.to_string();
    let phone = caller(
        &gw,
        "offerless",
        "uac_offerless.xml",
        ("+15550009999", "+15550000004"),
        first.port,
        3000,
        &["-key", "phone_rtp2", &port2],
    );
    wait_for_log(&gw, "offerless", "offered: a=sendrecv");
    std::thread::sleep(Duration::from_millis(500));
    first.clear();
    second.clear();
    std::thread::sleep(Duration::from_millis(1000));
    let (to_first, to_second) = (first.heard().len(), second.heard().len());
    sipp_ok(phone, "caller");
    // The room sends each participant its mix (silence here) every 20 ms.
    assert!(to_second > 4000, "{to_second} samples at the new port");
    assert_eq!(to_first, 0, "media still went to the old port");
}
