//! `a=` lines (RFC 8866 §5.13, §6): the typed [`Attribute`] enum and the small attributes.
//!
//! Attribute names are matched case-insensitively (a few carriers capitalise them; the meaning
//! is unambiguous). A *known* attribute whose value cannot be interpreted is an error rather
//! than silently downgraded to [`Attribute::Other`]: ignoring, say, a malformed `crypto` or
//! `rtpmap` line would make the gateway negotiate something the peer did not offer.

use core::fmt;
use core::time::Duration;

use super::ice::{Candidate, ice_credential};
use super::lex::{Fail, Tokens, fail, is_token, is_ws, next_token, parse_u64, split_once_opt};
use super::rtp::{Extmap, Fmtp, Rtcp, Rtpmap, Ssrc};
use super::security::{Crypto, Fingerprint};
use crate::error::{ErrorKind, ParseError};

/// Media direction attributes (RFC 8866 §6.7, RFC 3264 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `sendrecv` (the default when none is given).
    SendRecv,
    /// `sendonly`.
    SendOnly,
    /// `recvonly`.
    RecvOnly,
    /// `inactive`.
    Inactive,
}

impl Direction {
    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction an answerer uses in reply to this offered direction (RFC 3264 §6.1).
    pub fn reversed(self) -> Self {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }

    pub(crate) fn from_name(s: &str) -> Option<Self> {
        [
            Direction::SendRecv,
            Direction::SendOnly,
            Direction::RecvOnly,
            Direction::Inactive,
        ]
        .into_iter()
        .find(|d| s.eq_ignore_ascii_case(d.as_str()))
    }
}

/// `a=setup:` role for connection-oriented media and DTLS (RFC 4145 §4, RFC 5763 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Setup {
    /// `active`: this endpoint initiates.
    Active,
    /// `passive`: this endpoint accepts.
    Passive,
    /// `actpass`: either; an offerer must use this for DTLS-SRTP (RFC 5763 §5).
    ActPass,
    /// `holdconn`: no connection yet.
    HoldConn,
}

impl Setup {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Setup::Active => "active",
            Setup::Passive => "passive",
            Setup::ActPass => "actpass",
            Setup::HoldConn => "holdconn",
        }
    }
}

/// `a=group:<semantics> *(<identification-tag>)` (RFC 5888 §5), e.g. `BUNDLE 0 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group<'a> {
    /// Semantics (`BUNDLE`, `LS`, `FID`, …).
    pub semantics: &'a str,
    /// The identification tags as written; see [`Group::mids`].
    pub mids: &'a str,
}

impl<'a> Group<'a> {
    /// The `mid` values in the group.
    pub fn mids(&self) -> Tokens<'a> {
        Tokens::new(self.mids)
    }
}

/// `a=ice-options:` tags (RFC 8839 §5.6), e.g. `trickle`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IceOptions<'a>(pub &'a str);

impl<'a> IceOptions<'a> {
    /// The option tags.
    pub fn tags(&self) -> Tokens<'a> {
        Tokens::new(self.0)
    }
}

