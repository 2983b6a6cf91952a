//! Sans-IO media core for sipbridge.
//!
//! This crate moves and inspects media; it performs no I/O, reads no clock, spawns nothing
//! and uses no thread RNG. Time comes in as `now: Instant` on every call; SSRCs that must be
//! random come from the caller's seeded RNG. It knows nothing of SIP.
//!
//! - [`rtp`], [`rtcp`]: zero-copy views with RFC 3550 validation, in-place rewriting,
//!   RTCP writers; [`demux`]: one port shared by STUN/DTLS/RTP/RTCP (RFC 7983, RFC 5761).
//! - [`relay`]: the relay table — calls with two legs, symmetric latching, SSRC/sequence/
//!   timestamp rewriting across source changes, media timeouts, per-leg [`stats`].
//! - [`dtmf`]: RFC 4733 telephone-event receiver and sender.
//! - `codec`, `tone`: audio codecs, transcoding and tone generation.
//!
//! # Contract of the state machines
//!
//! [`relay::Relay`] (and [`dtmf::DtmfSender`]) follow the quinn-proto / str0m pattern.
//! Inputs are `handle_*(now, …)`; outputs are drained. **After every `handle_*` call, drain
//! transmit → event → timeout**: send what the call returned (for the relay, the
//! [`relay::Action`] of `handle_datagram` is the transmit; the DTMF sender has
//! `poll_transmit`), then `poll_event()` until `None`, then re-arm the single sleep to
//! `poll_timeout()` and call `handle_timeout(now)` when it expires. A wake-up earlier than
//! necessary is harmless; `poll_timeout()` is never later than a real deadline.
//!
//! Peer input never panics: malformed packets are dropped with a reason and counted.
// `unsafe` only in `codec::opus`, the libopus bindings (measured hot path, see there).
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod analysis;
pub mod codec;
pub mod demux;
pub mod dtmf;
pub mod error;
pub mod relay;
pub mod rtcp;
pub mod rtp;
pub mod stats;
pub mod tone;

pub use error::Error;
