//! The mix-minus core of an embedded room, sans-IO.
//!
//! ```text
//!  RTP in ─▶ PlayoutBuffer ─▶ Decoder ─▶ Resampler ─▶ input FIFO (16 kHz) ─┐
//!                 └─ telephone-event ─▶ DtmfReceiver ─▶ Dtmf events         │ every 20 ms tick:
//!                                                                           ▼
//!  RTP out ◀─ Encoder ◀─ Resampler ◀─ limiter(Σ all − own) ◀──────── 20 ms frame per participant
//! ```
//!
//! - **Internal rate 16 kHz** (wideband). It carries everything G.711 and G.722 can (G.722
//!   *is* 16 kHz, so it needs no resampling), and Opus is decoded and encoded straight at
//!   16 kHz by libopus (RFC 7587 §4.1 keeps its RTP clock at 48 kHz regardless), so only G.711
//!   legs resample. A phone gateway gains nothing from mixing above 8 kHz of audio bandwidth,
//!   and a 48 kHz mix would triple the cost of every sum and resample.
//! - **Mix-minus**: the sum of all contributions is computed once in `i32` (no wrap-around),
//!   each participant gets the sum minus its own frame, through a soft limiter ([`limit`]):
//!   transparent below −3 dBFS, a `tanh` knee above it that never exceeds full scale.
//! - **Jitter**: each input has a sequence-ordered playout buffer (packet-loss concealment
//!   for holes) and a PCM FIFO that starts playing once it holds 40 ms, so arrival jitter
//!   under a frame does not chop the audio; a FIFO that grows past 200 ms (a sender's clock
//!   faster than ours) is trimmed back.
//! - **Output**: each participant's frames are encoded in its own codec with its own SSRC,
//!   sequence numbers and timestamps (random starts from the caller, RFC 3550 §5.1), the
//!   timestamp advancing by exactly one frame in the codec's RTP clock per frame.
//!
//! - **Two-party pass-through**: with exactly two participants on one codec and packet time,
//!   each hears exactly the other, so payloads are forwarded untouched (sequence numbers and
//!   timestamps rewritten onto the listener's stream, so switching to and from mixing when a
//!   third joins or leaves keeps one continuous stream, with the marker set at each switch).
//!
//! Contract: after every `handle_*`, drain [`Mixer::poll_transmit`] and [`Mixer::poll_event`],
//! then sleep until [`Mixer::poll_timeout`]. Nothing here reads a clock.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtp_relay::codec::playout::BufferedPacket;
use rtp_relay::codec::{
    Codec, CodecKind, Decoder, Encoder, MAX_PAYLOAD_BYTES, OpusConfig, PlayoutBuffer, PlayoutEvent,
    Resampler, samples_in_ms,
};
use rtp_relay::dtmf::{DtmfEvent, DtmfReceiver};

use crate::error::Error;
use crate::session::{AudioFrame, ParticipantId, ParticipantInfo, RoomEvent};

/// The internal mixing rate.
pub const MIX_RATE: u32 = 16_000;
/// The mixing period.
pub const TICK: Duration = Duration::from_millis(20);
/// Samples per tick at [`MIX_RATE`].
pub const TICK_SAMPLES: usize = (MIX_RATE / 50) as usize;

/// Input audio buffered before a participant starts (or restarts) playing: 40 ms.
const PREBUFFER_SAMPLES: usize = 2 * TICK_SAMPLES;
/// Input audio beyond which the FIFO is trimmed back to [`PREBUFFER_SAMPLES`]: 200 ms.
const MAX_INPUT_SAMPLES: usize = 10 * TICK_SAMPLES;
/// Largest stretch of loss concealed with synthetic audio; beyond it, silence.
const MAX_CONCEAL_MS: u32 = 60;
/// Ticks run in one `handle_timeout` call before the mixer gives up catching up and skips.
const MAX_CATCH_UP_TICKS: u32 = 5;
/// Level above which the limiter starts to bend: about −3 dBFS.
const LIMIT_KNEE: f32 = 23_197.0;

/// Settings of a [`Mixer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MixerConfig {
    /// Most participants in one room.
    pub max_participants: usize,
    /// Packets the playout buffer waits for behind a hole before concealing it.
    pub playout_depth: usize,
    /// Most outgoing frames held for [`Mixer::poll_transmit`]; the oldest goes beyond this.
    pub max_queued_frames: usize,
    /// Most events held for [`Mixer::poll_event`]; the oldest goes beyond this.
    pub max_queued_events: usize,
    /// Opus encoder settings (its rate is forced to [`MIX_RATE`]).
    pub opus: OpusConfig,
    /// With exactly two participants on the same codec and packet time, forward payloads
    /// untouched instead of decoding and re-encoding: each would hear exactly the other
    /// anyway, and pass-through costs nothing and adds no delay. Sequence numbers and
    /// timestamps are still the room's own, continuous across switches to and from mixing.
    pub two_party_passthrough: bool,
}

