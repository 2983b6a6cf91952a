//! Transport and receipt rules (§8.2, §18.2, RFC 3581) and digest authentication both ways.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_core::{
    Algorithm, Body, Credentials, DigestParams, DigestServer, EndReason, Endpoint, Event, Reply,
    Transmit, Transport,
};
use support::{Action, Net, addr, config, header, incoming, invite_to};

const PEER: &str = "192.0.2.50:40000";

#[allow(clippy::too_many_arguments)]
fn request(
    method: &str,
    uri: &str,
    branch: &str,
    call_id: &str,
    to_tag: Option<&str>,
    cseq: u32,
    rport: bool,
    extra: &str,
) -> Bytes {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    let rport = if rport { ";rport" } else { "" };
    Bytes::from(format!(
        "{method} {uri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 10.0.0.9:5070;branch={branch}{rport}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@10.0.0.9>;tag=ft1\r\n\
         To: <sip:bob@10.0.0.2>{to_tag}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} {method}\r\n\
         {extra}Content-Length: 0\r\n\r\n"
    ))
}

fn now() -> Instant {
    #[allow(clippy::disallowed_methods)] // tests need some starting Instant
    Instant::now()
}

fn feed(ep: &mut Endpoint, t: Instant, data: Bytes) -> Vec<Transmit> {
    feed_from(ep, t, PEER.parse().expect("addr"), data)
}

/// Hands `data` from `from` (UDP) to `ep`; what it sends in answer.
fn feed_from(ep: &mut Endpoint, t: Instant, from: SocketAddr, data: Bytes) -> Vec<Transmit> {
    ep.handle_datagram(t, Transport::Udp, from, data);
    std::iter::from_fn(|| ep.poll_transmit()).collect()
}

fn status(t: &Transmit) -> u16 {
    std::str::from_utf8(&t.payload[8..11])
        .expect("utf8")
        .parse()
        .expect("status")
}

fn uas() -> Endpoint {
    Endpoint::new(config(2), 5)
}

#[test]
fn responses_follow_received_and_rport() {
    let mut ep = uas();
    let t = now();
    let out = feed(
        &mut ep,
        t,
        request(
            "OPTIONS",
            "sip:bob@10.0.0.2",
            "z9hG4bKa1",
            "c1",
            None,
            1,
            true,
            "",
        ),
    );
    assert!(out.is_empty(), "OPTIONS goes to the TU");
    let Some(Event::Request { request: rid, .. }) = ep.poll_event() else {
        panic!("request event")
    };
    ep.reply(t, rid, Reply::status(200)).expect("reply");
    let out: Vec<_> = std::iter::from_fn(|| ep.poll_transmit()).collect();
    assert_eq!(out.len(), 1);
    // RFC 3581 §4: to the source port, with received and rport filled in.
    assert_eq!(
        out[0].destination,
        PEER.parse::<SocketAddr>().expect("addr")
    );
    assert_eq!(
        header(&out[0].payload, "Via").as_deref(),
        Some("SIP/2.0/UDP 10.0.0.9:5070;branch=z9hG4bKa1;rport=40000;received=192.0.2.50")
    );
    assert!(header(&out[0].payload, "To").expect("to").contains(";tag="));

    // Without rport: §18.2.2, the received address at the sent-by port.
    let out = feed(
        &mut ep,
        t,
        request(
            "INVITE",
            "sip:bob@10.0.0.2",
            "z9hG4bKa2",
            "c2",
            None,
            1,
            false,
            "Max-Forwards: 0\r\n",
        ),
    );
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].destination,
        "192.0.2.50:5070".parse::<SocketAddr>().expect("addr")
    );
    assert_eq!(
        header(&out[0].payload, "Via").as_deref(),
        Some("SIP/2.0/UDP 10.0.0.9:5070;branch=z9hG4bKa2;received=192.0.2.50")
    );
}

