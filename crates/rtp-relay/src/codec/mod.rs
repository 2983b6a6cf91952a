//! Audio codecs, sample-rate conversion and transcoding.
//!
//! - [`CodecKind`] knows the RTP facts of each codec (payload type, RTP clock, audio rate).
//! - [`Encoder`] / [`Decoder`] turn 16-bit mono PCM frames into RTP payloads and back:
//!   G.711 with our own tables ([`g711`]), G.722 through the `audio-codec` crate, Opus
//!   through libopus 1.6 (`opusic-sys`). Decoders also conceal lost packets
//!   ([`Decoder::conceal`]).
//! - [`Resampler`] converts between 8, 12, 16, 24 and 48 kHz with a windowed-sinc
//!   polyphase filter.
//! - [`Packetizer`] turns a PCM stream (a tone, a room mix, decoded audio) into encoded
//!   frames with sequence numbers and timestamps in the codec's RTP clock.
//! - [`Transcoder`] relays one direction of a call from codec A to codec B through a
//!   small [`PlayoutBuffer`], with loss concealment, or passes payloads through untouched
//!   when both legs use the same codec ([`MediaPath::decide`]).
//!
//! Nothing here reads a clock: a playout buffer releases packets by sequence order and
//! depth, not by time.

pub mod g711;
mod g722;
mod opus;
pub mod packetize;
pub mod playout;
mod plc;
pub mod resample;
pub mod transcode;

pub use packetize::{OutputFrame, Packetizer, PacketizerConfig, PacketizerStats};
pub use playout::{PlayoutBuffer, PlayoutEvent, PlayoutStats};
pub use plc::Concealer;
pub use resample::Resampler;
pub use transcode::{InputPacket, MediaPath, Transcoder, TranscoderConfig, TranscoderStats};

use crate::error::Error;

/// The longest frame any encoder or decoder here handles: 120 ms, Opus's maximum packet
/// duration (RFC 6716 §3.2.5). Payloads that decode to more are rejected.
pub const MAX_FRAME_MS: u32 = 120;

/// Largest encoded payload [`Encoder::encode`] can produce: 1275 bytes is the largest Opus
/// frame (RFC 6716 §3.4, R2); 120 ms of G.711 or G.722 is 960 bytes.
pub const MAX_PAYLOAD_BYTES: usize = 1275;

/// Largest number of PCM samples in one frame at any supported rate (120 ms at 48 kHz).
pub const MAX_FRAME_SAMPLES: usize = 48 * MAX_FRAME_MS as usize;

/// The audio codecs sipbridge speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodecKind {
    /// G.711 µ-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
    /// G.722 sub-band ADPCM at 64 kbit/s.
    G722,
    /// Opus, mono.
    Opus,
}

impl CodecKind {
    /// All kinds, in the default preference order of an offer.
    pub const ALL: [CodecKind; 4] = [Self::Pcmu, Self::Pcma, Self::G722, Self::Opus];

    /// The static payload type (RFC 3551 table 4), `None` for Opus, which is always dynamic
    /// (RFC 7587 §6.1).
    #[must_use]
    pub const fn static_payload_type(self) -> Option<u8> {
        match self {
            Self::Pcmu => Some(0),
            Self::Pcma => Some(8),
            Self::G722 => Some(9),
            Self::Opus => None,
        }
    }

    /// The RTP timestamp clock rate.
    ///
    /// G.722 samples at 16 kHz but its RTP clock is 8000 Hz, an error in RFC 1890 kept for
    /// compatibility (RFC 3551 §4.5.2). Opus always uses 48000 Hz whatever rate it encodes
    /// at (RFC 7587 §4.1).
    #[must_use]
    pub const fn clock_rate(self) -> u32 {
        match self {
            Self::Pcmu | Self::Pcma | Self::G722 => 8000,
            Self::Opus => 48000,
        }
    }

    /// The audio sample rate of the decoded PCM. For Opus this is the default (full band);
    /// [`OpusConfig::sample_rate`] may choose another.
    #[must_use]
    pub const fn sample_rate(self) -> u32 {
        match self {
            Self::Pcmu | Self::Pcma => 8000,
            Self::G722 => 16000,
            Self::Opus => 48000,
        }
    }

