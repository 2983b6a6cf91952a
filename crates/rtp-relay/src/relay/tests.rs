use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::*;
use crate::demux::PacketClass;
use crate::dtmf::{DtmfEvent, TelephoneEvent};
use crate::rtcp::{
    ReportBlock, RtcpCompound, RtcpView, SenderInfo, write_bye, write_receiver_report,
    write_sdes_cname, write_sender_report,
};
use crate::rtp::{RtpHeader, RtpPacket};

/// An arbitrary base instant; from here on time only moves by explicit jumps.
#[allow(clippy::disallowed_methods)]
fn base_instant() -> Instant {
    Instant::now()
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port)
}

fn rtp(ssrc: u32, seq: u16, ts: u32, pt: u8) -> Vec<u8> {
    let mut out = vec![0u8; 12 + 160];
    let n = RtpHeader {
        marker: false,
        payload_type: pt,
        sequence: seq,
        timestamp: ts,
        ssrc,
    }
    .write(&[0xd5; 160], &mut out)
    .unwrap_or_else(|e| panic!("{e}"));
    out.truncate(n);
    out
}

fn rr_sdes(ssrc: u32, blocks: &[ReportBlock]) -> Vec<u8> {
    let mut out = vec![0u8; 512];
    let n = write_receiver_report(&mut out, ssrc, blocks).unwrap_or_else(|e| panic!("{e}"));
    let m = write_sdes_cname(&mut out[n..], ssrc, b"peer").unwrap_or_else(|e| panic!("{e}"));
    out.truncate(n + m);
    out
}

const SDP_A: u16 = 40_000;
const SDP_B: u16 = 50_000;
const NAT_A: u16 = 41_000;
const NAT_B: u16 = 51_000;

fn leg(sock: u32, remote: u16) -> LegConfig {
    LegConfig {
        remote_rtp: Some(addr(remote)),
        ..LegConfig::new(SocketId(sock))
    }
}

fn call_cfg() -> CallConfig {
    CallConfig {
        a: leg(1, SDP_A),
        b: leg(2, SDP_B),
        timeouts: MediaTimeouts::default(),
        ringing: false,
    }
}

struct Harness {
    relay: Relay,
    now: Instant,
    call: CallHandle,
}

impl Harness {
    fn new(cfg: CallConfig) -> Self {
        let now = base_instant();
        let mut relay = Relay::new(RelayConfig::default(), now);
        let call = relay.add_call(now, cfg).unwrap_or_else(|e| panic!("{e}"));
        Self { relay, now, call }
    }

    fn send(&mut self, sock: u32, from: u16, pkt: &mut [u8]) -> Action {
        self.relay
            .handle_datagram(self.now, SocketId(sock), addr(from), pkt)
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.relay.poll_event()).collect()
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
    }

    /// Jumps to each deadline up to `until`, collecting the media timeout events (other
    /// events are drained and dropped).
    fn run_timers_until(&mut self, until: Instant) -> Vec<Event> {
        let _ = self.events();
        let mut out = Vec::new();
        for _ in 0..10_000 {
            match self.relay.poll_timeout() {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    self.relay.handle_timeout(self.now);
                    out.extend(
                        self.events()
                            .into_iter()
                            .filter(|e| matches!(e, Event::MediaTimeout { .. })),
                    );
                }
                _ => break,
            }
        }
        self.now = self.now.max(until);
        out
    }
}

fn sent(action: &Action) -> Transmit {
    match action {
        Action::Send(t) => *t,
        Action::Drop(r) => panic!("dropped: {r:?}"),
    }
}

#[test]
fn first_valid_packet_latches_and_return_path_uses_it() {
    let mut h = Harness::new(call_cfg());
    let mut p = rtp(1, 1, 0, 0);
    let t = sent(&h.send(1, NAT_A, &mut p));
    // Nothing has come from B yet: its SDP address is used.
    assert_eq!(
        t,
        Transmit {
            socket: SocketId(2),
            destination: addr(SDP_B)
        }
    );
    assert_eq!(
        h.events(),
        vec![
            Event::Latched {
                call: h.call,
                side: Side::A,
                stream: StreamKind::Rtp,
                address: addr(NAT_A),
                previous: None
            },
            Event::MediaStarted {
                call: h.call,
                side: Side::A
            }
        ]
    );
    let mut p = rtp(2, 1, 0, 0);
    let t = sent(&h.send(2, NAT_B, &mut p));
    // A latched to its real (NATed) address, not the SDP one.
    assert_eq!(
        t,
        Transmit {
            socket: SocketId(1),
            destination: addr(NAT_A)
        }
    );
    let mut p = rtp(1, 2, 160, 0);
    let t = sent(&h.send(1, NAT_A, &mut p));
    assert_eq!(t.destination, addr(NAT_B));
    assert_eq!(
        h.relay.latched(h.call, Side::A),
        Ok((Some(addr(NAT_A)), None))
    );
}

