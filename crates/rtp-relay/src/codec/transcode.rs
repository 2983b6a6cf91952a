//! One direction of a call from codec A to codec B.
//!
//! ```text
//!   RTP in ─▶ PlayoutBuffer ─▶ Decoder (A) ─▶ Resampler ─▶ FIFO ─▶ Encoder (B) ─▶ frames out
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
//! Sans-IO: [`Transcoder::push`] takes a packet, [`Transcoder::poll_frame`] drains the
//! encoded frames; no clock is read.

use std::collections::VecDeque;

use bytes::Bytes;

use super::playout::{BufferedPacket, PlayoutBuffer, PlayoutEvent, PlayoutStats};
use super::{
    Codec, CodecKind, Decoder, Encoder, MAX_FRAME_MS, MAX_PAYLOAD_BYTES, OpusConfig, Resampler,
    samples_in_ms,
};
use crate::error::Error;

/// Frames waiting in the output queue beyond this are dropped (oldest first): the caller
/// is expected to drain after every push.
const MAX_QUEUED_FRAMES: usize = 64;

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
    /// Settings of the Opus encoder when `to` is Opus.
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

/// An outgoing RTP payload with the header fields it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFrame {
    /// RTP sequence number.
    pub sequence: u16,
    /// RTP timestamp in the output codec's clock.
    pub timestamp: u32,
    /// RTP marker bit: first frame of the stream or after a silence gap.
    pub marker: bool,
    /// The output leg's payload type.
    pub payload_type: u8,
    /// The encoded payload.
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
    /// Lost frames rebuilt from Opus in-band FEC.
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
    encoder: Encoder,
    resampler: Resampler,
    /// Decoder output, one payload at a time.
    pcm: Vec<i16>,
    /// Audio at the encoder's rate waiting to fill a frame.
    fifo: Vec<i16>,
    frame_len: usize,
    max_conceal: usize,
    /// Samples (at the encoder's rate) the output timeline has advanced.
    out_samples: u64,
    out_sequence: u16,
    marker_next: bool,
    /// Input timestamp expected for the next packet.
    expected_ts: Option<u32>,
    /// Decoded length of the last good packet (the duration a loss is assumed to have).
    last_len: usize,
    payload: Box<[u8; MAX_PAYLOAD_BYTES]>,
}

/// Carries one direction of a call from one codec to another (see the module docs).
pub struct Transcoder {
    cfg: TranscoderConfig,
    pipeline: Option<Pipeline>,
    /// Pass-through rewriting: offsets from the first input packet.
    offsets: Option<(u16, u32)>,
    queue: VecDeque<OutputFrame>,
    stats: TranscoderStats,
}

impl Transcoder {
    /// Creates a transcoder, or a pass-through when [`MediaPath::decide`] says so.
    ///
    /// # Errors
    /// [`Error::BadFrameLength`] for a `ptime_ms` the output codec cannot use (0, above
    /// 120, or not 10/20/40/60 for Opus); [`Error::UnsupportedSampleRate`] or
    /// [`Error::Opus`] for a bad Opus configuration.
    pub fn new(cfg: TranscoderConfig) -> Result<Self, Error> {
        let pipeline = match MediaPath::decide(cfg.from, cfg.to) {
            MediaPath::PassThrough => None,
            MediaPath::Transcode => Some(Pipeline::new(&cfg)?),
        };
        Ok(Self {
            cfg,
            pipeline,
            offsets: None,
            queue: VecDeque::new(),
            stats: TranscoderStats::default(),
        })
    }

    /// The path this transcoder takes.
    #[must_use]
    pub fn path(&self) -> MediaPath {
        if self.pipeline.is_some() {
            MediaPath::Transcode
        } else {
            MediaPath::PassThrough
        }
    }

