//! Zero-copy SIP (RFC 3261) and SDP (RFC 8866) parsing and writing.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
