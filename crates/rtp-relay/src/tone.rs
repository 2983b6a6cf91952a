//! Call-progress and DTMF tone generation into 16-bit PCM frames.
//!
//! A [`ToneSpec`] is one or two sine components and an on/off [`Cadence`]; a
//! [`ToneGenerator`] renders it at any rate, frame after frame, with continuous phase and
//! 2 ms ramps at every on/off edge so cadence steps do not click. Presets follow the North
//! American precise tone plan (dial 350 + 440 Hz, ringback 440 + 480 Hz 2 s on / 4 s off,
//! busy 480 + 620 Hz) and ITU-T E.180 / ETSI (425 Hz); DTMF pairs are ITU-T Q.23.
//!
//! Levels are "mixing-safe": the peaks of all components together never exceed
//! [`MAX_PEAK`] (−6 dBFS), so a tone plus speech in a room mix has 6 dB of headroom and a
//! tone alone can never clip.

use std::collections::VecDeque;

use crate::analysis::{DTMF_HIGH, DTMF_KEYS, DTMF_LOW};

/// Largest combined peak of a tone, relative to full scale (−6 dBFS).
pub const MAX_PEAK: f64 = 0.5;

/// Length of the fade at each on/off edge.
const RAMP_MS: u32 = 2;

/// Most steps a cadence may have.
pub const MAX_CADENCE_STEPS: usize = 8;

/// Most digits a [`DtmfPlayer`] queues.
pub const MAX_QUEUED_DIGITS: usize = 64;

/// Peak amplitude (relative to full scale) of a sine at `dbm0`.
///
/// A sine at the µ-law overload point is +3.17 dBm0 (ITU-T G.711 §4: T_max = 3.17 dBm0;
/// A-law's is 3.14), and that overload point maps to 16-bit full scale.
#[must_use]
pub fn dbm0_to_amplitude(dbm0: f64) -> f64 {
    10f64.powf((dbm0 - ULAW_TMAX_DBM0) / 20.0)
}

/// Level of a full-scale sine in dBm0 (µ-law).
const ULAW_TMAX_DBM0: f64 = 3.17;

/// An on/off pattern, repeated forever. No steps means a continuous tone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cadence {
    steps: Vec<(u32, u32)>,
}

impl Cadence {
    /// A tone that never stops.
    #[must_use]
    pub fn continuous() -> Self {
        Self { steps: Vec::new() }
    }

    /// A pattern of `(on_ms, off_ms)` steps; at most [`MAX_CADENCE_STEPS`] are kept, and
    /// steps of zero total length are dropped. A pattern with no "on" time at all is a
    /// continuous silence, kept as given.
    #[must_use]
    pub fn new(steps: &[(u32, u32)]) -> Self {
        Self {
            steps: steps
                .iter()
                .copied()
                .filter(|&(on, off)| on + off > 0)
                .take(MAX_CADENCE_STEPS)
                .collect(),
        }
    }

    /// A single on/off step, e.g. `(2000, 4000)` for US ringback.
    #[must_use]
    pub fn on_off(on_ms: u32, off_ms: u32) -> Self {
        Self::new(&[(on_ms, off_ms)])
    }

    /// The steps.
    #[must_use]
    pub fn steps(&self) -> &[(u32, u32)] {
        &self.steps
    }

    /// Length of one repetition in ms (0 for continuous).
    #[must_use]
    pub fn period_ms(&self) -> u32 {
        self.steps.iter().map(|&(on, off)| on + off).sum()
    }
}

/// A tone: up to two sine components with their peak amplitudes, and a cadence.
#[derive(Debug, Clone, PartialEq)]
pub struct ToneSpec {
    components: Vec<(f64, f64)>,
    cadence: Cadence,
}

