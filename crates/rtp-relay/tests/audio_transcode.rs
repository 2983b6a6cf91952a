//! Sound crosses the transcoder correctly: tones keep their frequency through every codec
//! chain, timestamps follow the output clock, the playout buffer reorders, and losses are
//! concealed.

use bytes::Bytes;
use rtp_relay::analysis::{dominant_frequency, power, tone_fraction};
use rtp_relay::codec::{
    Codec, CodecKind, Decoder, Encoder, InputPacket, MAX_PAYLOAD_BYTES, MediaPath, OpusConfig,
    OutputFrame, Transcoder, TranscoderConfig, samples_in_ms,
};
use rtp_relay::tone::{Cadence, ToneGenerator, ToneSpec};

fn codec(kind: CodecKind) -> Codec {
    Codec::with_default_pt(kind)
}

/// `frames` 20 ms packets of a `freq` tone encoded as `kind`, seq from 1000, ts from 5000.
fn tone_packets(kind: CodecKind, freq: f64, frames: usize) -> Vec<InputPacket> {
    let opus = OpusConfig::default();
    let mut enc = Encoder::new(kind, &opus).expect("encoder");
    let rate = enc.sample_rate();
    let spec = ToneSpec::new(&[(freq, 0.3)], Cadence::continuous());
    let mut tone = ToneGenerator::new(spec, rate);
    let n = samples_in_ms(rate, 20);
    let ticks = kind.ticks_for_samples(n as u64, rate) as u32;
    let mut pcm = vec![0i16; n];
    let mut payload = [0u8; MAX_PAYLOAD_BYTES];
    (0..frames)
        .map(|i| {
            tone.fill(&mut pcm);
            let len = enc.encode(&pcm, &mut payload).expect("encode");
            InputPacket {
                sequence: 1000u16.wrapping_add(i as u16),
                timestamp: 5000u32.wrapping_add(i as u32 * ticks),
                marker: i == 0,
                payload: Bytes::copy_from_slice(&payload[..len]),
            }
        })
        .collect()
}

fn run(t: &mut Transcoder, packets: impl IntoIterator<Item = InputPacket>) -> Vec<OutputFrame> {
    let mut out = Vec::new();
    for p in packets {
        t.push(p).expect("push");
        while let Some(f) = t.poll_frame() {
            out.push(f);
        }
    }
    t.flush().expect("flush");
    while let Some(f) = t.poll_frame() {
        out.push(f);
    }
    out
}

fn decode_all(kind: CodecKind, frames: &[OutputFrame]) -> (Vec<i16>, u32) {
    let mut dec = Decoder::new(kind, kind.sample_rate()).expect("decoder");
    let mut buf = vec![0i16; dec.max_frame_samples()];
    let mut pcm = Vec::new();
    for f in frames {
        let n = dec.decode(&f.payload, &mut buf).expect("decode");
        pcm.extend_from_slice(&buf[..n]);
    }
    (pcm, dec.sample_rate())
}

fn to_frames(frames: Vec<OutputFrame>) -> Vec<InputPacket> {
    frames
        .into_iter()
        .map(|f| InputPacket {
            sequence: f.sequence,
            timestamp: f.timestamp,
            marker: f.marker,
            payload: f.payload,
        })
        .collect()
}

fn assert_tone(pcm: &[i16], rate: u32, freq: f64) {
    let steady = &pcm[pcm.len() / 4..];
    let got = dominant_frequency(steady, rate).expect("a tone");
    assert!((got - freq).abs() < 5.0, "expected {freq} Hz, got {got}");
    let frac = tone_fraction(steady, rate, freq);
    assert!(frac > 0.85, "only {frac} of the power at {freq} Hz");
}

fn transcoder(from: CodecKind, to: CodecKind) -> Transcoder {
    Transcoder::new(TranscoderConfig::new(codec(from), codec(to))).expect("transcoder")
}