#[test]
fn invalid_packets_do_not_latch() {
    let cfg = CallConfig {
        a: LegConfig {
            accept: PayloadTypes::only(&[0, 101]),
            ..leg(1, SDP_A)
        },
        ..call_cfg()
    };
    let mut h = Harness::new(cfg);
    let attacker = 6666;
    let mut bad_version = rtp(1, 1, 0, 0);
    bad_version[0] = 0x40;
    let mut truncated = rtp(1, 1, 0, 0)[..8].to_vec();
    let mut bad_padding = rtp(1, 1, 0, 0);
    bad_padding[0] |= 0x20;
    let last = bad_padding.len() - 1;
    bad_padding[last] = 0;
    let mut stun = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
    let mut wrong_pt = rtp(1, 1, 0, 8);
    let cases: Vec<(&mut Vec<u8>, DropReason)> = vec![
        (
            &mut bad_version,
            DropReason::NotMedia(PacketClass::TurnChannel),
        ),
        (
            &mut truncated,
            DropReason::InvalidRtp(Error::Truncated { len: 8, need: 12 }),
        ),
        (&mut bad_padding, DropReason::InvalidRtp(Error::BadPadding)),
        (&mut stun, DropReason::NotMedia(PacketClass::Stun)),
        (&mut wrong_pt, DropReason::PayloadType(8)),
    ];
    for (pkt, want) in cases {
        assert_eq!(h.send(1, attacker, pkt), Action::Drop(want));
    }
    assert_eq!(h.relay.latched(h.call, Side::A), Ok((None, None)));
    assert!(h.events().is_empty());
    let st = h
        .relay
        .stats(h.call, Side::A)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (st.dropped_invalid, st.dropped_payload_type, st.rtp_packets),
        (4, 1, 0)
    );
    // The first valid packet latches.
    let mut p = rtp(1, 1, 0, 0);
    assert!(matches!(h.send(1, NAT_A, &mut p), Action::Send(_)));
    assert_eq!(
        h.relay.latched(h.call, Side::A),
        Ok((Some(addr(NAT_A)), None))
    );
}

#[test]
fn latching_off_sends_to_sdp_address_and_accepts_any_source() {
    let cfg = CallConfig {
        b: LegConfig {
            latching: Latching::Off,
            ..leg(2, SDP_B)
        },
        ..call_cfg()
    };
    let mut h = Harness::new(cfg);
    let mut p = rtp(2, 1, 0, 0);
    assert!(matches!(h.send(2, NAT_B, &mut p), Action::Send(_)));
    let mut p = rtp(2, 2, 160, 0);
    assert!(matches!(h.send(2, 7777, &mut p), Action::Send(_)));
    let mut p = rtp(1, 1, 0, 0);
    assert_eq!(sent(&h.send(1, NAT_A, &mut p)).destination, addr(SDP_B));
    assert_eq!(h.relay.latched(h.call, Side::B), Ok((None, None)));
}

#[test]
fn relatch_policies() {
    for (policy, after_1s, after_10s) in [
        (Relatch::Never, false, false),
        (Relatch::AfterSilence(Duration::from_secs(5)), false, true),
        (Relatch::Always, true, true),
    ] {
        let cfg = CallConfig {
            a: LegConfig {
                latching: Latching::On(policy),
                ..leg(1, SDP_A)
            },
            ..call_cfg()
        };
        let mut h = Harness::new(cfg);
        let mut p = rtp(1, 1, 0, 0);
        let _ = sent(&h.send(1, NAT_A, &mut p));
        h.advance(Duration::from_secs(1));
        let mut p = rtp(1, 2, 160, 0);
        let r = h.send(1, 9999, &mut p);
        assert_eq!(
            matches!(r, Action::Send(_)),
            after_1s,
            "{policy:?} after 1 s"
        );
        if !after_1s {
            assert_eq!(r, Action::Drop(DropReason::WrongSource));
            h.advance(Duration::from_secs(9));
            let mut p = rtp(1, 3, 320, 0);
            let r = h.send(1, 9999, &mut p);
            assert_eq!(
                matches!(r, Action::Send(_)),
                after_10s,
                "{policy:?} after 10 s"
            );
        }
        let want = if after_10s { addr(9999) } else { addr(NAT_A) };
        assert_eq!(
            h.relay.latched(h.call, Side::A).map(|l| l.0),
            Ok(Some(want))
        );
        if after_10s {
            let evs = h.events();
            assert!(evs.contains(&Event::Latched {
                call: h.call,
                side: Side::A,
                stream: StreamKind::Rtp,
                address: addr(9999),
                previous: Some(addr(NAT_A)),
            }));
        }
    }
}

#[test]
fn no_destination_until_known() {
    let cfg = CallConfig {
        b: LegConfig::new(SocketId(2)),
        ..call_cfg()
    };
    let mut h = Harness::new(cfg);
    let mut p = rtp(1, 1, 0, 0);
    assert_eq!(
        h.send(1, NAT_A, &mut p),
        Action::Drop(DropReason::NoDestination)
    );
    let mut p = rtp(2, 1, 0, 0);
    let _ = sent(&h.send(2, NAT_B, &mut p));
    let mut p = rtp(1, 2, 160, 0);
    assert_eq!(sent(&h.send(1, NAT_A, &mut p)).destination, addr(NAT_B));
    let st = h
        .relay
        .stats(h.call, Side::A)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (st.rtp_packets, st.forwarded, st.dropped_no_destination),
        (2, 1, 1)
    );
}

#[test]
fn pass_through_leaves_bytes_untouched() {
    let mut h = Harness::new(call_cfg());
    for i in 0..5u16 {
        let orig = rtp(0xabc, 100 + i, 1000 + 160 * u32::from(i), 0);
        let mut p = orig.clone();
        let _ = sent(&h.send(1, NAT_A, &mut p));
        assert_eq!(p, orig);
        h.advance(Duration::from_millis(20));
    }
}

/// Sends `n` packets from `ssrc` every 20 ms and returns the (seq, ts, ssrc, marker) seen
/// by the far end.
fn stream(h: &mut Harness, ssrc: u32, seq0: u16, ts0: u32, n: u16) -> Vec<(u16, u32, u32, bool)> {
    let mut out = Vec::new();
    for i in 0..n {
        let mut p = rtp(
            ssrc,
            seq0.wrapping_add(i),
            ts0.wrapping_add(160 * u32::from(i)),
            0,
        );
        let _ = sent(&h.send(1, NAT_A, &mut p));
        let v = RtpPacket::parse(&p).unwrap_or_else(|e| panic!("{e}"));
        out.push((v.sequence(), v.timestamp(), v.ssrc(), v.marker()));
        h.advance(Duration::from_millis(20));
    }
    out
}

