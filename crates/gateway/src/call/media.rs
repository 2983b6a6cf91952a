//! The SIP leg's media of a call: the phone's RTP port, an endpoint of the gateway's
//! [`MediaEngine`], and a [`RoomSession`] toward the room, pumped by one task.
//!
//! The engine's worker receives the phone's RTP (batched, into a multi-MB socket buffer),
//! validates it, latches the peer (symmetric RTP, RFC 4961: the first valid packet's source
//! becomes the destination), counts it in the `sipbridge_rtp_*` metrics, and watches the
//! media timeouts of `[rtp]`; a timeout ends the call with cause `media_timeout`.
//!
//! Phone → room: telephone-events (RFC 4733) become room DTMF, audio frames go to the
//! room — transcoded when the codec the phone answered with differs from the session's
//! codec. Room → phone: frames are re-stamped onto one continuous
//! stream (our SSRC, sequence and a wall-clock-anchored timestamp) and digits queued with
//! [`PumpCommand::SendDigits`] are sent as telephone-events on the same stream.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use control::TimeoutCause;
use control::validate::{DTMF_PAUSE, Dtmf, DtmfStep};
use room_link::offer_answer::NegotiatedMedia;
use room_link::{AudioFrame, CloseReason, RoomEvent, RoomSession};
use rtp_relay::codec::{Codec, InputPacket, MediaPath, Transcoder, TranscoderConfig};
use rtp_relay::dtmf::{DtmfEvent, DtmfReceiver, DtmfSender, DtmfSenderConfig};
use rtp_relay::relay::Rewriter;
use rtp_relay::rtp::{RtpHeader, RtpPacket};
use rtp_relay::tone::ToneSpec;
use tokio::sync::{mpsc, watch};

use super::MediaRoutes;
use super::in_call::now;
use super::ringback::{Ringback, to_room_stream};
use crate::media::{
    EndpointConfig, LegSpec, MediaEngine, MediaError, MediaEventKind, MediaId, MediaPort, MediaRx,
    MediaTag, MediaTx, Side,
};

/// How long each sent DTMF digit lasts (ITU-T Q.24 asks for at least 40 ms; 100 ms with a
/// 0.5 s `w` pause matches common dialers).
const DTMF_DIGIT: Duration = Duration::from_millis(100);
/// Gap between two digits.
const DTMF_GAP: Duration = Duration::from_millis(60);
/// RFC 4733 volume field of sent digits, in −dBm0 (10 = −10 dBm0, a normal speech level).
const DTMF_VOLUME: u8 = 10;
/// Digits the sender holds at once (the API bounds a `dtmf` string well below this).
const DTMF_QUEUE: usize = 64;
/// Largest RTP packet handled.
const MAX_PACKET: usize = 1500;
/// Phone packets the endpoint queues for the pump (1.28 s of 20 ms audio) before it drops
/// the oldest.
const PHONE_QUEUE: usize = 64;
/// Engine events a call's pump holds (it needs only the first media timeout).
const EVENT_QUEUE: usize = 8;

/// Commands to a running pump.
#[derive(Debug)]
pub enum PumpCommand {
    /// Send these digits to the phone as RFC 4733 events (`w` pauses 0.5 s).
    SendDigits(Dtmf),
}

/// What a pump reports to its call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PumpEvent {
    /// The room ended the session.
    RoomClosed(CloseReason),
    /// The phone's media port could not be started, or the engine stopped.
    MediaFailed,
    /// No RTP from the phone within `[rtp] first_packet_timeout_s` of the answer, or none
    /// for `silence_timeout_s` after it flowed.
    MediaTimeout,
}

impl PumpEvent {
    /// How the call ends because of this event.
    pub fn end_cause(&self) -> control::service::EndCause {
        use control::service::EndCause;
        match self {
            PumpEvent::RoomClosed(CloseReason::RoomClosed) => EndCause::RoomHangup,
            PumpEvent::RoomClosed(CloseReason::LinkFailed) => EndCause::RoomLinkFailed,
            PumpEvent::MediaFailed => EndCause::Error,
            PumpEvent::MediaTimeout => EndCause::Timeout,
        }
    }

    /// The timeout cause of a call this event ends.
    pub fn timeout_cause(&self) -> Option<TimeoutCause> {
        match self {
            PumpEvent::MediaTimeout => Some(TimeoutCause::MediaTimeout),
            _ => None,
        }
    }
}

