//! Cost of one 20 ms mixing period of an embedded room: decode every participant's frame,
//! mix-minus, limit, re-encode for every participant.

use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use room_link::AudioFrame;
use room_link::embedded::{Mixer, MixerConfig, ParticipantMedia};
use rtp_relay::codec::{Codec, CodecKind, Encoder, OpusConfig, samples_in_ms};

/// Pre-encoded 20 ms frames of a tone, per codec.
fn frames(kind: CodecKind, freq: f64, count: usize) -> Vec<Bytes> {
    let mut enc = match Encoder::new(kind, &OpusConfig::default()) {
        Ok(e) => e,
        Err(e) => panic!("{e}"),
    };
    let rate = enc.sample_rate();
    let n = samples_in_ms(rate, 20);
    let mut phase = 0.0f64;
    (0..count)
        .map(|_| {
            let pcm: Vec<i16> = (0..n)
                .map(|_| {
                    phase = (phase + freq / f64::from(rate)).fract();
                    ((2.0 * std::f64::consts::PI * phase).sin() * 8000.0) as i16
                })
                .collect();
            let mut out = vec![0u8; 1500];
            let len = enc.encode(&pcm, &mut out).unwrap_or(0);
            out.truncate(len);
            Bytes::from(out)
        })
        .collect()
}

fn room(c: &mut Criterion, name: &str, kinds: &[CodecKind]) {
    let start = Instant::now();
    let mut mixer = Mixer::new(MixerConfig::default());
    let mut inputs = Vec::new();
    for (i, &kind) in kinds.iter().enumerate() {
        let media = ParticipantMedia {
            codec: Codec::with_default_pt(kind),
            telephone_event: None,
            ptime_ms: 20,
            ssrc: i as u32,
            initial_sequence: 0,
            initial_timestamp: 0,
        };
        let id = match mixer.add_participant(start, "p", "p", &[], media) {
            Ok(id) => id,
            Err(e) => panic!("{e}"),
        };
        inputs.push((id, kind, frames(kind, 300.0 + 100.0 * i as f64, 50)));
    }
    let mut now = start;
    let mut n: u32 = 0;
    let mut group = c.benchmark_group("embedded_mixer");
    group.throughput(Throughput::Elements(kinds.len() as u64));
    group.bench_function(name, |b| {
        b.iter(|| {
            now += Duration::from_millis(20);
            for (id, kind, frames) in &inputs {
                let f = AudioFrame {
                    payload_type: Codec::with_default_pt(*kind).payload_type,
                    sequence: n as u16,
                    timestamp: n.wrapping_mul(kind.clock_rate() / 50),
                    marker: false,
                    payload: frames[n as usize % frames.len()].clone(),
                };
                mixer.handle_audio(now, *id, &f);
            }
            n = n.wrapping_add(1);
            let _ = mixer.handle_timeout(now);
            while mixer.poll_transmit().is_some() {}
            while mixer.poll_event().is_some() {}
        });
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    room(c, "tick_3_pcmu", &[CodecKind::Pcmu; 3]);
    room(
        c,
        "tick_3_mixed_pcmu_g722_opus",
        &[CodecKind::Pcmu, CodecKind::G722, CodecKind::Opus],
    );
    room(c, "tick_10_pcmu", &[CodecKind::Pcmu; 10]);
}

criterion_group!(mixer_benches, benches);
criterion_main!(mixer_benches);
