//! Transports and the datagrams the endpoint asks the I/O shell to send.

use std::fmt;
use std::net::SocketAddr;

use bytes::Bytes;

/// A SIP transport (§18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP: unreliable, so the transaction layer retransmits (Timers A, E, G).
    Udp,
    /// TCP: reliable; the shell frames messages by Content-Length.
    Tcp,
    /// TLS over TCP.
    Tls,
}

impl Transport {
    /// Whether the transport is reliable (§17: reliable transports set Timers A/E/G off and
    /// D/I/J/K to zero).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Self::Udp)
    }

    /// The Via transport token.
    pub fn token(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
            Self::Tls => "TLS",
        }
    }

    /// Parses a Via transport token (case-insensitive).
    pub fn from_token(t: &[u8]) -> Option<Self> {
        if t.eq_ignore_ascii_case(b"UDP") {
            Some(Self::Udp)
        } else if t.eq_ignore_ascii_case(b"TCP") {
            Some(Self::Tcp)
        } else if t.eq_ignore_ascii_case(b"TLS") {
            Some(Self::Tls)
        } else {
            None
        }
    }

    /// The default port (§18.2.2: 5060, or 5061 for TLS).
    pub fn default_port(self) -> u16 {
        match self {
            Self::Tls => 5061,
            _ => 5060,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.token())
    }
}

/// One message to send. For stream transports the shell sends it on the connection to
/// `destination`, opening one if none exists (§18.2.2: responses go back on the connection
/// the request arrived on, whose peer address is `destination`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The transport to use.
    pub transport: Transport,
    /// Where to send it.
    pub destination: SocketAddr,
    /// The whole SIP message.
    pub payload: Bytes,
}
