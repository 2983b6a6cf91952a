//! G.711 µ-law (PCMU) and A-law (PCMA), ITU-T G.711 (11/88).
//!
//! Decoding is one lookup in a 256-entry table. Encoding is also one lookup: the companding
//! laws only look at the top 14 (µ-law) or 13 (A-law) bits of a 16-bit sample, so a
//! 16 Ki / 8 Ki entry table indexed by the sample shifted right covers every input. The
//! tables are built at compile time from the segment-search reference encoders
//! ([`encode_ulaw_reference`], [`encode_alaw_reference`]), which stay public so tests and
//! benches can compare both.
//!
//! Negative inputs use the one's complement (`!x`), as the ITU-T G.191 reference software
//! does, so decision thresholds are symmetric around −½ and every code except µ-law's
//! "negative zero" (0x7F) survives decode → encode unchanged.

/// µ-law bias added to the 14-bit magnitude before the segment search (G.711 table 2a).
const ULAW_BIAS: i32 = 33;
/// Largest 14-bit magnitude µ-law can represent (8158 + 33 = 8191 = 2¹³ − 1).
const ULAW_CLIP: i32 = 8158;

/// Encodes one 16-bit linear sample to µ-law by segment search (the reference path).
#[must_use]
pub const fn encode_ulaw_reference(sample: i16) -> u8 {
    let (sign, mag) = if sample < 0 {
        (0x80u8, ((!sample) as i32) >> 2)
    } else {
        (0x00u8, (sample as i32) >> 2)
    };
    let mag = if mag > ULAW_CLIP { ULAW_CLIP } else { mag };
    let biased = mag + ULAW_BIAS; // 33..=8191, so the top set bit is bit 5..=12
    let segment = (31 - biased.leading_zeros() as i32) - 5;
    let mantissa = (biased >> (segment + 1)) & 0x0F;
    // G.711 transmits µ-law codes with all bits inverted.
    !(sign | ((segment as u8) << 4) | mantissa as u8)
}

/// Encodes one 16-bit linear sample to A-law by segment search (the reference path).
#[must_use]
pub const fn encode_alaw_reference(sample: i16) -> u8 {
    // A-law's sign bit is 1 for positive values (G.711 table 1a).
    let (sign, mag) = if sample < 0 {
        (0x00u8, ((!sample) as i32) >> 3)
    } else {
        (0x80u8, (sample as i32) >> 3)
    };
    // mag is a 12-bit magnitude, 0..=4095.
    let (segment, mantissa) = if mag < 32 {
        (0, mag >> 1)
    } else {
        let segment = (31 - mag.leading_zeros() as i32) - 4; // 1..=7
        (segment, (mag >> segment) & 0x0F)
    };
    // Even bits are inverted on the line (G.711 §3.4 / table 1a note).
    (sign | ((segment as u8) << 4) | mantissa as u8) ^ 0x55
}

/// Decodes one µ-law code to a 16-bit linear sample (value at the centre of its interval).
#[must_use]
pub const fn decode_ulaw_reference(code: u8) -> i16 {
    let code = !code;
    let segment = ((code >> 4) & 0x07) as i32;
    let mantissa = (code & 0x0F) as i32;
    // Centre of the interval in the 14-bit domain is ((2m + 33) << s) − 33; ×4 for 16 bits.
    let mag = (((mantissa << 1) + ULAW_BIAS) << segment) - ULAW_BIAS;
    let value = mag << 2;
    if code & 0x80 != 0 {
        -value as i16
    } else {
        value as i16
    }
}

/// Decodes one A-law code to a 16-bit linear sample (value at the centre of its interval).
#[must_use]
pub const fn decode_alaw_reference(code: u8) -> i16 {
    let code = code ^ 0x55;
    let segment = ((code >> 4) & 0x07) as i32;
    let mantissa = (code & 0x0F) as i32;
    let mag = if segment == 0 {
        (mantissa << 1) + 1
    } else {
        ((mantissa << 1) + 33) << (segment - 1)
    };
    let value = mag << 3;
    if code & 0x80 != 0 {
        value as i16
    } else {
        -value as i16
    }
}

const fn build_ulaw_decode() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = decode_ulaw_reference(code as u8);
        code += 1;
    }
    table
}

const fn build_alaw_decode() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = decode_alaw_reference(code as u8);
        code += 1;
    }
    table
}

