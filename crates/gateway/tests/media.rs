//! The media shell on real loopback sockets: bridges (pass-through and transcoded),
//! endpoints, latching, rewriting, release and drain, port exhaustion, media timeouts.
//!
//! Waits are bounded by `WAIT` (a ceiling against hangs, not a speed assertion).

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use gateway::media::{
    BridgeConfig, Codec, CodecKind, EndpointConfig, EngineConfig, LegSpec, MediaEngine, MediaError,
    MediaEvent, MediaEventKind, MediaTag, MediaTimeoutKind, MediaTimeouts, RtcpPort, Side,
};
use rtp_relay::analysis::tone_fraction;
use rtp_relay::codec::{Decoder, Encoder, OpusConfig};
use rtp_relay::rtp::{RtpHeader, RtpPacket};
use rtp_relay::tone::{Cadence, ToneGenerator, ToneSpec};
use tokio::sync::mpsc::Receiver;

const WAIT: Duration = Duration::from_secs(10);

/// A port range of `ports` even ports near one the OS just handed out (ports the OS refuses
/// later are skipped by the engine).
fn free_range(ports: u16) -> [u16; 2] {
    let probe = UdpSocket::bind("127.0.0.1:0").expect("probe socket");
    let p = probe.local_addr().expect("probe address").port();
    let low = (p & !1).min(65535 - 2 * ports - 2);
    [low, low + 2 * ports - 1]
}

fn engine(
    ports: u16,
    drain: Duration,
    timeouts: MediaTimeouts,
) -> (MediaEngine, Receiver<MediaEvent>) {
    MediaEngine::start_with(EngineConfig {
        address: "127.0.0.1".parse().expect("address"),
        port_range: free_range(ports),
        port_drain: drain,
        udp_recv_buffer: 1 << 20,
        workers: 2,
        worker_priority: 0,
        event_capacity: 64,
        timeouts,
    })
    .expect("engine")
}

/// (`rt_priority`, `policy`) of every thread of this process named `media-*`
/// (`/proc/self/task/*/stat`, fields 40 and 41; policy 1 is `SCHED_FIFO`).
fn media_thread_scheduling() -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").expect("tasks") {
        let dir = task.expect("task").path();
        let (Ok(comm), Ok(stat)) = (
            std::fs::read_to_string(dir.join("comm")),
            std::fs::read_to_string(dir.join("stat")),
        ) else {
            continue;
        };
        if !comm.starts_with("media-") {
            continue;
        }
        let rest = stat.rsplit_once(')').expect("stat").1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // `rest` starts at field 3 (state).
        out.push((
            fields[37].parse().expect("rt_priority"),
            fields[38].parse().expect("policy"),
        ));
    }
    out
}

/// `[rtp] worker_priority` puts the workers under SCHED_FIFO at that priority (the tests
/// run as root, as `tests/run.sh` needs for its packages); 0 leaves them alone.
#[test]
fn worker_priority_runs_the_workers_under_sched_fifo() {
    // 37: a priority no other test's workers have (they all use 0).
    let (engine, _events) = MediaEngine::start_with(EngineConfig {
        address: "127.0.0.1".parse().expect("address"),
        port_range: free_range(8),
        port_drain: Duration::ZERO,
        udp_recv_buffer: 1 << 20,
        workers: 2,
        worker_priority: 37,
        event_capacity: 64,
        timeouts: no_timeouts(),
    })
    .expect("engine");
    // The workers set their policy as they start: wait for both (bounded).
    let mut fifo = 0;
    for _ in 0..200 {
        fifo = media_thread_scheduling()
            .iter()
            .filter(|&&(prio, policy)| prio == 37 && policy == 1)
            .count();
        if fifo >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(fifo, 2, "{:?}", media_thread_scheduling());
    drop(engine);
    assert!(
        media_thread_scheduling()
            .iter()
            .all(|&(prio, _)| prio != 37),
        "the workers stop with the engine"
    );
}

fn no_timeouts() -> MediaTimeouts {
    MediaTimeouts::default()
}

/// A phone: a blocking loopback socket with a read timeout.
fn phone() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").expect("phone socket");
    s.set_read_timeout(Some(WAIT)).expect("read timeout");
    s
}

fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0; 12 + payload.len()];
    let h = RtpHeader {
        marker: false,
        payload_type: pt,
        sequence: seq,
        timestamp: ts,
        ssrc,
    };
    let n = h.write(payload, &mut out).expect("header");
    out.truncate(n);
    out
}

fn recv(s: &UdpSocket) -> Vec<u8> {
    let mut buf = [0u8; 2048];
    let (n, _) = s
        .recv_from(&mut buf)
        .expect("a packet before the read timeout");
    buf[..n].to_vec()
}

async fn next_event(
    events: &mut Receiver<MediaEvent>,
    want: impl Fn(&MediaEventKind) -> bool,
) -> MediaEvent {
    tokio::time::timeout(WAIT, async {
        loop {
            let ev = events.recv().await.expect("event channel open");
            if want(&ev.kind) {
                return ev;
            }
        }
    })
    .await
    .expect("event before the bound")
}

fn pcmu() -> LegSpec {
    LegSpec::new(Codec::with_default_pt(CodecKind::Pcmu))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passthrough_bridge_latches_and_relays_both_ways() {
    let (engine, mut events) = engine(8, Duration::from_secs(60), no_timeouts());
    let (a, b) = (
        engine.allocate(RtcpPort::Mux).unwrap(),
        engine.allocate(RtcpPort::Mux).unwrap(),
    );
    let (a_addr, b_addr) = (a.local_addr(), b.local_addr());
    assert_eq!(a_addr.port() % 2, 0, "RTP ports are even");
    let (pa, pb) = (phone(), phone());
    // SDP says leg A is somewhere else (a NAT'd phone): latching must find the real one.
    let mut leg_a = pcmu();
    leg_a.remote_rtp = Some("127.0.0.1:9".parse().unwrap());
    let mut leg_b = pcmu();
    leg_b.remote_rtp = Some(pb.local_addr().unwrap());
    let id = engine
        .bridge(
            a,
            b,
            BridgeConfig::new(MediaTag(7), leg_a, leg_b, no_timeouts()),
        )
        .await
        .expect("bridge");

    // A → B: forwarded to B's SDP address, A latched.
    pa.send_to(&rtp(0, 1, 160, 0xaaaa, &[0x55; 160]), a_addr)
        .unwrap();
    let got = recv(&pb);
    let p = RtpPacket::parse(&got).unwrap();
    assert_eq!(p.payload(), &[0x55; 160][..]);
    let latched = next_event(&mut events, |k| {
        matches!(k, MediaEventKind::Latched { side: Side::A, .. })
    })
    .await;
    assert_eq!(latched.tag, MediaTag(7));
    assert_eq!(
        latched.kind,
        MediaEventKind::Latched {
            side: Side::A,
            stream: gateway::media::StreamKind::Rtp,
            address: pa.local_addr().unwrap()
        }
    );

    // B → A: goes to the latched address, not the SDP one.
    pb.send_to(&rtp(0, 9, 800, 0xbbbb, &[0x11; 160]), b_addr)
        .unwrap();
    let got = recv(&pa);
    assert_eq!(RtpPacket::parse(&got).unwrap().payload(), &[0x11; 160][..]);

    let stats = engine.release(id).await.expect("release");
    assert_eq!(stats.legs[0].rtp_packets, 1);
    assert_eq!(stats.legs[1].rtp_packets, 1);
    assert_eq!(stats.legs[0].forwarded + stats.legs[1].forwarded, 2);
    assert!(matches!(
        engine.stats(id).await,
        Err(MediaError::UnknownSession)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssrc_change_is_rewritten_into_one_continuous_stream() {
    let (engine, mut events) = engine(8, Duration::from_secs(60), no_timeouts());
    let (a, b) = (
        engine.allocate(RtcpPort::Mux).unwrap(),
        engine.allocate(RtcpPort::Mux).unwrap(),
    );
    let a_addr = a.local_addr();
    let (pa, pb) = (phone(), phone());
    let mut leg_b = pcmu();
    leg_b.remote_rtp = Some(pb.local_addr().unwrap());
    let _id = engine
        .bridge(
            a,
            b,
            BridgeConfig::new(MediaTag(1), pcmu(), leg_b, no_timeouts()),
        )
        .await
        .unwrap();
    // Five packets from one source, then the phone's media moves to a new SSRC with a
    // far-away sequence number and timestamp (e.g. a transfer behind a PBX).
    let mut sent = Vec::new();
    for i in 0..5u16 {
        sent.push(rtp(0, 100 + i, 1000 + 160 * u32::from(i), 1111, &[1; 160]));
    }
    for i in 0..5u16 {
        sent.push(rtp(
            0,
            40000 + i,
            900_000 + 160 * u32::from(i),
            2222,
            &[2; 160],
        ));
    }
    let mut got = Vec::new();
    for p in &sent {
        pa.send_to(p, a_addr).unwrap();
        got.push(recv(&pb));
    }
    let parsed: Vec<_> = got.iter().map(|g| RtpPacket::parse(g).unwrap()).collect();
    let ssrc = parsed[0].ssrc();
    for w in parsed.windows(2) {
        assert_eq!(w[1].ssrc(), ssrc, "one SSRC toward B");
        assert_eq!(
            w[1].sequence(),
            w[0].sequence().wrapping_add(1),
            "no sequence gap"
        );
        assert!(
            w[1].timestamp().wrapping_sub(w[0].timestamp()) < 8000,
            "no timestamp jump"
        );
    }
    assert_eq!(
        parsed[9].payload()[0],
        2,
        "the new source's audio came through"
    );
    let ev = next_event(&mut events, |k| {
        matches!(k, MediaEventKind::SourceChanged { .. })
    })
    .await;
    assert_eq!(
        ev.kind,
        MediaEventKind::SourceChanged {
            side: Side::B,
            ssrc: 2222
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_receives_and_sends() {
    let (engine, mut events) = engine(4, Duration::from_secs(60), no_timeouts());
    let port = engine.allocate(RtcpPort::Mux).unwrap();
    let addr = port.local_addr();
    let sdp_phone = phone();
    let mut leg = pcmu();
    leg.remote_rtp = Some(sdp_phone.local_addr().unwrap());
    let (id, mut rx, tx) = engine
        .endpoint(port, EndpointConfig::new(MediaTag(3), leg, no_timeouts()))
        .await
        .unwrap();

    // Before anything arrives, the application sends to the SDP address.
    tx.send(&rtp(0, 1, 0, 5, &[9; 160])).unwrap();
    assert_eq!(
        RtpPacket::parse(&recv(&sdp_phone)).unwrap().payload(),
        &[9; 160][..]
    );

    // The real peer is elsewhere: its packets reach the application and move the latch.
    let real = phone();
    real.send_to(&rtp(0, 77, 0, 6, &[4; 160]), addr).unwrap();
    let packet = tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap()
        .expect("a packet");
    assert_eq!(RtpPacket::parse(&packet).unwrap().payload(), &[4; 160][..]);
    next_event(&mut events, |k| matches!(k, MediaEventKind::Latched { .. })).await;
    assert_eq!(tx.destination(), Some(real.local_addr().unwrap()));
    tx.send(&rtp(0, 2, 160, 5, &[8; 160])).unwrap();
    assert_eq!(
        RtpPacket::parse(&recv(&real)).unwrap().payload(),
        &[8; 160][..]
    );

    let stats = engine.release(id).await.unwrap();
    assert_eq!(stats.legs[0].rtp_packets, 1);
    assert_eq!(
        tokio::time::timeout(WAIT, rx.recv()).await.unwrap(),
        None,
        "closed after release"
    );
    assert!(matches!(tx.send(&[0x80; 12]), Err(MediaError::Released)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_pool_errors_and_released_ports_drain() {
    // Two even ports; released ones stay out of use for an hour.
    let (engine, _events) = engine(2, Duration::from_secs(3600), no_timeouts());
    let a = engine.allocate(RtcpPort::Mux).expect("first port");
    let b = engine.allocate(RtcpPort::Mux).expect("second port");
    assert!(matches!(
        engine.allocate(RtcpPort::Mux),
        Err(MediaError::PortsExhausted)
    ));
    let id = engine
        .bridge(
            a,
            b,
            BridgeConfig::new(MediaTag(1), pcmu(), pcmu(), no_timeouts()),
        )
        .await
        .unwrap();
    engine.release(id).await.unwrap();
    assert!(
        matches!(
            engine.allocate(RtcpPort::Mux),
            Err(MediaError::PortsExhausted)
        ),
        "released ports drain before reuse"
    );
    assert!(matches!(
        engine.release(id).await,
        Err(MediaError::UnknownSession)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn released_and_dropped_ports_return_after_a_zero_drain() {
    let (engine, _events) = engine(1, Duration::ZERO, no_timeouts());
    let port = engine.allocate(RtcpPort::Mux).unwrap();
    let number = port.port();
    drop(port);
    let port = engine
        .allocate(RtcpPort::Mux)
        .expect("a dropped port comes back");
    assert_eq!(port.port(), number);
    let (id, _rx, tx) = engine
        .endpoint(
            port,
            EndpointConfig::new(MediaTag(1), pcmu(), no_timeouts()),
        )
        .await
        .unwrap();
    engine.release(id).await.unwrap();
    drop(tx);
    let again = engine
        .allocate(RtcpPort::Mux)
        .expect("a released port comes back");
    assert_eq!(again.port(), number);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_rtcp_port_is_bound_and_bye_reported() {
    let (engine, mut events) = engine(8, Duration::from_secs(60), no_timeouts());
    let a = engine.allocate(RtcpPort::Separate).unwrap();
    let rtcp_addr = a.rtcp_addr().expect("port + 1 bound");
    assert_eq!(rtcp_addr.port(), a.port() + 1);
    let b = engine.allocate(RtcpPort::Mux).unwrap();
    let mut leg_a = pcmu();
    leg_a.rtcp_mux = false;
    engine
        .bridge(
            a,
            b,
            BridgeConfig::new(MediaTag(5), leg_a, pcmu(), no_timeouts()),
        )
        .await
        .unwrap();
    // RTCP BYE (RFC 3550 §6.6) for SSRC 1, alone in its compound (reduced size not needed:
    // the relay accepts a compound that starts with BYE only after an RR, so send RR+BYE).
    let mut pkt = vec![0x80, 201, 0, 1, 0, 0, 0, 1];
    pkt.extend_from_slice(&[0x81, 203, 0, 1, 0, 0, 0, 1]);
    phone().send_to(&pkt, rtcp_addr).unwrap();
    let ev = next_event(&mut events, |k| matches!(k, MediaEventKind::RtcpBye { .. })).await;
    assert_eq!(ev.tag, MediaTag(5));
    assert_eq!(ev.kind, MediaEventKind::RtcpBye { side: Side::A });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_call_ends_with_a_media_timeout_once_answered() {
    let timeouts = MediaTimeouts {
        no_media: Some(Duration::from_millis(100)),
        silence: Some(Duration::from_millis(100)),
    };
    let (engine, mut events) = engine(4, Duration::from_secs(60), timeouts);
    let (a, b) = (
        engine.allocate(RtcpPort::Mux).unwrap(),
        engine.allocate(RtcpPort::Mux).unwrap(),
    );
    let mut cfg = BridgeConfig::new(MediaTag(11), pcmu(), pcmu(), engine.default_timeouts());
    cfg.ringing = true;
    let id = engine.bridge(a, b, cfg).await.unwrap();
    engine.set_ringing(id, false).await.unwrap();
    let ev = next_event(&mut events, |k| {
        matches!(k, MediaEventKind::MediaTimeout { .. })
    })
    .await;
    assert_eq!(ev.id, id);
    assert_eq!(ev.tag, MediaTag(11));
    assert!(matches!(
        ev.kind,
        MediaEventKind::MediaTimeout {
            kind: MediaTimeoutKind::NoMedia,
            ..
        }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dtmf_in_a_bridge_is_reported() {
    let (engine, mut events) = engine(4, Duration::from_secs(60), no_timeouts());
    let (a, b) = (
        engine.allocate(RtcpPort::Mux).unwrap(),
        engine.allocate(RtcpPort::Mux).unwrap(),
    );
    let a_addr = a.local_addr();
    let mut leg_a = pcmu();
    leg_a.telephone_event = Some(101);
    let mut leg_b = pcmu();
    leg_b.telephone_event = Some(101);
    engine
        .bridge(
            a,
            b,
            BridgeConfig::new(MediaTag(2), leg_a, leg_b, no_timeouts()),
        )
        .await
        .unwrap();
    let pa = phone();
    // RFC 4733 §2.3: event 5, end bit, volume 10, duration 800; three end packets.
    for seq in 1..=3u16 {
        let mut p = rtp(101, seq, 4000, 42, &[5, 0x80 | 10, 0x03, 0x20]);
        if seq == 1 {
            p[1] |= 0x80;
        }
        pa.send_to(&p, a_addr).unwrap();
    }
    let ev = next_event(&mut events, |k| matches!(k, MediaEventKind::Dtmf { .. })).await;
    let MediaEventKind::Dtmf { side, event } = ev.kind else {
        unreachable!("filtered above")
    };
    assert_eq!(side, Side::A);
    assert!(
        matches!(
            event,
            gateway::media::DtmfEvent::Began {
                event: 5,
                timestamp: 4000
            }
        ),
        "{event:?}"
    );
}

/// Sends one second of a 1 kHz tone encoded as `codec` from `from` to `to`, and returns
/// what arrives at `rx` decoded as `out` (mono PCM at `out`'s rate).
fn tone_through(
    from: &UdpSocket,
    to: SocketAddr,
    codec: Codec,
    rx: &UdpSocket,
    out: CodecKind,
) -> Vec<i16> {
    let rate = codec.kind.sample_rate();
    let mut tone = ToneGenerator::new(ToneSpec::new(&[(1000.0, 0.3)], Cadence::continuous()), rate);
    let mut enc = Encoder::new(codec.kind, &OpusConfig::default()).unwrap();
    let frame = rate as usize / 50;
    let ticks = codec.kind.clock_rate() / 50;
    let mut pcm = vec![0i16; frame];
    let mut payload = [0u8; 1500];
    for i in 0..50u16 {
        tone.fill(&mut pcm);
        let n = enc.encode(&pcm, &mut payload).unwrap();
        from.send_to(
            &rtp(
                codec.payload_type,
                1000 + i,
                u32::from(i) * ticks,
                77,
                &payload[..n],
            ),
            to,
        )
        .unwrap();
        // Keep well inside the receiver's socket buffer.
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut dec = Decoder::new(out, out.sample_rate()).unwrap();
    let mut audio = Vec::new();
    let mut buf = vec![0i16; dec.max_frame_samples()];
    rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut datagram = [0u8; 2048];
    // The transcoder emits one frame per input frame; collect what came (bounded).
    for _ in 0..50 {
        let Ok((n, _)) = rx.recv_from(&mut datagram) else {
            break;
        };
        let p = RtpPacket::parse(&datagram[..n]).unwrap();
        let k = dec.decode(p.payload(), &mut buf).unwrap();
        audio.extend_from_slice(&buf[..k]);
    }
    audio
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transcoded_bridge_carries_a_1khz_tone_both_ways() {
    let (engine, _events) = engine(4, Duration::from_secs(60), no_timeouts());
    let (a, b) = (
        engine.allocate(RtcpPort::Mux).unwrap(),
        engine.allocate(RtcpPort::Mux).unwrap(),
    );
    let (a_addr, b_addr) = (a.local_addr(), b.local_addr());
    let (pa, pb) = (phone(), phone());
    let opus = Codec::with_default_pt(CodecKind::Opus);
    let mut leg_a = pcmu();
    leg_a.remote_rtp = Some(pa.local_addr().unwrap());
    let mut leg_b = LegSpec::new(opus);
    leg_b.remote_rtp = Some(pb.local_addr().unwrap());
    let id = engine
        .bridge(
            a,
            b,
            BridgeConfig::new(MediaTag(4), leg_a, leg_b, no_timeouts()),
        )
        .await
        .unwrap();

    let pcmu_codec = Codec::with_default_pt(CodecKind::Pcmu);
    let (pa2, pb2) = (pa.try_clone().unwrap(), pb.try_clone().unwrap());
    let heard_by_b = tokio::task::spawn_blocking(move || {
        tone_through(&pa2, a_addr, pcmu_codec, &pb2, CodecKind::Opus)
    })
    .await
    .unwrap();
    let skip = heard_by_b.len() / 5; // codec and resampler start-up
    assert!(
        heard_by_b.len() > 48000 / 2,
        "most of a second arrived as Opus: {}",
        heard_by_b.len()
    );
    let f = tone_fraction(&heard_by_b[skip..], 48000, 1000.0);
    assert!(f > 0.8, "1 kHz dominates PCMU→Opus: {f}");

    let heard_by_a =
        tokio::task::spawn_blocking(move || tone_through(&pb, b_addr, opus, &pa, CodecKind::Pcmu))
            .await
            .unwrap();
    let skip = heard_by_a.len() / 5;
    assert!(
        heard_by_a.len() > 8000 / 2,
        "most of a second arrived as PCMU: {}",
        heard_by_a.len()
    );
    let f = tone_fraction(&heard_by_a[skip..], 8000, 1000.0);
    assert!(f > 0.8, "1 kHz dominates Opus→PCMU: {f}");

    let stats = engine.stats(id).await.unwrap();
    let [ab, ba] = stats.transcoders.expect("a transcoded bridge");
    assert!(ab.encoded >= 40 && ba.encoded >= 40, "{ab:?} {ba:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_endpoint_times_out_and_rejects_leg_b() {
    let timeouts = MediaTimeouts {
        no_media: Some(Duration::from_millis(100)),
        silence: None,
    };
    let (engine, mut events) = engine(2, Duration::from_secs(60), timeouts);
    let port = engine.allocate(RtcpPort::Mux).unwrap();
    let (id, _rx, _tx) = engine
        .endpoint(port, EndpointConfig::new(MediaTag(9), pcmu(), timeouts))
        .await
        .unwrap();
    assert!(matches!(
        engine.set_remote(id, Side::B, None, None).await,
        Err(MediaError::Invalid(_))
    ));
    let ev = next_event(&mut events, |k| {
        matches!(k, MediaEventKind::MediaTimeout { .. })
    })
    .await;
    assert_eq!(ev.tag, MediaTag(9));
    assert_eq!(
        ev.kind,
        MediaEventKind::MediaTimeout {
            side: Side::A,
            kind: MediaTimeoutKind::NoMedia
        }
    );
}
