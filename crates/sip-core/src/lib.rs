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
//!   stream-framed message (see [`frame_len`]) received on a SIP socket;
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
pub use msg::{HeaderKind, Inbound, MAX_HEADERS, MAX_ROUTES, MAX_VIAS};
pub use timer::Timer;
pub use transaction::{
    InviteClientState, InviteServerState, NonInviteClientState, NonInviteServerState,
};
pub use transport::{Transmit, Transport};

/// Result of [`frame_len`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// A complete message of this many bytes starts the buffer (after `skip` keep-alive
    /// CRLFs, which are part of the count and ignored by the parser).
    Complete(usize),
    /// More bytes are needed.
    Partial,
    /// The stream is not SIP (no Content-Length, bad Content-Length, or headers longer than
    /// `max_len`): close the connection.
    Invalid,
}

/// Stream framing for TCP/TLS (§18.3): finds the end of the first message in `buf` by the
/// blank line and Content-Length (mandatory on streams). `max_len` bounds one message.
pub fn frame_len(buf: &[u8], max_len: usize) -> Frame {
    let mut start = 0;
    while buf[start..].starts_with(b"\r\n") {
        start += 2;
    }
    let Some(head_end) = msg::find(buf, start, b"\r\n\r\n") else {
        return if buf.len() > max_len {
            Frame::Invalid
        } else {
            Frame::Partial
        };
    };
    let head = &buf[start..head_end + 2];
    let mut content_length = None;
    for line in head.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii();
        if name.eq_ignore_ascii_case(b"Content-Length") || name.eq_ignore_ascii_case(b"l") {
            let v = std::str::from_utf8(&line[colon + 1..]).ok().map(str::trim);
            match v.and_then(|v| v.parse::<usize>().ok()) {
                Some(n) => content_length = Some(n),
                None => return Frame::Invalid,
            }
        }
    }
    let Some(cl) = content_length else {
        return Frame::Invalid;
    };
    let total = head_end + 4 + cl;
    if total > max_len.saturating_add(start) {
        Frame::Invalid
    } else if buf.len() < total {
        Frame::Partial
    } else {
        Frame::Complete(total)
    }
}
