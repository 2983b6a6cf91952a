//! Typed values of the non-attribute SDP lines: `o=`, `c=`, `m=`, `b=`, `t=`, `r=`, `z=`, `k=`
//! (RFC 8866 §5).
//!
//! Each type parses from the line value (the text after `<type>=`) and `Display`s back to a
//! value that parses to an equal type; the writer relies on that.

use core::fmt;
use core::net::IpAddr;

use super::lex::{
    Fail, Host, Tokens, fail, is_token, is_visible, is_ws, next_token, num_u16, num_u64, parse_u64,
    port, split_once_opt,
};
use crate::error::{ErrorKind, ParseError};

/// Address type of `o=`, `c=` and `a=rtcp` (RFC 8866 §5.7).
///
/// Only the two address types defined for the `IN` network type are accepted; anything else
/// cannot be used by an IP gateway and is rejected as [`ErrorKind::SdpAddrType`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddrType {
    /// `IP4`.
    Ip4,
    /// `IP6`.
    Ip6,
}

impl AddrType {
    /// The address type of an IP address.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => AddrType::Ip4,
            IpAddr::V6(_) => AddrType::Ip6,
        }
    }

    /// The SDP token.
    pub fn as_str(self) -> &'static str {
        match self {
            AddrType::Ip4 => "IP4",
            AddrType::Ip6 => "IP6",
        }
    }
}

/// Parses `<nettype> <addrtype>` (RFC 8866 §5.7). Only `IN` is a usable network type here.
/// Tokens are compared case-insensitively: a few carriers send `in ip4`.
fn net_and_addr_type(nettype: &str, addrtype: &str) -> Result<AddrType, Fail> {
    if !nettype.eq_ignore_ascii_case("IN") {
        return fail(ErrorKind::SdpNetType, nettype);
    }
    if addrtype.eq_ignore_ascii_case("IP4") {
        Ok(AddrType::Ip4)
    } else if addrtype.eq_ignore_ascii_case("IP6") {
        Ok(AddrType::Ip6)
    } else {
        fail(ErrorKind::SdpAddrType, addrtype)
    }
}

/// Parses a unicast host for `addrtype`; an IP literal of the other family is an error.
pub(crate) fn host_for<'a>(addrtype: AddrType, s: &'a str) -> Result<Host<'a>, Fail> {
    let host = Host::parse(s, ErrorKind::SdpAddress)?;
    match (addrtype, host) {
        (AddrType::Ip4, Host::Ip(IpAddr::V6(_))) | (AddrType::Ip6, Host::Ip(IpAddr::V4(_))) => {
            fail(ErrorKind::SdpAddress, s)
        }
        _ => Ok(host),
    }
}

