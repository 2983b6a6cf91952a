//! Encoders, decoders and concealment of every codec.

use rtp_relay::Error;
use rtp_relay::analysis::{dominant_frequency, power, tone_fraction};
use rtp_relay::codec::{
    Codec, CodecKind, Concealer, Decoder, Encoder, MAX_PAYLOAD_BYTES, OpusConfig,
    opus_fmtp_bridged_to, samples_in_ms,
};

fn sine(freq: f64, amp: f64, rate: u32, n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            (amp * 32767.0 * (2.0 * std::f64::consts::PI * freq * t).sin()).round() as i16
        })
        .collect()
}

/// Encodes `pcm` in 20 ms frames and decodes it again.
fn round_trip(kind: CodecKind, opus: &OpusConfig, pcm: &[i16]) -> (Vec<i16>, Vec<usize>) {
    let mut enc = Encoder::new(kind, opus).expect("encoder");
    let mut dec = Decoder::new(kind, enc.sample_rate()).expect("decoder");
    let frame = samples_in_ms(enc.sample_rate(), 20);
    let mut out = Vec::new();
    let mut sizes = Vec::new();
    let mut payload = [0u8; MAX_PAYLOAD_BYTES];
    let mut buf = vec![0i16; dec.max_frame_samples()];
    for chunk in pcm.chunks_exact(frame) {
        let n = enc.encode(chunk, &mut payload).expect("encode");
        sizes.push(n);
        let m = dec.decode(&payload[..n], &mut buf).expect("decode");
        assert_eq!(m, frame);
        out.extend_from_slice(&buf[..m]);
    }
    (out, sizes)
}

#[test]
fn codec_facts() {
    use CodecKind::*;
    assert_eq!(Pcmu.static_payload_type(), Some(0));
    assert_eq!(Pcma.static_payload_type(), Some(8));
    assert_eq!(G722.static_payload_type(), Some(9));
    assert_eq!(Opus.static_payload_type(), None);
    // RFC 3551 §4.5.2: G.722 samples at 16 kHz but its RTP clock is 8 kHz.
    assert_eq!((G722.sample_rate(), G722.clock_rate()), (16000, 8000));
    // RFC 7587 §4.1: Opus's RTP clock is 48 kHz.
    assert_eq!(Opus.clock_rate(), 48000);
    assert_eq!(Opus.ticks_for_samples(160, 8000), 960);
    assert_eq!(G722.ticks_for_samples(320, 16000), 160);
    assert_eq!(CodecKind::from_rtpmap("OPUS", 48000), Some(Opus));
    assert_eq!(CodecKind::from_rtpmap("pcmu", 8000), Some(Pcmu));
    assert_eq!(CodecKind::from_rtpmap("PCMU", 16000), None);
    assert_eq!(Opus.rtpmap_channels(), Some(2));
    assert_eq!(Codec::with_default_pt(Opus).payload_type, 111);
}

#[test]
fn g722_keeps_wideband_tones() {
    let opus = OpusConfig::default();
    for f in [1000.0, 5000.0] {
        let pcm = sine(f, 0.3, 16000, 16000);
        let (out, sizes) = round_trip(CodecKind::G722, &opus, &pcm);
        // 64 kbit/s: 20 ms = 160 bytes.
        assert!(sizes.iter().all(|&n| n == 160));
        let got = dominant_frequency(&out, 16000).expect("tone");
        assert!((got - f).abs() < 5.0, "{f}: {got}");
        assert!(tone_fraction(&out[1600..], 16000, f) > 0.95);
        // Level within 1 dB.
        let ratio = 10.0 * (power(&out[1600..]) / power(&pcm[1600..])).log10();
        assert!(ratio.abs() < 1.0, "{ratio}");
    }
}

#[test]
fn opus_round_trip_at_every_internal_rate() {
    for rate in [8000, 16000, 48000] {
        let opus = OpusConfig {
            sample_rate: rate,
            ..OpusConfig::default()
        };
        let pcm = sine(1000.0, 0.3, rate, rate as usize);
        let (out, sizes) = round_trip(CodecKind::Opus, &opus, &pcm);
        assert!(sizes.iter().all(|&n| n > 2 && n < 400), "{sizes:?}");
        let got = dominant_frequency(&out, rate).expect("tone");
        assert!((got - 1000.0).abs() < 5.0, "{rate}: {got}");
        assert!(tone_fraction(&out[rate as usize / 5..], rate, 1000.0) > 0.9);
    }
}

