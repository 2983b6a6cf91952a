//! Model test of the server transaction table (§17.2.3 matching, §9.2 CANCEL, §12.2.2):
//! INVITEs (retransmitted), CANCELs (retransmitted) and stray in-dialog BYEs for several
//! calls, delivered in random orders at random gaps. The model predicts every answer from
//! the order alone, and after the timers run out every transaction and call is gone.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use sip_core::{CallHandle, Config, EndReason, Endpoint, Event, Reply, Transport};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Invite,
    Cancel,
    StrayBye,
}

fn message(call: usize, kind: Kind) -> Bytes {
    let (method, to_tag, cseq) = match kind {
        Kind::Invite => ("INVITE", "", 1),
        Kind::Cancel => ("CANCEL", "", 1),
        Kind::StrayBye => ("BYE", ";tag=nosuchdialog", 2),
    };
    // CANCEL shares the INVITE's branch (§9.1); the stray BYE has its own.
    let branch = if kind == Kind::StrayBye {
        format!("z9hG4bKbye{call}")
    } else {
        format!("z9hG4bKinv{call}")
    };
    Bytes::from(format!(
        "{method} sip:svc@10.0.0.2 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 10.0.0.{host}:5060;branch={branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:caller{call}@10.0.0.9>;tag=f{call}\r\n\
         To: <sip:svc@10.0.0.2>{to_tag}\r\n\
         Call-ID: model-{call}\r\n\
         CSeq: {cseq} {method}\r\n\
         Content-Length: 0\r\n\r\n",
        host = 10 + call,
    ))
}

fn status_of(payload: &[u8]) -> u16 {
    std::str::from_utf8(&payload[8..11])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn header<'a>(payload: &'a [u8], name: &str) -> &'a str {
    std::str::from_utf8(payload)
        .unwrap_or("")
        .split("\r\n")
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(": ")))
        .unwrap_or("")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn server_transactions_follow_the_model(
        calls in prop::collection::vec((1usize..=3, 0usize..=2, 0usize..=1), 1..=4),
        order_seed in any::<u64>(),
        gaps in prop::collection::vec(0u64..400, 24),
    ) {
        // The messages, shuffled (Fisher–Yates from a proptest-chosen seed).
        let mut msgs: Vec<(usize, Kind)> = Vec::new();
        for (c, (invites, cancels, byes)) in calls.iter().enumerate() {
            msgs.extend(std::iter::repeat_n((c, Kind::Invite), *invites));
            msgs.extend(std::iter::repeat_n((c, Kind::Cancel), *cancels));
            msgs.extend(std::iter::repeat_n((c, Kind::StrayBye), *byes));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(order_seed);
        for i in (1..msgs.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            msgs.swap(i, j);
        }

        #[allow(clippy::disallowed_methods)] // the model needs some starting Instant
        let start = Instant::now();
        let mut now = start;
        let mut ep = Endpoint::new(Config::new("10.0.0.2", 5060), order_seed);
        let mut out: Vec<Bytes> = Vec::new();
        let mut events: Vec<Event> = Vec::new();
        let drain = |ep: &mut Endpoint, out: &mut Vec<Bytes>, events: &mut Vec<Event>| {
            while let Some(t) = ep.poll_transmit() {
                out.push(t.payload);
            }
            while let Some(e) = ep.poll_event() {
                events.push(e);
            }
        };
        for (i, (c, kind)) in msgs.iter().enumerate() {
            now += Duration::from_millis(gaps[i % gaps.len()]);
            if ep.poll_timeout().is_some_and(|t| t <= now) {
                ep.handle_timeout(now);
            }
            let from: SocketAddr = format!("10.0.0.{}:5060", 10 + c).parse().expect("addr");
            ep.handle_datagram(now, Transport::Udp, from, message(*c, *kind));
            drain(&mut ep, &mut out, &mut events);
        }

        // Model: one call per distinct INVITE; a CANCEL that arrives before its INVITE is
        // answered 481 (every copy), otherwise 200 and the INVITE gets 487.
        let first = |c: usize, k: Kind| msgs.iter().position(|m| *m == (c, k));
        let incoming: Vec<(CallHandle, String)> = events
            .iter()
            .filter_map(|e| match e {
                Event::IncomingCall { call, request, .. } => Some((*call, request.call_id().to_owned())),
                _ => None,
            })
            .collect();
        prop_assert_eq!(incoming.len(), calls.len(), "one call per INVITE, retransmissions absorbed");
        for (c, (_, cancels, byes)) in calls.iter().enumerate() {
            let cid = format!("model-{c}");
            let responses = |method: &str| -> Vec<u16> {
                out.iter()
                    .filter(|p| header(p, "Call-ID") == cid && header(p, "CSeq").ends_with(method))
                    .map(|p| status_of(p))
                    .collect()
            };
            let cancelled = *cancels > 0 && first(c, Kind::Cancel) > first(c, Kind::Invite);
            let cancel_answers = responses(" CANCEL");
            prop_assert_eq!(cancel_answers.len(), *cancels);
            if *cancels > 0 {
                let expect = if cancelled { 200 } else { 481 };
                prop_assert!(cancel_answers.iter().all(|s| *s == expect), "{:?}", cancel_answers);
            }
            prop_assert_eq!(responses(" INVITE").contains(&487), cancelled);
            prop_assert_eq!(responses(" BYE"), vec![481; *byes]);
        }

        // The TU rejects what is still ringing; then time runs out every timer.
        for (call, _) in &incoming {
            let _ = ep.respond(now, *call, Reply::status(486));
        }
        drain(&mut ep, &mut out, &mut events);
        for (c, (_, cancels, _)) in calls.iter().enumerate() {
            let cancelled = *cancels > 0 && first(c, Kind::Cancel) > first(c, Kind::Invite);
            let call = incoming.iter().find(|(_, id)| *id == format!("model-{c}")).map(|(h, _)| *h);
            let reasons: Vec<EndReason> = events
                .iter()
                .filter_map(|e| match e {
                    Event::Ended { call: h, reason } if Some(*h) == call => Some(*reason),
                    _ => None,
                })
                .collect();
            let expect = if cancelled {
                EndReason::RemoteCancel
            } else {
                EndReason::LocalReject { status: 486 }
            };
            prop_assert_eq!(reasons, vec![expect]);
        }
        for _ in 0..10_000 {
            match ep.poll_timeout() {
                Some(t) => {
                    now = now.max(t);
                    ep.handle_timeout(now);
                    drain(&mut ep, &mut out, &mut events);
                }
                None => break,
            }
        }
        prop_assert_eq!(ep.transaction_count(), 0);
        prop_assert_eq!(ep.call_count(), 0);
    }
}
