//! URIs: `sip:`/`sips:` (RFC 3261 §19.1, IPv6 references per RFC 5118), `tel:` (RFC 3966)
//! and any other scheme kept opaque (RFC 3261 §25.1 absoluteURI).
//!
//! Every string is a view into the input. `%` escapes are checked where the grammar allows
//! them (user, password, parameters, headers) and rejected elsewhere (scheme, host, port);
//! they are decoded only on request ([`SipUri::user_unescaped`], [`crate::unescape`]).

use std::borrow::Cow;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{ErrorKind, ParseError};
use crate::lex::{
    PARAMCHAR, PCT, Params, USER, check_escapes, host_run, is_alnum, is_hnv_char, is_host_char,
    is_param_char, is_password_char, is_unreserved, run_acc, unescape,
};

/// A URI as found in a Request-URI, name-addr or addr-spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri<'a> {
    /// `sip:` or `sips:`.
    Sip(SipUri<'a>),
    /// `tel:` (RFC 3966).
    Tel(TelUri<'a>),
    /// Any other scheme, kept opaque (RFC 4475 §3.3.2: parse it, let the element decide).
    Other {
        /// The scheme, as written.
        scheme: &'a str,
        /// Everything after the `:`.
        opaque: &'a str,
        /// The whole URI as written.
        raw: &'a str,
    },
}

/// A `sip:` or `sips:` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri<'a> {
    raw: &'a str,
    /// `true` for `sips:`.
    pub secure: bool,
    /// The user part, still escaped (RFC 3261 §19.1.1: may contain `;`, `?`, `/` ...).
    pub user: Option<&'a str>,
    /// The password, still escaped.
    pub password: Option<&'a str>,
    /// The host.
    pub host: Host<'a>,
    /// The port, if given.
    pub port: Option<u16>,
    params: &'a str,
    headers: &'a str,
}

/// A `tel:` URI (RFC 3966): the number and its parameters, both as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelUri<'a> {
    raw: &'a str,
    /// The telephone-subscriber number (`+1-212-555-0101`, `7042`), visual separators kept.
    pub number: &'a str,
    params: &'a str,
}

/// A host: domain name, IPv4 address or IPv6 reference (RFC 5118).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Host<'a> {
    /// A domain name, as written (compare case-insensitively).
    Domain(&'a str),
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 address (written as `[...]` in URIs and Via sent-by).
    V6(Ipv6Addr),
}

impl<'a> Uri<'a> {
    /// Parses a complete URI; the whole of `s` must be consumed.
    pub fn parse(s: &'a str) -> Result<Self, ParseError> {
        let b = s.as_bytes();
        // Nearly every URI on the wire is sip: (any case).
        let (base, secure) = match b.first_chunk::<4>() {
            Some(head)
                if u32::from_le_bytes(*head) | 0x0020_2020 == u32::from_le_bytes(*b"sip:") =>
            {
                (4, false)
            }
            _ => match Self::parse_scheme(s)? {
                Ok(sip) => sip,
                Err(other) => return Ok(other),
            },
        };
        // One call, inlined: the parsed SipUri is built where the Uri goes. Returned from a
        // call it was copied with loads wider than the stores that wrote it (a
        // store-forwarding stall per URI, perf).
        SipUri::parse_after_scheme(s, &s[base..], base, secure).map(Uri::Sip)
    }

    /// A URI whose scheme is not a lower-case `sip:`: `Ok((offset after the colon,
    /// secure))` for `sip`/`sips` in any case, or the whole `tel:` / other URI.
    #[inline(never)]
    fn parse_scheme(s: &'a str) -> Result<Result<(usize, bool), Self>, ParseError> {
        let b = s.as_bytes();
        // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
        let colon = match b.iter().position(|&c| c == b':') {
            Some(p) if p > 0 => p,
            _ => return Err(ParseError::new(ErrorKind::Uri, 0)),
        };
        let scheme = &s[..colon];
        if !b[0].is_ascii_alphabetic()
            || !scheme
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        {
            return Err(ParseError::new(ErrorKind::Uri, 0));
        }
        let rest = &s[colon + 1..];
        if scheme.eq_ignore_ascii_case("sip") {
            Ok(Ok((colon + 1, false)))
        } else if scheme.eq_ignore_ascii_case("sips") {
            Ok(Ok((colon + 1, true)))
        } else if scheme.eq_ignore_ascii_case("tel") {
            TelUri::parse_after_scheme(s, rest, colon + 1).map(|t| Err(Uri::Tel(t)))
        } else {
            // absoluteURI: hier-part / opaque-part, all uric characters.
            if rest.is_empty() {
                return Err(ParseError::new(ErrorKind::Uri, colon + 1));
            }
            if let Some(p) = rest.bytes().position(|c| !is_uric(c) && c != b'#') {
                return Err(ParseError::new(ErrorKind::Uri, colon + 1 + p));
            }
            check_escapes(rest.as_bytes())
                .map_err(|p| ParseError::new(ErrorKind::Escape, colon + 1 + p))?;
            Ok(Err(Uri::Other {
                scheme,
                opaque: rest,
                raw: s,
            }))
        }
    }

