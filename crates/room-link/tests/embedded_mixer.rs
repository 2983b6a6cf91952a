//! The embedded room's mix-minus mixer in simulated time: who hears what (Goertzel), RTP
//! numbering, DTMF exactly once and in order, join/leave events, clipping protection.

use std::time::{Duration, Instant};

use bytes::Bytes;
use room_link::embedded::{Mixer, MixerConfig, ParticipantMedia};
use room_link::{AudioFrame, ParticipantId, RoomEvent};
use rtp_relay::analysis::{power, tone_power};
use rtp_relay::codec::{Codec, CodecKind, Decoder, Encoder, OpusConfig, samples_in_ms};
use rtp_relay::dtmf::{DtmfSender, DtmfSenderConfig, event_for_digit};

const FRAME: Duration = Duration::from_millis(20);
const TE_PT: u8 = 101;

/// A simulated phone: generates a sine, encodes it in its codec, and decodes what the room
/// sends back.
struct Phone {
    id: ParticipantId,
    codec: Codec,
    ptime_ms: u32,
    freq: f64,
    amplitude: f64,
    phase: f64,
    encoder: Encoder,
    decoder: Decoder,
    sequence: u16,
    timestamp: u32,
    heard: Vec<i16>,
    received: Vec<AudioFrame>,
    events: Vec<RoomEvent>,
}

impl Phone {
    fn new(
        mixer: &mut Mixer,
        now: Instant,
        name: &str,
        codec: Codec,
        freq: f64,
        amp: f64,
    ) -> Phone {
        Phone::with_ptime(mixer, now, name, codec, freq, amp, 20)
    }

    fn with_ptime(
        mixer: &mut Mixer,
        now: Instant,
        name: &str,
        codec: Codec,
        freq: f64,
        amp: f64,
        ptime_ms: u32,
    ) -> Phone {
        let media = ParticipantMedia {
            codec,
            telephone_event: Some(TE_PT),
            ptime_ms,
            ssrc: 0x1000 + u32::from(codec.payload_type),
            initial_sequence: 65_530, // wraps during the test
            initial_timestamp: u32::MAX - 1000,
        };
        let id = mixer
            .add_participant(now, name, name, &[], media)
            .unwrap_or_else(|e| panic!("join {name}: {e}"));
        let opus = OpusConfig::default();
        Phone {
            id,
            codec,
            ptime_ms,
            freq,
            amplitude: amp,
            phase: 0.0,
            encoder: Encoder::new(codec.kind, &opus).unwrap_or_else(|e| panic!("{e}")),
            decoder: Decoder::new(codec.kind, 16_000).unwrap_or_else(|e| panic!("{e}")),
            sequence: 100,
            timestamp: 5000,
            heard: Vec::new(),
            received: Vec::new(),
            events: Vec::new(),
        }
    }

    /// The next `ptime` of this phone's tone, encoded.
    fn next_frame(&mut self) -> AudioFrame {
        let rate = self.encoder.sample_rate();
        let n = samples_in_ms(rate, self.ptime_ms);
        let pcm: Vec<i16> = (0..n)
            .map(|_| {
                let v = (2.0 * std::f64::consts::PI * self.phase).sin() * self.amplitude;
                self.phase = (self.phase + self.freq / f64::from(rate)).fract();
                (v * 32767.0).round() as i16
            })
            .collect();
        let mut out = vec![0u8; 1500];
        let len = self
            .encoder
            .encode(&pcm, &mut out)
            .unwrap_or_else(|e| panic!("encode: {e}"));
        out.truncate(len);
        let frame = AudioFrame {
            payload_type: self.codec.payload_type,
            sequence: self.sequence,
            timestamp: self.timestamp,
            marker: false,
            payload: Bytes::from(out),
        };
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self
            .timestamp
            .wrapping_add(self.codec.kind.clock_rate() / 1000 * self.ptime_ms);
        frame
    }

    fn receive(&mut self, frame: AudioFrame) {
        let mut pcm = vec![0i16; self.decoder.max_frame_samples()];
        let n = self
            .decoder
            .decode(&frame.payload, &mut pcm)
            .unwrap_or_else(|e| panic!("decode: {e}"));
        self.heard.extend_from_slice(&pcm[..n]);
        self.received.push(frame);
    }

    fn rate(&self) -> u32 {
        self.decoder.sample_rate()
    }
}

