//! The crate's one error type.
//!
//! Variants are grouped by who is at fault: the SIP peer's SDP (offer/answer), the room
//! server (signaling over HTTP), and the caller (a closed session, a full queue). Each knows
//! the SIP status the gateway answers with on an inbound call ([`Error::sip_status`]) and the
//! cause label that goes into API errors, logs and metrics ([`Error::cause`]).

use std::time::Duration;

/// Errors of the room side.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- SDP offer/answer (the SIP peer's fault), RFC 3264
    /// The SDP body could not be parsed (answered with 400).
    #[error("malformed SDP: {0}")]
    MalformedSdp(sip_message::sdp::ParseError),
    /// Nothing in the offer or answer can be used: no common codec, only secure or non-RTP
    /// streams, or every stream rejected. RFC 3261 §21.4.26: 488 Not Acceptable Here; the
    /// reason goes into a `Warning: 304`/`305` header or a `Reason` header.
    #[error("not acceptable: {reason}")]
    NotAcceptable {
        /// Why, in words fit for a `Warning` header.
        reason: &'static str,
    },
    /// An answer that does not fit our offer (different m-line count, a codec we never
    /// offered, an address we cannot use). RFC 3264 §6: the answer MUST have as many
    /// m-lines as the offer.
    #[error("answer does not match the offer: {0}")]
    BadAnswer(&'static str),

    // ---- room server (signaling), WHIP-style POST/DELETE
    /// The room-server URL (after `{room}` substitution) is not a usable `http://` URL.
    #[error("bad room server URL: {0}")]
    BadUrl(&'static str),
    /// The room server could not be reached (connect or I/O failure).
    #[error("room server unreachable: {0:?}")]
    Unreachable(std::io::ErrorKind),
    /// An HTTP protocol failure talking to the room server.
    #[error("HTTP failure talking to the room server")]
    Http,
    /// The room server answered with a status we do not accept.
    #[error("room server answered {status}")]
    Rejected {
        /// The HTTP status code.
        status: u16,
    },
    /// A 201 without a `Location`, without an SDP answer, or with a body too large.
    #[error("room server response unusable: {0}")]
    BadResponse(&'static str),
    /// A step did not finish before its deadline (the caller's deadline, or a named config
    /// timeout, whichever is earlier).
    #[error("{step} timed out after {after:?}")]
    Timeout {
        /// What was being waited for (`"connect"`, `"join"`, `"leave"`, …).
        step: &'static str,
        /// How long it was given.
        after: Duration,
    },

    /// The media connection to the room failed: ICE found no working path, DTLS did not
    /// complete, or the room ended it before it was up (WebRTC link).
    #[error("media connection to the room failed: {0}")]
    MediaFailed(&'static str),

    // ---- media and API use (ours)
    /// A local socket could not be bound or used.
    #[error("media socket: {0:?}")]
    Socket(std::io::ErrorKind),
    /// A codec could not be created.
    #[error("codec: {0}")]
    Codec(rtp_relay::Error),
    /// The session (or its room) is gone: left, closed, or its task ended.
    #[error("room session closed")]
    Closed,
    /// A bounded control queue is full; the command was not queued.
    #[error("room link busy")]
    Busy,
    /// The join request cannot be served (no codec the link can use, a bad digit, …).
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
}

impl Error {
    /// The SIP status code the gateway answers an inbound INVITE with when this error ends
    /// its setup: 400 for malformed SDP, 488 for unusable SDP, 503 for a room that cannot be
    /// joined (RFC 3261 §21.5.4: a temporary inability to process the call), 500 otherwise.
    #[must_use]
    pub fn sip_status(&self) -> u16 {
        match self {
            Error::MalformedSdp(_) => 400,
            Error::NotAcceptable { .. } | Error::BadAnswer(_) => 488,
            Error::Unreachable(_)
            | Error::Http
            | Error::Rejected { .. }
            | Error::BadResponse(_)
            | Error::Timeout { .. }
            | Error::MediaFailed(_)
            | Error::Busy
            | Error::Closed => 503,
            Error::BadUrl(_) | Error::Socket(_) | Error::Codec(_) | Error::InvalidRequest(_) => 500,
        }
    }

    /// The cause label for API errors, logs and metrics.
    ///
    /// Everything that goes wrong between sipbridge and the room is `room_link_failed`;
    /// SDP problems are the SIP peer's, labelled `sdp_not_acceptable` / `sdp_malformed`.
    #[must_use]
    pub fn cause(&self) -> &'static str {
        match self {
            Error::MalformedSdp(_) => "sdp_malformed",
            Error::NotAcceptable { .. } | Error::BadAnswer(_) => "sdp_not_acceptable",
            Error::Timeout { .. } => "room_link_timeout",
            _ => "room_link_failed",
        }
    }

    /// Whether the SIP peer's SDP is at fault (as opposed to the room side or ourselves).
    #[must_use]
    pub fn is_sdp(&self) -> bool {
        matches!(
            self,
            Error::MalformedSdp(_) | Error::NotAcceptable { .. } | Error::BadAnswer(_)
        )
    }
}

impl From<sip_message::sdp::ParseError> for Error {
    fn from(e: sip_message::sdp::ParseError) -> Self {
        Error::MalformedSdp(e)
    }
}

impl From<rtp_relay::Error> for Error {
    fn from(e: rtp_relay::Error) -> Self {
        Error::Codec(e)
    }
}