#[test]
fn ssrc_change_keeps_output_continuous() {
    let mut h = Harness::new(call_cfg());
    let mut seen = stream(&mut h, 0x1111, 65_530, 4_294_960_000, 10);
    assert!(
        h.events()
            .iter()
            .all(|e| !matches!(e, Event::SourceChanged { .. }))
    );
    seen.extend(stream(&mut h, 0x2222, 12_345, 777, 10));
    // A third source after a 1 s pause: the timestamp jumps by the wall-clock gap.
    h.advance(Duration::from_secs(1));
    seen.extend(stream(&mut h, 0x3333, 0, 0, 10));
    assert!(seen.iter().all(|s| s.2 == 0x1111), "output SSRC is kept");
    for w in seen.windows(2) {
        assert_eq!(w[1].0, w[0].0.wrapping_add(1), "sequence continues: {w:?}");
        let dts = w[1].1.wrapping_sub(w[0].1);
        assert!(dts == 160 || dts == 160 + 8000, "timestamp step {dts}");
    }
    let markers: Vec<usize> = seen
        .iter()
        .enumerate()
        .filter(|(_, s)| s.3)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        markers,
        vec![10, 20],
        "marker on the first packet of each new source"
    );
    let changes: Vec<_> = h
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::SourceChanged {
                side,
                previous_ssrc,
                ssrc,
                ..
            } => Some((side, previous_ssrc, ssrc)),
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        vec![(Side::B, 0x1111, 0x2222), (Side::B, 0x2222, 0x3333)]
    );
    let st = h
        .relay
        .stats(h.call, Side::A)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(st.source_changes, 2);
    assert_eq!(st.lost, 0);
}

#[test]
fn late_packet_of_previous_source_is_not_a_switch_back() {
    let mut h = Harness::new(call_cfg());
    let first = stream(&mut h, 0x1111, 100, 0, 5);
    let second = stream(&mut h, 0x2222, 9000, 50_000, 3);
    // Packet 102 of the first source arrives late.
    let mut p = rtp(0x1111, 102, 320, 0);
    let _ = sent(&h.send(1, NAT_A, &mut p));
    let v = RtpPacket::parse(&p).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (v.sequence(), v.timestamp(), v.ssrc()),
        (first[2].0, first[2].1, 0x1111)
    );
    let third = stream(&mut h, 0x2222, 9003, 50_480, 2);
    assert_eq!(third[0].0, second[2].0.wrapping_add(1));
    let changes = h
        .events()
        .iter()
        .filter(|e| matches!(e, Event::SourceChanged { .. }))
        .count();
    assert_eq!(changes, 1);
}

#[test]
fn fixed_ssrc_and_payload_type_map() {
    let cfg = CallConfig {
        b: LegConfig {
            rewrite: Rewrite::Fixed { ssrc: 0xfeed },
            payload_type_map: vec![(101, 96)],
            ..leg(2, SDP_B)
        },
        ..call_cfg()
    };
    let mut h = Harness::new(cfg);
    let mut p = rtp(0x1111, 7, 99, 101);
    let _ = sent(&h.send(1, NAT_A, &mut p));
    let v = RtpPacket::parse(&p).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (v.ssrc(), v.sequence(), v.timestamp(), v.payload_type()),
        (0xfeed, 7, 99, 96)
    );
    let mut p = rtp(0x1111, 8, 259, 0);
    let _ = sent(&h.send(1, NAT_A, &mut p));
    let v = RtpPacket::parse(&p).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((v.ssrc(), v.payload_type()), (0xfeed, 0));
}

#[test]
fn rewrite_off_forwards_source_changes_as_they_are() {
    let cfg = CallConfig {
        b: LegConfig {
            rewrite: Rewrite::Off,
            ..leg(2, SDP_B)
        },
        ..call_cfg()
    };
    let mut h = Harness::new(cfg);
    let _ = stream(&mut h, 1, 10, 0, 2);
    let s = stream(&mut h, 2, 5000, 7, 1);
    assert_eq!(s, vec![(5000, 7, 2, false)]);
}

#[test]
fn rtcp_mux_forwarded_and_classified() {
    let mut h = Harness::new(call_cfg());
    let mut p = rtp(1, 1, 0, 0);
    let _ = sent(&h.send(1, NAT_A, &mut p));
    let orig = rr_sdes(1, &[]);
    let mut r = orig.clone();
    let t = sent(&h.send(1, NAT_A, &mut r));
    assert_eq!(
        t,
        Transmit {
            socket: SocketId(2),
            destination: addr(SDP_B)
        }
    );
    assert_eq!(r, orig, "identity mapping leaves RTCP untouched");
    // Under mux, RTCP from another address than the latched RTP peer is refused.
    let mut r = orig.clone();
    assert_eq!(
        h.send(1, 9999, &mut r),
        Action::Drop(DropReason::WrongSource)
    );
    // Malformed RTCP (SDES first) is dropped.
    let mut sdes_first = orig[8..].to_vec();
    sdes_first.extend(&orig[..8]);
    assert_eq!(
        h.send(1, NAT_A, &mut sdes_first),
        Action::Drop(DropReason::InvalidRtcp(Error::FirstNotReport(202)))
    );
    let st = h
        .relay
        .stats(h.call, Side::A)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((st.rtcp_packets, st.rtp_packets, st.forwarded), (1, 1, 2));
}