/// The phone's endpoint in the engine, released when dropped (also when the task that
/// owns it is aborted at teardown).
struct Endpoint {
    engine: MediaEngine,
    id: MediaId,
    routes: Arc<MediaRoutes>,
    tag: MediaTag,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.routes.remove(self.tag);
        self.engine.discard(self.id);
    }
}

/// The phone's RTP through the media engine, from the answer (or the early media before it)
/// to the end of the call: what arrives (validated and latched by the engine's worker), a
/// way to send toward the latched peer, and the engine's events for the call. Released when
/// dropped.
pub struct PhoneMedia {
    rx: MediaRx,
    tx: MediaTx,
    events: mpsc::Receiver<MediaEventKind>,
    _endpoint: Endpoint,
}

impl PhoneMedia {
    /// Turns the call's allocated port into an engine endpoint for the negotiated media,
    /// with the media timeouts of `[rtp]` armed from now, or, while `ringing` (early media),
    /// off until [`PhoneControl::answered`].
    ///
    /// # Errors
    /// When the engine refuses the endpoint (RTCP port unavailable, engine stopped).
    pub async fn start(
        engine: &MediaEngine,
        routes: &Arc<MediaRoutes>,
        port: MediaPort,
        negotiated: &NegotiatedMedia,
        tag: MediaTag,
        ringing: bool,
    ) -> Result<Self, MediaError> {
        // The phone sends with the payload types we declared (RFC 3264 §5.1).
        let mut leg = LegSpec::new(Codec {
            kind: negotiated.codec.kind,
            payload_type: negotiated.local_payload_type,
        });
        leg.telephone_event = negotiated.local_telephone_event;
        leg.remote_rtp = Some(negotiated.remote_rtp);
        leg.remote_rtcp = negotiated.remote_rtcp;
        leg.rtcp_mux = negotiated.rtcp_mux;
        // A phone that sends nothing by its SDP (we are sendonly, or inactive) is not
        // timed out for its silence.
        leg.watch_media = negotiated.receives();
        let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
        routes.insert(tag, events_tx);
        let config = EndpointConfig {
            tag,
            leg,
            timeouts: engine.default_timeouts(),
            ringing,
            queue: PHONE_QUEUE,
        };
        match engine.endpoint(port, config).await {
            Ok((id, rx, tx)) => Ok(Self {
                rx,
                tx,
                events,
                _endpoint: Endpoint {
                    engine: engine.clone(),
                    id,
                    routes: routes.clone(),
                    tag,
                },
            }),
            Err(e) => {
                routes.remove(tag);
                Err(e)
            }
        }
    }

    /// A handle on the endpoint's settings that stays with the call when the pump takes the
    /// media.
    pub fn control(&self) -> PhoneControl {
        PhoneControl {
            engine: self._endpoint.engine.clone(),
            id: self._endpoint.id,
        }
    }

    /// The next packet from the phone; `None` once the engine stopped.
    pub async fn recv(&mut self) -> Option<Bytes> {
        self.rx.recv().await
    }

    /// Sends toward the phone. A full send buffer or a peer not known yet loses the
    /// packet, as UDP may.
    pub fn send(&self, packet: &[u8]) {
        let _ = self.tx.send(packet);
    }
}

/// Settings of a running phone endpoint.
#[derive(Clone)]
pub struct PhoneControl {
    engine: MediaEngine,
    id: MediaId,
}

impl PhoneControl {
    /// The call was answered: the media timeouts are armed from now.
    ///
    /// # Errors
    /// When the endpoint is gone or the engine stopped.
    pub async fn answered(&self) -> Result<(), MediaError> {
        self.engine.set_ringing(self.id, false).await
    }

    /// The phone stopped sending (`held`, e.g. on hold, RFC 3264 §8.4): the media timeouts
    /// pause, as while ringing; `false` arms them again.
    ///
    /// # Errors
    /// When the endpoint is gone or the engine stopped.
    pub async fn hold(&self, held: bool) -> Result<(), MediaError> {
        self.engine.set_ringing(self.id, held).await
    }

    /// The phone's media moved (a later answer or offer named another address).
    ///
    /// # Errors
    /// When the endpoint is gone or the engine stopped.
    pub async fn set_remote(&self, negotiated: &NegotiatedMedia) -> Result<(), MediaError> {
        self.engine
            .set_remote(
                self.id,
                Side::A,
                Some(negotiated.remote_rtp),
                negotiated.remote_rtcp,
            )
            .await
    }
}