    /// The URI exactly as written.
    pub fn as_str(&self) -> &'a str {
        match self {
            Uri::Sip(u) => u.raw,
            Uri::Tel(u) => u.raw,
            Uri::Other { raw, .. } => raw,
        }
    }

    /// The scheme, lower-case for the known ones.
    pub fn scheme(&self) -> &'a str {
        match self {
            Uri::Sip(u) if u.secure => "sips",
            Uri::Sip(_) => "sip",
            Uri::Tel(_) => "tel",
            Uri::Other { scheme, .. } => scheme,
        }
    }

    /// The SIP URI, if this is one.
    pub fn as_sip(&self) -> Option<&SipUri<'a>> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }
}

impl<'a> SipUri<'a> {
    /// Parses a complete `sip:`/`sips:` URI.
    pub fn parse(s: &'a str) -> Result<Self, ParseError> {
        match Uri::parse(s)? {
            Uri::Sip(u) => Ok(u),
            _ => Err(ParseError::new(ErrorKind::Uri, 0)),
        }
    }

    /// `base` is the offset of `rest` within `raw` (for error offsets).
    #[inline(always)]
    fn parse_after_scheme(
        raw: &'a str,
        rest: &'a str,
        base: usize,
        secure: bool,
    ) -> Result<Self, ParseError> {
        let b = rest.as_bytes();
        let err = |kind, at: usize| ParseError::new(kind, base + at);
        // userinfo ends at the first '@': '@' is legal nowhere else unescaped, while the user
        // part may hold ';' '?' '/' (RFC 4475 §3.1.1.9 semiuri). '@' and ':' are not user
        // characters, so the user scan stops at the '@' of a userinfo without a password, or
        // runs to the end of a URI that has none; only a ':' (password or port) or a byte
        // that is no user character needs a search for the '@'.
        let (end, seen) = run_acc(b, 0, USER);
        let at = match b.get(end) {
            None => None,
            Some(b'@') => Some(end),
            Some(_) => memchr::memchr(b'@', &b[end..]).map(|p| end + p),
        };
        let (user, password, hp_start) = match at {
            Some(at) => {
                let info = &rest[..at];
                let (u, p) = match info.as_bytes().get(end) {
                    None => (info, None),
                    Some(b':') => (&info[..end], Some(&info[end + 1..])),
                    Some(_) => {
                        return Err(err(ErrorKind::Uri, end));
                    }
                };
                if u.is_empty() {
                    return Err(err(ErrorKind::Uri, 0));
                }
                if seen & PCT != 0 {
                    check_escapes(u.as_bytes()).map_err(|p| err(ErrorKind::Escape, p))?;
                }
                if let Some(pw) = p {
                    let off = u.len() + 1;
                    if let Some(p) = pw.bytes().position(|c| !is_password_char(c)) {
                        return Err(err(ErrorKind::Uri, off + p));
                    }
                    check_escapes(pw.as_bytes()).map_err(|p| err(ErrorKind::Escape, off + p))?;
                }
                (Some(u), p, at + 1)
            }
            None => (None, None, 0),
        };
        let (host, port, after) =
            parse_hostport(rest, hp_start).map_err(|e| err(e.kind, e.offset))?;
        // uri-parameters
        let mut i = after;
        let params_start = i;
        // Escapes are checked only when a '%' was seen (rare).
        let mut seen = 0;
        while i < b.len() && b[i] == b';' {
            i += 1;
            let name_start = i;
            let (end, acc) = run_acc(b, i, PARAMCHAR);
            (i, seen) = (end, seen | acc);
            if i == name_start {
                return Err(err(ErrorKind::Param, i));
            }
            if i < b.len() && b[i] == b'=' {
                i += 1;
                let vs = i;
                let (end, acc) = run_acc(b, i, PARAMCHAR);
                (i, seen) = (end, seen | acc);
                if i == vs {
                    return Err(err(ErrorKind::Param, i));
                }
            }
        }
        let params = &rest[params_start..i];
        if seen & PCT != 0 {
            check_escapes(params.as_bytes())
                .map_err(|p| err(ErrorKind::Escape, params_start + p))?;
        }
        // headers = "?" header *( "&" header ); header = hname "=" hvalue
        let mut headers = "";
        if i < b.len() && b[i] == b'?' {
            i += 1;
            let hs = i;
            loop {
                let ns = i;
                while i < b.len() && is_hnv_char(b[i]) {
                    i += 1;
                }
                if i == ns || i >= b.len() || b[i] != b'=' {
                    return Err(err(ErrorKind::Uri, i));
                }
                i += 1;
                while i < b.len() && is_hnv_char(b[i]) {
                    i += 1;
                }
                if i < b.len() && b[i] == b'&' {
                    i += 1;
                    continue;
                }
                break;
            }
            headers = &rest[hs..i];
            check_escapes(headers.as_bytes()).map_err(|p| err(ErrorKind::Escape, hs + p))?;
        }
        if i != b.len() {
            return Err(err(ErrorKind::Uri, i));
        }
        Ok(SipUri {
            raw,
            secure,
            user,
            password,
            host,
            port,
            params,
            headers,
        })
    }