#[test]
fn receipt_checks_answer_with_the_rfc_codes() {
    let mut ep = uas();
    let t = now();
    let uri = "sip:bob@10.0.0.2";
    // A repeated Max-Forwards is rejected by validation (400) before the 483 policy, so the
    // 483 case replaces the header value instead.
    let mf0 = Bytes::from(
        String::from_utf8(request("INVITE", uri, "z9hG4bKb1", "d1", None, 1, true, "").to_vec())
            .expect("utf8")
            .replace("Max-Forwards: 70", "Max-Forwards: 0"),
    );
    assert_eq!(
        feed(&mut ep, t, mf0).iter().map(status).collect::<Vec<_>>(),
        vec![483]
    );
    let out = feed(
        &mut ep,
        t,
        request(
            "INVITE",
            uri,
            "z9hG4bKb2",
            "d2",
            None,
            1,
            true,
            "Require: foo, 100rel\r\n",
        ),
    );
    assert_eq!(out.iter().map(status).collect::<Vec<_>>(), vec![420]);
    assert_eq!(
        header(&out[0].payload, "Unsupported").as_deref(),
        Some("foo, 100rel")
    );
    let out = feed(
        &mut ep,
        t,
        request(
            "INVITE",
            "mailto:bob@example.com",
            "z9hG4bKb3",
            "d3",
            None,
            1,
            true,
            "",
        ),
    );
    assert_eq!(out.iter().map(status).collect::<Vec<_>>(), vec![416]);
    let v3 = Bytes::from(
        String::from_utf8(request("INVITE", uri, "z9hG4bKb4", "d4", None, 1, true, "").to_vec())
            .expect("utf8")
            .replacen("SIP/2.0\r\n", "SIP/3.0\r\n", 1),
    );
    assert_eq!(
        feed(&mut ep, t, v3).iter().map(status).collect::<Vec<_>>(),
        vec![505]
    );
    let mismatch = Bytes::from(
        String::from_utf8(request("INVITE", uri, "z9hG4bKb5", "d5", None, 1, true, "").to_vec())
            .expect("utf8")
            .replace("CSeq: 1 INVITE", "CSeq: 1 BYE"),
    );
    assert_eq!(
        feed(&mut ep, t, mismatch)
            .iter()
            .map(status)
            .collect::<Vec<_>>(),
        vec![400]
    );
    // In-dialog request for no dialog, CANCEL for no transaction: 481.
    let out = feed(
        &mut ep,
        t,
        request("BYE", uri, "z9hG4bKb6", "d6", Some("nope"), 2, true, ""),
    );
    assert_eq!(out.iter().map(status).collect::<Vec<_>>(), vec![481]);
    let out = feed(
        &mut ep,
        t,
        request("CANCEL", uri, "z9hG4bKb7", "d7", None, 1, true, ""),
    );
    assert_eq!(out.iter().map(status).collect::<Vec<_>>(), vec![481]);
    // Garbage and ACKs never get answers.
    assert!(feed(&mut ep, t, Bytes::from_static(b"hello world\r\n\r\n")).is_empty());
    assert!(
        feed(
            &mut ep,
            t,
            request("ACK", uri, "z9hG4bKb8", "d8", Some("x"), 1, true, "")
        )
        .is_empty()
    );
    // None of these created a call.
    assert!(std::iter::from_fn(|| ep.poll_event()).next().is_none());
}

#[test]
fn merged_request_gets_482_and_retransmission_is_absorbed() {
    let mut ep = uas();
    let t = now();
    let uri = "sip:bob@10.0.0.2";
    let first = request("INVITE", uri, "z9hG4bKm1", "m1", None, 7, true, "");
    assert!(feed(&mut ep, t, first.clone()).is_empty());
    assert!(matches!(ep.poll_event(), Some(Event::IncomingCall { .. })));
    // Same From tag, Call-ID and CSeq, another branch: looped or forked back (§8.2.2.2).
    let looped = request("INVITE", uri, "z9hG4bKm2", "m1", None, 7, true, "");
    assert_eq!(
        feed(&mut ep, t, looped)
            .iter()
            .map(status)
            .collect::<Vec<_>>(),
        vec![482]
    );
    // The original again: a retransmission, absorbed (no response sent yet, no new call).
    assert!(feed(&mut ep, t, first.clone()).is_empty());
    assert!(ep.poll_event().is_none());
    // After 200 ms the transaction sends 100 by itself; a retransmission then gets the 100.
    let t2 = t + Duration::from_millis(200);
    assert_eq!(ep.poll_timeout(), Some(t2));
    ep.handle_timeout(t2);
    let out: Vec<_> = std::iter::from_fn(|| ep.poll_transmit()).collect();
    assert_eq!(out.iter().map(status).collect::<Vec<_>>(), vec![100]);
    assert_eq!(
        feed(&mut ep, t2, first)
            .iter()
            .map(status)
            .collect::<Vec<_>>(),
        vec![100]
    );
}

