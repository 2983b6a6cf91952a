//! RTP-related attributes: `rtpmap`, `fmtp` (RFC 8866 §6.6, §6.15), `rtcp` (RFC 3605), `ssrc`
//! (RFC 5576), `extmap` (RFC 8285), plus the static payload types of RFC 3551 and the
//! [`Codec`] view that combines them.

use core::fmt;

use super::attr::Direction;
use super::fields::{AddrType, net_address};
use super::lex::{
    Fail, Host, Tokens, fail, is_token, is_visible, is_ws, next_token, num_u16, num_u32,
    payload_type, port, split_once_opt,
};
use crate::error::ErrorKind;

/// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]`
/// (RFC 8866 §6.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rtpmap<'a> {
    /// RTP payload type, 0–127.
    pub payload_type: u8,
    /// Encoding name as written (compare case-insensitively, RFC 4855 §3).
    pub encoding: &'a str,
    /// RTP clock rate in Hz.
    pub clock_rate: u32,
    /// Encoding parameters; for audio the number of channels.
    pub channels: Option<u16>,
}

impl<'a> Rtpmap<'a> {
    pub(crate) fn parse_inner(value: &'a str) -> Result<Self, Fail> {
        let kind = ErrorKind::SdpRtpmap;
        let mut t = Tokens::new(value);
        let pt = payload_type(next_token(&mut t, kind, value)?)?;
        let spec = next_token(&mut t, kind, value)?;
        if let Some(extra) = t.next() {
            return fail(kind, extra);
        }
        let mut parts = spec.split('/');
        let encoding = parts.next().unwrap_or(spec);
        if !is_token(encoding) {
            return fail(kind, spec);
        }
        let clock = parts.next().ok_or(Fail::at(kind, spec))?;
        let clock_rate = match num_u32(clock, kind)? {
            0 => return fail(kind, clock),
            c => c,
        };
        let channels = match parts.next() {
            None => None,
            Some(c) => match num_u16(c, kind)? {
                0 => return fail(kind, c),
                n => Some(n),
            },
        };
        if let Some(extra) = parts.next() {
            return fail(kind, extra);
        }
        Ok(Rtpmap {
            payload_type: pt,
            encoding,
            clock_rate,
            channels,
        })
    }
}

impl fmt::Display for Rtpmap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{}",
            self.payload_type, self.encoding, self.clock_rate
        )?;
        if let Some(c) = self.channels {
            write!(f, "/{c}")?;
        }
        Ok(())
    }
}

/// `a=fmtp:<format> <format specific parameters>` (RFC 8866 §6.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fmtp<'a> {
    /// The format (an RTP payload type for RTP media, e.g. `t38` otherwise).
    pub format: &'a str,
    /// The parameter string as written; see [`Fmtp::params`].
    pub params: &'a str,
}

impl<'a> Fmtp<'a> {
    pub(crate) fn parse_inner(value: &'a str) -> Result<Self, Fail> {
        let kind = ErrorKind::SdpFmtp;
        let value = value.trim_end_matches(is_ws);
        let (format, params) = match value.find(is_ws) {
            Some(i) => (&value[..i], value[i..].trim_start_matches(is_ws)),
            None => (value, ""),
        };
        if !is_visible(format) {
            return fail(kind, value);
        }
        Ok(Fmtp { format, params })
    }

    /// The format as an RTP payload type, when it is one.
    pub fn payload_type(&self) -> Option<u8> {
        payload_type(self.format).ok()
    }

    /// The `;`-separated parameters as `(name, value)`; a parameter without `=` (such as the
    /// event list `0-16` of RFC 4733 `telephone-event`) yields `(text, None)`. Whitespace
    /// around names and values is trimmed; empty items are skipped.
    pub fn params(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> + use<'a> {
        self.params
            .split(';')
            .map(|p| p.trim_matches(is_ws))
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.trim_matches(is_ws), Some(v.trim_matches(is_ws))),
                None => (p, None),
            })
    }

    /// The value of parameter `name` (case-insensitive), if present with a value.
    pub fn param(&self, name: &str) -> Option<&'a str> {
        self.params()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v)
    }
}

impl fmt::Display for Fmtp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.format)?;
        if !self.params.is_empty() {
            write!(f, " {}", self.params)?;
        }
        Ok(())
    }
}

/// `a=rtcp:<port> [<nettype> <addrtype> <connection-address>]` (RFC 3605 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rtcp<'a> {
    /// RTCP port.
    pub port: u16,
    /// RTCP address when it differs from the connection address.
    pub address: Option<(AddrType, Host<'a>)>,
}

impl<'a> Rtcp<'a> {
    pub(crate) fn parse_inner(value: &'a str) -> Result<Self, Fail> {
        let kind = ErrorKind::SdpRtcp;
        let mut t = Tokens::new(value);
        let p = next_token(&mut t, kind, value)?;
        let port = port(p)?;
        let address = if t.remainder().is_empty() {
            None
        } else {
            Some(net_address(&mut t, kind, value)?)
        };
        if let Some(extra) = t.next() {
            return fail(kind, extra);
        }
        Ok(Rtcp { port, address })
    }
}

impl fmt::Display for Rtcp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.port)?;
        if let Some((at, host)) = self.address {
            write!(f, " IN {} {host}", at.as_str())?;
        }
        Ok(())
    }
}

