//! The types the TU (the gateway) exchanges with the [`Endpoint`](crate::Endpoint): handles,
//! command arguments and events.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;

use crate::digest::Credentials;
use crate::ids::{CallId, DialogId};
use crate::method::Method;
use crate::msg::Inbound;
use crate::transport::Transport;

/// A call (INVITE session, either direction) inside one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallHandle(pub(crate) u64);

impl CallHandle {
    /// The numeric value (for logs; unique per endpoint).
    pub fn get(self) -> u64 {
        self.0
    }
}

/// A request: one the TU must answer ([`Event::Request`]) or one it sent
/// ([`Endpoint::request`](crate::Endpoint::request), answered by [`Event::Response`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub(crate) u64);

impl RequestId {
    /// The numeric value (for logs; unique per endpoint).
    pub fn get(self) -> u64 {
        self.0
    }
}

/// A message body with its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// Content-Type, e.g. `application/sdp`.
    pub content_type: String,
    /// The bytes.
    pub data: Bytes,
}

impl Body {
    /// An `application/sdp` body.
    pub fn sdp(data: impl Into<Bytes>) -> Self {
        Self {
            content_type: "application/sdp".to_owned(),
            data: data.into(),
        }
    }
}

/// Everything needed to place an outgoing call.
#[derive(Debug, Clone)]
pub struct InviteOptions {
    /// Transport to the first hop.
    pub transport: Transport,
    /// Resolved address of the first hop (RFC 3263 resolution is the shell's job).
    pub destination: SocketAddr,
    /// The Request-URI, e.g. `sip:+15551234@trunk.example.com`.
    pub request_uri: String,
    /// The From value without tag, e.g. `"Alice" <sip:alice@example.com>`.
    pub from: String,
    /// The To value, e.g. `<sip:+15551234@trunk.example.com>`.
    pub to: String,
    /// Contact URI; `None` uses `sip:<local_host>:<port>;transport=…`.
    pub contact: Option<String>,
    /// Pre-loaded Route set (each a name-addr like `<sip:proxy;lr>`).
    pub route: Vec<String>,
    /// Extra headers, written as given (name, value).
    pub headers: Vec<(String, String)>,
    /// The offer, usually SDP.
    pub body: Option<Body>,
    /// How long the call may ring, counted from when the INVITE is sent; on expiry the
    /// call is CANCELled and ends with [`TimeoutCause::RingNoAnswer`]. Required: there is
    /// no default (DESIGN.md, "No hidden defaults").
    pub ringing_timeout: Duration,
    /// Credentials for 401/407 challenges.
    pub credentials: Option<Credentials>,
    /// Call-ID to use; `None` draws one from the seeded RNG.
    pub call_id: Option<CallId>,
}

/// An out-of-dialog request (OPTIONS keep-alive toward a trunk, MESSAGE, …).
#[derive(Debug, Clone)]
pub struct RequestOptions {
    /// The method (not INVITE, ACK, CANCEL or BYE: those belong to calls).
    pub method: Method,
    /// Transport to the first hop.
    pub transport: Transport,
    /// Resolved address of the first hop.
    pub destination: SocketAddr,
    /// The Request-URI.
    pub request_uri: String,
    /// The From value without tag.
    pub from: String,
    /// The To value.
    pub to: String,
    /// Extra headers (name, value).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Option<Body>,
}

/// A response the TU sends: to an incoming call ([`Endpoint::respond`](crate::Endpoint::respond))
/// or to an incoming request ([`Endpoint::reply`](crate::Endpoint::reply)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Status code (100–699).
    pub status: u16,
    /// Reason phrase; `None` uses the RFC 3261 default.
    pub reason: Option<String>,
    /// Extra headers (name, value), e.g. `WWW-Authenticate`.
    pub headers: Vec<(String, String)>,
    /// Body, e.g. the SDP answer.
    pub body: Option<Body>,
}

