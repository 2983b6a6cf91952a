//! PCM in, RTP-ready frames out: resampling, framing, encoding and output timestamps.
//!
//! A [`Packetizer`] is the second half of a [`Transcoder`](super::Transcoder), and on its
//! own the way to put locally made audio (tones, a room mix) on an RTP stream. Timestamps
//! are derived from the number of samples the stream has advanced, in the codec's RTP
//! clock: Opus steps 960 per 20 ms at any internal rate (RFC 7587 §4.1), G.722 160 for
//! 320 samples (RFC 3551 §4.5.2).

use std::collections::VecDeque;

use bytes::Bytes;

use super::{
    Codec, CodecKind, Encoder, MAX_FRAME_MS, MAX_PAYLOAD_BYTES, OpusConfig, Resampler,
    samples_in_ms,
};
use crate::error::Error;

/// Frames waiting in the output queue beyond this are dropped (oldest first): the caller
/// is expected to drain after every push.
pub const MAX_QUEUED_FRAMES: usize = 64;

/// An outgoing RTP payload with the header fields it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFrame {
    /// RTP sequence number.
    pub sequence: u16,
    /// RTP timestamp in the output codec's clock.
    pub timestamp: u32,
    /// RTP marker bit: first frame of the stream or of a talkspurt after a gap
    /// (RFC 3551 §4.1).
    pub marker: bool,
    /// The output leg's payload type.
    pub payload_type: u8,
    /// The encoded payload.
    pub payload: Bytes,
}

/// Settings of a [`Packetizer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketizerConfig {
    /// The output codec and payload type.
    pub codec: Codec,
    /// Opus encoder settings, when the codec is Opus.
    pub opus: OpusConfig,
    /// Frame duration in ms (RFC 4566 `ptime`): 1..=120; Opus 10, 20, 40 or 60.
    pub ptime_ms: u32,
    /// Rate of the PCM given to [`Packetizer::push_pcm`] (resampled to the encoder's).
    pub input_rate: u32,
    /// RTP timestamp of the first frame (random per RFC 3550 §5.1; the caller seeds it).
    pub initial_timestamp: u32,
    /// Sequence number of the first frame (random per RFC 3550 §5.1).
    pub initial_sequence: u16,
}

impl PacketizerConfig {
    /// 20 ms frames of `codec` from PCM at `input_rate`, counters starting at zero.
    #[must_use]
    pub fn new(codec: Codec, input_rate: u32) -> Self {
        Self {
            codec,
            opus: OpusConfig::default(),
            ptime_ms: 20,
            input_rate,
            initial_timestamp: 0,
            initial_sequence: 0,
        }
    }
}

/// Counters of a [`Packetizer`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacketizerStats {
    /// Frames encoded and queued.
    pub encoded: u64,
    /// Frames the Opus encoder marked as DTX silence, not sent.
    pub dtx_suppressed: u64,
    /// Gaps put in the timestamps ([`Packetizer::skip`]).
    pub timestamp_gaps: u64,
    /// Queued frames dropped because the caller did not drain them.
    pub queue_overflow: u64,
}

/// Turns a PCM stream into encoded frames with sequence numbers and timestamps.
pub struct Packetizer {
    codec: Codec,
    encoder: Encoder,
    resampler: Resampler,
    /// Audio at the encoder's rate waiting to fill a frame.
    fifo: Vec<i16>,
    frame_len: usize,
    initial_timestamp: u32,
    /// Samples (at the encoder's rate) the timeline has advanced.
    samples: u64,
    sequence: u16,
    marker_next: bool,
    payload: Box<[u8; MAX_PAYLOAD_BYTES]>,
    queue: VecDeque<OutputFrame>,
    stats: PacketizerStats,
}

impl Packetizer {
    /// Creates a packetizer.
    ///
    /// # Errors
    /// [`Error::BadFrameLength`] for a `ptime_ms` the codec cannot use;
    /// [`Error::UnsupportedSampleRate`] for an input rate outside
    /// [`Resampler::RATES`]; [`Error::Opus`] for a bad Opus configuration.
    pub fn new(cfg: &PacketizerConfig) -> Result<Self, Error> {
        let encoder = Encoder::new(cfg.codec.kind, &cfg.opus)?;
        let rate = encoder.sample_rate();
        let ptime_ok = match cfg.codec.kind {
            CodecKind::Opus => matches!(cfg.ptime_ms, 10 | 20 | 40 | 60),
            _ => (1..=MAX_FRAME_MS).contains(&cfg.ptime_ms),
        };
        if !ptime_ok {
            return Err(Error::BadFrameLength {
                codec: cfg.codec.kind,
                len: samples_in_ms(rate, cfg.ptime_ms),
            });
        }
        let frame_len = samples_in_ms(rate, cfg.ptime_ms);
        Ok(Self {
            codec: cfg.codec,
            resampler: Resampler::new(cfg.input_rate, rate)?,
            encoder,
            fifo: Vec::with_capacity(frame_len * 8),
            frame_len,
            initial_timestamp: cfg.initial_timestamp,
            samples: 0,
            sequence: cfg.initial_sequence,
            marker_next: true,
            payload: Box::new([0; MAX_PAYLOAD_BYTES]),
            queue: VecDeque::new(),
            stats: PacketizerStats::default(),
        })
    }