#[test]
fn one_khz_pcmu_survives_opus_and_back() {
    let input = tone_packets(CodecKind::Pcmu, 1000.0, 100);
    let mut to_opus = transcoder(CodecKind::Pcmu, CodecKind::Opus);
    let mut to_pcmu = transcoder(CodecKind::Opus, CodecKind::Pcmu);
    assert_eq!(to_opus.path(), MediaPath::Transcode);
    let opus_frames = run(&mut to_opus, input);
    assert_eq!(opus_frames.len(), 100);
    assert!(opus_frames.iter().all(|f| f.payload_type == 111));
    let pcmu_frames = run(&mut to_pcmu, to_frames(opus_frames));
    assert_eq!(pcmu_frames.len(), 100);
    assert!(
        pcmu_frames
            .iter()
            .all(|f| f.payload.len() == 160 && f.payload_type == 0)
    );
    let (pcm, rate) = decode_all(CodecKind::Pcmu, &pcmu_frames);
    assert_tone(&pcm, rate, 1000.0);
}

#[test]
fn one_khz_g722_becomes_pcmu() {
    let input = tone_packets(CodecKind::G722, 1000.0, 50);
    let mut t = transcoder(CodecKind::G722, CodecKind::Pcmu);
    let frames = run(&mut t, input);
    assert_eq!(frames.len(), 50);
    let (pcm, rate) = decode_all(CodecKind::Pcmu, &frames);
    assert_tone(&pcm, rate, 1000.0);
    // And the other way: 160 ticks of the 8 kHz G.722 clock per 20 ms of 16 kHz audio.
    let mut back = transcoder(CodecKind::Pcmu, CodecKind::G722);
    let g722 = run(&mut back, to_frames(frames));
    assert!(
        g722.windows(2)
            .all(|w| w[1].timestamp.wrapping_sub(w[0].timestamp) == 160)
    );
    let (pcm, rate) = decode_all(CodecKind::G722, &g722);
    assert_eq!(rate, 16000);
    assert_tone(&pcm, rate, 1000.0);
}

#[test]
fn pass_through_forwards_identical_bytes() {
    let input = tone_packets(CodecKind::Pcmu, 1000.0, 20);
    let mut cfg = TranscoderConfig::new(
        codec(CodecKind::Pcmu),
        Codec {
            kind: CodecKind::Pcmu,
            payload_type: 0,
        },
    );
    cfg.initial_sequence = 7;
    cfg.initial_timestamp = 1_000_000;
    let mut t = Transcoder::new(cfg).expect("transcoder");
    assert!(t.passthrough());
    assert_eq!(
        MediaPath::decide(
            Codec {
                kind: CodecKind::Opus,
                payload_type: 96
            },
            Codec {
                kind: CodecKind::Opus,
                payload_type: 111
            }
        ),
        MediaPath::PassThrough
    );
    let out = run(&mut t, input.clone());
    assert_eq!(out.len(), input.len());
    for (i, (o, p)) in out.iter().zip(&input).enumerate() {
        assert_eq!(o.payload, p.payload);
        // Same allocation: nothing was copied, let alone decoded.
        assert_eq!(o.payload.as_ptr(), p.payload.as_ptr());
        assert_eq!(o.sequence, 7 + i as u16);
        assert_eq!(o.timestamp, 1_000_000 + 160 * i as u32);
        assert_eq!(o.marker, p.marker);
    }
    assert_eq!(t.stats().forwarded, 20);
    assert_eq!(t.stats().decoded, 0);
}

#[test]
fn pcma_and_pcmu_convert_both_ways() {
    let input = tone_packets(CodecKind::Pcma, 1000.0, 50);
    let (orig, _) = decode_all(
        CodecKind::Pcma,
        &input
            .iter()
            .map(|p| OutputFrame {
                sequence: p.sequence,
                timestamp: p.timestamp,
                marker: p.marker,
                payload_type: 8,
                payload: p.payload.clone(),
            })
            .collect::<Vec<_>>(),
    );
    let mut a2u = transcoder(CodecKind::Pcma, CodecKind::Pcmu);
    let pcmu = run(&mut a2u, input);
    let (pcm, rate) = decode_all(CodecKind::Pcmu, &pcmu);
    assert_tone(&pcm, rate, 1000.0);
    // Same rate, so no filter delay: the level is kept within 0.2 dB.
    let db = 10.0 * (power(&pcm) / power(&orig)).log10();
    assert!(db.abs() < 0.2, "{db} dB");
    let mut u2a = transcoder(CodecKind::Pcmu, CodecKind::Pcma);
    let pcma = run(&mut u2a, to_frames(pcmu));
    assert!(pcma.iter().all(|f| f.payload_type == 8));
    let (pcm, rate) = decode_all(CodecKind::Pcma, &pcma);
    assert_tone(&pcm, rate, 1000.0);
}

