//! The crate's one error type.

/// Errors returned by the endpoint's commands and by the digest helpers.
///
/// Variants up to `InvalidArgument` mean the caller misused the API; the `Auth*` variants
/// mean the peer's credentials or challenge were unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The call handle names no live call.
    #[error("unknown call")]
    UnknownCall,
    /// The request handle names no request awaiting an answer.
    #[error("unknown request")]
    UnknownRequest,
    /// The command does not fit the call's state (e.g. answering an outgoing call).
    #[error("invalid state: {0}")]
    InvalidState(&'static str),
    /// A re-INVITE is already in progress in this dialog (§14.1); retry later.
    #[error("a re-INVITE is already in progress in this dialog")]
    Glare,
    /// A status code that cannot be sent here (outside 100–699, or 100 with a tag…).
    #[error("status code {0} not allowed here")]
    InvalidStatus(u16),
    /// A command argument is malformed (a header name with a colon, an empty URI…).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// The configured call or transaction limit is reached.
    #[error("capacity exhausted")]
    Capacity,
    /// A digest header is missing parameters or is not Digest.
    #[error("malformed digest header")]
    AuthMalformed,
    /// A digest algorithm or qop this crate does not implement.
    #[error("unsupported digest algorithm or qop")]
    AuthUnsupported,
    /// The nonce was not issued by this server (MAC mismatch or garbage).
    #[error("nonce not issued here")]
    AuthBadNonce,
    /// The nonce is ours but expired; credentials were otherwise right (send `stale=true`).
    #[error("nonce expired")]
    AuthStale,
    /// The digest response does not match (wrong password, method, realm…).
    #[error("digest response mismatch")]
    AuthWrongResponse,
}

impl Error {
    /// The SIP status a server would answer with for a peer-caused error, if any.
    pub fn response_code(&self) -> Option<u16> {
        match self {
            Self::AuthMalformed => Some(400),
            Self::AuthUnsupported
            | Self::AuthBadNonce
            | Self::AuthStale
            | Self::AuthWrongResponse => Some(401),
            Self::Capacity => Some(503),
            _ => None,
        }
    }
}
