//! ICE attributes (RFC 8839): `candidate`, and the character rules of `ice-ufrag`/`ice-pwd`.

use core::fmt;

use super::lex::{
    Fail, Host, Tokens, fail, is_token, is_visible, is_ws, next_token, num_u16, num_u32, port,
};
use crate::error::ErrorKind;

/// RFC 8839 §5.1 `ice-char = ALPHA / DIGIT / "+" / "/"`.
pub(crate) fn is_ice_chars(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// Validates an `ice-ufrag` / `ice-pwd` value.
///
/// RFC 8839 §5.4 requires 4–256 (ufrag) and 22–256 (pwd) ice-chars. Shorter values from old
/// stacks still work for STUN connectivity checks, so only the charset and the upper bound are
/// enforced.
pub(crate) fn ice_credential(value: &str, kind: ErrorKind) -> Result<&str, Fail> {
    let v = value.trim_end_matches(is_ws);
    if v.len() > 256 || !is_ice_chars(v) {
        return fail(kind, value);
    }
    Ok(v)
}

/// The candidate type (RFC 8839 §5.1 `cand-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandidateType<'a> {
    /// `host`.
    Host,
    /// `srflx`: server reflexive.
    Srflx,
    /// `prflx`: peer reflexive.
    Prflx,
    /// `relay`: TURN relayed.
    Relay,
    /// Any other token.
    Other(&'a str),
}

impl<'a> CandidateType<'a> {
    /// The SDP token.
    pub fn as_str(&self) -> &'a str {
        match self {
            CandidateType::Host => "host",
            CandidateType::Srflx => "srflx",
            CandidateType::Prflx => "prflx",
            CandidateType::Relay => "relay",
            CandidateType::Other(s) => s,
        }
    }
}

/// `a=candidate:<foundation> <component-id> <transport> <priority> <connection-address> <port>
/// typ <cand-type> [raddr <rel-addr>] [rport <rel-port>] *(<ext-name> <ext-value>)`
/// (RFC 8839 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate<'a> {
    /// Foundation: 1–32 ice-chars.
    pub foundation: &'a str,
    /// Component: 1 for RTP, 2 for RTCP.
    pub component: u16,
    /// Transport as written (`UDP`, `udp`, `TCP`, …).
    pub transport: &'a str,
    /// Priority (RFC 8445 §5.1.2).
    pub priority: u32,
    /// Candidate address: an IP literal or an FQDN (e.g. an mDNS `.local` name).
    pub address: Host<'a>,
    /// Candidate port.
    pub port: u16,
    /// Candidate type.
    pub kind: CandidateType<'a>,
    /// Related address (`raddr`).
    pub related_address: Option<Host<'a>>,
    /// Related port (`rport`).
    pub related_port: Option<u16>,
    /// Extension name/value pairs as written; see [`Candidate::extensions`].
    pub extensions: &'a str,
}

impl<'a> Candidate<'a> {
    pub(crate) fn parse_inner(value: &'a str) -> Result<Self, Fail> {
        let kind = ErrorKind::SdpCandidate;
        let mut t = Tokens::new(value);
        let foundation = next_token(&mut t, kind, value)?;
        if foundation.len() > 32 || !is_ice_chars(foundation) {
            return fail(kind, foundation);
        }
        let c = next_token(&mut t, kind, value)?;
        let component = match num_u16(c, kind)? {
            n @ 1..=256 => n,
            _ => return fail(kind, c),
        };
        let transport = next_token(&mut t, kind, value)?;
        if !is_token(transport) {
            return fail(kind, transport);
        }
        let priority = num_u32(next_token(&mut t, kind, value)?, kind)?;
        let address = Host::parse(next_token(&mut t, kind, value)?, kind)?;
        let port = port(next_token(&mut t, kind, value)?)?;
        let typ = next_token(&mut t, kind, value)?;
        if typ != "typ" {
            return fail(kind, typ);
        }
        let ty = next_token(&mut t, kind, value)?;
        if !is_token(ty) {
            return fail(kind, ty);
        }
        let cand_kind = match ty {
            "host" => CandidateType::Host,
            "srflx" => CandidateType::Srflx,
            "prflx" => CandidateType::Prflx,
            "relay" => CandidateType::Relay,
            other => CandidateType::Other(other),
        };
        let mut related_address = None;
        let mut related_port = None;
        let mut extensions = t.remainder().trim_end_matches(is_ws);
        let mut look = t.clone();
        if look.next() == Some("raddr") {
            related_address = Some(Host::parse(next_token(&mut look, kind, value)?, kind)?);
            t = look.clone();
            extensions = t.remainder().trim_end_matches(is_ws);
        }
        let mut look = t.clone();
        if look.next() == Some("rport") {
            related_port = Some(super::lex::port(next_token(&mut look, kind, value)?)?);
            t = look;
            extensions = t.remainder().trim_end_matches(is_ws);
        }
        // Extensions come in name/value pairs (RFC 8839 §5.1 `cand-extension`).
        let mut ext = Tokens::new(extensions);
        while let Some(name) = ext.next() {
            if !is_visible(name) {
                return fail(kind, name);
            }
            next_token(&mut ext, kind, value)?;
        }
        Ok(Candidate {
            foundation,
            component,
            transport,
            priority,
            address,
            port,
            kind: cand_kind,
            related_address,
            related_port,
            extensions,
        })
    }

    /// Extension attributes (`generation 0`, `tcptype active`, `network-id 1`, …).
    pub fn extensions(&self) -> impl Iterator<Item = (&'a str, &'a str)> + use<'a> {
        let mut t = Tokens::new(self.extensions);
        core::iter::from_fn(move || Some((t.next()?, t.next()?)))
    }

    /// The value of extension `name`, if present.
    pub fn extension(&self, name: &str) -> Option<&'a str> {
        self.extensions().find(|(k, _)| *k == name).map(|(_, v)| v)
    }
}

impl fmt::Display for Candidate<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {} typ {}",
            self.foundation,
            self.component,
            self.transport,
            self.priority,
            self.address,
            self.port,
            self.kind.as_str()
        )?;
        if let Some(a) = self.related_address {
            write!(f, " raddr {a}")?;
        }
        if let Some(p) = self.related_port {
            write!(f, " rport {p}")?;
        }
        if !self.extensions.is_empty() {
            write!(f, " {}", self.extensions)?;
        }
        Ok(())
    }
}