#[test]
fn opus_timestamps_advance_960_per_20_ms() {
    let mut cfg = TranscoderConfig::new(codec(CodecKind::Pcmu), codec(CodecKind::Opus));
    cfg.initial_timestamp = u32::MAX - 2000; // and wrap around
    cfg.initial_sequence = u16::MAX - 3;
    // Whatever rate libopus runs at, the RTP clock is 48 kHz (RFC 7587 §4.1).
    for rate in [8000, 48000] {
        cfg.opus.sample_rate = rate;
        let mut t = Transcoder::new(cfg).expect("transcoder");
        let out = run(&mut t, tone_packets(CodecKind::Pcmu, 440.0, 10));
        assert_eq!(out.len(), 10);
        assert_eq!(out[0].timestamp, u32::MAX - 2000);
        assert!(out[0].marker && out[1..].iter().all(|f| !f.marker));
        for w in out.windows(2) {
            assert_eq!(w[1].timestamp.wrapping_sub(w[0].timestamp), 960);
            assert_eq!(w[1].sequence, w[0].sequence.wrapping_add(1));
        }
    }
    // 40 ms frames: 1920 ticks.
    cfg.opus.sample_rate = 48000;
    cfg.ptime_ms = 40;
    let mut t = Transcoder::new(cfg).expect("transcoder");
    let out = run(&mut t, tone_packets(CodecKind::Pcmu, 440.0, 10));
    assert_eq!(out.len(), 5);
    assert!(
        out.windows(2)
            .all(|w| w[1].timestamp.wrapping_sub(w[0].timestamp) == 1920)
    );
    cfg.ptime_ms = 30;
    assert!(Transcoder::new(cfg).is_err(), "Opus has no 30 ms frames");
}

#[test]
fn playout_buffer_reorders_within_its_depth() {
    let input = tone_packets(CodecKind::Pcmu, 1000.0, 30);
    let mut in_order = transcoder(CodecKind::Pcmu, CodecKind::Pcma);
    let expected = run(&mut in_order, input.clone());

    // Swap neighbours 5/6 and move 12 three places later.
    let mut shuffled = input.clone();
    shuffled.swap(5, 6);
    let p12 = shuffled.remove(12);
    shuffled.insert(15, p12);
    let mut t = transcoder(CodecKind::Pcmu, CodecKind::Pcma);
    let got = run(&mut t, shuffled);
    assert_eq!(got, expected, "reordering must be invisible downstream");
    let s = t.stats();
    assert_eq!(s.playout.reordered, 2);
    assert_eq!(s.playout.late, 0);
    assert_eq!(s.concealed_frames, 0);
}

#[test]
fn too_late_and_duplicate_packets_are_dropped_and_counted() {
    let input = tone_packets(CodecKind::Pcmu, 1000.0, 30);
    let mut stream: Vec<InputPacket> = input.clone();
    // Packet 10 arrives after 16 (depth 4 exceeded: it was declared lost), and 20 twice.
    let p10 = stream.remove(10);
    stream.insert(16, p10);
    stream.insert(21, input[20].clone());
    let mut t = transcoder(CodecKind::Pcmu, CodecKind::Pcma);
    let out = run(&mut t, stream);
    let s = t.stats();
    assert_eq!(s.playout.late, 1);
    assert_eq!(s.playout.duplicates, 1);
    assert_eq!(s.playout.lost, 1);
    assert_eq!(s.concealed_frames, 1);
    // The loss was concealed, so the output is continuous: 30 frames, 160 ticks apart.
    assert_eq!(out.len(), 30);
    assert!(
        out.windows(2)
            .all(|w| w[1].timestamp.wrapping_sub(w[0].timestamp) == 160)
    );
    assert!(
        out.windows(2)
            .all(|w| w[1].sequence == w[0].sequence.wrapping_add(1))
    );
}