/// Everything the pump needs.
pub struct PumpSetup {
    /// The phone's media.
    pub phone: PhoneMedia,
    /// The negotiated SIP-leg media.
    pub negotiated: NegotiatedMedia,
    /// The room session.
    pub session: Arc<RoomSession>,
    /// Seeds SSRC, sequence and timestamp of the stream toward the phone (RFC 3550 §5.1).
    pub seed: u64,
    /// The stream toward the room as the ringback tone left it: the phone's audio then
    /// continues it. `None`: the phone's audio starts the stream.
    pub room_stream: Option<Rewriter>,
    /// The ringback tone (`[rtp] ringback`) [`PumpWishes::ringback`] plays.
    pub ringback: ToneSpec,
    /// What the call wants of the pump now. A `watch`: only the latest wish counts, and
    /// none is ever dropped by a full queue.
    pub wishes: watch::Receiver<PumpWishes>,
}

/// What a call wants of its pump, besides relaying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PumpWishes {
    /// The room hears ringback instead of the phone (a transfer's `play_dialtone`); back to
    /// `false`, the phone's audio continues the same stream.
    pub ringback: bool,
    /// The phone receives the room's audio. Not while it holds the call (we answered
    /// `recvonly` or `inactive`: RFC 3264 §6.1, "MUST NOT send").
    pub to_phone: bool,
}

impl Default for PumpWishes {
    fn default() -> Self {
        PumpWishes {
            ringback: false,
            to_phone: true,
        }
    }
}

/// Runs the pump until the room closes, the media fails or times out, or the task is
/// aborted.
pub async fn run(
    setup: PumpSetup,
    mut commands: mpsc::Receiver<PumpCommand>,
    events: mpsc::Sender<PumpEvent>,
) {
    let result = pump(setup, &mut commands).await;
    let _ = events.send(result).await;
}

/// The pump's loop over a running endpoint; returns why it stopped.
async fn pump(setup: PumpSetup, commands: &mut mpsc::Receiver<PumpCommand>) -> PumpEvent {
    let PumpSetup {
        mut phone,
        negotiated,
        session,
        seed,
        room_stream,
        ringback: tone,
        mut wishes,
    } = setup;
    let session = &session;
    let room_codec = session.info().media.codec;
    let phone_codec = negotiated.codec;
    let mut state = Pump::new(&negotiated, room_codec, phone_codec, seed);
    if let Some(line) = room_stream {
        state.to_room_line = line;
    }
    let mut out = vec![0u8; MAX_PACKET];
    let mut dtmf_tick = tokio::time::interval(state.ptime);
    dtmf_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // While it plays, the phone's packets do not reach the room.
    let mut ringback = wishes
        .borrow_and_update()
        .ringback
        .then(|| ringback_on(&mut state, session, seed, &tone));
    loop {
        tokio::select! {
            received = phone.rx.recv() => {
                let Some(packet) = received else { return PumpEvent::MediaFailed };
                if ringback.is_none() {
                    state.on_phone_packet(&packet, session);
                }
            }
            event = session.recv() => match event {
                Some(RoomEvent::Audio(frame)) => {
                    if wishes.borrow().to_phone {
                        for packet in state.packets_for_phone(frame, &mut out) {
                            phone.send(&packet);
                        }
                    }
                }
                Some(RoomEvent::Closed(reason)) => return PumpEvent::RoomClosed(reason),
                // A digit pressed in the room reaches the phone as RFC 4733 events when
                // they were negotiated (the phone leg has no other DTMF path).
                Some(RoomEvent::Dtmf { digit, .. }) => state.queue_room_digit(digit),
                Some(_) => {}
                None => return PumpEvent::RoomClosed(CloseReason::RoomClosed),
            },
            Some(event) = phone.events.recv() => {
                if let MediaEventKind::MediaTimeout { side, kind } = event {
                    tracing::info!(?side, ?kind, "no media from the phone");
                    return PumpEvent::MediaTimeout;
                }
            }
            Some(command) = commands.recv() => match command {
                PumpCommand::SendDigits(digits) => state.queue_digits(&digits),
            },
            // A closed sender (the call is ending) only disables this branch.
            Ok(()) = wishes.changed() => {
                let wanted = wishes.borrow_and_update().ringback;
                match (wanted, ringback.take()) {
                    (true, None) => ringback = Some(ringback_on(&mut state, session, seed, &tone)),
                    (false, Some(playing)) => state.to_room_line = playing.stop().await,
                    (_, playing) => ringback = playing,
                }
            }
            _ = dtmf_tick.tick(), if state.dtmf_pending() => {
                let now = now();
                let to_phone = wishes.borrow().to_phone;
                while let Some(packet) = state.poll_dtmf(now, &mut out) {
                    if to_phone {
                        phone.send(&packet);
                    }
                }
            }
        }
    }
}

