//! One direction of a call from codec A to codec B.
//!
//! ```text
//!   RTP in ─▶ PlayoutBuffer ─▶ Decoder (A) ─▶ Packetizer (resample, frame, encode B) ─▶ out
//!                 │ Lost            ▲ conceal / FEC
//!                 └─────────────────┘
//! ```
//!
//! Output timestamps are computed from the number of samples the output has advanced, in
//! B's RTP clock (so Opus steps 960 per 20 ms, G.722 160, RFC 7587 §4.1, RFC 3551 §4.5.2),
//! never copied from the input. Silence gaps in the input (a timestamp jump without a
//! sequence gap, RFC 3551 §4.1) advance the output clock by the same time and set the
//! marker on the first frame after them. When A and B are the same codec nothing is
//! decoded: [`MediaPath::decide`] says so and the transcoder forwards payloads as they are.
//!
//! Only audio packets of A belong here: the caller routes telephone-events (RFC 4733) and
//! comfort noise by payload type before pushing.
//!
//! Sans-IO: [`Transcoder::push`] takes a packet, [`Transcoder::poll_frame`] drains the
//! encoded frames; no clock is read.

use std::collections::VecDeque;

use bytes::Bytes;

use super::packetize::{MAX_QUEUED_FRAMES, OutputFrame, Packetizer, PacketizerConfig};
use super::playout::{BufferedPacket, PlayoutBuffer, PlayoutEvent, PlayoutStats};
use super::{Codec, CodecKind, Decoder, MAX_FRAME_MS, OpusConfig, Resampler, samples_in_ms};
use crate::error::Error;

/// A silence gap longer than this (in the input's clock, as milliseconds) is taken as a
/// discontinuity of the sender's timeline rather than real time passing.
const MAX_SILENCE_GAP_MS: u64 = 60_000;

/// How one direction of a call carries media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaPath {
    /// Both legs use the same codec: payloads are forwarded untouched (only the payload
    /// type, sequence numbers and timestamps may be rewritten by the relay).
    PassThrough,
    /// The codecs differ: decode, resample, re-encode.
    Transcode,
}

impl MediaPath {
    /// Chooses the path for media from a leg using `from` to a leg using `to`.
    ///
    /// The payload type number does not matter (each leg may map the codec to its own
    /// dynamic number); the codec does.
    #[must_use]
    pub fn decide(from: Codec, to: Codec) -> Self {
        if from.kind == to.kind {
            Self::PassThrough
        } else {
            Self::Transcode
        }
    }
}

/// Settings of a [`Transcoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TranscoderConfig {
    /// Codec of the incoming packets.
    pub from: Codec,
    /// Codec of the outgoing frames.
    pub to: Codec,
    /// Settings of the Opus encoder when `to` is Opus. Its `sample_rate` is an upper
    /// bound: the encoder runs at the lower of it and the source codec's audio rate.
    pub opus: OpusConfig,
    /// Duration of each outgoing frame in ms (RFC 4566 `ptime`); Opus needs 10, 20, 40 or
    /// 60.
    pub ptime_ms: u32,
    /// Packets the playout buffer waits for behind a hole before declaring it lost.
    pub playout_depth: usize,
    /// Longest stretch concealed with synthetic audio, in ms; a longer loss is concealed
    /// this far and then becomes a gap in the output timestamps.
    pub max_conceal_ms: u32,
    /// RTP timestamp of the first outgoing frame (random per RFC 3550 §5.1; the caller
    /// seeds it).
    pub initial_timestamp: u32,
    /// Sequence number of the first outgoing frame (random per RFC 3550 §5.1).
    pub initial_sequence: u16,
}

impl TranscoderConfig {
    /// Defaults: 20 ms frames, depth 4, up to 60 ms concealment, timestamps and sequence
    /// numbers starting at zero (set them from a seeded RNG in production).
    #[must_use]
    pub fn new(from: Codec, to: Codec) -> Self {
        Self {
            from,
            to,
            opus: OpusConfig::default(),
            ptime_ms: 20,
            playout_depth: 4,
            max_conceal_ms: 60,
            initial_timestamp: 0,
            initial_sequence: 0,
        }
    }
}

/// An incoming RTP packet, reduced to what the transcoder needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputPacket {
    /// RTP sequence number.
    pub sequence: u16,
    /// RTP timestamp (in the input codec's clock).
    pub timestamp: u32,
    /// RTP marker bit.
    pub marker: bool,
    /// The payload (shared, so pass-through copies nothing).
    pub payload: Bytes,
}