#[test]
fn a_lost_packet_leaves_no_gap_and_no_click() {
    let input = tone_packets(CodecKind::Pcmu, 440.0, 40);
    let (clean, rate) = decode_all(
        CodecKind::Pcma,
        &run(
            &mut transcoder(CodecKind::Pcmu, CodecKind::Pcma),
            input.clone(),
        ),
    );
    let mut lossy = input;
    lossy.remove(20);
    let mut t = transcoder(CodecKind::Pcmu, CodecKind::Pcma);
    let out = run(&mut t, lossy);
    assert_eq!(out.len(), 40);
    let (pcm, _) = decode_all(CodecKind::Pcma, &out);
    let step = |x: &[i16]| {
        x.windows(2)
            .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
            .max()
            .unwrap_or(0)
    };
    let clean_step = step(&clean[800..]);
    let around = &pcm[19 * 160..22 * 160];
    assert!(
        f64::from(step(around)) <= 1.3 * f64::from(clean_step),
        "seam step {} vs clean {clean_step}",
        step(around)
    );
    let lost = &pcm[20 * 160..21 * 160];
    assert!(
        power(lost) > 0.5 * power(&clean[20 * 160..21 * 160]),
        "no gap"
    );
    assert!(tone_fraction(lost, rate, 440.0) > 0.8);
}

#[test]
fn opus_fec_rebuilds_a_lost_packet() {
    let mut cfg = TranscoderConfig::new(codec(CodecKind::Pcmu), codec(CodecKind::Opus));
    cfg.opus.fec = true;
    cfg.opus.expected_loss_percent = 20;
    let mut to_opus = Transcoder::new(cfg).expect("transcoder");
    let mut opus = to_frames(run(&mut to_opus, tone_packets(CodecKind::Pcmu, 700.0, 50)));
    opus.remove(25);
    let mut t = transcoder(CodecKind::Opus, CodecKind::Pcmu);
    let out = run(&mut t, opus);
    assert_eq!(out.len(), 50);
    assert_eq!(t.stats().fec_recovered, 1);
    let (pcm, rate) = decode_all(CodecKind::Pcmu, &out);
    assert_tone(&pcm, rate, 700.0);
}

#[test]
fn silence_gaps_move_the_output_clock_and_set_the_marker() {
    // 10 packets, then 1 s of silence not sent (sequence continues, timestamp jumps).
    let mut input = tone_packets(CodecKind::Pcmu, 1000.0, 20);
    for p in &mut input[10..] {
        p.timestamp = p.timestamp.wrapping_add(8000);
    }
    input[10].marker = true;
    let mut t = transcoder(CodecKind::Pcmu, CodecKind::Opus);
    let out = run(&mut t, input);
    assert_eq!(out.len(), 20);
    assert_eq!(
        out[10].timestamp.wrapping_sub(out[9].timestamp),
        960 + 48000
    );
    assert!(out[10].marker);
    assert_eq!(out[11].timestamp.wrapping_sub(out[10].timestamp), 960);
    assert_eq!(t.stats().timestamp_gaps, 1);
}

#[test]
fn undecodable_payloads_are_concealed_not_fatal() {
    let mut opus = to_frames(run(
        &mut transcoder(CodecKind::Pcmu, CodecKind::Opus),
        tone_packets(CodecKind::Pcmu, 1000.0, 30),
    ));
    // An empty payload and a TOC byte promising a frame count the packet does not have.
    opus[10].payload = Bytes::new();
    opus[11].payload = Bytes::from_static(&[0x03, 0xFF]);
    let mut t = transcoder(CodecKind::Opus, CodecKind::Pcmu);
    let out = run(&mut t, opus);
    assert_eq!(t.stats().decode_errors, 2);
    assert_eq!(out.len(), 30);
    let (pcm, rate) = decode_all(CodecKind::Pcmu, &out);
    // Concealed, not silent, and the tone is back right after.
    assert!(power(&pcm[10 * 160..12 * 160]) > 0.1 * power(&pcm[20 * 160..22 * 160]));
    assert_tone(&pcm[13 * 160..], rate, 1000.0);
}

#[test]
fn a_long_loss_becomes_a_timestamp_gap() {
    // 10 packets lost (200 ms): 60 ms concealed, the rest is a jump in the timestamps.
    let mut input = tone_packets(CodecKind::Pcmu, 1000.0, 30);
    input.drain(10..20);
    let mut t = transcoder(CodecKind::Pcmu, CodecKind::Pcma);
    let out = run(&mut t, input);
    assert_eq!(t.stats().playout.lost, 10);
    assert_eq!(t.stats().concealed_frames, 3);
    assert_eq!(out.len(), 23);
    assert_eq!(out[13].timestamp.wrapping_sub(out[12].timestamp), 160 * 8);
    assert!(out[13].marker);
}

