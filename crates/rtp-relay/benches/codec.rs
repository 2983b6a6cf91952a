//! Per-frame cost of the codecs, the resampler and the transcoder (20 ms frames).
//!
//! `cargo bench -p rtp-relay --bench codec`
//!
//! Measured in CPU time of the benchmark thread (`/proc/thread-self/schedstat`), not wall
//! time: the figures we want are "CPU per packet", and on a shared machine wall time also
//! counts the time other processes held the core. The kernel updates that counter at
//! scheduler ticks, so each sample runs for tens of milliseconds to keep the error small.

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use rtp_relay::codec::g711::{encode_ulaw, encode_ulaw_reference};
use rtp_relay::codec::{
    Codec, CodecKind, Decoder, Encoder, InputPacket, MAX_PAYLOAD_BYTES, OpusConfig, Resampler,
    Transcoder, TranscoderConfig, samples_in_ms,
};
use rtp_relay::tone::{Cadence, ToneGenerator, ToneSpec};

/// CPU time consumed by the calling thread, in nanoseconds.
struct ThreadCpu;

fn thread_cpu_ns() -> u64 {
    // First field of schedstat: time spent on the CPU, in ns (Linux).
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

impl Measurement for ThreadCpu {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        thread_cpu_ns()
    }

    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns().saturating_sub(start)
    }

    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }

    fn zero(&self) -> u64 {
        0
    }

    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

struct CpuFormatter;