fn route(mixer: &mut Mixer, phones: &mut [Phone]) {
    while let Some((to, frame)) = mixer.poll_transmit() {
        let p = phones
            .iter_mut()
            .find(|p| p.id == to)
            .unwrap_or_else(|| panic!("frame for unknown {to}"));
        p.receive(frame);
    }
    while let Some((to, ev)) = mixer.poll_event() {
        if let Some(p) = phones.iter_mut().find(|p| p.id == to) {
            p.events.push(ev);
        }
    }
}

/// Runs `frames` periods of 20 ms in 10 ms steps: each phone sends a frame whenever its
/// packet time has passed, and the mixer runs whatever is due.
fn run(mixer: &mut Mixer, phones: &mut [Phone], start: Instant, frames: u32) -> Instant {
    let mut now = start;
    for step in 1..=frames * 2 {
        now += FRAME / 2;
        let elapsed_ms = step * 10;
        for p in phones.iter_mut() {
            if elapsed_ms % p.ptime_ms == 0 {
                let f = p.next_frame();
                mixer.handle_audio(now, p.id, &f);
            }
        }
        mixer
            .handle_timeout(now)
            .unwrap_or_else(|e| panic!("tick: {e}"));
        route(mixer, phones);
    }
    now
}

/// Powers at each phone's frequency in what `listener` heard, after a warm-up.
fn powers(listener: &Phone, freqs: &[f64]) -> Vec<f64> {
    let warm = samples_in_ms(listener.rate(), 300);
    let tail = &listener.heard[warm.min(listener.heard.len())..];
    assert!(
        tail.len() > samples_in_ms(listener.rate(), 500),
        "too little audio"
    );
    freqs
        .iter()
        .map(|&f| tone_power(tail, listener.rate(), f))
        .collect()
}

fn three_phone_room(second: CodecKind) {
    let start = Instant::now();
    let mut mixer = Mixer::new(MixerConfig::default());
    let mut phones = vec![
        Phone::new(
            &mut mixer,
            start,
            "pcmu",
            Codec::with_default_pt(CodecKind::Pcmu),
            500.0,
            0.3,
        ),
        Phone::new(
            &mut mixer,
            start,
            "second",
            Codec::with_default_pt(second),
            1000.0,
            0.3,
        ),
        Phone::new(
            &mut mixer,
            start,
            "opus",
            Codec::with_default_pt(CodecKind::Opus),
            1500.0,
            0.3,
        ),
    ];
    run(&mut mixer, &mut phones, start, 100);
    let freqs: Vec<f64> = phones.iter().map(|p| p.freq).collect();
    for (i, p) in phones.iter().enumerate() {
        let pw = powers(p, &freqs);
        let own = pw[i];
        for (j, &other) in pw.iter().enumerate() {
            if j == i {
                continue;
            }
            // A 0.3 sine has power 0.045; allow for codec loss.
            assert!(
                other > 0.02,
                "{second:?}: {} does not hear {} Hz: {pw:?}",
                p.freq,
                freqs[j]
            );
            // Mix-minus: its own tone is at least 30 dB below the others.
            assert!(
                own * 1000.0 < other,
                "{second:?}: {} hears itself: {pw:?}",
                p.freq
            );
        }
    }
}

#[test]
fn three_participants_each_hear_the_other_two_and_not_themselves_pcma() {
    three_phone_room(CodecKind::Pcma);
}

#[test]
fn three_participants_each_hear_the_other_two_and_not_themselves_g722() {
    three_phone_room(CodecKind::G722);
}

#[test]
fn output_rtp_numbering_is_continuous_in_each_codecs_clock() {
    let start = Instant::now();
    let mut mixer = Mixer::new(MixerConfig::default());
    let mut phones = vec![
        Phone::new(
            &mut mixer,
            start,
            "a",
            Codec::with_default_pt(CodecKind::Pcmu),
            500.0,
            0.3,
        ),
        Phone::new(
            &mut mixer,
            start,
            "b",
            Codec::with_default_pt(CodecKind::G722),
            700.0,
            0.3,
        ),
        Phone::new(
            &mut mixer,
            start,
            "c",
            Codec::with_default_pt(CodecKind::Opus),
            900.0,
            0.3,
        ),
    ];
    run(&mut mixer, &mut phones, start, 50);
    for p in &phones {
        // One frame per 20 ms tick, starting at the first tick.
        assert_eq!(p.received.len(), 50, "{:?}", p.codec);
        let step = p.codec.kind.clock_rate() / 50;
        assert!(p.received[0].marker);
        assert_eq!(p.received[0].sequence, 65_530);
        assert_eq!(p.received[0].timestamp, u32::MAX - 1000);
        for w in p.received.windows(2) {
            assert_eq!(w[1].sequence, w[0].sequence.wrapping_add(1));
            assert_eq!(w[1].timestamp, w[0].timestamp.wrapping_add(step));
            assert!(!w[1].marker);
            assert_eq!(w[1].payload_type, p.codec.payload_type);
        }
    }
    assert_eq!(mixer.stats().ticks, 50);
}

