//! Zero-copy SIP (RFC 3261) and SDP (RFC 8866) parsing and writing.
//!
//! # Contract
//!
//! - A [`Message`] owns one [`bytes::Bytes`] (a UDP datagram, or one frame cut from a stream
//!   by [`frame`]); every string it hands out borrows from it. Parsing indexes the start
//!   line and all header fields in one pass and allocates at most once (the header index;
//!   the indexes of dropped messages are reused per thread, a bounded few).
//! - Errors are a `Copy` [`ErrorKind`] plus a byte offset ([`ParseError`]): hostile input
//!   never allocates and never panics.
//! - [`Message::parse`] rejects what cannot be framed or indexed (start line, header lines,
//!   Content-Length). [`Message::validate`] then decides whether the element must answer
//!   400/505/501 (or drop a response), the way RFC 3261 §8.2 and RFC 4475 describe; a
//!   [`Rejection`] carries the status code. [`receive`] does both.
//! - Core headers (Via, From, To, Call-ID, CSeq, Max-Forwards, Contact, Route,
//!   Record-Route) have typed accessors; everything else is typed on demand through
//!   [`Message::typed`] and the types in [`headers`].
//! - [`MessageWriter`] writes requests and responses into a reusable `BytesMut`;
//!   parse → write → parse round-trips.
//! - No I/O, no clock, no randomness.
//!
//! # Example
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use sip_message::{HeaderName, Message, Method, headers::Supported};
//!
//! let datagram = Bytes::from_static(
//!     b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
//!       Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
//!       Max-Forwards: 70\r\n\
//!       To: Bob <sip:bob@biloxi.example.com>\r\n\
//!       From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
//!       Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
//!       CSeq: 314159 INVITE\r\n\
//!       Supported: timer, 100rel\r\n\
//!       Content-Type: application/sdp\r\n\
//!       Content-Length: 4\r\n\r\nv=0\n",
//! );
//! let msg = Message::parse(datagram)?;
//! if let Err(rejection) = msg.validate() {
//!     // e.g. answer rejection.response (Some(400)) or drop (None)
//!     panic!("{rejection}");
//! }
//! assert_eq!(msg.method(), Method::Invite);
//! assert_eq!(msg.top_via().unwrap().branch, Some("z9hG4bK776asdhds"));
//! assert_eq!(msg.from().unwrap().tag(), Some("1928301774"));
//! assert_eq!(msg.to().unwrap().tag(), None);
//! assert_eq!(msg.call_id(), Some("a84b4c76e66710@pc33.atlanta.example.com"));
//! assert_eq!(msg.cseq().unwrap().seq, 314159);
//! let tags: Vec<_> = msg.typed_all::<Supported>().filter_map(Result::ok).map(|t| t.0).collect();
//! assert_eq!(tags, ["timer", "100rel"]);
//! assert_eq!(&msg.body()[..], b"v=0\n");
//!
//! // Answer it: Via/From/To/Call-ID/CSeq are copied (RFC 3261 §8.2.6.2).
//! let mut buf = BytesMut::with_capacity(1500);
//! let mut w = msg.response_writer(&mut buf, 180, "Ringing", Some("a6c85cf"));
//! w.header(HeaderName::Contact, "<sip:bob@192.0.2.4>");
//! w.finish()?;
//! let ringing = Message::parse(buf.split().freeze())?;
//! assert_eq!(ringing.to().unwrap().tag(), Some("a6c85cf"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
// One measured hot path (`Message::str_at`) skips re-validating UTF-8; see its SAFETY note.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod addr;
mod error;
mod find;
mod frame;
mod header_name;
pub mod headers;
mod lex;
mod message;
mod method;
mod scan;
pub mod sdp;
mod sipfrag;
mod uri;
mod validate;
mod via;
mod writer;

pub use addr::{Contact, NameAddr};
pub use error::{ErrorKind, ParseError};
pub use frame::{Frame, frame};
pub use header_name::HeaderName;
pub use lex::{Param, Params, unescape, unquote};
pub use message::{CSeq, Limits, Message};
pub use method::Method;
pub use sipfrag::{FragmentStatus, sipfrag_status};
pub use uri::{Host, SipUri, TelUri, Uri};
pub use validate::{Rejection, receive};
pub use via::{Transport, Via};
pub use writer::MessageWriter;
