//! Interop on loopback: sipbridge's SIP stack (the gateway's tokio shell around `sip-core`)
//! against real SIPp processes, over UDP and TCP.
//!
//! - sipbridge UAC → SIPp's built-in `uas`;
//! - sipbridge UAC → `tests/sipp/uas_ring.xml` (rings for N seconds, then answers) and
//!   `tests/sipp/uas_no_answer.xml` (never answers: exactly one CANCEL expected);
//! - SIPp's built-in `uac` → sipbridge UAS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gateway::sip::shell::{self, ShellConfig, SipHandle};
use sip_core::{Body, EndReason, Endpoint, Event, InviteOptions, Reply, TimeoutCause, Transport};
use sipbridge_e2e::{free_port, scenario, sipp};
use tokio::sync::mpsc;

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

async fn start_stack() -> (SipHandle, mpsc::Receiver<Event>) {
    let config = ShellConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        udp_recv_buffer: 1 << 20,
        tcp_idle_timeout: Duration::from_secs(30),
        tcp_connect_timeout: Duration::from_secs(32),
        limits: Default::default(),
    };
    let (events_tx, events) = mpsc::channel(1024);
    let handle = shell::start(
        config,
        |local| Endpoint::new(sip_core::Config::new("127.0.0.1", local.port()), 7),
        events_tx,
    )
    .await
    .expect("start SIP shell");
    (handle, events)
}

fn invite_options(transport: Transport, dest: SocketAddr, ringing: Duration) -> InviteOptions {
    InviteOptions {
        transport,
        destination: dest,
        request_uri: format!("sip:+15550001111@{dest}"),
        from: "<sip:+15550002222@127.0.0.1>".to_owned(),
        to: format!("<sip:+15550001111@{dest}>"),
        contact: None,
        route: Vec::new(),
        headers: Vec::new(),
        body: Some(Body::sdp(SDP)),
        ringing_timeout: ringing,
        credentials: None,
        call_id: None,
    }
}

/// What happened to one outbound call.
#[derive(Debug)]
struct Outcome {
    answered_after: Option<Duration>,
    ended: EndReason,
}

/// Places one call and follows it to its end; hangs up `hold` after an answer.
async fn place_call(
    handle: &SipHandle,
    events: &mut mpsc::Receiver<Event>,
    opts: InviteOptions,
    hold: Duration,
) -> Outcome {
    let start = Instant::now();
    let call = handle
        .with(move |ep, now| ep.invite(now, opts))
        .await
        .expect("driver")
        .expect("invite");
    let mut answered_after = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("call did not end within 60 s")
            .expect("event channel open");
        match event {
            Event::Answered { call: c, .. } if c == call => {
                answered_after = Some(start.elapsed());
                tokio::time::sleep(hold).await;
                handle
                    .with(move |ep, now| ep.hangup(now, call))
                    .await
                    .expect("driver")
                    .expect("hangup");
            }
            Event::Ended { call: c, reason } if c == call => {
                return Outcome {
                    answered_after,
                    ended: reason,
                };
            }
            _ => {}
        }
    }
}

fn sipp_addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