#[test]
fn dtmf_reaches_the_others_in_order_exactly_once() {
    let start = Instant::now();
    let mut mixer = Mixer::new(MixerConfig::default());
    let mut phones = vec![
        Phone::new(
            &mut mixer,
            start,
            "a",
            Codec::with_default_pt(CodecKind::Pcmu),
            500.0,
            0.1,
        ),
        Phone::new(
            &mut mixer,
            start,
            "b",
            Codec::with_default_pt(CodecKind::Pcma),
            700.0,
            0.1,
        ),
        Phone::new(
            &mut mixer,
            start,
            "c",
            Codec::with_default_pt(CodecKind::Opus),
            900.0,
            0.1,
        ),
    ];
    let cfg = DtmfSenderConfig {
        payload_type: TE_PT,
        ..DtmfSenderConfig::default()
    };
    let mut sender = DtmfSender::new(cfg, start, 1234).unwrap_or_else(|e| panic!("{e}"));
    let digits = ['1', '5', '#', '5', 'D'];
    for d in digits {
        let ev = event_for_digit(d).unwrap_or_else(|| panic!("digit {d}"));
        sender
            .send_event(ev, Duration::from_millis(100))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let a = phones[0].id;
    let mut now = start;
    let mut seq = 7u16;
    for _ in 0..200 {
        now += FRAME;
        while let Some(pkt) = sender.poll_transmit(now) {
            let frame = AudioFrame {
                payload_type: pkt.payload_type,
                sequence: seq,
                timestamp: pkt.timestamp,
                marker: pkt.marker,
                payload: Bytes::copy_from_slice(&pkt.event.to_bytes()),
            };
            seq = seq.wrapping_add(1);
            // The network duplicates every packet: still once per press.
            mixer.handle_audio(now, a, &frame);
            mixer.handle_audio(now, a, &frame);
        }
        mixer.handle_timeout(now).unwrap_or_else(|e| panic!("{e}"));
        route(&mut mixer, &mut phones);
    }
    assert!(!sender.is_sending());
    // A digit pressed as a digit (not RTP) by c also reaches a and b.
    mixer
        .handle_dtmf(phones[2].id, '9')
        .unwrap_or_else(|e| panic!("{e}"));
    route(&mut mixer, &mut phones);
    let dtmf = |p: &Phone| -> Vec<(ParticipantId, char)> {
        p.events
            .iter()
            .filter_map(|e| match e {
                RoomEvent::Dtmf { from, digit } => Some((*from, *digit)),
                _ => None,
            })
            .collect()
    };
    let c = phones[2].id;
    let mut want: Vec<(ParticipantId, char)> = digits.iter().map(|&d| (a, d)).collect();
    want.push((c, '9'));
    assert_eq!(dtmf(&phones[1]), want);
    want.pop();
    assert_eq!(dtmf(&phones[2]), want);
    assert_eq!(dtmf(&phones[0]), vec![(c, '9')], "a hears none of its own");
}

#[test]
fn join_and_leave_events_and_the_clock_stops_when_empty() {
    let now = Instant::now();
    let mut mixer = Mixer::new(MixerConfig::default());
    let media = |pt| ParticipantMedia {
        codec: Codec::with_default_pt(CodecKind::Pcmu),
        telephone_event: None,
        ptime_ms: 20,
        ssrc: pt,
        initial_sequence: 0,
        initial_timestamp: 0,
    };
    assert_eq!(mixer.poll_timeout(), None);
    let a = mixer
        .add_participant(now, "alice", "Alice", &[], media(1))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(mixer.poll_timeout(), Some(now + FRAME));
    assert!(mixer.poll_event().is_none(), "nobody to tell");
    let b = mixer
        .add_participant(now, "bob", "Bob", &[], media(2))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut evs = Vec::new();
    while let Some(e) = mixer.poll_event() {
        evs.push(e);
    }
    let joined = |to: ParticipantId, who: &str| {
        evs.iter().any(|(t, e)| {
            *t == to && matches!(e, RoomEvent::ParticipantJoined(i) if i.identity == who)
        })
    };
    assert!(joined(a, "bob") && joined(b, "alice"), "{evs:?}");
    assert_eq!(evs.len(), 2);
    let c = mixer
        .add_participant(now, "carol", "Carol", &[], media(3))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut evs = Vec::new();
    while let Some(e) = mixer.poll_event() {
        evs.push(e);
    }
    assert_eq!(
        evs.len(),
        4,
        "a, b learn of carol; carol learns of a and b: {evs:?}"
    );
    assert!(mixer.remove_participant(b));
    assert!(!mixer.remove_participant(b), "only once");
    let mut left = Vec::new();
    while let Some((to, e)) = mixer.poll_event() {
        if let RoomEvent::ParticipantLeft(i) = e {
            left.push((to, i.identity));
        }
    }
    assert_eq!(left, vec![(a, "bob".to_owned()), (c, "bob".to_owned())]);
    assert_eq!(mixer.len(), 2);
    mixer.remove_participant(a);
    mixer.remove_participant(c);
    assert!(mixer.is_empty());
    assert_eq!(mixer.poll_timeout(), None);
}

#[test]
fn three_loud_tones_are_limited_not_wrapped() {
    // Each listener gets two near-full-scale tones: their sum peaks near 2× full scale.
    // Wrapping i16 arithmetic would fold that into broadband noise; the limiter must keep
    // the energy at the two frequencies.
    let start = Instant::now();
    let mut mixer = Mixer::new(MixerConfig::default());
    let mut phones = vec![
        Phone::new(
            &mut mixer,
            start,
            "a",
            Codec::with_default_pt(CodecKind::G722),
            500.0,
            0.95,
        ),
        Phone::new(
            &mut mixer,
            start,
            "b",
            Codec::with_default_pt(CodecKind::G722),
            1000.0,
            0.95,
        ),
        Phone::new(
            &mut mixer,
            start,
            "c",
            Codec::with_default_pt(CodecKind::G722),
            1500.0,
            0.95,
        ),
    ];
    run(&mut mixer, &mut phones, start, 60);
    let freqs: Vec<f64> = phones.iter().map(|p| p.freq).collect();
    for (i, p) in phones.iter().enumerate() {
        let warm = samples_in_ms(p.rate(), 300);
        let tail = &p.heard[warm..];
        let total = power(tail);
        let pw = powers(p, &freqs);
        let wanted: f64 = pw
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, v)| v)
            .sum();
        assert!(total > 0.3, "loud output expected, power {total}");
        assert!(
            wanted / total > 0.85,
            "{} Hz listener: only {:.2} of the power at the two tones",
            p.freq,
            wanted / total
        );
    }
}