/// Starts the ringback on the pump's stream toward the room (the tone is a source change
/// on it, with an SSRC, sequence and timestamp start of its own drawn from `seed`).
fn ringback_on(
    state: &mut Pump,
    session: &Arc<RoomSession>,
    seed: u64,
    tone: &ToneSpec,
) -> Ringback {
    let line = std::mem::replace(&mut state.to_room_line, to_room_stream());
    let tone_seed = seed.rotate_left(17) ^ 0x5249_4E47;
    Ringback::start_on(session, tone_seed, tone.clone(), line)
}

struct Pump {
    local_pt: u8,
    local_te: Option<u8>,
    send_pt: u8,
    clock_rate: u32,
    ptime: Duration,
    dtmf_in: DtmfReceiver,
    to_room: Option<Transcoder>,
    to_phone: Option<Transcoder>,
    room_pt: u8,
    /// SSRC, sequence and timestamp line of the stream toward the room (continuing the
    /// ringback's, if one played).
    to_room_line: Rewriter,
    /// RTP clock rate of the room's codec.
    room_clock: u32,
    // The stream toward the phone.
    ssrc: u32,
    seq: u16,
    /// Offset added to room/transcoder timestamps to land on our timeline.
    ts_offset: Option<u32>,
    last_ts: u32,
    epoch: (Instant, u32),
    dtmf_out: Option<DtmfSender>,
    pauses: std::collections::VecDeque<Option<u8>>,
    pause_until: Option<Instant>,
}