/// Index `i` holds the code of every sample whose arithmetic `>> 2` is `i` (as 14-bit two's
/// complement). That is exact: for negative x, `!x >> 2` equals `!(x >> 2)`.
const fn build_ulaw_encode() -> [u8; 1 << 14] {
    let mut table = [0u8; 1 << 14];
    let mut i = 0;
    while i < (1 << 14) {
        let shifted = if i >= (1 << 13) {
            i as i32 - (1 << 14)
        } else {
            i as i32
        };
        table[i] = encode_ulaw_reference((shifted << 2) as i16);
        i += 1;
    }
    table
}

/// As [`build_ulaw_encode`], with `>> 3` (A-law looks at 13 bits).
const fn build_alaw_encode() -> [u8; 1 << 13] {
    let mut table = [0u8; 1 << 13];
    let mut i = 0;
    while i < (1 << 13) {
        let shifted = if i >= (1 << 12) {
            i as i32 - (1 << 13)
        } else {
            i as i32
        };
        table[i] = encode_alaw_reference((shifted << 3) as i16);
        i += 1;
    }
    table
}

static ULAW_DECODE: [i16; 256] = build_ulaw_decode();
static ALAW_DECODE: [i16; 256] = build_alaw_decode();
static ULAW_ENCODE: [u8; 1 << 14] = build_ulaw_encode();
static ALAW_ENCODE: [u8; 1 << 13] = build_alaw_encode();

/// Encodes one sample to µ-law (table lookup).
#[inline]
#[must_use]
pub fn encode_ulaw(sample: i16) -> u8 {
    ULAW_ENCODE[((sample >> 2) as u16 & 0x3FFF) as usize]
}

/// Encodes one sample to A-law (table lookup).
#[inline]
#[must_use]
pub fn encode_alaw(sample: i16) -> u8 {
    ALAW_ENCODE[((sample >> 3) as u16 & 0x1FFF) as usize]
}

/// Decodes one µ-law code (table lookup).
#[inline]
#[must_use]
pub fn decode_ulaw(code: u8) -> i16 {
    ULAW_DECODE[code as usize]
}

/// Decodes one A-law code (table lookup).
#[inline]
#[must_use]
pub fn decode_alaw(code: u8) -> i16 {
    ALAW_DECODE[code as usize]
}

/// Which of the two G.711 laws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Law {
    /// µ-law, RTP "PCMU" (RFC 3551 §4.5.14).
    Ulaw,
    /// A-law, RTP "PCMA" (RFC 3551 §4.5.14).
    Alaw,
}

impl Law {
    /// Encodes `pcm` into `out`, one byte per sample; returns the number of bytes written
    /// (the shorter of the two lengths).
    pub fn encode(self, pcm: &[i16], out: &mut [u8]) -> usize {
        let n = pcm.len().min(out.len());
        match self {
            Self::Ulaw => {
                for (o, &s) in out[..n].iter_mut().zip(pcm) {
                    *o = encode_ulaw(s);
                }
            }
            Self::Alaw => {
                for (o, &s) in out[..n].iter_mut().zip(pcm) {
                    *o = encode_alaw(s);
                }
            }
        }
        n
    }

    /// Decodes `payload` into `out`, one sample per byte; returns the number of samples
    /// written (the shorter of the two lengths).
    pub fn decode(self, payload: &[u8], out: &mut [i16]) -> usize {
        let n = payload.len().min(out.len());
        let table = match self {
            Self::Ulaw => &ULAW_DECODE,
            Self::Alaw => &ALAW_DECODE,
        };
        for (o, &c) in out[..n].iter_mut().zip(payload) {
            *o = table[c as usize];
        }
        n
    }

    /// Converts a code of this law to the code of `to` through linear PCM.
    ///
    /// G.711 Appendix-style direct conversion tables exist, but going through the 16-bit
    /// value with our own tables is exact for every code and needs no third table.
    #[must_use]
    pub fn transcode(self, code: u8, to: Law) -> u8 {
        let linear = match self {
            Self::Ulaw => decode_ulaw(code),
            Self::Alaw => decode_alaw(code),
        };
        match to {
            Self::Ulaw => encode_ulaw(linear),
            Self::Alaw => encode_alaw(linear),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_match_reference_for_every_input() {
        for s in i16::MIN..=i16::MAX {
            assert_eq!(encode_ulaw(s), encode_ulaw_reference(s), "µ-law {s}");
            assert_eq!(encode_alaw(s), encode_alaw_reference(s), "A-law {s}");
        }
        for c in 0..=255u8 {
            assert_eq!(decode_ulaw(c), decode_ulaw_reference(c));
            assert_eq!(decode_alaw(c), decode_alaw_reference(c));
        }
    }
}