#[test]
fn room_full_and_bad_ptime_are_refused() {
    let now = Instant::now();
    let mut mixer = Mixer::new(MixerConfig {
        max_participants: 1,
        ..MixerConfig::default()
    });
    let mut media = ParticipantMedia {
        codec: Codec::with_default_pt(CodecKind::Opus),
        telephone_event: None,
        ptime_ms: 30,
        ssrc: 1,
        initial_sequence: 0,
        initial_timestamp: 0,
    };
    assert!(
        mixer.add_participant(now, "x", "x", &[], media).is_err(),
        "Opus cannot do 30 ms"
    );
    media.ptime_ms = 20;
    assert!(mixer.add_participant(now, "x", "x", &[], media).is_ok());
    assert_eq!(
        mixer.add_participant(now, "y", "y", &[], media),
        Err(room_link::Error::Busy)
    );
}

#[test]
fn packet_times_of_10_30_and_40_ms_mix_together() {
    let start = Instant::now();
    let mut mixer = Mixer::new(MixerConfig::default());
    let pcmu = Codec::with_default_pt(CodecKind::Pcmu);
    let mut phones = vec![
        Phone::with_ptime(&mut mixer, start, "10", pcmu, 500.0, 0.3, 10),
        Phone::with_ptime(
            &mut mixer,
            start,
            "40",
            Codec::with_default_pt(CodecKind::Opus),
            1000.0,
            0.3,
            40,
        ),
        Phone::with_ptime(
            &mut mixer,
            start,
            "30",
            Codec::with_default_pt(CodecKind::G722),
            1500.0,
            0.3,
            30,
        ),
    ];
    run(&mut mixer, &mut phones, start, 120);
    let freqs: Vec<f64> = phones.iter().map(|p| p.freq).collect();
    for (i, p) in phones.iter().enumerate() {
        let pw = powers(p, &freqs);
        for j in (0..3).filter(|&j| j != i) {
            assert!(
                pw[j] > 0.02,
                "{} ms phone does not hear {} Hz: {pw:?}",
                p.ptime_ms,
                freqs[j]
            );
            assert!(
                pw[i] * 1000.0 < pw[j],
                "{} ms phone hears itself: {pw:?}",
                p.ptime_ms
            );
        }
        // Output frames follow the phone's own ptime, timestamps step by one frame.
        let step = p.codec.kind.clock_rate() / 1000 * p.ptime_ms;
        let expected = 120 * 20 / p.ptime_ms as usize;
        assert!(
            p.received.len().abs_diff(expected) <= 1,
            "{}: {}",
            p.ptime_ms,
            p.received.len()
        );
        for w in p.received.windows(2) {
            assert_eq!(w[1].timestamp, w[0].timestamp.wrapping_add(step));
        }
    }
}