impl Default for MixerConfig {
    fn default() -> Self {
        MixerConfig {
            max_participants: 64,
            playout_depth: 3,
            max_queued_frames: 1024,
            max_queued_events: 1024,
            opus: OpusConfig::default(),
            two_party_passthrough: true,
        }
    }
}

/// How one participant's media is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParticipantMedia {
    /// Codec and payload type, both directions.
    pub codec: Codec,
    /// telephone-event payload type of incoming DTMF, if any.
    pub telephone_event: Option<u8>,
    /// Outgoing frame duration in ms (Opus: 10, 20, 40 or 60; others 10..=120 in steps of
    /// 10).
    pub ptime_ms: u32,
    /// SSRC of the participant's output stream.
    pub ssrc: u32,
    /// First outgoing sequence number.
    pub initial_sequence: u16,
    /// First outgoing RTP timestamp.
    pub initial_timestamp: u32,
}

/// Counters of a [`Mixer`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MixerStats {
    /// Mixing periods run.
    pub ticks: u64,
    /// Ticks skipped because `handle_timeout` came too late to catch up.
    pub ticks_skipped: u64,
    /// Frames encoded.
    pub frames_out: u64,
    /// Audio packets received.
    pub packets_in: u64,
    /// Packets with an unknown payload type or from an unknown participant.
    pub packets_ignored: u64,
    /// Payloads the decoder rejected (concealed instead).
    pub decode_errors: u64,
    /// Frames of concealment audio.
    pub concealed_frames: u64,
    /// Input samples trimmed because a sender ran ahead.
    pub input_trimmed: u64,
    /// Frames dropped because `poll_transmit` was not drained.
    pub frames_dropped: u64,
    /// Events dropped because `poll_event` was not drained.
    pub events_dropped: u64,
    /// Payloads forwarded untouched in two-party pass-through.
    pub frames_forwarded: u64,
}

/// The mix-minus mixer of one room (see the module docs).
pub struct Mixer {
    cfg: MixerConfig,
    participants: Vec<Participant>,
    next_id: u64,
    next_tick: Option<Instant>,
    sum: Vec<i32>,
    scratch: Vec<i16>,
    arena: BytesMut,
    transmit: VecDeque<(ParticipantId, AudioFrame)>,
    events: VecDeque<(ParticipantId, RoomEvent)>,
    stats: MixerStats,
    /// Whether the room is in two-party pass-through.
    passthrough: bool,
}

struct Participant {
    info: ParticipantInfo,
    media: ParticipantMedia,
    // input
    playout: PlayoutBuffer,
    decoder: Decoder,
    up: Resampler,
    decoded: Vec<i16>,
    /// Resampler output, reused (no allocation per packet).
    resampled: Vec<i16>,
    input: VecDeque<i16>,
    playing: bool,
    last_len: usize,
    dtmf: DtmfReceiver,
    // this tick
    frame: Vec<i16>,
    active: bool,
    // output
    encoder: Encoder,
    down: Resampler,
    out_pcm: Vec<i16>,
    frame_len: usize,
    ticks_per_frame: u32,
    sequence: u16,
    timestamp: u32,
    first_out: bool,
    /// Pass-through rewriting of what this participant *receives*: (sequence, timestamp)
    /// offsets from the sender's numbers to ours, fixed by the first forwarded packet.
    forward_offsets: Option<(u16, u32)>,
}

impl Mixer {
    /// An empty room.
    #[must_use]
    pub fn new(cfg: MixerConfig) -> Self {
        Mixer {
            cfg,
            participants: Vec::new(),
            next_id: 1,
            next_tick: None,
            sum: vec![0; TICK_SAMPLES],
            scratch: Vec::with_capacity(TICK_SAMPLES * 3),
            arena: BytesMut::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            stats: MixerStats::default(),
            passthrough: false,
        }
    }

    /// Participants in the room.
    #[must_use]
    pub fn len(&self) -> usize {
        self.participants.len()
    }