    /// The output codec.
    #[must_use]
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// The rate [`Packetizer::push_pcm`] expects.
    #[must_use]
    pub fn input_rate(&self) -> u32 {
        self.resampler.from_rate()
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> PacketizerStats {
        self.stats
    }

    /// The RTP timestamp the next frame will carry.
    #[must_use]
    pub fn next_timestamp(&self) -> u32 {
        let ticks = self
            .codec
            .kind
            .ticks_for_samples(self.samples, self.encoder.sample_rate());
        self.initial_timestamp.wrapping_add(ticks as u32)
    }

    /// Adds audio and encodes every whole frame. Drain [`Packetizer::poll_frame`] after.
    ///
    /// # Errors
    /// Only an encoder failure ([`Error::Opus`], [`Error::G722`]).
    pub fn push_pcm(&mut self, pcm: &[i16]) -> Result<(), Error> {
        self.resampler.process(pcm, &mut self.fifo);
        self.encode_ready()
    }

    /// Puts `samples` (at the input rate) of unsent silence in the timeline: the partial
    /// frame is completed with silence and sent, the timestamps jump, and the next frame
    /// carries the marker bit (RFC 3551 §4.1).
    ///
    /// # Errors
    /// As [`Packetizer::push_pcm`].
    pub fn skip(&mut self, samples: usize) -> Result<(), Error> {
        if samples == 0 {
            return Ok(());
        }
        // The silence padding the partial frame stands for the start of the gap, so the
        // timeline does not drift ahead by up to a frame per gap.
        let padding = if self.fifo.is_empty() {
            0
        } else {
            (self.frame_len - self.fifo.len() % self.frame_len) as u64
        };
        self.finish()?;
        let to = u64::from(self.encoder.sample_rate());
        let from = u64::from(self.input_rate());
        self.samples += (samples as u64 * to / from).saturating_sub(padding);
        self.resampler.reset();
        self.marker_next = true;
        self.stats.timestamp_gaps += 1;
        Ok(())
    }

    /// Starts a new talkspurt without a time gap: completes the partial frame, forgets the
    /// resampler's history and marks the next frame.
    ///
    /// # Errors
    /// As [`Packetizer::push_pcm`].
    pub fn restart(&mut self) -> Result<(), Error> {
        self.finish()?;
        self.resampler.reset();
        self.marker_next = true;
        Ok(())
    }

    /// Completes a partly filled frame with silence and encodes it (end of stream).
    ///
    /// # Errors
    /// As [`Packetizer::push_pcm`].
    pub fn finish(&mut self) -> Result<(), Error> {
        if self.fifo.is_empty() {
            return Ok(());
        }
        self.fifo.resize(self.frame_len, 0);
        self.encode_ready()
    }

    /// The next encoded frame.
    pub fn poll_frame(&mut self) -> Option<OutputFrame> {
        self.queue.pop_front()
    }

    /// Frames waiting to be drained.
    #[must_use]
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    fn encode_ready(&mut self) -> Result<(), Error> {
        let mut start = 0;
        let mut result = Ok(());
        while self.fifo.len() - start >= self.frame_len {
            let frame = &self.fifo[start..start + self.frame_len];
            start += self.frame_len;
            let n = match self.encoder.encode(frame, &mut self.payload[..]) {
                Ok(n) => n,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            let timestamp = self.next_timestamp();
            self.samples += self.frame_len as u64;
            if self.encoder.is_dtx_payload(n) {
                self.stats.dtx_suppressed += 1;
                self.marker_next = true;
                continue;
            }
            self.stats.encoded += 1;
            let frame = OutputFrame {
                sequence: self.sequence,
                timestamp,
                marker: std::mem::take(&mut self.marker_next),
                payload_type: self.codec.payload_type,
                payload: Bytes::copy_from_slice(&self.payload[..n]),
            };
            self.sequence = self.sequence.wrapping_add(1);
            if self.queue.len() >= MAX_QUEUED_FRAMES {
                self.queue.pop_front();
                self.stats.queue_overflow += 1;
            }
            self.queue.push_back(frame);
        }
        self.fifo.drain(..start);
        result
    }
}

impl std::fmt::Debug for Packetizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packetizer")
            .field("codec", &self.codec)
            .field("input_rate", &self.input_rate())
            .field("frame_len", &self.frame_len)
            .field("next_timestamp", &self.next_timestamp())
            .field("queued", &self.queue.len())
            .finish()
    }
}
