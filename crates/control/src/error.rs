//! Errors: Twirp codes, the SIP → Twirp mapping, the error the call service
//! returns ([`CallError`]) and the crate's error enum ([`ApiError`]), which is what
//! goes on the wire as `{"code","msg","meta"}`.

use std::collections::BTreeMap;
use std::fmt;

use crate::deadline::TimeoutCause;

/// A Twirp error code (the Twirp wire protocol's closed list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TwirpCode {
    /// The operation was cancelled.
    Canceled,
    /// Unknown error.
    Unknown,
    /// The client sent an invalid argument.
    InvalidArgument,
    /// The request body could not be decoded.
    Malformed,
    /// The operation did not finish in time; see `meta.timeout_cause`.
    DeadlineExceeded,
    /// Some requested entity was not found.
    NotFound,
    /// The requested URL path is not a method of this server.
    BadRoute,
    /// The entity already exists.
    AlreadyExists,
    /// The caller lacks the grant for this method.
    PermissionDenied,
    /// No valid credentials.
    Unauthenticated,
    /// A resource (capacity, quota) is exhausted.
    ResourceExhausted,
    /// The system is not in a state required for the operation.
    FailedPrecondition,
    /// The operation was aborted (e.g. a conflict).
    Aborted,
    /// An argument is out of range.
    OutOfRange,
    /// The operation is not implemented or not supported.
    Unimplemented,
    /// An internal invariant was broken.
    Internal,
    /// The service is currently unavailable.
    Unavailable,
    /// Unrecoverable data loss.
    DataLoss,
}

impl TwirpCode {
    /// The wire name (`"invalid_argument"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Canceled => "canceled",
            Self::Unknown => "unknown",
            Self::InvalidArgument => "invalid_argument",
            Self::Malformed => "malformed",
            Self::DeadlineExceeded => "deadline_exceeded",
            Self::NotFound => "not_found",
            Self::BadRoute => "bad_route",
            Self::AlreadyExists => "already_exists",
            Self::PermissionDenied => "permission_denied",
            Self::Unauthenticated => "unauthenticated",
            Self::ResourceExhausted => "resource_exhausted",
            Self::FailedPrecondition => "failed_precondition",
            Self::Aborted => "aborted",
            Self::OutOfRange => "out_of_range",
            Self::Unimplemented => "unimplemented",
            Self::Internal => "internal",
            Self::Unavailable => "unavailable",
            Self::DataLoss => "dataloss",
        }
    }

    /// The HTTP status Twirp pairs with the code (API_COMPAT.md §Transport).
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidArgument | Self::Malformed | Self::OutOfRange => 400,
            Self::Unauthenticated => 401,
            Self::PermissionDenied => 403,
            Self::NotFound | Self::BadRoute => 404,
            Self::DeadlineExceeded | Self::Canceled => 408,
            Self::Aborted | Self::AlreadyExists => 409,
            Self::FailedPrecondition => 412,
            Self::ResourceExhausted => 429,
            Self::Unimplemented => 501,
            Self::Unavailable => 503,
            Self::Internal | Self::Unknown | Self::DataLoss => 500,
        }
    }
}

impl fmt::Display for TwirpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SIP final status: code and reason phrase (RFC 3261 §7.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SipStatus {
    /// The status code, 100..=699.
    pub code: u16,
    /// The reason phrase as received (may be empty).
    pub reason: String,
}

/// Maps a SIP failure status to the Twirp code an API caller sees
/// (API_COMPAT.md §Transport, "Common SIP → Twirp mapping").
///
/// Codes the table does not name (other 4xx/5xx/6xx, and non-failures that should
/// never get here) map to `failed_precondition`: the far end refused the call for a
/// reason the caller cannot fix by changing its arguments.
pub fn twirp_code_for_sip(code: u16) -> TwirpCode {
    match code {
        400 | 405 | 406 | 488 => TwirpCode::InvalidArgument,
        401 | 402 | 403 | 603 | 607 | 608 => TwirpCode::PermissionDenied,
        407 => TwirpCode::Unauthenticated,
        404 | 410 | 604 => TwirpCode::NotFound,
        408 | 504 => TwirpCode::DeadlineExceeded,
        480 | 486 | 600 => TwirpCode::ResourceExhausted,
        487 | 491 => TwirpCode::Aborted,
        _ => TwirpCode::FailedPrecondition,
    }
}

/// The error a [`crate::CallService`] returns: a Twirp code and message, plus the
/// SIP status and the timeout cause when they apply. `Clone` because one outcome
/// may answer several waiters (idempotent retries).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CallError {
    /// The Twirp code the API answers with.
    pub code: TwirpCode,
    /// Human-readable message (no secrets).
    pub message: String,
    /// The SIP final status, for failures that came from the SIP side.
    pub sip_status: Option<SipStatus>,
    /// Why it timed out, for every timeout.
    pub timeout_cause: Option<TimeoutCause>,
}