    /// Whether the room is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.participants.is_empty()
    }

    /// The participants.
    pub fn participants(&self) -> impl Iterator<Item = &ParticipantInfo> {
        self.participants.iter().map(|p| &p.info)
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> MixerStats {
        self.stats
    }

    /// Adds a participant. The others are told ([`RoomEvent::ParticipantJoined`]), and the
    /// newcomer is told about each of them. The first participant starts the tick clock.
    ///
    /// # Errors
    /// [`Error::Busy`] when the room is full; [`Error::InvalidRequest`] for a ptime the
    /// codec cannot use; [`Error::Codec`] when a codec cannot be created.
    pub fn add_participant(
        &mut self,
        now: Instant,
        identity: &str,
        name: &str,
        attributes: &[(String, String)],
        media: ParticipantMedia,
    ) -> Result<ParticipantId, Error> {
        if self.participants.len() >= self.cfg.max_participants {
            return Err(Error::Busy);
        }
        let id = ParticipantId(self.next_id);
        let info = ParticipantInfo {
            id,
            identity: identity.to_owned(),
            name: name.to_owned(),
            attributes: attributes.to_vec(),
        };
        let p = Participant::new(info.clone(), media, &self.cfg)?;
        self.next_id += 1;
        for other in &self.participants {
            let (oid, oinfo) = (other.info.id, other.info.clone());
            push_bounded(
                &mut self.events,
                self.cfg.max_queued_events,
                &mut self.stats.events_dropped,
                (oid, RoomEvent::ParticipantJoined(info.clone())),
            );
            push_bounded(
                &mut self.events,
                self.cfg.max_queued_events,
                &mut self.stats.events_dropped,
                (id, RoomEvent::ParticipantJoined(oinfo)),
            );
        }
        self.participants.push(p);
        self.update_mode();
        self.next_tick.get_or_insert(now + TICK);
        Ok(id)
    }

    /// Removes a participant and tells the others. Returns whether it was present. The
    /// tick clock stops with the last one.
    pub fn remove_participant(&mut self, id: ParticipantId) -> bool {
        let Some(i) = self.participants.iter().position(|p| p.info.id == id) else {
            return false;
        };
        let gone = self.participants.remove(i);
        for other in &self.participants {
            push_bounded(
                &mut self.events,
                self.cfg.max_queued_events,
                &mut self.stats.events_dropped,
                (other.info.id, RoomEvent::ParticipantLeft(gone.info.clone())),
            );
        }
        if self.participants.is_empty() {
            self.next_tick = None;
        }
        self.update_mode();
        true
    }

    /// Takes an RTP payload from participant `from`: audio in its codec is queued for
    /// mixing, telephone-events become [`RoomEvent::Dtmf`] for the others (once per press,
    /// RFC 4733 §2.5.1.4 retransmissions removed).
    pub fn handle_audio(&mut self, _now: Instant, from: ParticipantId, frame: &AudioFrame) {
        let Some(i) = self.participants.iter().position(|p| p.info.id == from) else {
            self.stats.packets_ignored += 1;
            return;
        };
        let p = &mut self.participants[i];
        if Some(frame.payload_type) == p.media.telephone_event {
            if p.dtmf
                .handle_payload(frame.marker, frame.timestamp, &frame.payload)
                .is_err()
            {
                self.stats.packets_ignored += 1;
                return;
            }
            let mut digits = [None; 4];
            let mut n = 0;
            while let Some(ev) = p.dtmf.poll_event() {
                if let (DtmfEvent::Began { .. }, Some(d)) = (ev, ev.digit()) {
                    if n < digits.len() {
                        digits[n] = Some(d);
                        n += 1;
                    }
                }
            }
            for d in digits.into_iter().flatten() {
                self.broadcast_dtmf(from, d);
            }
            return;
        }
        if frame.payload_type != p.media.codec.payload_type {
            self.stats.packets_ignored += 1;
            return;
        }
        self.stats.packets_in += 1;
        if self.passthrough {
            self.forward(i, frame);
            return;
        }
        if self.participants.len() == 1 {
            // Alone in the room: nobody hears this audio, so it is not decoded (a caller
            // waiting for the other side costs no codec work). Mixing starts clean when
            // someone joins.
            return;
        }
        let p = &mut self.participants[i];
        p.playout.push(BufferedPacket {
            sequence: frame.sequence,
            timestamp: frame.timestamp,
            marker: frame.marker,
            payload: frame.payload.clone(),
        });
        while let Some(ev) = p.playout.pop() {
            p.play(ev, &mut self.stats);
        }
        let excess = p.input.len().saturating_sub(MAX_INPUT_SAMPLES);
        if excess > 0 {
            let trim = p.input.len() - PREBUFFER_SAMPLES;
            p.input.drain(..trim);
            self.stats.input_trimmed += trim as u64;
        }
    }

    /// A DTMF digit from `from` given as a digit (not RTP): reported to the others.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for an unknown participant.
    pub fn handle_dtmf(&mut self, from: ParticipantId, digit: char) -> Result<(), Error> {
        if !self.participants.iter().any(|p| p.info.id == from) {
            return Err(Error::InvalidRequest("unknown participant"));
        }
        self.broadcast_dtmf(from, digit);
        Ok(())
    }

    /// Runs the mixing periods due at `now`.
    ///
    /// # Errors
    /// [`Error::Codec`] when an encoder fails (ours, not a peer's doing).
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        let mut ran = 0;
        while let Some(due) = self.next_tick.filter(|&t| t <= now) {
            if ran == MAX_CATCH_UP_TICKS {
                // Too far behind (the task was starved): skip rather than burst frames
                // whose time has passed.
                let behind = now.saturating_duration_since(due);
                let skipped = behind.as_millis() / TICK.as_millis() + 1;
                self.stats.ticks_skipped += skipped as u64;
                self.next_tick = Some(due + TICK * skipped as u32);
                break;
            }
            self.tick()?;
            ran += 1;
            self.next_tick = Some(due + TICK);
        }
        Ok(())
    }

    /// The next frame to send, to which participant.
    pub fn poll_transmit(&mut self) -> Option<(ParticipantId, AudioFrame)> {
        self.transmit.pop_front()
    }

    /// The next event, for which participant.
    pub fn poll_event(&mut self) -> Option<(ParticipantId, RoomEvent)> {
        self.events.pop_front()
    }

    /// When [`Mixer::handle_timeout`] must be called next; `None` for an empty room.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_tick
    }

    fn broadcast_dtmf(&mut self, from: ParticipantId, digit: char) {
        for other in self.participants.iter().filter(|p| p.info.id != from) {
            push_bounded(
                &mut self.events,
                self.cfg.max_queued_events,
                &mut self.stats.events_dropped,
                (other.info.id, RoomEvent::Dtmf { from, digit }),
            );
        }
    }

    /// Enters or leaves two-party pass-through after the participants changed.
    fn update_mode(&mut self) {
        let pair = match self.participants.as_slice() {
            [a, b] => {
                self.cfg.two_party_passthrough
                    && a.media.codec.kind == b.media.codec.kind
                    && a.media.ptime_ms == b.media.ptime_ms
            }
            _ => false,
        };
        if pair == self.passthrough {
            return;
        }
        self.passthrough = pair;
        for p in &mut self.participants {
            p.forward_offsets = None;
            // Decoding state is stale after pass-through, and buffered audio is stale after
            // mixing: start both paths clean.
            p.playout = PlayoutBuffer::new(self.cfg.playout_depth);
            p.input.clear();
            p.playing = false;
            p.out_pcm.clear();
            // A discontinuity in what the participant hears (RFC 3551 §4.1 marker).
            p.first_out = true;
        }
    }

    /// Forwards a payload from participant `from` to the other one, untouched.
    fn forward(&mut self, from: usize, frame: &AudioFrame) {
        let to = 1 - from.min(1);
        let Some(o) = self.participants.get_mut(to) else {
            return;
        };
        let (seq_off, ts_off) = *o.forward_offsets.get_or_insert((
            o.sequence.wrapping_sub(frame.sequence),
            o.timestamp.wrapping_sub(frame.timestamp),
        ));
        let sequence = frame.sequence.wrapping_add(seq_off);
        let timestamp = frame.timestamp.wrapping_add(ts_off);
        // Keep "next" numbers ahead of everything sent, so mixing can resume from them.
        if (sequence.wrapping_sub(o.sequence) as i16) >= 0 {
            o.sequence = sequence.wrapping_add(1);
        }
        let next_ts = timestamp.wrapping_add(o.ticks_per_frame);
        if (next_ts.wrapping_sub(o.timestamp) as i32) > 0 {
            o.timestamp = next_ts;
        }
        let out = AudioFrame {
            payload_type: o.media.codec.payload_type,
            sequence,
            timestamp,
            marker: frame.marker || o.first_out,
            payload: frame.payload.clone(),
        };
        o.first_out = false;
        let id = o.info.id;
        self.stats.frames_forwarded += 1;
        push_bounded(
            &mut self.transmit,
            self.cfg.max_queued_frames,
            &mut self.stats.frames_dropped,
            (id, out),
        );
    }

    fn tick(&mut self) -> Result<(), Error> {
        self.stats.ticks += 1;
        if self.passthrough {
            // Media moves packet by packet in `forward`; nothing to mix.
            return Ok(());
        }
        if let [p] = self.participants.as_mut_slice() {
            // Alone: the mix-minus is silence by definition; skip mixing and resampling
            // and encode 20 ms of silence at the participant's own rate.
            let n = TICK_SAMPLES * p.encoder.sample_rate() as usize / MIX_RATE as usize;
            p.out_pcm.resize(p.out_pcm.len() + n, 0);
            return self.encode_ready(0);
        }
        self.sum.iter_mut().for_each(|s| *s = 0);
        for p in &mut self.participants {
            p.take_frame();
            if p.active {
                for (s, &x) in self.sum.iter_mut().zip(&p.frame) {
                    *s += i32::from(x);
                }
            }
        }
        for p in &mut self.participants {
            self.scratch.clear();
            self.scratch.extend(
                self.sum
                    .iter()
                    .zip(&p.frame)
                    .map(|(&s, &own)| limit(if p.active { s - i32::from(own) } else { s })),
            );
            p.down.process(&self.scratch, &mut p.out_pcm);
        }
        for i in 0..self.participants.len() {
            self.encode_ready(i)?;
        }
        Ok(())
    }

    /// Encodes and queues every whole frame waiting in participant `i`'s output PCM.
    fn encode_ready(&mut self, i: usize) -> Result<(), Error> {
        let p = &mut self.participants[i];
        while p.out_pcm.len() >= p.frame_len {
            if self.arena.capacity() - self.arena.len() < MAX_PAYLOAD_BYTES {
                // One allocation serves many frames: `split` hands out the written
                // part and keeps the rest of the capacity.
                self.arena = BytesMut::with_capacity(MAX_PAYLOAD_BYTES * 32);
            }
            self.arena.resize(MAX_PAYLOAD_BYTES, 0);
            let n = p
                .encoder
                .encode(&p.out_pcm[..p.frame_len], &mut self.arena)?;
            self.arena.truncate(n);
            let payload = self.arena.split().freeze();
            p.out_pcm.drain(..p.frame_len);
            let frame = AudioFrame {
                payload_type: p.media.codec.payload_type,
                sequence: p.sequence,
                timestamp: p.timestamp,
                marker: p.first_out,
                payload,
            };
            p.first_out = false;
            p.sequence = p.sequence.wrapping_add(1);
            p.timestamp = p.timestamp.wrapping_add(p.ticks_per_frame);
            self.stats.frames_out += 1;
            push_bounded(
                &mut self.transmit,
                self.cfg.max_queued_frames,
                &mut self.stats.frames_dropped,
                (p.info.id, frame),
            );
        }
        Ok(())
    }
}