    /// The encoding name of the SDP `a=rtpmap` line (RFC 3551 §6, RFC 7587 §7).
    #[must_use]
    pub const fn encoding_name(self) -> &'static str {
        match self {
            Self::Pcmu => "PCMU",
            Self::Pcma => "PCMA",
            Self::G722 => "G722",
            Self::Opus => "opus",
        }
    }

    /// The channel count of the `a=rtpmap` line: Opus MUST be declared with 2 channels
    /// even when mono is sent (RFC 7587 §7); the others declare none.
    #[must_use]
    pub const fn rtpmap_channels(self) -> Option<u8> {
        match self {
            Self::Opus => Some(2),
            _ => None,
        }
    }

    /// Finds the kind for an `a=rtpmap` encoding name (case-insensitive, RFC 4855 §3) and
    /// clock rate.
    #[must_use]
    pub fn from_rtpmap(name: &str, clock_rate: u32) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.encoding_name().eq_ignore_ascii_case(name) && k.clock_rate() == clock_rate)
    }

    /// Converts a duration in samples at `sample_rate` to RTP timestamp ticks of this codec.
    #[must_use]
    pub const fn ticks_for_samples(self, samples: u64, sample_rate: u32) -> u64 {
        samples * self.clock_rate() as u64 / sample_rate as u64
    }
}

/// A codec as negotiated for one leg: its kind and the payload type used on that leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Codec {
    /// Which codec.
    pub kind: CodecKind,
    /// The RTP payload type (static, or the dynamic one from SDP).
    pub payload_type: u8,
}

impl Codec {
    /// The codec with its static payload type, or 111 for Opus (the value WebRTC stacks
    /// commonly offer; any dynamic value 96..=127 works).
    #[must_use]
    pub const fn with_default_pt(kind: CodecKind) -> Self {
        let payload_type = match kind.static_payload_type() {
            Some(pt) => pt,
            None => 111,
        };
        Self { kind, payload_type }
    }
}

/// The Opus bitrate at 8 kHz when none is configured (see
/// [`OpusConfig::effective_bitrate`]).
pub const NARROWBAND_BITRATE: i32 = 16_000;

/// Opus encoder and decoder settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusConfig {
    /// Internal audio rate: 8000, 12000, 16000, 24000 or 48000 Hz. The RTP clock stays
    /// 48 kHz regardless (RFC 7587 §4.1).
    pub sample_rate: u32,
    /// Target bitrate in bit/s; `None` leaves libopus's automatic choice, except at 8 kHz
    /// (see [`OpusConfig::effective_bitrate`]).
    pub bitrate: Option<i32>,
    /// In-band forward error correction (RFC 7587 §3.3, fmtp `useinbandfec`).
    pub fec: bool,
    /// Expected packet loss in percent (0..=100), tunes FEC.
    pub expected_loss_percent: u8,
    /// Discontinuous transmission (RFC 7587 §3.1.3, fmtp `usedtx`): silent frames are not
    /// sent.
    pub dtx: bool,
    /// Encoder complexity 0..=10; lower is cheaper.
    pub complexity: u8,
    /// Upper bound on the complexity when the encoder runs at 8 kHz (narrowband SILK, what
    /// a transcoder from a G.711 leg uses, see [`TranscoderConfig::opus`]).
    ///
    /// At 8 kHz libopus turns on its delayed-decision noise-shaping quantizer from
    /// complexity 2 and warped noise shaping from 4; measured with `relay-bench codec`
    /// (libopus 1.6.1), encoding one 20 ms G.711-sourced frame costs about 12.6 µs at
    /// complexity 0, 13.4 µs at 1, 28 µs at 2 and 40 µs at 5. Complexity 0 loses quality
    /// across a lost packet (`relay-bench fidelity`: worst tone 0.39 of its power against
    /// 0.77 at 1, which equals 5). The default caps narrowband encoding at 1 (plain
    /// quantizer, mid pitch search) and pays for it in bits instead (see
    /// [`OpusConfig::effective_bitrate`]); 10 keeps [`OpusConfig::complexity`] as is.
    pub narrowband_max_complexity: u8,
}

impl Default for OpusConfig {
    fn default() -> Self {
        Self {
            sample_rate: 48000,
            bitrate: None,
            fec: true,
            expected_loss_percent: 5,
            dtx: false,
            complexity: 5,
            narrowband_max_complexity: 1,
        }
    }
}

impl OpusConfig {
    /// The complexity the encoder runs with: [`OpusConfig::complexity`], capped at
    /// [`OpusConfig::narrowband_max_complexity`] at 8 kHz, and at 10.
    #[must_use]
    pub fn effective_complexity(&self) -> u8 {
        let c = if self.sample_rate <= 8000 {
            self.complexity.min(self.narrowband_max_complexity)
        } else {
            self.complexity
        };
        c.min(10)
    }

