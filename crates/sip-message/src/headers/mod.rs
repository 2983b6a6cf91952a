//! Headers typed on demand (RFC 3261 §20 and extensions). Each type borrows from the
//! message; parse one with [`crate::Message::typed`] / [`crate::Message::typed_all`] or
//! directly with [`TypedHeader::parse`].
//!
//! List-valued headers (`MULTI`) are typed one comma-separated value at a time.

mod auth;
mod misc;

pub use auth::{
    AuthParam, AuthParams, AuthValue, Authorization, Challenge, Credentials, ProxyAuthenticate,
    ProxyAuthorization, WwwAuthenticate,
};
pub use misc::{
    Allow, Date, Diversion, Event, Expires, MediaType, MinSe, PAssertedIdentity, ProxyRequire,
    RAck, RSeq, Reason, ReferTo, ReferredBy, Refresher, Replaces, Require, Server, SessionExpires,
    SubscriptionState, Supported, Unsupported, UserAgent,
};

use crate::error::ParseError;
use crate::header_name::HeaderName;

/// A header whose value can be typed on demand.
pub trait TypedHeader<'a>: Sized {
    /// The header this type parses.
    const NAME: HeaderName<'static>;
    /// Whether a field line may hold several comma-separated values (RFC 3261 §7.3.1).
    const MULTI: bool = false;
    /// Parses one value (one comma-separated item when `MULTI`). Error offsets are relative
    /// to `value`.
    fn parse(value: &'a str) -> Result<Self, ParseError>;
}