impl std::fmt::Debug for Mixer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mixer")
            .field("participants", &self.participants.len())
            .field("next_tick", &self.next_tick)
            .field("stats", &self.stats)
            .finish()
    }
}

impl Participant {
    fn new(
        info: ParticipantInfo,
        media: ParticipantMedia,
        cfg: &MixerConfig,
    ) -> Result<Self, Error> {
        let kind = media.codec.kind;
        let ptime_ok = match kind {
            CodecKind::Opus => matches!(media.ptime_ms, 10 | 20 | 40 | 60),
            _ => media.ptime_ms > 0 && media.ptime_ms <= 120 && media.ptime_ms % 10 == 0,
        };
        if !ptime_ok {
            return Err(Error::InvalidRequest("ptime not usable with this codec"));
        }
        let decoder = Decoder::new(kind, MIX_RATE)?;
        let up = Resampler::new(decoder.sample_rate(), MIX_RATE)?;
        let opus = OpusConfig {
            sample_rate: MIX_RATE,
            ..cfg.opus
        };
        let encoder = Encoder::new(kind, &opus)?;
        let down = Resampler::new(MIX_RATE, encoder.sample_rate())?;
        let frame_len = samples_in_ms(encoder.sample_rate(), media.ptime_ms);
        let ticks_per_frame = kind.clock_rate() / 1000 * media.ptime_ms;
        Ok(Participant {
            info,
            media,
            playout: PlayoutBuffer::new(cfg.playout_depth),
            decoded: vec![0; decoder.max_frame_samples()],
            resampled: Vec::with_capacity(samples_in_ms(MIX_RATE, 120) + 64),
            decoder,
            up,
            input: VecDeque::with_capacity(MAX_INPUT_SAMPLES + TICK_SAMPLES * 6),
            playing: false,
            last_len: 0,
            dtmf: DtmfReceiver::new(),
            frame: vec![0; TICK_SAMPLES],
            active: false,
            encoder,
            down,
            out_pcm: Vec::with_capacity(frame_len * 2 + TICK_SAMPLES),
            frame_len,
            ticks_per_frame,
            sequence: media.initial_sequence,
            timestamp: media.initial_timestamp,
            first_out: true,
            forward_offsets: None,
        })
    }

