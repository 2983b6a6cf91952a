//! Lexical helpers shared by the SDP line and attribute parsers: line splitting, whitespace
//! separated fields, numbers and hosts.
//!
//! Every helper works on `&str` slices of the caller's input and reports failures as a
//! [`Fail`], which remembers *where* (the address of the offending slice) so that the public
//! entry points can turn it into a byte offset without any allocation.

use core::net::IpAddr;

use crate::error::{ErrorKind, ParseError};

/// An internal failure: the kind plus the address of the first offending byte.
///
/// Addresses (not offsets) let nested parsers report positions without threading base offsets
/// through every call; [`Fail::relative_to`] converts once at the public boundary.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fail {
    pub(crate) kind: ErrorKind,
    at: usize,
}

impl Fail {
    /// A failure of `kind` located at the start of `at` (a slice of the input).
    pub(crate) fn at(kind: ErrorKind, at: &str) -> Self {
        Self {
            kind,
            at: at.as_ptr() as usize,
        }
    }

    /// Converts to a public error whose offset is relative to `base`, the slice that was given
    /// to the public entry point. The location is clamped into `base` so a mismatch can never
    /// produce an out-of-range offset.
    pub(crate) fn relative_to(self, base: &str) -> ParseError {
        let start = base.as_ptr() as usize;
        let offset = self.at.saturating_sub(start).min(base.len());
        ParseError::new(self.kind, offset)
    }
}

/// Shorthand for an `Err(Fail)` located at `at`.
pub(crate) fn fail<T>(kind: ErrorKind, at: &str) -> Result<T, Fail> {
    Err(Fail::at(kind, at))
}

/// Byte offset of `part` inside `whole` (both slices of the same input).
pub(crate) fn offset_in(whole: &str, part: &str) -> usize {
    (part.as_ptr() as usize)
        .saturating_sub(whole.as_ptr() as usize)
        .min(whole.len())
}

/// SDP fields are separated by a single SP (RFC 8866 §9); we also accept runs of SP/HTAB because
/// some carriers emit double spaces and the meaning is unambiguous.
pub(crate) fn is_ws(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Iterator over whitespace-separated tokens of a value (never yields empty tokens).
#[derive(Debug, Clone)]
pub struct Tokens<'a> {
    rest: &'a str,
}

impl<'a> Tokens<'a> {
    /// Tokens of `s`.
    pub(crate) fn new(s: &'a str) -> Self {
        Self { rest: s }
    }

    /// What has not been consumed yet, without leading whitespace.
    pub(crate) fn remainder(&self) -> &'a str {
        skip_ws(self.rest)
    }
}

/// `s` without leading SP/HTAB (byte-wise: both are ASCII, so any cut is a char boundary).
fn skip_ws(s: &str) -> &str {
    let n = s.bytes().take_while(|&b| b == b' ' || b == b'\t').count();
    &s[n..]
}

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = skip_ws(self.rest);
        if s.is_empty() {
            self.rest = s;
            return None;
        }
        let end = s
            .bytes()
            .position(|b| b == b' ' || b == b'\t')
            .unwrap_or(s.len());
        let (tok, rest) = s.split_at(end);
        self.rest = rest;
        Some(tok)
    }
}

/// The next token or a failure of `kind` located at the end of what was consumed.
pub(crate) fn next_token<'a>(
    t: &mut Tokens<'a>,
    kind: ErrorKind,
    whole: &'a str,
) -> Result<&'a str, Fail> {
    match t.next() {
        Some(tok) => Ok(tok),
        None => fail(kind, &whole[whole.len()..]),
    }
}

/// RFC 8866 §9 `token-char`, as a lookup table (this check runs on every attribute name).
const TOKEN_CHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'{'
                    | b'|'
                    | b'}'
                    | b'~'
            );
        b += 1;
    }
    t
};

/// RFC 8866 §9 `token`: visible ASCII except the separators listed there.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| TOKEN_CHAR[usize::from(b)])
}

