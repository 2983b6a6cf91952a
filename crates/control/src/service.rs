//! The seam between the API and the gateway: [`CallService`], implemented by the
//! gateway (and by fakes in tests), and the plain types that cross it.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::time::SystemTime;

use crate::deadline::{Deadline, TimeoutCause};
use crate::error::{CallError, SipStatus};
use crate::validate::{CreateCall, TransferCall};

/// sipbridge's own call id (e.g. `SCL_` + random): `SIPParticipantInfo.sip_call_id`
/// and the key of the `Calls` service.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub String);

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a call is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallState {
    /// INVITE sent/received, no provisional response yet.
    Dialing,
    /// 180/183 received/sent.
    Ringing,
    /// Answered; media flows.
    Active,
    /// Over.
    Ended,
}

/// Which side started the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallDirection {
    /// A phone called in through a trunk.
    Inbound,
    /// A room server asked sipbridge to dial out.
    Outbound,
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndCause {
    /// The phone side hung up (BYE from the trunk).
    RemoteHangup,
    /// The room side left or the room closed.
    RoomHangup,
    /// The link to the room failed (ICE/DTLS failure, consent expiry, media lost).
    RoomLinkFailed,
    /// `HangupCall` (or a room server's removal of the participant).
    ApiHangup,
    /// The far end refused the call (non-2xx final response; see the SIP status).
    Rejected,
    /// `TransferSIPParticipant` succeeded: the phone reached the transfer target, and
    /// sipbridge left the call (RFC 5589 §6.1).
    Transferred,
    /// A timer ended the call (see the timeout cause).
    Timeout,
    /// The gateway failed (transport error, media allocation, …).
    Error,
}

impl EndCause {
    /// snake_case name for `CallInfo.end_cause`, logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RemoteHangup => "remote_hangup",
            Self::RoomHangup => "room_hangup",
            Self::RoomLinkFailed => "room_link_failed",
            Self::ApiHangup => "api_hangup",
            Self::Rejected => "rejected",
            Self::Transferred => "transferred",
            Self::Timeout => "timeout",
            Self::Error => "error",
        }
    }
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallEnd {
    /// Why.
    pub cause: EndCause,
    /// The SIP final status, when one applies.
    pub sip_status: Option<SipStatus>,
    /// The timeout cause, when a timer ended it.
    pub timeout_cause: Option<TimeoutCause>,
}

/// A snapshot of one call, as the gateway reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallInfo {
    /// sipbridge's call id.
    pub call_id: CallId,
    /// The room-side participant id.
    pub participant_id: String,
    /// The room-side participant identity.
    pub participant_identity: String,
    /// The room.
    pub room_name: String,
    /// Current state.
    pub state: CallState,
    /// Direction.
    pub direction: CallDirection,
    /// The trunk id (empty for an inline trunk).
    pub trunk_id: String,
    /// Calling number.
    pub from_number: String,
    /// Called number.
    pub to_number: String,
    /// When the call was created (wall clock, for display only).
    pub created_at: SystemTime,
    /// When it was answered.
    pub answered_at: Option<SystemTime>,
    /// When it ended.
    pub ended_at: Option<SystemTime>,
    /// How it ended, once it has.
    pub end: Option<CallEnd>,
}

/// Filter for [`CallService::list_calls`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallFilter {
    /// Only calls in this room, when set.
    pub room_name: Option<String>,
    /// Include recently ended calls the node still remembers.
    pub include_ended: bool,
}

/// The outcome of a transfer (RFC 3515 REFER) as the gateway reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferOutcome {
    /// The gateway's id for the transfer.
    pub transfer_id: String,
    /// The final SIP status reported through NOTIFY (RFC 3515 §2.4.5), if any.
    pub sip_status: Option<SipStatus>,
}

/// What the gateway implements behind the API. The API hands over validated,
/// typed requests and a [`Deadline`] (never optional) and only observes the
/// returned futures.
///
/// Contract:
/// - The router runs `create_call` on its own task, so a sync caller that
///   disconnects does not drop the future; the call itself must still own its
///   timers and keep running if the future is dropped (DESIGN.md §3).
/// - `create_call` returns, for `wait_until_answered`, on 2xx or with the mapped
///   failure; otherwise once the INVITE is out and the room leg joined. A ring that
///   runs out is [`TimeoutCause::RingNoAnswer`]; running out of `deadline` is
///   [`TimeoutCause::CallerDeadline`].
/// - No automatic retry once an INVITE may have left. `idempotency_key` (the
///   `X-Livekit-Request-Id` header) lets a gateway deduplicate across nodes; within
///   one router the API already attaches duplicates to the first attempt, with
///   [`crate::IdempotencyMap`].
pub trait CallService: Send + Sync + 'static {
    /// Dials out (`CreateSIPParticipant`).
    fn create_call(
        &self,
        req: CreateCall,
        deadline: Deadline,
        idempotency_key: Option<String>,
    ) -> impl Future<Output = Result<CallInfo, CallError>> + Send;

    /// Lists calls.
    fn list_calls(
        &self,
        filter: CallFilter,
        deadline: Deadline,
    ) -> impl Future<Output = Result<Vec<CallInfo>, CallError>> + Send;

    /// One call; `not_found` when unknown.
    fn get_call(
        &self,
        call_id: CallId,
        deadline: Deadline,
    ) -> impl Future<Output = Result<CallInfo, CallError>> + Send;

    /// Ends a call (BYE, or CANCEL while ringing) and returns its final snapshot;
    /// `not_found` when unknown.
    fn hangup_call(
        &self,
        call_id: CallId,
        deadline: Deadline,
    ) -> impl Future<Output = Result<CallInfo, CallError>> + Send;

    /// Transfers a participant (`TransferSIPParticipant`). A gateway without REFER
    /// support answers `unimplemented`.
    fn transfer(
        &self,
        req: TransferCall,
        deadline: Deadline,
    ) -> impl Future<Output = Result<TransferOutcome, CallError>> + Send;
}

/// Participant attributes, as a sorted map (deterministic logs and tests).
pub type Attributes = BTreeMap<String, String>;