impl ToneSpec {
    /// A tone of `components` as `(frequency Hz, peak amplitude relative to full scale)`;
    /// at most two are kept. Amplitudes are scaled down together if their sum exceeds
    /// [`MAX_PEAK`]; negative or non-finite values count as zero.
    #[must_use]
    pub fn new(components: &[(f64, f64)], cadence: Cadence) -> Self {
        let mut components: Vec<(f64, f64)> = components
            .iter()
            .take(2)
            .map(|&(f, a)| {
                let ok = |v: f64| if v.is_finite() && v > 0.0 { v } else { 0.0 };
                (ok(f), ok(a))
            })
            .collect();
        let sum: f64 = components.iter().map(|c| c.1).sum();
        if sum > MAX_PEAK {
            for c in &mut components {
                c.1 *= MAX_PEAK / sum;
            }
        }
        Self {
            components,
            cadence,
        }
    }

    /// US dial tone: 350 + 440 Hz at −13 dBm0 each, continuous.
    #[must_use]
    pub fn dial_tone_us() -> Self {
        let a = dbm0_to_amplitude(-13.0);
        Self::new(&[(350.0, a), (440.0, a)], Cadence::continuous())
    }

    /// US audible ringing (ringback): 440 + 480 Hz at −19 dBm0 each, 2 s on, 4 s off.
    #[must_use]
    pub fn ringback_us() -> Self {
        Self::ringback_us_with(Cadence::on_off(2000, 4000))
    }

    /// US ringback frequencies with another cadence.
    #[must_use]
    pub fn ringback_us_with(cadence: Cadence) -> Self {
        let a = dbm0_to_amplitude(-19.0);
        Self::new(&[(440.0, a), (480.0, a)], cadence)
    }

    /// US busy: 480 + 620 Hz at −24 dBm0 each, 0.5 s on, 0.5 s off.
    #[must_use]
    pub fn busy_us() -> Self {
        let a = dbm0_to_amplitude(-24.0);
        Self::new(&[(480.0, a), (620.0, a)], Cadence::on_off(500, 500))
    }

    /// European dial tone: 425 Hz at −10 dBm0, continuous (ITU-T E.180, ETSI ES 201 970).
    #[must_use]
    pub fn dial_tone_eu() -> Self {
        Self::new(&[(425.0, dbm0_to_amplitude(-10.0))], Cadence::continuous())
    }

    /// European ringback: 425 Hz at −10 dBm0, 1 s on, 4 s off (ITU-T E.180).
    #[must_use]
    pub fn ringback_eu() -> Self {
        Self::new(
            &[(425.0, dbm0_to_amplitude(-10.0))],
            Cadence::on_off(1000, 4000),
        )
    }

    /// The DTMF pair of `digit` (0-9, *, #, A-D; case-insensitive), continuous, low group
    /// at −10 dBm0 and high group at −8 dBm0 (a 2 dB positive twist, within ITU-T Q.24).
    #[must_use]
    pub fn dtmf(digit: char) -> Option<Self> {
        let (lo, hi) = dtmf_frequencies(digit)?;
        Some(Self::new(
            &[
                (lo, dbm0_to_amplitude(-10.0)),
                (hi, dbm0_to_amplitude(-8.0)),
            ],
            Cadence::continuous(),
        ))
    }

    /// The components `(Hz, peak amplitude)`.
    #[must_use]
    pub fn components(&self) -> &[(f64, f64)] {
        &self.components
    }

    /// The cadence.
    #[must_use]
    pub fn cadence(&self) -> &Cadence {
        &self.cadence
    }
}

/// The (low, high) frequency pair of a DTMF digit (ITU-T Q.23 §2).
#[must_use]
pub fn dtmf_frequencies(digit: char) -> Option<(f64, f64)> {
    let d = digit.to_ascii_uppercase();
    DTMF_KEYS.iter().enumerate().find_map(|(r, row)| {
        row.iter()
            .position(|&k| k == d)
            .map(|c| (DTMF_LOW[r], DTMF_HIGH[c]))
    })
}

/// Renders a [`ToneSpec`] at a sample rate, frame after frame.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    spec: ToneSpec,
    rate: u32,
    /// Phase of each component in cycles, 0..1.
    phase: Vec<f64>,
    /// Samples since the start of the current cadence period.
    pos: u64,
    /// `(on, off)` steps in samples.
    steps: Vec<(u64, u64)>,
    period: u64,
    ramp: u64,
}