/// Counters of a [`Transcoder`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TranscoderStats {
    /// Counters of the playout buffer.
    pub playout: PlayoutStats,
    /// Packets forwarded untouched (pass-through).
    pub forwarded: u64,
    /// Payloads decoded.
    pub decoded: u64,
    /// Payloads the decoder rejected (concealed instead).
    pub decode_errors: u64,
    /// Frames of concealment audio produced for lost or undecodable packets.
    pub concealed_frames: u64,
    /// Lost frames decoded through Opus's FEC path from the packet that followed them
    /// (libopus falls back to concealment when that packet carries no FEC data).
    pub fec_recovered: u64,
    /// Frames encoded and queued.
    pub encoded: u64,
    /// Frames the Opus encoder marked as DTX silence, not sent.
    pub dtx_suppressed: u64,
    /// Gaps in the output timestamps (input silence, or loss beyond concealment).
    pub timestamp_gaps: u64,
    /// Queued frames dropped because the caller did not drain them.
    pub queue_overflow: u64,
}

/// Decoding and encoding state, absent in pass-through.
struct Pipeline {
    playout: PlayoutBuffer,
    decoder: Decoder,
    out: Packetizer,
    /// Decoder output, one payload at a time.
    pcm: Vec<i16>,
    max_conceal: usize,
    /// Input timestamp expected for the next packet.
    expected_ts: Option<u32>,
    /// Decoded length of the last good packet (the duration a loss is assumed to have).
    last_len: usize,
    decoded: u64,
    decode_errors: u64,
    concealed_frames: u64,
    fec_recovered: u64,
}

/// Pass-through state: offsets from the first input packet, and the output queue.
struct Forward {
    offsets: Option<(u16, u32)>,
    queue: VecDeque<OutputFrame>,
    forwarded: u64,
    overflow: u64,
}

enum Mode {
    PassThrough(Forward),
    Transcode(Box<Pipeline>),
}

/// Carries one direction of a call from one codec to another (see the module docs).
pub struct Transcoder {
    cfg: TranscoderConfig,
    mode: Mode,
}

impl Transcoder {
    /// Creates a transcoder, or a pass-through when [`MediaPath::decide`] says so.
    ///
    /// # Errors
    /// [`Error::BadFrameLength`] for a `ptime_ms` the output codec cannot use (0, above
    /// 120, or not 10/20/40/60 for Opus); [`Error::UnsupportedSampleRate`] or
    /// [`Error::Opus`] for a bad Opus configuration.
    pub fn new(cfg: TranscoderConfig) -> Result<Self, Error> {
        let mode = match MediaPath::decide(cfg.from, cfg.to) {
            MediaPath::PassThrough => Mode::PassThrough(Forward {
                offsets: None,
                queue: VecDeque::new(),
                forwarded: 0,
                overflow: 0,
            }),
            MediaPath::Transcode => Mode::Transcode(Box::new(Pipeline::new(&cfg)?)),
        };
        Ok(Self { cfg, mode })
    }

    /// The path this transcoder takes.
    #[must_use]
    pub fn path(&self) -> MediaPath {
        match self.mode {
            Mode::PassThrough(_) => MediaPath::PassThrough,
            Mode::Transcode(_) => MediaPath::Transcode,
        }
    }

