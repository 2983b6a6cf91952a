//! The [`RoomLink`] trait and the session handle every implementation returns.
//!
//! A link joins a room as one participant per call ([`RoomLink::join`], async because most
//! links signal over the network) and hands back a [`RoomSession`]. The session is the same
//! type whatever the link: media and events travel through bounded [`Lanes`] between the
//! handle and the link's own task ([`LinkSide`]), and leaving goes through the link's
//! [`SessionControl`]. A new link (WebRTC) implements `RoomLink`, spawns its task with a
//! `LinkSide`, and needs nothing else from the gateway.
//!
//! Codecs: a join offers the gateway's codecs ([`MediaCapabilities`]); the link answers with
//! the one used on the session API ([`SessionMedia`]), always one of those offered. When it is
//! the SIP leg's own codec the gateway relays payloads untouched; otherwise the gateway
//! transcodes (it owns the `rtp_relay::codec::Transcoder`s), so no link decodes what it
//! does not have to.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtp_relay::codec::{Codec, CodecKind};

use crate::error::Error;
use crate::lanes::{Item, LaneStats, Lanes, PushError};

/// A boxed, sendable future (keeps [`RoomLink`] usable as `dyn RoomLink`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Identifies a participant within its room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId(pub u64);

impl fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "P{}", self.0)
    }
}

/// What the gateway can send and receive on the session API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaCapabilities {
    /// Codecs in order of preference, each with the payload type the gateway uses for it on
    /// the session API. Put the SIP leg's codec first: the link picks it when it can, so
    /// payloads cross untouched.
    pub codecs: Vec<Codec>,
    /// Payload type of RFC 4733 telephone-events on the session API, if the gateway passes
    /// DTMF as RTP events (it can always use [`RoomSession::send_dtmf`]).
    pub telephone_event: Option<u8>,
    /// Frame duration the gateway sends and wants to receive.
    pub ptime: Duration,
}

impl MediaCapabilities {
    /// The codec of the SIP leg the room is bridged to: the first of
    /// [`MediaCapabilities::codecs`] (the gateway lists the SIP leg's codec first), Opus
    /// when there is none (nothing to narrow to: full band).
    #[must_use]
    pub fn bridged_codec(&self) -> CodecKind {
        self.codecs.first().map_or(CodecKind::Opus, |c| c.kind)
    }
}

/// A request to join a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinRequest {
    /// Room name.
    pub room: String,
    /// Participant identity (unique in the room by convention; the link does not enforce it).
    pub identity: String,
    /// Display name.
    pub name: String,
    /// Participant attributes (key, value).
    pub attributes: Vec<(String, String)>,
    /// Media the gateway offers.
    pub media: MediaCapabilities,
}

/// The media agreed for a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionMedia {
    /// Codec and payload type of audio on the session API, both directions (one of
    /// [`MediaCapabilities::codecs`]).
    pub codec: Codec,
    /// Payload type of telephone-events on the session API, when both sides use them.
    pub telephone_event: Option<u8>,
    /// Frame duration.
    pub ptime: Duration,
}

/// A participant as others see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantInfo {
    /// Id within the room.
    pub id: ParticipantId,
    /// Identity.
    pub identity: String,
    /// Display name.
    pub name: String,
    /// Attributes given at join.
    pub attributes: Vec<(String, String)>,
}

/// One encoded audio frame (or telephone-event payload) with the RTP header fields it needs.
///
/// The payload is shared ([`Bytes`]): passing a frame through copies nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioFrame {
    /// Payload type: [`SessionMedia::codec`]'s or [`SessionMedia::telephone_event`]'s.
    pub payload_type: u8,
    /// RTP sequence number.
    pub sequence: u16,
    /// RTP timestamp in the codec's clock.
    pub timestamp: u32,
    /// RTP marker bit.
    pub marker: bool,
    /// The encoded payload.
    pub payload: Bytes,
}

/// Why a room ended for this participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The room was closed (by the registry or the room server).
    RoomClosed,
    /// The link to the room failed (media or signaling); cause `room_link_failed`.
    LinkFailed,
}

