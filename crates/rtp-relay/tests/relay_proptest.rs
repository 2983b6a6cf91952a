//! Property tests: hostile bytes never panic the RTP/RTCP views, the DTMF receiver or the
//! relay, and the relay's output stream keeps one SSRC with continuous sequence numbers.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use rtp_relay::demux::classify;
use rtp_relay::dtmf::DtmfReceiver;
use rtp_relay::relay::{
    Action, CallConfig, Latching, LegConfig, MediaTimeouts, Relatch, Relay, RelayConfig, Side,
    SocketId,
};
use rtp_relay::rtcp::{RtcpCompound, RtcpView, Translate, translate_in_place};
use rtp_relay::rtp::{RtpHeader, RtpPacket, RtpPacketMut};

/// An arbitrary base instant; from here on time only moves by explicit jumps.
#[allow(clippy::disallowed_methods)]
fn base_instant() -> Instant {
    Instant::now()
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port)
}

struct Scramble(u32);

impl Translate for Scramble {
    fn sender_ssrc(&self, ssrc: u32) -> u32 {
        ssrc ^ self.0
    }
    fn sender_timestamp(&self, _ssrc: u32, ts: u32) -> u32 {
        ts.wrapping_add(self.0)
    }
    fn report_ssrc(&self, ssrc: u32) -> u32 {
        ssrc.rotate_left(3)
    }
    fn report_sequence(&self, _ssrc: u32, seq: u32) -> u32 {
        seq.wrapping_sub(self.0)
    }
}

