//! Audio measurements for tests and diagnostics: tone power (Goertzel), the dominant
//! frequency (a windowed DFT peak with interpolation) and DTMF digit detection.
//!
//! These are small, exact-enough tools to prove that sound crossed a relay correctly
//! ("a 1 kHz tone sent as PCMU comes out as 1 kHz"), not a production tone detector.

/// The DTMF keypad: rows by low-group frequency, columns by high-group frequency
/// (ITU-T Q.23 §2, RFC 4733 §3.2 event codes 0–15).
pub const DTMF_LOW: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
/// High-group DTMF frequencies (ITU-T Q.23 §2).
pub const DTMF_HIGH: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
/// Digits by `[row][column]` of [`DTMF_LOW`] × [`DTMF_HIGH`].
pub const DTMF_KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// The largest block [`dominant_frequency`] examines (its cost grows with the square).
pub const MAX_DFT_LEN: usize = 4096;

/// Mean power of the whole signal, relative to full scale: a full-scale sine gives 0.5.
#[must_use]
pub fn power(pcm: &[i16]) -> f64 {
    if pcm.is_empty() {
        return 0.0;
    }
    let sum: f64 = pcm.iter().map(|&s| (f64::from(s) / 32768.0).powi(2)).sum();
    sum / pcm.len() as f64
}

/// RMS level in dBFS (a full-scale sine is −3 dBFS); −∞ for silence.
#[must_use]
pub fn rms_dbfs(pcm: &[i16]) -> f64 {
    10.0 * power(pcm).log10()
}

/// Goertzel: power of the component at `freq` Hz, scaled like [`power`] (a sine of
/// amplitude `a` relative to full scale at exactly `freq` gives `a² / 2`).
///
/// Works for any frequency, not just DFT bins. Leakage from other tones falls off as
/// 1 / (Δf · duration), so give it at least 20 ms for tones 100 Hz apart.
#[must_use]
pub fn tone_power(pcm: &[i16], rate: u32, freq: f64) -> f64 {
    if pcm.is_empty() || rate == 0 {
        return 0.0;
    }
    let w = 2.0 * std::f64::consts::PI * freq / f64::from(rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in pcm {
        let s0 = f64::from(x) / 32768.0 + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    // |X(ω)|² from the last two states.
    let mag2 = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let n = pcm.len() as f64;
    2.0 * mag2 / (n * n)
}

/// Fraction of the signal's power that sits at `freq` (0..=1, roughly).
#[must_use]
pub fn tone_fraction(pcm: &[i16], rate: u32, freq: f64) -> f64 {
    let total = power(pcm);
    if total <= 0.0 {
        return 0.0;
    }
    tone_power(pcm, rate, freq) / total
}

/// The frequency with the most energy, in Hz, or `None` for silence (below −70 dBFS).
///
/// Takes the last [`MAX_DFT_LEN`] samples, applies a Hann window, evaluates every DFT bin
/// from 20 Hz to Nyquist and refines the peak by parabolic interpolation of the
/// log-magnitudes, so the answer is accurate to a few Hz.
#[must_use]
pub fn dominant_frequency(pcm: &[i16], rate: u32) -> Option<f64> {
    let pcm = &pcm[pcm.len().saturating_sub(MAX_DFT_LEN)..];
    let n = pcm.len();
    if n < 16 || rate == 0 || power(pcm) < 1e-7 {
        return None;
    }
    let windowed: Vec<f64> = pcm
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let hann = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos();
            f64::from(s) * hann
        })
        .collect();
    let bin_hz = f64::from(rate) / n as f64;
    let first = ((20.0 / bin_hz).ceil() as usize).max(1);
    let last = n / 2 - 1;
    if first + 2 > last {
        return None;
    }
    let mags: Vec<f64> = (first..=last).map(|k| bin_power(&windowed, k, n)).collect();
    let (peak, _) = mags.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
    let offset = if peak > 0 && peak + 1 < mags.len() {
        let (a, b, c) = (
            mags[peak - 1].max(1e-30).ln(),
            mags[peak].max(1e-30).ln(),
            mags[peak + 1].max(1e-30).ln(),
        );
        let denom = a - 2.0 * b + c;
        if denom.abs() > 1e-12 {
            (0.5 * (a - c) / denom).clamp(-0.5, 0.5)
        } else {
            0.0
        }
    } else {
        0.0
    };
    Some(((first + peak) as f64 + offset) * bin_hz)
}