    /// Decodes (or conceals) one playout event into the input FIFO.
    fn play(&mut self, ev: PlayoutEvent, stats: &mut MixerStats) {
        match ev {
            PlayoutEvent::Packet(pkt) => match self.decoder.decode(&pkt.payload, &mut self.decoded)
            {
                Ok(n) => {
                    self.last_len = n;
                    self.push_decoded(n);
                }
                Err(_) => {
                    stats.decode_errors += 1;
                    self.conceal(1, stats);
                }
            },
            PlayoutEvent::Lost { count, .. } => self.conceal(usize::from(count), stats),
            PlayoutEvent::Resync => {}
        }
    }

    fn conceal(&mut self, frames: usize, stats: &mut MixerStats) {
        let len = self.last_len;
        if len == 0 {
            return;
        }
        let max = samples_in_ms(self.decoder.sample_rate(), MAX_CONCEAL_MS);
        let mut done = 0;
        for _ in 0..frames {
            if done + len > max {
                break;
            }
            if self.decoder.conceal(&mut self.decoded[..len]).is_err() {
                break;
            }
            stats.concealed_frames += 1;
            done += len;
            self.push_decoded(len);
        }
    }

    fn push_decoded(&mut self, n: usize) {
        let src = &self.decoded[..n];
        if self.up.is_identity() {
            self.input.extend(src.iter().copied());
        } else {
            self.resampled.clear();
            self.up.process(src, &mut self.resampled);
            self.input.extend(self.resampled.iter().copied());
        }
    }

