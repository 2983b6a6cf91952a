//! G.722 at 64 kbit/s (ITU-T G.722 mode 1) through the `audio-codec` crate.
//!
//! Audio is 16 kHz; one byte carries two samples, so 20 ms is 320 samples and 160 bytes,
//! while the RTP clock advances 160 ticks (RFC 3551 §4.5.2).

use audio_codec::g722::{Bitrate, G722Decoder, G722Encoder};
use audio_codec::{Decoder as _, Encoder as _};

use crate::error::Error;

/// Encoder state (the two ADPCM sub-bands and the QMF history).
pub(crate) struct G722Enc(G722Encoder);

impl G722Enc {
    pub(crate) fn new() -> Self {
        // eight_k = false: 16 kHz input; packed = false: one code word per byte, which is
        // the RTP payload format (RFC 3551 §4.5.2).
        Self(G722Encoder::with_options(
            Bitrate::Mode1_64000,
            false,
            false,
        ))
    }

    pub(crate) fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, Error> {
        // A code word carries two samples; the library would pad an odd last sample with
        // a zero, which puts a click in the stream, so odd frames are refused.
        if pcm.len() % 2 != 0 {
            return Err(Error::BadFrameLength {
                codec: crate::codec::CodecKind::G722,
                len: pcm.len(),
            });
        }
        let need = pcm.len() / 2;
        if out.len() < need {
            return Err(Error::BufferTooSmall {
                len: out.len(),
                need,
            });
        }
        self.0.encode_into(pcm, out).map_err(Error::G722)
    }
}

/// Decoder state.
pub(crate) struct G722Dec(G722Decoder);

impl G722Dec {
    pub(crate) fn new() -> Self {
        Self(G722Decoder::with_options(
            Bitrate::Mode1_64000,
            false,
            false,
        ))
    }

    pub(crate) fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<usize, Error> {
        self.0.decode_into(payload, out).map_err(Error::G722)
    }
}