    /// Whether payloads are forwarded without decoding.
    #[must_use]
    pub fn passthrough(&self) -> bool {
        self.pipeline.is_none()
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &TranscoderConfig {
        &self.cfg
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> TranscoderStats {
        let mut s = self.stats;
        if let Some(p) = &self.pipeline {
            s.playout = p.playout.stats();
        }
        s
    }

    /// Takes an incoming packet. Drain [`Transcoder::poll_frame`] afterwards.
    ///
    /// Garbage from the peer is counted and concealed, never an error.
    ///
    /// # Errors
    /// Only an encoder failure ([`Error::Opus`], [`Error::G722`]), which is ours, not the
    /// peer's.
    pub fn push(&mut self, packet: InputPacket) -> Result<(), Error> {
        let Some(p) = self.pipeline.as_mut() else {
            let (seq_off, ts_off) = *self.offsets.get_or_insert((
                self.cfg.initial_sequence.wrapping_sub(packet.sequence),
                self.cfg.initial_timestamp.wrapping_sub(packet.timestamp),
            ));
            self.stats.forwarded += 1;
            let frame = OutputFrame {
                sequence: packet.sequence.wrapping_add(seq_off),
                timestamp: packet.timestamp.wrapping_add(ts_off),
                marker: packet.marker,
                payload_type: self.cfg.to.payload_type,
                payload: packet.payload,
            };
            enqueue(&mut self.queue, &mut self.stats, frame);
            return Ok(());
        };
        p.playout.push(BufferedPacket {
            sequence: packet.sequence,
            timestamp: packet.timestamp,
            marker: packet.marker,
            payload: packet.payload,
        });
        while let Some(ev) = p.playout.pop() {
            p.handle(ev, &self.cfg, &mut self.queue, &mut self.stats)?;
        }
        Ok(())
    }

    /// Releases everything the playout buffer holds, concealing holes, and encodes the
    /// last partial frame padded with silence (end of the stream).
    ///
    /// # Errors
    /// As [`Transcoder::push`].
    pub fn flush(&mut self) -> Result<(), Error> {
        let Some(p) = self.pipeline.as_mut() else {
            return Ok(());
        };
        while let Some(ev) = p.playout.flush() {
            p.handle(ev, &self.cfg, &mut self.queue, &mut self.stats)?;
        }
        p.finish_partial(&self.cfg, &mut self.queue, &mut self.stats)
    }

    /// The next outgoing frame.
    pub fn poll_frame(&mut self) -> Option<OutputFrame> {
        self.queue.pop_front()
    }

    /// Frames waiting to be drained.
    #[must_use]
    pub fn queued(&self) -> usize {
        self.queue.len()
    }
}

impl std::fmt::Debug for Transcoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transcoder")
            .field("cfg", &self.cfg)
            .field("path", &self.path())
            .field("queued", &self.queue.len())
            .field("stats", &self.stats())
            .finish()
    }
}

fn enqueue(queue: &mut VecDeque<OutputFrame>, stats: &mut TranscoderStats, frame: OutputFrame) {
    if queue.len() >= MAX_QUEUED_FRAMES {
        queue.pop_front();
        stats.queue_overflow += 1;
    }
    queue.push_back(frame);
}

impl Pipeline {
    fn new(cfg: &TranscoderConfig) -> Result<Self, Error> {
        let encoder = Encoder::new(cfg.to.kind, &cfg.opus)?;
        let enc_rate = encoder.sample_rate();
        let ptime_ok = match cfg.to.kind {
            CodecKind::Opus => matches!(cfg.ptime_ms, 10 | 20 | 40 | 60),
            _ => (1..=MAX_FRAME_MS).contains(&cfg.ptime_ms),
        };
        if !ptime_ok {
            return Err(Error::BadFrameLength {
                codec: cfg.to.kind,
                len: samples_in_ms(enc_rate, cfg.ptime_ms),
            });
        }
        // Decode Opus straight at the rate the encoder wants when libopus can, which
        // saves the resampler (e.g. Opus → PCMU decodes at 8 kHz).
        let dec_rate = match cfg.from.kind {
            CodecKind::Opus if Resampler::RATES.contains(&enc_rate) => enc_rate,
            other => other.sample_rate(),
        };
        let decoder = Decoder::new(cfg.from.kind, dec_rate)?;
        let resampler = Resampler::new(decoder.sample_rate(), enc_rate)?;
        let frame_len = samples_in_ms(enc_rate, cfg.ptime_ms);
        Ok(Self {
            playout: PlayoutBuffer::new(cfg.playout_depth),
            pcm: vec![0; decoder.max_frame_samples()],
            max_conceal: samples_in_ms(decoder.sample_rate(), cfg.max_conceal_ms),
            decoder,
            encoder,
            resampler,
            fifo: Vec::with_capacity(frame_len * 8),
            frame_len,
            out_samples: 0,
            out_sequence: cfg.initial_sequence,
            marker_next: true,
            expected_ts: None,
            last_len: 0,
            payload: Box::new([0; MAX_PAYLOAD_BYTES]),
        })
    }

