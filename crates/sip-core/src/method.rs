//! SIP request methods: the parser's [`Method`], plus the token this crate writes.

pub use sip_message::Method;

/// The method token for a request this crate writes. Extension methods (`Other`) are never
/// originated here (commands refuse them), so their placeholder is never put on the wire.
pub(crate) fn token(m: Method) -> &'static str {
    m.as_str().unwrap_or("OTHER")
}