    /// Takes this tick's 20 ms from the FIFO (silence while prebuffering or starved).
    fn take_frame(&mut self) {
        if !self.playing && self.input.len() >= PREBUFFER_SAMPLES {
            self.playing = true;
        }
        self.active = false;
        if !self.playing {
            self.frame.iter_mut().for_each(|s| *s = 0);
            return;
        }
        let n = self.input.len().min(TICK_SAMPLES);
        for (dst, src) in self.frame.iter_mut().zip(self.input.drain(..n)) {
            *dst = src;
        }
        self.frame[n..].iter_mut().for_each(|s| *s = 0);
        self.active = n > 0;
        if n < TICK_SAMPLES {
            // Starved: wait for a prebuffer again instead of playing fragments.
            self.playing = false;
        }
    }
}

/// The soft limiter applied to every mixed sample: identity up to the knee (23197, about
/// −3 dBFS), then a `tanh` curve that approaches but never passes full scale, so loud
/// overlapping talkers are compressed instead of wrapping or hard-clipping.
#[must_use]
pub fn limit(x: i32) -> i16 {
    let mag = x.unsigned_abs() as f32;
    if mag <= LIMIT_KNEE {
        return x as i16;
    }
    let room = f32::from(i16::MAX) - LIMIT_KNEE;
    let y = LIMIT_KNEE + room * ((mag - LIMIT_KNEE) / room).tanh();
    let y = y.min(f32::from(i16::MAX)) as i16;
    if x < 0 { -y } else { y }
}

fn push_bounded<T>(q: &mut VecDeque<T>, cap: usize, dropped: &mut u64, item: T) {
    if q.len() >= cap.max(1) {
        q.pop_front();
        *dropped += 1;
    }
    q.push_back(item);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_is_transparent_below_the_knee_and_bounded_above() {
        for x in [-23_000, -1, 0, 1, 1000, 23_000] {
            assert_eq!(i32::from(limit(x)), x);
        }
        let mut prev = limit(0);
        for x in (0..200_000).step_by(97) {
            let y = limit(x);
            assert!(y >= prev, "monotonic at {x}");
            assert_eq!(limit(-x), -y, "odd symmetry at {x}");
            prev = y;
        }
        assert!(limit(3 * 32_767) > 32_000);
    }
}
