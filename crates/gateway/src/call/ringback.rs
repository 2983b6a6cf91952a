//! The ringing tone an outbound call plays into its room while the callee rings
//! (`CreateSIPParticipant.play_dialtone`): the room's participants hear that the phone is
//! ringing instead of silence.
//!
//! The tone is `[rtp] ringback`'s (the North American 440 + 480 Hz at −19 dBm0, 2 s on, 4 s
//! off, or the European 425 Hz; `rtp_relay::tone`), encoded in the session's codec and paced
//! by the session's `ptime`.
//! Its frames go through an RTP [`Rewriter`] that it hands over at the answer: the phone's
//! audio is then a source change on the same output stream (sequence continued, timestamp
//! advanced by the time between them, marker set; RFC 3550 §7), so the room's jitter buffer
//! sees one stream, not a jump it might take for loss.

use std::sync::{Arc, Weak};

use bytes::Bytes;
use room_link::{AudioFrame, RoomSession};
use rtp_relay::codec::{Encoder, MAX_PAYLOAD_BYTES, OpusConfig, samples_in_ms};
use rtp_relay::relay::{Rewrite, Rewriter};
use rtp_relay::tone::{ToneGenerator, ToneSpec};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A ringback tone playing into a room. Dropped, it stops at its next frame.
pub struct Ringback {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Rewriter>,
}

impl Ringback {
    /// Starts the tone into `session`; `seed` picks its SSRC, first sequence number and
    /// timestamp (RFC 3550 §5.1: random starting points).
    pub fn start(session: &Arc<RoomSession>, seed: u64, tone: ToneSpec) -> Self {
        Self::start_on(session, seed, tone, to_room_stream())
    }

    /// Starts the tone on an existing stream toward the room (`line`, e.g. the phone's
    /// during a transfer): the tone is a source change on it, as the phone is after it.
    ///
    /// The tone's task holds the session only while it sends a frame, so the call can still
    /// leave the room itself (`Arc::try_unwrap`) the moment it drops the tone.
    pub fn start_on(session: &Arc<RoomSession>, seed: u64, tone: ToneSpec, line: Rewriter) -> Self {
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(play(Arc::downgrade(session), stopped, seed, tone, line));
        Ringback { stop, task }
    }

    /// Stops the tone and returns the rewriter of the stream toward the room, for the
    /// phone's audio to continue it.
    pub async fn stop(self) -> Rewriter {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_else(|_| to_room_stream())
    }
}

/// The rewriter of a stream toward a room: the first source passes untouched, a later one
/// continues it.
pub fn to_room_stream() -> Rewriter {
    Rewriter::new(Rewrite::OnSourceChange, &[])
}

async fn play(
    session: Weak<RoomSession>,
    mut stopped: oneshot::Receiver<()>,
    seed: u64,
    tone: ToneSpec,
    mut line: Rewriter,
) -> Rewriter {
    let Some(media) = session.upgrade().map(|s| s.info().media) else {
        return line;
    };
    let mut encoder = match Encoder::new(media.codec.kind, &OpusConfig::default()) {
        Ok(e) => e,
        Err(err) => {
            tracing::warn!(%err, codec = ?media.codec.kind, "cannot encode ringback for the room");
            return line;
        }
    };
    let clock_rate = media.codec.kind.clock_rate();
    let ptime_ms = u32::try_from(media.ptime.as_millis()).unwrap_or(20).max(1);
    let mut pcm = vec![0i16; samples_in_ms(encoder.sample_rate(), ptime_ms)];
    let ticks = clock_rate / 1000 * ptime_ms;
    let mut generator = ToneGenerator::new(tone, encoder.sample_rate());
    let mut out = vec![0u8; MAX_PAYLOAD_BYTES];
    let ssrc = seed as u32;
    let mut sequence = (seed >> 16) as u16;
    let mut timestamp = (seed >> 32) as u32;
    let mut first = true;
    let mut tick = tokio::time::interval(media.ptime);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            _ = tick.tick() => {
                generator.fill(&mut pcm);
                let Ok(n) = encoder.encode(&pcm, &mut out) else { break };
                let now = super::in_call::now();
                let header = line.map(now, ssrc, sequence, timestamp, clock_rate);
                let frame = AudioFrame {
                    payload_type: media.codec.payload_type,
                    sequence: header.sequence,
                    timestamp: header.timestamp,
                    // The tone's first frame starts a talkspurt (RFC 3551 §4.1).
                    marker: std::mem::take(&mut first),
                    payload: Bytes::copy_from_slice(&out[..n]),
                };
                let sent = session.upgrade().is_some_and(|s| s.send_audio(frame).is_ok());
                if !sent {
                    break;
                }
                sequence = sequence.wrapping_add(1);
                timestamp = timestamp.wrapping_add(ticks);
            }
        }
    }
    line
}
