//! SIP signalling: the I/O shell around `sip_core`.

pub mod shell;