    /// The bitrate the encoder is given: [`OpusConfig::bitrate`], or at 8 kHz without one
    /// [`NARROWBAND_BITRATE`].
    ///
    /// libopus's automatic choice at 8 kHz is about 11 kbit/s. At the complexity that
    /// [`OpusConfig::narrowband_max_complexity`] allows, tones sent PCMU → Opus → PCMU
    /// (one packet lost) came back at 11–12 kbit/s with as little as 2 % of their power at
    /// the right frequency (a 700 Hz tone moved to 708 Hz), and at 16 kbit/s with 80–89 %
    /// (complexity 5 at the automatic rate: 62–95 %). The encoder's CPU hardly depends on
    /// the rate, and 16 kbit/s is still a quarter of G.711's; RFC 7587 §3.1.1 gives 8–12
    /// kbit/s for narrowband speech at full complexity.
    #[must_use]
    pub fn effective_bitrate(&self) -> Option<i32> {
        match self.bitrate {
            Some(b) => Some(b),
            None if self.sample_rate <= 8000 => Some(NARROWBAND_BITRATE),
            None => None,
        }
    }

    /// Adapts the encoder to what the far end declared in its `a=fmtp` for Opus: those are
    /// receiver parameters, telling us how to encode toward it (RFC 7587 §6.1).
    ///
    /// - `maxplaybackrate` caps the internal rate (no point encoding more bandwidth than
    ///   the receiver plays);
    /// - `maxaveragebitrate` (6000..=510000) caps the bitrate;
    /// - `useinbandfec=1` turns FEC on, `0` off; `usedtx=1` / `0` likewise for DTX.
    ///
    /// Unknown parameters and malformed values are ignored, as RFC 7587 §6.1 asks of
    /// parameters a receiver does not understand.
    #[must_use]
    pub fn with_fmtp<'a, I>(mut self, params: I) -> Self
    where
        I: IntoIterator<Item = (&'a str, Option<&'a str>)>,
    {
        for (name, value) in params {
            let number = value.and_then(|v| v.trim().parse::<u32>().ok());
            match (name.trim().to_ascii_lowercase().as_str(), number) {
                ("maxplaybackrate", Some(rate)) => {
                    // The lowest libopus rate that still covers the playback rate.
                    let cap = [8000, 12000, 16000, 24000, 48000]
                        .into_iter()
                        .find(|&r| r >= rate)
                        .unwrap_or(48000);
                    self.sample_rate = self.sample_rate.min(cap);
                }
                ("maxaveragebitrate", Some(bps)) if (6000..=510_000).contains(&bps) => {
                    let bps = bps as i32;
                    self.bitrate = Some(self.bitrate.map_or(bps, |b| b.min(bps)));
                }
                ("useinbandfec", Some(flag @ (0 | 1))) => self.fec = flag == 1,
                ("usedtx", Some(flag @ (0 | 1))) => self.dtx = flag == 1,
                _ => {}
            }
        }
        self
    }
}

/// The `a=fmtp` parameters to declare for an Opus leg whose audio is bridged to a leg
/// speaking `other` (the complete value after `a=fmtp:<pt> `).
///
/// All of them carry `minptime=10;useinbandfec=1` (10 ms is the shortest frame we decode
/// without waste; in-band FEC wanted, RFC 7587 §6.1). When the other leg is narrower than
/// Opus's full band, they add the receiver hint `maxplaybackrate` and the sender hint
/// `sprop-maxcapturerate` at that leg's audio rate (RFC 7587 §6.1, §7.1): whatever the
/// Opus peer sends us above it is thrown away by the bridge, and our encoder toward it runs
/// at that rate anyway (see [`Transcoder`]). A sender that honours `maxplaybackrate`
/// (libwebrtc limits its encoder's bandwidth to it; [`OpusConfig::with_fmtp`] lowers the
/// internal rate) then sends narrowband SILK for a G.711 leg, which costs the relay about
/// a third of a 48 kHz hybrid SILK+CELT frame to decode to 8 kHz (measured with
/// `relay-bench codec --room-maxplaybackrate 8000`, `benches/relay/README.md`).
///
/// For an Opus ↔ Opus bridge (pass-through) no rate is declared.
#[must_use]
pub const fn opus_fmtp_bridged_to(other: CodecKind) -> &'static str {
    match other {
        CodecKind::Pcmu | CodecKind::Pcma => {
            "minptime=10;useinbandfec=1;maxplaybackrate=8000;sprop-maxcapturerate=8000"
        }
        CodecKind::G722 => {
            "minptime=10;useinbandfec=1;maxplaybackrate=16000;sprop-maxcapturerate=16000"
        }
        CodecKind::Opus => "minptime=10;useinbandfec=1",
    }
}