impl Pump {
    fn new(neg: &NegotiatedMedia, room: Codec, phone: Codec, seed: u64) -> Self {
        // SplitMix64 steps: enough to decorrelate SSRC, sequence and timestamp from one seed.
        let mix = |n: u64| {
            let mut z = seed.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let transcoder = |from: Codec, to: Codec| match MediaPath::decide(from, to) {
            MediaPath::PassThrough => None,
            MediaPath::Transcode => Transcoder::new(TranscoderConfig::new(from, to)).ok(),
        };
        let now = Instant::now();
        let dtmf_out = neg.telephone_event.and_then(|pt| {
            DtmfSender::new(
                DtmfSenderConfig {
                    payload_type: pt,
                    clock_rate: neg.clock_rate,
                    packet_interval: neg.ptime,
                    volume: DTMF_VOLUME,
                    gap: DTMF_GAP,
                    queue_limit: DTMF_QUEUE,
                },
                now,
                mix(3) as u32,
            )
            .ok()
        });
        Self {
            local_pt: neg.local_payload_type,
            local_te: neg.local_telephone_event,
            send_pt: neg.codec.payload_type,
            clock_rate: neg.clock_rate,
            ptime: neg.ptime,
            dtmf_in: DtmfReceiver::new(),
            to_room: transcoder(
                Codec {
                    kind: phone.kind,
                    payload_type: neg.local_payload_type,
                },
                room,
            ),
            to_phone: transcoder(room, phone),
            room_pt: room.payload_type,
            to_room_line: to_room_stream(),
            room_clock: room.kind.clock_rate(),
            ssrc: mix(1) as u32,
            seq: mix(2) as u16,
            ts_offset: None,
            last_ts: mix(3) as u32,
            epoch: (now, mix(3) as u32),
            dtmf_out,
            pauses: Default::default(),
            pause_until: None,
        }
    }

    fn on_phone_packet(&mut self, packet: &[u8], session: &RoomSession) {
        let Ok(rtp) = RtpPacket::parse(packet) else {
            return;
        };
        let pt = rtp.payload_type();
        if Some(pt) == self.local_te {
            if self
                .dtmf_in
                .handle_payload(rtp.marker(), rtp.timestamp(), rtp.payload())
                .is_ok()
            {
                while let Some(event) = self.dtmf_in.poll_event() {
                    if let (DtmfEvent::Ended { .. }, Some(digit)) = (event, event.digit()) {
                        let _ = session.send_dtmf(digit, DTMF_DIGIT);
                    }
                }
            }
            return;
        }
        if pt != self.local_pt {
            return;
        }
        let payload = Bytes::copy_from_slice(rtp.payload());
        match &mut self.to_room {
            None => {
                let out = self.to_room_line.map(
                    now(),
                    rtp.ssrc(),
                    rtp.sequence(),
                    rtp.timestamp(),
                    self.room_clock,
                );
                let _ = session.send_audio(AudioFrame {
                    payload_type: self.room_pt,
                    sequence: out.sequence,
                    timestamp: out.timestamp,
                    marker: rtp.marker() || out.marker,
                    payload,
                });
            }
            Some(transcoder) => {
                let input = InputPacket {
                    sequence: rtp.sequence(),
                    timestamp: rtp.timestamp(),
                    marker: rtp.marker(),
                    payload,
                };
                if transcoder.push(input).is_ok() {
                    while let Some(frame) = transcoder.poll_frame() {
                        // The transcoder's output is one source whatever the phone does:
                        // it carries the SSRC of our stream toward the phone.
                        let out = self.to_room_line.map(
                            now(),
                            self.ssrc,
                            frame.sequence,
                            frame.timestamp,
                            self.room_clock,
                        );
                        let _ = session.send_audio(AudioFrame {
                            payload_type: frame.payload_type,
                            sequence: out.sequence,
                            timestamp: out.timestamp,
                            marker: frame.marker || out.marker,
                            payload: frame.payload,
                        });
                    }
                }
            }
        }
    }

    /// Packets for the phone made from one room frame.
    fn packets_for_phone(&mut self, frame: AudioFrame, out: &mut [u8]) -> Vec<Bytes> {
        let frames: Vec<(u32, bool, Bytes)> = match &mut self.to_phone {
            None => vec![(frame.timestamp, frame.marker, frame.payload)],
            Some(transcoder) => {
                let input = InputPacket {
                    sequence: frame.sequence,
                    timestamp: frame.timestamp,
                    marker: frame.marker,
                    payload: frame.payload,
                };
                if transcoder.push(input).is_err() {
                    return Vec::new();
                }
                std::iter::from_fn(|| transcoder.poll_frame())
                    .map(|f| (f.timestamp, f.marker, f.payload))
                    .collect()
            }
        };
        // While a digit is being sent, audio pauses (RFC 4733 §2.5.1.2 lets the sender stop
        // audio for the event's duration).
        if self.dtmf_out.as_ref().is_some_and(DtmfSender::is_sending) {
            return Vec::new();
        }
        let mut packets = Vec::with_capacity(frames.len());
        for (ts, marker, payload) in frames {
            let offset = *self.ts_offset.get_or_insert_with(|| {
                let elapsed = self.epoch.0.elapsed();
                let now_ts = self.epoch.1.wrapping_add(ticks(elapsed, self.clock_rate));
                now_ts.wrapping_sub(ts)
            });
            let timestamp = ts.wrapping_add(offset);
            self.last_ts = timestamp;
            self.seq = self.seq.wrapping_add(1);
            let header = RtpHeader {
                marker,
                payload_type: self.send_pt,
                sequence: self.seq,
                timestamp,
                ssrc: self.ssrc,
            };
            if let Ok(n) = header.write(&payload, out) {
                packets.push(Bytes::copy_from_slice(&out[..n]));
            }
        }
        packets
    }

    fn queue_digits(&mut self, digits: &Dtmf) {
        for step in digits.steps() {
            match step {
                DtmfStep::Digit(event) => self.pauses.push_back(Some(event)),
                DtmfStep::Pause => self.pauses.push_back(None),
            }
        }
    }

    fn queue_room_digit(&mut self, digit: char) {
        match (&self.dtmf_out, rtp_relay::dtmf::event_for_digit(digit)) {
            (Some(_), Some(event)) if self.pauses.len() < DTMF_QUEUE => {
                self.pauses.push_back(Some(event));
            }
            (None, _) => tracing::debug!(%digit, "room DTMF dropped: no telephone-event"),
            _ => tracing::debug!(%digit, "room DTMF dropped"),
        }
    }

    /// Whether digits are queued here or in the sender (queued or being sent).
    fn dtmf_pending(&self) -> bool {
        !self.pauses.is_empty() || self.dtmf_busy()
    }

    fn dtmf_busy(&self) -> bool {
        self.dtmf_out
            .as_ref()
            .is_some_and(|s| s.poll_timeout().is_some())
    }

    fn poll_dtmf(&mut self, now: Instant, out: &mut [u8]) -> Option<Bytes> {
        let sender = self.dtmf_out.as_mut()?;
        if let Some(packet) = sender.poll_transmit(now) {
            self.seq = self.seq.wrapping_add(1);
            let n = packet.write(self.seq, self.ssrc, out).ok()?;
            return Some(Bytes::copy_from_slice(&out[..n]));
        }
        // One step at a time: a `w` must wait for the digits before it, and the sender
        // spaces digits itself (its `gap`).
        if sender.poll_timeout().is_some() || self.pause_until.is_some_and(|t| now < t) {
            return None;
        }
        self.pause_until = None;
        match self.pauses.pop_front()? {
            Some(event) => {
                // Anchor the event on the audio timeline we last sent.
                sender.set_clock(now, self.last_ts);
                sender.send_event(event, DTMF_DIGIT).ok()?;
                // Start it now rather than on the next tick.
                let packet = sender.poll_transmit(now)?;
                self.seq = self.seq.wrapping_add(1);
                let n = packet.write(self.seq, self.ssrc, out).ok()?;
                Some(Bytes::copy_from_slice(&out[..n]))
            }
            None => {
                self.pause_until = Some(now + DTMF_PAUSE);
                None
            }
        }
    }
}

fn ticks(elapsed: Duration, clock_rate: u32) -> u32 {
    (elapsed.as_micros() as u64 * u64::from(clock_rate) / 1_000_000) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use control::validate::Dtmf;
    use rtp_relay::codec::CodecKind;
    use rtp_relay::dtmf::TelephoneEvent;

    fn negotiated() -> NegotiatedMedia {
        NegotiatedMedia {
            media_index: 0,
            remote_rtp: "127.0.0.1:40000".parse().expect("addr"),
            remote_rtcp: None,
            rtcp_mux: true,
            codec: Codec::with_default_pt(CodecKind::Pcmu),
            local_payload_type: 0,
            clock_rate: 8000,
            telephone_event: Some(101),
            local_telephone_event: Some(101),
            ptime: Duration::from_millis(20),
            direction: sip_message::sdp::Direction::SendRecv,
        }
    }

    /// (time since start, event, end bit) of every telephone-event packet sent for `digits`,
    /// driving the pump the way its task does: a tick every ptime while digits are pending.
    fn sent(digits: &str) -> Vec<(Duration, u8, bool)> {
        let pcmu = Codec::with_default_pt(CodecKind::Pcmu);
        let mut pump = Pump::new(&negotiated(), pcmu, pcmu, 1);
        let dtmf = Dtmf::parse(digits).expect("valid digits");
        pump.queue_digits(&dtmf);
        let start = Instant::now();
        let mut out = vec![0u8; MAX_PACKET];
        let mut packets = Vec::new();
        for tick in 0..500 {
            if !pump.dtmf_pending() {
                break;
            }
            let now = start + Duration::from_millis(20 * tick);
            while let Some(packet) = pump.poll_dtmf(now, &mut out) {
                let rtp = RtpPacket::parse(&packet).expect("RTP");
                let te = TelephoneEvent::parse(rtp.payload()).expect("telephone-event");
                packets.push((now - start, te.event, te.end));
            }
        }
        packets
    }

    /// Digits pressed in the room reach the phone as telephone-events (`#` is event 11),
    /// and a phone leg without telephone-event drops them instead of queueing forever.
    #[test]
    fn room_digits_reach_the_phone_as_telephone_events() {
        let pcmu = Codec::with_default_pt(CodecKind::Pcmu);
        let mut pump = Pump::new(&negotiated(), pcmu, pcmu, 1);
        pump.queue_room_digit('#');
        pump.queue_room_digit('x');
        let start = Instant::now();
        let mut out = vec![0u8; MAX_PACKET];
        let mut events = Vec::new();
        for tick in 0..100 {
            if !pump.dtmf_pending() {
                break;
            }
            while let Some(packet) =
                pump.poll_dtmf(start + Duration::from_millis(20 * tick), &mut out)
            {
                let rtp = RtpPacket::parse(&packet).expect("RTP");
                assert_eq!(rtp.payload_type(), 101);
                events.push(TelephoneEvent::parse(rtp.payload()).expect("event").event);
            }
        }
        assert!(
            !events.is_empty() && events.iter().all(|e| *e == 11),
            "{events:?}"
        );

        let no_te = NegotiatedMedia {
            telephone_event: None,
            local_telephone_event: None,
            ..negotiated()
        };
        let mut pump = Pump::new(&no_te, pcmu, pcmu, 1);
        pump.queue_room_digit('5');
        assert!(!pump.dtmf_pending());
    }

    #[test]
    fn room_link_failure_is_its_own_end_cause() {
        use control::service::EndCause;
        assert_eq!(
            PumpEvent::RoomClosed(CloseReason::LinkFailed).end_cause(),
            EndCause::RoomLinkFailed
        );
        assert_eq!(
            PumpEvent::RoomClosed(CloseReason::RoomClosed).end_cause(),
            EndCause::RoomHangup
        );
        assert_eq!(PumpEvent::MediaFailed.end_cause(), EndCause::Error);
        assert_eq!(PumpEvent::MediaFailed.timeout_cause(), None);
        // No RTP from the phone is a timeout with its own named cause.
        assert_eq!(PumpEvent::MediaTimeout.end_cause(), EndCause::Timeout);
        assert_eq!(
            PumpEvent::MediaTimeout.timeout_cause(),
            Some(TimeoutCause::MediaTimeout)
        );
    }

    /// Regression: the last queued digit was never sent, because the pump stopped ticking
    /// as soon as nothing was "being sent", while the digit still sat in the sender's queue.
    #[test]
    fn every_digit_is_sent_with_three_end_packets() {
        let packets = sent("1");
        let ends = packets.iter().filter(|(_, e, end)| *e == 1 && *end).count();
        assert_eq!(ends, 3, "{packets:?}");

        let packets = sent("12#");
        for event in [1, 2, 11] {
            let ends = packets
                .iter()
                .filter(|(_, e, end)| *e == event && *end)
                .count();
            assert_eq!(ends, 3, "event {event}: {packets:?}");
        }
    }

    #[test]
    fn w_pauses_half_a_second_between_digits() {
        let packets = sent("1w2");
        let last_of_1 = packets
            .iter()
            .filter(|(_, e, _)| *e == 1)
            .map(|p| p.0)
            .max()
            .expect("1 sent");
        let first_of_2 = packets
            .iter()
            .filter(|(_, e, _)| *e == 2)
            .map(|p| p.0)
            .min()
            .expect("2 sent");
        assert!(
            first_of_2 >= last_of_1 + DTMF_PAUSE,
            "1 ended at {last_of_1:?}, 2 began at {first_of_2:?}"
        );
    }

    #[test]
    fn the_phone_stream_continues_where_the_ringback_left_off() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        // (sequence, timestamp, marker) of a phone frame toward the room, as the pump sends it.
        let send = |line: &mut Rewriter, at, seq, ts, marker| {
            let out = line.map(at, 0x0b0e, seq, ts, 8000);
            (out.sequence, out.timestamp, marker || out.marker)
        };
        // Without a ringback the phone's numbering passes unchanged.
        let mut none = to_room_stream();
        assert_eq!(send(&mut none, ms(0), 7, 1000, false), (7, 1000, false));

        // The ringback's last frame: sequence 65,534, timestamp 2^32 − 261.
        let mut line = to_room_stream();
        let _ = line.map(ms(0), 0x7013, 65_534, u32::MAX - 260, 8000);
        // The first phone frame, 20 ms later, lands right after it, marked as a new
        // talkspurt ...
        assert_eq!(
            send(&mut line, ms(20), 500, 8000, false),
            (65_535, u32::MAX - 100, true)
        );
        // ... later ones keep their distance to it, across the wrap-around, loss included.
        assert_eq!(send(&mut line, ms(40), 501, 8160, false), (0, 59, false));
        assert_eq!(send(&mut line, ms(80), 503, 8480, false), (2, 379, false));
        // A late packet stays before the ones after it.
        assert_eq!(send(&mut line, ms(81), 502, 8320, false), (1, 219, false));
        // The phone's own marker bits pass.
        assert_eq!(send(&mut line, ms(100), 504, 8640, true), (3, 539, true));
    }
}