/// What a session receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomEvent {
    /// Audio for the phone.
    Audio(AudioFrame),
    /// A DTMF digit from another participant.
    Dtmf {
        /// Who pressed it.
        from: ParticipantId,
        /// `0-9 * # A-D`.
        digit: char,
    },
    /// Another participant joined.
    ParticipantJoined(ParticipantInfo),
    /// Another participant left.
    ParticipantLeft(ParticipantInfo),
    /// The room is over for this session; nothing follows.
    Closed(CloseReason),
}

/// What a session sends, apart from audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outbound {
    /// A DTMF digit to the room.
    Dtmf {
        /// `0-9 * # A-D`.
        digit: char,
        /// How long it is pressed.
        duration: Duration,
    },
}

/// Queue sizes of a session. Every queue is bounded; these are the bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueConfig {
    /// Audio frames held in each direction; the oldest is dropped beyond this (late audio
    /// is worthless). 32 frames is 640 ms of 20 ms audio.
    pub audio: usize,
    /// Events and DTMF digits held in each direction; new ones are refused beyond this.
    pub events: usize,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            audio: 32,
            events: 64,
        }
    }
}

/// Counters of a session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Frames and events toward the room (from the gateway).
    pub outbound: LaneStats,
    /// Frames and events toward the gateway (from the room).
    pub inbound: LaneStats,
}

/// How a link ends its side of a session.
pub trait SessionControl: Send + Sync {
    /// Leaves the room (signaling included, bounded by the link's configured timeout).
    fn leave(self: Box<Self>) -> BoxFuture<'static, Result<(), Error>>;

    /// The session handle was dropped without [`RoomSession::leave`]: leave without waiting,
    /// so a forgotten handle never leaks a participant.
    fn abandon(self: Box<Self>);
}

/// Something that joins rooms.
pub trait RoomLink: Send + Sync {
    /// A short name for logs and metrics (`embedded`, `rtp`, `webrtc`).
    fn kind(&self) -> &'static str;

    /// Joins `req.room` as a participant. Every network wait is bounded by `deadline` (the
    /// caller's; a link may use a shorter configured timeout, never a longer one).
    fn join(
        &self,
        req: JoinRequest,
        deadline: Instant,
    ) -> BoxFuture<'_, Result<RoomSession, Error>>;
}

pub(crate) type Inbox = Lanes<AudioFrame, RoomEvent>;
pub(crate) type Outbox = Lanes<AudioFrame, Outbound>;

/// Identity of a joined session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Room name.
    pub room: String,
    /// Our participant id in the room.
    pub participant: ParticipantId,
    /// Agreed media.
    pub media: SessionMedia,
}

/// The gateway's handle on one participant in one room.
pub struct RoomSession {
    info: SessionInfo,
    outbox: Arc<Outbox>,
    inbox: Arc<Inbox>,
    control: Option<Box<dyn SessionControl>>,
}

impl RoomSession {
    /// Creates a session handle and the link's end of it. For link implementations.
    pub fn new(
        info: SessionInfo,
        queues: QueueConfig,
        control: Box<dyn SessionControl>,
    ) -> (RoomSession, LinkSide) {
        let outbox = Arc::new(Outbox::new(queues.audio, queues.events));
        let inbox = Arc::new(Inbox::new(queues.audio, queues.events));
        let side = LinkSide {
            outbox: outbox.clone(),
            inbox: inbox.clone(),
        };
        let session = RoomSession {
            info,
            outbox,
            inbox,
            control: Some(control),
        };
        (session, side)
    }

    /// Room, participant id and agreed media.
    #[must_use]
    pub fn info(&self) -> &SessionInfo {
        &self.info
    }

    /// Sends an audio frame (or a telephone-event payload) to the room without waiting. When
    /// the link lags, the oldest queued frame is dropped and counted.
    ///
    /// # Errors
    /// [`Error::Closed`] when the session is over.
    pub fn send_audio(&self, frame: AudioFrame) -> Result<(), Error> {
        self.outbox.push_media(frame).map_err(|_| Error::Closed)
    }

