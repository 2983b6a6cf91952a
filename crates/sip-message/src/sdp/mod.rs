//! SDP (RFC 8866) parsing and writing, zero-copy.
//!
//! # Parsing
//!
//! [`SessionDescription::parse`] validates a whole body in one pass and returns a view whose
//! every string borrows the input: nothing is copied and nothing is allocated, on success or
//! failure. Errors are a [`ParseError`] — an [`ErrorKind`] plus the byte offset where the
//! problem was found (both re-exported here from the crate's error module). Work is
//! bounded by [`Limits`] (body size, media sections, attributes and other lines per section,
//! formats per `m=`).
//!
//! The typed values ([`Origin`], [`Connection`], [`MediaLine`], [`Attribute`] with
//! [`Rtpmap`], [`Fmtp`], [`Crypto`], [`Candidate`], [`Fingerprint`], …) each also parse on their
//! own from a line value and `Display` back to one.
//!
//! # How strict
//!
//! The rule is: accept what a real carrier or browser sends when its meaning is unambiguous,
//! reject what cannot be interpreted.
//!
//! Accepted although RFC 8866 says otherwise:
//! - bare LF line endings (RFC 8866 §5 says parsers SHOULD), empty lines, no final newline;
//! - runs of spaces or tabs between fields, trailing whitespace on structured lines;
//! - any order of lines *within* a section (carriers put `c=` after `t=` or `b=` first);
//! - a missing `t=` (read as `t=0 0`); an empty `s=`; an `m=` line without formats;
//! - case-insensitive keywords (`in ip4`, `RTPMAP`, `SendOnly`), lower-case fingerprint hex;
//! - a username with spaces in `o=` (the five fixed fields are taken from the right);
//! - ICE credentials shorter than RFC 8839's minimum (only the charset is checked);
//! - a repeated once-only attribute (`sendonly`, `mid`, `ptime`, `setup`, …) with the same
//!   value.
//!
//! Rejected:
//! - no `v=0` first line, no `o=`, no `s=`; a second `v=`;
//! - an unknown type letter (RFC 8866 §5: a parser "MUST completely ignore any session
//!   description that contains a type letter that it does not understand");
//! - session-only lines after the first `m=` (e.g. `t=` after `m=`), `r=` not following `t=`;
//! - repeated once-only lines (`o s i u z k`, session `c=`);
//! - a network type other than `IN`, an address type other than `IP4`/`IP6`, an IP literal of
//!   the wrong family, malformed ports, payload types outside 0–127 on RTP `m=` lines;
//! - a *known* attribute whose value cannot be interpreted (a bad `rtpmap`, `crypto`,
//!   `candidate`, …): ignoring it could negotiate something the peer never offered;
//! - two `rtpmap`s for one payload type, or conflicting once-only attributes;
//! - text that is not UTF-8 (`a=charset` other than UTF-8 is not supported), NUL or CR inside a
//!   line.
//!
//! # Writing
//!
//! [`SdpBuilder`] and [`MediaBuilder`] describe an offer or answer (lists owned, strings
//! borrowed) and write it into a reusable `BytesMut` in the canonical line order of
//! RFC 8866 §5. `SdpBuilder::from(&parsed)` copies a parsed description for editing;
//! parse → write → parse yields an equal description.
//!
//! ```
//! use sip_message::sdp::SessionDescription;
//!
//! let body = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
//!              m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
//! let sdp = SessionDescription::parse(body).unwrap();
//! let audio = sdp.media().next().unwrap();
//! assert_eq!(audio.codecs().next().unwrap().encoding, "PCMU");
//! assert_eq!(audio.telephone_event(8000).unwrap().payload_type, 101);
//! ```
//!
//! Writing an offer:
//!
//! ```
//! use std::time::Duration;
//! use bytes::BytesMut;
//! use sip_message::sdp::{
//!     Attribute, Connection, Direction, MediaBuilder, MediaType, Origin, Proto, SdpBuilder,
//!     SessionDescription,
//! };
//!
//! let ip = "192.0.2.10".parse().unwrap();
//! let origin = Origin::new("-", 1, 1, ip);
//! let audio = MediaBuilder::new(MediaType::Audio, 30000, Proto::RtpAvp)
//!     .codec(0, "PCMU", 8000, None)
//!     .codec(101, "telephone-event", 8000, None)
//!     .fmtp(101, "0-16")
//!     .ptime(Duration::from_millis(20))
//!     .attribute(Attribute::RtcpMux)
//!     .direction(Direction::SendRecv);
//! let offer = SdpBuilder::new(origin, "-").connection(Connection::ip(ip)).media(audio);
//!
//! let mut buf = BytesMut::with_capacity(512); // reuse across calls with buf.clear()
//! offer.write(&mut buf);
//! assert!(buf.starts_with(b"v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4"));
//! let parsed = SessionDescription::parse(&buf).unwrap();
//! assert_eq!(SdpBuilder::from(&parsed), offer);
//! ```

mod attr;
mod fields;
mod ice;
mod lex;
mod media;
mod rtp;
mod security;
mod session;
mod write;

pub use crate::error::{ErrorKind, ParseError};

pub use attr::{Attribute, Direction, Group, IceOptions, Setup};
pub use fields::{
    AddrType, Bandwidth, BandwidthType, Connection, Key, MediaLine, MediaType, Origin, Proto,
    Repeat, TimeZones, Timing,
};
pub use ice::{Candidate, CandidateType};
pub use lex::{Host, Tokens};
pub use media::{Media, MediaIter};
pub use rtp::{Codec, Extmap, Fmtp, Rtcp, Rtpmap, Ssrc, static_payload_type};
pub use security::{Crypto, Fingerprint, InlineKey, KeyParam, Lifetime, Mki};
pub use session::{Attributes, Limits, SessionDescription, TimeDescription};
pub use write::{Format, MediaBuilder, SdpBuilder};