/// Power of DFT bin `k` of `x` (length `n`), by Goertzel.
fn bin_power(x: &[f64], k: usize, n: usize) -> f64 {
    let w = 2.0 * std::f64::consts::PI * k as f64 / n as f64;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s0 = v + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

/// The DTMF digit in a block of audio, if one is clearly present.
///
/// Criteria in the spirit of ITU-T Q.24: the strongest low-group and high-group tones
/// together carry most of the block's power, each is well above the other tones of its
/// group, and their levels differ by at most 8 dB (twist). Blocks of 20–50 ms work well.
#[must_use]
pub fn detect_dtmf(pcm: &[i16], rate: u32) -> Option<char> {
    let total = power(pcm);
    if total < 1e-6 {
        return None; // below about −60 dBFS: no tone worth reporting
    }
    let low: Vec<f64> = DTMF_LOW.iter().map(|&f| tone_power(pcm, rate, f)).collect();
    let high: Vec<f64> = DTMF_HIGH
        .iter()
        .map(|&f| tone_power(pcm, rate, f))
        .collect();
    let (row, lp) = strongest(&low)?;
    let (col, hp) = strongest(&high)?;
    // Each tone must stand 10 dB above the rest of its group.
    let clear =
        |v: &[f64], i: usize, p: f64| v.iter().enumerate().all(|(j, &q)| j == i || q * 10.0 < p);
    let twist_ok = lp <= hp * 6.31 && hp <= lp * 6.31; // ±8 dB
    let dominant = (lp + hp) > 0.6 * total;
    (clear(&low, row, lp) && clear(&high, col, hp) && twist_ok && dominant)
        .then(|| DTMF_KEYS[row][col])
}

fn strongest(v: &[f64]) -> Option<(usize, f64)> {
    v.iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// Turns a stream of audio blocks into DTMF key presses: a digit is reported once when it
/// has been present in `min_blocks` consecutive blocks, and again only after a block
/// without it.
#[derive(Debug, Clone)]
pub struct DtmfDetector {
    rate: u32,
    min_blocks: u32,
    current: Option<char>,
    run: u32,
    reported: bool,
}

impl DtmfDetector {
    /// A detector for audio at `rate` Hz that needs `min_blocks` (at least 1) consecutive
    /// blocks of a digit. With 20 ms blocks, 2 matches Q.24's 40 ms minimum duration.
    #[must_use]
    pub fn new(rate: u32, min_blocks: u32) -> Self {
        Self {
            rate,
            min_blocks: min_blocks.max(1),
            current: None,
            run: 0,
            reported: false,
        }
    }

    /// Feeds one block; returns a digit when a new key press is recognised.
    pub fn feed(&mut self, block: &[i16]) -> Option<char> {
        let digit = detect_dtmf(block, self.rate);
        if digit != self.current {
            self.current = digit;
            self.run = 0;
            self.reported = false;
        }
        let digit = digit?;
        self.run += 1;
        if !self.reported && self.run >= self.min_blocks {
            self.reported = true;
            return Some(digit);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, amp: f64, rate: u32, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                (amp * 32767.0 * (2.0 * std::f64::consts::PI * freq * t).sin()).round() as i16
            })
            .collect()
    }

    #[test]
    fn goertzel_measures_amplitude() {
        let x = sine(1000.0, 0.5, 8000, 1600);
        let p = tone_power(&x, 8000, 1000.0);
        assert!((p - 0.125).abs() < 0.002, "{p}");
        assert!(tone_power(&x, 8000, 2000.0) < 1e-5);
    }

    #[test]
    fn dominant_frequency_is_accurate() {
        for &(f, rate) in &[
            (1000.0, 8000),
            (440.0, 8000),
            (3100.0, 16000),
            (6000.0, 48000),
        ] {
            let x = sine(f, 0.3, rate, 4096);
            let got = dominant_frequency(&x, rate).expect("tone");
            assert!((got - f).abs() < 3.0, "{f} at {rate}: {got}");
        }
        assert_eq!(dominant_frequency(&[0; 800], 8000), None);
    }

    #[test]
    fn dtmf_detects_every_key_and_rejects_single_tones() {
        for (r, row) in DTMF_KEYS.iter().enumerate() {
            for (c, &key) in row.iter().enumerate() {
                let lo = sine(DTMF_LOW[r], 0.25, 8000, 320);
                let hi = sine(DTMF_HIGH[c], 0.3, 8000, 320);
                let mix: Vec<i16> = lo.iter().zip(&hi).map(|(a, b)| a + b).collect();
                assert_eq!(detect_dtmf(&mix, 8000), Some(key));
            }
        }
        assert_eq!(detect_dtmf(&sine(697.0, 0.5, 8000, 320), 8000), None);
        assert_eq!(detect_dtmf(&sine(1000.0, 0.5, 8000, 320), 8000), None);
    }
}