#[test]
fn rtcp_without_mux_latches_separately() {
    let cfg = CallConfig {
        a: LegConfig {
            rtcp_socket: Some(SocketId(11)),
            ..leg(1, SDP_A)
        },
        b: LegConfig {
            rtcp_socket: Some(SocketId(12)),
            ..leg(2, SDP_B)
        },
        ..call_cfg()
    };
    let mut h = Harness::new(cfg);
    // RTCP from A before any RTP: latches A's RTCP peer only; B's RTCP address is its SDP
    // RTP port + 1 (RFC 3550 §11).
    let mut r = rr_sdes(1, &[]);
    let t = sent(&h.send(11, NAT_A + 1, &mut r));
    assert_eq!(
        t,
        Transmit {
            socket: SocketId(12),
            destination: addr(SDP_B + 1)
        }
    );
    assert_eq!(
        h.relay.latched(h.call, Side::A),
        Ok((None, Some(addr(NAT_A + 1))))
    );
    assert_eq!(
        h.events(),
        vec![Event::Latched {
            call: h.call,
            side: Side::A,
            stream: StreamKind::Rtcp,
            address: addr(NAT_A + 1),
            previous: None,
        }]
    );
    // B's RTCP goes to A's latched RTCP address from B's RTCP socket.
    let mut r = rr_sdes(2, &[]);
    let t = sent(&h.send(12, 60_001, &mut r));
    assert_eq!(
        t,
        Transmit {
            socket: SocketId(11),
            destination: addr(NAT_A + 1)
        }
    );
    // RTP on an RTCP-only socket is refused.
    let mut p = rtp(1, 1, 0, 0);
    assert!(matches!(
        h.send(11, NAT_A + 1, &mut p),
        Action::Drop(DropReason::InvalidRtcp(_))
    ));
}

