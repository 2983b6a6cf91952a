//! The room's audio toward the gateway: one stream, whatever the room sends.
//!
//! A room that sends one audio stream (one SSRC: an MCU's mix, a voice agent) has it passed
//! through untouched, only the payload type renumbered. A room that sends several (an SFU
//! forwarding each speaker's SSRC on the one audio m-line) has them mixed: the phone leg
//! carries one stream (RFC 3550 §7.1: a mixer makes one SSRC of several), so from the
//! second SSRC on every stream is decoded, summed and re-encoded by the embedded rooms'
//! mix-minus [`Mixer`], in which the phone is a listener that sends nothing and so hears
//! the sum of all. The mixed stream continues the pass-through one's sequence numbers and
//! timestamps. A stream silent for [`TRACK_IDLE`] leaves the mix.
//!
//! Sans-IO: `handle_audio(now, …)` and `handle_timeout(now)` in, [`Tracks::poll_frame`] and
//! [`Tracks::poll_timeout`] out.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rtp_relay::codec::Codec;

use crate::embedded::{Mixer, MixerConfig, ParticipantMedia};
use crate::session::{AudioFrame, ParticipantId};

/// A room stream that sent nothing for this long leaves the mix.
pub(super) const TRACK_IDLE: Duration = Duration::from_secs(2);
/// Most room streams mixed at once; more are ignored.
const MAX_TRACKS: usize = 16;
/// Most frames held for [`Tracks::poll_frame`].
const MAX_QUEUED: usize = 64;

/// One room stream in the mix.
struct Track {
    ssrc: u32,
    id: ParticipantId,
    last_seen: Instant,
}

/// See the module docs.
pub(super) struct Tracks {
    /// The session's codec (payload type as the gateway knows it).
    api: Codec,
    /// The codec as it arrives from the room (the answer's payload type).
    wire: Codec,
    /// RTP clock ticks per 20 ms frame.
    frame_ticks: u32,
    /// The SSRC passed through while there is only one.
    single: Option<u32>,
    /// Last sequence number and timestamp handed to the gateway.
    last: Option<(u16, u32)>,
    mixing: Option<Mixing>,
    out: VecDeque<AudioFrame>,
    /// Frames dropped because the gateway did not take them.
    pub(super) dropped: u64,
}

struct Mixing {
    mixer: Mixer,
    listener: ParticipantId,
    tracks: Vec<Track>,
}

impl Tracks {
    /// Streams of `wire` from the room, handed to the gateway as `api`.
    pub(super) fn new(api: Codec, wire: Codec) -> Self {
        Tracks {
            api,
            wire,
            frame_ticks: api.kind.clock_rate() / 50,
            single: None,
            last: None,
            mixing: None,
            out: VecDeque::with_capacity(4),
            dropped: 0,
        }
    }

    /// An audio frame of stream `ssrc` from the room (payload type `wire`'s).
    pub(super) fn handle_audio(&mut self, now: Instant, ssrc: u32, frame: AudioFrame) {
        if self.mixing.is_none() {
            match self.single {
                None => self.single = Some(ssrc),
                Some(s) if s != ssrc => self.start_mixing(now),
                Some(_) => {}
            }
        }
        match &mut self.mixing {
            None => {
                self.last = Some((frame.sequence, frame.timestamp));
                self.push(AudioFrame {
                    payload_type: self.api.payload_type,
                    ..frame
                });
            }
            Some(m) => {
                let id = match m.tracks.iter_mut().find(|t| t.ssrc == ssrc) {
                    Some(t) => {
                        t.last_seen = now;
                        Some(t.id)
                    }
                    None => m.add_track(now, ssrc, self.wire),
                };
                if let Some(id) = id {
                    m.mixer.handle_audio(now, id, &frame);
                }
            }
        }
    }

    /// Runs the mixer's periods due at `now`.
    pub(super) fn handle_timeout(&mut self, now: Instant) {
        let Some(m) = &mut self.mixing else {
            return;
        };
        if let Err(e) = m.mixer.handle_timeout(now) {
            tracing::debug!(error = %e, "webrtc room link: mixing failed");
        }
        let mut mixed = Vec::new();
        while let Some((to, frame)) = m.mixer.poll_transmit() {
            // Only the phone's mix is wanted; the room streams' own are a by-product.
            if to == m.listener {
                mixed.push(frame);
            }
        }
        while m.mixer.poll_event().is_some() {}
        let mixer = &mut m.mixer;
        m.tracks.retain(|t| {
            let live = now.saturating_duration_since(t.last_seen) < TRACK_IDLE;
            if !live {
                mixer.remove_participant(t.id);
            }
            live
        });
        for frame in mixed {
            self.push(frame);
        }
    }