    /// The URI exactly as written.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The user part with `%` escapes decoded (borrowed when there are none).
    pub fn user_unescaped(&self) -> Option<Cow<'a, str>> {
        self.user.map(unescape)
    }

    /// The uri-parameters (`;transport=tcp;lr`), values still escaped.
    pub fn params(&self) -> Params<'a> {
        Params::new(self.params)
    }

    /// A uri-parameter by name (case-insensitive): `Some(None)` when present without value.
    pub fn param(&self, name: &str) -> Option<Option<&'a str>> {
        self.params().get(name)
    }

    /// The `transport` parameter.
    pub fn transport(&self) -> Option<&'a str> {
        self.param("transport").flatten()
    }

    /// Whether the `lr` parameter (loose routing, RFC 3261 §16.12) is present.
    pub fn lr(&self) -> bool {
        self.param("lr").is_some()
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&'a str> {
        self.param("maddr").flatten()
    }

    /// The `user` parameter (`phone`, `ip`).
    pub fn user_param(&self) -> Option<&'a str> {
        self.param("user").flatten()
    }

    /// The raw headers part after `?` (empty when absent), still escaped.
    pub fn headers_str(&self) -> &'a str {
        self.headers
    }

    /// The URI headers as `(name, value)` pairs, still escaped.
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let h = self.headers;
        h.split('&')
            .filter(|s| !s.is_empty())
            .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
    }
}

/// Parses `host [":" port]` at `b[start..]`, stopping at `;`, `?` or the end.
fn parse_hostport(s: &str, start: usize) -> Result<(Host<'_>, Option<u16>, usize), ParseError> {
    let b = s.as_bytes();
    let (host, mut i) = parse_host(s, start)?;
    let mut port = None;
    if i < b.len() && b[i] == b':' {
        i += 1;
        let ps = i;
        // parse_port's rule (1..=5 digits, <= 65535), read in one pass.
        let mut v: u32 = 0;
        while let Some(&d) = b.get(i) {
            if !d.is_ascii_digit() {
                break;
            }
            if i - ps < 5 {
                v = v * 10 + u32::from(d - b'0');
            }
            i += 1;
        }
        let p = (1..=5)
            .contains(&(i - ps))
            .then(|| u16::try_from(v).ok())
            .flatten();
        port = Some(p.ok_or(ParseError::new(ErrorKind::Port, ps))?);
    }
    Ok((host, port, i))
}

/// Parses a port (at most 5 digits, <= 65535).
pub(crate) fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 {
        return None;
    }
    let mut v: u32 = 0;
    for c in s.bytes() {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    u16::try_from(v).ok()
}

