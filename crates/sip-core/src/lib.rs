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
//!   [`Endpoint::request`], [`Endpoint::hangup`], [`Endpoint::send_request`];
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
//!
//! # The shell
//!
//! One endpoint per SIP listening address set; the shell owns the sockets and one timer:
//!
//! ```text
//! loop {
//!     select! {
//!         (bytes, from) = udp.recv()   => ep.handle_datagram(now(), Transport::Udp, from, bytes),
//!         frame = tcp_conn.next_frame() => ep.handle_datagram(now(), Transport::Tcp, peer, frame),
//!         cmd = commands.recv()         => { ep.invite(now(), opts)?; /* or respond/hangup… */ }
//!         _ = sleep_until(deadline)     => ep.handle_timeout(now()),
//!     }
//!     while let Some(t) = ep.poll_transmit() { send(t.transport, t.destination, t.payload) }
//!     while let Some(e) = ep.poll_event() { tu.on_event(e) }      // may issue commands
//!     deadline = ep.poll_timeout();
//! }
//! ```
//!
//! # Example: one call, in memory
//!
//! ```
//! use std::time::{Duration, Instant};
//! use sip_core::{Body, Config, Endpoint, EndReason, Event, InviteOptions, Reply, Transport};
//!
//! let (a, b) = ("10.0.0.1:5060".parse()?, "10.0.0.2:5060".parse()?);
//! let mut uac = Endpoint::new(Config::new("10.0.0.1", 5060), 1);
//! let mut uas = Endpoint::new(Config::new("10.0.0.2", 5060), 2);
//! # #[allow(clippy::disallowed_methods)]
//! let now = Instant::now(); // the shell's clock; the endpoints never read one
//!
//! let call = uac.invite(now, InviteOptions {
//!     transport: Transport::Udp,
//!     destination: b,
//!     request_uri: "sip:bob@10.0.0.2".into(),
//!     from: "<sip:alice@10.0.0.1>".into(),
//!     to: "<sip:bob@10.0.0.2>".into(),
//!     contact: None,
//!     route: vec![],
//!     headers: vec![],
//!     body: Some(Body::sdp(&b"v=0\r\n"[..])),
//!     ringing_timeout: Duration::from_secs(30), // CANCEL + RingNoAnswer after 30 s
//!     credentials: None,
//!     call_id: None,
//! })?;
//!
//! // Shuttle datagrams until both sides are quiet; the UAS answers at once.
//! let mut answered = false;
//! for _ in 0..8 {
//!     while let Some(t) = uac.poll_transmit() {
//!         uas.handle_datagram(now, t.transport, a, t.payload);
//!     }
//!     while let Some(e) = uas.poll_event() {
//!         if let Event::IncomingCall { call, .. } = e {
//!             uas.respond(now, call, Reply::status(180))?;
//!             uas.respond(now, call, Reply::with_body(200, Body::sdp(&b"v=0\r\n"[..])))?;
//!         }
//!     }
//!     while let Some(t) = uas.poll_transmit() {
//!         uac.handle_datagram(now, t.transport, b, t.payload);
//!     }
//!     while let Some(e) = uac.poll_event() {
//!         answered |= matches!(e, Event::Answered { .. }); // the ACK is already queued
//!     }
//! }
//! assert!(answered);
//! uac.hangup(now, call)?; // BYE
//! assert!(matches!(
//!     uac.poll_event(),
//!     Some(Event::Ended { reason: EndReason::LocalBye, .. })
//! ));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod api;
mod compose;
mod config;
mod dialog;
pub mod digest;
mod echo;
mod endpoint;
mod error;
mod ids;
mod in_dialog;
mod method;
mod msg;
mod timer;
mod transaction;
mod transport;
mod uac;
mod uas;

pub use api::{
    Body, CallHandle, EndReason, Event, InviteOptions, Reply, RequestId, RequestOptions,
    TimeoutCause,
};
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