impl ToneGenerator {
    /// A generator for `spec` at `rate` Hz (any positive rate; 8000, 16000, 48000 are the
    /// ones the codecs use).
    #[must_use]
    pub fn new(spec: ToneSpec, rate: u32) -> Self {
        let rate = rate.max(1);
        let to_samples = |ms: u32| u64::from(ms) * u64::from(rate) / 1000;
        let steps: Vec<(u64, u64)> = spec
            .cadence
            .steps()
            .iter()
            .map(|&(on, off)| (to_samples(on), to_samples(off)))
            .collect();
        let period = steps.iter().map(|&(a, b)| a + b).sum();
        Self {
            phase: vec![0.0; spec.components.len()],
            spec,
            rate,
            pos: 0,
            steps,
            period,
            ramp: to_samples(RAMP_MS).max(1),
        }
    }

    /// The sample rate.
    #[must_use]
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Restarts the cadence from the beginning of its first "on" step.
    pub fn restart(&mut self) {
        self.pos = 0;
        self.phase.iter_mut().for_each(|p| *p = 0.0);
    }

    /// Envelope 0..=1 at the current position: 0 in "off" steps, ramps at the edges.
    fn envelope(&self) -> f64 {
        if self.period == 0 {
            // Continuous (or a cadence of all zeros): ramp in once at the start.
            return (self.pos as f64 / self.ramp as f64).min(1.0);
        }
        let mut t = self.pos % self.period;
        for &(on, off) in &self.steps {
            if t < on {
                let from_start = t as f64 / self.ramp as f64;
                let to_end = (on - t) as f64 / self.ramp as f64;
                return from_start.min(to_end).min(1.0);
            }
            t -= on;
            if t < off {
                return 0.0;
            }
            t -= off;
        }
        0.0
    }

    /// Fills `out` with the next samples of the tone.
    pub fn fill(&mut self, out: &mut [i16]) {
        let rate = f64::from(self.rate);
        for s in out.iter_mut() {
            let env = self.envelope();
            let mut v = 0.0;
            for (p, &(freq, amp)) in self.phase.iter_mut().zip(&self.spec.components) {
                v += amp * (2.0 * std::f64::consts::PI * *p).sin();
                *p = (*p + freq / rate).fract();
            }
            // MAX_PEAK keeps |v| ≤ 0.5, so this never saturates.
            *s = (v * env * 32767.0).round() as i16;
            self.pos += 1;
            if self.period == 0 {
                self.pos = self.pos.min(self.ramp);
            } else if self.pos >= self.period {
                self.pos -= self.period;
            }
        }
    }
}

/// Plays queued DTMF digits in order: each for `tone_ms`, followed by `gap_ms` of silence.
#[derive(Debug, Clone)]
pub struct DtmfPlayer {
    rate: u32,
    tone_ms: u32,
    gap_ms: u32,
    tone_samples: u64,
    gap_samples: u64,
    queue: VecDeque<char>,
    current: Option<ToneGenerator>,
    pos: u64,
}

impl DtmfPlayer {
    /// A player at `rate` Hz. ITU-T Q.24 asks for tones of at least 40 ms and pauses of at
    /// least 40 ms; 100 ms / 100 ms is a common choice.
    #[must_use]
    pub fn new(rate: u32, tone_ms: u32, gap_ms: u32) -> Self {
        let to_samples = |ms: u32| u64::from(ms) * u64::from(rate) / 1000;
        Self {
            rate,
            tone_ms: tone_ms.max(1),
            gap_ms,
            tone_samples: to_samples(tone_ms.max(1)).max(1),
            gap_samples: to_samples(gap_ms),
            queue: VecDeque::new(),
            current: None,
            pos: 0,
        }
    }

    /// Queues digits; returns how many were accepted (unknown characters are skipped, and
    /// at most [`MAX_QUEUED_DIGITS`] wait at once).
    pub fn queue(&mut self, digits: &str) -> usize {
        let mut n = 0;
        for d in digits.chars() {
            if self.queue.len() >= MAX_QUEUED_DIGITS {
                break;
            }
            if dtmf_frequencies(d).is_some() {
                self.queue.push_back(d.to_ascii_uppercase());
                n += 1;
            }
        }
        n
    }

