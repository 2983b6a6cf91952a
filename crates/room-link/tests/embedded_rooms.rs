//! Embedded rooms through the `RoomLink` API, in paused tokio time: rooms appear on first
//! join and disappear when empty, sessions hear each other, join/leave/close events arrive,
//! and a dropped handle leaves the room.

use std::time::Duration;

use bytes::Bytes;
use room_link::embedded::{EmbeddedConfig, EmbeddedRooms};
use room_link::{
    AudioFrame, CloseReason, JoinRequest, MediaCapabilities, RoomEvent, RoomLink, RoomSession,
};
use rtp_relay::analysis::tone_power;
use rtp_relay::codec::{Codec, CodecKind, Decoder, Encoder, OpusConfig, samples_in_ms};

fn request(room: &str, who: &str, codec: CodecKind) -> JoinRequest {
    JoinRequest {
        room: room.to_owned(),
        identity: who.to_owned(),
        name: who.to_uppercase(),
        attributes: vec![("role".to_owned(), "caller".to_owned())],
        media: MediaCapabilities {
            codecs: vec![Codec::with_default_pt(codec)],
            telephone_event: Some(101),
            ptime: Duration::from_millis(20),
        },
    }
}

fn deadline() -> std::time::Instant {
    tokio::time::Instant::now().into_std() + Duration::from_secs(5)
}

async fn join(rooms: &EmbeddedRooms, room: &str, who: &str, codec: CodecKind) -> RoomSession {
    rooms
        .join(request(room, who, codec), deadline())
        .await
        .unwrap_or_else(|e| panic!("{who} join: {e}"))
}

/// Waits (in paused time) until `f` holds, bounded.
async fn eventually(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    f()
}