#[test]
fn loss_and_reordering_are_concealed_and_put_back_in_order() {
    let start = Instant::now();
    let mut mixer = Mixer::new(MixerConfig::default());
    let mut phones = vec![
        Phone::new(
            &mut mixer,
            start,
            "lossy",
            Codec::with_default_pt(CodecKind::Pcmu),
            800.0,
            0.3,
        ),
        Phone::new(
            &mut mixer,
            start,
            "listener",
            Codec::with_default_pt(CodecKind::Pcma),
            1200.0,
            0.3,
        ),
    ];
    let mut now = start;
    let mut held: Option<AudioFrame> = None;
    for n in 0..100u32 {
        now += FRAME;
        let lossy = phones[0].next_frame();
        match n % 10 {
            // Every tenth packet is lost.
            3 => {}
            // Every tenth (another) is held back and arrives after its successor.
            6 => held = Some(lossy),
            7 => {
                mixer.handle_audio(now, phones[0].id, &lossy);
                if let Some(h) = held.take() {
                    mixer.handle_audio(now, phones[0].id, &h);
                }
            }
            _ => mixer.handle_audio(now, phones[0].id, &lossy),
        }
        let f = phones[1].next_frame();
        mixer.handle_audio(now, phones[1].id, &f);
        mixer.handle_timeout(now).unwrap_or_else(|e| panic!("{e}"));
        route(&mut mixer, &mut phones);
    }
    let stats = mixer.stats();
    assert!(stats.concealed_frames >= 9, "{stats:?}");
    let pw = powers(&phones[1], &[800.0, 1200.0]);
    assert!(
        pw[0] > 0.02,
        "the listener still hears the lossy phone: {pw:?}"
    );
    assert!(pw[1] * 1000.0 < pw[0], "{pw:?}");
    // Concealment keeps the tone's energy where it was: most of the heard power is the tone.
    let warm = samples_in_ms(phones[1].rate(), 300);
    let tail = &phones[1].heard[warm..];
    assert!(
        pw[0] / power(tail) > 0.8,
        "{} of the power",
        pw[0] / power(tail)
    );
}

/// Runs `n` periods of 20 ms in which every phone sends, recording phone 0's payloads.
fn step(
    mixer: &mut Mixer,
    phones: &mut [Phone],
    now: &mut Instant,
    n: u32,
    mut sent: Option<&mut Vec<Bytes>>,
) {
    for _ in 0..n {
        *now += FRAME;
        for (i, p) in phones.iter_mut().enumerate() {
            let f = p.next_frame();
            if i == 0 {
                if let Some(s) = sent.as_mut() {
                    s.push(f.payload.clone());
                }
            }
            mixer.handle_audio(*now, p.id, &f);
        }
        mixer.handle_timeout(*now).unwrap_or_else(|e| panic!("{e}"));
        route(mixer, phones);
    }
}