    /// Whether payloads are forwarded without decoding.
    #[must_use]
    pub fn passthrough(&self) -> bool {
        self.path() == MediaPath::PassThrough
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &TranscoderConfig {
        &self.cfg
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> TranscoderStats {
        match &self.mode {
            Mode::PassThrough(f) => TranscoderStats {
                forwarded: f.forwarded,
                queue_overflow: f.overflow,
                ..TranscoderStats::default()
            },
            Mode::Transcode(p) => {
                let out = p.out.stats();
                TranscoderStats {
                    playout: p.playout.stats(),
                    forwarded: 0,
                    decoded: p.decoded,
                    decode_errors: p.decode_errors,
                    concealed_frames: p.concealed_frames,
                    fec_recovered: p.fec_recovered,
                    encoded: out.encoded,
                    dtx_suppressed: out.dtx_suppressed,
                    timestamp_gaps: out.timestamp_gaps,
                    queue_overflow: out.queue_overflow,
                }
            }
        }
    }

    /// Takes an incoming packet. Drain [`Transcoder::poll_frame`] afterwards.
    ///
    /// Garbage from the peer is counted and concealed, never an error.
    ///
    /// # Errors
    /// Only an encoder failure ([`Error::Opus`], [`Error::G722`]), which is ours, not the
    /// peer's.
    pub fn push(&mut self, packet: InputPacket) -> Result<(), Error> {
        match &mut self.mode {
            Mode::PassThrough(f) => {
                let (seq_off, ts_off) = *f.offsets.get_or_insert((
                    self.cfg.initial_sequence.wrapping_sub(packet.sequence),
                    self.cfg.initial_timestamp.wrapping_sub(packet.timestamp),
                ));
                f.forwarded += 1;
                if f.queue.len() >= MAX_QUEUED_FRAMES {
                    f.queue.pop_front();
                    f.overflow += 1;
                }
                f.queue.push_back(OutputFrame {
                    sequence: packet.sequence.wrapping_add(seq_off),
                    timestamp: packet.timestamp.wrapping_add(ts_off),
                    marker: packet.marker,
                    payload_type: self.cfg.to.payload_type,
                    payload: packet.payload,
                });
                Ok(())
            }
            Mode::Transcode(p) => {
                p.playout.push(BufferedPacket {
                    sequence: packet.sequence,
                    timestamp: packet.timestamp,
                    marker: packet.marker,
                    payload: packet.payload,
                });
                while let Some(ev) = p.playout.pop() {
                    p.handle(ev)?;
                }
                Ok(())
            }
        }
    }

    /// Releases everything the playout buffer holds, concealing holes, and encodes the
    /// last partial frame padded with silence (end of the stream).
    ///
    /// # Errors
    /// As [`Transcoder::push`].
    pub fn flush(&mut self) -> Result<(), Error> {
        let Mode::Transcode(p) = &mut self.mode else {
            return Ok(());
        };
        while let Some(ev) = p.playout.flush() {
            p.handle(ev)?;
        }
        p.out.finish()
    }

    /// The next outgoing frame.
    pub fn poll_frame(&mut self) -> Option<OutputFrame> {
        match &mut self.mode {
            Mode::PassThrough(f) => f.queue.pop_front(),
            Mode::Transcode(p) => p.out.poll_frame(),
        }
    }

    /// Frames waiting to be drained.
    #[must_use]
    pub fn queued(&self) -> usize {
        match &self.mode {
            Mode::PassThrough(f) => f.queue.len(),
            Mode::Transcode(p) => p.out.queued(),
        }
    }
}

impl std::fmt::Debug for Transcoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transcoder")
            .field("cfg", &self.cfg)
            .field("path", &self.path())
            .field("queued", &self.queued())
            .field("stats", &self.stats())
            .finish()
    }
}

impl Pipeline {
    fn new(cfg: &TranscoderConfig) -> Result<Self, Error> {
        // Opus encodes at no more than the source's rate: a narrowband source gains
        // nothing from wideband coding, and encoding PCMU at 8 kHz costs a third of 48 kHz
        // and needs no resampler. The RTP clock stays 48 kHz either way (RFC 7587 §4.1).
        let mut opus = cfg.opus;
        if cfg.to.kind == CodecKind::Opus {
            opus.sample_rate = opus.sample_rate.min(cfg.from.kind.sample_rate());
        }
        // The encoder's rate decides the decoder's when the decoder can produce it:
        // libopus decodes straight to 8 kHz for a PCMU leg, which saves the resampler.
        let enc_rate = match cfg.to.kind {
            CodecKind::Opus => opus.sample_rate,
            other => other.sample_rate(),
        };
        let dec_rate = match cfg.from.kind {
            CodecKind::Opus if Resampler::RATES.contains(&enc_rate) => enc_rate,
            other => other.sample_rate(),
        };
        let decoder = Decoder::new(cfg.from.kind, dec_rate)?;
        let out = Packetizer::new(&PacketizerConfig {
            codec: cfg.to,
            opus,
            ptime_ms: cfg.ptime_ms,
            input_rate: decoder.sample_rate(),
            initial_timestamp: cfg.initial_timestamp,
            initial_sequence: cfg.initial_sequence,
        })?;
        Ok(Self {
            playout: PlayoutBuffer::new(cfg.playout_depth),
            pcm: vec![0; decoder.max_frame_samples()],
            max_conceal: samples_in_ms(decoder.sample_rate(), cfg.max_conceal_ms),
            decoder,
            out,
            expected_ts: None,
            last_len: 0,
            decoded: 0,
            decode_errors: 0,
            concealed_frames: 0,
            fec_recovered: 0,
        })
    }

    /// Input clock ticks covered by `samples` decoded samples.
    fn in_ticks(&self, samples: usize) -> u32 {
        let kind = self.decoder.kind();
        kind.ticks_for_samples(samples as u64, self.decoder.sample_rate()) as u32
    }

