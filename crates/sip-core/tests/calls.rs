//! Call flows between sip-core endpoints over the simulated network.

mod support;

use std::time::Duration;

use sip_core::{Body, CallHandle, EndReason, Event, Method, Reply, TimeoutCause};
use support::{Action, Net, addr, header, incoming, invite_to};

const SDP: &[u8] = b"v=0\r\no=- 2 2 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// UAS behaviour: 180 after `ring`, 200 (with SDP) after `answer`, both measured from the
/// IncomingCall event.
fn uas_policy(net: &mut Net, node: usize, ring: Option<Duration>, answer: Option<Duration>) {
    net.react(node, move |_now, e| {
        let Event::IncomingCall { call, .. } = e else {
            return Vec::new();
        };
        let call = *call;
        let mut v: Vec<(Duration, Action)> = Vec::new();
        if let Some(r) = ring {
            v.push((
                r,
                Box::new(move |ep, now| {
                    let _ = ep.respond(now, call, Reply::status(180));
                }),
            ));
        }
        if let Some(a) = answer {
            v.push((
                a,
                Box::new(move |ep, now| {
                    let _ = ep.respond(now, call, Reply::with_body(200, Body::sdp(SDP)));
                }),
            ));
        }
        v
    });
}

fn ended(net: &Net, node: usize) -> Vec<EndReason> {
    net.events(node)
        .filter_map(|e| match e {
            Event::Ended { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect()
}

fn answered(net: &Net, node: usize) -> usize {
    net.events(node)
        .filter(|e| matches!(e, Event::Answered { .. }))
        .count()
}

fn confirmed(net: &Net, node: usize) -> usize {
    net.events(node)
        .filter(|e| matches!(e, Event::Confirmed { .. }))
        .count()
}

fn place_call(net: &mut Net, ringing: Duration) -> CallHandle {
    net.with(0, |ep, now| ep.invite(now, invite_to(addr(2), ringing)))
        .expect("invite accepted")
}

#[test]
fn basic_call_and_bye() {
    let mut net = Net::pair(1);
    uas_policy(&mut net, 1, Some(Duration::ZERO), Some(ms(100)));
    let call = place_call(&mut net, secs(30));
    net.run_for(secs(1));
    assert_eq!(answered(&net, 0), 1);
    assert_eq!(confirmed(&net, 1), 1);
    net.with(0, |ep, now| ep.hangup(now, call)).expect("hangup");
    net.run_for(secs(40));
    assert_eq!(ended(&net, 0), vec![EndReason::LocalBye]);
    assert_eq!(ended(&net, 1), vec![EndReason::RemoteBye]);
    assert_eq!(
        net.sent_lines(0, "INVITE ").len(),
        1,
        "exactly one INVITE on the wire"
    );
    // Everything is reaped once the transactions have lingered out.
    for n in &net.nodes {
        assert_eq!(n.ep.call_count(), 0);
        assert_eq!(n.ep.transaction_count(), 0);
    }
}

#[test]
fn timer_a_doubles_and_timer_b_fires_at_64_t1_under_total_loss() {
    let mut net = Net::pair(2);
    net.drop_if = Some(Box::new(|_, _| true));
    place_call(&mut net, secs(600));
    net.run_for(secs(60));
    let times: Vec<Duration> = net
        .sent_lines(0, "INVITE ")
        .iter()
        .map(|(t, _)| *t)
        .collect();
    // §17.1.1.2: retransmissions at T1, 2·T1, 4·T1… (no cap for INVITE) until Timer B.
    let expect: Vec<Duration> = [0, 500, 1500, 3500, 7500, 15500, 31500]
        .iter()
        .map(|m| ms(*m))
        .collect();
    assert_eq!(times, expect);
    let (at, reason) = net.nodes[0]
        .events
        .iter()
        .find_map(|(t, e)| match e {
            Event::Ended { reason, .. } => Some((*t - net.start, *reason)),
            _ => None,
        })
        .expect("ended");
    assert_eq!(reason, EndReason::Timeout(TimeoutCause::SipTimerB));
    assert_eq!(at, secs(32), "Timer B = 64·T1");
}

#[test]
fn timer_e_caps_at_t2_and_timer_f_ends_the_call() {
    let mut net = Net::pair(3);
    uas_policy(&mut net, 1, Some(Duration::ZERO), Some(Duration::ZERO));
    let call = place_call(&mut net, secs(30));
    net.run_for(secs(1));
    assert_eq!(answered(&net, 0), 1);
    // From now on the UAS is unreachable.
    net.drop_if = Some(Box::new(|from, _| *from == addr(1)));
    let t0 = net.elapsed();
    net.with(0, |ep, now| {
        ep.request(now, call, Method::Info, Vec::new(), None)
    })
    .expect("info");
    net.run_for(secs(40));
    let times: Vec<u128> = net
        .sent_lines(0, "INFO ")
        .iter()
        .map(|(t, _)| (*t - t0).as_millis())
        .collect();
    // §17.1.2.2: E doubles from T1 and is capped at T2 (4 s).
    assert_eq!(&times[..6], &[0, 500, 1500, 3500, 7500, 11500]);
    assert!(times.windows(2).skip(4).all(|w| w[1] - w[0] == 4000));
    let resp = net.events(0).find_map(|e| match e {
        Event::Response {
            status,
            method,
            response,
            ..
        } => Some((*status, *method, response.is_none())),
        _ => None,
    });
    assert_eq!(resp, Some((408, Method::Info, true)));
    assert_eq!(
        ended(&net, 0),
        vec![EndReason::Timeout(TimeoutCause::SipTimerF)]
    );
}

/// The callee rings at once and answers 1 s before the ringing timeout: answered.
fn ring_answer_at_t_minus_1(t: Duration) {
    let mut net = Net::pair(10);
    uas_policy(&mut net, 1, Some(Duration::ZERO), Some(t - secs(1)));
    place_call(&mut net, t);
    net.run_for(t + secs(60));
    assert_eq!(answered(&net, 0), 1, "answered at T-1s");
    assert_eq!(confirmed(&net, 1), 1);
    assert!(
        net.sent_lines(0, "CANCEL ").is_empty(),
        "no CANCEL when answered in time"
    );
    assert!(ended(&net, 0).is_empty(), "call still up");
    assert_eq!(net.sent_lines(0, "INVITE ").len(), 1);
}

/// The callee rings and never answers: CANCEL at exactly T, 487 absorbed, RingNoAnswer.
fn ring_never_answered(t: Duration) {
    let mut net = Net::pair(11);
    uas_policy(&mut net, 1, Some(Duration::ZERO), None);
    place_call(&mut net, t);
    net.run_for(t + secs(60));
    let cancels = net.sent_lines(0, "CANCEL ");
    assert_eq!(cancels.len(), 1);
    assert_eq!(
        cancels[0].0, t,
        "CANCEL leaves exactly at the ringing timeout"
    );
    assert_eq!(net.sent_lines(1, "SIP/2.0 487").len(), 1);
    // The TU hears of the ring-out when the timer fires, not after the CANCEL handshake.
    let ring_timeouts: Vec<Duration> = net.nodes[0]
        .events
        .iter()
        .filter(|(_, e)| matches!(e, Event::RingTimeout { .. }))
        .map(|(at, _)| *at - net.start)
        .collect();
    assert_eq!(ring_timeouts, vec![t], "one RingTimeout, exactly at T");
    // The 487 was ACKed inside the transaction, with the INVITE's branch.
    let acks = net.sent_lines(0, "ACK ");
    assert_eq!(acks.len(), 1);
    let invite = &net.sent_lines(0, "INVITE ")[0].1;
    assert_eq!(header(&acks[0].1, "Via"), header(invite, "Via"));
    assert_eq!(
        ended(&net, 0),
        vec![EndReason::Timeout(TimeoutCause::RingNoAnswer)]
    );
    assert_eq!(ended(&net, 1), vec![EndReason::RemoteCancel]);
    assert_eq!(answered(&net, 0), 0);
    assert_eq!(net.sent_lines(0, "INVITE ").len(), 1, "exactly one INVITE");
    // The 487 never surfaces as a rejection of its own.
    assert!(net.events(0).all(|e| !matches!(
        e,
        Event::Ended {
            reason: EndReason::Rejected { .. },
            ..
        }
    )));
}

#[test]
fn ringing_timeout_30s() {
    ring_answer_at_t_minus_1(secs(30));
    ring_never_answered(secs(30));
}

#[test]
fn ringing_timeout_90s() {
    ring_answer_at_t_minus_1(secs(90));
    ring_never_answered(secs(90));
}

#[test]
fn ringing_timeout_10min() {
    ring_answer_at_t_minus_1(secs(600));
    ring_never_answered(secs(600));
}

#[test]
fn cancel_is_deferred_until_a_provisional_arrives() {
    let mut net = Net::pair(4);
    // The UAS transaction would send 100 Trying after 5 s; its TU rings after 2 s.
    net.nodes[1].ep = sip_core::Endpoint::new(
        sip_core::Config {
            trying_delay: secs(5),
            ..support::config(2)
        },
        99,
    );
    uas_policy(&mut net, 1, Some(secs(2)), None);
    place_call(&mut net, secs(1));
    net.run_for(secs(60));
    let cancels = net.sent_lines(0, "CANCEL ");
    assert_eq!(cancels.len(), 1);
    // The 180 left the UAS at 20 ms + 2 s and arrived 20 ms later.
    assert_eq!(
        cancels[0].0,
        ms(2040),
        "CANCEL waits for the first provisional (§9.1)"
    );
    assert_eq!(
        ended(&net, 0),
        vec![EndReason::Timeout(TimeoutCause::RingNoAnswer)]
    );
}

#[test]
fn cancel_before_any_provisional_when_hanging_up() {
    let mut net = Net::pair(5);
    net.drop_if = Some(Box::new(|from, _| *from == addr(2)));
    let call = place_call(&mut net, secs(30));
    net.run_for(ms(100));
    net.with(0, |ep, now| ep.hangup(now, call)).expect("hangup");
    net.run_for(secs(40));
    assert!(
        net.sent_lines(0, "CANCEL ").is_empty(),
        "never CANCEL before a provisional"
    );
    assert_eq!(
        ended(&net, 0),
        vec![EndReason::Timeout(TimeoutCause::SipTimerB)]
    );
}

#[test]
fn answer_racing_the_cancel_is_acked_and_byed() {
    let mut net = Net::pair(6);
    net.latency = ms(50);
    // INVITE arrives at 50 ms; 200 leaves at 50 ms + 9.99 s (in flight when the UAC's
    // ringing timer fires at 10 s) and arrives at 10.04 s, after the CANCEL left.
    uas_policy(&mut net, 1, Some(Duration::ZERO), Some(ms(9_990)));
    place_call(&mut net, secs(10));
    net.run_for(secs(60));
    assert_eq!(net.sent_lines(0, "CANCEL ").len(), 1);
    assert_eq!(
        net.sent_lines(0, "ACK ").len(),
        1,
        "the racing 2xx is ACKed"
    );
    assert_eq!(net.sent_lines(0, "BYE ").len(), 1, "and BYEd");
    assert_eq!(answered(&net, 0), 0);
    assert_eq!(
        ended(&net, 0),
        vec![EndReason::Timeout(TimeoutCause::RingNoAnswer)]
    );
    assert_eq!(ended(&net, 1), vec![EndReason::RemoteBye]);
    // The UAS answered the CANCEL 200 but could not 487 an answered INVITE.
    assert!(net.sent_lines(1, "SIP/2.0 487").is_empty());
}

/// Hands node 0 a datagram from the callee (node 1, `addr(2)`) and lets it answer.
fn deliver(net: &mut Net, b: bytes::Bytes) {
    let now = net.now;
    net.nodes[0]
        .ep
        .handle_datagram(now, sip_core::Transport::Udp, addr(2), b);
    net.drain();
}

#[test]
fn forked_2xx_are_acked_and_extras_byed() {
    let mut net = Net::new(7);
    net.add(support::config(1), 1);
    let call = place_call(&mut net, secs(30));
    let invite = net.sent_lines(0, "INVITE ")[0].1.clone();
    deliver(
        &mut net,
        support::response_to(&invite, 180, Some("fork-a"), Some("sip:a@10.0.0.2")),
    );
    deliver(
        &mut net,
        support::response_to(&invite, 180, Some("fork-b"), Some("sip:b@10.0.0.3")),
    );
    deliver(
        &mut net,
        support::response_to(&invite, 200, Some("fork-a"), Some("sip:a@10.0.0.2")),
    );
    deliver(
        &mut net,
        support::response_to(&invite, 200, Some("fork-b"), Some("sip:b@10.0.0.3")),
    );
    // A retransmission of the first 2xx is re-ACKed, not re-reported.
    deliver(
        &mut net,
        support::response_to(&invite, 200, Some("fork-a"), Some("sip:a@10.0.0.2")),
    );
    let dialogs: Vec<_> = net
        .events(0)
        .filter_map(|e| match e {
            Event::Progress { dialog, .. } => dialog.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(dialogs.len(), 2);
    assert_ne!(dialogs[0], dialogs[1], "two early dialogs");
    assert_eq!(answered(&net, 0), 1);
    let acks = net.sent_lines(0, "ACK ");
    assert_eq!(acks.len(), 3);
    assert!(acks[0].1.starts_with(b"ACK sip:a@10.0.0.2 "));
    assert!(acks[1].1.starts_with(b"ACK sip:b@10.0.0.3 "));
    let byes = net.sent_lines(0, "BYE ");
    assert_eq!(byes.len(), 1);
    assert!(
        byes[0].1.starts_with(b"BYE sip:b@10.0.0.3 "),
        "the extra dialog is ended"
    );
    assert!(
        header(&byes[0].1, "To")
            .expect("to")
            .ends_with("tag=fork-b")
    );
    assert!(ended(&net, 0).is_empty(), "the call itself stays up");
    // The answered dialog is the first one.
    let answered_dialog = net.events(0).find_map(|e| match e {
        Event::Answered { dialog, .. } => Some(dialog.clone()),
        _ => None,
    });
    assert_eq!(
        answered_dialog.map(|d| d.remote_tag.to_string()),
        Some("fork-a".into())
    );
    let _ = call;
}

#[test]
fn ack_for_non_2xx_is_sent_by_the_transaction_and_repeated_on_retransmission() {
    let mut net = Net::pair(8);
    net.react(1, |_, e| {
        let Event::IncomingCall { call, .. } = e else {
            return Vec::new();
        };
        let call = *call;
        vec![(
            Duration::ZERO,
            Box::new(move |ep: &mut sip_core::Endpoint, now| {
                let _ = ep.respond(now, call, Reply::status(486));
            }) as Action,
        )]
    });
    // Lose the first ACK so the UAS retransmits its 486 (Timer G).
    let mut dropped = false;
    net.drop_if = Some(Box::new(move |_, t| {
        if !dropped && t.payload.starts_with(b"ACK ") {
            dropped = true;
            return true;
        }
        false
    }));
    place_call(&mut net, secs(30));
    net.run_for(secs(60));
    assert_eq!(ended(&net, 0), vec![EndReason::Rejected { status: 486 }]);
    assert_eq!(ended(&net, 1), vec![EndReason::LocalReject { status: 486 }]);
    let finals = net.sent_lines(1, "SIP/2.0 486");
    assert_eq!(finals.len(), 2, "one retransmission by Timer G");
    assert_eq!(finals[1].0 - finals[0].0, ms(500));
    let acks = net.sent_lines(0, "ACK ");
    assert_eq!(acks.len(), 2);
    let invite = &net.sent_lines(0, "INVITE ")[0].1;
    assert_eq!(
        header(&acks[0].1, "Via"),
        header(invite, "Via"),
        "same branch (§17.1.1.3)"
    );
    assert_eq!(header(&acks[0].1, "CSeq").as_deref(), Some("1 ACK"));
    assert!(header(&acks[0].1, "To").expect("to").contains("tag="));
    for n in &net.nodes {
        assert_eq!(n.ep.transaction_count(), 0);
        assert_eq!(n.ep.call_count(), 0);
    }
}

#[test]
fn retransmitted_invite_is_absorbed_by_the_server_transaction() {
    let mut net = Net::pair(9);
    net.nodes[1].ep = sip_core::Endpoint::new(
        sip_core::Config {
            trying_delay: secs(10),
            ..support::config(2)
        },
        98,
    );
    net.dup_permille = 1000; // every message twice
    uas_policy(&mut net, 1, Some(secs(2)), Some(secs(3)));
    place_call(&mut net, secs(30));
    net.run_for(secs(10));
    // INVITE at 0, 0.5, 1.5 (Timer A) — each duplicated — but one call at the UAS.
    assert_eq!(net.sent_lines(0, "INVITE ").len(), 3);
    let incoming = net
        .events(1)
        .filter(|e| matches!(e, Event::IncomingCall { .. }))
        .count();
    assert_eq!(incoming, 1);
    assert_eq!(answered(&net, 0), 1);
    assert_eq!(confirmed(&net, 1), 1);
}

#[test]
fn trying_is_sent_when_the_tu_is_slow() {
    let mut net = Net::pair(12);
    uas_policy(&mut net, 1, Some(secs(1)), None);
    place_call(&mut net, secs(30));
    net.run_for(secs(2));
    let tryings = net.sent_lines(1, "SIP/2.0 100");
    assert_eq!(tryings.len(), 1);
    assert_eq!(
        tryings[0].0,
        ms(220),
        "200 ms after the INVITE arrived (§17.2.1)"
    );
    assert_eq!(
        net.sent_lines(0, "INVITE ").len(),
        1,
        "the 100 stopped Timer A"
    );
}

#[test]
fn reinvite_glare_gets_491_on_both_sides() {
    let (mut net, uac_call, uas_call) = answered_call(13);
    // Both sides re-INVITE at the same instant.
    let r0 = reinvite(&mut net, 0, uac_call).expect("uac re-invite");
    let r1 = reinvite(&mut net, 1, uas_call).expect("uas re-invite");
    // A third one while ours is pending is refused locally.
    assert_eq!(
        net.with(0, |ep, now| ep.request(
            now,
            uac_call,
            Method::Invite,
            Vec::new(),
            None
        )),
        Err(sip_core::Error::Glare)
    );
    net.run_for(secs(5));
    let statuses = |net: &Net, node: usize, rid: sip_core::RequestId| -> Vec<u16> {
        net.events(node)
            .filter_map(|e| match e {
                Event::Response {
                    request, status, ..
                } if *request == rid => Some(*status),
                _ => None,
            })
            .collect()
    };
    assert_eq!(statuses(&net, 0, r0), vec![491]);
    assert_eq!(statuses(&net, 1, r1), vec![491]);
    assert!(
        ended(&net, 0).is_empty() && ended(&net, 1).is_empty(),
        "491 keeps the dialog"
    );
    // After the glare, a retry by one side succeeds.
    net.react(1, |_, e| match e {
        Event::Request { request, .. } => {
            let r = *request;
            vec![(
                Duration::ZERO,
                Box::new(move |ep: &mut sip_core::Endpoint, now| {
                    let _ = ep.reply(now, r, Reply::with_body(200, Body::sdp(SDP)));
                }) as Action,
            )]
        }
        _ => Vec::new(),
    });
    let r2 = reinvite(&mut net, 0, uac_call).expect("retry");
    net.run_for(secs(5));
    assert_eq!(statuses(&net, 0, r2), vec![200]);
    // ACKs: the initial 2xx (CSeq 1), the 491 inside its transaction (CSeq 2), the 2xx to
    // the retried re-INVITE end to end (CSeq 3).
    let acks: Vec<_> = net
        .sent_lines(0, "ACK ")
        .iter()
        .map(|(_, b)| header(b, "CSeq"))
        .collect();
    assert_eq!(
        acks,
        vec![
            Some("1 ACK".into()),
            Some("2 ACK".into()),
            Some("3 ACK".into())
        ]
    );
    assert!(ended(&net, 1).is_empty());
}

#[test]
fn lossy_network_still_completes_calls() {
    let mut net = Net::pair(14);
    net.loss_permille = 150;
    net.dup_permille = 50;
    net.jitter = ms(30);
    uas_policy(&mut net, 1, Some(ms(10)), Some(ms(500)));
    let mut calls = Vec::new();
    for _ in 0..30 {
        calls.push(place_call(&mut net, secs(60)));
    }
    net.run_for(secs(5));
    for c in &calls {
        net.after(Duration::ZERO, 0, {
            let c = *c;
            move |ep, now| {
                let _ = ep.hangup(now, c);
            }
        });
    }
    net.run_for(secs(120));
    assert_eq!(
        answered(&net, 0),
        30,
        "every call answered despite 15% loss"
    );
    assert_eq!(confirmed(&net, 1), 30);
    assert_eq!(
        ended(&net, 0)
            .iter()
            .filter(|r| **r == EndReason::LocalBye)
            .count(),
        30
    );
    assert_eq!(
        ended(&net, 1)
            .iter()
            .filter(|r| **r == EndReason::RemoteBye)
            .count(),
        30
    );
    for n in &net.nodes {
        assert_eq!(n.ep.call_count(), 0, "all state reaped");
        assert_eq!(n.ep.transaction_count(), 0);
    }
}

#[test]
fn uas_retransmits_2xx_until_ack_then_gives_up_with_bye() {
    let mut net = Net::pair(15);
    uas_policy(&mut net, 1, None, Some(Duration::ZERO));
    // Every ACK is lost.
    net.drop_if = Some(Box::new(|_, t| t.payload.starts_with(b"ACK ")));
    place_call(&mut net, secs(30));
    net.run_for(secs(60));
    let oks: Vec<u128> = net
        .sent_lines(1, "SIP/2.0 200")
        .iter()
        .filter(|(_, b)| header(b, "CSeq").as_deref() == Some("1 INVITE"))
        .map(|(t, _)| t.as_millis())
        .collect();
    // §13.3.1.4: T1, then doubling up to T2 (20 ms = INVITE latency).
    assert_eq!(&oks[..6], &[20, 520, 1520, 3520, 7520, 11520]);
    assert_eq!(
        ended(&net, 1),
        vec![EndReason::Timeout(TimeoutCause::AckTimeout)]
    );
    assert_eq!(net.sent_lines(1, "BYE ").len(), 1);
}

#[test]
fn tagless_2xx_from_an_rfc2543_peer_still_answers() {
    // Regression: a 2xx without To tag used to leave the call without a dialog and, after
    // Timer M, a ringing timer that could never CANCEL anything (the call never ended).
    let mut net = Net::new(16);
    net.add(support::config(1), 1);
    let call = place_call(&mut net, secs(30));
    let invite = net.sent_lines(0, "INVITE ")[0].1.clone();
    let now = net.now;
    net.nodes[0].ep.handle_datagram(
        now,
        sip_core::Transport::Udp,
        addr(2),
        support::response_to(&invite, 200, None, Some("sip:bob@10.0.0.2")),
    );
    net.drain();
    assert_eq!(answered(&net, 0), 1);
    assert_eq!(net.sent_lines(0, "ACK ").len(), 1);
    net.with(0, |ep, now| ep.hangup(now, call)).expect("hangup");
    net.run_for(secs(60));
    assert_eq!(ended(&net, 0), vec![EndReason::LocalBye]);
    assert_eq!(net.nodes[0].ep.call_count(), 0);
}

/// The caller hangs up: its call is freed at once while the INVITE transaction waits out
/// Timer M (RFC 6026 §8.4), and the 2xx that can still arrive is handled without the call.
/// A retransmission of the answered 2xx gets the very same ACK again (§13.2.2.4) and no
/// second BYE; a fork answering only now is ACKed and BYEd.
#[test]
fn after_hangup_late_2xx_are_acked_and_late_forks_byed_without_the_call() {
    let mut net = Net::new(8);
    net.add(support::config(1), 1);
    let call = place_call(&mut net, secs(30));
    let invite = net.sent_lines(0, "INVITE ")[0].1.clone();
    let answer = support::response_to(&invite, 200, Some("fork-a"), Some("sip:a@10.0.0.2"));
    deliver(&mut net, answer.clone());
    assert_eq!(answered(&net, 0), 1);
    net.with(0, |ep, now| ep.hangup(now, call)).expect("hangup");
    net.drain();
    assert_eq!(ended(&net, 0), vec![EndReason::LocalBye]);
    assert_eq!(
        net.nodes[0].ep.call_count(),
        0,
        "the call is freed at the hangup"
    );
    assert!(
        net.nodes[0].ep.transaction_count() >= 1,
        "the INVITE lingers"
    );
    let first_ack = net.sent_lines(0, "ACK ")[0].1.clone();

    deliver(&mut net, answer);
    let acks = net.sent_lines(0, "ACK ");
    assert_eq!(acks.len(), 2, "the retransmitted 2xx is ACKed again");
    assert_eq!(acks[1].1, first_ack, "with the same ACK");
    assert_eq!(net.sent_lines(0, "BYE ").len(), 1, "and not BYEd twice");

    deliver(
        &mut net,
        support::response_to(&invite, 200, Some("fork-b"), Some("sip:b@10.0.0.3")),
    );
    let acks = net.sent_lines(0, "ACK ");
    assert_eq!(acks.len(), 3);
    assert!(
        acks[2].1.starts_with(b"ACK sip:b@10.0.0.3 "),
        "late fork ACKed"
    );
    let byes = net.sent_lines(0, "BYE ");
    assert_eq!(byes.len(), 2);
    assert!(
        byes[1].1.starts_with(b"BYE sip:b@10.0.0.3 "),
        "late fork BYEd"
    );
    assert!(
        header(&byes[1].1, "To")
            .expect("to")
            .ends_with("tag=fork-b")
    );
    assert_eq!(net.nodes[0].ep.call_count(), 0, "and freed again");
    // Both dialogs' ACKs stay known: the first 2xx once more is only re-ACKed.
    deliver(
        &mut net,
        support::response_to(&invite, 200, Some("fork-a"), Some("sip:a@10.0.0.2")),
    );
    assert_eq!(net.sent_lines(0, "BYE ").len(), 2);
    assert_eq!(net.sent_lines(0, "ACK ").len(), 4);
    assert_eq!(ended(&net, 0).len(), 1, "one Ended event in all");
}

/// Sends a re-INVITE with an SDP offer from `node` in `call`.
fn reinvite(
    net: &mut Net,
    node: usize,
    call: CallHandle,
) -> Result<sip_core::RequestId, sip_core::Error> {
    net.with(node, |ep, now| {
        ep.request(now, call, Method::Invite, Vec::new(), Some(Body::sdp(SDP)))
    })
}

/// A call from node 0 to node 1, which answers at once: (the caller's call, the callee's).
fn answered_call(seed: u64) -> (Net, CallHandle, CallHandle) {
    let mut net = Net::pair(seed);
    uas_policy(&mut net, 1, Some(Duration::ZERO), Some(Duration::ZERO));
    let uac_call = place_call(&mut net, secs(30));
    net.run_for(secs(1));
    let uas_call = incoming(&net, 1);
    (net, uac_call, uas_call)
}

/// A UAS that hangs up while its own re-INVITE is out keeps the call until that
/// transaction ends: the 2xx to the re-INVITE is ACKed (§13.2.2.4), not retransmitted
/// until the caller gives up.
#[test]
fn a_reinvite_out_at_hangup_still_acks_its_2xx() {
    let (mut net, _, uas_call) = answered_call(21);
    // The caller answers in-dialog requests after 200 ms.
    net.react(0, |_, e| match e {
        Event::Request { request, .. } => {
            let r = *request;
            vec![(
                ms(200),
                Box::new(move |ep: &mut sip_core::Endpoint, now| {
                    let _ = ep.reply(now, r, Reply::with_body(200, Body::sdp(SDP)));
                }) as Action,
            )]
        }
        _ => Vec::new(),
    });
    reinvite(&mut net, 1, uas_call).expect("re-INVITE");
    net.with(1, |ep, now| ep.hangup(now, uas_call))
        .expect("hang up");
    net.run_for(secs(40));
    let acks = net.sent_lines(1, "ACK ");
    assert_eq!(acks.len(), 1, "ACKs sent by the UAS: {acks:?}");
    let reinvite_2xx = net
        .sent_lines(0, "SIP/2.0 200")
        .iter()
        .filter(|(_, b)| header(b, "CSeq").is_some_and(|c| c.ends_with("INVITE")))
        .count();
    assert_eq!(reinvite_2xx, 1, "the re-INVITE's 200 was retransmitted");
}

/// A caller's call ended by the callee's BYE is freed at once: the BYE's server
/// transaction does not keep it, and its INVITE transaction (in Accepted for Timer M)
/// carries what a late 2xx needs.
#[test]
fn a_call_ended_by_the_callees_bye_is_freed_at_once() {
    let (mut net, _, uas_call) = answered_call(22);
    net.with(1, |ep, now| ep.hangup(now, uas_call))
        .expect("hang up");
    net.run_for(secs(1));
    assert_eq!(ended(&net, 0), vec![EndReason::RemoteBye]);
    assert_eq!(net.with(0, |ep, _| ep.call_count()), 0);
}