/// One `a=` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribute<'a> {
    /// `a=rtpmap` (RFC 8866 §6.6).
    Rtpmap(Rtpmap<'a>),
    /// `a=fmtp` (RFC 8866 §6.15).
    Fmtp(Fmtp<'a>),
    /// `a=ptime`: packet time (RFC 8866 §6.4); fractional milliseconds are allowed.
    Ptime(Duration),
    /// `a=maxptime`: maximum packet time (RFC 8866 §6.5).
    MaxPtime(Duration),
    /// `a=sendrecv` / `sendonly` / `recvonly` / `inactive` (RFC 8866 §6.7).
    Direction(Direction),
    /// `a=rtcp` (RFC 3605).
    Rtcp(Rtcp<'a>),
    /// `a=rtcp-mux` (RFC 5761 §5.1.1).
    RtcpMux,
    /// `a=rtcp-rsize` (RFC 5506 §5).
    RtcpRsize,
    /// `a=crypto` (RFC 4568).
    Crypto(Crypto<'a>),
    /// `a=ice-ufrag` (RFC 8839 §5.4).
    IceUfrag(&'a str),
    /// `a=ice-pwd` (RFC 8839 §5.4).
    IcePwd(&'a str),
    /// `a=ice-options` (RFC 8839 §5.6).
    IceOptions(IceOptions<'a>),
    /// `a=ice-lite` (RFC 8839 §5.3).
    IceLite,
    /// `a=candidate` (RFC 8839 §5.1).
    Candidate(Candidate<'a>),
    /// `a=end-of-candidates` (RFC 8840 §8.2).
    EndOfCandidates,
    /// `a=fingerprint` (RFC 8122 §5).
    Fingerprint(Fingerprint<'a>),
    /// `a=setup` (RFC 4145 §4).
    Setup(Setup),
    /// `a=mid` (RFC 5888 §4).
    Mid(&'a str),
    /// `a=group` (RFC 5888 §5).
    Group(Group<'a>),
    /// `a=ssrc` (RFC 5576 §4.1).
    Ssrc(Ssrc<'a>),
    /// `a=extmap` (RFC 8285 §8).
    Extmap(Extmap<'a>),
    /// Any other attribute: `a=<name>` or `a=<name>:<value>`, kept as written.
    Other {
        /// Attribute name.
        name: &'a str,
        /// Attribute value, if the line had a `:`.
        value: Option<&'a str>,
    },
}

impl<'a> Attribute<'a> {
    /// Parses the value of an `a=` line (the text after `a=`).
    pub fn parse(value: &'a str) -> Result<Self, ParseError> {
        Self::parse_inner(value).map_err(|f| f.relative_to(value))
    }

    pub(crate) fn parse_inner(line: &'a str) -> Result<Self, Fail> {
        let (name, value) = split_once_opt(line, ':');
        if !is_token(name) {
            return fail(ErrorKind::SdpAttribute, line);
        }
        let v = value.unwrap_or("");
        let need = |kind: ErrorKind| -> Result<&'a str, Fail> {
            match value {
                Some(v) if !v.trim_matches(is_ws).is_empty() => Ok(v),
                _ => fail(kind, &line[line.len()..]),
            }
        };
        // Names are matched case-insensitively through a lower-cased stack copy, so dispatch
        // is one `match` instead of a chain of comparisons. No known name is longer than 17.
        let mut lower = [0u8; 17];
        let Some(buf) = lower.get_mut(..name.len()) else {
            return Ok(Attribute::Other { name, value });
        };
        buf.copy_from_slice(name.as_bytes());
        buf.make_ascii_lowercase();
        // Flag attributes ignore a stray value: `a=rtcp-mux:` still means rtcp-mux.
        Ok(match &*buf {
            b"rtpmap" => Attribute::Rtpmap(Rtpmap::parse_inner(need(ErrorKind::SdpRtpmap)?)?),
            b"fmtp" => Attribute::Fmtp(Fmtp::parse_inner(need(ErrorKind::SdpFmtp)?)?),
            b"ptime" => Attribute::Ptime(packet_time(need(ErrorKind::SdpPtime)?)?),
            b"maxptime" => Attribute::MaxPtime(packet_time(need(ErrorKind::SdpPtime)?)?),
            b"sendrecv" => Attribute::Direction(Direction::SendRecv),
            b"sendonly" => Attribute::Direction(Direction::SendOnly),
            b"recvonly" => Attribute::Direction(Direction::RecvOnly),
            b"inactive" => Attribute::Direction(Direction::Inactive),
            b"rtcp" => Attribute::Rtcp(Rtcp::parse_inner(need(ErrorKind::SdpRtcp)?)?),
            b"rtcp-mux" => Attribute::RtcpMux,
            b"rtcp-rsize" => Attribute::RtcpRsize,
            b"crypto" => Attribute::Crypto(Crypto::parse_inner(need(ErrorKind::SdpCrypto)?)?),
            b"ice-ufrag" => Attribute::IceUfrag(ice_credential(v, ErrorKind::SdpIce)?),
            b"ice-pwd" => Attribute::IcePwd(ice_credential(v, ErrorKind::SdpIce)?),
            b"ice-options" => {
                let v = need(ErrorKind::SdpIce)?.trim_end_matches(is_ws);
                if let Some(bad) = Tokens::new(v).find(|t| !is_token(t)) {
                    return fail(ErrorKind::SdpIce, bad);
                }
                Attribute::IceOptions(IceOptions(v))
            }
            b"ice-lite" => Attribute::IceLite,
            b"candidate" => {
                Attribute::Candidate(Candidate::parse_inner(need(ErrorKind::SdpCandidate)?)?)
            }
            b"end-of-candidates" => Attribute::EndOfCandidates,
            b"fingerprint" => {
                Attribute::Fingerprint(Fingerprint::parse_inner(need(ErrorKind::SdpFingerprint)?)?)
            }
            b"setup" => {
                let s = need(ErrorKind::SdpSetup)?;
                let t = s.trim_matches(is_ws);
                Attribute::Setup(match t {
                    _ if t.eq_ignore_ascii_case("active") => Setup::Active,
                    _ if t.eq_ignore_ascii_case("passive") => Setup::Passive,
                    _ if t.eq_ignore_ascii_case("actpass") => Setup::ActPass,
                    _ if t.eq_ignore_ascii_case("holdconn") => Setup::HoldConn,
                    _ => return fail(ErrorKind::SdpSetup, s),
                })
            }
            b"mid" => {
                let m = need(ErrorKind::SdpMid)?.trim_end_matches(is_ws);
                if !is_token(m) {
                    return fail(ErrorKind::SdpMid, m);
                }
                Attribute::Mid(m)
            }
            b"group" => {
                let g = need(ErrorKind::SdpGroup)?;
                let mut t = Tokens::new(g);
                let semantics = next_token(&mut t, ErrorKind::SdpGroup, g)?;
                let mids = t.remainder().trim_end_matches(is_ws);
                if let Some(bad) = core::iter::once(semantics)
                    .chain(Tokens::new(mids))
                    .find(|t| !is_token(t))
                {
                    return fail(ErrorKind::SdpGroup, bad);
                }
                Attribute::Group(Group { semantics, mids })
            }
            b"ssrc" => Attribute::Ssrc(Ssrc::parse_inner(need(ErrorKind::SdpSsrc)?)?),
            b"extmap" => Attribute::Extmap(Extmap::parse_inner(need(ErrorKind::SdpExtmap)?)?),
            _ => Attribute::Other { name, value },
        })
    }

    /// Whether the `a=` line value `line` names attribute `name` (lower case), without
    /// parsing it: lets lookups skip unrelated lines cheaply.
    pub(crate) fn line_is(line: &str, name: &str) -> bool {
        let b = line.as_bytes();
        b.len() >= name.len()
            && b[..name.len()].eq_ignore_ascii_case(name.as_bytes())
            && matches!(b.get(name.len()), None | Some(b':'))
    }

    /// The attribute name as SDP writes it (for [`Attribute::Other`], as it was written).
    pub fn name(&self) -> &'a str {
        match self {
            Attribute::Rtpmap(_) => "rtpmap",
            Attribute::Fmtp(_) => "fmtp",
            Attribute::Ptime(_) => "ptime",
            Attribute::MaxPtime(_) => "maxptime",
            Attribute::Direction(d) => d.as_str(),
            Attribute::Rtcp(_) => "rtcp",
            Attribute::RtcpMux => "rtcp-mux",
            Attribute::RtcpRsize => "rtcp-rsize",
            Attribute::Crypto(_) => "crypto",
            Attribute::IceUfrag(_) => "ice-ufrag",
            Attribute::IcePwd(_) => "ice-pwd",
            Attribute::IceOptions(_) => "ice-options",
            Attribute::IceLite => "ice-lite",
            Attribute::Candidate(_) => "candidate",
            Attribute::EndOfCandidates => "end-of-candidates",
            Attribute::Fingerprint(_) => "fingerprint",
            Attribute::Setup(_) => "setup",
            Attribute::Mid(_) => "mid",
            Attribute::Group(_) => "group",
            Attribute::Ssrc(_) => "ssrc",
            Attribute::Extmap(_) => "extmap",
            Attribute::Other { name, .. } => name,
        }
    }
}

/// Writes the attribute value after `a=` (name, and `:value` when there is one).
impl fmt::Display for Attribute<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        match self {
            Attribute::Rtpmap(v) => write!(f, ":{v}"),
            Attribute::Fmtp(v) => write!(f, ":{v}"),
            Attribute::Ptime(d) | Attribute::MaxPtime(d) => {
                f.write_str(":")?;
                write_packet_time(f, *d)
            }
            Attribute::Rtcp(v) => write!(f, ":{v}"),
            Attribute::Crypto(v) => write!(f, ":{v}"),
            Attribute::IceUfrag(v) | Attribute::IcePwd(v) | Attribute::Mid(v) => {
                write!(f, ":{v}")
            }
            Attribute::IceOptions(v) => write!(f, ":{}", v.0),
            Attribute::Candidate(v) => write!(f, ":{v}"),
            Attribute::Fingerprint(v) => write!(f, ":{v}"),
            Attribute::Setup(s) => write!(f, ":{}", s.as_str()),
            Attribute::Group(g) => {
                write!(f, ":{}", g.semantics)?;
                if !g.mids.is_empty() {
                    write!(f, " {}", g.mids)?;
                }
                Ok(())
            }
            Attribute::Ssrc(v) => write!(f, ":{v}"),
            Attribute::Extmap(v) => write!(f, ":{v}"),
            Attribute::Other { value: Some(v), .. } => write!(f, ":{v}"),
            Attribute::Direction(_)
            | Attribute::RtcpMux
            | Attribute::RtcpRsize
            | Attribute::IceLite
            | Attribute::EndOfCandidates
            | Attribute::Other { value: None, .. } => Ok(()),
        }
    }
}

/// Parses `ptime`/`maxptime` milliseconds: RFC 8866 §9 `non-zero-int-or-real`. Up to three
/// fractional digits are kept (microsecond resolution); further digits are ignored.
fn packet_time(value: &str) -> Result<Duration, Fail> {
    let kind = ErrorKind::SdpPtime;
    let v = value.trim_matches(is_ws);
    let (int, frac) = split_once_opt(v, '.');
    let ms = parse_u64(int, 6).ok_or(Fail::at(kind, value))?;
    let micros_frac = match frac {
        None => 0,
        Some(f) => {
            if f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
                return fail(kind, f);
            }
            f.bytes()
                .chain(core::iter::repeat(b'0'))
                .take(3)
                .fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'))
        }
    };
    let micros = ms * 1000 + micros_frac;
    if micros == 0 {
        return fail(kind, value);
    }
    Ok(Duration::from_micros(micros))
}

fn write_packet_time(f: &mut fmt::Formatter<'_>, d: Duration) -> fmt::Result {
    let micros = d.as_micros();
    let (ms, frac) = (micros / 1000, micros % 1000);
    if frac == 0 {
        write!(f, "{ms}")
    } else {
        let mut digits = [b'0'; 3];
        let mut n = frac;
        for slot in digits.iter_mut().rev() {
            *slot = b'0' + (n % 10) as u8;
            n /= 10;
        }
        let len = digits.iter().rposition(|&b| b != b'0').map_or(0, |p| p + 1);
        let s = core::str::from_utf8(&digits[..len]).unwrap_or("0");
        write!(f, "{ms}.{s}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::ice::is_ice_chars;
    use super::*;

    #[test]
    fn packet_time_round_trips_fractions() {
        for (input, written) in [
            ("20", "20"),
            ("20.0", "20"),
            ("0.125", "0.125"),
            ("2.5", "2.5"),
        ] {
            let d = packet_time(input).map_err(|f| f.kind);
            let d = d.expect("valid ptime");
            let s = Attribute::Ptime(d).to_string();
            assert_eq!(s, format!("ptime:{written}"));
        }
        assert!(packet_time("0").is_err());
        assert!(packet_time("-1").is_err());
        assert!(packet_time("20.").is_err());
        assert!(is_ice_chars("ab+/9"));
    }
}