#[test]
fn flush_releases_packets_held_behind_a_hole() {
    let mut input = tone_packets(CodecKind::Pcmu, 1000.0, 8);
    input.remove(5);
    let mut t = transcoder(CodecKind::Pcmu, CodecKind::Pcma);
    let mut n = 0;
    for p in input {
        t.push(p).expect("push");
        while t.poll_frame().is_some() {
            n += 1;
        }
    }
    assert_eq!(n, 5, "6 and 7 wait behind the hole at 5");
    t.flush().expect("flush");
    while t.poll_frame().is_some() {
        n += 1;
    }
    assert_eq!(n, 8);
}

#[test]
fn tones_packetized_into_every_codec_decode_to_the_same_tone() {
    use rtp_relay::codec::{Packetizer, PacketizerConfig};
    for kind in CodecKind::ALL {
        // Dial tone made at 48 kHz (a room's mix rate), sent in the leg's codec.
        let mut cfg = PacketizerConfig::new(codec(kind), 48000);
        cfg.initial_timestamp = 77;
        let mut p = Packetizer::new(&cfg).expect("packetizer");
        let mut tone = ToneGenerator::new(ToneSpec::dial_tone_us(), 48000);
        let mut frames = Vec::new();
        let mut pcm = vec![0i16; 480]; // 10 ms pushes, 20 ms frames
        for _ in 0..100 {
            tone.fill(&mut pcm);
            p.push_pcm(&pcm).expect("push");
            while let Some(f) = p.poll_frame() {
                frames.push(f);
            }
        }
        assert_eq!(frames.len(), 50, "{kind:?}");
        assert_eq!(frames[0].timestamp, 77);
        let step = kind.ticks_for_samples(20 * 48, 48000) as u32;
        assert!(
            frames
                .windows(2)
                .all(|w| w[1].timestamp.wrapping_sub(w[0].timestamp) == step)
        );
        let (pcm, rate) = decode_all(kind, &frames);
        let steady = &pcm[pcm.len() / 4..];
        for f in [350.0, 440.0] {
            assert!(tone_fraction(steady, rate, f) > 0.35, "{kind:?} {f}");
        }
    }
}

#[test]
fn packetizer_skip_makes_a_marked_timestamp_gap() {
    use rtp_relay::codec::{Packetizer, PacketizerConfig};
    let mut p = Packetizer::new(&PacketizerConfig::new(codec(CodecKind::Pcmu), 8000)).expect("p");
    p.push_pcm(&[100; 240]).expect("push"); // 1.5 frames
    assert_eq!(p.queued(), 1);
    // 100 ms of silence: the half frame is sent padded (its padding is the first 10 ms
    // of the gap), then the timestamps jump by the remaining 90 ms.
    p.skip(800).expect("skip");
    p.push_pcm(&[100; 160]).expect("push");
    let f: Vec<_> = std::iter::from_fn(|| p.poll_frame()).collect();
    assert_eq!(f.len(), 3);
    assert_eq!(f[1].timestamp, 160);
    assert_eq!(
        f[2].timestamp,
        240 + 800,
        "audio resumes 100 ms after it stopped"
    );
    assert!(f[0].marker && !f[1].marker && f[2].marker);
    assert!(
        f[1].payload[80..].iter().all(|&b| b == 0xFF),
        "padded with µ-law zero"
    );
    assert_eq!(p.stats().timestamp_gaps, 1);
}