/// Parses a host at `b[start..]`, stopping at the first byte that cannot be part of one.
/// Returns the host and the index after it. One pass: the scan also classifies.
///
/// Inlined: returned through memory, the result was read back wider than it was written
/// (a store-forwarding stall, the hottest spot of URI parsing in perf).
#[inline(always)]
pub(crate) fn parse_host(s: &str, start: usize) -> Result<(Host<'_>, usize), ParseError> {
    let b = s.as_bytes();
    let err = ParseError::new(ErrorKind::Host, start);
    if b.get(start) == Some(&b'[') {
        // IPv6reference = "[" IPv6address "]" (RFC 5118 §4.1)
        let close = memchr::memchr(b']', &b[start..])
            .map(|p| start + p)
            .ok_or(err)?;
        let addr: Ipv6Addr = s[start + 1..close].parse().map_err(|_| err)?;
        return Ok((Host::V6(addr), close + 1));
    }
    // An IPv4address that is the whole host (not the start of a longer name or number) is
    // read in one pass; anything else takes the general scan, which decides the same way.
    if let Some((addr, len)) = ipv4_prefix(&b[start..]) {
        if !b.get(start + len).is_some_and(|&c| is_host_char(c)) {
            return Ok((Host::V4(addr), start + len));
        }
    }
    // Scan the host characters; remember whether all were digits/dots and reject empty
    // labels ("..", leading '.') on the way.
    let (len, numeric) = host_run(b.get(start..).unwrap_or_default()).ok_or(err)?;
    let i = start + len;
    let h = &s[start..i];
    let host = if i == start {
        None
    } else if numeric {
        // All digits and dots: it must be an IPv4address, not a name.
        parse_ipv4(h.as_bytes()).map(Host::V4)
    } else if b[start] == b'-' {
        None
    } else {
        Some(Host::Domain(h))
    };
    Ok((host.ok_or(err)?, i))
}

/// Classifies a host string without brackets handling for IPv6 (bare IPv6 is accepted for
/// the Via `received` parameter, RFC 5118 §4.5).
pub(crate) fn classify_host(h: &str) -> Option<Host<'_>> {
    let b = h.as_bytes();
    let (&first, &last) = (b.first()?, b.last()?);
    if first == b'[' {
        return if last == b']' && b.len() > 2 {
            h[1..h.len() - 1].parse().ok().map(Host::V6)
        } else {
            None
        };
    }
    // One pass: IPv4 (digits and dots only), bare IPv6 (has ':'), or a hostname.
    let mut numeric = true;
    let mut prev = b'.';
    for &c in b {
        match c {
            b'0'..=b'9' => {}
            b'.' if prev == b'.' => return None, // leading '.' or ".."
            b'.' => {}
            b':' => return h.parse().ok().map(Host::V6),
            _ if is_alnum(c) || c == b'-' || c == b'_' => numeric = false,
            _ => return None,
        }
        prev = c;
    }
    if numeric {
        // All digits and dots: it must be an IPv4address, not a name.
        return parse_ipv4(b).map(Host::V4);
    }
    if first == b'-' {
        return None;
    }
    Some(Host::Domain(h))
}

/// An IPv4address at the start of `b` (same rules as [`parse_ipv4`]) and its length.
#[inline]
fn ipv4_prefix(b: &[u8]) -> Option<(Ipv4Addr, usize)> {
    let mut o = [0u8; 4];
    let mut i = 0;
    for (k, octet) in o.iter_mut().enumerate() {
        if k > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let s = i;
        let mut v: u32 = 0;
        while i - s < 3 {
            match b.get(i) {
                Some(&c) if c.is_ascii_digit() => v = v * 10 + u32::from(c - b'0'),
                _ => break,
            }
            i += 1;
        }
        if i == s {
            return None;
        }
        *octet = u8::try_from(v).ok()?;
    }
    Some((Ipv4Addr::from(o), i))
}

/// IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT, each at most 255
/// (RFC 3261 §25.1 allows leading zeros).
pub(crate) fn parse_ipv4(b: &[u8]) -> Option<Ipv4Addr> {
    let mut o = [0u8; 4];
    let mut n = 0;
    let mut v: u16 = 0;
    let mut digits = 0;
    for &c in b {
        if c == b'.' {
            if digits == 0 || n == 3 {
                return None;
            }
            o[n] = u8::try_from(v).ok()?;
            n += 1;
            v = 0;
            digits = 0;
        } else if c.is_ascii_digit() && digits < 3 {
            v = v * 10 + u16::from(c - b'0');
            digits += 1;
        } else {
            return None;
        }
    }
    if n != 3 || digits == 0 {
        return None;
    }
    o[3] = u8::try_from(v).ok()?;
    Some(Ipv4Addr::from(o))
}