impl CpuFormatter {
    fn unit(typical_ns: f64) -> (f64, &'static str) {
        if typical_ns < 1e3 {
            (1.0, "ns cpu")
        } else if typical_ns < 1e6 {
            (1e3, "µs cpu")
        } else {
            (1e6, "ms cpu")
        }
    }
}

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (div, unit) = Self::unit(typical);
        values.iter_mut().for_each(|v| *v /= div);
        unit
    }

    fn scale_throughputs(&self, _typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        // Elements per CPU-second.
        let n = match *t {
            Throughput::Elements(n) | Throughput::Bytes(n) | Throughput::BytesDecimal(n) => n,
            _ => 1,
        } as f64;
        values.iter_mut().for_each(|v| *v = n * 1e9 / *v);
        "elem/cpu-s"
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

/// 20 ms of a speech-band two-tone signal at `rate`.
fn frames(rate: u32, count: usize) -> Vec<Vec<i16>> {
    let spec = ToneSpec::new(&[(440.0, 0.25), (1270.0, 0.2)], Cadence::continuous());
    let mut g = ToneGenerator::new(spec, rate);
    (0..count)
        .map(|_| {
            let mut f = vec![0i16; samples_in_ms(rate, 20)];
            g.fill(&mut f);
            f
        })
        .collect()
}

fn codecs(c: &mut Criterion<ThreadCpu>) {
    let mut group = c.benchmark_group("codec_20ms");
    group.throughput(Throughput::Elements(1));
    // Equal-sized samples: the CPU-time counter moves in scheduler ticks, so no sample
    // may be short.
    group.sampling_mode(SamplingMode::Flat);
    let opus_rates = [(CodecKind::Opus, 48000u32), (CodecKind::Opus, 8000)];
    let kinds = [
        (CodecKind::Pcmu, 8000),
        (CodecKind::Pcma, 8000),
        (CodecKind::G722, 16000),
    ];
    for (kind, rate) in kinds.into_iter().chain(opus_rates) {
        let opus = OpusConfig {
            sample_rate: rate,
            ..OpusConfig::default()
        };
        let input = frames(rate, 50);
        let mut enc = Encoder::new(kind, &opus).expect("encoder");
        let mut out = [0u8; MAX_PAYLOAD_BYTES];
        let mut i = 0;
        group.bench_function(format!("encode/{kind:?}@{rate}"), |b| {
            b.iter(|| {
                i = (i + 1) % input.len();
                black_box(enc.encode(black_box(&input[i]), &mut out).expect("encode"))
            });
        });
        let payloads: Vec<Vec<u8>> = input
            .iter()
            .map(|f| {
                let n = enc.encode(f, &mut out).expect("encode");
                out[..n].to_vec()
            })
            .collect();
        let mut dec = Decoder::new(kind, rate).expect("decoder");
        let mut pcm = vec![0i16; dec.max_frame_samples()];
        group.bench_function(format!("decode/{kind:?}@{rate}"), |b| {
            b.iter(|| {
                i = (i + 1) % payloads.len();
                black_box(
                    dec.decode(black_box(&payloads[i]), &mut pcm)
                        .expect("decode"),
                )
            });
        });
    }
    // Opus encoder cost by complexity (narrowband, as a PCMU leg feeds it).
    for (complexity, fec) in [
        (0u8, true),
        (2, true),
        (2, false),
        (5, true),
        (5, false),
        (9, true),
    ] {
        let opus = OpusConfig {
            sample_rate: 8000,
            complexity,
            // The named complexity, not the default narrowband cap.
            narrowband_max_complexity: 10,
            fec,
            ..OpusConfig::default()
        };
        let input = frames(8000, 50);
        let mut enc = Encoder::new(CodecKind::Opus, &opus).expect("encoder");
        let mut out = [0u8; MAX_PAYLOAD_BYTES];
        let mut i = 0;
        group.bench_function(
            format!("encode/Opus@8000/complexity{complexity}/fec={fec}"),
            |b| {
                b.iter(|| {
                    i = (i + 1) % input.len();
                    black_box(enc.encode(black_box(&input[i]), &mut out).expect("encode"))
                });
            },
        );
    }
    // µ-law encode: table lookup against the segment search it was built from.
    let input = frames(8000, 1).remove(0);
    let mut out = [0u8; 160];
    group.bench_function("ulaw_encode_table", |b| {
        b.iter(|| {
            for (o, &s) in out.iter_mut().zip(black_box(&input)) {
                *o = encode_ulaw(s);
            }
            black_box(out[0])
        });
    });
    group.bench_function("ulaw_encode_search", |b| {
        b.iter(|| {
            for (o, &s) in out.iter_mut().zip(black_box(&input)) {
                *o = encode_ulaw_reference(s);
            }
            black_box(out[0])
        });
    });
    group.finish();
}

fn resampler(c: &mut Criterion<ThreadCpu>) {
    let mut group = c.benchmark_group("resample_20ms");
    group.throughput(Throughput::Elements(1));
    // Equal-sized samples: the CPU-time counter moves in scheduler ticks, so no sample
    // may be short.
    group.sampling_mode(SamplingMode::Flat);
    for (from, to) in [
        (8000, 48000),
        (48000, 8000),
        (8000, 16000),
        (16000, 8000),
        (16000, 48000),
    ] {
        let input = frames(from, 1).remove(0);
        let mut r = Resampler::new(from, to).expect("rates");
        let mut out = Vec::with_capacity(samples_in_ms(to, 20) * 2);
        group.bench_function(format!("{from}->{to}"), |b| {
            b.iter(|| {
                out.clear();
                r.process(black_box(&input), &mut out);
                black_box(out.len())
            });
        });
    }
    group.finish();
}

fn packets(kind: CodecKind, count: usize) -> Vec<Bytes> {
    let rate = kind.sample_rate();
    let mut enc = Encoder::new(kind, &OpusConfig::default()).expect("encoder");
    let mut out = [0u8; MAX_PAYLOAD_BYTES];
    frames(rate, count)
        .iter()
        .map(|f| {
            let n = enc.encode(f, &mut out).expect("encode");
            Bytes::copy_from_slice(&out[..n])
        })
        .collect()
}

fn transcoder(c: &mut Criterion<ThreadCpu>) {
    let mut group = c.benchmark_group("transcode_packet");
    group.throughput(Throughput::Elements(1));
    // Equal-sized samples: the CPU-time counter moves in scheduler ticks, so no sample
    // may be short.
    group.sampling_mode(SamplingMode::Flat);
    let pairs = [
        (CodecKind::Pcmu, CodecKind::Pcmu),
        (CodecKind::Pcmu, CodecKind::Pcma),
        (CodecKind::Pcmu, CodecKind::Opus),
        (CodecKind::Opus, CodecKind::Pcmu),
        (CodecKind::G722, CodecKind::Pcmu),
    ];
    for (from, to) in pairs {
        let payloads = packets(from, 50);
        let cfg = TranscoderConfig::new(Codec::with_default_pt(from), Codec::with_default_pt(to));
        let mut t = Transcoder::new(cfg).expect("transcoder");
        let ticks = from.ticks_for_samples(
            samples_in_ms(from.sample_rate(), 20) as u64,
            from.sample_rate(),
        ) as u32;
        let mut seq = 0u16;
        let mut ts = 0u32;
        group.bench_function(format!("{from:?}->{to:?}"), |b| {
            b.iter(|| {
                let payload = payloads[usize::from(seq) % payloads.len()].clone();
                t.push(InputPacket {
                    sequence: seq,
                    timestamp: ts,
                    marker: false,
                    payload,
                })
                .expect("push");
                seq = seq.wrapping_add(1);
                ts = ts.wrapping_add(ticks);
                while let Some(f) = t.poll_frame() {
                    black_box(f);
                }
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Short runs: the figures are per-frame costs in microseconds, stable within seconds.
    config = Criterion::default()
        .with_measurement(ThreadCpu)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = codecs, resampler, transcoder
}
criterion_main!(benches);