    /// Sends a DTMF digit to the room.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for a character that is not a DTMF digit, [`Error::Busy`]
    /// when too many digits are queued, [`Error::Closed`] when the session is over.
    pub fn send_dtmf(&self, digit: char, duration: Duration) -> Result<(), Error> {
        if rtp_relay::dtmf::event_for_digit(digit).is_none() {
            return Err(Error::InvalidRequest("not a DTMF digit"));
        }
        let digit = digit.to_ascii_uppercase();
        self.outbox
            .push_control(Outbound::Dtmf { digit, duration })
            .map_err(|e| match e {
                PushError::Closed => Error::Closed,
                PushError::Full => Error::Busy,
            })
    }

    /// The next event (events before audio); `None` once the session is over and drained.
    pub async fn recv(&self) -> Option<RoomEvent> {
        self.inbox.pop().await.map(flatten)
    }

    /// The next event without waiting.
    pub fn try_recv(&self) -> Option<RoomEvent> {
        self.inbox.try_pop().map(flatten)
    }

    /// Drop and refusal counters of both directions.
    #[must_use]
    pub fn stats(&self) -> SessionStats {
        SessionStats {
            outbound: self.outbox.stats(),
            inbound: self.inbox.stats(),
        }
    }

    /// Leaves the room.
    ///
    /// # Errors
    /// The link's signaling errors (the participant is gone locally either way).
    pub async fn leave(mut self) -> Result<(), Error> {
        self.outbox.close();
        match self.control.take() {
            Some(c) => c.leave().await,
            None => Ok(()),
        }
    }
}

impl fmt::Debug for RoomSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoomSession")
            .field("info", &self.info)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Drop for RoomSession {
    fn drop(&mut self) {
        self.outbox.close();
        if let Some(c) = self.control.take() {
            c.abandon();
        }
    }
}

fn flatten(item: Item<AudioFrame, RoomEvent>) -> RoomEvent {
    match item {
        Item::Media(a) => RoomEvent::Audio(a),
        Item::Control(e) => e,
    }
}

/// What the link's task takes from the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromSession {
    /// An audio frame.
    Audio(AudioFrame),
    /// A command.
    Command(Outbound),
}

/// The link's end of a session: it takes what the gateway sends and delivers what the room
/// sends.
#[derive(Debug, Clone)]
pub struct LinkSide {
    outbox: Arc<Outbox>,
    inbox: Arc<Inbox>,
}

impl LinkSide {
    /// Delivers audio to the gateway (drop-oldest when it lags).
    ///
    /// # Errors
    /// [`Error::Closed`] when the session is gone.
    pub fn deliver_audio(&self, frame: AudioFrame) -> Result<(), Error> {
        self.inbox.push_media(frame).map_err(|_| Error::Closed)
    }

    /// Delivers an event to the gateway.
    ///
    /// # Errors
    /// [`Error::Closed`] when the session is gone, [`Error::Busy`] when the gateway has
    /// not drained its events (the event is counted as refused).
    pub fn deliver_event(&self, event: RoomEvent) -> Result<(), Error> {
        self.inbox.push_control(event).map_err(|e| match e {
            PushError::Closed => Error::Closed,
            PushError::Full => Error::Busy,
        })
    }

    /// The next thing the gateway sent, without waiting (commands first).
    pub fn try_take(&self) -> Option<FromSession> {
        self.outbox.try_pop().map(from_session)
    }

    /// The next thing the gateway sent; `None` once the session handle is closed and
    /// drained.
    pub async fn take(&self) -> Option<FromSession> {
        self.outbox.pop().await.map(from_session)
    }

    /// Whether the gateway closed its side (left or dropped the handle).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.outbox.is_closed()
    }

    /// Ends the session for the gateway: `event` (if any) is queued last, then the inbox is
    /// closed so [`RoomSession::recv`] returns `None` after it.
    pub fn finish(&self, event: Option<RoomEvent>) {
        if let Some(e) = event {
            // If the control lane is full the gateway still sees the end as `None`.
            let _ = self.inbox.push_control(e);
        }
        self.inbox.close();
        self.outbox.close();
    }
}

fn from_session(item: Item<AudioFrame, Outbound>) -> FromSession {
    match item {
        Item::Media(a) => FromSession::Audio(a),
        Item::Control(c) => FromSession::Command(c),
    }
}