impl<'a> TelUri<'a> {
    fn parse_after_scheme(raw: &'a str, rest: &'a str, base: usize) -> Result<Self, ParseError> {
        let end = rest.find(';').unwrap_or(rest.len());
        let number = &rest[..end];
        // RFC 3966: global-number-digits / local-number-digits with visual separators.
        let ok = !number.is_empty()
            && number.bytes().enumerate().all(|(i, c)| {
                c.is_ascii_hexdigit()
                    || matches!(c, b'*' | b'#' | b'-' | b'.' | b'(' | b')')
                    || (c == b'+' && i == 0)
            });
        if !ok {
            return Err(ParseError::new(ErrorKind::Uri, base));
        }
        let params = &rest[end..];
        let pb = params.as_bytes();
        let mut i = 0;
        while i < pb.len() {
            if pb[i] != b';' {
                return Err(ParseError::new(ErrorKind::Param, base + end + i));
            }
            i += 1;
            let ns = i;
            while i < pb.len() && pb[i] != b';' && (is_param_char(pb[i]) || pb[i] == b'=') {
                i += 1;
            }
            if i == ns || (i < pb.len() && pb[i] != b';') {
                return Err(ParseError::new(ErrorKind::Param, base + end + i));
            }
        }
        check_escapes(pb).map_err(|p| ParseError::new(ErrorKind::Escape, base + end + p))?;
        Ok(TelUri {
            raw,
            number,
            params,
        })
    }

    /// The URI exactly as written.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// Whether the number is global (`+` E.164).
    pub fn is_global(&self) -> bool {
        self.number.starts_with('+')
    }

    /// The parameters (`;phone-context=...`).
    pub fn params(&self) -> Params<'a> {
        Params::new(self.params)
    }
}

impl Host<'_> {
    /// Whether this is an IP address (not a name).
    pub fn is_ip(&self) -> bool {
        !matches!(self, Host::Domain(_))
    }
}