fn drain(s: &RoomSession, audio: &mut Vec<AudioFrame>, events: &mut Vec<RoomEvent>) {
    // Bounded by the session queue sizes.
    while let Some(ev) = s.try_recv() {
        match ev {
            RoomEvent::Audio(f) => audio.push(f),
            other => events.push(other),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn three_sessions_hear_each_other_and_the_room_goes_away_when_empty() {
    let rooms = EmbeddedRooms::new(EmbeddedConfig::default());
    assert_eq!(rooms.kind(), "embedded");
    let kinds = [CodecKind::Pcmu, CodecKind::G722, CodecKind::Opus];
    let freqs = [500.0f64, 1000.0, 1500.0];
    let names = ["a", "b", "c"];
    let mut sessions = Vec::new();
    for (k, n) in kinds.iter().zip(names) {
        sessions.push(join(&rooms, "lobby", n, *k).await);
    }
    assert_eq!(rooms.rooms(), vec!["lobby".to_owned()]);
    for (s, k) in sessions.iter().zip(kinds) {
        assert_eq!(
            s.info().media.codec.kind,
            k,
            "session codec is the phone's own"
        );
        assert_eq!(s.info().room, "lobby");
    }

    let opus = OpusConfig::default();
    let mut encoders: Vec<Encoder> = kinds
        .iter()
        .map(|k| Encoder::new(*k, &opus).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let mut phases = [0.0f64; 3];
    let mut audio: Vec<Vec<AudioFrame>> = vec![Vec::new(); 3];
    let mut events: Vec<Vec<RoomEvent>> = vec![Vec::new(); 3];
    let mut interval = tokio::time::interval(Duration::from_millis(20));
    for n in 0..75u32 {
        interval.tick().await;
        for i in 0..3 {
            let rate = encoders[i].sample_rate();
            let pcm: Vec<i16> = (0..samples_in_ms(rate, 20))
                .map(|_| {
                    let v = (2.0 * std::f64::consts::PI * phases[i]).sin() * 0.3;
                    phases[i] = (phases[i] + freqs[i] / f64::from(rate)).fract();
                    (v * 32767.0) as i16
                })
                .collect();
            let mut out = vec![0u8; 1500];
            let len = encoders[i]
                .encode(&pcm, &mut out)
                .unwrap_or_else(|e| panic!("{e}"));
            out.truncate(len);
            let step = kinds[i].clock_rate() / 50;
            sessions[i]
                .send_audio(AudioFrame {
                    payload_type: Codec::with_default_pt(kinds[i]).payload_type,
                    sequence: n as u16,
                    timestamp: n * step,
                    marker: n == 0,
                    payload: Bytes::from(out),
                })
                .unwrap_or_else(|e| panic!("{e}"));
            drain(&sessions[i], &mut audio[i], &mut events[i]);
        }
    }
    for i in 0..3 {
        let mut dec = Decoder::new(kinds[i], 16_000).unwrap_or_else(|e| panic!("{e}"));
        let mut pcm = Vec::new();
        let mut buf = vec![0i16; dec.max_frame_samples()];
        for f in &audio[i] {
            let n = dec
                .decode(&f.payload, &mut buf)
                .unwrap_or_else(|e| panic!("{e}"));
            pcm.extend_from_slice(&buf[..n]);
        }
        let rate = dec.sample_rate();
        let tail = &pcm[samples_in_ms(rate, 300).min(pcm.len())..];
        assert!(
            tail.len() > samples_in_ms(rate, 600),
            "{}: too little audio",
            names[i]
        );
        let pw: Vec<f64> = freqs.iter().map(|&f| tone_power(tail, rate, f)).collect();
        for j in 0..3 {
            if j != i {
                assert!(
                    pw[j] > 0.02,
                    "{} does not hear {}: {pw:?}",
                    names[i],
                    names[j]
                );
                assert!(pw[i] * 1000.0 < pw[j], "{} hears itself: {pw:?}", names[i]);
            }
        }
    }
    // a learned of b and c, b of a (at its join) and c, c of a and b.
    for (i, e) in events.iter().enumerate() {
        let joined: Vec<&str> = e
            .iter()
            .filter_map(|ev| match ev {
                RoomEvent::ParticipantJoined(p) => Some(p.identity.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(joined.len(), 2, "{}: {e:?}", names[i]);
        assert!(e.iter().all(|ev| match ev {
            RoomEvent::ParticipantJoined(p) =>
                p.attributes == vec![("role".to_owned(), "caller".to_owned())]
                    && p.name == p.identity.to_uppercase(),
            _ => true,
        }));
        assert!(!joined.contains(&names[i]));
    }

    let mut it = sessions.into_iter();
    let (a, b, c) = match (it.next(), it.next(), it.next()) {
        (Some(a), Some(b), Some(c)) => (a, b, c),
        _ => panic!("three sessions"),
    };
    a.leave().await.unwrap_or_else(|e| panic!("{e}"));
    let mut seen_left = false;
    for _ in 0..100 {
        if let Ok(Some(RoomEvent::ParticipantLeft(p))) =
            tokio::time::timeout(Duration::from_millis(50), b.recv()).await
        {
            assert_eq!(p.identity, "a");
            seen_left = true;
            break;
        }
    }
    assert!(seen_left, "b is told that a left");
    b.leave().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rooms.rooms(), vec!["lobby".to_owned()], "c is still there");
    c.leave().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        eventually(|| rooms.rooms().is_empty()).await,
        "the empty room is removed"
    );

    // A new join creates the room afresh.
    let d = join(&rooms, "lobby", "d", CodecKind::Pcma).await;
    assert_eq!(rooms.rooms(), vec!["lobby".to_owned()]);
    d.leave().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(eventually(|| rooms.rooms().is_empty()).await);
}

#[tokio::test(start_paused = true)]
async fn closing_a_room_ends_every_session() {
    let rooms = EmbeddedRooms::new(EmbeddedConfig::default());
    let a = join(&rooms, "r", "a", CodecKind::Pcmu).await;
    let b = join(&rooms, "r", "b", CodecKind::Opus).await;
    let other = join(&rooms, "elsewhere", "x", CodecKind::Pcmu).await;
    assert_eq!(rooms.rooms(), vec!["elsewhere".to_owned(), "r".to_owned()]);
    assert!(rooms.close_room("r"));
    assert!(!rooms.close_room("nope"));
    for s in [&a, &b] {
        let mut closed = false;
        // recv ends with None after Closed; bounded by the queue size.
        for _ in 0..1000 {
            match s.recv().await {
                Some(RoomEvent::Closed(CloseReason::RoomClosed)) => closed = true,
                Some(_) => {}
                None => break,
            }
        }
        assert!(closed);
        assert!(
            s.send_audio(AudioFrame {
                payload_type: 0,
                sequence: 0,
                timestamp: 0,
                marker: false,
                payload: Bytes::from_static(&[0xff; 160]),
            })
            .is_err()
        );
    }
    assert!(eventually(|| rooms.rooms() == vec!["elsewhere".to_owned()]).await);
    // Leaving a closed room is not an error.
    a.leave().await.unwrap_or_else(|e| panic!("{e}"));
    other.leave().await.unwrap_or_else(|e| panic!("{e}"));
}

// Regression: a handle dropped right after sending digits used to leave before the room
// drained its queue, losing the digits.
#[tokio::test(start_paused = true)]
async fn a_dropped_handle_leaves_and_digits_reach_the_others() {
    let rooms = EmbeddedRooms::new(EmbeddedConfig::default());
    let a = join(&rooms, "r", "a", CodecKind::Pcmu).await;
    let b = join(&rooms, "r", "b", CodecKind::G722).await;
    for d in ['1', '2', '#'] {
        b.send_dtmf(d, Duration::from_millis(80))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    assert!(b.send_dtmf('x', Duration::from_millis(80)).is_err());
    let mut digits = Vec::new();
    let mut left = false;
    drop(b);
    for _ in 0..500 {
        match tokio::time::timeout(Duration::from_millis(50), a.recv()).await {
            Ok(Some(RoomEvent::Dtmf { digit, .. })) => digits.push(digit),
            Ok(Some(RoomEvent::ParticipantLeft(p))) => {
                assert_eq!(p.identity, "b");
                left = true;
                break;
            }
            Ok(Some(_)) | Err(_) => {}
            Ok(None) => break,
        }
    }
    assert!(left, "a is told that b's dropped handle left");
    assert_eq!(digits, vec!['1', '2', '#']);
    a.leave().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(eventually(|| rooms.rooms().is_empty()).await);
}

#[tokio::test(start_paused = true)]
async fn a_lagging_gateway_loses_the_oldest_audio_not_memory() {
    let cfg = EmbeddedConfig::default();
    let rooms = EmbeddedRooms::new(cfg);
    // Different codecs, so the room mixes (and sends b a frame every 20 ms) rather than
    // passing a's (absent) packets through.
    let a = join(&rooms, "r", "a", CodecKind::Pcmu).await;
    let b = join(&rooms, "r", "b", CodecKind::Pcma).await;
    // Nobody drains b for two seconds: 100 frames arrive for a queue of 32.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stats = b.stats();
    assert!(stats.inbound.media_dropped >= 60, "{stats:?}");
    let mut frames = Vec::new();
    while let Some(ev) = b.try_recv() {
        if let RoomEvent::Audio(f) = ev {
            frames.push(f);
        }
    }
    assert_eq!(frames.len(), cfg.queues.audio, "bounded queue, newest kept");
    // The newest frames were kept: consecutive sequence numbers up to the last one sent.
    for w in frames.windows(2) {
        assert_eq!(w[1].sequence, w[0].sequence.wrapping_add(1));
    }
    a.leave().await.unwrap_or_else(|e| panic!("{e}"));
    b.leave().await.unwrap_or_else(|e| panic!("{e}"));
}