    /// When [`Tracks::handle_timeout`] is due; `None` while passing through.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.mixing.as_ref().and_then(|m| m.mixer.poll_timeout())
    }

    /// The next frame for the gateway.
    pub(super) fn poll_frame(&mut self) -> Option<AudioFrame> {
        self.out.pop_front()
    }

    /// Whether several room streams are being mixed.
    #[cfg(test)]
    fn is_mixing(&self) -> bool {
        self.mixing.is_some()
    }

    fn push(&mut self, frame: AudioFrame) {
        if self.out.len() >= MAX_QUEUED {
            self.out.pop_front();
            self.dropped += 1;
        }
        self.out.push_back(frame);
    }

    fn start_mixing(&mut self, now: Instant) {
        let mut mixer = Mixer::new(MixerConfig {
            max_participants: MAX_TRACKS + 1,
            // The phone must hear a mix even of one remaining stream, on one timeline.
            two_party_passthrough: false,
            ..MixerConfig::default()
        });
        let (sequence, timestamp) = self.last.unwrap_or((0, 0));
        let listener = mixer.add_participant(
            now,
            "phone",
            "",
            &[],
            ParticipantMedia {
                codec: self.api,
                telephone_event: None,
                ptime_ms: 20,
                // The phone leg's stream is re-stamped by the gateway; this one is ours.
                ssrc: 0,
                initial_sequence: sequence.wrapping_add(1),
                initial_timestamp: timestamp.wrapping_add(self.frame_ticks),
            },
        );
        let Ok(listener) = listener else {
            tracing::warn!("webrtc room link: cannot mix the room's streams; passing one through");
            return;
        };
        let mut m = Mixing {
            mixer,
            listener,
            tracks: Vec::new(),
        };
        if let Some(first) = self.single {
            m.add_track(now, first, self.wire);
        }
        tracing::info!("webrtc room link: the room sends several audio streams; mixing them");
        self.mixing = Some(m);
    }
}