impl fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::V4(a) => write!(f, "{a}"),
            Host::V6(a) => write!(f, "[{a}]"),
        }
    }
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// uric = reserved / unreserved / escaped
fn is_uric(c: u8) -> bool {
    is_unreserved(c)
        || matches!(
            c,
            b'%' | b';' | b'/' | b'?' | b':' | b'@' | b'&' | b'=' | b'+' | b'$' | b','
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sip(s: &str) -> SipUri<'_> {
        SipUri::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn uri_ports_follow_parse_port() {
        // Pins the one-pass URI port read against the shared rule.
        for (p, want) in [
            ("5060", Some(5060)),
            ("0", Some(0)),
            ("65535", Some(65535)),
            ("00080", Some(80)),
            ("65536", None),
            ("000080", None),
            ("", None),
        ] {
            let text = format!("sip:alice@192.0.2.1:{p};transport=udp");
            let got = SipUri::parse(&text).ok().and_then(|u| u.port);
            assert_eq!(got, want, "{p:?}");
            assert_eq!(parse_port(p), want, "{p:?}");
        }
    }

    #[test]
    fn ipv4_fast_path_decides_like_the_general_scan() {
        // Pins the one-pass IPv4 read: it may only accept what the full host scan would.
        let v4 = |a, b, c, d| Ok(Host::V4(Ipv4Addr::new(a, b, c, d)));
        let cases: [(&str, Result<Host<'_>, ()>, usize); 17] = [
            ("0.0.0.0", v4(0, 0, 0, 0), 7),
            ("255.255.255.255", v4(255, 255, 255, 255), 15),
            ("9.99.199.1", v4(9, 99, 199, 1), 10),
            ("1.2.3.0004", Err(()), 0),
            ("1.2.3.", Err(()), 0),
            ("1.2:3.4", Err(()), 0),
            ("203.0.113.10", v4(203, 0, 113, 10), 12),
            ("203.0.113.10:5060", v4(203, 0, 113, 10), 12),
            ("203.0.113.10;lr", v4(203, 0, 113, 10), 12),
            ("01.002.3.4", v4(1, 2, 3, 4), 10),
            ("1.2.3.4a", Ok(Host::Domain("1.2.3.4a")), 8),
            ("1.2.3.4-x", Ok(Host::Domain("1.2.3.4-x")), 9),
            ("1.2.3.4.5", Err(()), 0),
            ("1.2.3.4567", Err(()), 0),
            ("1.2.3.256", Err(()), 0),
            ("1.2.3", Err(()), 0),
            ("1..2.3.4", Err(()), 0),
        ];
        for (h, want, end) in cases {
            let got = parse_host(h, 0);
            match want {
                Ok(host) => assert_eq!(got, Ok((host, end)), "{h}"),
                Err(()) => assert!(got.is_err(), "{h}: {got:?}"),
            }
        }
    }

    #[test]
    fn sip_uri_table() {
        let u = sip("sip:alice:secret@example.com:5070;transport=tcp;lr?Subject=hi&X=1");
        assert_eq!(u.user, Some("alice"));
        assert_eq!(u.password, Some("secret"));
        assert_eq!(u.host, Host::Domain("example.com"));
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.transport(), Some("tcp"));
        assert!(u.lr());
        assert_eq!(
            u.headers().collect::<Vec<_>>(),
            vec![("Subject", "hi"), ("X", "1")]
        );

        let u = sip("sips:[2001:db8::10]:5061");
        assert!(u.secure);
        assert_eq!(u.host, Host::V6("2001:db8::10".parse().unwrap()));
        assert_eq!(u.port, Some(5061));

        let u = sip("sip:192.0.2.1");
        assert_eq!(u.host, Host::V4(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(u.port, None);

        // RFC 4475 §3.1.1.9: ';par=' belongs to the user part.
        let u = sip("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user, Some("user;par=u%40example.net"));
        assert_eq!(u.user_unescaped().unwrap(), "user;par=u@example.net");
        assert_eq!(u.params().count(), 0);

        // RFC 4475 §3.1.1.3
        let u = sip("sip:sips%3Auser%40example.com@example.net");
        assert_eq!(u.user_unescaped().unwrap(), "sips:user@example.com");
        assert!(matches!(u.user_unescaped().unwrap(), Cow::Owned(_)));
        assert!(matches!(
            sip("sip:bob@x").user_unescaped().unwrap(),
            Cow::Borrowed(_)
        ));

        // RFC 5118 §4.3: IPv4-mapped IPv6.
        let u = sip("sip:[::ffff:192.0.2.1]");
        assert!(matches!(u.host, Host::V6(_)));
        // RFC 5118 §4.2: a port-looking suffix inside the brackets is part of the address.
        let u = sip("sip:[2001:db8::10:5070]");
        assert_eq!(u.port, None);
    }

    #[test]
    fn intmeth_request_uri() {
        let s = "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com";
        let u = sip(s);
        assert_eq!(
            u.user,
            Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        );
        assert_eq!(
            u.password,
            Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        );
    }

    #[test]
    fn rejects_bad_uris() {
        for s in [
            "<sip:user@example.com>",
            "sip:user@example.com; lr",
            "sip:[2001:db8::10",
            "sip:2001:db8::10",
            "sip:user@exa mple.com",
            "sip:@example.com",
            "sip:user@",
            "sip:user@host:99999",
            "sip:us%zzer@host",
            "sip:user@ho%41st",
            "sip:host;=x",
            "sip:host?novalue",
            "sip:256.1.1.1",
            ":opaque",
            "1abc:x",
            "tel:",
            "tel:+1-212-555-01 01",
            "http:",
        ] {
            assert!(Uri::parse(s).is_err(), "{s} should be rejected");
        }
    }

    #[test]
    fn tel_and_other_schemes() {
        match Uri::parse("tel:+1-201-555-0123;phone-context=example.com").unwrap() {
            Uri::Tel(t) => {
                assert_eq!(t.number, "+1-201-555-0123");
                assert!(t.is_global());
                assert_eq!(t.params().get("phone-context"), Some(Some("example.com")));
            }
            other => panic!("{other:?}"),
        }
        match Uri::parse("soap.beep://192.0.2.103:3002").unwrap() {
            Uri::Other { scheme, opaque, .. } => {
                assert_eq!(scheme, "soap.beep");
                assert_eq!(opaque, "//192.0.2.103:3002");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(Uri::parse("isbn:2983792873").unwrap().scheme(), "isbn");
        assert_eq!(Uri::parse("SIP:x@y").unwrap().scheme(), "sip");
    }
}