#[test]
fn two_phones_on_one_codec_pass_through_and_mixing_resumes_seamlessly() {
    let start = Instant::now();
    let mut mixer = Mixer::new(MixerConfig::default());
    let pcmu = Codec::with_default_pt(CodecKind::Pcmu);
    let mut phones = vec![
        Phone::new(&mut mixer, start, "a", pcmu, 500.0, 0.3),
        Phone::new(&mut mixer, start, "b", pcmu, 1000.0, 0.3),
    ];
    let mut sent_by_a = Vec::new();
    let mut now = start;
    step(&mut mixer, &mut phones, &mut now, 20, Some(&mut sent_by_a));
    // b got a's payloads untouched, nothing decoded or encoded.
    let got: Vec<Bytes> = phones[1]
        .received
        .iter()
        .map(|f| f.payload.clone())
        .collect();
    assert_eq!(got, sent_by_a);
    assert_eq!(mixer.stats().frames_out, 0);
    assert_eq!(mixer.stats().frames_forwarded, 40);
    assert_eq!(
        phones[1].received[0].sequence, 65_530,
        "the room's numbering"
    );
    assert!(phones[1].received[0].marker);

    // A third phone on another codec: the room mixes from now on.
    let c = Phone::new(
        &mut mixer,
        now,
        "c",
        Codec::with_default_pt(CodecKind::Opus),
        1500.0,
        0.3,
    );
    phones.push(c);
    step(&mut mixer, &mut phones, &mut now, 60, None);
    assert!(mixer.stats().frames_out > 0);
    // Then c leaves: back to pass-through.
    let c_id = phones[2].id;
    mixer.remove_participant(c_id);
    phones.pop();
    step(&mut mixer, &mut phones, &mut now, 20, None);
    assert_eq!(mixer.stats().frames_forwarded, 80);

    // What b heard is one stream throughout: sequence numbers step by one, timestamps
    // never go back, and the marker flags each switch.
    let r = &phones[1].received;
    for w in r.windows(2) {
        assert_eq!(w[1].sequence, w[0].sequence.wrapping_add(1));
        assert!((w[1].timestamp.wrapping_sub(w[0].timestamp) as i32) > 0);
    }
    assert_eq!(
        r.iter().filter(|f| f.marker).count(),
        3,
        "start, to mixing, back"
    );
    // While mixing, b heard c.
    let mixed: Vec<i16> = phones[1].heard[160 * 20..160 * 75].to_vec();
    assert!(tone_power(&mixed[160 * 15..], 8000, 1500.0) > 0.02);
}

/// A caller alone in a room hears silence at its own packet rate (nothing is decoded: nobody
/// listens); when a second caller joins, both hear each other.
#[test]
fn a_lone_participant_hears_silence_then_mixing_starts_when_someone_joins() {
    let start = Instant::now();
    let mut mixer = Mixer::new(MixerConfig {
        two_party_passthrough: false,
        ..MixerConfig::default()
    });
    let mut phones = vec![Phone::new(
        &mut mixer,
        start,
        "alone",
        Codec::with_default_pt(CodecKind::G722),
        700.0,
        0.3,
    )];
    let now = run(&mut mixer, &mut phones, start, 50);
    let lone = &phones[0];
    assert!(
        (48..=51).contains(&lone.received.len()),
        "one frame per 20 ms: {}",
        lone.received.len()
    );
    assert!(power(&lone.heard) < 1e-6, "silence, not its own voice");
    assert_eq!(mixer.stats().packets_in, 50);
    assert_eq!(
        mixer.stats().decode_errors + mixer.stats().concealed_frames,
        0
    );

    phones.push(Phone::new(
        &mut mixer,
        now,
        "joiner",
        Codec::with_default_pt(CodecKind::Pcmu),
        1200.0,
        0.3,
    ));
    phones[0].heard.clear();
    run(&mut mixer, &mut phones, now, 60);
    let first = powers(&phones[0], &[700.0, 1200.0]);
    let second = powers(&phones[1], &[700.0, 1200.0]);
    assert!(first[1] > 0.02 && first[0] * 1000.0 < first[1], "{first:?}");
    assert!(
        second[0] > 0.02 && second[1] * 1000.0 < second[0],
        "{second:?}"
    );
}