/// Parses `IN <addrtype> <address>` as used by `a=rtcp` (RFC 3605) and `o=`.
pub(crate) fn net_address<'a>(
    t: &mut Tokens<'a>,
    kind: ErrorKind,
    whole: &'a str,
) -> Result<(AddrType, Host<'a>), Fail> {
    let nettype = next_token(t, kind, whole)?;
    let addrtype = next_token(t, kind, whole)?;
    let addrtype = net_and_addr_type(nettype, addrtype)?;
    let address = next_token(t, kind, whole)?;
    Ok((addrtype, host_for(addrtype, address)?))
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`
/// (RFC 8866 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin<'a> {
    /// The user's login on the originating host, `-` when there is none.
    pub username: &'a str,
    /// Numeric session id; together with the other fields a globally unique session identifier.
    pub session_id: u64,
    /// Version of this description; RFC 3264 §8 requires it to grow with every changed offer.
    pub session_version: u64,
    /// Address type of `address`.
    pub addrtype: AddrType,
    /// Address of the originating host.
    pub address: Host<'a>,
}

impl<'a> Origin<'a> {
    /// An origin on IP address `ip` (the address type follows the address family).
    pub fn new(username: &'a str, session_id: u64, session_version: u64, ip: IpAddr) -> Self {
        Origin {
            username,
            session_id,
            session_version,
            addrtype: AddrType::of(ip),
            address: Host::Ip(ip),
        }
    }

    /// Parses the value of an `o=` line.
    ///
    /// Fields are taken from the right: RFC 8866 forbids spaces in the username, but some PBXs
    /// put their product name there, and the five fixed fields are still unambiguous.
    pub fn parse(value: &'a str) -> Result<Self, ParseError> {
        Self::parse_inner(value).map_err(|f| f.relative_to(value))
    }

    pub(crate) fn parse_inner(value: &'a str) -> Result<Self, Fail> {
        let kind = ErrorKind::SdpOrigin;
        let mut rest = value.trim_end_matches(is_ws);
        let mut fields = [""; 5];
        for slot in fields.iter_mut().rev() {
            let cut = rest.rfind(is_ws).ok_or(Fail::at(kind, value))?;
            *slot = &rest[cut + 1..];
            rest = rest[..cut].trim_end_matches(is_ws);
        }
        let username = rest;
        if username.is_empty() || username.starts_with(is_ws) {
            return fail(kind, value);
        }
        let [id, version, nettype, addrtype, address] = fields;
        let session_id = num_u64(id, kind)?;
        let session_version = num_u64(version, kind)?;
        let addrtype = net_and_addr_type(nettype, addrtype)?;
        let address = host_for(addrtype, address)?;
        Ok(Origin {
            username,
            session_id,
            session_version,
            addrtype,
            address,
        })
    }
}

impl fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} IN {} {}",
            self.username,
            self.session_id,
            self.session_version,
            self.addrtype.as_str(),
            self.address
        )
    }
}

/// `c=<nettype> <addrtype> <connection-address>` (RFC 8866 §5.7).
///
/// For IPv4 multicast the address carries `/<ttl>[/<number of addresses>]`, for IPv6 multicast
/// `/<number of addresses>`. A TTL on a unicast address is tolerated (it is meaningless, not
/// ambiguous).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection<'a> {
    /// Address type.
    pub addrtype: AddrType,
    /// The (base) address.
    pub address: Host<'a>,
    /// IPv4 multicast TTL.
    pub ttl: Option<u8>,
    /// Number of consecutive multicast addresses.
    pub count: Option<u32>,
}

impl<'a> Connection<'a> {
    /// A plain unicast connection to `ip`.
    pub fn ip(ip: IpAddr) -> Self {
        Connection {
            addrtype: AddrType::of(ip),
            address: Host::Ip(ip),
            ttl: None,
            count: None,
        }
    }

    /// Parses the value of a `c=` line.
    pub fn parse(value: &'a str) -> Result<Self, ParseError> {
        Self::parse_inner(value).map_err(|f| f.relative_to(value))
    }

    pub(crate) fn parse_inner(value: &'a str) -> Result<Self, Fail> {
        let kind = ErrorKind::SdpConnection;
        let mut t = Tokens::new(value);
        let nettype = next_token(&mut t, kind, value)?;
        let addrtype = next_token(&mut t, kind, value)?;
        let addrtype = net_and_addr_type(nettype, addrtype)?;
        let full = next_token(&mut t, kind, value)?;
        if let Some(extra) = t.next() {
            return fail(kind, extra);
        }
        let mut parts = full.split('/');
        let address = host_for(addrtype, parts.next().unwrap_or(full))?;
        let first = parts.next();
        let second = parts.next();
        if let Some(extra) = parts.next() {
            return fail(kind, extra);
        }
        let (ttl, count) = match (addrtype, first, second) {
            (_, None, _) => (None, None),
            (AddrType::Ip4, Some(ttl), count) => {
                let ttl = parse_u64(ttl, 3)
                    .and_then(|v| u8::try_from(v).ok())
                    .ok_or(Fail::at(kind, ttl))?;
                (Some(ttl), count.map(multicast_count).transpose()?)
            }
            (AddrType::Ip6, Some(count), None) => (None, Some(multicast_count(count)?)),
            (AddrType::Ip6, Some(_), Some(extra)) => return fail(kind, extra),
        };
        Ok(Connection {
            addrtype,
            address,
            ttl,
            count,
        })
    }
}

fn multicast_count(s: &str) -> Result<u32, Fail> {
    match parse_u64(s, 10).and_then(|v| u32::try_from(v).ok()) {
        Some(n) if n >= 1 => Ok(n),
        _ => fail(ErrorKind::SdpConnection, s),
    }
}

impl fmt::Display for Connection<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IN {} {}", self.addrtype.as_str(), self.address)?;
        if let Some(ttl) = self.ttl {
            write!(f, "/{ttl}")?;
        }
        if let Some(count) = self.count {
            // An IPv4 count without TTL cannot be expressed; the parser never produces one.
            write!(f, "/{count}")?;
        }
        Ok(())
    }
}

/// The `<media>` field of `m=` (RFC 8866 §5.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType<'a> {
    /// `audio`.
    Audio,
    /// `video`.
    Video,
    /// `text`.
    Text,
    /// `application` (e.g. WebRTC data channels).
    Application,
    /// `message`.
    Message,
    /// `image` (e.g. T.38 fax).
    Image,
    /// Any other token, kept as written.
    Other(&'a str),
}

impl<'a> MediaType<'a> {
    fn from_token(s: &'a str) -> Self {
        const KNOWN: [(&str, MediaType<'static>); 6] = [
            ("audio", MediaType::Audio),
            ("video", MediaType::Video),
            ("text", MediaType::Text),
            ("application", MediaType::Application),
            ("message", MediaType::Message),
            ("image", MediaType::Image),
        ];
        KNOWN
            .iter()
            .find(|(name, _)| s.eq_ignore_ascii_case(name))
            .map_or(MediaType::Other(s), |(_, m)| *m)
    }

    /// The SDP token.
    pub fn as_str(&self) -> &'a str {
        match self {
            MediaType::Audio => "audio",
            MediaType::Video => "video",
            MediaType::Text => "text",
            MediaType::Application => "application",
            MediaType::Message => "message",
            MediaType::Image => "image",
            MediaType::Other(s) => s,
        }
    }
}

/// The `<proto>` field of `m=` (RFC 8866 §5.14 and the registry of RFC 8866 §8.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto<'a> {
    /// `RTP/AVP` (RFC 3551).
    RtpAvp,
    /// `RTP/AVPF` (RFC 4585).
    RtpAvpf,
    /// `RTP/SAVP` (RFC 3711).
    RtpSavp,
    /// `RTP/SAVPF` (RFC 5124).
    RtpSavpf,
    /// `UDP/TLS/RTP/SAVP` (RFC 5764, DTLS-SRTP).
    UdpTlsRtpSavp,
    /// `UDP/TLS/RTP/SAVPF` (RFC 5764, the WebRTC profile).
    UdpTlsRtpSavpf,
    /// `udp`.
    Udp,
    /// `udptl` (T.38 fax).
    Udptl,
    /// `UDP/DTLS/SCTP` (RFC 8841, WebRTC data channels).
    UdpDtlsSctp,
    /// Anything else, kept as written.
    Other(&'a str),
}

impl<'a> Proto<'a> {
    const KNOWN: [(&'static str, Proto<'static>); 9] = [
        ("RTP/AVP", Proto::RtpAvp),
        ("RTP/AVPF", Proto::RtpAvpf),
        ("RTP/SAVP", Proto::RtpSavp),
        ("RTP/SAVPF", Proto::RtpSavpf),
        ("UDP/TLS/RTP/SAVP", Proto::UdpTlsRtpSavp),
        ("UDP/TLS/RTP/SAVPF", Proto::UdpTlsRtpSavpf),
        ("udp", Proto::Udp),
        ("udptl", Proto::Udptl),
        ("UDP/DTLS/SCTP", Proto::UdpDtlsSctp),
    ];

    fn from_token(s: &'a str) -> Self {
        Self::KNOWN
            .iter()
            .find(|(name, _)| s.eq_ignore_ascii_case(name))
            .map_or(Proto::Other(s), |(_, p)| *p)
    }

    /// The SDP token.
    pub fn as_str(&self) -> &'a str {
        match self {
            Proto::Other(s) => s,
            known => Self::KNOWN
                .iter()
                .find(|(_, p)| p == known)
                .map_or("", |(name, _)| name),
        }
    }

    /// Whether the formats are RTP payload types (RFC 8866 §5.14: "If the `<proto>` sub-field is
    /// "RTP/AVP" or "RTP/SAVP" the `<fmt>` sub-fields contain RTP payload type numbers"; the same
    /// holds for every profile with an `RTP/` component, e.g. `TCP/RTP/AVP`).
    pub fn is_rtp(&self) -> bool {
        match self {
            Proto::RtpAvp
            | Proto::RtpAvpf
            | Proto::RtpSavp
            | Proto::RtpSavpf
            | Proto::UdpTlsRtpSavp
            | Proto::UdpTlsRtpSavpf => true,
            Proto::Udp | Proto::Udptl | Proto::UdpDtlsSctp => false,
            Proto::Other(s) => s.split('/').any(|part| part.eq_ignore_ascii_case("RTP")),
        }
    }

    /// Whether media is protected by SRTP (SDES or DTLS keyed).
    pub fn is_secure(&self) -> bool {
        match self {
            Proto::RtpSavp | Proto::RtpSavpf | Proto::UdpTlsRtpSavp | Proto::UdpTlsRtpSavpf => true,
            Proto::Other(s) => s.split('/').any(|part| {
                part.eq_ignore_ascii_case("SAVP") || part.eq_ignore_ascii_case("SAVPF")
            }),
            _ => false,
        }
    }
}

/// `m=<media> <port>[/<number of ports>] <proto> <fmt> ...` (RFC 8866 §5.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaLine<'a> {
    /// Media type.
    pub media: MediaType<'a>,
    /// Transport port; 0 rejects or disables the stream (RFC 3264 §6).
    pub port: u16,
    /// Number of ports for hierarchically encoded streams.
    pub port_count: Option<u16>,
    /// Transport protocol.
    pub proto: Proto<'a>,
    /// The format list as written (space separated); see [`MediaLine::formats`].
    pub formats: &'a str,
}

impl<'a> MediaLine<'a> {
    /// Parses the value of an `m=` line. With an RTP profile every format must be a payload
    /// type 0–127 ([`ErrorKind::SdpPayloadType`]); at most `max_formats` formats are accepted.
    pub fn parse(value: &'a str, max_formats: usize) -> Result<Self, ParseError> {
        Self::parse_inner(value, max_formats).map_err(|f| f.relative_to(value))
    }

    pub(crate) fn parse_inner(value: &'a str, max_formats: usize) -> Result<Self, Fail> {
        let kind = ErrorKind::SdpMedia;
        let mut t = Tokens::new(value);
        let media = next_token(&mut t, kind, value)?;
        if !is_token(media) {
            return fail(kind, media);
        }
        let port_field = next_token(&mut t, kind, value)?;
        let (p, count) = split_once_opt(port_field, '/');
        let port = port(p)?;
        let port_count = match count {
            None => None,
            Some(c) => match num_u16(c, ErrorKind::SdpPort)? {
                0 => return fail(ErrorKind::SdpPort, c),
                n => Some(n),
            },
        };
        let proto_tok = next_token(&mut t, kind, value)?;
        if !proto_tok.split('/').all(is_token) {
            return fail(kind, proto_tok);
        }
        let proto = Proto::from_token(proto_tok);
        // RFC 8866 requires at least one format; rejected streams from some stacks carry none,
        // which is harmless, so an empty list is accepted.
        let formats = t.remainder().trim_end_matches(is_ws);
        let rtp = proto.is_rtp();
        let mut n = 0usize;
        for f in Tokens::new(formats) {
            n += 1;
            if n > max_formats {
                return fail(ErrorKind::SdpTooManyFormats, f);
            }
            if rtp {
                super::lex::payload_type(f)?;
            } else if !is_visible(f) {
                return fail(kind, f);
            }
        }
        Ok(MediaLine {
            media: MediaType::from_token(media),
            port,
            port_count,
            proto,
            formats,
        })
    }

    /// The formats in order of preference.
    pub fn formats(&self) -> Tokens<'a> {
        Tokens::new(self.formats)
    }

    /// The RTP payload types in order of preference (empty unless [`Proto::is_rtp`]).
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + use<'a> {
        let rtp = self.proto.is_rtp();
        Tokens::new(self.formats)
            .filter(move |_| rtp)
            .filter_map(|f| super::lex::payload_type(f).ok())
    }
}

impl fmt::Display for MediaLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.media.as_str(), self.port)?;
        if let Some(c) = self.port_count {
            write!(f, "/{c}")?;
        }
        write!(f, " {}", self.proto.as_str())?;
        if !self.formats.is_empty() {
            write!(f, " {}", self.formats)?;
        }
        Ok(())
    }
}

/// The `<bwtype>` of `b=` (RFC 8866 §5.8, RFC 3556, RFC 3890).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BandwidthType<'a> {
    /// `CT`: conference total, kbit/s.
    Ct,
    /// `AS`: application specific maximum, kbit/s.
    As,
    /// `TIAS`: transport independent application specific maximum, bit/s (RFC 3890).
    Tias,
    /// `RS`: RTCP bandwidth for active senders, bit/s (RFC 3556).
    Rs,
    /// `RR`: RTCP bandwidth for other participants, bit/s (RFC 3556).
    Rr,
    /// Any other token.
    Other(&'a str),
}

impl<'a> BandwidthType<'a> {
    /// The SDP token.
    pub fn as_str(&self) -> &'a str {
        match self {
            BandwidthType::Ct => "CT",
            BandwidthType::As => "AS",
            BandwidthType::Tias => "TIAS",
            BandwidthType::Rs => "RS",
            BandwidthType::Rr => "RR",
            BandwidthType::Other(s) => s,
        }
    }
}

/// `b=<bwtype>:<bandwidth>` (RFC 8866 §5.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bandwidth<'a> {
    /// Modifier.
    pub kind: BandwidthType<'a>,
    /// Value, in the unit the modifier defines.
    pub value: u64,
}

impl<'a> Bandwidth<'a> {
    /// Parses the value of a `b=` line.
    pub fn parse(value: &'a str) -> Result<Self, ParseError> {
        Self::parse_inner(value).map_err(|f| f.relative_to(value))
    }

    pub(crate) fn parse_inner(value: &'a str) -> Result<Self, Fail> {
        let kind = ErrorKind::SdpBandwidth;
        let (name, v) = value.split_once(':').ok_or(Fail::at(kind, value))?;
        if !is_token(name) {
            return fail(kind, name);
        }
        let bw = match name {
            n if n.eq_ignore_ascii_case("CT") => BandwidthType::Ct,
            n if n.eq_ignore_ascii_case("AS") => BandwidthType::As,
            n if n.eq_ignore_ascii_case("TIAS") => BandwidthType::Tias,
            n if n.eq_ignore_ascii_case("RS") => BandwidthType::Rs,
            n if n.eq_ignore_ascii_case("RR") => BandwidthType::Rr,
            n => BandwidthType::Other(n),
        };
        let value = num_u64(v.trim_end_matches(is_ws), kind)?;
        Ok(Bandwidth { kind: bw, value })
    }
}

impl fmt::Display for Bandwidth<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.value)
    }
}

/// `t=<start-time> <stop-time>` in NTP seconds (RFC 8866 §5.9); `0 0` is a permanent session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timing {
    /// Start time, 0 for "unbounded".
    pub start: u64,
    /// Stop time, 0 for "unbounded".
    pub stop: u64,
}

impl Timing {
    /// `t=0 0`, what every SIP offer/answer uses (RFC 3264 §5).
    pub const PERMANENT: Timing = Timing { start: 0, stop: 0 };

    /// Parses the value of a `t=` line.
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        Self::parse_inner(value).map_err(|f| f.relative_to(value))
    }

    pub(crate) fn parse_inner(value: &str) -> Result<Self, Fail> {
        let kind = ErrorKind::SdpTiming;
        let mut t = Tokens::new(value);
        let start = num_u64(next_token(&mut t, kind, value)?, kind)?;
        let stop = num_u64(next_token(&mut t, kind, value)?, kind)?;
        if let Some(extra) = t.next() {
            return fail(kind, extra);
        }
        Ok(Timing { start, stop })
    }
}

impl fmt::Display for Timing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.start, self.stop)
    }
}

/// Parses an RFC 8866 §9 `typed-time` (`1*DIGIT [d|h|m|s]`) into seconds.
fn typed_time(s: &str) -> Option<u64> {
    let (digits, mult) = match s.as_bytes().last()? {
        b'd' => (&s[..s.len() - 1], 86_400),
        b'h' => (&s[..s.len() - 1], 3_600),
        b'm' => (&s[..s.len() - 1], 60),
        b's' => (&s[..s.len() - 1], 1),
        _ => (s, 1),
    };
    parse_u64(digits, 18)?.checked_mul(mult)
}

/// `r=<repeat interval> <active duration> <offsets from start-time>` (RFC 8866 §5.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeat<'a> {
    /// Repeat interval in seconds.
    pub interval: u64,
    /// Active duration in seconds.
    pub duration: u64,
    /// Offsets from the start time as written (validated typed times); see
    /// [`Repeat::offsets`].
    pub offsets: &'a str,
}

impl<'a> Repeat<'a> {
    /// Parses the value of an `r=` line.
    pub fn parse(value: &'a str) -> Result<Self, ParseError> {
        Self::parse_inner(value).map_err(|f| f.relative_to(value))
    }

    pub(crate) fn parse_inner(value: &'a str) -> Result<Self, Fail> {
        let kind = ErrorKind::SdpTiming;
        let mut t = Tokens::new(value);
        let i = next_token(&mut t, kind, value)?;
        let interval = typed_time(i).ok_or(Fail::at(kind, i))?;
        let d = next_token(&mut t, kind, value)?;
        let duration = typed_time(d).ok_or(Fail::at(kind, d))?;
        let offsets = t.remainder().trim_end_matches(is_ws);
        if offsets.is_empty() {
            return fail(kind, offsets);
        }
        for o in Tokens::new(offsets) {
            typed_time(o).ok_or(Fail::at(kind, o))?;
        }
        Ok(Repeat {
            interval,
            duration,
            offsets,
        })
    }

    /// Offsets from the start time, in seconds.
    pub fn offsets(&self) -> impl Iterator<Item = u64> + use<'a> {
        Tokens::new(self.offsets).filter_map(typed_time)
    }
}

impl fmt::Display for Repeat<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.interval, self.duration, self.offsets)
    }
}

/// `z=<adjustment time> <offset> ...` (RFC 8866 §5.11), kept as written after validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZones<'a>(pub &'a str);

impl<'a> TimeZones<'a> {
    /// Parses the value of a `z=` line: one or more pairs of NTP time and signed typed time.
    pub fn parse(value: &'a str) -> Result<Self, ParseError> {
        Self::parse_inner(value).map_err(|f| f.relative_to(value))
    }

    pub(crate) fn parse_inner(value: &'a str) -> Result<Self, Fail> {
        let kind = ErrorKind::SdpTiming;
        let value = value.trim_end_matches(is_ws);
        let mut n = 0usize;
        let mut t = Tokens::new(value);
        while let Some(time) = t.next() {
            num_u64(time, kind)?;
            let off = next_token(&mut t, kind, value)?;
            typed_time(off.strip_prefix('-').unwrap_or(off)).ok_or(Fail::at(kind, off))?;
            n += 1;
        }
        if n == 0 {
            return fail(kind, value);
        }
        Ok(TimeZones(value))
    }

    /// `(adjustment time, offset in seconds)` pairs.
    pub fn adjustments(&self) -> impl Iterator<Item = (u64, i64)> + use<'a> {
        let mut t = Tokens::new(self.0);
        core::iter::from_fn(move || {
            let time = parse_u64(t.next()?, 20)?;
            let off = t.next()?;
            let (neg, mag) = match off.strip_prefix('-') {
                Some(m) => (true, m),
                None => (false, off),
            };
            let secs = i64::try_from(typed_time(mag)?).ok()?;
            Some((time, if neg { -secs } else { secs }))
        })
    }
}

impl fmt::Display for TimeZones<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// `k=<method>[:<encryption key>]` (RFC 8866 §5.12, obsolete but still legal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key<'a> {
    /// Key method (`clear`, `base64`, `uri`, `prompt`).
    pub method: &'a str,
    /// The key, when the method carries one.
    pub key: Option<&'a str>,
}

impl<'a> Key<'a> {
    /// Parses the value of a `k=` line.
    pub fn parse(value: &'a str) -> Result<Self, ParseError> {
        Self::parse_inner(value).map_err(|f| f.relative_to(value))
    }

    pub(crate) fn parse_inner(value: &'a str) -> Result<Self, Fail> {
        let (method, key) = split_once_opt(value, ':');
        if !is_token(method) {
            return fail(ErrorKind::SdpKey, method);
        }
        Ok(Key { method, key })
    }
}

impl fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.method)?;
        if let Some(k) = self.key {
            write!(f, ":{k}")?;
        }
        Ok(())
    }
}
