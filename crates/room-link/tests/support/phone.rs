//! The phone side of a room session in tests: plays a tone in the session codec in real
//! time and decodes what comes back.

#![allow(dead_code)] // each test binary uses a different part

use std::time::{Duration, Instant};

use bytes::Bytes;
use room_link::{AudioFrame, RoomEvent, RoomSession};
use rtp_relay::codec::{Decoder, Encoder, OpusConfig};
use rtp_relay::tone::{Cadence, ToneGenerator, ToneSpec};

/// Safety bound on every wait in these tests (not a speed assertion).
pub const BOUND: Duration = Duration::from_secs(10);

/// Sends a `hz` tone in the session codec for `duration` in real time, and decodes whatever
/// comes back; returns the decoded audio, its rate and the events other than audio.
pub async fn talk(
    session: &RoomSession,
    hz: f64,
    duration: Duration,
) -> (Vec<i16>, u32, Vec<RoomEvent>) {
    let codec = session.info().media.codec;
    let mut enc =
        Encoder::new(codec.kind, &OpusConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    let rate = enc.sample_rate();
    let mut dec = Decoder::new(codec.kind, rate).unwrap_or_else(|e| panic!("{e}"));
    let mut tone = ToneGenerator::new(ToneSpec::new(&[(hz, 0.3)], Cadence::continuous()), rate);
    let frame = rate as usize / 50;
    let mut pcm = vec![0i16; frame];
    let mut out = vec![0u8; 1500];
    let mut dec_buf = vec![0i16; 5760];
    let mut heard = Vec::new();
    let mut events = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let (mut seq, mut ts) = (1u16, 0u32);
    let end = Instant::now() + duration;
    while Instant::now() < end {
        tick.tick().await;
        tone.fill(&mut pcm);
        let n = enc.encode(&pcm, &mut out).unwrap_or_else(|e| panic!("{e}"));
        session
            .send_audio(AudioFrame {
                payload_type: codec.payload_type,
                sequence: seq,
                timestamp: ts,
                marker: false,
                payload: Bytes::copy_from_slice(&out[..n]),
            })
            .unwrap_or_else(|e| panic!("{e}"));
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(codec.kind.ticks_for_samples(frame as u64, rate) as u32);
        while let Some(ev) = session.try_recv() {
            match ev {
                RoomEvent::Audio(f) => {
                    assert_eq!(f.payload_type, codec.payload_type);
                    if let Ok(k) = dec.decode(&f.payload, &mut dec_buf) {
                        heard.extend_from_slice(&dec_buf[..k]);
                    }
                }
                other => events.push(other),
            }
        }
    }
    (heard, rate, events)
}

/// The last half second of `pcm`.
pub fn last_half_second(pcm: &[i16], rate: u32) -> &[i16] {
    &pcm[pcm.len().saturating_sub(rate as usize / 2)..]
}

/// The next event that is not audio; `None` when the session ended. Panics after BOUND.
pub async fn next_event(session: &RoomSession) -> Option<RoomEvent> {
    loop {
        match tokio::time::timeout(BOUND, session.recv()).await {
            Ok(Some(RoomEvent::Audio(_))) => {}
            Ok(other) => return other,
            Err(_) => panic!("no event within {BOUND:?}"),
        }
    }
}