impl Reply {
    /// A reply with just a status.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            reason: None,
            headers: Vec::new(),
            body: None,
        }
    }

    /// A reply with a status and a body.
    pub fn with_body(status: u16, body: Body) -> Self {
        Self {
            status,
            reason: None,
            headers: Vec::new(),
            body: Some(body),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// Which timeout ended a call (the SIP part of DESIGN.md's `TimeoutCause`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeoutCause {
    /// The caller's `ringing_timeout` expired: the call was CANCELled (the 487 absorbed, or a
    /// racing 2xx ACKed and BYEd).
    RingNoAnswer,
    /// No response at all to the INVITE within Timer B (64·T1).
    SipTimerB,
    /// An in-dialog request got no response within Timer F (64·T1).
    SipTimerF,
    /// Our 2xx was never ACKed within 64·T1 (§13.3.1.4); the dialog was ended with BYE.
    AckTimeout,
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// The peer answered our INVITE with this final non-2xx status (after any digest
    /// retries), or answered an in-dialog request with 481. A transport failure reported
    /// through [`Endpoint::handle_transport_error`](crate::Endpoint::handle_transport_error)
    /// is `Rejected { status: 503 }` (§8.1.3.1: "treated as … a 503").
    Rejected {
        /// The status code.
        status: u16,
    },
    /// We rejected an incoming call with this status.
    LocalReject {
        /// The status code.
        status: u16,
    },
    /// A timer ended the call.
    Timeout(TimeoutCause),
    /// We cancelled our own unanswered call ([`Endpoint::hangup`](crate::Endpoint::hangup)).
    LocalCancel,
    /// The peer CANCELled its INVITE before we answered (we sent 487).
    RemoteCancel,
    /// We sent BYE.
    LocalBye,
    /// The peer sent BYE.
    RemoteBye,
    /// Our challenge could not be answered: 401/407 with no credentials, an unsupported
    /// algorithm, or more challenges than `max_auth_attempts`.
    AuthFailed {
        /// The last challenge status (401 or 407).
        status: u16,
    },
}

/// What the endpoint reports to the TU, drained with
/// [`Endpoint::poll_event`](crate::Endpoint::poll_event).
#[derive(Debug, Clone)]
pub enum Event {
    /// A new INVITE arrived. Answer it with [`Endpoint::respond`](crate::Endpoint::respond)
    /// (provisional, then final); the server transaction sends 100 Trying by itself if the TU
    /// has not responded within `Config::trying_delay`. The TU must eventually send a final
    /// response (or [`hangup`](crate::Endpoint::hangup), which sends 480): an INVITE server
    /// transaction has no timeout of its own before its final response (§17.2.1).
    IncomingCall {
        /// The new call.
        call: CallHandle,
        /// The INVITE.
        request: Box<Inbound>,
        /// Where it came from.
        source: SocketAddr,
        /// Over which transport.
        transport: Transport,
    },
    /// A provisional response to our INVITE (UAC).
    Progress {
        /// The call.
        call: CallHandle,
        /// Status (100–199).
        status: u16,
        /// The early dialog, when the response carried a To tag (forks give several).
        dialog: Option<DialogId>,
        /// The response.
        response: Box<Inbound>,
    },
    /// Our INVITE was answered (UAC); the ACK is already sent.
    Answered {
        /// The call.
        call: CallHandle,
        /// The confirmed dialog.
        dialog: DialogId,
        /// The 2xx (with the SDP answer).
        response: Box<Inbound>,
    },
    /// The ACK for our 2xx arrived (UAS): the call is established.
    Confirmed {
        /// The call.
        call: CallHandle,
        /// The ACK (it may carry the SDP answer in the delayed-offer case).
        ack: Box<Inbound>,
    },
    /// The ACK for our 2xx to a re-INVITE arrived. When that re-INVITE carried no offer,
    /// our 2xx did, and this ACK carries the answer (RFC 3261 §14.2, §13.2.2.4).
    ReinviteAcked {
        /// The call.
        call: CallHandle,
        /// The ACK.
        ack: Box<Inbound>,
    },
    /// A request the TU must answer with [`Endpoint::reply`](crate::Endpoint::reply): an
    /// in-dialog request other than BYE/ACK/CANCEL, or an out-of-dialog non-INVITE request.
    Request {
        /// The call, for in-dialog requests.
        call: Option<CallHandle>,
        /// Handle to answer with.
        request: RequestId,
        /// The request.
        message: Box<Inbound>,
        /// Where it came from.
        source: SocketAddr,
    },
    /// A response to a request the TU sent with [`Endpoint::request`](crate::Endpoint::request).
    Response {
        /// The call.
        call: CallHandle,
        /// The request it answers.
        request: RequestId,
        /// The method of that request.
        method: Method,
        /// Status; 408 is synthesized when the transaction timed out.
        status: u16,
        /// The response (`None` when synthesized).
        response: Option<Box<Inbound>>,
    },
    /// The final (or a provisional) response to an out-of-dialog request sent with
    /// [`Endpoint::send_request`](crate::Endpoint::send_request).
    StandaloneResponse {
        /// The request it answers.
        request: RequestId,
        /// The method of that request.
        method: Method,
        /// Status; 408 is synthesized on Timer F, 503 on a transport error.
        status: u16,
        /// The response (`None` when synthesized).
        response: Option<Box<Inbound>>,
    },
    /// The call's ringing timer fired before an answer (UAC): the call is being CANCELled
    /// (or will be, once a provisional arrives, §9.1) and will end with
    /// [`TimeoutCause::RingNoAnswer`] unless a 2xx races the CANCEL (then it is ACKed and
    /// BYEd). Reported at the moment the timer fires, so a waiter can answer its own caller
    /// without waiting for the CANCEL handshake.
    RingTimeout {
        /// The call.
        call: CallHandle,
    },
    /// The call ended. Exactly one per call; the handle is invalid afterwards.
    Ended {
        /// The call.
        call: CallHandle,
        /// Why.
        reason: EndReason,
    },
}