    /// Decoded samples covering `ticks` of the input clock.
    fn in_samples(&self, ticks: u32) -> usize {
        let clock = u64::from(self.decoder.kind().clock_rate());
        (u64::from(ticks) * u64::from(self.decoder.sample_rate()) / clock) as usize
    }

    fn handle(&mut self, ev: PlayoutEvent) -> Result<(), Error> {
        match ev {
            PlayoutEvent::Packet(p) => self.on_packet(&p),
            PlayoutEvent::Lost { count, .. } => self.on_lost(count),
            PlayoutEvent::Resync => {
                // A new timeline: close the current frame and start the next one marked.
                self.expected_ts = None;
                self.out.restart()
            }
        }
    }

    fn on_packet(&mut self, p: &BufferedPacket) -> Result<(), Error> {
        if let Some(expected) = self.expected_ts {
            // A forward jump without a sequence gap is silence the sender did not send
            // (RFC 3551 §4.1): keep the output clock in step with it.
            let jump = p.timestamp.wrapping_sub(expected) as i32;
            let clock = u64::from(self.decoder.kind().clock_rate());
            if jump > 0 && (jump as u64) <= clock * MAX_SILENCE_GAP_MS / 1000 {
                let gap = self.in_samples(jump as u32);
                self.out.skip(gap)?;
            }
        }
        let mut pcm = std::mem::take(&mut self.pcm);
        let outcome = match self.decoder.decode(&p.payload, &mut pcm) {
            Ok(n) => {
                self.decoded += 1;
                self.last_len = n;
                self.expected_ts = Some(p.timestamp.wrapping_add(self.in_ticks(n)));
                self.out.push_pcm(&pcm[..n])
            }
            Err(_) => {
                // Undecodable: treat as lost for one frame of the last known duration.
                self.decode_errors += 1;
                let n = self.last_len;
                self.expected_ts = Some(p.timestamp.wrapping_add(self.in_ticks(n)));
                if n > 0 && self.decoder.conceal(&mut pcm[..n]).is_ok() {
                    self.concealed_frames += 1;
                    self.out.push_pcm(&pcm[..n])
                } else {
                    Ok(())
                }
            }
        };
        self.pcm = pcm;
        outcome
    }

    fn on_lost(&mut self, count: u16) -> Result<(), Error> {
        let frame = self.last_len;
        if frame == 0 {
            // Nothing decoded yet: no duration to conceal. The next packet's timestamp
            // opens the timeline.
            self.expected_ts = None;
            return Ok(());
        }
        // How long the hole is: from the timestamps when the packet after it is here and
        // agrees, else `count` frames of the last duration.
        let by_count = frame * usize::from(count);
        let next = self
            .playout
            .peek()
            .map(|n| (n.timestamp, n.payload.clone()));
        let span = match (self.expected_ts, &next) {
            (Some(exp), Some((ts, _))) => {
                let d = ts.wrapping_sub(exp) as i32;
                let max =
                    samples_in_ms(self.decoder.sample_rate(), MAX_FRAME_MS) * usize::from(count);
                if d > 0 && self.in_samples(d as u32) <= max {
                    self.in_samples(d as u32)
                } else {
                    by_count
                }
            }
            _ => by_count,
        };
        if let Some(exp) = self.expected_ts {
            self.expected_ts = Some(exp.wrapping_add(self.in_ticks(span)));
        }
        let concealed = span.min(self.max_conceal);
        let mut pcm = std::mem::take(&mut self.pcm);
        let mut done = 0;
        let mut outcome = Ok(());
        while done < concealed && outcome.is_ok() {
            let len = frame.min(concealed - done).min(pcm.len());
            // The frame right before the next packet can come back from that packet's
            // FEC data (RFC 7587 §3.3); libopus conceals when it has none.
            let adjacent = done + len == span;
            let r = match &next {
                Some((_, payload)) if adjacent && self.decoder.kind() == CodecKind::Opus => {
                    let r = self.decoder.decode_fec(payload, &mut pcm[..len]);
                    if r.is_ok() {
                        self.fec_recovered += 1;
                    }
                    r
                }
                _ => self.decoder.conceal(&mut pcm[..len]),
            };
            match r {
                Ok(n) => {
                    self.concealed_frames += 1;
                    outcome = self.out.push_pcm(&pcm[..n]);
                    done += len;
                }
                // A length libopus refuses (not whole 2.5 ms): leave the rest as a gap.
                Err(_) => break,
            }
        }
        self.pcm = pcm;
        outcome?;
        self.out.skip(span - done)
    }
}