async fn uac_against_builtin_uas(transport: Transport, flag: &str) {
    let (handle, mut events) = start_stack().await;
    let port = free_port();
    let peer = sipp(
        &[
            "-sn",
            "uas",
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            flag,
            "-m",
            "1",
        ],
        30,
    );
    // SIPp needs a moment to bind; the INVITE retransmits (UDP) or reconnect is not needed
    // because we only send once it listens.
    wait_listening(port, transport).await;
    let opts = invite_options(transport, sipp_addr(port), Duration::from_secs(30));
    let outcome = place_call(&handle, &mut events, opts, Duration::from_millis(200)).await;
    assert!(outcome.answered_after.is_some(), "{outcome:?}");
    assert_eq!(outcome.ended, EndReason::LocalBye);
    let out = tokio::task::spawn_blocking(move || peer.wait_for(Duration::from_secs(30)))
        .await
        .expect("join");
    assert!(
        out.status.success(),
        "sipp uas failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn wait_listening(port: u16, transport: Transport) {
    for _ in 0..200 {
        let busy = match transport {
            Transport::Udp => std::net::UdpSocket::bind(("127.0.0.1", port)).is_err(),
            _ => tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok(),
        };
        if busy {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("sipp did not start listening on {port}");
}

#[tokio::test]
async fn uac_to_sipp_uas_udp() {
    uac_against_builtin_uas(Transport::Udp, "u1").await;
}

#[tokio::test]
async fn uac_to_sipp_uas_tcp() {
    uac_against_builtin_uas(Transport::Tcp, "t1").await;
}

async fn ringing_callee(
    transport: Transport,
    flag: &str,
    ring: Duration,
    timeout: Duration,
) -> Outcome {
    let (handle, mut events) = start_stack().await;
    let port = free_port();
    let (xml, ring_ms) = match ring {
        Duration::MAX => (scenario("uas_no_answer.xml"), 0),
        d => (scenario("uas_ring.xml"), d.as_millis()),
    };
    let xml = xml.to_string_lossy().into_owned();
    let peer = sipp(
        &[
            "-sf",
            &xml,
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            flag,
            "-m",
            "1",
            "-d",
            &ring_ms.to_string(),
        ],
        60,
    );
    wait_listening(port, transport).await;
    let opts = invite_options(transport, sipp_addr(port), timeout);
    let outcome = place_call(&handle, &mut events, opts, Duration::from_millis(100)).await;
    let out = tokio::task::spawn_blocking(move || peer.wait_for(Duration::from_secs(60)))
        .await
        .expect("join");
    assert!(
        out.status.success(),
        "sipp scenario failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    outcome
}

#[tokio::test]
async fn callee_answering_one_second_before_the_ringing_timeout_is_answered() {
    let ringing_timeout = Duration::from_secs(4);
    let outcome = ringing_callee(
        Transport::Udp,
        "u1",
        ringing_timeout - Duration::from_secs(1),
        ringing_timeout,
    )
    .await;
    let answered = outcome.answered_after.expect("answered");
    assert!(answered >= Duration::from_millis(2900), "{answered:?}");
    assert_eq!(outcome.ended, EndReason::LocalBye);
}

#[tokio::test]
async fn callee_that_never_answers_is_cancelled_once_at_the_ringing_timeout_udp() {
    let outcome = ringing_callee(Transport::Udp, "u1", Duration::MAX, Duration::from_secs(3)).await;
    assert_eq!(outcome.answered_after, None);
    assert_eq!(
        outcome.ended,
        EndReason::Timeout(TimeoutCause::RingNoAnswer)
    );
}

#[tokio::test]
async fn callee_that_never_answers_is_cancelled_once_at_the_ringing_timeout_tcp() {
    let outcome = ringing_callee(Transport::Tcp, "t1", Duration::MAX, Duration::from_secs(2)).await;
    assert_eq!(
        outcome.ended,
        EndReason::Timeout(TimeoutCause::RingNoAnswer)
    );
}

/// Answers every incoming call: 180, then 200 with SDP; replies 200 to other requests.
/// Counts confirmed calls and calls ended by the caller's BYE into `counts`.
async fn auto_answer(
    handle: SipHandle,
    mut events: mpsc::Receiver<Event>,
    counts: Arc<[AtomicUsize; 2]>,
) {
    while let Some(event) = events.recv().await {
        match event {
            Event::IncomingCall { call, .. } => {
                handle
                    .with(move |ep, now| {
                        ep.respond(now, call, Reply::status(180))?;
                        ep.respond(now, call, Reply::with_body(200, Body::sdp(SDP)))
                    })
                    .await
                    .expect("driver")
                    .expect("respond");
            }
            Event::Request { request, .. } => {
                handle
                    .with(move |ep, now| ep.reply(now, request, Reply::status(200)))
                    .await
                    .expect("driver")
                    .expect("reply");
            }
            Event::Confirmed { .. } => {
                counts[0].fetch_add(1, Ordering::SeqCst);
            }
            Event::Ended {
                reason: EndReason::RemoteBye,
                ..
            } => {
                counts[1].fetch_add(1, Ordering::SeqCst);
            }
            _ => {}
        }
    }
}

async fn sipp_uac_to_uas(flag: &str) {
    let (handle, events) = start_stack().await;
    let target = handle.local_addr().to_string();
    let calls = 20;
    let counts = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let tu = tokio::spawn(auto_answer(handle.clone(), events, counts.clone()));
    let port = free_port().to_string();
    let calls_s = calls.to_string();
    let args = vec![
        "-sn".to_owned(),
        "uac".to_owned(),
        target,
        "-i".to_owned(),
        "127.0.0.1".to_owned(),
        "-p".to_owned(),
        port,
        "-t".to_owned(),
        flag.to_owned(),
        "-m".to_owned(),
        calls_s,
        "-r".to_owned(),
        "10".to_owned(),
        "-d".to_owned(),
        "100".to_owned(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        sipp(&args, 60).wait_for(Duration::from_secs(60))
    })
    .await
    .expect("join");
    assert!(
        out.status.success(),
        "sipp uac failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    tu.abort();
    assert_eq!(
        counts[0].load(Ordering::SeqCst),
        calls,
        "calls confirmed by ACK"
    );
    assert_eq!(
        counts[1].load(Ordering::SeqCst),
        calls,
        "calls ended by the caller's BYE"
    );
}

#[tokio::test]
async fn sipp_uac_to_uas_udp() {
    sipp_uac_to_uas("u1").await;
}

#[tokio::test]
async fn sipp_uac_to_uas_tcp() {
    sipp_uac_to_uas("t1").await;
}