impl CallError {
    /// An error with a code and message only.
    pub fn new(code: TwirpCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            sip_status: None,
            timeout_cause: None,
        }
    }

    /// The far end answered with a failure status; the code follows
    /// [`twirp_code_for_sip`].
    pub fn sip(status: SipStatus) -> Self {
        let message = if status.reason.is_empty() {
            format!("SIP call failed with {}", status.code)
        } else {
            format!("SIP call failed with {} {}", status.code, status.reason)
        };
        Self {
            code: twirp_code_for_sip(status.code),
            message,
            sip_status: Some(status),
            timeout_cause: None,
        }
    }

    /// A timeout with its cause; the code follows [`TimeoutCause::twirp_code`].
    pub fn timeout(cause: TimeoutCause, message: impl Into<String>) -> Self {
        Self {
            code: cause.twirp_code(),
            message: message.into(),
            sip_status: None,
            timeout_cause: Some(cause),
        }
    }

    /// Adds the SIP status (e.g. the 408 of a ring-no-answer CANCEL/487 exchange).
    #[must_use]
    pub fn with_sip_status(mut self, status: SipStatus) -> Self {
        self.sip_status = Some(status);
        self
    }

    /// The Twirp `meta` object: `sip_status_code`, `sip_status`, `timeout_cause`.
    pub fn meta(&self) -> BTreeMap<String, String> {
        let mut meta = BTreeMap::new();
        if let Some(s) = &self.sip_status {
            meta.insert("sip_status_code".to_owned(), s.code.to_string());
            meta.insert("sip_status".to_owned(), s.reason.clone());
        }
        if let Some(c) = self.timeout_cause {
            meta.insert("timeout_cause".to_owned(), c.as_str().to_owned());
        }
        meta
    }
}

/// Why a bearer token was refused. All map to `unauthenticated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("missing Authorization header")]
    Missing,
    /// The header is not `Bearer <token>`.
    #[error("Authorization header is not a bearer token")]
    NotBearer,
    /// The token is not a well-formed JWT (or its claims are not JSON objects).
    #[error("malformed token")]
    Malformed,
    /// `alg` is not HS256 (this includes `none`, i.e. unsigned tokens).
    #[error("token algorithm not accepted (HS256 only)")]
    Algorithm,
    /// No `iss`, or `iss` names no configured API key.
    #[error("unknown API key")]
    UnknownKey,
    /// The signature does not verify with the key's secret.
    #[error("invalid token signature")]
    BadSignature,
    /// No `exp` claim.
    #[error("token has no expiry")]
    NoExpiry,
    /// `exp` has passed.
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("token not yet valid")]
    NotYetValid,
}