impl Mixing {
    fn add_track(&mut self, now: Instant, ssrc: u32, wire: Codec) -> Option<ParticipantId> {
        if self.tracks.len() >= MAX_TRACKS {
            return None;
        }
        let media = ParticipantMedia {
            codec: wire,
            telephone_event: None,
            ptime_ms: 20,
            ssrc,
            initial_sequence: 0,
            initial_timestamp: 0,
        };
        match self.mixer.add_participant(now, "room", "", &[], media) {
            Ok(id) => {
                self.tracks.push(Track {
                    ssrc,
                    id,
                    last_seen: now,
                });
                Some(id)
            }
            Err(e) => {
                tracing::debug!(error = %e, ssrc, "webrtc room link: room stream not mixed");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use rtp_relay::analysis::tone_fraction;
    use rtp_relay::codec::{CodecKind, Decoder, Encoder, OpusConfig};
    use rtp_relay::tone::{Cadence, ToneGenerator, ToneSpec};

    struct Source {
        enc: Encoder,
        tone: ToneGenerator,
        seq: u16,
        ts: u32,
    }

    impl Source {
        fn new(hz: f64) -> Self {
            let enc = Encoder::new(CodecKind::Opus, &OpusConfig::default())
                .unwrap_or_else(|e| panic!("{e}"));
            let rate = enc.sample_rate();
            Source {
                enc,
                tone: ToneGenerator::new(ToneSpec::new(&[(hz, 0.2)], Cadence::continuous()), rate),
                seq: 100,
                ts: 5000,
            }
        }

        fn frame(&mut self, pt: u8) -> AudioFrame {
            let mut pcm = vec![0i16; self.enc.sample_rate() as usize / 50];
            self.tone.fill(&mut pcm);
            let mut out = vec![0u8; 1500];
            let n = self
                .enc
                .encode(&pcm, &mut out)
                .unwrap_or_else(|e| panic!("{e}"));
            let f = AudioFrame {
                payload_type: pt,
                sequence: self.seq,
                timestamp: self.ts,
                marker: false,
                payload: Bytes::copy_from_slice(&out[..n]),
            };
            self.seq = self.seq.wrapping_add(1);
            self.ts = self.ts.wrapping_add(960);
            f
        }
    }

    fn decode(frames: &[AudioFrame]) -> Vec<i16> {
        let mut dec = Decoder::new(CodecKind::Opus, 48_000).unwrap_or_else(|e| panic!("{e}"));
        let mut buf = vec![0i16; 5760];
        let mut pcm = Vec::new();
        for f in frames {
            if let Ok(n) = dec.decode(&f.payload, &mut buf) {
                pcm.extend_from_slice(&buf[..n]);
            }
        }
        pcm
    }

    fn codecs() -> (Codec, Codec) {
        let api = Codec {
            kind: CodecKind::Opus,
            payload_type: 96,
        };
        let wire = Codec {
            kind: CodecKind::Opus,
            payload_type: 111,
        };
        (api, wire)
    }

    #[test]
    fn one_stream_passes_through_with_the_gateways_payload_type() {
        let (api, wire) = codecs();
        let mut t = Tracks::new(api, wire);
        let mut a = Source::new(440.0);
        let now = Instant::now();
        for i in 0..10u32 {
            let f = a.frame(wire.payload_type);
            let payload = f.payload.clone();
            t.handle_audio(now + Duration::from_millis(20 * u64::from(i)), 7, f);
            let out = t.poll_frame().unwrap_or_else(|| panic!("frame {i}"));
            assert_eq!(out.payload_type, api.payload_type);
            assert_eq!(out.payload, payload);
        }
        assert!(!t.is_mixing());
        assert_eq!(t.poll_timeout(), None);
    }

    /// Two room streams (440 Hz and 1 kHz) reach the phone as one stream carrying both,
    /// continuing the first stream's numbering; a stream that goes quiet leaves the mix.
    #[test]
    fn two_streams_are_mixed_into_one() {
        let (api, wire) = codecs();
        let mut t = Tracks::new(api, wire);
        let (mut a, mut b) = (Source::new(440.0), Source::new(1000.0));
        let start = Instant::now();
        let mut got = Vec::new();
        // 0.2 s of stream a alone, then 2 s of both: 20 ms steps, timers run when due.
        for i in 0..110u64 {
            let now = start + Duration::from_millis(20 * i);
            t.handle_audio(now, 1, a.frame(wire.payload_type));
            if i >= 10 {
                t.handle_audio(now, 2, b.frame(wire.payload_type));
            }
            if t.poll_timeout().is_some_and(|d| d <= now) {
                t.handle_timeout(now);
            }
            while let Some(f) = t.poll_frame() {
                got.push(f);
            }
        }
        assert!(t.is_mixing());
        assert!(got.iter().all(|f| f.payload_type == api.payload_type));
        // One continuous stream: consecutive sequence numbers from the first frame on.
        for w in got.windows(2) {
            assert_eq!(w[1].sequence, w[0].sequence.wrapping_add(1), "{w:?}");
        }
        assert!(got.len() > 90, "{} frames", got.len());
        let pcm = decode(&got);
        let tail = &pcm[pcm.len() - 24_000..];
        assert!(
            tone_fraction(tail, 48_000, 440.0) > 0.25,
            "440 Hz in the mix"
        );
        assert!(
            tone_fraction(tail, 48_000, 1000.0) > 0.25,
            "1 kHz in the mix"
        );

        // Stream b stops: after TRACK_IDLE only a is heard.
        let mut after = Vec::new();
        for i in 110..300u64 {
            let now = start + Duration::from_millis(20 * i);
            t.handle_audio(now, 1, a.frame(wire.payload_type));
            if t.poll_timeout().is_some_and(|d| d <= now) {
                t.handle_timeout(now);
            }
            while let Some(f) = t.poll_frame() {
                after.push(f);
            }
        }
        let pcm = decode(&after);
        let tail = &pcm[pcm.len() - 24_000..];
        assert!(tone_fraction(tail, 48_000, 440.0) > 0.5, "440 Hz alone");
        assert!(tone_fraction(tail, 48_000, 1000.0) < 0.05, "1 kHz gone");
    }
}
