//! SIP request methods (RFC 3261 §7.1 and extensions).

use std::fmt;

/// A request method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// INVITE.
    Invite,
    /// ACK.
    Ack,
    /// BYE.
    Bye,
    /// CANCEL.
    Cancel,
    /// OPTIONS.
    Options,
    /// INFO (RFC 6086).
    Info,
    /// UPDATE (RFC 3311).
    Update,
    /// REFER (RFC 3515).
    Refer,
    /// NOTIFY (RFC 6665).
    Notify,
    /// PRACK (RFC 3262).
    Prack,
    /// SUBSCRIBE (RFC 6665).
    Subscribe,
    /// REGISTER.
    Register,
    /// MESSAGE (RFC 3428).
    Message,
    /// Any other (extension) method; see the message for its name.
    Other,
}

impl Method {
    /// Parses a method token (case-sensitive, §7.1).
    pub fn from_bytes(b: &[u8]) -> Self {
        match b {
            b"INVITE" => Self::Invite,
            b"ACK" => Self::Ack,
            b"BYE" => Self::Bye,
            b"CANCEL" => Self::Cancel,
            b"OPTIONS" => Self::Options,
            b"INFO" => Self::Info,
            b"UPDATE" => Self::Update,
            b"REFER" => Self::Refer,
            b"NOTIFY" => Self::Notify,
            b"PRACK" => Self::Prack,
            b"SUBSCRIBE" => Self::Subscribe,
            b"REGISTER" => Self::Register,
            b"MESSAGE" => Self::Message,
            _ => Self::Other,
        }
    }

    /// The method token; `Other` has no name of its own.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invite => "INVITE",
            Self::Ack => "ACK",
            Self::Bye => "BYE",
            Self::Cancel => "CANCEL",
            Self::Options => "OPTIONS",
            Self::Info => "INFO",
            Self::Update => "UPDATE",
            Self::Refer => "REFER",
            Self::Notify => "NOTIFY",
            Self::Prack => "PRACK",
            Self::Subscribe => "SUBSCRIBE",
            Self::Register => "REGISTER",
            Self::Message => "MESSAGE",
            Self::Other => "OTHER",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
