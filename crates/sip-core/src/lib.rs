//! Sans-IO SIP: transactions (RFC 3261 §17 with RFC 6026), dialogs (§12), INVITE sessions
//! with per-dialog ringing timers, CANCEL (§9), digest authentication (RFC 7616/2617).
//!
//! # Contract
//!
//! An [`Endpoint`] is a pure state machine. It never reads a clock (time is the `now`
//! argument), never does I/O, never uses a thread RNG (identifiers come from the seed given
//! to [`Endpoint::new`]) and never spawns anything.
//!
//! Inputs:
//! - [`Endpoint::handle_datagram`]`(now, transport, from, bytes)` for every UDP datagram or
//!   stream-framed message (cut with [`sip_message::frame`]) received on a SIP socket;
//! - commands: [`Endpoint::invite`], [`Endpoint::respond`], [`Endpoint::reply`],
//!   [`Endpoint::request`], [`Endpoint::hangup`];
//! - [`Endpoint::handle_timeout`]`(now)` when the deadline from `poll_timeout` is reached.
//!
//! Outputs, drained **after every input**, in this order:
//! 1. [`Endpoint::poll_transmit`] until `None` — send each [`Transmit`];
//! 2. [`Endpoint::poll_event`] until `None` — act on each [`Event`] (acting may issue
//!    commands, after which drain again);
//! 3. [`Endpoint::poll_timeout`] — reset the shell's one timer to it.
//!
//! Every call reports exactly one [`Event::Ended`], whose [`EndReason`] names the cause; a
//! ringing timeout is [`TimeoutCause::RingNoAnswer`], distinct from a peer's 408 and from
//! Timer B ([`TimeoutCause::SipTimerB`]).
//!
//! Peer input never panics; malformed requests are answered 400 (or 505) when an answer
//! can be built and dropped otherwise.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod api;
mod compose;
mod config;
mod dialog;
pub mod digest;
mod endpoint;
mod error;
mod ids;
mod method;
mod msg;
mod timer;
mod transaction;
mod transport;
mod uac;
mod uas;

pub use api::{Body, CallHandle, EndReason, Event, InviteOptions, Reply, RequestId, TimeoutCause};
pub use compose::reason_phrase;
pub use config::Config;
pub use digest::{Algorithm, Credentials, DigestClient, DigestParams, DigestServer};
pub use endpoint::Endpoint;
pub use error::Error;
pub use ids::{Branch, CallId, DialogId, MAGIC_COOKIE, MethodKey, Side, Tag, TransactionKey};
pub use method::Method;
pub use msg::{Inbound, MAX_ROUTES, MAX_VIAS};
pub use timer::Timer;
pub use transaction::{
    InviteClientState, InviteServerState, NonInviteClientState, NonInviteServerState,
};
pub use transport::{Transmit, Transport};