/// Reads every field of every view, so a bad offset anywhere would panic.
fn walk_rtcp(c: &RtcpCompound<'_>) -> usize {
    let mut n = 0;
    for p in c.packets() {
        n += p.body().len() + usize::from(p.count()) + usize::from(p.has_padding());
        match p.view() {
            Ok(RtcpView::SenderReport(sr)) => {
                n += sr.ssrc() as usize % 7 + sr.sender_info().packet_count as usize % 7;
                n += sr.reports().map(|b| b.jitter as usize % 3).sum::<usize>();
            }
            Ok(RtcpView::ReceiverReport(rr)) => {
                n += rr
                    .reports()
                    .map(|b| b.cumulative_lost.unsigned_abs() as usize % 3)
                    .sum::<usize>();
            }
            Ok(RtcpView::SourceDescription(s)) => {
                for ch in s.chunks().flatten() {
                    n += ch.items().map(|(_, v)| v.len()).sum::<usize>();
                    n += ch.cname().map_or(0, <[u8]>::len);
                }
            }
            Ok(RtcpView::Goodbye(b)) => {
                n += b.ssrcs().count() + b.reason().map_or(0, <[u8]>::len);
            }
            Ok(RtcpView::App(a)) => n += a.data().len() + usize::from(a.name()[0]),
            Ok(RtcpView::Other(o)) => n += o.as_bytes().len(),
            Err(_) => {}
        }
    }
    n
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn rtp_views_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(p) = RtpPacket::parse(&bytes) {
            let l = p.layout();
            prop_assert!(l.payload_start <= l.payload_end && l.payload_end <= bytes.len());
            let _ = (p.marker(), p.payload_type(), p.sequence(), p.timestamp(), p.ssrc());
            let _ = p.csrcs().count() + p.payload().len() + p.padding_len();
            let _ = p.extension();
        }
        if let Ok(mut m) = RtpPacketMut::parse(&mut bytes) {
            m.set_ssrc(1);
            m.set_sequence(2);
            m.set_timestamp(3);
            m.set_payload_type(200);
            m.set_marker(true);
            let _ = m.payload_mut().len();
            prop_assert!(RtpPacket::parse(&bytes).is_ok(), "rewriting keeps a packet valid");
        }
        let _ = classify(&bytes);
    }

    #[test]
    fn rtcp_views_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..300), key in any::<u32>()) {
        for strict in [true, false] {
            let parsed = if strict {
                RtcpCompound::parse(&bytes)
            } else {
                RtcpCompound::parse_reduced_size(&bytes)
            };
            if let Ok(c) = parsed {
                let _ = walk_rtcp(&c);
            }
        }
        if RtcpCompound::parse_reduced_size(&bytes).is_ok() {
            translate_in_place(&mut bytes, &Scramble(key));
            // Translation only rewrites identifiers: the compound stays valid.
            prop_assert!(RtcpCompound::parse_reduced_size(&bytes).is_ok());
        }
    }

    /// Compounds built from valid headers with random bodies reach the typed views more
    /// often than raw random bytes do.
    #[test]
    fn structured_rtcp_never_panics(
        parts in proptest::collection::vec((0u8..32, 200u8..=206, proptest::collection::vec(any::<u8>(), 0..12)), 1..5),
        key in any::<u32>(),
    ) {
        let mut buf = Vec::new();
        for (count, pt, body) in &parts {
            let words = body.len() / 4;
            buf.extend([0x80 | count, *pt, 0, words as u8]);
            buf.extend(&body[..words * 4]);
        }
        if let Ok(c) = RtcpCompound::parse_reduced_size(&buf) {
            let _ = walk_rtcp(&c);
            translate_in_place(&mut buf, &Scramble(key));
        }
    }

    #[test]
    fn dtmf_receiver_never_panics_and_stays_bounded(
        pkts in proptest::collection::vec((any::<bool>(), 0u32..4000, proptest::collection::vec(any::<u8>(), 0..6)), 0..200),
    ) {
        let mut rx = DtmfReceiver::new();
        let mut began = 0usize;
        for (marker, ts, payload) in &pkts {
            let _ = rx.handle_payload(*marker, *ts, payload);
            let mut n = 0;
            while let Some(ev) = rx.poll_event() {
                n += 1;
                if matches!(ev, rtp_relay::dtmf::DtmfEvent::Began { .. }) {
                    began += 1;
                }
            }
            prop_assert!(n <= 3);
        }
        prop_assert!(began <= pkts.len());
    }

    #[test]
    fn relay_never_panics_on_random_datagrams(
        dgrams in proptest::collection::vec(
            (0u32..6, 0u16..4, 0u64..3000, proptest::collection::vec(any::<u8>(), 0..200)),
            0..100,
        ),
    ) {
        let t0 = base_instant();
        let mut relay = Relay::new(RelayConfig::default(), t0);
        let cfg = CallConfig {
            a: LegConfig { rtcp_socket: Some(SocketId(3)), remote_rtp: Some(addr(4000)), ..LegConfig::new(SocketId(1)) },
            b: LegConfig { latching: Latching::On(Relatch::Always), ..LegConfig::new(SocketId(2)) },
            timeouts: MediaTimeouts { no_media: Some(Duration::from_secs(2)), silence: Some(Duration::from_secs(1)) },
            ringing: false,
        };
        let call = relay.add_call(t0, cfg);
        prop_assert!(call.is_ok());
        let mut now = t0;
        for (sock, from, dt, mut bytes) in dgrams {
            now += Duration::from_millis(dt);
            let _ = relay.handle_datagram(now, SocketId(sock), addr(5000 + from), &mut bytes);
            while relay.poll_event().is_some() {}
            if let Some(t) = relay.poll_timeout() {
                if t <= now {
                    relay.handle_timeout(now);
                }
            }
            while relay.poll_event().is_some() {}
        }
    }

    /// Whatever sources, sequence numbers and timestamps arrive (one source at a time, in
    /// order within a source), the far end sees one SSRC and consecutive sequence numbers.
    #[test]
    fn output_stream_is_continuous_across_source_changes(
        runs in proptest::collection::vec((any::<u32>(), any::<u16>(), any::<u32>(), 1u16..20, 1u64..2000), 1..8),
    ) {
        let t0 = base_instant();
        let mut relay = Relay::new(RelayConfig::default(), t0);
        let cfg = CallConfig {
            a: LegConfig::new(SocketId(1)),
            b: LegConfig { remote_rtp: Some(addr(4000)), ..LegConfig::new(SocketId(2)) },
            timeouts: MediaTimeouts::default(),
            ringing: false,
        };
        prop_assert!(relay.add_call(t0, cfg).is_ok());
        let mut now = t0;
        let mut out: Vec<(u32, u16, u32)> = Vec::new();
        let mut prev_ssrc = None;
        for (ssrc, seq0, ts0, n, pause_ms) in runs {
            // Consecutive runs from the same SSRC would be one source with a jump.
            if prev_ssrc == Some(ssrc) {
                continue;
            }
            prev_ssrc = Some(ssrc);
            now += Duration::from_millis(pause_ms);
            for i in 0..n {
                let mut buf = [0u8; 32];
                let len = RtpHeader {
                    marker: false,
                    payload_type: 0,
                    sequence: seq0.wrapping_add(i),
                    timestamp: ts0.wrapping_add(160 * u32::from(i)),
                    ssrc,
                }
                .write(&[0; 20], &mut buf)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let action = relay.handle_datagram(now, SocketId(1), addr(5000), &mut buf[..len]);
                prop_assert!(matches!(action, Action::Send(_)), "{action:?}");
                let p = RtpPacket::parse(&buf[..len]).map_err(|e| TestCaseError::fail(e.to_string()))?;
                out.push((p.ssrc(), p.sequence(), p.timestamp()));
                now += Duration::from_millis(20);
            }
        }
        for w in out.windows(2) {
            prop_assert_eq!(w[1].0, w[0].0);
            prop_assert_eq!(w[1].1, w[0].1.wrapping_add(1));
            let dts = w[1].2.wrapping_sub(w[0].2);
            prop_assert!(dts > 0 && dts < 0x8000_0000, "timestamp went backwards: {:?}", w);
        }
    }

    /// A model of what the gateway may do to one direction: forward from changing sources
    /// (with loss-free, in-order packets), mute and unmute, inject its own packets. Every
    /// packet that reaches the far end continues one stream: same SSRC, sequence +1.
    #[test]
    fn forwarding_muting_and_injection_keep_one_sequence(
        ops in proptest::collection::vec(0u8..6, 1..150),
    ) {
        let t0 = base_instant();
        let mut relay = Relay::new(RelayConfig::default(), t0);
        let cfg = CallConfig {
            a: LegConfig::new(SocketId(1)),
            b: LegConfig { remote_rtp: Some(addr(4000)), ..LegConfig::new(SocketId(2)) },
            timeouts: MediaTimeouts::default(),
            ringing: false,
        };
        let call = relay.add_call(t0, cfg).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut now = t0;
        let (mut ssrc, mut seq, mut ts) = (1u32, 100u16, 5000u32);
        let mut muted = false;
        let mut out: Vec<(u32, u16)> = Vec::new();
        for op in ops {
            now += Duration::from_millis(20);
            let mut buf = [0u8; 32];
            match op {
                // Forward the next packet of the current source (most common).
                0..=2 => {
                    let len = RtpHeader { marker: false, payload_type: 0, sequence: seq, timestamp: ts, ssrc }
                        .write(&[0; 8], &mut buf)
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    seq = seq.wrapping_add(1);
                    ts = ts.wrapping_add(160);
                    match relay.handle_datagram(now, SocketId(1), addr(5000), &mut buf[..len]) {
                        Action::Send(_) => {
                            prop_assert!(!muted);
                            let p = RtpPacket::parse(&buf[..len]).map_err(|e| TestCaseError::fail(e.to_string()))?;
                            out.push((p.ssrc(), p.sequence()));
                        }
                        Action::Drop(r) => prop_assert!(muted, "{r:?}"),
                    }
                }
                // The source changes.
                3 => {
                    ssrc = ssrc.wrapping_mul(2_654_435_761).wrapping_add(7);
                    seq = seq.wrapping_mul(31).wrapping_add(17);
                    ts = ts.wrapping_mul(13);
                }
                // Mute / unmute.
                4 => {
                    muted = !muted;
                    relay.set_muted(call, Side::B, muted).map_err(|e| TestCaseError::fail(e.to_string()))?;
                }
                // Inject a packet of our own.
                _ => {
                    let len = RtpHeader { marker: false, payload_type: 101, sequence: 0, timestamp: 0, ssrc: 0xdead }
                        .write(&[0; 4], &mut buf)
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    relay.inject(now, call, Side::B, &mut buf[..len]).map_err(|e| TestCaseError::fail(e.to_string()))?;
                    let p = RtpPacket::parse(&buf[..len]).map_err(|e| TestCaseError::fail(e.to_string()))?;
                    out.push((p.ssrc(), p.sequence()));
                }
            }
        }
        for w in out.windows(2) {
            prop_assert_eq!(w[1].0, w[0].0, "one SSRC");
            prop_assert_eq!(w[1].1, w[0].1.wrapping_add(1), "consecutive sequence numbers");
        }
    }
}
