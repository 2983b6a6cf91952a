//! The resampler keeps the telephone band and removes what the lower rate cannot carry.

use rtp_relay::analysis::{dominant_frequency, power, tone_power};
use rtp_relay::codec::Resampler;

fn sine(freq: f64, amp: f64, rate: u32, n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            (amp * 32767.0 * (2.0 * std::f64::consts::PI * freq * t).sin()).round() as i16
        })
        .collect()
}

/// Runs `input` through a new resampler in 20 ms frames, as a transcoder does.
fn run(from: u32, to: u32, input: &[i16]) -> Vec<i16> {
    let mut r = Resampler::new(from, to).expect("supported rates");
    let frame = from as usize / 50;
    let mut out = Vec::new();
    for chunk in input.chunks(frame) {
        r.process(chunk, &mut out);
    }
    out
}

/// dB of the output tone power relative to the input's.
fn gain_db(input: &[i16], from: u32, out: &[i16], to: u32, freq: f64) -> f64 {
    let skip_in = from as usize / 20; // skip 50 ms of start-up
    let skip_out = to as usize / 20;
    10.0 * (tone_power(&out[skip_out..], to, freq) / tone_power(&input[skip_in..], from, freq))
        .log10()
}

#[test]
fn one_khz_survives_48k_to_8k_and_six_khz_is_removed() {
    let tone = sine(1000.0, 0.5, 48000, 48000);
    let out = run(48000, 8000, &tone);
    assert_eq!(out.len(), 8000);
    assert!(gain_db(&tone, 48000, &out, 8000, 1000.0).abs() < 0.1);
    assert!((dominant_frequency(&out, 8000).expect("tone") - 1000.0).abs() < 2.0);

    let high = sine(6000.0, 0.5, 48000, 48000);
    let out = run(48000, 8000, &high);
    // 6 kHz would alias to 2 kHz; it must be gone (> 60 dB down).
    let in_power = power(&high);
    let out_power = power(&out[400..]);
    assert!(10.0 * (out_power / in_power).log10() < -60.0, "{out_power}");
    assert!(tone_power(&out[400..], 8000, 2000.0) < in_power * 1e-6);
}

#[test]
fn upsampling_8k_to_48k_keeps_the_tone_and_suppresses_images() {
    let tone = sine(1000.0, 0.5, 8000, 8000);
    let out = run(8000, 48000, &tone);
    assert_eq!(out.len(), 48000);
    assert!(gain_db(&tone, 8000, &out, 48000, 1000.0).abs() < 0.1);
    // Zero-stuffing creates images at 8k ± 1k, 16k ± 1k, ...; the filter removes them.
    let p = tone_power(&out[2400..], 48000, 1000.0);
    for image in [7000.0, 9000.0, 15000.0, 17000.0] {
        let q = tone_power(&out[2400..], 48000, image);
        assert!(10.0 * (q / p).log10() < -60.0, "{image}: {q} vs {p}");
    }
    assert!((dominant_frequency(&out, 48000).expect("tone") - 1000.0).abs() < 2.0);
}

#[test]
fn every_supported_pair_passes_the_telephone_band() {
    for &from in &Resampler::RATES {
        for &to in &Resampler::RATES {
            let n = from as usize / 2; // 0.5 s
            for f in [300.0, 1000.0, 3000.0] {
                let tone = sine(f, 0.4, from, n);
                let out = run(from, to, &tone);
                assert_eq!(out.len(), to as usize / 2, "{from}->{to}");
                let g = gain_db(&tone, from, &out, to, f);
                assert!(g.abs() < 0.2, "{from}->{to} {f} Hz: {g} dB");
            }
        }
    }
}

#[test]
fn dc_gain_is_unity_and_identity_copies() {
    let dc = vec![10000i16; 1600];
    let out = run(8000, 16000, &dc);
    assert!(
        out[400..].iter().all(|&s| (s - 10000).abs() <= 2),
        "{:?}",
        &out[400..410]
    );
    let out = run(48000, 8000, &vec![-8000i16; 4800]);
    assert!(out[100..].iter().all(|&s| (s + 8000).abs() <= 2));

    let x = sine(440.0, 0.5, 16000, 320);
    let mut r = Resampler::new(16000, 16000).expect("identity");
    assert!(r.is_identity());
    let mut out = Vec::new();
    r.process(&x, &mut out);
    assert_eq!(out, x);
}

#[test]
fn frame_size_does_not_change_the_result() {
    // Streaming state carries across calls: 20 ms frames, odd chunks and one block give
    // the same samples.
    let x = sine(700.0, 0.5, 16000, 16000);
    let framed = run(16000, 48000, &x);
    let mut r = Resampler::new(16000, 48000).expect("rates");
    let mut odd = Vec::new();
    for chunk in x.chunks(37) {
        r.process(chunk, &mut odd);
    }
    let mut r = Resampler::new(16000, 48000).expect("rates");
    let mut whole = Vec::new();
    r.process(&x, &mut whole);
    assert_eq!(framed, whole);
    assert_eq!(odd, whole);
}

#[test]
fn reset_forgets_history_and_bad_rates_are_refused() {
    let mut r = Resampler::new(8000, 48000).expect("rates");
    let mut out = Vec::new();
    r.process(&[20000; 160], &mut out);
    r.reset();
    out.clear();
    r.process(&[0; 160], &mut out);
    assert!(out.iter().all(|&s| s == 0));
    assert!(Resampler::new(44100, 48000).is_err());
    assert!(Resampler::new(8000, 0).is_err());
    assert!(r.delay() > 0 && r.taps_per_output() > 8);
}
