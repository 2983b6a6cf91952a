//! The ringing tone an outbound call plays into its room while the callee rings
//! (`CreateSIPParticipant.play_dialtone`): the room's participants hear that the phone is
//! ringing instead of silence.
//!
//! The tone is the North American ringback (440 + 480 Hz at −19 dBm0, 2 s on, 4 s off,
//! `rtp_relay::tone`), encoded in the session's codec and paced by the session's `ptime`.
//! At the answer it stops and hands over where its stream left off ([`RoomStreamStart`]),
//! so the phone's audio continues the same sequence and timestamp line (RFC 3550 §5.1): the
//! room's jitter buffer sees one stream, not a jump it might take for loss.

use std::sync::Arc;

use bytes::Bytes;
use room_link::{AudioFrame, RoomSession};
use rtp_relay::codec::{Encoder, MAX_PAYLOAD_BYTES, OpusConfig, samples_in_ms};
use rtp_relay::tone::{ToneGenerator, ToneSpec};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Where a stream toward the room left off: the next sequence number and timestamp (in the
/// session codec's RTP clock) a continuing stream should use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomStreamStart {
    /// Next RTP sequence number.
    pub sequence: u16,
    /// Next RTP timestamp.
    pub timestamp: u32,
}

/// A ringback tone playing into a room. Dropped, it stops at its next frame.
pub struct Ringback {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Option<RoomStreamStart>>,
}

impl Ringback {
    /// Starts the tone into `session`; `seed` picks the first sequence number and timestamp
    /// (RFC 3550 §5.1: random starting points).
    pub fn start(session: Arc<RoomSession>, seed: u64) -> Self {
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(play(session, stopped, seed));
        Ringback { stop, task }
    }

    /// Stops the tone and returns where its stream left off, or `None` when it sent nothing
    /// (a codec it cannot encode, or a closed session).
    pub async fn stop(self) -> Option<RoomStreamStart> {
        let _ = self.stop.send(());
        self.task.await.ok().flatten()
    }
}

async fn play(
    session: Arc<RoomSession>,
    mut stopped: oneshot::Receiver<()>,
    seed: u64,
) -> Option<RoomStreamStart> {
    let media = session.info().media;
    let mut encoder = match Encoder::new(media.codec.kind, &OpusConfig::default()) {
        Ok(e) => e,
        Err(err) => {
            tracing::warn!(%err, codec = ?media.codec.kind, "cannot encode ringback for the room");
            return None;
        }
    };
    let ptime_ms = u32::try_from(media.ptime.as_millis()).unwrap_or(20).max(1);
    let mut pcm = vec![0i16; samples_in_ms(encoder.sample_rate(), ptime_ms)];
    let ticks = media.codec.kind.clock_rate() / 1000 * ptime_ms;
    let mut generator = ToneGenerator::new(ToneSpec::ringback_us(), encoder.sample_rate());
    let mut out = vec![0u8; MAX_PAYLOAD_BYTES];
    let mut sequence = (seed >> 16) as u16;
    let mut timestamp = (seed >> 32) as u32;
    let mut sent = false;
    let mut tick = tokio::time::interval(media.ptime);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            _ = tick.tick() => {
                generator.fill(&mut pcm);
                let Ok(n) = encoder.encode(&pcm, &mut out) else { break };
                let frame = AudioFrame {
                    payload_type: media.codec.payload_type,
                    sequence,
                    timestamp,
                    marker: !sent,
                    payload: Bytes::copy_from_slice(&out[..n]),
                };
                if session.send_audio(frame).is_err() {
                    break;
                }
                sent = true;
                sequence = sequence.wrapping_add(1);
                timestamp = timestamp.wrapping_add(ticks);
            }
        }
    }
    sent.then_some(RoomStreamStart {
        sequence,
        timestamp,
    })
}
