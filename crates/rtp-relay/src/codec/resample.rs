//! Sample-rate conversion between the telephony rates (8, 12, 16, 24 and 48 kHz).
//!
//! A rational polyphase resampler: conceptually the input is upsampled by `L` (zeros
//! inserted), low-pass filtered at the common rate, and every `M`-th sample kept; only the
//! products that are not multiplied by an inserted zero and that land on a kept sample are
//! computed. The low-pass is a Kaiser-windowed sinc (β = 7.86, about 80 dB stopband) with
//! its cut-off at 47 % of the lower of the two rates and a transition 10 % of that rate
//! wide, so the stopband starts at 52 %: only the top 2 % below Nyquist can alias back, and
//! it lands above the telephone band (3.4 kHz at 8 kHz). Downsampling therefore removes what
//! the lower rate cannot carry instead of folding it into the passband.
//!
//! The filter delays the signal by half its length (about 3 ms at 8 kHz); state carries
//! across calls so consecutive frames join without seams.

use crate::error::Error;

/// Kaiser window β for about 80 dB stopband attenuation (Kaiser's formula
/// β = 0.1102·(A − 8.7) with A = 80).
const KAISER_BETA: f64 = 7.857;
/// Cut-off as a fraction of the lower rate.
const CUTOFF: f64 = 0.47;
/// Transition width as a fraction of the lower rate.
const TRANSITION: f64 = 0.10;

/// A streaming resampler for 16-bit mono PCM.
#[derive(Debug, Clone)]
pub struct Resampler {
    from: u32,
    to: u32,
    up: usize,
    down: usize,
    taps: usize,
    /// Polyphase coefficients, phase-major, each phase reversed so it multiplies a forward
    /// slice of input.
    coeffs: Vec<f32>,
    /// `taps − 1` samples of history followed by the not yet consumed input.
    buf: Vec<f32>,
    /// Position of the next output at the common rate, relative to `buf[0]`.
    t: usize,
}

/// Dot product with eight independent accumulators: a plain `sum()` of f32 products is a
/// strict left-to-right chain the compiler may not reorder, so it cannot use SIMD.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Zeroth-order modified Bessel function of the first kind, by its power series.
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let half = x / 2.0;
    for k in 1..64 {
        term *= (half / f64::from(k)) * (half / f64::from(k));
        sum += term;
        if term < sum * 1e-12 {
            break;
        }
    }
    sum
}

impl Resampler {
    /// The rates supported: those libopus runs at, which include G.711's and G.722's.
    pub const RATES: [u32; 5] = [8000, 12000, 16000, 24000, 48000];

    /// Creates a resampler from `from` Hz to `to` Hz.
    ///
    /// # Errors
    /// [`Error::UnsupportedSampleRate`] when either rate is not in [`Resampler::RATES`].
    pub fn new(from: u32, to: u32) -> Result<Self, Error> {
        for rate in [from, to] {
            if !Self::RATES.contains(&rate) {
                return Err(Error::UnsupportedSampleRate(rate));
            }
        }
        let g = gcd(from, to);
        let up = (to / g) as usize;
        let down = (from / g) as usize;
        if up == 1 && down == 1 {
            return Ok(Self {
                from,
                to,
                up,
                down,
                taps: 1,
                coeffs: vec![1.0],
                buf: Vec::new(),
                t: 0,
            });
        }
        let common = f64::from(from) * up as f64;
        let low = f64::from(from.min(to));
        // Kaiser's length estimate N ≈ (A − 8) / (2.285 · Δω), Δω = 2π·Δf/fs.
        let dw = 2.0 * std::f64::consts::PI * TRANSITION * low / common;
        let estimate = ((80.0 - 8.0) / (2.285 * dw)).ceil() as usize;
        let taps = estimate.div_ceil(up).max(2);
        let len = taps * up;
        let fc = CUTOFF * low / common; // cycles per sample at the common rate
        let centre = (len - 1) as f64 / 2.0;
        let i0_beta = bessel_i0(KAISER_BETA);
        let mut h: Vec<f64> = (0..len)
            .map(|n| {
                let x = n as f64 - centre;
                let sinc = if x == 0.0 {
                    2.0 * fc
                } else {
                    (2.0 * std::f64::consts::PI * fc * x).sin() / (std::f64::consts::PI * x)
                };
                let r = 2.0 * n as f64 / (len - 1) as f64 - 1.0;
                let w = bessel_i0(KAISER_BETA * (1.0 - r * r).max(0.0).sqrt()) / i0_beta;
                sinc * w
            })
            .collect();
        // Unity gain at DC: each of the `up` phases must sum to about 1.
        let sum: f64 = h.iter().sum();
        for c in &mut h {
            *c *= up as f64 / sum;
        }
        let mut coeffs = vec![0.0f32; len];
        for p in 0..up {
            for j in 0..taps {
                coeffs[p * taps + j] = h[p + up * (taps - 1 - j)] as f32;
            }
        }
        Ok(Self {
            from,
            to,
            up,
            down,
            taps,
            coeffs,
            buf: vec![0.0; taps - 1],
            t: (taps - 1) * up,
        })
    }

    /// The input rate.
    #[must_use]
    pub fn from_rate(&self) -> u32 {
        self.from
    }

    /// The output rate.
    #[must_use]
    pub fn to_rate(&self) -> u32 {
        self.to
    }

    /// Whether input and output rates are equal (samples are copied).
    #[must_use]
    pub fn is_identity(&self) -> bool {
        self.up == 1 && self.down == 1
    }

    /// Filter taps evaluated per output sample (a cost measure).
    #[must_use]
    pub fn taps_per_output(&self) -> usize {
        self.taps
    }

    /// Delay the filter adds, in output samples.
    #[must_use]
    pub fn delay(&self) -> usize {
        (self.taps * self.up - 1) / 2 / self.down
    }

    /// Forgets the history (after a gap in the stream), as if newly created.
    pub fn reset(&mut self) {
        if self.is_identity() {
            return;
        }
        self.buf.clear();
        self.buf.resize(self.taps - 1, 0.0);
        self.t = (self.taps - 1) * self.up;
    }

    /// Converts `input`, appending the output samples to `out`. Frames of a whole number
    /// of milliseconds yield exactly `len · to / from` samples once the first frame is
    /// through.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        if self.is_identity() {
            out.extend_from_slice(input);
            return;
        }
        self.buf.extend(input.iter().map(|&s| f32::from(s)));
        let taps = self.taps;
        out.reserve(input.len() * self.up / self.down + 1);
        loop {
            let base = self.t / self.up;
            if base >= self.buf.len() {
                break;
            }
            let phase = self.t % self.up;
            let c = &self.coeffs[phase * taps..(phase + 1) * taps];
            let x = &self.buf[base + 1 - taps..=base];
            let y = dot(c, x);
            out.push(y.round().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16);
            self.t += self.down;
        }
        let consumed = self.buf.len() - (taps - 1);
        self.buf.drain(..consumed);
        self.t -= consumed * self.up;
    }
}