#[test]
fn rtcp_is_translated_after_a_source_change() {
    let mut h = Harness::new(call_cfg());
    let _ = stream(&mut h, 0x1111, 100, 1000, 5);
    let second = stream(&mut h, 0x2222, 9000, 50_000, 5);
    // B's peer reports on the stream it receives, which it knows as 0x1111.
    let block = ReportBlock {
        ssrc: 0x1111,
        highest_sequence: u32::from(second[4].0),
        ..ReportBlock::default()
    };
    let mut r = rr_sdes(0xbbbb, &[block]);
    let t = sent(&h.send(2, NAT_B, &mut r));
    assert_eq!(t.socket, SocketId(1));
    let c = RtcpCompound::parse(&r).unwrap_or_else(|e| panic!("{e}"));
    match c.packets().next().map(|p| p.view()) {
        Some(Ok(RtcpView::ReceiverReport(rr))) => {
            assert_eq!(rr.ssrc(), 0xbbbb, "B's own stream was not rewritten");
            let b = rr.reports().next().unwrap_or_else(|| panic!("no block"));
            // Mapped back to what the current source A knows: its SSRC and sequence space.
            assert_eq!(b.ssrc, 0x2222);
            assert_eq!(b.highest_sequence & 0xffff, 9004);
        }
        other => panic!("{other:?}"),
    }
    // A's new source sends an SR: the far end must see it under the kept SSRC and in the
    // rewritten timestamp space.
    let info = SenderInfo {
        rtp_timestamp: 50_000 + 4 * 160,
        ..SenderInfo::default()
    };
    let mut sr = vec![0u8; 28];
    let n = write_sender_report(&mut sr, 0x2222, &info, &[]).unwrap_or_else(|e| panic!("{e}"));
    sr.truncate(n);
    let _ = sent(&h.send(1, NAT_A, &mut sr));
    let c = RtcpCompound::parse(&sr).unwrap_or_else(|e| panic!("{e}"));
    match c.packets().next().map(|p| p.view()) {
        Some(Ok(RtcpView::SenderReport(s))) => {
            assert_eq!(s.ssrc(), 0x1111);
            assert_eq!(s.sender_info().rtp_timestamp, second[4].1);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rtcp_bye_is_reported() {
    let mut h = Harness::new(call_cfg());
    let mut r = rr_sdes(1, &[]);
    let mut bye = [0u8; 8];
    let n = write_bye(&mut bye, &[1]).unwrap_or_else(|e| panic!("{e}"));
    r.extend(&bye[..n]);
    let _ = sent(&h.send(1, NAT_A, &mut r));
    assert!(h.events().contains(&Event::RtcpBye {
        call: h.call,
        side: Side::A
    }));
}

fn timeouts_cfg(watch_b: bool) -> CallConfig {
    CallConfig {
        b: LegConfig {
            watch_media: watch_b,
            ..leg(2, SDP_B)
        },
        timeouts: MediaTimeouts {
            no_media: Some(Duration::from_secs(5)),
            silence: Some(Duration::from_secs(3)),
        },
        ringing: true,
        ..call_cfg()
    }
}

#[test]
fn no_timeouts_while_ringing() {
    let mut h = Harness::new(timeouts_cfg(true));
    assert_eq!(h.relay.poll_timeout(), None);
    let until = h.now + Duration::from_secs(600);
    assert!(h.run_timers_until(until).is_empty());
}

#[test]
fn no_media_timeout_fires_once_at_its_deadline() {
    let mut h = Harness::new(timeouts_cfg(true));
    let t0 = h.now;
    h.relay
        .set_ringing(t0, h.call, false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        h.run_timers_until(t0 + Duration::from_millis(4999))
            .is_empty()
    );
    let evs = h.run_timers_until(t0 + Duration::from_secs(60));
    assert_eq!(
        evs,
        vec![Event::MediaTimeout {
            call: h.call,
            side: Side::A,
            kind: MediaTimeoutKind::NoMedia
        }]
    );
    assert_eq!(h.relay.poll_timeout(), None, "fires once per arming");
}

#[test]
fn silence_timeout_after_media_stops() {
    let mut h = Harness::new(timeouts_cfg(false));
    let t0 = h.now;
    h.relay
        .set_ringing(t0, h.call, false)
        .unwrap_or_else(|e| panic!("{e}"));
    // Media every 500 ms for a minute keeps the call alive, whatever the timers do.
    let mut last = t0;
    for i in 0..120u16 {
        h.advance(Duration::from_millis(500));
        let until = h.now;
        assert!(
            h.run_timers_until(until).is_empty(),
            "no timeout while media flows"
        );
        let mut p = rtp(1, i, u32::from(i) * 4000, 0);
        let _ = sent(&h.send(1, NAT_A, &mut p));
        last = h.now;
    }
    assert!(
        h.run_timers_until(last + Duration::from_millis(2999))
            .is_empty()
    );
    let evs = h.run_timers_until(last + Duration::from_secs(10));
    assert_eq!(
        evs,
        vec![Event::MediaTimeout {
            call: h.call,
            side: Side::A,
            kind: MediaTimeoutKind::Silence
        }]
    );
    assert_eq!(h.now, last + Duration::from_secs(10));
}

#[test]
fn timeouts_rearm_from_answer_and_ignore_unwatched_leg() {
    let mut h = Harness::new(timeouts_cfg(false));
    // Early media while ringing, then a long ring.
    let mut p = rtp(1, 1, 0, 0);
    let _ = sent(&h.send(1, NAT_A, &mut p));
    h.advance(Duration::from_secs(30));
    let answer = h.now;
    h.relay
        .set_ringing(answer, h.call, false)
        .unwrap_or_else(|e| panic!("{e}"));
    // Silence counts from the answer, not from the early media.
    assert!(
        h.run_timers_until(answer + Duration::from_millis(2999))
            .is_empty()
    );
    // Hold (disarm) before it fires: nothing for ten minutes.
    h.relay
        .set_ringing(h.now, h.call, true)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        h.run_timers_until(answer + Duration::from_secs(600))
            .is_empty()
    );
    // Resume: re-armed from now.
    let resume = h.now;
    h.relay
        .set_ringing(resume, h.call, false)
        .unwrap_or_else(|e| panic!("{e}"));
    let evs = h.run_timers_until(resume + Duration::from_secs(20));
    assert_eq!(
        evs,
        vec![Event::MediaTimeout {
            call: h.call,
            side: Side::A,
            kind: MediaTimeoutKind::Silence
        }]
    );
    // B never sent anything, but it is not watched.
    assert!(
        evs.iter()
            .all(|e| !matches!(e, Event::MediaTimeout { side: Side::B, .. }))
    );
}

#[test]
fn ten_minute_silence_timeout_in_simulated_time() {
    let cfg = CallConfig {
        timeouts: MediaTimeouts {
            no_media: None,
            silence: Some(Duration::from_secs(600)),
        },
        ringing: false,
        ..call_cfg()
    };
    let mut h = Harness::new(cfg);
    let t0 = h.now;
    let mut p = rtp(1, 1, 0, 0);
    let _ = sent(&h.send(1, NAT_A, &mut p));
    let mut p = rtp(2, 1, 0, 0);
    let _ = sent(&h.send(2, NAT_B, &mut p));
    assert!(h.run_timers_until(t0 + Duration::from_secs(599)).is_empty());
    let evs = h.run_timers_until(t0 + Duration::from_secs(601));
    assert_eq!(evs.len(), 1);
    assert!(matches!(
        evs[0],
        Event::MediaTimeout {
            kind: MediaTimeoutKind::Silence,
            ..
        }
    ));
}

#[test]
fn loss_and_jitter_against_hand_computed_values() {
    let mut h = Harness::new(call_cfg());
    let t0 = h.now;
    // (arrival ms, seq, ts): seq 3 lost, seq 2 arrives 10 ms late.
    for (ms, seq, ts) in [
        (0u64, 0u16, 0u32),
        (20, 1, 160),
        (50, 2, 320),
        (80, 4, 640),
        (100, 5, 800),
    ] {
        h.now = t0 + Duration::from_millis(ms);
        let mut p = rtp(7, seq, ts, 0);
        let _ = sent(&h.send(1, NAT_A, &mut p));
    }
    let st = h
        .relay
        .stats(h.call, Side::A)
        .unwrap_or_else(|e| panic!("{e}"));
    // RFC 3550 A.1: seq 0 is on probation, counting starts at seq 1: expected 1..=5 = 5,
    // received 1, 2, 4, 5 = 4.
    assert_eq!((st.expected, st.lost), (5, 1));
    // A.8 by hand, in 8 kHz units: transits 0, 0, 80, 0, 0; |D| 0, 80, 80, 0;
    // J16: 0, 80, 155, 145 → J = 145 >> 4 = 9.
    assert_eq!(st.jitter, 9);
    assert_eq!(st.jitter_duration(), Duration::from_micros(1125));
    assert_eq!((st.rtp_packets, st.rtp_bytes), (5, 5 * 172));
    assert_eq!(st.clock_rate, 8000);
}

#[test]
fn telephone_events_become_dtmf_events_and_are_forwarded() {
    let cfg = CallConfig {
        a: LegConfig {
            telephone_event: Some(101),
            ..leg(1, SDP_A)
        },
        ..call_cfg()
    };
    let mut h = Harness::new(cfg);
    let mut seq = 0u16;
    let mut digits = String::new();
    for (digit, ts) in [('1', 1000u32), ('1', 3000), ('#', 5000)] {
        for (i, end) in [false, false, true, true, true].into_iter().enumerate() {
            let ev = TelephoneEvent {
                event: crate::dtmf::event_for_digit(digit).unwrap_or(0),
                end,
                volume: 10,
                duration: 160 * (i.min(2) as u16 + 1),
            };
            let mut p = vec![0u8; 16];
            let n = RtpHeader {
                marker: i == 0,
                payload_type: 101,
                sequence: seq,
                timestamp: ts,
                ssrc: 5,
            }
            .write(&ev.to_bytes(), &mut p)
            .unwrap_or_else(|e| panic!("{e}"));
            p.truncate(n);
            seq += 1;
            assert!(matches!(h.send(1, NAT_A, &mut p), Action::Send(_)));
            for e in h.events() {
                if let Event::Dtmf {
                    event: ev @ DtmfEvent::Began { .. },
                    side: Side::A,
                    ..
                } = e
                {
                    digits.extend(ev.digit());
                }
            }
        }
    }
    assert_eq!(digits, "11#");
}

#[test]
fn table_management() {
    let now = base_instant();
    let mut relay = Relay::new(
        RelayConfig {
            max_calls: 2,
            max_sockets: 100,
            event_queue_limit: 16,
        },
        now,
    );
    let c1 = relay
        .add_call(now, call_cfg())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(relay.add_call(now, call_cfg()), Err(Error::SocketInUse(1)));
    let same = CallConfig {
        a: leg(3, SDP_A),
        b: leg(3, SDP_B),
        ..call_cfg()
    };
    assert_eq!(relay.add_call(now, same), Err(Error::SocketInUse(3)));
    let far = CallConfig {
        a: leg(100, SDP_A),
        b: leg(4, SDP_B),
        ..call_cfg()
    };
    assert_eq!(
        relay.add_call(now, far),
        Err(Error::SocketOutOfRange { id: 100, max: 100 })
    );
    let zero = CallConfig {
        a: LegConfig {
            clock_rate: 0,
            ..leg(5, SDP_A)
        },
        b: leg(6, SDP_B),
        ..call_cfg()
    };
    assert!(matches!(
        relay.add_call(now, zero),
        Err(Error::InvalidArgument(_))
    ));
    let c2 = relay
        .add_call(
            now,
            CallConfig {
                a: leg(5, SDP_A),
                b: leg(6, SDP_B),
                ..call_cfg()
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(relay.len(), 2);
    let all: Vec<CallHandle> = relay.all_stats().map(|(h, _)| h).collect();
    assert_eq!(all, vec![c1, c2]);
    assert_eq!(
        relay.add_call(
            now,
            CallConfig {
                a: leg(7, SDP_A),
                b: leg(8, SDP_B),
                ..call_cfg()
            }
        ),
        Err(Error::TableFull(2))
    );
    let mut p = rtp(1, 1, 0, 0);
    assert!(matches!(
        relay.handle_datagram(now, SocketId(1), addr(NAT_A), &mut p),
        Action::Send(_)
    ));
    let stats = relay.remove_call(c1).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stats[0].rtp_packets, 1);
    assert_eq!(relay.remove_call(c1), Err(Error::UnknownCall));
    assert_eq!(relay.stats(c1, Side::A), Err(Error::UnknownCall));
    let mut p = rtp(1, 2, 160, 0);
    assert_eq!(
        relay.handle_datagram(now, SocketId(1), addr(NAT_A), &mut p),
        Action::Drop(DropReason::UnknownSocket)
    );
    // The slot and the sockets are reused; the old handle stays invalid.
    assert_eq!(relay.all_stats().count(), 1);
    let c3 = relay
        .add_call(now, call_cfg())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(c1, c3);
    assert_eq!(relay.stats(c1, Side::A), Err(Error::UnknownCall));
    assert!(relay.stats(c3, Side::A).is_ok());
    assert!(relay.stats(c2, Side::B).is_ok());
    assert_eq!(
        relay.handle_datagram(now, SocketId(99), addr(1), &mut p),
        Action::Drop(DropReason::UnknownSocket)
    );
}

#[test]
fn set_remote_relatches() {
    let mut h = Harness::new(call_cfg());
    let mut p = rtp(2, 1, 0, 0);
    let _ = sent(&h.send(2, NAT_B, &mut p));
    h.relay
        .set_remote(h.call, Side::B, Some(addr(52_000)), None)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut p = rtp(1, 1, 0, 0);
    assert_eq!(sent(&h.send(1, NAT_A, &mut p)).destination, addr(52_000));
}

#[test]
fn informational_events_are_bounded() {
    let now = base_instant();
    let mut relay = Relay::new(
        RelayConfig {
            event_queue_limit: 2,
            ..RelayConfig::default()
        },
        now,
    );
    let cfg = CallConfig {
        a: LegConfig {
            latching: Latching::On(Relatch::Always),
            ..leg(1, SDP_A)
        },
        ..call_cfg()
    };
    let _call = relay.add_call(now, cfg).unwrap_or_else(|e| panic!("{e}"));
    for i in 0..10u16 {
        let mut p = rtp(1, i, 0, 0);
        let _ = relay.handle_datagram(now, SocketId(1), addr(1000 + i), &mut p);
    }
    assert_eq!(std::iter::from_fn(|| relay.poll_event()).count(), 2);
    // Ten latch events and one media-started event, two of them kept.
    assert_eq!(relay.events_dropped(), 9);
}

fn te_packet(ssrc: u32, seq: u16, ts: u32, digit: char, marker: bool, end: bool) -> Vec<u8> {
    let ev = TelephoneEvent {
        event: crate::dtmf::event_for_digit(digit).unwrap_or(0),
        end,
        volume: 10,
        duration: 320,
    };
    let mut p = vec![0u8; 16];
    let n = RtpHeader {
        marker,
        payload_type: 101,
        sequence: seq,
        timestamp: ts,
        ssrc,
    }
    .write(&ev.to_bytes(), &mut p)
    .unwrap_or_else(|e| panic!("{e}"));
    p.truncate(n);
    p
}

#[test]
fn dtmf_survives_a_source_change_to_a_lower_timestamp() {
    // Regression: the receiver kept the old source's timestamps and took the new source's
    // (lower) event timestamps for late packets, losing digits after a transfer.
    let cfg = CallConfig {
        a: LegConfig {
            telephone_event: Some(101),
            ..leg(1, SDP_A)
        },
        ..call_cfg()
    };
    let mut h = Harness::new(cfg);
    let mut began = Vec::new();
    let mut ended = 0;
    for (ssrc, ts, digit, seq) in [(1, 2_000_000_000u32, '4', 10u16), (2, 5_000, '2', 500)] {
        for (i, end) in [false, true, true].into_iter().enumerate() {
            let mut p = te_packet(ssrc, seq + i as u16, ts, digit, i == 0, end);
            let _ = sent(&h.send(1, NAT_A, &mut p));
        }
        // The first source's event is left open (its end packets were lost) for source 2.
        if ssrc == 1 {
            let mut p = te_packet(1, 20, 2_000_100_000, '7', true, false);
            let _ = sent(&h.send(1, NAT_A, &mut p));
        }
        for e in h.events() {
            match e {
                Event::Dtmf {
                    event: ev @ DtmfEvent::Began { .. },
                    ..
                } => began.extend(ev.digit()),
                Event::Dtmf {
                    event: DtmfEvent::Ended { .. },
                    ..
                } => ended += 1,
                _ => {}
            }
        }
    }
    assert_eq!(began.into_iter().collect::<String>(), "472");
    assert_eq!(ended, 3, "every begun event ends exactly once");
}

#[test]
fn peer_reception_report_is_kept_in_stats() {
    let mut h = Harness::new(call_cfg());
    // A sends to B; B's peer reports on that stream (SSRC 0xaaaa) and on an unrelated one.
    let _ = stream(&mut h, 0xaaaa, 1, 0, 3);
    let ours = ReportBlock {
        ssrc: 0xaaaa,
        fraction_lost: 12,
        cumulative_lost: 3,
        highest_sequence: 3,
        jitter: 40,
        ..ReportBlock::default()
    };
    let other = ReportBlock {
        ssrc: 0x5555,
        fraction_lost: 200,
        ..ReportBlock::default()
    };
    let mut r = rr_sdes(0xbbbb, &[other, ours]);
    let _ = sent(&h.send(2, NAT_B, &mut r));
    let st = h
        .relay
        .stats(h.call, Side::B)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(st.peer_report, Some(ours));
    assert_eq!(
        h.relay.stats(h.call, Side::A).map(|s| s.peer_report),
        Ok(None)
    );
}

#[test]
fn injected_packets_continue_the_output_stream() {
    let mut h = Harness::new(call_cfg());
    let mut seen = stream(&mut h, 0x1111, 100, 1000, 3);
    let clock = h
        .relay
        .output_clock(h.call, Side::B)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no output clock"));
    assert_eq!(
        (clock.ssrc, clock.sequence, clock.timestamp),
        (0x1111, 102, 1320)
    );
    // Mute the forwarded audio, inject two packets, unmute.
    h.relay
        .set_muted(h.call, Side::B, true)
        .unwrap_or_else(|e| panic!("{e}"));
    for i in 0..2u16 {
        let mut p = te_packet(0x9999, 7 + i, 1480, '5', i == 0, false);
        assert_eq!(
            h.send(1, NAT_A, &mut rtp(0x1111, 103 + i, 1480, 0)),
            Action::Drop(DropReason::Muted)
        );
        let t = h
            .relay
            .inject(h.now, h.call, Side::B, &mut p)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            t,
            Transmit {
                socket: SocketId(2),
                destination: addr(SDP_B)
            }
        );
        let v = RtpPacket::parse(&p).unwrap_or_else(|e| panic!("{e}"));
        seen.push((v.sequence(), v.timestamp(), v.ssrc(), v.marker()));
        h.advance(Duration::from_millis(20));
    }
    h.relay
        .set_muted(h.call, Side::B, false)
        .unwrap_or_else(|e| panic!("{e}"));
    let after = stream(&mut h, 0x1111, 105, 1000 + 5 * 160, 3);
    seen.extend(&after);
    let seqs: Vec<u16> = seen.iter().map(|s| s.0).collect();
    assert_eq!(seqs, (100..108).collect::<Vec<u16>>());
    assert!(seen.iter().all(|s| s.2 == 0x1111));
    assert!(after[0].3, "marker after resuming");
    assert_eq!(seen[3].1, 1480, "injected timestamp kept");
}

#[test]
fn inject_before_any_media_starts_the_stream() {
    let mut h = Harness::new(call_cfg());
    let mut p = te_packet(0x7777, 40, 9000, '1', true, false);
    let _ = h
        .relay
        .inject(h.now, h.call, Side::B, &mut p)
        .unwrap_or_else(|e| panic!("{e}"));
    h.advance(Duration::from_millis(20));
    let s = stream(&mut h, 0x1111, 5000, 1, 2);
    assert_eq!(
        s.iter().map(|x| (x.0, x.2)).collect::<Vec<_>>(),
        vec![(41, 0x7777), (42, 0x7777)]
    );
    assert_eq!(s[0].1, 9000 + 160);
}

#[test]
fn inject_errors() {
    let cfg = CallConfig {
        a: LegConfig {
            rewrite: Rewrite::Off,
            ..leg(1, SDP_A)
        },
        b: LegConfig::new(SocketId(2)),
        ..call_cfg()
    };
    let mut h = Harness::new(cfg);
    let mut p = rtp(1, 1, 0, 0);
    assert!(matches!(
        h.relay.inject(h.now, h.call, Side::A, &mut p),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(
        h.relay.inject(h.now, h.call, Side::B, &mut p),
        Err(Error::NoDestination)
    );
    let mut junk = [0x80u8; 4];
    assert!(matches!(
        h.relay.inject(h.now, h.call, Side::A, &mut junk),
        Err(Error::Truncated { .. })
    ));
}

#[test]
fn dtmf_sender_through_inject_reaches_the_far_end_once() {
    use crate::dtmf::{DtmfReceiver, DtmfSender, DtmfSenderConfig};
    let mut h = Harness::new(call_cfg());
    let mut far_seqs = Vec::new();
    for s in stream(&mut h, 0x1111, 0, 0, 5) {
        far_seqs.push(s.0);
    }
    let clock = h
        .relay
        .output_clock(h.call, Side::B)
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no clock"));
    let mut tx = DtmfSender::new(DtmfSenderConfig::default(), clock.at, clock.timestamp)
        .unwrap_or_else(|e| panic!("{e}"));
    for d in ['1', '2', '1'] {
        tx.send_event(
            crate::dtmf::event_for_digit(d).unwrap_or(0),
            Duration::from_millis(60),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let mut rx = DtmfReceiver::new();
    let mut digits = String::new();
    h.relay
        .set_muted(h.call, Side::B, true)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut audio_seq = 5u16;
    for _ in 0..1000 {
        // Audio keeps arriving (and is held back) while the digits go out.
        let mut p = rtp(0x1111, audio_seq, 160 * u32::from(audio_seq), 0);
        assert_eq!(h.send(1, NAT_A, &mut p), Action::Drop(DropReason::Muted));
        audio_seq += 1;
        while let Some(pkt) = tx.poll_transmit(h.now) {
            let mut buf = [0u8; 32];
            let n = pkt.write(0, 0, &mut buf).unwrap_or_else(|e| panic!("{e}"));
            let _ = h
                .relay
                .inject(h.now, h.call, Side::B, &mut buf[..n])
                .unwrap_or_else(|e| panic!("{e}"));
            let v = RtpPacket::parse(&buf[..n]).unwrap_or_else(|e| panic!("{e}"));
            far_seqs.push(v.sequence());
            rx.handle_payload(v.marker(), v.timestamp(), v.payload())
                .unwrap_or_else(|e| panic!("{e}"));
            while let Some(ev) = rx.poll_event() {
                if let DtmfEvent::Began { .. } = ev {
                    digits.extend(ev.digit());
                }
            }
        }
        let Some(next) = tx.poll_timeout() else { break };
        h.now = h.now.max(next);
    }
    h.relay
        .set_muted(h.call, Side::B, false)
        .unwrap_or_else(|e| panic!("{e}"));
    for s in stream(&mut h, 0x1111, audio_seq, 160 * u32::from(audio_seq), 2) {
        far_seqs.push(s.0);
    }
    assert_eq!(digits, "121");
    for w in far_seqs.windows(2) {
        assert_eq!(w[1], w[0].wrapping_add(1), "continuous sequence numbers");
    }
}

#[test]
fn port_zero_and_unspecified_sdp_addresses_are_not_destinations() {
    let hold: SocketAddr = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 50_000);
    for remote in [addr(0), hold] {
        let cfg = CallConfig {
            b: LegConfig {
                remote_rtp: Some(remote),
                ..LegConfig::new(SocketId(2))
            },
            ..call_cfg()
        };
        let mut h = Harness::new(cfg);
        let mut p = rtp(1, 1, 0, 0);
        assert_eq!(
            h.send(1, NAT_A, &mut p),
            Action::Drop(DropReason::NoDestination)
        );
        h.relay
            .set_remote(h.call, Side::B, Some(remote), None)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut p = rtp(1, 2, 160, 0);
        assert_eq!(
            h.send(1, NAT_A, &mut p),
            Action::Drop(DropReason::NoDestination)
        );
    }
}

#[test]
fn reduced_size_rtcp_only_when_negotiated() {
    // RFC 5506: a compound may start with something other than SR/RR (here SDES) only
    // when the leg negotiated a=rtcp-rsize.
    let sdes_only = {
        let mut out = vec![0u8; 64];
        let n = write_sdes_cname(&mut out, 1, b"x").unwrap_or_else(|e| panic!("{e}"));
        out.truncate(n);
        out
    };
    for (rsize, forwarded) in [(false, false), (true, true)] {
        let cfg = CallConfig {
            a: LegConfig {
                reduced_size_rtcp: rsize,
                ..leg(1, SDP_A)
            },
            ..call_cfg()
        };
        let mut h = Harness::new(cfg);
        let mut r = sdes_only.clone();
        assert_eq!(
            matches!(h.send(1, NAT_A, &mut r), Action::Send(_)),
            forwarded,
            "rsize {rsize}"
        );
    }
}
