//! Opus through libopus (the `opus` crate), mono, VoIP application.
//!
//! The RTP clock is 48 kHz whatever rate libopus runs at (RFC 7587 §4.1), so 20 ms is
//! always 960 ticks; the PCM rate of the encoder and decoder is free among the five rates
//! libopus supports, which lets a narrowband leg skip resampling entirely.

use ::opus as libopus;

use super::{CodecKind, OpusConfig, samples_in_ms};
use crate::error::Error;

fn opus_err(e: &libopus::Error) -> Error {
    if e.code() == libopus::ErrorCode::InvalidPacket {
        Error::InvalidPayload(CodecKind::Opus)
    } else {
        Error::Opus {
            function: e.function(),
            code: e.code(),
        }
    }
}

fn check_rate(rate: u32) -> Result<(), Error> {
    match rate {
        8000 | 12000 | 16000 | 24000 | 48000 => Ok(()),
        other => Err(Error::UnsupportedSampleRate(other)),
    }
}

/// Encoder with its configuration.
pub(crate) struct OpusEnc {
    enc: libopus::Encoder,
    rate: u32,
    dtx: bool,
}

impl OpusEnc {
    pub(crate) fn new(cfg: &OpusConfig) -> Result<Self, Error> {
        check_rate(cfg.sample_rate)?;
        let mut enc = libopus::Encoder::new(
            cfg.sample_rate,
            libopus::Channels::Mono,
            libopus::Application::Voip,
        )
        .map_err(|e| opus_err(&e))?;
        if let Some(bps) = cfg.effective_bitrate() {
            enc.set_bitrate(libopus::Bitrate::Bits(bps))
                .map_err(|e| opus_err(&e))?;
        }
        enc.set_inband_fec(cfg.fec).map_err(|e| opus_err(&e))?;
        enc.set_packet_loss_perc(i32::from(cfg.expected_loss_percent.min(100)))
            .map_err(|e| opus_err(&e))?;
        enc.set_dtx(cfg.dtx).map_err(|e| opus_err(&e))?;
        enc.set_complexity(i32::from(cfg.effective_complexity()))
            .map_err(|e| opus_err(&e))?;
        Ok(Self {
            enc,
            rate: cfg.sample_rate,
            dtx: cfg.dtx,
        })
    }

    pub(crate) fn sample_rate(&self) -> u32 {
        self.rate
    }

    pub(crate) fn dtx(&self) -> bool {
        self.dtx
    }

    pub(crate) fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, Error> {
        // libopus takes only these durations (RFC 6716 §2.1.4); check first so the caller
        // gets our error rather than OPUS_BAD_ARG.
        let quarter_ms = pcm.len() as u64 * 4000 / u64::from(self.rate);
        let exact = pcm.len() as u64 * 4000 % u64::from(self.rate) == 0;
        if !exact || ![10, 20, 40, 80, 160, 240].contains(&quarter_ms) {
            return Err(Error::BadFrameLength {
                codec: CodecKind::Opus,
                len: pcm.len(),
            });
        }
        if out.len() < 3 {
            return Err(Error::BufferTooSmall {
                len: out.len(),
                need: 3,
            });
        }
        self.enc.encode(pcm, out).map_err(|e| opus_err(&e))
    }
}

/// Decoder plus the duration of the last frame, which PLC repeats.
pub(crate) struct OpusDec {
    dec: libopus::Decoder,
    rate: u32,
}

impl OpusDec {
    pub(crate) fn new(rate: u32) -> Result<Self, Error> {
        check_rate(rate)?;
        let dec = libopus::Decoder::new(rate, libopus::Channels::Mono).map_err(|e| opus_err(&e))?;
        Ok(Self { dec, rate })
    }

    pub(crate) fn sample_rate(&self) -> u32 {
        self.rate
    }

    pub(crate) fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<usize, Error> {
        if payload.is_empty() {
            // An empty slice means "lost" to libopus; an empty RTP payload is invalid
            // (RFC 7587 §4.2 requires at least the TOC byte).
            return Err(Error::InvalidPayload(CodecKind::Opus));
        }
        // Ask libopus how long the packet is before decoding, so a packet longer than the
        // buffer is reported as such rather than as a library error.
        let n = libopus::packet::get_nb_samples(payload, self.rate).map_err(|e| opus_err(&e))?;
        if n > out.len() {
            return Err(Error::PayloadTooLong {
                codec: CodecKind::Opus,
                len: payload.len(),
            });
        }
        self.dec
            .decode(payload, out, false)
            .map_err(|e| opus_err(&e))
    }

    fn check_plc_len(&self, len: usize) -> Result<(), Error> {
        // PLC and FEC decode whole 2.5 ms units (libopus `opus_decode` documentation).
        let unit = samples_in_ms(self.rate, 5) / 2;
        if len == 0 || len % unit != 0 {
            return Err(Error::BadFrameLength {
                codec: CodecKind::Opus,
                len,
            });
        }
        Ok(())
    }

    pub(crate) fn decode_fec(&mut self, next: &[u8], out: &mut [i16]) -> Result<usize, Error> {
        self.check_plc_len(out.len())?;
        if next.is_empty() {
            return self.conceal(out);
        }
        self.dec.decode(next, out, true).map_err(|e| opus_err(&e))
    }

    pub(crate) fn conceal(&mut self, out: &mut [i16]) -> Result<usize, Error> {
        self.check_plc_len(out.len())?;
        self.dec.decode(&[], out, false).map_err(|e| opus_err(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::NARROWBAND_BITRATE;

    fn complexity_of(cfg: &OpusConfig) -> i32 {
        let mut enc = OpusEnc::new(cfg).expect("encoder");
        enc.enc.get_complexity().expect("complexity")
    }

    #[test]
    fn narrowband_encoder_gets_a_bitrate_unless_one_is_configured() {
        let bitrate = |cfg: &OpusConfig| {
            let mut enc = OpusEnc::new(cfg).expect("encoder");
            enc.enc.get_bitrate().expect("bitrate")
        };
        let nb = OpusConfig {
            sample_rate: 8000,
            ..OpusConfig::default()
        };
        assert_eq!(bitrate(&nb), libopus::Bitrate::Bits(NARROWBAND_BITRATE));
        let chosen = OpusConfig {
            bitrate: Some(9000),
            ..nb
        };
        assert_eq!(bitrate(&chosen), libopus::Bitrate::Bits(9000));
        // libopus reports its automatic choice as a number too; it is not ours.
        let wide = OpusConfig::default();
        assert_ne!(bitrate(&wide), libopus::Bitrate::Bits(NARROWBAND_BITRATE));
    }

    #[test]
    fn narrowband_encoder_is_capped_and_wider_rates_are_not() {
        let nb = OpusConfig {
            sample_rate: 8000,
            ..OpusConfig::default()
        };
        assert_eq!(complexity_of(&nb), 1, "default cap at 8 kHz");
        let wb = OpusConfig {
            sample_rate: 16000,
            ..OpusConfig::default()
        };
        assert_eq!(
            complexity_of(&wb),
            5,
            "the configured complexity above 8 kHz"
        );
        let uncapped = OpusConfig {
            narrowband_max_complexity: 10,
            ..nb
        };
        assert_eq!(complexity_of(&uncapped), 5);
        let lower = OpusConfig {
            complexity: 0,
            ..nb
        };
        assert_eq!(complexity_of(&lower), 0, "a lower request is kept");
        let too_high = OpusConfig {
            complexity: 42,
            sample_rate: 48000,
            ..OpusConfig::default()
        };
        assert_eq!(complexity_of(&too_high), 10);
    }
}
