//! The crate's one error type: a small `Copy` kind plus the byte offset where it was found.
//!
//! Hostile input must never allocate, so errors carry no strings.

/// Where and why parsing failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}")]
pub struct ParseError {
    /// What was wrong.
    pub kind: ErrorKind,
    /// Byte offset into the input where the problem was detected.
    pub offset: usize,
}

impl ParseError {
    /// Makes an error of `kind` at `offset`.
    pub const fn new(kind: ErrorKind, offset: usize) -> Self {
        Self { kind, offset }
    }
}

/// Why a message (or a part of it) was rejected.
///
/// Variants are grouped by layer; new variants are added inside their group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    // ---- SIP (start line, headers, framing, URIs, validation) ----
    /// The start line is neither a Request-Line nor a Status-Line.
    #[error("malformed start line")]
    StartLine,

    // ---- SDP (RFC 8866) ----
    /// An SDP line is not of the form `<type>=<value>`.
    #[error("malformed SDP line")]
    SdpLine,
}
