//! The room side of a sipbridge call.
//!
//! # Contract
//!
//! - [`offer_answer`]: SDP offer/answer for audio (RFC 3264), used by the gateway for the SIP
//!   leg and by the `rtp` link toward the room server. Pure functions plus the `o=` version
//!   state of a dialog ([`offer_answer::SdpSession`]); no I/O.
//! - [`RoomLink`]: joins a room as a participant and returns a [`RoomSession`], whatever the
//!   kind of room. Media and events cross between the session handle and the link's task in
//!   bounded queues: audio drops its oldest frame when the other side lags (counted in
//!   [`SessionStats`]), events are refused rather than dropped. Payloads are [`bytes::Bytes`]:
//!   passing a frame on copies nothing.
//! - [`embedded`]: rooms inside sipbridge (mix-minus). Its [`embedded::Mixer`] is sans-IO
//!   (`handle_*(now, …)`, then drain `poll_transmit` → `poll_event` → `poll_timeout`); the
//!   tokio task around it only moves frames and sleeps.
//! - [`rtp`]: plain RTP toward a room server that ingests RTP, signaled WHIP-style (POST
//!   the SDP offer, 201 with the answer and a `Location`, DELETE to leave). Payloads pass
//!   through untouched.
//!
//! Timeouts: every network wait is bounded by the caller's deadline or by a named config
//! field, whichever is earlier; the HTTP client has no timeout of its own.
//!
//! # How the gateway uses a room
//!
//! ```
//! use std::time::{Duration, Instant};
//! use bytes::Bytes;
//! use room_link::embedded::{EmbeddedConfig, EmbeddedRooms};
//! use room_link::{AudioFrame, JoinRequest, MediaCapabilities, RoomEvent, RoomLink};
//! use rtp_relay::codec::{Codec, CodecKind};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), room_link::Error> {
//! let link: Box<dyn RoomLink> = Box::new(EmbeddedRooms::new(EmbeddedConfig::default()));
//! let deadline = Instant::now() + Duration::from_secs(5); // from control::Deadline
//! let session = link
//!     .join(
//!         JoinRequest {
//!             room: "support".into(),
//!             identity: "sip_+15550100".into(),
//!             name: "Caller".into(),
//!             attributes: Vec::new(),
//!             media: MediaCapabilities {
//!                 // The SIP leg's negotiated codec first: its payloads then cross untouched.
//!                 codecs: vec![Codec::with_default_pt(CodecKind::Pcmu)],
//!                 telephone_event: Some(101),
//!                 ptime: Duration::from_millis(20),
//!             },
//!         },
//!         deadline,
//!     )
//!     .await?;
//! assert_eq!(session.info().media.codec.kind, CodecKind::Pcmu);
//! // Phone → room: the RTP payload and header fields of each packet from the SIP leg.
//! session.send_audio(AudioFrame {
//!     payload_type: 0,
//!     sequence: 1,
//!     timestamp: 160,
//!     marker: false,
//!     payload: Bytes::from_static(&[0xff; 160]),
//! })?;
//! session.send_dtmf('5', Duration::from_millis(100))?;
//! // Room → phone: write each frame as RTP toward the trunk; play DTMF as RFC 4733 events.
//! while let Some(event) = session.try_recv() {
//!     match event {
//!         RoomEvent::Audio(_frame) => {}
//!         RoomEvent::Dtmf { .. } => {}
//!         RoomEvent::ParticipantJoined(_) | RoomEvent::ParticipantLeft(_) => {}
//!         RoomEvent::Closed(_) => break, // room gone: BYE the SIP leg
//!     }
//! }
//! session.leave().await?;
//! # Ok(())
//! # }
//! ```
//!
//! Errors: one [`Error`] enum; [`Error::sip_status`] and [`Error::cause`] say how the gateway
//! reports each (`room_link_failed` for anything between sipbridge and the room).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod embedded;
mod error;
mod http;
mod lanes;
pub mod offer_answer;
pub mod rtp;
mod session;
pub mod webrtc;

pub use error::Error;
pub use lanes::LaneStats;
pub use session::{
    AudioFrame, BoxFuture, CloseReason, FromSession, JoinRequest, LinkSide, MediaCapabilities,
    Outbound, ParticipantId, ParticipantInfo, QueueConfig, RoomEvent, RoomLink, RoomSession,
    SessionControl, SessionInfo, SessionMedia, SessionStats,
};