    /// Whether nothing is playing or queued.
    #[must_use]
    pub fn is_idle(&self) -> bool {
        self.current.is_none() && self.queue.is_empty()
    }

    /// Fills `out` with the next samples (silence when idle).
    pub fn fill(&mut self, out: &mut [i16]) {
        let mut i = 0;
        while i < out.len() {
            if self.current.is_none() {
                let Some(d) = self.queue.pop_front() else {
                    out[i..].fill(0);
                    return;
                };
                // One period of an on/off cadence is exactly tone + gap, with ramped
                // edges; the player moves on after one period.
                let spec = ToneSpec::dtmf(d).map(|s| {
                    ToneSpec::new(s.components(), Cadence::on_off(self.tone_ms, self.gap_ms))
                });
                self.current = spec.map(|s| ToneGenerator::new(s, self.rate));
                self.pos = 0;
                continue;
            }
            let total = self.tone_samples + self.gap_samples;
            let n = ((total - self.pos) as usize).min(out.len() - i);
            if let Some(g) = self.current.as_mut() {
                g.fill(&mut out[i..i + n]);
            }
            self.pos += n as u64;
            i += n;
            if self.pos >= total {
                self.current = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{detect_dtmf, dominant_frequency, tone_power};

    #[test]
    fn dial_tone_has_both_components_and_never_clips() {
        let mut g = ToneGenerator::new(ToneSpec::dial_tone_us(), 8000);
        let mut buf = vec![0i16; 8000];
        g.fill(&mut buf);
        let a = dbm0_to_amplitude(-13.0);
        for f in [350.0, 440.0] {
            let p = tone_power(&buf[800..], 8000, f);
            assert!((p / (a * a / 2.0) - 1.0).abs() < 0.05, "{f}: {p}");
        }
        let peak = buf.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!(f64::from(peak) <= MAX_PEAK * 32768.0);
    }

    #[test]
    fn ringback_cadence_is_two_on_four_off() {
        let rate = 8000;
        let mut g = ToneGenerator::new(ToneSpec::ringback_us(), rate);
        let mut buf = vec![0i16; 13 * rate as usize]; // two periods and a bit
        g.fill(&mut buf);
        let ms = |m: usize| m * rate as usize / 1000;
        let on = |s: usize, e: usize| buf[ms(s)..ms(e)].iter().any(|&v| v.abs() > 500);
        assert!(on(10, 1990));
        assert!(!on(2010, 5990));
        assert!(on(6010, 7990));
        assert!(!on(8010, 11990));
        assert!(on(12010, 12990));
        assert!(dominant_frequency(&buf[ms(100)..ms(1900)], rate).is_some());
    }

    #[test]
    fn edges_are_ramped() {
        let mut g = ToneGenerator::new(ToneSpec::busy_us(), 8000);
        let mut buf = vec![0i16; 8000];
        g.fill(&mut buf);
        // The first samples and those around the 500 ms edge rise/fall gradually.
        let max_step = buf
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .max()
            .unwrap_or(0);
        let amp = 2.0 * dbm0_to_amplitude(-24.0) * 32767.0;
        // A 620 Hz sine at 8 kHz moves at most 2π·620/8000 ≈ 0.49 of its amplitude per
        // sample; without ramps the first edge alone would jump by the full amplitude.
        assert!(f64::from(max_step) < 0.5 * amp, "{max_step} vs {amp}");
    }

    #[test]
    fn dtmf_player_plays_digits_in_order() {
        let rate = 8000;
        let mut p = DtmfPlayer::new(rate, 100, 100);
        assert_eq!(p.queue("12#x"), 3);
        let mut digits = Vec::new();
        for _ in 0..40 {
            let mut block = vec![0i16; 160];
            p.fill(&mut block);
            match detect_dtmf(&block, rate) {
                Some(d) if digits.last() != Some(&d) => digits.push(d),
                _ => {}
            }
        }
        assert_eq!(digits, vec!['1', '2', '#']);
        assert!(p.is_idle());
    }
}