/// A UAS that answers every incoming call with 200 at once.
fn answer_at_once(e: &Event) -> Vec<(Duration, Action)> {
    let Event::IncomingCall { call, .. } = e else {
        return Vec::new();
    };
    let c = *call;
    vec![(
        Duration::ZERO,
        Box::new(move |ep: &mut Endpoint, now| {
            let _ = ep.respond(now, c, Reply::status(200));
        }) as Action,
    )]
}

/// A call from node 0 to node 1, answered at once; node 1 answers every request in it with
/// `status`.
fn established_call(net: &mut Net, status: u16) -> sip_core::CallHandle {
    net.react(1, move |_, e| match e {
        Event::IncomingCall { .. } => answer_at_once(e),
        Event::Request { request, .. } => {
            let r = *request;
            vec![(
                Duration::ZERO,
                Box::new(move |ep: &mut Endpoint, now| {
                    let _ = ep.reply(now, r, Reply::status(status));
                }) as Action,
            )]
        }
        _ => Vec::new(),
    });
    let call = net
        .with(0, |ep, now| {
            ep.invite(now, invite_to(addr(2), Duration::from_secs(30)))
        })
        .expect("invite");
    net.run_for(Duration::from_secs(1));
    call
}

/// RFC 3515 §2: a REFER creates a dialog usage and carries exactly one Contact; an INFO
/// (no target refresh, no usage) carries none (RFC 3261 §12.2.1.1).
#[test]
fn refer_carries_one_contact_and_info_none() {
    let mut net = Net::pair(22);
    let call = established_call(&mut net, 202);
    for method in [sip_core::Method::Refer, sip_core::Method::Info] {
        let headers = vec![("Refer-To".to_owned(), "<sip:carol@example.com>".to_owned())];
        net.with(0, |ep, now| ep.request(now, call, method, headers, None))
            .expect("request");
        net.run_for(Duration::from_secs(1));
    }
    let contacts = |prefix: &str| {
        let sent = net.sent_lines(0, prefix);
        assert_eq!(sent.len(), 1, "one {prefix}");
        let text = String::from_utf8(sent[0].1.to_vec()).expect("utf8");
        text.lines()
            .filter(|l| l.to_ascii_lowercase().starts_with("contact:"))
            .count()
    };
    assert_eq!(contacts("REFER "), 1);
    assert_eq!(contacts("INFO "), 0);
}

#[test]
fn lower_cseq_in_dialog_gets_500() {
    let mut net = Net::pair(21);
    let call = established_call(&mut net, 200);
    net.with(0, |ep, now| {
        ep.request(now, call, sip_core::Method::Info, Vec::new(), None)
    })
    .expect("info");
    net.run_for(Duration::from_secs(1));
    // Replay the INFO with a new branch and CSeq 1 (lower than the INFO's 2).
    let info = net.sent_lines(0, "INFO ")[0].1.clone();
    let replay = String::from_utf8(info.to_vec())
        .expect("utf8")
        .replace("CSeq: 2 INFO", "CSeq: 1 INFO")
        .replace(";branch=z9hG4bK", ";branch=z9hG4bKreplay");
    let now = net.now;
    let out = feed_from(&mut net.nodes[1].ep, now, addr(1), Bytes::from(replay));
    assert_eq!(out.iter().map(status).collect::<Vec<_>>(), vec![500]);
}