/// Visible ASCII without spaces (`%x21-7E`): the charset of opaque non-whitespace fields.
pub(crate) fn is_visible(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// Parses an unsigned decimal number of at most `max_digits` digits that fits `u64`.
///
/// Digits only: no sign, no whitespace. Overlong numbers are refused before overflow.
pub(crate) fn parse_u64(s: &str, max_digits: usize) -> Option<u64> {
    if s.is_empty() || s.len() > max_digits || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.bytes().try_fold(0u64, |acc, b| {
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// A `u64` with at most 20 digits, failing with `kind` at `s`.
pub(crate) fn num_u64(s: &str, kind: ErrorKind) -> Result<u64, Fail> {
    parse_u64(s, 20).ok_or(Fail::at(kind, s))
}

/// A `u32`, failing with `kind` at `s`.
pub(crate) fn num_u32(s: &str, kind: ErrorKind) -> Result<u32, Fail> {
    parse_u64(s, 10)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or(Fail::at(kind, s))
}

/// A `u16`, failing with `kind` at `s`.
pub(crate) fn num_u16(s: &str, kind: ErrorKind) -> Result<u16, Fail> {
    parse_u64(s, 5)
        .and_then(|v| u16::try_from(v).ok())
        .ok_or(Fail::at(kind, s))
}

/// A port number (0–65535), failing with [`ErrorKind::SdpPort`].
pub(crate) fn port(s: &str) -> Result<u16, Fail> {
    num_u16(s, ErrorKind::SdpPort)
}

/// An RTP payload type: 0–127, the 7-bit PT field of RFC 3550 §5.1.
pub(crate) fn payload_type(s: &str) -> Result<u8, Fail> {
    match parse_u64(s, 3) {
        Some(v) if v <= 127 => Ok(v as u8),
        _ => fail(ErrorKind::SdpPayloadType, s),
    }
}

/// Splits `s` at the first `sep`: `(before, Some(after))` or `(s, None)`.
pub(crate) fn split_once_opt(s: &str, sep: char) -> (&str, Option<&str>) {
    match s.split_once(sep) {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    }
}

/// A host as it appears in SDP address fields: an IP literal or a domain name.
///
/// RFC 8866 §5.7 allows a fully qualified domain name wherever a unicast address goes; ICE
/// (RFC 8839 §5.1) additionally carries mDNS names such as `<uuid>.local`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Host<'a> {
    /// An IPv4 or IPv6 literal.
    Ip(IpAddr),
    /// A domain name, kept as written.
    Name(&'a str),
}

impl<'a> Host<'a> {
    /// Parses an IP literal or a domain name (letters, digits, `-`, `.`, `_`).
    ///
    /// A string that looks like a dotted quad but is not a valid IPv4 address (`999.1.1.1`) is
    /// rejected rather than taken as a name: no real host is called that.
    pub(crate) fn parse(s: &'a str, kind: ErrorKind) -> Result<Self, Fail> {
        if s.is_empty() || s.len() > 255 {
            return fail(kind, s);
        }
        if s.contains(':') {
            return s
                .parse::<core::net::Ipv6Addr>()
                .map(|a| Host::Ip(IpAddr::V6(a)))
                .map_err(|_| Fail::at(kind, s));
        }
        if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return s
                .parse::<core::net::Ipv4Addr>()
                .map(|a| Host::Ip(IpAddr::V4(a)))
                .map_err(|_| Fail::at(kind, s));
        }
        let ok = s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        if ok { Ok(Host::Name(s)) } else { fail(kind, s) }
    }

    /// The IP address, when this is a literal.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Ip(ip) => Some(*ip),
            Host::Name(_) => None,
        }
    }
}

impl core::fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Host::Ip(ip) => write!(f, "{ip}"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

impl From<IpAddr> for Host<'_> {
    fn from(ip: IpAddr) -> Self {
        Host::Ip(ip)
    }
}

/// One raw line of an SDP body: the text without its line ending, and its byte offset.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawLine<'a> {
    pub(crate) text: &'a str,
    pub(crate) offset: usize,
}

impl<'a> RawLine<'a> {
    /// The type letter (first byte), or 0 for an empty line.
    pub(crate) fn letter(&self) -> u8 {
        self.text.as_bytes().first().copied().unwrap_or(0)
    }

    /// The value after `<type>=`, or the empty string when the line is too short (only
    /// reachable before validation).
    pub(crate) fn value(&self) -> &'a str {
        self.text.get(2..).unwrap_or("")
    }
}

/// Splits a body into lines at LF, dropping one CR before it.
///
/// RFC 8866 §5: lines end with CRLF, but "parsers SHOULD be tolerant and also accept records
/// terminated with a single newline character". Empty lines are skipped: they carry nothing and
/// some stacks append an extra CRLF after the body. The iterator itself never fails; the
/// validating parser checks each line's shape.
#[derive(Debug, Clone)]
pub(crate) struct RawLines<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> RawLines<'a> {
    /// Lines of `text`, with offsets relative to `text`.
    pub(crate) fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }
}

impl<'a> Iterator for RawLines<'a> {
    type Item = RawLine<'a>;

    fn next(&mut self) -> Option<RawLine<'a>> {
        loop {
            let rest = self.text.get(self.pos..)?;
            if rest.is_empty() {
                return None;
            }
            let start = self.pos;
            let (line, advance) = match memchr::memchr(b'\n', rest.as_bytes()) {
                Some(i) => (&rest[..i], i + 1),
                None => (rest, rest.len()),
            };
            self.pos += advance;
            let line = line.strip_suffix('\r').unwrap_or(line);
            if !line.is_empty() {
                return Some(RawLine {
                    text: line,
                    offset: start,
                });
            }
        }
    }
}