/// Everything the API can answer with instead of a success: the crate's error enum.
/// Each variant knows its Twirp code and `meta`; its `IntoResponse` impl puts it
/// on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The caller is not authenticated.
    #[error("{0}")]
    Unauthenticated(#[from] AuthError),
    /// The token lacks a grant the method needs.
    #[error("token lacks the sip.{grant} grant")]
    PermissionDenied {
        /// `"call"` or `"admin"`.
        grant: &'static str,
    },
    /// A request field is invalid.
    #[error("{field}: {reason}")]
    InvalidArgument {
        /// The proto field name (dotted for nested fields).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A request field asks for something sipbridge does not support (yet).
    #[error("{field}: {reason}")]
    Unsupported {
        /// The proto field name.
        field: String,
        /// What is not supported.
        reason: String,
    },
    /// A method sipbridge deliberately does not offer (e.g. trunk management: trunks
    /// come from the config file).
    #[error("{method} is not supported: {reason}")]
    MethodUnsupported {
        /// The method name.
        method: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// The body did not decode as the method's request message.
    #[error("request body could not be decoded: {0}")]
    Malformed(String),
    /// `Content-Type` is neither protobuf nor JSON.
    #[error("unsupported Content-Type {0:?} (use application/protobuf or application/json)")]
    ContentType(String),
    /// The body exceeds the configured limit.
    #[error("request body exceeds {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// No such service/method, or not a POST.
    #[error("no handler for {method} {path}")]
    BadRoute {
        /// The HTTP method.
        method: String,
        /// The request path.
        path: String,
    },
    /// The `X-Deadline-Ms` header is not a non-negative integer.
    #[error("X-Deadline-Ms must be a non-negative integer number of milliseconds")]
    BadDeadlineHeader,
    /// The caller's declared budget cannot fit its own ringing timeout.
    #[error(
        "declared budget of {declared_ms} ms is shorter than the {needed_ms} ms this \
         synchronous create needs (setup allowance + ringing_timeout)"
    )]
    BudgetTooSmall {
        /// The caller's `X-Deadline-Ms`.
        declared_ms: u64,
        /// `setup_allowance + ringing_timeout` in ms.
        needed_ms: u64,
    },
    /// The deadline had already passed when the request reached the API.
    #[error("the caller's deadline has already passed")]
    DeadlineAlreadyPassed,
    /// The idempotency key (`X-Livekit-Request-Id`) was already used for a different
    /// request.
    #[error("X-Livekit-Request-Id was already used for a different request")]
    IdempotencyConflict,
    /// Too many creates are in flight to track another idempotency key.
    #[error("too many requests in flight")]
    Overloaded,
    /// The call service failed.
    #[error(transparent)]
    Call(#[from] CallError),
}

impl ApiError {
    /// The Twirp code.
    pub fn code(&self) -> TwirpCode {
        match self {
            Self::Unauthenticated(_) => TwirpCode::Unauthenticated,
            Self::PermissionDenied { .. } => TwirpCode::PermissionDenied,
            Self::InvalidArgument { .. } | Self::BodyTooLarge { .. } | Self::BadDeadlineHeader => {
                TwirpCode::InvalidArgument
            }
            Self::Unsupported { .. } | Self::MethodUnsupported { .. } => TwirpCode::Unimplemented,
            Self::Malformed(_) => TwirpCode::Malformed,
            // The Twirp protocol answers an unrecognised Content-Type with bad_route.
            Self::BadRoute { .. } | Self::ContentType(_) => TwirpCode::BadRoute,
            Self::BudgetTooSmall { .. } => TimeoutCause::BudgetTooSmall.twirp_code(),
            Self::DeadlineAlreadyPassed => TimeoutCause::CallerDeadline.twirp_code(),
            Self::IdempotencyConflict => TwirpCode::Aborted,
            Self::Overloaded => TwirpCode::ResourceExhausted,
            Self::Call(e) => e.code,
        }
    }

    /// The timeout cause, when this is a timeout.
    pub fn timeout_cause(&self) -> Option<TimeoutCause> {
        match self {
            Self::BudgetTooSmall { .. } => Some(TimeoutCause::BudgetTooSmall),
            Self::DeadlineAlreadyPassed => Some(TimeoutCause::CallerDeadline),
            Self::Call(e) => e.timeout_cause,
            _ => None,
        }
    }

    /// The Twirp `meta` object.
    pub fn meta(&self) -> BTreeMap<String, String> {
        let mut meta = match self {
            Self::Call(e) => e.meta(),
            _ => BTreeMap::new(),
        };
        if let Some(c) = self.timeout_cause() {
            meta.insert("timeout_cause".to_owned(), c.as_str().to_owned());
        }
        match self {
            Self::InvalidArgument { field, .. } | Self::Unsupported { field, .. } => {
                meta.insert("argument".to_owned(), field.clone());
            }
            Self::BudgetTooSmall {
                declared_ms,
                needed_ms,
            } => {
                meta.insert("declared_budget_ms".to_owned(), declared_ms.to_string());
                meta.insert("needed_budget_ms".to_owned(), needed_ms.to_string());
            }
            _ => {}
        }
        meta
    }

    /// The JSON body Twirp clients expect: `{"code","msg","meta"}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "code": self.code().as_str(),
            "msg": self.to_string(),
            "meta": self.meta(),
        })
    }

    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn unsupported(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Unsupported {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl axum::response::IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        let status = axum::http::StatusCode::from_u16(self.code().http_status())
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(self.to_json())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_to_twirp_table() {
        use TwirpCode::*;
        let table: &[(u16, TwirpCode)] = &[
            (400, InvalidArgument),
            (405, InvalidArgument),
            (406, InvalidArgument),
            (488, InvalidArgument),
            (401, PermissionDenied),
            (402, PermissionDenied),
            (403, PermissionDenied),
            (603, PermissionDenied),
            (607, PermissionDenied),
            (608, PermissionDenied),
            (407, Unauthenticated),
            (404, NotFound),
            (410, NotFound),
            (604, NotFound),
            (408, DeadlineExceeded),
            (504, DeadlineExceeded),
            (480, ResourceExhausted),
            (486, ResourceExhausted),
            (600, ResourceExhausted),
            (487, Aborted),
            (491, Aborted),
            (500, FailedPrecondition),
            (502, FailedPrecondition),
            (503, FailedPrecondition),
            (599, FailedPrecondition),
            (482, FailedPrecondition),
            (606, FailedPrecondition),
        ];
        for &(sip, twirp) in table {
            assert_eq!(twirp_code_for_sip(sip), twirp, "SIP {sip}");
        }
    }

    #[test]
    fn http_statuses_match_api_compat() {
        use TwirpCode::*;
        let table = [
            (InvalidArgument, 400),
            (Unauthenticated, 401),
            (PermissionDenied, 403),
            (NotFound, 404),
            (DeadlineExceeded, 408),
            (Canceled, 408),
            (Aborted, 409),
            (FailedPrecondition, 412),
            (ResourceExhausted, 429),
            (Unimplemented, 501),
            (Internal, 500),
            (Unavailable, 503),
            (BadRoute, 404),
            (Malformed, 400),
        ];
        for (code, status) in table {
            assert_eq!(code.http_status(), status, "{code}");
        }
    }

    #[test]
    fn sip_failure_meta() {
        let e = CallError::sip(SipStatus {
            code: 486,
            reason: "Busy Here".into(),
        });
        assert_eq!(e.code, TwirpCode::ResourceExhausted);
        let meta = ApiError::Call(e).meta();
        assert_eq!(meta["sip_status_code"], "486");
        assert_eq!(meta["sip_status"], "Busy Here");
        assert!(!meta.contains_key("timeout_cause"));
    }

    #[test]
    fn every_timeout_names_its_cause() {
        for cause in TimeoutCause::ALL {
            let e = ApiError::Call(CallError::timeout(cause, "t"));
            assert_eq!(e.meta()["timeout_cause"], cause.as_str());
            assert_eq!(e.code(), cause.twirp_code());
        }
        let e = ApiError::BudgetTooSmall {
            declared_ms: 1,
            needed_ms: 2,
        };
        assert_eq!(e.meta()["timeout_cause"], "budget_too_small");
        assert_eq!(
            ApiError::DeadlineAlreadyPassed.meta()["timeout_cause"],
            "caller_deadline"
        );
    }

    #[test]
    fn ring_no_answer_differs_from_carrier_408() {
        let ring = ApiError::Call(
            CallError::timeout(TimeoutCause::RingNoAnswer, "no answer").with_sip_status(
                SipStatus {
                    code: 408,
                    reason: "Request Timeout".into(),
                },
            ),
        );
        let carrier = ApiError::Call(CallError::sip(SipStatus {
            code: 408,
            reason: "Request Timeout".into(),
        }));
        assert_eq!(ring.code(), carrier.code());
        assert_eq!(ring.meta()["timeout_cause"], "ring_no_answer");
        assert!(!carrier.meta().contains_key("timeout_cause"));
    }

    #[test]
    fn json_shape() {
        let v = ApiError::PermissionDenied { grant: "call" }.to_json();
        assert_eq!(v["code"], "permission_denied");
        assert!(v["msg"].as_str().is_some_and(|m| m.contains("sip.call")));
        assert!(v["meta"].is_object());
    }
}