/// `a=ssrc:<ssrc-id> <attribute>[:<value>]` (RFC 5576 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ssrc<'a> {
    /// The synchronization source.
    pub ssrc: u32,
    /// Source attribute name (`cname`, `msid`, …).
    pub attribute: &'a str,
    /// Source attribute value, which may contain spaces (`msid:<stream> <track>`).
    pub value: Option<&'a str>,
}

impl<'a> Ssrc<'a> {
    pub(crate) fn parse_inner(value: &'a str) -> Result<Self, Fail> {
        let kind = ErrorKind::SdpSsrc;
        let mut t = Tokens::new(value);
        let ssrc = num_u32(next_token(&mut t, kind, value)?, kind)?;
        let rest = t.remainder().trim_end_matches(is_ws);
        let (attribute, value) = split_once_opt(rest, ':');
        if !is_token(attribute) {
            return fail(kind, rest);
        }
        Ok(Ssrc {
            ssrc,
            attribute,
            value,
        })
    }
}

impl fmt::Display for Ssrc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.ssrc, self.attribute)?;
        if let Some(v) = self.value {
            write!(f, ":{v}")?;
        }
        Ok(())
    }
}

/// `a=extmap:<value>["/"<direction>] <URI> [<extension attributes>]` (RFC 8285 §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extmap<'a> {
    /// Local identifier: 1–14 for one-byte headers, 1–255 for two-byte headers, 4096–4351 in
    /// negotiation.
    pub id: u16,
    /// Optional direction.
    pub direction: Option<Direction>,
    /// Extension URI.
    pub uri: &'a str,
    /// Extension attributes, as written.
    pub attributes: Option<&'a str>,
}

impl<'a> Extmap<'a> {
    pub(crate) fn parse_inner(value: &'a str) -> Result<Self, Fail> {
        let kind = ErrorKind::SdpExtmap;
        let mut t = Tokens::new(value);
        let head = next_token(&mut t, kind, value)?;
        let (id_s, dir) = split_once_opt(head, '/');
        let id = num_u16(id_s, kind)?;
        // RFC 8285 §5: 0 and 15 are reserved; 256–4095 and above 4351 are invalid.
        if !(1..=255).contains(&id) && !(4096..=4351).contains(&id) || id == 15 {
            return fail(kind, id_s);
        }
        let direction = match dir {
            None => None,
            Some(d) => Some(Direction::from_name(d).ok_or(Fail::at(kind, d))?),
        };
        let uri = next_token(&mut t, kind, value)?;
        if !is_visible(uri) {
            return fail(kind, uri);
        }
        let rest = t.remainder().trim_end_matches(is_ws);
        Ok(Extmap {
            id,
            direction,
            uri,
            attributes: (!rest.is_empty()).then_some(rest),
        })
    }
}

impl fmt::Display for Extmap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.id)?;
        if let Some(d) = self.direction {
            write!(f, "/{}", d.as_str())?;
        }
        write!(f, " {}", self.uri)?;
        if let Some(a) = self.attributes {
            write!(f, " {a}")?;
        }
        Ok(())
    }
}

/// A codec offered in a media section: a payload type resolved through `a=rtpmap`, or through
/// the static table of RFC 3551 when the section has no `rtpmap` for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Codec<'a> {
    /// RTP payload type.
    pub payload_type: u8,
    /// Encoding name (`PCMU`, `opus`, `telephone-event`, …); compare case-insensitively.
    pub encoding: &'a str,
    /// RTP clock rate in Hz.
    pub clock_rate: u32,
    /// Channels, when stated; `None` means one (RFC 8866 §6.6). The static stereo L16 type
    /// (10) says 2.
    pub channels: Option<u16>,
    /// The `a=fmtp` parameters for this payload type, if any.
    pub fmtp: Option<Fmtp<'a>>,
    /// `true` when the mapping came from the RFC 3551 table rather than an `rtpmap` line.
    pub is_static: bool,
}

impl Codec<'_> {
    /// Whether this is the RFC 4733 named-event codec (DTMF).
    pub fn is_telephone_event(&self) -> bool {
        self.encoding.eq_ignore_ascii_case("telephone-event")
    }
}

/// The static payload types of RFC 3551 §6 (Tables 4 and 5): `(encoding, clock, channels)`.
///
/// G722 is listed at 8000 Hz although it samples at 16 kHz: RFC 3551 §4.5.2 fixes its RTP
/// clock at 8000 "for historical reasons".
pub fn static_payload_type(pt: u8) -> Option<(&'static str, u32, Option<u16>)> {
    Some(match pt {
        0 => ("PCMU", 8000, None),
        3 => ("GSM", 8000, None),
        4 => ("G723", 8000, None),
        5 => ("DVI4", 8000, None),
        6 => ("DVI4", 16000, None),
        7 => ("LPC", 8000, None),
        8 => ("PCMA", 8000, None),
        9 => ("G722", 8000, None),
        10 => ("L16", 44100, Some(2)),
        11 => ("L16", 44100, None),
        12 => ("QCELP", 8000, None),
        13 => ("CN", 8000, None),
        14 => ("MPA", 90000, None),
        15 => ("G728", 8000, None),
        16 => ("DVI4", 11025, None),
        17 => ("DVI4", 22050, None),
        18 => ("G729", 8000, None),
        25 => ("CelB", 90000, None),
        26 => ("JPEG", 90000, None),
        28 => ("nv", 90000, None),
        31 => ("H261", 90000, None),
        32 => ("MPV", 90000, None),
        33 => ("MP2T", 90000, None),
        34 => ("H263", 90000, None),
        _ => return None,
    })
}