#[test]
fn opus_dtx_suppresses_silent_frames() {
    use rtp_relay::codec::{Packetizer, PacketizerConfig};
    let mut cfg = PacketizerConfig::new(codec(CodecKind::Opus), 48000);
    cfg.opus.dtx = true;
    let mut p = Packetizer::new(&cfg).expect("p");
    let silence = vec![0i16; 960];
    let mut sent = 0;
    for _ in 0..100 {
        p.push_pcm(&silence).expect("push");
        while p.poll_frame().is_some() {
            sent += 1;
        }
    }
    // libopus keeps sending a frame every 400 ms in DTX; most 20 ms frames are dropped.
    assert!(p.stats().dtx_suppressed > 80, "{:?}", p.stats());
    assert!(sent < 20, "{sent}");
    // Timestamps still count the suppressed time.
    assert_eq!(p.next_timestamp(), 100 * 960);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Under any pattern of loss and local reordering the output stays a well-formed
        /// RTP stream: sequence numbers step by one, timestamps rise by whole frames, and
        /// there is never more output than input time.
        #[test]
        fn output_stays_well_formed(
            fates in proptest::collection::vec((0u8..8, 0usize..3), 10..120),
            to_opus in any::<bool>(),
        ) {
            let to = if to_opus { CodecKind::Opus } else { CodecKind::Pcma };
            let input = tone_packets(CodecKind::Pcmu, 900.0, fates.len());
            let mut arrivals: Vec<InputPacket> = Vec::new();
            for (p, &(fate, shift)) in input.into_iter().zip(&fates) {
                if fate == 0 {
                    continue; // lost
                }
                arrivals.push(p);
                let n = arrivals.len();
                if n > shift + 1 {
                    let p = arrivals.remove(n - 1);
                    arrivals.insert(n - 1 - shift, p);
                }
            }
            let mut t = transcoder(CodecKind::Pcmu, to);
            let out = run(&mut t, arrivals);
            let step = to.ticks_for_samples(160, 8000) as u32;
            prop_assert!(out.len() <= fates.len());
            for w in out.windows(2) {
                prop_assert_eq!(w[1].sequence, w[0].sequence.wrapping_add(1));
                let d = w[1].timestamp.wrapping_sub(w[0].timestamp);
                prop_assert!(d >= step && d % step == 0, "timestamp step {}", d);
            }
            if let Some(last) = out.last() {
                let span = last.timestamp.wrapping_sub(out[0].timestamp) / step;
                prop_assert!(span < fates.len() as u32);
            }
        }
    }
}

#[test]
fn packet_durations_are_reframed_to_the_output_ptime() {
    // 30 ms PCMU packets in, 20 ms PCMA frames out.
    let mut enc = Encoder::new(CodecKind::Pcmu, &OpusConfig::default()).expect("enc");
    let spec = ToneSpec::new(&[(1000.0, 0.3)], Cadence::continuous());
    let mut tone = ToneGenerator::new(spec, 8000);
    let mut pcm = vec![0i16; 240];
    let mut payload = [0u8; MAX_PAYLOAD_BYTES];
    let input: Vec<InputPacket> = (0..20u16)
        .map(|i| {
            tone.fill(&mut pcm);
            let n = enc.encode(&pcm, &mut payload).expect("encode");
            InputPacket {
                sequence: i,
                timestamp: u32::from(i) * 240,
                marker: false,
                payload: Bytes::copy_from_slice(&payload[..n]),
            }
        })
        .collect();
    let mut t = transcoder(CodecKind::Pcmu, CodecKind::Pcma);
    let out = run(&mut t, input);
    assert_eq!(out.len(), 30);
    assert!(
        out.windows(2)
            .all(|w| w[1].timestamp - w[0].timestamp == 160)
    );
    assert!(out.iter().all(|f| f.payload.len() == 160));

    // 60 ms Opus packets in, 20 ms PCMU out; a lost 60 ms packet is concealed as 60 ms.
    let mut cfg = TranscoderConfig::new(codec(CodecKind::Pcmu), codec(CodecKind::Opus));
    cfg.ptime_ms = 60;
    let mut to_opus = Transcoder::new(cfg).expect("transcoder");
    let mut opus = to_frames(run(&mut to_opus, tone_packets(CodecKind::Pcmu, 800.0, 60)));
    assert_eq!(opus.len(), 20);
    assert!(
        opus.windows(2)
            .all(|w| w[1].timestamp.wrapping_sub(w[0].timestamp) == 2880)
    );
    opus.remove(10);
    let mut back = transcoder(CodecKind::Opus, CodecKind::Pcmu);
    let out = run(&mut back, opus);
    assert_eq!(out.len(), 60);
    assert!(
        out.windows(2)
            .all(|w| w[1].timestamp.wrapping_sub(w[0].timestamp) == 160)
    );
    assert_eq!(back.stats().concealed_frames, 1);
    let (pcm, rate) = decode_all(CodecKind::Pcmu, &out);
    assert_tone(&pcm[33 * 160..], rate, 800.0);
}
