//! Opus through libopus 1.6 (the `opusic-sys` bindings, libopus built from the bundled
//! source), mono, VoIP application.
//!
//! The RTP clock is 48 kHz whatever rate libopus runs at (RFC 7587 §4.1), so 20 ms is
//! always 960 ticks; the PCM rate of the encoder and decoder is free among the five rates
//! libopus supports, which lets a narrowband leg skip resampling entirely.
//!
//! Why raw bindings rather than a safe wrapper: the safe `opus` crate is tied to libopus
//! 1.3.1 (`audiopus_sys`), whose narrowband SILK encoder costs 18 % more per frame and the
//! whole PCMU ↔ Opus transcode 9–19 % more than 1.6.1 (measured with the same C loop on
//! both, `benches/relay/README.md`); transcoding is the relay's most expensive path. The
//! `unsafe` is confined to this file: every libopus call takes a state this module created
//! and owns, and slices whose lengths are passed along with them.
#![allow(unsafe_code)]

use core::ffi::c_int;
use core::ptr::NonNull;

use opusic_sys as ffi;

use super::{CodecKind, OpusConfig, samples_in_ms};
use crate::error::Error;

fn check(function: &'static str, code: c_int) -> Result<c_int, Error> {
    if code >= 0 {
        Ok(code)
    } else if code == ffi::OPUS_INVALID_PACKET {
        Err(Error::InvalidPayload(CodecKind::Opus))
    } else {
        Err(Error::Opus { function, code })
    }
}

fn check_rate(rate: u32) -> Result<(), Error> {
    match rate {
        8000 | 12000 | 16000 | 24000 | 48000 => Ok(()),
        other => Err(Error::UnsupportedSampleRate(other)),
    }
}

/// A slice length as libopus's `opus_int32`; our buffers are far below 2³¹.
fn len_i32(len: usize) -> i32 {
    i32::try_from(len).unwrap_or(i32::MAX)
}

/// Encoder with its configuration.
pub(crate) struct OpusEnc {
    st: NonNull<ffi::OpusEncoder>,
    rate: u32,
    dtx: bool,
}

// SAFETY: the encoder state is plain memory owned by this value (no thread-local or shared
// data inside libopus), and every use goes through `&mut self`.
unsafe impl Send for OpusEnc {}

impl OpusEnc {
    pub(crate) fn new(cfg: &OpusConfig) -> Result<Self, Error> {
        check_rate(cfg.sample_rate)?;
        let mut err: c_int = 0;
        // SAFETY: plain FFI call; the rate was checked, channels is 1, and `err` is a valid
        // out-pointer for the duration of the call.
        let st = unsafe {
            ffi::opus_encoder_create(
                cfg.sample_rate as i32,
                1,
                ffi::OPUS_APPLICATION_VOIP,
                &raw mut err,
            )
        };
        check("opus_encoder_create", err)?;
        let st = NonNull::new(st).ok_or(Error::Opus {
            function: "opus_encoder_create",
            code: ffi::OPUS_ALLOC_FAIL,
        })?;
        let mut enc = Self {
            st,
            rate: cfg.sample_rate,
            dtx: cfg.dtx,
        };
        if let Some(bps) = cfg.effective_bitrate() {
            enc.set(ffi::OPUS_SET_BITRATE_REQUEST, bps)?;
        }
        enc.set(ffi::OPUS_SET_INBAND_FEC_REQUEST, c_int::from(cfg.fec))?;
        enc.set(
            ffi::OPUS_SET_PACKET_LOSS_PERC_REQUEST,
            c_int::from(cfg.expected_loss_percent.min(100)),
        )?;
        enc.set(ffi::OPUS_SET_DTX_REQUEST, c_int::from(cfg.dtx))?;
        enc.set(
            ffi::OPUS_SET_COMPLEXITY_REQUEST,
            c_int::from(cfg.effective_complexity()),
        )?;
        Ok(enc)
    }

    /// An `OPUS_SET_*` request taking one `opus_int32`.
    fn set(&mut self, request: c_int, value: c_int) -> Result<(), Error> {
        // SAFETY: `st` is a live encoder owned by `self`; every SET request used here takes
        // exactly one `opus_int32` argument (opus_defines.h), which `value` is.
        let code = unsafe { ffi::opus_encoder_ctl(self.st.as_ptr(), request, value) };
        check("opus_encoder_ctl", code).map(drop)
    }

    /// An `OPUS_GET_*` request writing one `opus_int32`.
    #[cfg(test)]
    fn get(&mut self, request: c_int) -> Result<c_int, Error> {
        let mut value: c_int = 0;
        // SAFETY: `st` is a live encoder owned by `self`; every GET request used here takes
        // one `opus_int32*`, which points at `value` for the duration of the call.
        let code = unsafe { ffi::opus_encoder_ctl(self.st.as_ptr(), request, &raw mut value) };
        check("opus_encoder_ctl", code).map(|_| value)
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
        // SAFETY: `st` is a live encoder owned by `self`; libopus reads `pcm.len()` mono
        // samples from `pcm` and writes at most `out.len()` bytes into `out`.
        let n = unsafe {
            ffi::opus_encode(
                self.st.as_ptr(),
                pcm.as_ptr(),
                len_i32(pcm.len()),
                out.as_mut_ptr(),
                len_i32(out.len()),
            )
        };
        check("opus_encode", n).map(|n| n as usize)
    }
}