/// A UAS that challenges every INVITE without valid credentials (status 401 or 407).
fn challenging_uas(net: &mut Net, server: DigestServer, password: &'static str, status: u16) {
    let (challenge_header, creds_header) = if status == 401 {
        ("WWW-Authenticate", "Authorization")
    } else {
        ("Proxy-Authenticate", "Proxy-Authorization")
    };
    net.react(1, move |now, e| {
        let Event::IncomingCall { call, request, .. } = e else {
            return Vec::new();
        };
        let c = *call;
        let verdict = request
            .header(creds_header)
            .and_then(DigestParams::parse)
            .map(|p| server.verify(now, &p, "INVITE", password));
        let reply = match verdict {
            Some(Ok(())) => Reply::with_body(200, Body::sdp(&b"v=0\r\n"[..])),
            Some(Err(sip_core::Error::AuthStale)) => {
                Reply::status(status).header(challenge_header, server.challenge(now, true))
            }
            _ => Reply::status(status).header(challenge_header, server.challenge(now, false)),
        };
        vec![(
            Duration::ZERO,
            Box::new(move |ep: &mut Endpoint, now| {
                let _ = ep.respond(now, c, reply);
            }) as Action,
        )]
    });
}

fn digest_call(algorithm: Algorithm, status: u16, password: &str) -> Net {
    let mut net = Net::pair(30);
    let server = DigestServer::new(
        "sipbridge.test",
        b"k3y",
        net.start,
        Duration::from_secs(60),
        algorithm,
    )
    .expect("server");
    challenging_uas(&mut net, server, "s3cret", status);
    let mut opts = invite_to(addr(2), Duration::from_secs(30));
    opts.credentials = Some(Credentials {
        username: "trunk1".into(),
        password: password.into(),
    });
    net.with(0, |ep, now| ep.invite(now, opts)).expect("invite");
    net.run_for(Duration::from_secs(40));
    net
}

#[test]
fn digest_md5_and_sha256_challenge_response() {
    for (algorithm, status) in [
        (Algorithm::Md5, 401),
        (Algorithm::Sha256, 401),
        (Algorithm::Sha256, 407),
    ] {
        let net = digest_call(algorithm, status, "s3cret");
        let invites = net.sent_lines(0, "INVITE ");
        assert_eq!(
            invites.len(),
            2,
            "{algorithm:?}/{status}: one retry with credentials"
        );
        let (a, b) = (&invites[0].1, &invites[1].1);
        assert_eq!(header(a, "Call-ID"), header(b, "Call-ID"), "same Call-ID");
        assert_eq!(header(a, "From"), header(b, "From"), "same From tag");
        assert_eq!(header(b, "CSeq").as_deref(), Some("2 INVITE"), "new CSeq");
        assert_ne!(header(a, "Via"), header(b, "Via"), "new branch");
        let name = if status == 401 {
            "Authorization"
        } else {
            "Proxy-Authorization"
        };
        let creds = DigestParams::parse(&header(b, name).expect("credentials")).expect("digest");
        assert_eq!(creds.algorithm(), Some(algorithm));
        assert_eq!(creds.nc.as_deref(), Some("00000001"));
        assert!(creds.cnonce.is_some());
        assert!(
            net.events(0).any(|e| matches!(e, Event::Answered { .. })),
            "{algorithm:?} answered"
        );
        // §13.2.2.4: the ACK for the 2xx carries the INVITE's credentials.
        let acks = net.sent_lines(0, "ACK ");
        let ack_2xx = acks
            .iter()
            .find(|(_, a)| header(a, "CSeq").as_deref() == Some("2 ACK"))
            .expect("ACK for the 2xx");
        assert_eq!(header(&ack_2xx.1, name), header(b, name));
    }
}