#[test]
fn opus_refuses_frames_it_cannot_encode() {
    let mut enc = Encoder::new(CodecKind::Opus, &OpusConfig::default()).expect("enc");
    let mut out = [0u8; MAX_PAYLOAD_BYTES];
    for bad in [0, 100, 959, 961, 5760 * 2] {
        let r = enc.encode(&vec![0; bad], &mut out);
        assert!(
            matches!(
                r,
                Err(Error::BadFrameLength {
                    codec: CodecKind::Opus,
                    ..
                })
            ),
            "{bad}: {r:?}"
        );
    }
    for good in [120, 240, 480, 960, 1920, 2880] {
        assert!(enc.encode(&vec![0; good], &mut out).is_ok(), "{good}");
    }
    assert!(matches!(
        Encoder::new(
            CodecKind::Opus,
            &OpusConfig {
                sample_rate: 44100,
                ..Default::default()
            }
        ),
        Err(Error::UnsupportedSampleRate(44100))
    ));
}

#[test]
fn peer_garbage_never_panics() {
    // A deterministic xorshift stream of random payloads of every length up to 1500.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for kind in CodecKind::ALL {
        let mut dec = Decoder::new(kind, 48000).expect("decoder");
        let mut out = vec![0i16; dec.max_frame_samples()];
        for len in (0..1500).step_by(7) {
            let payload: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            match dec.decode(&payload, &mut out) {
                Ok(n) => assert!(n <= out.len()),
                Err(
                    Error::PayloadTooLong { .. } | Error::InvalidPayload(_) | Error::Opus { .. },
                ) => {}
                Err(e) => panic!("{kind:?} {len}: unexpected {e:?}"),
            }
        }
    }
    // Too long for G.711: 121 ms.
    let mut dec = Decoder::new(CodecKind::Pcmu, 8000).expect("decoder");
    let mut out = vec![0i16; 2000];
    assert!(matches!(
        dec.decode(&[0xFF; 968], &mut out),
        Err(Error::PayloadTooLong { len: 968, .. })
    ));
}

/// Largest sample-to-sample step.
fn max_step(x: &[i16]) -> i32 {
    x.windows(2)
        .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
        .max()
        .unwrap_or(0)
}

#[test]
fn g711_concealment_continues_the_tone_without_a_click() {
    // A 440 Hz tone (period 18.18 samples: not a whole number, the hard case) in 20 ms
    // frames; frame 10 is lost.
    let rate = 8000;
    let pcm = sine(440.0, 0.4, rate, 8000);
    let mut enc = Encoder::new(CodecKind::Pcmu, &OpusConfig::default()).expect("enc");
    let mut dec = Decoder::new(CodecKind::Pcmu, rate).expect("dec");
    let mut out = Vec::new();
    let mut payload = [0u8; 160];
    let mut buf = vec![0i16; 960];
    for (i, chunk) in pcm.chunks_exact(160).enumerate().take(20) {
        let n = enc.encode(chunk, &mut payload).expect("enc");
        if i == 10 {
            assert_eq!(dec.conceal(&mut buf[..160]).expect("plc"), 160);
        } else {
            dec.decode(&payload[..n], &mut buf).expect("dec");
        }
        out.extend_from_slice(&buf[..160]);
    }
    let clean = max_step(&pcm[..3200]);
    let around = &out[1500..1900]; // frames 9..11 and the seams
    assert!(
        f64::from(max_step(around)) <= f64::from(clean) * 1.25,
        "step {} vs clean {clean}",
        max_step(around)
    );
    // No gap: the concealed frame carries the tone at nearly full level.
    let concealed = &out[1600..1760];
    assert!(tone_fraction(concealed, rate, 440.0) > 0.8);
    assert!(power(concealed) > 0.5 * power(&pcm[1600..1760]));
}

#[test]
fn concealment_after_a_long_stream_continues_from_the_newest_audio_only() {
    // Two seconds of frames push the history through many cut-offs; the concealment must
    // equal that of a concealer that saw only the last two frames (25 ms of history at
    // 8 kHz fits in them).
    let rate = 8000;
    let pcm = sine(440.0, 0.4, rate, 16_000);
    let mut long = Concealer::new(rate).expect("plc");
    for frame in pcm.chunks_exact(160) {
        long.observe(&mut frame.to_vec());
    }
    let mut short = Concealer::new(rate).expect("plc");
    for frame in pcm[16_000 - 320..].chunks_exact(160) {
        short.observe(&mut frame.to_vec());
    }
    let (mut a, mut b) = ([0i16; 480], [0i16; 480]);
    long.conceal(&mut a);
    short.conceal(&mut b);
    assert_eq!(a, b);
    assert!(tone_fraction(&a[..160], rate, 440.0) > 0.8);
}