impl Drop for OpusEnc {
    fn drop(&mut self) {
        // SAFETY: `st` came from `opus_encoder_create` and is destroyed once, here.
        unsafe { ffi::opus_encoder_destroy(self.st.as_ptr()) }
    }
}

/// Decoder plus the duration of the last frame, which PLC repeats.
pub(crate) struct OpusDec {
    st: NonNull<ffi::OpusDecoder>,
    rate: u32,
}

// SAFETY: as for `OpusEnc`: plain memory owned by this value, used through `&mut self`.
unsafe impl Send for OpusDec {}

impl OpusDec {
    pub(crate) fn new(rate: u32) -> Result<Self, Error> {
        check_rate(rate)?;
        let mut err: c_int = 0;
        // SAFETY: plain FFI call; the rate was checked, channels is 1, and `err` is a valid
        // out-pointer for the duration of the call.
        let st = unsafe { ffi::opus_decoder_create(rate as i32, 1, &raw mut err) };
        check("opus_decoder_create", err)?;
        let st = NonNull::new(st).ok_or(Error::Opus {
            function: "opus_decoder_create",
            code: ffi::OPUS_ALLOC_FAIL,
        })?;
        Ok(Self { st, rate })
    }

    pub(crate) fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// `opus_decode` into `out` (mono, so `out.len()` samples); an empty `payload` asks for
    /// concealment of `out.len()` samples.
    fn raw_decode(&mut self, payload: &[u8], out: &mut [i16], fec: bool) -> Result<usize, Error> {
        let data = if payload.is_empty() {
            core::ptr::null()
        } else {
            payload.as_ptr()
        };
        // SAFETY: `st` is a live decoder owned by `self`; libopus reads `payload.len()` bytes
        // from `data` (none when it is null) and writes at most `out.len()` mono samples.
        let n = unsafe {
            ffi::opus_decode(
                self.st.as_ptr(),
                data,
                len_i32(payload.len()),
                out.as_mut_ptr(),
                len_i32(out.len()),
                c_int::from(fec),
            )
        };
        check("opus_decode", n).map(|n| n as usize)
    }

    pub(crate) fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<usize, Error> {
        if payload.is_empty() {
            // An empty slice means "lost" to libopus; an empty RTP payload is invalid
            // (RFC 7587 §4.2 requires at least the TOC byte).
            return Err(Error::InvalidPayload(CodecKind::Opus));
        }
        // Ask libopus how long the packet is before decoding, so a packet longer than the
        // buffer is reported as such rather than as a library error.
        // SAFETY: libopus reads `payload.len()` bytes from a live slice.
        let n = unsafe {
            ffi::opus_packet_get_nb_samples(
                payload.as_ptr(),
                len_i32(payload.len()),
                self.rate as i32,
            )
        };
        let n = check("opus_packet_get_nb_samples", n)? as usize;
        if n > out.len() {
            return Err(Error::PayloadTooLong {
                codec: CodecKind::Opus,
                len: payload.len(),
            });
        }
        self.raw_decode(payload, out, false)
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
        self.raw_decode(next, out, true)
    }

    pub(crate) fn conceal(&mut self, out: &mut [i16]) -> Result<usize, Error> {
        self.check_plc_len(out.len())?;
        self.raw_decode(&[], out, false)
    }
}

impl Drop for OpusDec {
    fn drop(&mut self) {
        // SAFETY: `st` came from `opus_decoder_create` and is destroyed once, here.
        unsafe { ffi::opus_decoder_destroy(self.st.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::NARROWBAND_BITRATE;

    fn complexity_of(cfg: &OpusConfig) -> i32 {
        let mut enc = OpusEnc::new(cfg).expect("encoder");
        enc.get(ffi::OPUS_GET_COMPLEXITY_REQUEST)
            .expect("complexity")
    }

    #[test]
    fn narrowband_encoder_gets_a_bitrate_unless_one_is_configured() {
        let bitrate = |cfg: &OpusConfig| {
            let mut enc = OpusEnc::new(cfg).expect("encoder");
            enc.get(ffi::OPUS_GET_BITRATE_REQUEST).expect("bitrate")
        };
        let nb = OpusConfig {
            sample_rate: 8000,
            ..OpusConfig::default()
        };
        assert_eq!(bitrate(&nb), NARROWBAND_BITRATE);
        let chosen = OpusConfig {
            bitrate: Some(9000),
            ..nb
        };
        assert_eq!(bitrate(&chosen), 9000);
        // libopus reports its automatic choice as a number too; it is not ours.
        let wide = OpusConfig::default();
        assert_ne!(bitrate(&wide), NARROWBAND_BITRATE);
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

    #[test]
    fn library_errors_carry_the_function_and_code() {
        let mut enc = OpusEnc::new(&OpusConfig::default()).expect("encoder");
        // Complexity 11 is out of range (opus_defines.h: 0..=10).
        assert_eq!(
            enc.set(ffi::OPUS_SET_COMPLEXITY_REQUEST, 11),
            Err(Error::Opus {
                function: "opus_encoder_ctl",
                code: ffi::OPUS_BAD_ARG,
            })
        );
        let mut dec = OpusDec::new(8000).expect("decoder");
        let mut out = [0i16; 160];
        // TOC code 3 (arbitrary frame count) with no frame-count byte: malformed
        // (RFC 6716 §3.2.5).
        assert_eq!(
            dec.decode(&[0x03], &mut out),
            Err(Error::InvalidPayload(CodecKind::Opus))
        );
    }
}