/// Samples in `ms` milliseconds at `rate`.
#[must_use]
pub const fn samples_in_ms(rate: u32, ms: u32) -> usize {
    (rate as u64 * ms as u64 / 1000) as usize
}

/// An audio encoder: 16-bit mono PCM at [`Encoder::sample_rate`] in, one RTP payload out.
pub struct Encoder {
    inner: EncoderInner,
}

enum EncoderInner {
    G711(g711::Law),
    // Boxed: the sub-band state is ~400 bytes, G.711 is none.
    G722(Box<g722::G722Enc>),
    Opus(opus::OpusEnc),
}

impl Encoder {
    /// Creates an encoder. `opus` is only used for [`CodecKind::Opus`].
    ///
    /// # Errors
    /// [`Error::UnsupportedSampleRate`] or [`Error::Opus`] for a bad Opus configuration.
    pub fn new(kind: CodecKind, opus: &OpusConfig) -> Result<Self, Error> {
        let inner = match kind {
            CodecKind::Pcmu => EncoderInner::G711(g711::Law::Ulaw),
            CodecKind::Pcma => EncoderInner::G711(g711::Law::Alaw),
            CodecKind::G722 => EncoderInner::G722(Box::new(g722::G722Enc::new())),
            CodecKind::Opus => EncoderInner::Opus(opus::OpusEnc::new(opus)?),
        };
        Ok(Self { inner })
    }

    /// The codec.
    #[must_use]
    pub fn kind(&self) -> CodecKind {
        match &self.inner {
            EncoderInner::G711(g711::Law::Ulaw) => CodecKind::Pcmu,
            EncoderInner::G711(g711::Law::Alaw) => CodecKind::Pcma,
            EncoderInner::G722(_) => CodecKind::G722,
            EncoderInner::Opus(_) => CodecKind::Opus,
        }
    }

    /// The PCM rate the encoder expects.
    #[must_use]
    pub fn sample_rate(&self) -> u32 {
        match &self.inner {
            EncoderInner::Opus(o) => o.sample_rate(),
            _ => self.kind().sample_rate(),
        }
    }

    /// Whether an encoded payload of this length carries nothing worth sending: with DTX,
    /// libopus returns 1–2 byte packets for silence that "need not be transmitted"
    /// (libopus `opus_encode` documentation, RFC 7587 §3.1.3).
    #[must_use]
    pub fn is_dtx_payload(&self, len: usize) -> bool {
        matches!(&self.inner, EncoderInner::Opus(o) if o.dtx() && len <= 2)
    }

    /// Encodes one frame of PCM into `out`, returning the payload length.
    ///
    /// # Errors
    /// [`Error::BadFrameLength`] for an empty frame, one longer than 120 ms, (G.722) an
    /// odd number of samples, or (Opus) one that is not 2.5/5/10/20/40/60 ms; [`Error::BufferTooSmall`] when `out` cannot hold
    /// the payload; [`Error::Opus`] / [`Error::G722`] when the codec library fails.
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, Error> {
        let kind = self.kind();
        let max = samples_in_ms(self.sample_rate(), MAX_FRAME_MS);
        if pcm.is_empty() || pcm.len() > max {
            return Err(Error::BadFrameLength {
                codec: kind,
                len: pcm.len(),
            });
        }
        match &mut self.inner {
            EncoderInner::G711(law) => {
                if out.len() < pcm.len() {
                    return Err(Error::BufferTooSmall {
                        len: out.len(),
                        need: pcm.len(),
                    });
                }
                Ok(law.encode(pcm, out))
            }
            EncoderInner::G722(enc) => enc.encode(pcm, out),
            EncoderInner::Opus(enc) => enc.encode(pcm, out),
        }
    }
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("kind", &self.kind())
            .field("sample_rate", &self.sample_rate())
            .finish()
    }
}

/// An audio decoder: RTP payload in, 16-bit mono PCM at [`Decoder::sample_rate`] out, plus
/// packet-loss concealment.
pub struct Decoder {
    inner: DecoderInner,
}

enum DecoderInner {
    /// G.711 carries no state; concealment repeats the last pitch period with a fade.
    G711(g711::Law, Concealer),
    /// G.722's ADPCM state is left untouched by a loss; we conceal in the PCM domain.
    G722(Box<g722::G722Dec>, Concealer),
    /// Opus conceals (and recovers from FEC) inside libopus.
    Opus(opus::OpusDec),
}