#[test]
fn concealment_fades_to_silence_on_long_loss() {
    let rate = 16000;
    let mut plc = Concealer::new(rate).expect("plc");
    let mut x = sine(300.0, 0.5, rate, 1600);
    plc.observe(&mut x);
    let mut lost = vec![0i16; 1600]; // 100 ms
    plc.conceal(&mut lost);
    assert!(plc.is_concealing());
    assert!(power(&lost[..160]) > 0.05, "first 10 ms at full level");
    assert!(lost[960..].iter().all(|&s| s == 0), "silent after 60 ms");
    // Resuming after silence fades in instead of jumping.
    let mut resumed = sine(300.0, 0.5, rate, 320);
    let first = resumed[5];
    plc.observe(&mut resumed);
    assert!(resumed[5].abs() < first.abs().max(1));
    assert!(!plc.is_concealing());
    // Concealment before any audio is silence.
    let mut fresh = Concealer::new(8000).expect("plc");
    let mut out = [1i16; 160];
    fresh.conceal(&mut out);
    assert!(out.iter().all(|&s| s == 0));
}

#[test]
fn opus_concealment_and_fec() {
    let rate = 48000;
    let opus = OpusConfig {
        fec: true,
        expected_loss_percent: 20,
        ..OpusConfig::default()
    };
    let mut enc = Encoder::new(CodecKind::Opus, &opus).expect("enc");
    let mut dec = Decoder::new(CodecKind::Opus, rate).expect("dec");
    let pcm = sine(600.0, 0.3, rate, rate as usize);
    let mut payloads = Vec::new();
    let mut p = [0u8; MAX_PAYLOAD_BYTES];
    for chunk in pcm.chunks_exact(960) {
        let n = enc.encode(chunk, &mut p).expect("enc");
        payloads.push(p[..n].to_vec());
    }
    let mut buf = vec![0i16; dec.max_frame_samples()];
    for payload in &payloads[..20] {
        dec.decode(payload, &mut buf).expect("dec");
    }
    // Frame 20 lost: rebuild it from frame 21's FEC, then conceal frame 22 blindly.
    assert_eq!(
        dec.decode_fec(&payloads[21], &mut buf[..960]).expect("fec"),
        960
    );
    assert!(tone_fraction(&buf[..960], rate, 600.0) > 0.5);
    dec.decode(&payloads[21], &mut buf).expect("dec");
    assert_eq!(dec.conceal(&mut buf[..960]).expect("plc"), 960);
    assert!(power(&buf[..960]) > 1e-4, "PLC continues the tone");
    // PLC needs whole 2.5 ms units.
    assert!(dec.conceal(&mut buf[..100]).is_err());
}

#[test]
fn g722_refuses_odd_frames() {
    let mut enc = Encoder::new(CodecKind::G722, &OpusConfig::default()).expect("enc");
    let mut out = [0u8; MAX_PAYLOAD_BYTES];
    assert!(matches!(
        enc.encode(&[0; 321], &mut out),
        Err(Error::BadFrameLength {
            codec: CodecKind::G722,
            len: 321
        })
    ));
    assert_eq!(enc.encode(&[0; 320], &mut out).expect("even"), 160);
    assert!(matches!(
        enc.encode(&[0; 320], &mut out[..100]),
        Err(Error::BufferTooSmall { .. })
    ));
}

#[test]
fn codec_state_can_move_between_threads() {
    // The gateway runs each call's media on a worker thread.
    fn send<T: Send>() {}
    send::<Encoder>();
    send::<Decoder>();
    send::<rtp_relay::codec::Transcoder>();
    send::<rtp_relay::codec::Packetizer>();
    send::<rtp_relay::codec::PlayoutBuffer>();
    send::<rtp_relay::tone::ToneGenerator>();
}