    /// Input clock ticks covered by `samples` decoded samples.
    fn in_ticks(&self, samples: usize) -> u32 {
        let kind = self.decoder.kind();
        kind.ticks_for_samples(samples as u64, self.decoder.sample_rate()) as u32
    }

    /// Decoded samples covering `ticks` of the input clock.
    fn in_samples(&self, ticks: u32) -> usize {
        let kind = self.decoder.kind();
        (u64::from(ticks) * u64::from(self.decoder.sample_rate()) / u64::from(kind.clock_rate()))
            as usize
    }

    fn handle(
        &mut self,
        ev: PlayoutEvent,
        cfg: &TranscoderConfig,
        queue: &mut VecDeque<OutputFrame>,
        stats: &mut TranscoderStats,
    ) -> Result<(), Error> {
        match ev {
            PlayoutEvent::Packet(p) => self.on_packet(&p, cfg, queue, stats),
            PlayoutEvent::Lost { count, .. } => self.on_lost(count, cfg, queue, stats),
            PlayoutEvent::Resync => {
                // A new timeline: close the current frame and start the next one marked.
                self.finish_partial(cfg, queue, stats)?;
                self.expected_ts = None;
                self.resampler.reset();
                self.marker_next = true;
                Ok(())
            }
        }
    }

    fn on_packet(
        &mut self,
        p: &BufferedPacket,
        cfg: &TranscoderConfig,
        queue: &mut VecDeque<OutputFrame>,
        stats: &mut TranscoderStats,
    ) -> Result<(), Error> {
        if let Some(expected) = self.expected_ts {
            // A forward jump without a sequence gap is silence the sender did not send
            // (RFC 3551 §4.1): keep the output clock in step with it.
            let jump = p.timestamp.wrapping_sub(expected) as i32;
            let limit = u64::from(self.decoder.kind().clock_rate()) * MAX_SILENCE_GAP_MS / 1000;
            if jump > 0 && (jump as u64) <= limit {
                let gap = self.in_samples(jump as u32);
                self.advance_gap(gap, cfg, queue, stats)?;
            }
        }
        let mut pcm = std::mem::take(&mut self.pcm);
        let result = self.decoder.decode(&p.payload, &mut pcm);
        let outcome = match result {
            Ok(n) => {
                stats.decoded += 1;
                self.last_len = n;
                self.expected_ts = Some(p.timestamp.wrapping_add(self.in_ticks(n)));
                self.feed(&pcm[..n], cfg, queue, stats)
            }
            Err(_) => {
                // Undecodable: treat as lost for one frame of the last known duration.
                stats.decode_errors += 1;
                let n = self.last_len;
                self.expected_ts = Some(p.timestamp.wrapping_add(self.in_ticks(n)));
                if n > 0 && self.decoder.conceal(&mut pcm[..n]).is_ok() {
                    stats.concealed_frames += 1;
                    self.feed(&pcm[..n], cfg, queue, stats)
                } else {
                    Ok(())
                }
            }
        };
        self.pcm = pcm;
        outcome
    }

