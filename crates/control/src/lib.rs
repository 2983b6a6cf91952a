//! sipbridge's API for room servers.
//!
//! Contract:
//! - [`router()`] serves the Twirp services `livekit.SIP` (wire-compatible with the
//!   LiveKit server SDKs, see `shared/API_COMPAT.md`) and `sipbridge.Calls` over
//!   HTTP/1.1, protobuf or proto3 JSON in and the same out, behind HS256 JWT auth.
//! - Calls are reached only through the [`CallService`] trait, which the gateway
//!   implements; this crate never depends on the gateway or the SIP/media cores.
//! - Trunks and dispatch rules live in the [`Catalog`]: config-file entries (read-only)
//!   plus entries managed through the API's Create/Update/Delete methods, persisted in an
//!   embedded database. The gateway reads it per INVITE (trunk match, dispatch).
//! - Every request gets one [`Deadline`], built here from the request itself
//!   ([`ApiTimings`]) and optionally shortened by the caller's `X-Deadline-Ms`; the
//!   server itself has no request timeout that could cut a synchronous create short.
//! - Every timeout carries a [`TimeoutCause`] (`meta.timeout_cause`); SIP failures
//!   carry `meta.sip_status_code` / `meta.sip_status`.
//! - A repeated create with the same `X-Livekit-Request-Id` attaches to the first
//!   attempt ([`IdempotencyMap`]); it never dials twice.
//!
//! When a synchronous caller disconnects (or its client times out) mid-ring, the
//! call is **not** cancelled: the router runs [`CallService::create_call`] on its
//! own task, so dropping the HTTP request only drops the waiter. The call keeps
//! ringing under its own timers, is answered or rings out as usual, and its outcome
//! is remembered under the request id for `idempotency_retention`, so the SDK's
//! retry (same `X-Livekit-Request-Id`) attaches to it and gets that outcome. A
//! caller that wants the call gone uses `sipbridge.Calls/HangupCall`.
//!
//! Known wire-level choices: proto3 JSON requests with unknown fields are refused as
//! `malformed` (naming the field); protobuf bodies skip unknown fields, as protobuf
//! decoders do.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
pub mod catalog;
pub mod deadline;
pub mod error;
pub mod idempotency;
pub mod proto;
pub mod router;
pub mod service;
pub mod updates;
pub mod validate;

pub use auth::Authenticator;
pub use catalog::{
    Catalog, CatalogError, Dispatch, FileEntries, InboundCall, Refusal, RoomTarget, TrunkMatch,
};
pub use deadline::{ApiTimings, Deadline, TimeoutCause};
pub use error::{ApiError, CallError, SipStatus, TwirpCode};
pub use idempotency::IdempotencyMap;
pub use router::{ApiConfig, router};
pub use service::{CallId, CallInfo, CallService};
pub use validate::{CreateCall, TransferCall};
