//! End to end: `CreateSIPParticipant` against the real `sipbridge` binary and real SIPp
//! callees on loopback (issue: create SIP participants).
//!
//! The slow callees are the point (DESIGN.md §7): answers after 0 s, 5 s and 25 s with the
//! default 30 s ringing timeout must all succeed, and a callee that never answers must ring
//! for exactly its `ringing_timeout`, get exactly one INVITE and one CANCEL, and be reported
//! as `ring_no_answer`.

use std::time::{Duration, Instant};

use sipbridge_e2e::{Gateway, free_port, scenario, sipp};

/// A trunk named `ST_test` pointing at a SIPp peer on `port`.
fn trunk(port: u16, extra: &str) -> String {
    format!(
        r#"
[[outbound_trunks]]
sip_trunk_id = "ST_test"
address = "127.0.0.1:{port}"
transport = "udp"
numbers = ["+15550100000"]
{extra}
"#
    )
}

fn create_json(room: &str, wait: bool, ringing_timeout: Option<&str>) -> String {
    let ringing = ringing_timeout
        .map(|t| format!(r#","ringing_timeout":"{t}""#))
        .unwrap_or_default();
    format!(
        r#"{{"sip_trunk_id":"ST_test","sip_call_to":"+15550199999","room_name":"{room}","wait_until_answered":{wait}{ringing}}}"#
    )
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// Starts SIPp with a scenario (`ring_ms` is its `-d`), then the gateway with a trunk to it.
fn callee(
    name: &str,
    xml: &str,
    ring_ms: u64,
    trunk_extra: &str,
) -> (Gateway, sipbridge_e2e::Child) {
    let (port, peer) = sipp_callee(name, xml, ring_ms, &[]);
    let gw = Gateway::start(name, &trunk(port, trunk_extra));
    (gw, peer)
}

/// Starts SIPp answering one call with a scenario (`ring_ms` is its `-d`; `extra` more
/// arguments, e.g. `-key`), tracing its messages for [`sipp_messages`]; returns its SIP port.
fn sipp_callee(name: &str, xml: &str, ring_ms: u64, extra: &[&str]) -> (u16, sipbridge_e2e::Child) {
    let port = free_port();
    let xml = scenario(xml).to_string_lossy().into_owned();
    let (port_s, ring_s) = (port.to_string(), ring_ms.to_string());
    let log = std::env::temp_dir().join(format!("sipp-{name}-{}.log", std::process::id()));
    let log = log.to_string_lossy();
    let mut args = vec![
        "-sf",
        &xml,
        "-i",
        "127.0.0.1",
        "-p",
        &port_s,
        "-m",
        "1",
        "-d",
        &ring_s,
        "-trace_msg",
        "-message_file",
        &log,
    ];
    args.extend_from_slice(extra);
    (port, sipp(&args, 90))
}

/// Waits (at most 30 s) for SIPp to finish its scenario and checks that it passed.
fn sipp_passed(peer: sipbridge_e2e::Child, gw: &Gateway) {
    let out = peer.wait_for(Duration::from_secs(30));
    assert!(
        out.status.success(),
        "sipp: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        gw.log()
    );
}

fn sipp_messages(name: &str) -> String {
    std::fs::read_to_string(
        std::env::temp_dir().join(format!("sipp-{name}-{}.log", std::process::id())),
    )
    .unwrap_or_default()
}

/// Counts requests of `method` that SIPp received (its message trace logs each one once).
fn received(log: &str, method: &str) -> usize {
    log.split("message received")
        .skip(1)
        .filter(|m| {
            m.lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with('['))
                .is_some_and(|l| l.starts_with(&format!("{method} ")))
        })
        .count()
}

fn sync_answer_after(name: &str, ring: Duration) {
    let (gw, peer) = callee(name, "uas_ring.xml", ring.as_millis() as u64, "");
    let start = Instant::now();
    let res = gw.twirp(
        "livekit.SIP/CreateSIPParticipant",
        &create_json(name, true, None),
        &[],
    );
    let took = start.elapsed();
    assert_eq!(res.status, 200, "{}\n{}", res.body, gw.log());
    assert!(
        took >= ring,
        "answered after {took:?}, callee rang {ring:?}"
    );
    assert!(
        took < ring + Duration::from_secs(3),
        "answered after {took:?}"
    );
    let info = json(&res.body);
    let call_id = info["sipCallId"].as_str().expect("sipCallId").to_owned();
    assert!(call_id.starts_with("SCL_"), "{info}");
    // Hang up through the extension API; the callee sees BYE and its scenario completes.
    let hung = gw.twirp(
        "sipbridge.Calls/HangupCall",
        &format!(r#"{{"call_id":"{call_id}"}}"#),
        &[],
    );
    assert_eq!(hung.status, 200, "{}", hung.body);
    sipp_passed(peer, &gw);
}

#[test]
fn sync_create_answered_at_once() {
    sync_answer_after("answer0", Duration::ZERO);
}

#[test]
fn sync_create_answered_after_5_s() {
    sync_answer_after("answer5", Duration::from_secs(5));
}

#[test]
fn sync_create_answered_after_25_s_with_the_default_ringing_timeout() {
    sync_answer_after("answer25", Duration::from_secs(25));
}

#[test]
fn never_answered_rings_exactly_ringing_timeout_then_one_cancel() {
    let name = "noanswer";
    let (gw, peer) = callee(name, "uas_no_answer.xml", 0, "");
    let start = Instant::now();
    let res = gw.twirp(
        "livekit.SIP/CreateSIPParticipant",
        &create_json(name, true, Some("10s")),
        &[],
    );
    let took = start.elapsed();
    assert_eq!(res.status, 408, "{}", res.body);
    let err = json(&res.body);
    assert_eq!(err["code"], "deadline_exceeded", "{err}");
    assert_eq!(err["meta"]["timeout_cause"], "ring_no_answer", "{err}");
    assert!(took >= Duration::from_secs(10), "rang only {took:?}");
    // Answered within 1 s of the timer firing (SDK clients allow ringing_timeout + 2 s).
    assert!(took < Duration::from_secs(11), "answered after {took:?}");
    sipp_passed(peer, &gw);
    let log = sipp_messages(name);
    assert_eq!(received(&log, "INVITE"), 1, "{log}");
    assert_eq!(received(&log, "CANCEL"), 1, "{log}");
    let metrics = gw.metrics();
    assert!(
        metrics.contains("timeout_cause=\"ring_no_answer\""),
        "{metrics}"
    );
}

#[test]
fn busy_callee_maps_to_resource_exhausted_with_the_sip_status() {
    let name = "busy";
    let (gw, peer) = callee(name, "uas_busy.xml", 0, "");
    let res = gw.twirp(
        "livekit.SIP/CreateSIPParticipant",
        &create_json(name, true, None),
        &[],
    );
    assert_eq!(res.status, 429, "{}", res.body);
    let err = json(&res.body);
    assert_eq!(err["code"], "resource_exhausted", "{err}");
    assert_eq!(err["meta"]["sip_status_code"], "486", "{err}");
    sipp_passed(peer, &gw);
}

#[test]
fn proxy_authentication_challenge_is_answered() {
    let name = "auth";
    let (gw, peer) = callee(
        name,
        "uas_auth.xml",
        0,
        "auth_username = \"trunkuser\"\nauth_password = \"trunkpass\"",
    );
    let res = gw.twirp(
        "livekit.SIP/CreateSIPParticipant",
        &create_json(name, true, None),
        &[],
    );
    assert_eq!(res.status, 200, "{}\n{}", res.body, gw.log());
    let call_id = json(&res.body)["sipCallId"]
        .as_str()
        .expect("id")
        .to_owned();
    let hung = gw.twirp(
        "sipbridge.Calls/HangupCall",
        &format!(r#"{{"call_id":"{call_id}"}}"#),
        &[],
    );
    assert_eq!(hung.status, 200);
    sipp_passed(peer, &gw);
    let log = sipp_messages(name);
    assert_eq!(
        received(&log, "INVITE"),
        2,
        "one challenged, one authorized: {log}"
    );
}

#[test]
fn async_create_returns_at_once_and_the_call_goes_on_until_the_callee_hangs_up() {
    let name = "async";
    // Rings 2 s, answers, and hangs up 1 s later (uas_ring answers after -d; uas_hangup
    // hangs up after -d): use the hang-up callee with a 1 s talk time.
    let (gw, peer) = callee(name, "uas_hangup.xml", 1000, "");
    let start = Instant::now();
    let res = gw.twirp(
        "livekit.SIP/CreateSIPParticipant",
        &create_json(name, false, None),
        &[],
    );
    assert_eq!(res.status, 200, "{}\n{}", res.body, gw.log());
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    let call_id = json(&res.body)["sipCallId"]
        .as_str()
        .expect("id")
        .to_owned();
    sipp_passed(peer, &gw);
    // The callee hung up: the call ended with remote_hangup.
    let info = call_when(&gw, &call_id, "endCause", "remote_hangup");
    assert_eq!(info["endCause"], "remote_hangup", "{info}");
    let metrics = gw.metrics();
    assert!(metrics.contains("outcome=\"remote_hangup\""), "{metrics}");
    assert!(
        metrics.contains("sipbridge_call_duration_seconds"),
        "{metrics}"
    );
}

#[test]
fn duplicate_create_with_the_same_request_id_dials_once() {
    let name = "dup";
    let (gw, peer) = callee(name, "uas_hangup.xml", 1000, "");
    let body = create_json(name, true, None);
    let headers = [("X-Livekit-Request-Id", "req-dup-1")];
    let (a, b) = std::thread::scope(|s| {
        let first = s.spawn(|| gw.twirp("livekit.SIP/CreateSIPParticipant", &body, &headers));
        std::thread::sleep(Duration::from_millis(50));
        let second = s.spawn(|| gw.twirp("livekit.SIP/CreateSIPParticipant", &body, &headers));
        (first.join().expect("first"), second.join().expect("second"))
    });
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(b.status, 200, "{}", b.body);
    assert_eq!(json(&a.body)["sipCallId"], json(&b.body)["sipCallId"]);
    sipp_passed(peer, &gw);
    assert_eq!(received(&sipp_messages(name), "INVITE"), 1);
}

/// A callee that answers and never sends RTP: the media engine's first-packet timeout
/// (`[rtp] first_packet_timeout_s`, 2 s here) ends the call with a BYE, reported as a
/// timeout with the named cause `media_timeout`, not earlier than the timeout.
#[test]
fn silent_callee_is_hung_up_at_the_first_packet_timeout() {
    let name = "silent";
    let (port, peer) = sipp_callee(name, "uas_ring.xml", 0, &[]);
    let gw = Gateway::start_with_media_timeouts(name, &trunk(port, ""), [2, 60]);
    let res = gw.twirp(
        "livekit.SIP/CreateSIPParticipant",
        &create_json(name, true, None),
        &[],
    );
    assert_eq!(res.status, 200, "{}\n{}", res.body, gw.log());
    let answered = Instant::now();
    let call_id = json(&res.body)["sipCallId"]
        .as_str()
        .expect("id")
        .to_owned();
    // The gateway's BYE completes the callee's scenario.
    let out = peer.wait_for(Duration::from_secs(30));
    let hung_up_after = answered.elapsed();
    assert!(
        out.status.success(),
        "sipp: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        gw.log()
    );
    // SIPp exits after its 1 s timewait.
    assert!(
        hung_up_after >= Duration::from_secs(2) && hung_up_after < Duration::from_secs(8),
        "BYE after {hung_up_after:?}"
    );
    let info = call_when(&gw, &call_id, "endCause", "timeout");
    let text = info.to_string();
    assert!(text.contains("\"timeout\""), "{text}");
    assert!(text.contains("media_timeout"), "{text}");
    let metrics = gw.metrics();
    assert!(
        metrics.contains(r#"timeout_cause="media_timeout""#),
        "{metrics}"
    );
    // The media engine's worker noticed the silence (not the SIP side or the room).
    let log = gw.log();
    assert!(log.contains("no media from the phone"), "{log}");
}

// ---- Transfers: TransferSIPParticipant → REFER (RFC 3515) to the answered callee ----

const TRANSFER_TO: &str = "sip:+15550188@example.com";

/// A callee (`xml`) answered through a sync create; returns the gateway, SIPp, the call id
/// and the participant's identity. `sipp_extra` goes to SIPp (e.g. `-key final "200 OK"`).
fn answered_transferee(
    name: &str,
    xml: &str,
    ring_ms: u64,
    sipp_extra: &[&str],
) -> (Gateway, sipbridge_e2e::Child, String, String) {
    let (port, peer) = sipp_callee(name, xml, ring_ms, sipp_extra);
    let gw = Gateway::start(name, &trunk(port, ""));
    let res = gw.twirp(
        "livekit.SIP/CreateSIPParticipant",
        &create_json(name, true, None),
        &[],
    );
    assert_eq!(res.status, 200, "{}\n{}", res.body, gw.log());
    let info = json(&res.body);
    let call_id = info["sipCallId"].as_str().expect("sipCallId").to_owned();
    let identity = info["participantIdentity"]
        .as_str()
        .expect("participantIdentity")
        .to_owned();
    (gw, peer, call_id, identity)
}

fn transfer(
    gw: &Gateway,
    room: &str,
    identity: &str,
    ringing: Option<&str>,
) -> sipbridge_e2e::HttpResponse {
    let ringing = ringing
        .map(|t| format!(r#","ringing_timeout":"{t}""#))
        .unwrap_or_default();
    gw.twirp(
        "livekit.SIP/TransferSIPParticipant",
        &format!(
            r#"{{"participant_identity":"{identity}","room_name":"{room}","transfer_to":"{TRANSFER_TO}"{ringing}}}"#
        ),
        &[],
    )
}

/// The call's record once `field` of it equals `value` (polled for up to 5 s).
fn call_when(gw: &Gateway, call_id: &str, field: &str, value: &str) -> serde_json::Value {
    let mut info = serde_json::Value::Null;
    for _ in 0..100 {
        let got = gw.twirp(
            "sipbridge.Calls/GetCall",
            &format!(r#"{{"call_id":"{call_id}"}}"#),
            &[],
        );
        info = json(&got.body);
        if info[field] == value {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    info
}

fn hang_up(gw: &Gateway, call_id: &str) {
    let hung = gw.twirp(
        "sipbridge.Calls/HangupCall",
        &format!(r#"{{"call_id":"{call_id}"}}"#),
        &[],
    );
    assert_eq!(hung.status, 200, "{}", hung.body);
}

/// The slow transfer target (DESIGN.md §7): it answers after 5 s within the default 30 s
/// ringing timeout, so the transfer succeeds then (not earlier, not with a timeout), the
/// gateway leaves the call with BYE, and exactly one REFER went out.
#[test]
fn transfer_to_a_target_answering_after_5_s_succeeds_and_leaves_the_call() {
    let name = "xfer_ok";
    let (gw, peer, call_id, identity) = answered_transferee(
        name,
        "uas_transferee.xml",
        5000,
        &["-key", "final", "200 OK"],
    );
    let start = Instant::now();
    let res = transfer(&gw, name, &identity, None);
    let took = start.elapsed();
    assert_eq!(res.status, 200, "{}\n{}", res.body, gw.log());
    assert!(took >= Duration::from_secs(5), "succeeded after {took:?}");
    assert!(took < Duration::from_secs(8), "succeeded after {took:?}");
    let out = json(&res.body);
    assert!(
        out["transferId"]
            .as_str()
            .is_some_and(|id| id.starts_with("STR_")),
        "{out}"
    );
    assert_eq!(out["status"], "STS_TRANSFER_SUCCESSFUL", "{out}");
    assert_eq!(out["sipStatus"]["code"], "SIP_STATUS_OK", "{out}");
    // The gateway's BYE completes the callee's scenario.
    sipp_passed(peer, &gw);
    let info = call_when(&gw, &call_id, "endCause", "transferred");
    assert_eq!(info["endCause"], "transferred", "{info}");
    let log = sipp_messages(name);
    assert_eq!(received(&log, "REFER"), 1, "{log}");
    assert!(log.contains(&format!("Refer-To: <{TRANSFER_TO}>")), "{log}");
    let metrics = gw.metrics();
    assert!(
        metrics.contains(r#"sipbridge_transfers_total{outcome="succeeded"} 1"#),
        "{metrics}"
    );
}

#[test]
fn transfer_to_a_busy_target_fails_with_its_status_and_the_call_stays() {
    let name = "xfer_busy";
    let (gw, peer, call_id, identity) = answered_transferee(
        name,
        "uas_transferee.xml",
        0,
        &["-key", "final", "486 Busy Here"],
    );
    let res = transfer(&gw, name, &identity, None);
    assert_eq!(res.status, 429, "{}\n{}", res.body, gw.log());
    let err = json(&res.body);
    assert_eq!(err["code"], "resource_exhausted", "{err}");
    assert_eq!(err["meta"]["sip_status_code"], "486", "{err}");
    assert_eq!(err["meta"]["sip_status"], "Busy Here", "{err}");
    // The phone is still ours: the call goes on until it is hung up.
    let info = call_when(&gw, &call_id, "state", "CALL_STATE_ACTIVE");
    assert_eq!(info["state"], "CALL_STATE_ACTIVE", "{info}");
    hang_up(&gw, &call_id);
    sipp_passed(peer, &gw);
    let info = call_when(&gw, &call_id, "endCause", "api_hangup");
    assert_eq!(info["endCause"], "api_hangup", "{info}");
}

/// The transfer target rings past the request's `ringing_timeout`: the transfer fails at
/// that timeout with the named cause, the call stays, and the subscription's late final
/// NOTIFY is acknowledged (a 481 could make the phone end the dialog) without effect.
#[test]
fn transfer_whose_target_rings_past_ringing_timeout_is_ring_no_answer() {
    let name = "xfer_ring";
    let (gw, peer, call_id, identity) = answered_transferee(
        name,
        "uas_transferee.xml",
        4000,
        &["-key", "final", "200 OK"],
    );
    let start = Instant::now();
    let res = transfer(&gw, name, &identity, Some("2s"));
    let took = start.elapsed();
    assert_eq!(res.status, 408, "{}\n{}", res.body, gw.log());
    let err = json(&res.body);
    assert_eq!(err["code"], "deadline_exceeded", "{err}");
    assert_eq!(err["meta"]["timeout_cause"], "ring_no_answer", "{err}");
    assert!(took >= Duration::from_secs(2), "failed after {took:?}");
    assert!(took < Duration::from_secs(3), "failed after {took:?}");
    // Let the late final NOTIFY (4 s after the REFER) arrive before hanging up.
    std::thread::sleep(Duration::from_secs(4));
    let info = call_when(&gw, &call_id, "state", "CALL_STATE_ACTIVE");
    assert_eq!(info["state"], "CALL_STATE_ACTIVE", "{info}");
    hang_up(&gw, &call_id);
    sipp_passed(peer, &gw);
    let log = sipp_messages(name);
    assert!(!log.contains("SIP/2.0 481"), "{log}");
    let metrics = gw.metrics();
    assert!(
        metrics.contains(r#"sipbridge_transfers_total{outcome="ring_no_answer"} 1"#),
        "{metrics}"
    );
}

#[test]
fn a_refused_refer_fails_the_transfer_with_its_status() {
    let name = "xfer_refused";
    let (gw, peer, call_id, identity) =
        answered_transferee(name, "uas_transfer_refused.xml", 0, &[]);
    let res = transfer(&gw, name, &identity, None);
    assert_eq!(res.status, 403, "{}\n{}", res.body, gw.log());
    let err = json(&res.body);
    assert_eq!(err["code"], "permission_denied", "{err}");
    assert_eq!(err["meta"]["sip_status_code"], "603", "{err}");
    // Transferring someone who is not in a call is a clear not_found.
    let missing = transfer(&gw, name, "nobody", None);
    assert_eq!(missing.status, 404, "{}", missing.body);
    hang_up(&gw, &call_id);
    sipp_passed(peer, &gw);
}