impl Decoder {
    /// Creates a decoder. `sample_rate` picks the output rate of an Opus decoder (8000,
    /// 12000, 16000, 24000 or 48000: libopus decodes straight to any of them, which saves
    /// a resampling step); other codecs ignore it.
    ///
    /// # Errors
    /// [`Error::UnsupportedSampleRate`] or [`Error::Opus`].
    pub fn new(kind: CodecKind, sample_rate: u32) -> Result<Self, Error> {
        let inner = match kind {
            CodecKind::Pcmu => DecoderInner::G711(g711::Law::Ulaw, Concealer::new(8000)?),
            CodecKind::Pcma => DecoderInner::G711(g711::Law::Alaw, Concealer::new(8000)?),
            CodecKind::G722 => {
                DecoderInner::G722(Box::new(g722::G722Dec::new()), Concealer::new(16000)?)
            }
            CodecKind::Opus => DecoderInner::Opus(opus::OpusDec::new(sample_rate)?),
        };
        Ok(Self { inner })
    }

    /// The codec.
    #[must_use]
    pub fn kind(&self) -> CodecKind {
        match &self.inner {
            DecoderInner::G711(g711::Law::Ulaw, _) => CodecKind::Pcmu,
            DecoderInner::G711(g711::Law::Alaw, _) => CodecKind::Pcma,
            DecoderInner::G722(..) => CodecKind::G722,
            DecoderInner::Opus(_) => CodecKind::Opus,
        }
    }

    /// The PCM rate of the decoded audio.
    #[must_use]
    pub fn sample_rate(&self) -> u32 {
        match &self.inner {
            DecoderInner::Opus(o) => o.sample_rate(),
            _ => self.kind().sample_rate(),
        }
    }

    /// The largest number of samples one payload may decode to (120 ms); size `out` of
    /// [`Decoder::decode`] with it.
    #[must_use]
    pub fn max_frame_samples(&self) -> usize {
        samples_in_ms(self.sample_rate(), MAX_FRAME_MS)
    }

    /// Decodes one payload into `out`, returning the number of samples.
    ///
    /// # Errors
    /// [`Error::PayloadTooLong`] when the payload holds more than 120 ms or more than `out`
    /// can take; [`Error::InvalidPayload`] for a corrupt Opus packet; [`Error::Opus`] or
    /// [`Error::G722`] for a library failure. The peer's garbage never panics.
    pub fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<usize, Error> {
        let kind = self.kind();
        let max = self.max_frame_samples().min(out.len());
        let too_long = Error::PayloadTooLong {
            codec: kind,
            len: payload.len(),
        };
        match &mut self.inner {
            DecoderInner::G711(law, plc) => {
                if payload.len() > max {
                    return Err(too_long);
                }
                let n = law.decode(payload, out);
                plc.observe(&mut out[..n]);
                Ok(n)
            }
            DecoderInner::G722(dec, plc) => {
                if payload.len() * 2 > max {
                    return Err(too_long);
                }
                let n = dec.decode(payload, &mut out[..max])?;
                plc.observe(&mut out[..n]);
                Ok(n)
            }
            DecoderInner::Opus(dec) => dec.decode(payload, &mut out[..max]),
        }
    }

    /// Recovers a lost frame of `out.len()` samples from the forward-error-correction data
    /// in the packet that followed it (Opus in-band FEC, RFC 7587 §3.3). Other codecs carry
    /// no FEC and conceal instead.
    ///
    /// # Errors
    /// As [`Decoder::conceal`]; a corrupt `next_payload` gives [`Error::InvalidPayload`].
    pub fn decode_fec(&mut self, next_payload: &[u8], out: &mut [i16]) -> Result<usize, Error> {
        match &mut self.inner {
            DecoderInner::Opus(dec) => dec.decode_fec(next_payload, out),
            _ => self.conceal(out),
        }
    }

    /// Fills `out` with concealment audio for a lost packet and returns `out.len()`.
    ///
    /// # Errors
    /// [`Error::BadFrameLength`] when `out` is longer than 120 ms, or (Opus) not a
    /// multiple of 2.5 ms; [`Error::Opus`] when libopus fails.
    pub fn conceal(&mut self, out: &mut [i16]) -> Result<usize, Error> {
        let kind = self.kind();
        if out.len() > self.max_frame_samples() {
            return Err(Error::BadFrameLength {
                codec: kind,
                len: out.len(),
            });
        }
        match &mut self.inner {
            DecoderInner::G711(_, plc) | DecoderInner::G722(_, plc) => {
                plc.conceal(out);
                Ok(out.len())
            }
            DecoderInner::Opus(dec) => dec.conceal(out),
        }
    }
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("kind", &self.kind())
            .field("sample_rate", &self.sample_rate())
            .finish()
    }
}