    fn on_lost(
        &mut self,
        count: u16,
        cfg: &TranscoderConfig,
        queue: &mut VecDeque<OutputFrame>,
        stats: &mut TranscoderStats,
    ) -> Result<(), Error> {
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
            let last = done + len == span;
            let r = match (&next, last) {
                (Some((_, payload)), true) if self.decoder.kind() == CodecKind::Opus => {
                    let r = self.decoder.decode_fec(payload, &mut pcm[..len]);
                    if r.is_ok() {
                        stats.fec_recovered += 1;
                    }
                    r
                }
                _ => self.decoder.conceal(&mut pcm[..len]),
            };
            match r {
                Ok(n) => {
                    stats.concealed_frames += 1;
                    outcome = self.feed(&pcm[..n], cfg, queue, stats);
                    done += len;
                }
                // A length libopus refuses (not whole 2.5 ms): leave the rest as a gap.
                Err(_) => break,
            }
        }
        self.pcm = pcm;
        outcome?;
        if span > done {
            self.advance_gap(span - done, cfg, queue, stats)?;
        }
        Ok(())
    }

    /// Moves the output clock forward by `samples` (at the decoder's rate) of unsent
    /// silence.
    fn advance_gap(
        &mut self,
        samples: usize,
        cfg: &TranscoderConfig,
        queue: &mut VecDeque<OutputFrame>,
        stats: &mut TranscoderStats,
    ) -> Result<(), Error> {
        if samples == 0 {
            return Ok(());
        }
        self.finish_partial(cfg, queue, stats)?;
        let enc = u64::from(self.encoder.sample_rate());
        let dec = u64::from(self.decoder.sample_rate());
        self.out_samples += samples as u64 * enc / dec;
        self.resampler.reset();
        self.marker_next = true;
        stats.timestamp_gaps += 1;
        Ok(())
    }

    /// Pads a partly filled frame with silence and encodes it.
    fn finish_partial(
        &mut self,
        cfg: &TranscoderConfig,
        queue: &mut VecDeque<OutputFrame>,
        stats: &mut TranscoderStats,
    ) -> Result<(), Error> {
        if self.fifo.is_empty() {
            return Ok(());
        }
        self.fifo.resize(self.frame_len, 0);
        self.encode_ready(cfg, queue, stats)
    }

    /// Resamples decoded audio into the FIFO and encodes every whole frame.
    fn feed(
        &mut self,
        pcm: &[i16],
        cfg: &TranscoderConfig,
        queue: &mut VecDeque<OutputFrame>,
        stats: &mut TranscoderStats,
    ) -> Result<(), Error> {
        self.resampler.process(pcm, &mut self.fifo);
        self.encode_ready(cfg, queue, stats)
    }

    fn encode_ready(
        &mut self,
        cfg: &TranscoderConfig,
        queue: &mut VecDeque<OutputFrame>,
        stats: &mut TranscoderStats,
    ) -> Result<(), Error> {
        let mut start = 0;
        while self.fifo.len() - start >= self.frame_len {
            let frame = &self.fifo[start..start + self.frame_len];
            start += self.frame_len;
            let n = self.encoder.encode(frame, &mut self.payload[..])?;
            let ticks = cfg
                .to
                .kind
                .ticks_for_samples(self.out_samples, self.encoder.sample_rate());
            let timestamp = cfg.initial_timestamp.wrapping_add(ticks as u32);
            self.out_samples += self.frame_len as u64;
            if self.encoder.is_dtx_payload(n) {
                stats.dtx_suppressed += 1;
                self.marker_next = true;
                continue;
            }
            stats.encoded += 1;
            let frame = OutputFrame {
                sequence: self.out_sequence,
                timestamp,
                marker: std::mem::take(&mut self.marker_next),
                payload_type: cfg.to.payload_type,
                payload: Bytes::copy_from_slice(&self.payload[..n]),
            };
            self.out_sequence = self.out_sequence.wrapping_add(1);
            enqueue(queue, stats, frame);
        }
        self.fifo.drain(..start);
        Ok(())
    }
}