#[test]
fn opus_fmtp_of_the_far_end_shapes_our_encoder() {
    let base = OpusConfig::default();
    let cfg = base.with_fmtp([
        ("maxplaybackrate", Some("16000")),
        ("maxaveragebitrate", Some("20000")),
        ("useinbandfec", Some("0")),
        ("usedtx", Some("1")),
        ("minptime", Some("10")),
        ("stereo", Some("1")),
    ]);
    assert_eq!(cfg.sample_rate, 16000);
    assert_eq!(cfg.bitrate, Some(20000));
    assert!(!cfg.fec && cfg.dtx);
    // A rate between libopus's rates rounds up to the next one; nonsense is ignored.
    let cfg = base.with_fmtp([
        ("MaxPlaybackRate", Some(" 11025 ")),
        ("maxaveragebitrate", Some("1")),
        ("useinbandfec", Some("yes")),
        ("usedtx", None),
    ]);
    assert_eq!(cfg.sample_rate, 12000);
    assert_eq!(cfg.bitrate, None);
    assert_eq!((cfg.fec, cfg.dtx), (base.fec, base.dtx));
    // The result is a configuration libopus accepts.
    assert!(Encoder::new(CodecKind::Opus, &cfg).is_ok());
}

/// Audio bandwidth in Hz of an Opus packet from its TOC byte (RFC 6716 §3.1, table 2).
fn toc_bandwidth(payload: &[u8]) -> u32 {
    match payload[0] >> 3 {
        0..=3 | 16..=19 => 4000,
        4..=7 => 6000,
        8..=11 | 20..=23 => 8000,
        12..=13 | 24..=27 => 12000,
        _ => 20000,
    }
}

#[test]
fn opus_fmtp_toward_a_narrow_leg_makes_a_compliant_sender_encode_narrow() {
    for (other, rate) in [
        (CodecKind::Pcmu, 8000),
        (CodecKind::Pcma, 8000),
        (CodecKind::G722, 16000),
        (CodecKind::Opus, 48000),
    ] {
        let fmtp = opus_fmtp_bridged_to(other);
        let params: Vec<(&str, Option<&str>)> = fmtp
            .split(';')
            .map(|p| match p.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (p, None),
            })
            .collect();
        // RFC 7587 §6.1 names only, each with a decimal value, no blanks.
        for (name, value) in &params {
            assert!(
                [
                    "minptime",
                    "useinbandfec",
                    "maxplaybackrate",
                    "sprop-maxcapturerate"
                ]
                .contains(name),
                "{other:?}: {name}"
            );
            let value = value.expect("a value");
            assert!(value.parse::<u32>().is_ok(), "{other:?}: {name}={value}");
        }
        let declared = |name: &str| {
            params
                .iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, v)| v.and_then(|v| v.parse::<u32>().ok()))
        };
        let narrow = rate < 48000;
        assert_eq!(
            declared("maxplaybackrate"),
            narrow.then_some(rate),
            "{other:?}"
        );
        assert_eq!(declared("sprop-maxcapturerate"), narrow.then_some(rate));
        assert_eq!(declared("useinbandfec"), Some(1));

        // The far end's encoder as it honours our fmtp; what it sends stays within the
        // declared playback rate and carries the tone.
        let sender = OpusConfig::default().with_fmtp(params.iter().copied());
        assert_eq!(sender.sample_rate, rate, "{other:?}");
        assert!(sender.fec);
        let mut enc = Encoder::new(CodecKind::Opus, &sender).expect("encoder");
        let frame = samples_in_ms(rate, 20);
        let pcm = sine(1000.0, 0.3, rate, 25 * frame);
        let mut payload = [0u8; MAX_PAYLOAD_BYTES];
        let mut dec = Decoder::new(CodecKind::Opus, rate).expect("decoder");
        let mut buf = vec![0i16; dec.max_frame_samples()];
        let mut out = Vec::new();
        for chunk in pcm.chunks_exact(frame) {
            let n = enc.encode(chunk, &mut payload).expect("encode");
            assert!(
                2 * toc_bandwidth(&payload[..n]) <= rate,
                "{other:?}: TOC {:#04x} is wider than {rate} Hz playback",
                payload[0]
            );
            let m = dec.decode(&payload[..n], &mut buf).expect("decode");
            out.extend_from_slice(&buf[..m]);
        }
        let got = dominant_frequency(&out[out.len() / 4..], rate).expect("a tone");
        assert!((got - 1000.0).abs() < 5.0, "{other:?}: {got} Hz");
    }
}
