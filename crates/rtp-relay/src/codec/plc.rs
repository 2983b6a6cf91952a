//! Packet-loss concealment in the PCM domain, for codecs without their own (G.711, G.722).
//!
//! The method follows the idea of ITU-T G.711 Appendix I: find the pitch period of the
//! last good audio, repeat that period for the lost span while fading out, and blend the
//! first samples after the loss with the continued extrapolation so the seam does not
//! click. Voiced speech and tones are nearly periodic, so repeating one whole period
//! continues the waveform without a jump; noise-like audio fades out within 60 ms.

use crate::error::Error;

/// Shortest pitch period searched: 2.5 ms (400 Hz).
const MIN_PITCH_MS_X10: u32 = 25;
/// Longest pitch period searched: 15 ms (about 66 Hz, below any speaking voice).
const MAX_PITCH_MS: u32 = 15;
/// Length of the correlation window used to find the period.
const WINDOW_MS: u32 = 10;
/// Concealment keeps full level for this long (G.711 App. I: the first 10 ms are not
/// attenuated)...
const HOLD_MS: u32 = 10;
/// ...then fades linearly to silence by this point (App. I reaches zero after 60 ms).
const FADE_END_MS: u32 = 60;
/// Length of the blend from extrapolation into real audio after a loss.
const MERGE_MS_X10: u32 = 25;
/// The history vector grows to this many times the history before old samples are cut.
const HISTORY_SLACK: usize = 4;

/// Pitch-repeating loss concealment for one stream at one sample rate.
#[derive(Debug, Clone)]
pub struct Concealer {
    rate: u32,
    /// Good (or concealed) samples, oldest first; the newest `history_len` are the
    /// history. Older ones are cut off only when the vector reaches [`HISTORY_SLACK`]
    /// times that, so a frame costs a copy of itself, not a move of the whole history.
    history: Vec<i16>,
    history_len: usize,
    /// One pitch period being repeated while concealing.
    cycle: Vec<i16>,
    /// The history as `f32` for the pitch search, reused from loss to loss.
    scratch: Vec<f32>,
    /// Position within `cycle` of the next concealed sample.
    pos: usize,
    /// Samples concealed since the last good frame; 0 when not concealing.
    lost: usize,
}

impl Concealer {
    /// Creates a concealer for audio at `rate` Hz (8000..=48000).
    ///
    /// # Errors
    /// [`Error::UnsupportedSampleRate`] outside 8000..=48000.
    pub fn new(rate: u32) -> Result<Self, Error> {
        if !(8000..=48000).contains(&rate) {
            return Err(Error::UnsupportedSampleRate(rate));
        }
        let history_len = ms(rate, MAX_PITCH_MS + WINDOW_MS);
        Ok(Self {
            rate,
            history: Vec::with_capacity(history_len * HISTORY_SLACK),
            history_len,
            cycle: Vec::with_capacity(ms(rate, MAX_PITCH_MS)),
            scratch: Vec::with_capacity(history_len),
            pos: 0,
            lost: 0,
        })
    }

    /// Whether the last call was [`Concealer::conceal`] (the next good frame will be
    /// blended).
    #[must_use]
    pub fn is_concealing(&self) -> bool {
        self.lost > 0
    }

    /// Records a good decoded frame. Right after a loss, the start of `pcm` is blended in
    /// place with the continued extrapolation so the restart does not click.
    pub fn observe(&mut self, pcm: &mut [i16]) {
        if self.lost > 0 {
            let merge = (self.rate * MERGE_MS_X10 / 10_000) as usize;
            let merge = merge.min(pcm.len());
            for (i, s) in pcm[..merge].iter_mut().enumerate() {
                let extrapolated = self.next_concealed();
                let w = (i + 1) as f32 / (merge + 1) as f32;
                *s = to_i16(extrapolated * (1.0 - w) + f32::from(*s) * w);
            }
            self.lost = 0;
        }
        self.push_history(pcm);
    }

    /// Fills `out` with concealment audio continuing the last good audio.
    pub fn conceal(&mut self, out: &mut [i16]) {
        if self.lost == 0 {
            self.start_concealment();
        }
        for s in out.iter_mut() {
            *s = to_i16(self.next_concealed());
            self.lost += 1;
        }
        // Concealed audio becomes history too, so a second loss in a row continues from it.
        self.push_history(out);
    }

    /// Next extrapolated sample with the fade applied; advances the cycle.
    fn next_concealed(&mut self) -> f32 {
        if self.cycle.is_empty() {
            return 0.0;
        }
        let hold = ms(self.rate, HOLD_MS);
        let end = ms(self.rate, FADE_END_MS);
        let gain = if self.lost <= hold {
            1.0
        } else if self.lost >= end {
            0.0
        } else {
            1.0 - (self.lost - hold) as f32 / (end - hold) as f32
        };
        let v = f32::from(self.cycle[self.pos]) * gain;
        self.pos = (self.pos + 1) % self.cycle.len();
        v
    }

    fn push_history(&mut self, samples: &[i16]) {
        let limit = self.history_len * HISTORY_SLACK;
        if self.history.len() + samples.len() > limit {
            let keep = self.history_len.saturating_sub(samples.len());
            let excess = self.history.len().saturating_sub(keep);
            self.history.drain(..excess);
        }
        let take = samples.len().saturating_sub(limit);
        self.history.extend_from_slice(&samples[take..]);
    }

    /// Picks the pitch period by normalised cross-correlation of the newest window with
    /// lagged copies, and copies the newest period into `cycle`.
    fn start_concealment(&mut self) {
        self.cycle.clear();
        self.pos = 0;
        if self.history.len() < self.history_len {
            // Not enough audio yet (start of the stream): conceal with silence.
            return;
        }
        self.scratch.clear();
        self.scratch.extend(
            self.history[self.history.len() - self.history_len..]
                .iter()
                .map(|&s| f32::from(s)),
        );
        let h = &self.scratch;
        let min_lag = (self.rate * MIN_PITCH_MS_X10 / 10_000) as usize;
        let max_lag = ms(self.rate, MAX_PITCH_MS);
        let win = ms(self.rate, WINDOW_MS);
        let start = h.len() - win;
        let target = &h[start..];
        if target.iter().map(|v| v * v).sum::<f32>() < 1.0 {
            return; // digital silence: nothing to continue
        }
        let mut best_lag = min_lag;
        let mut best_score = f32::MIN;
        for lag in min_lag..=max_lag {
            let lagged = &h[start - lag..h.len() - lag];
            let mut dot = 0.0f32;
            let mut energy = 0.0f32;
            for (a, b) in target.iter().zip(lagged) {
                dot += a * b;
                energy += b * b;
            }
            let score = if energy > 0.0 {
                dot / energy.sqrt()
            } else {
                0.0
            };
            if score > best_score {
                best_score = score;
                best_lag = lag;
            }
        }
        // Repeating the newest period: sample n of the concealment equals the sample one
        // period earlier, so the waveform continues where the good audio stopped.
        let newest = &self.history[self.history.len() - best_lag..];
        self.cycle.extend_from_slice(newest);
    }
}

const fn ms(rate: u32, ms: u32) -> usize {
    (rate as u64 * ms as u64 / 1000) as usize
}

fn to_i16(v: f32) -> i16 {
    v.round().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
}