#[test]
fn wrong_password_gives_up_after_bounded_tries() {
    let net = digest_call(Algorithm::Md5, 401, "wrong");
    // max_auth_attempts = 2: the first INVITE plus two answered challenges.
    assert_eq!(net.sent_lines(0, "INVITE ").len(), 3);
    let reasons: Vec<_> = net
        .events(0)
        .filter_map(|e| match e {
            Event::Ended { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, vec![EndReason::AuthFailed { status: 401 }]);
}

#[test]
fn transport_error_ends_the_call() {
    let mut net = Net::pair(31);
    net.drop_if = Some(Box::new(|_, _| true));
    let call = net
        .with(0, |ep, now| {
            ep.invite(now, invite_to(addr(2), Duration::from_secs(30)))
        })
        .expect("invite");
    net.run_for(Duration::from_millis(100));
    net.with(0, |ep, now| {
        ep.handle_transport_error(now, Transport::Udp, addr(2))
    });
    let reasons: Vec<_> = net
        .events(0)
        .filter_map(|e| match e {
            Event::Ended { call: c, reason } if *c == call => Some(*reason),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, vec![EndReason::Rejected { status: 503 }]);
    // No retransmissions after the failure, and no Timer B later.
    let before = net.sent_lines(0, "INVITE ").len();
    net.run_for(Duration::from_secs(60));
    assert_eq!(net.sent_lines(0, "INVITE ").len(), before);
    assert_eq!(net.nodes[0].ep.transaction_count(), 0);
    assert_eq!(net.nodes[0].ep.call_count(), 0);
}

#[test]
fn rfc2543_branchless_requests_match_by_request_identity() {
    // §17.2.3: without the magic cookie, Request-URI, Call-ID, From tag, CSeq and top Via
    // identify the transaction.
    let mut ep = uas();
    let t = now();
    let uri = "sip:bob@10.0.0.2";
    let invite = request("INVITE", uri, "old2543", "r1", None, 5, false, "");
    assert!(feed(&mut ep, t, invite.clone()).is_empty());
    assert!(matches!(ep.poll_event(), Some(Event::IncomingCall { .. })));
    // The retransmission is absorbed: no second call.
    assert!(feed(&mut ep, t, invite).is_empty());
    assert!(ep.poll_event().is_none());
    // A CANCEL with the same identity finds the INVITE: 200, then 487 for the INVITE.
    let cancel = request("CANCEL", uri, "old2543", "r1", None, 5, false, "");
    let out = feed(&mut ep, t, cancel);
    assert_eq!(out.iter().map(status).collect::<Vec<_>>(), vec![200, 487]);
    assert!(matches!(
        ep.poll_event(),
        Some(Event::Ended {
            reason: EndReason::RemoteCancel,
            ..
        })
    ));
}

#[test]
fn out_of_dialog_options_ping_and_its_timeout() {
    let mut net = Net::pair(32);
    net.react(1, |_, e| match e {
        Event::Request {
            request,
            call: None,
            ..
        } => {
            let r = *request;
            vec![(
                Duration::ZERO,
                Box::new(move |ep: &mut Endpoint, now| {
                    let _ = ep.reply(now, r, Reply::status(200));
                }) as Action,
            )]
        }
        _ => Vec::new(),
    });
    let opts = sip_core::RequestOptions {
        method: sip_core::Method::Options,
        transport: Transport::Udp,
        destination: addr(2),
        request_uri: "sip:10.0.0.2".into(),
        from: "<sip:gw@10.0.0.1>".into(),
        to: "<sip:10.0.0.2>".into(),
        headers: Vec::new(),
        body: None,
    };
    let ping = net
        .with(0, |ep, now| ep.send_request(now, opts.clone()))
        .expect("ping");
    net.run_for(Duration::from_secs(1));
    let answers: Vec<u16> = net
        .events(0)
        .filter_map(|e| match e {
            Event::StandaloneResponse {
                request, status, ..
            } if *request == ping => Some(*status),
            _ => None,
        })
        .collect();
    assert_eq!(answers, vec![200]);
    // Toward a dead peer: Timer F, reported as 408.
    net.drop_if = Some(Box::new(|_, _| true));
    let dead = net
        .with(0, |ep, now| ep.send_request(now, opts))
        .expect("ping");
    net.run_for(Duration::from_secs(40));
    let answers: Vec<(u16, bool)> = net
        .events(0)
        .filter_map(|e| match e {
            Event::StandaloneResponse {
                request,
                status,
                response,
                ..
            } if *request == dead => Some((*status, response.is_none())),
            _ => None,
        })
        .collect();
    assert_eq!(answers, vec![(408, true)]);
    assert_eq!(net.nodes[0].ep.transaction_count(), 0);
}

/// After the caller's BYE the UAS call is gone at once (not after the 64·T1 its server
/// transactions linger), and what those transactions still owe the peer works without it:
/// a retransmitted BYE gets its 200 again, a retransmitted INVITE is absorbed (RFC 6026
/// §8.7), and a new request in the ended dialog gets 481 (§12.2.2).
#[test]
fn ended_uas_call_is_reaped_while_its_transactions_still_answer() {
    let mut net = Net::pair(22);
    net.react(1, |_, e| answer_at_once(e));
    let call = net
        .with(0, |ep, now| {
            ep.invite(now, invite_to(addr(2), Duration::from_secs(30)))
        })
        .expect("invite");
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.nodes[1].ep.call_count(), 1, "answered call");
    net.with(0, |ep, now| ep.hangup(now, call)).expect("hangup");
    net.run_for(Duration::from_secs(1));
    // Well within Timers L and J (64·T1): the transactions are still there, the call not.
    assert_eq!(
        net.nodes[1].ep.call_count(),
        0,
        "UAS call reaped at the BYE"
    );
    assert!(
        net.nodes[1].ep.transaction_count() >= 2,
        "INVITE and BYE server tx linger"
    );

    let replay = |net: &mut Net, data: Bytes| -> Vec<u16> {
        let now = net.now;
        feed_from(&mut net.nodes[1].ep, now, addr(1), data)
            .iter()
            .map(status)
            .collect()
    };
    let bye = net.sent_lines(0, "BYE ")[0].1.clone();
    assert_eq!(
        replay(&mut net, bye.clone()),
        vec![200],
        "retransmitted BYE"
    );
    let invite = net.sent_lines(0, "INVITE ")[0].1.clone();
    assert_eq!(
        replay(&mut net, invite),
        Vec::<u16>::new(),
        "retransmitted INVITE"
    );
    let new_bye = String::from_utf8(bye.to_vec())
        .expect("utf8")
        .replace("CSeq: 2 BYE", "CSeq: 3 BYE")
        .replace(";branch=z9hG4bK", ";branch=z9hG4bKagain");
    assert_eq!(
        replay(&mut net, Bytes::from(new_bye)),
        vec![481],
        "new request"
    );
}

/// A re-INVITE's 2xx whose ACK never comes, on a call the answerer hangs up meanwhile: one
/// BYE, not a second one when the ACK timer (64·T1, §13.3.1.4) fires on the ended dialog.
#[test]
fn an_unacked_reinvite_2xx_after_our_bye_sends_no_second_bye() {
    let mut net = Net::pair(23);
    let call = established_call(&mut net, 200);
    // Node 0's ACKs are lost from here on.
    net.drop_if = Some(Box::new(|from, t| {
        *from == addr(1) && t.payload.starts_with(b"ACK ")
    }));
    net.with(0, |ep, now| {
        ep.request(
            now,
            call,
            sip_core::Method::Invite,
            Vec::new(),
            Some(Body::sdp(&b"v=0\r\n"[..])),
        )
    })
    .expect("re-INVITE");
    net.run_for(Duration::from_millis(100));
    let callee = incoming(&net, 1);
    net.with(1, |ep, now| ep.hangup(now, callee))
        .expect("hangup");
    net.run_for(Duration::from_secs(40));
    assert_eq!(net.sent_lines(1, "BYE ").len(), 1, "one BYE");
}

/// The ACK for a re-INVITE's 2xx reaches the answerer as `ReinviteAcked` (it carries the
/// answer when the re-INVITE had no offer, RFC 3261 §14.2); the initial ACK stays
/// `Confirmed`.
#[test]
fn a_reinvite_ack_is_reported_once() {
    let mut net = Net::pair(24);
    let call = established_call(&mut net, 200);
    net.with(0, |ep, now| {
        ep.request(now, call, sip_core::Method::Invite, Vec::new(), None)
    })
    .expect("re-INVITE");
    net.run_for(Duration::from_secs(5));
    let count = |f: fn(&Event) -> bool| net.events(1).filter(|e| f(e)).count();
    assert_eq!(count(|e| matches!(e, Event::Confirmed { .. })), 1);
    assert_eq!(count(|e| matches!(e, Event::ReinviteAcked { .. })), 1);
}
