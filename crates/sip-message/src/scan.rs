//! Layer A: nom over `&[u8]` finds the start line and the header-field boundaries of a
//! message head (RFC 3261 §7.1–§7.3). Nothing here types a header value; [`crate::Message`]
//! builds its index from what these parsers return.
//!
//! Every parser takes a suffix of the message buffer (or a sub-slice of it) and reports
//! failures as a [`Fail`] that remembers *where* (the address of the byte) and *why* (an
//! [`ErrorKind`]); [`locate`] turns that into a [`ParseError`] offset relative to the buffer.
//! `Err::Incomplete` means the head ended before the parser could decide: for a datagram
//! that is an unterminated header section.
//!
//! Line ends are found 16 bytes at a time ([`find`]); field names, colons, versions and status codes
//! with nom's `take_while`/`char`/`tag_no_case` over byte slices, which compile to tight
//! table loops.

use nom::bytes::complete::{tag_no_case, take_till1, take_while, take_while1};
use nom::character::complete::{char, digit1};
use nom::{Err, IResult, Needed};

use crate::HeaderName;
use crate::error::{ErrorKind, ParseError};
use crate::find;
use crate::header_name::OTHER;
use crate::lex::{is_token, is_ws};

/// Why and where a Layer A parser stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fail {
    kind: ErrorKind,
    /// Address of the offending byte (`as_ptr() as usize` of the remaining input).
    at: usize,
}

impl Fail {
    fn at(kind: ErrorKind, rest: &[u8]) -> Self {
        Fail {
            kind,
            at: rest.as_ptr() as usize,
        }
    }
}

impl nom::error::ParseError<&[u8]> for Fail {
    /// nom's own combinators fail on a malformed field line unless a caller says otherwise
    /// (see [`kind`]).
    fn from_error_kind(input: &[u8], _: nom::error::ErrorKind) -> Self {
        Fail::at(ErrorKind::HeaderLine, input)
    }

    fn append(_: &[u8], _: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

type PResult<'a, O> = IResult<&'a [u8], O, Fail>;

/// Converts a Layer A failure into an error with an offset into `base` (the whole buffer).
pub(crate) fn locate(base: &[u8], e: Err<Fail>) -> ParseError {
    match e {
        Err::Incomplete(_) => ParseError::new(ErrorKind::Incomplete, base.len()),
        Err::Error(f) | Err::Failure(f) => {
            let off = f.at.wrapping_sub(base.as_ptr() as usize).min(base.len());
            ParseError::new(f.kind, off)
        }
    }
}

/// Re-labels the failures of `r` as `k` (incomplete input stays incomplete).
#[inline]
fn kind<O>(k: ErrorKind, r: PResult<'_, O>) -> PResult<'_, O> {
    r.map_err(|e| e.map(|f| Fail { kind: k, ..f }))
}

#[inline]
fn is_sp_ht(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// The CRLF at or after `from` in `i`: (index of its CR, index after its LF). A bare CR or LF
/// is an error (RFC 3261 §7: lines end in CRLF); no line end yet is incomplete.
#[inline]
fn crlf(i: &[u8], from: usize, high: &mut u32) -> Result<(usize, usize), Err<Fail>> {
    let Some(p) = find::line_end(&i[from..], high) else {
        return Err(Err::Incomplete(Needed::Unknown));
    };
    let at = from + p;
    match (i[at], i.get(at + 1)) {
        (b'\r', Some(b'\n')) => Ok((at, at + 2)),
        (b'\r', None) => Err(Err::Incomplete(Needed::new(1))),
        _ => Err(Err::Failure(Fail::at(ErrorKind::BareLineEnd, &i[at..]))),
    }
}

/// One physical line (the start line): output is the line without its CRLF.
pub(crate) fn line(i: &[u8]) -> PResult<'_, &[u8]> {
    let (le, next) = crlf(i, 0, &mut 0)?;
    Ok((&i[next..], &i[..le]))
}

/// One logical header line: up to the first CRLF not followed by SP/HT, so folded
/// continuation lines stay inside it (RFC 3261 §7.3.1). Output excludes the final CRLF.
///
/// A CRLF at the very end of the input is incomplete: the next byte decides whether the
/// field continues.
///
/// `high` is made non-zero if a byte of the line (or one after it) is not ASCII; it is
/// left alone otherwise (see [`find::line_end`]).
#[inline]
pub(crate) fn logical_line<'a>(i: &'a [u8], high: &mut u32) -> PResult<'a, &'a [u8]> {
    let mut from = 0;
    loop {
        let (le, next) = crlf(i, from, high)?;
        match i.get(next) {
            Some(b' ' | b'\t') => from = next,
            Some(_) => return Ok((&i[next..], &i[..le])),
            None => return Err(Err::Incomplete(Needed::Unknown)),
        }
    }
}

/// One header field at the front of the head: a logical line split into name and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field<'a> {
    /// The field name as written.
    pub(crate) name: &'a [u8],
    /// Its classification ([`HeaderName::code`]).
    pub(crate) code: u8,
    /// The value, LWS-trimmed (folds inside it kept).
    pub(crate) value: &'a [u8],
}

/// A header field line at the front of `i` (`field-name HCOLON field-value CRLF`, RFC 3261
/// §7.3.1); lines longer than `max_line` fail with [`ErrorKind::LineTooLong`].
///
/// Known names (nearly every field of real traffic) are recognised a word at a time right
/// after the colon is found, which also proves they are tokens; any other line goes
/// through [`logical_line`] and [`field`], which check every byte.
///
/// `high` is made non-zero if a byte of the line (or one after it) is not ASCII; a zero
/// `high` after every line of a head proves the head ASCII.
#[inline]
pub(crate) fn header_field<'a>(
    i: &'a [u8],
    max_line: usize,
    high: &mut u32,
) -> PResult<'a, Field<'a>> {
    let too_long = || Err::Failure(Fail::at(ErrorKind::LineTooLong, i));
    if let Some(colon) = first_colon(i) {
        let mut n = colon;
        while n > 0 && is_sp_ht(i[n - 1]) {
            n -= 1;
        }
        if n > 0 {
            let code = HeaderName::classify_prefix(i, n);
            if code != OTHER {
                // The name (a known one: ASCII letters and '-'), then SP/HT and ':'.
                let (rest, tail) = logical_line(&i[colon + 1..], high)?;
                if colon + 1 + tail.len() > max_line {
                    return Err(too_long());
                }
                return Ok((
                    rest,
                    Field {
                        name: &i[..n],
                        code,
                        value: trim(tail),
                    },
                ));
            }
        }
    }
    let (rest, line) = logical_line(i, high)?;
    if line.len() > max_line {
        return Err(too_long());
    }
    let (name, value) = field(line)?;
    Ok((
        rest,
        Field {
            name,
            code: HeaderName::classify_code(name),
            value,
        },
    ))
}

/// The first ':' in `i`. Field names are short, so the first 16 bytes are looked at with
/// one vector compare; a longer search takes over past them.
#[inline(always)]
fn first_colon(i: &[u8]) -> Option<usize> {
    if let Some(head) = i.first_chunk::<16>() {
        let m = find::mask16(head, b':');
        if m != 0 {
            return Some(m.trailing_zeros() as usize);
        }
        return find::find1(&i[16..], b':').map(|p| p + 16);
    }
    find::find1(i, b':')
}

/// Strips LWS (folds included) from both ends.
#[inline(always)]
fn trim(v: &[u8]) -> &[u8] {
    // The usual field is `Name: value`: one SP before, nothing after.
    if let [b' ', first, .., last] = v {
        if !is_ws(*first) && !is_ws(*last) {
            return &v[1..];
        }
    }
    let mut v = v;
    while let [first, rest @ ..] = v {
        if !is_ws(*first) {
            break;
        }
        v = rest;
    }
    while let [rest @ .., last] = v {
        if !is_ws(*last) {
            break;
        }
        v = rest;
    }
    v
}

/// `field-name *(SP / HTAB) ":" field-value` inside one logical line (RFC 3261 §7.3.1,
/// HCOLON): returns (name, value with surrounding LWS trimmed). Folds stay in the value.
#[inline]
pub(crate) fn field(line: &[u8]) -> Result<(&[u8], &[u8]), Err<Fail>> {
    let (i, name) = take_while1(is_token)(line)?;
    let (i, _) = take_while(is_sp_ht)(i)?;
    let (v, _) = char(':')(i)?;
    Ok((name, trim(v)))
}

/// A start line, split (RFC 3261 §7.1, §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start<'a> {
    /// `Method SP Request-URI SP SIP-Version`; neither the URI nor the version is checked
    /// here (the URI is, first, by the caller; then [`sip_version`]).
    Request {
        method: &'a [u8],
        uri: &'a [u8],
        version: &'a [u8],
    },
    /// `SIP-Version SP Status-Code SP Reason-Phrase`.
    Status {
        version: &'a [u8],
        code: u16,
        reason: &'a [u8],
    },
}

/// Splits a start line (without its CRLF).
pub(crate) fn start_line(line: &[u8]) -> Result<Start<'_>, Err<Fail>> {
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        status_line(line)
    } else {
        request_line(line)
    }
}

/// Request-Line = Method SP Request-URI SP SIP-Version, single SPs (RFC 4475 §3.1.2.9/10).
fn request_line(line: &[u8]) -> Result<Start<'_>, Err<Fail>> {
    let (i, method) = kind(ErrorKind::StartLine, take_while1(is_token)(line))?;
    let (i, _) = kind(ErrorKind::StartLine, char(' ')(i))?;
    let (i, uri) = kind(ErrorKind::StartLine, take_till1(|c| c == b' ')(i))?;
    let (version, _) = kind(ErrorKind::StartLine, char(' ')(i))?;
    Ok(Start::Request {
        method,
        uri,
        version,
    })
}

/// Status-Line = SIP-Version SP Status-Code SP Reason-Phrase; the reason may be empty and
/// its SP absent (RFC 4475 §3.1.1.13).
fn status_line(line: &[u8]) -> Result<Start<'_>, Err<Fail>> {
    let (i, version) = take_while(|c| c != b' ')(line)?;
    let (cs, _) = kind(ErrorKind::StartLine, char(' ')(i))?;
    sip_version(version)?;
    let bad = || Err::Error(Fail::at(ErrorKind::StatusCode, cs));
    let (rest, digits) = digit1::<_, Fail>(cs).map_err(|_| bad())?;
    let reason = match rest {
        [] => rest,
        [b' ', reason @ ..] => reason,
        _ => return Err(bad()),
    };
    let &[a, b, c] = digits else {
        return Err(bad());
    };
    let code = u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0');
    if !(100..=699).contains(&code) {
        return Err(bad());
    }
    Ok(Start::Status {
        version,
        code,
        reason,
    })
}

/// SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT, the literal case-insensitive (RFC 3261
/// §25.1). Whether it is 2.0 is [`crate::Message::validate`]'s question (505).
pub(crate) fn sip_version(v: &[u8]) -> Result<(), Err<Fail>> {
    // What every message carries; the grammar below decides everything else.
    if v == b"SIP/2.0" {
        return Ok(());
    }
    let (digits, _) = kind(ErrorKind::Version, tag_no_case(&b"SIP/"[..])(v))?;
    let numbers = |i| -> PResult<'_, ()> {
        let (i, _) = digit1(i)?;
        let (i, _) = char('.')(i)?;
        let (i, _) = digit1(i)?;
        if i.is_empty() {
            Ok((i, ()))
        } else {
            Err(Err::Error(Fail::at(ErrorKind::Version, i)))
        }
    };
    // Report the whole number part, as the version as a whole is what is wrong.
    numbers(digits)
        .map(|_| ())
        .map_err(|_| Err::Error(Fail::at(ErrorKind::Version, digits)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_of<T: std::fmt::Debug>(base: &[u8], r: Result<T, Err<Fail>>) -> ParseError {
        locate(base, r.unwrap_err())
    }

    #[test]
    fn logical_lines_keep_folds_and_reject_bare_line_ends() {
        let b = b"Subject: a\r\n  b\r\nX: y\r\n\r\n";
        let logical_line = |b| logical_line(b, &mut 0);
        let (rest, l) = logical_line(b).unwrap();
        assert_eq!(l, b"Subject: a\r\n  b");
        assert_eq!(rest, b"X: y\r\n\r\n");
        let (name, value) = field(l).unwrap();
        assert_eq!((name, value), (&b"Subject"[..], &b"a\r\n  b"[..]));

        let b = b"X: y\nZ: w\r\n\r\n";
        let e = err_of(b, logical_line(b));
        assert_eq!((e.kind, e.offset), (ErrorKind::BareLineEnd, 4));
        let b = b"X: y\rZ: w\r\n\r\n";
        assert_eq!(err_of(b, logical_line(b)).kind, ErrorKind::BareLineEnd);
        for b in [&b"X: y"[..], b"X: y\r", b"X: y\r\n"] {
            assert_eq!(
                err_of(b, logical_line(b)).kind,
                ErrorKind::Incomplete,
                "{b:?}"
            );
        }
    }

    #[test]
    fn first_colon_agrees_with_a_plain_search() {
        let line = b"P-Asserted-Identity: <sip:a@b>\r\n";
        for start in 0..line.len() {
            for end in start..=line.len() {
                let i = &line[start..end];
                assert_eq!(
                    first_colon(i),
                    i.iter().position(|&c| c == b':'),
                    "{:?}",
                    String::from_utf8_lossy(i)
                );
            }
        }
        // A colon in the second word, and bytes next to ':' (0x3a) in value.
        let mut b = *b"abcdefghij;<9:x\r\n";
        assert_eq!(first_colon(&b), Some(13));
        b[13] = b';';
        assert_eq!(first_colon(&b), None);
    }

    #[test]
    fn fields_need_a_token_name_and_a_colon() {
        assert_eq!(
            field(b"Via \t:  SIP/2.0/UDP h \t").unwrap(),
            (&b"Via"[..], &b"SIP/2.0/UDP h"[..])
        );
        assert_eq!(field(b"X:").unwrap(), (&b"X"[..], &b""[..]));
        for (line, at) in [
            (&b": v"[..], 0),
            (b"Na me: v", 3),
            (b"Via", 3),
            (b"V@a: x", 1),
        ] {
            let e = err_of(line, field(line));
            assert_eq!((e.kind, e.offset), (ErrorKind::HeaderLine, at), "{line:?}");
        }
    }

    #[test]
    fn start_lines() {
        assert_eq!(
            start_line(b"INVITE sip:a@b SIP/2.0").unwrap(),
            Start::Request {
                method: b"INVITE",
                uri: b"sip:a@b",
                version: b"SIP/2.0"
            }
        );
        assert_eq!(
            start_line(b"sip/2.0 180").unwrap(),
            Start::Status {
                version: b"sip/2.0",
                code: 180,
                reason: b""
            }
        );
        assert_eq!(
            start_line(b"SIP/2.0 200 OK then").unwrap(),
            Start::Status {
                version: b"SIP/2.0",
                code: 200,
                reason: b"OK then"
            }
        );
        let cases: [(&[u8], ErrorKind, usize); 8] = [
            (b" INVITE sip:a@b SIP/2.0", ErrorKind::StartLine, 0),
            (b"INVITE  sip:a@b SIP/2.0", ErrorKind::StartLine, 7),
            (b"INVITE sip:a@b", ErrorKind::StartLine, 14),
            (b"SIP/2.0", ErrorKind::StartLine, 7),
            (b"SIP/x 200 OK", ErrorKind::Version, 4),
            (b"SIP/2.0 2000 OK", ErrorKind::StatusCode, 8),
            (b"SIP/2.0 099 Low", ErrorKind::StatusCode, 8),
            (b"SIP/2.0 20x", ErrorKind::StatusCode, 8),
        ];
        for (line, kind, at) in cases {
            let e = err_of(line, start_line(line));
            assert_eq!((e.kind, e.offset), (kind, at), "{line:?}");
        }
        for (v, at) in [
            (&b"SIP/2.0 "[..], 4),
            (b"HTTP/1.1", 0),
            (b"SIP/2.", 4),
            (b"sip/12.34", 9),
        ] {
            let r = sip_version(v);
            if at == 9 {
                assert!(r.is_ok());
                continue;
            }
            let e = err_of(v, r);
            assert_eq!((e.kind, e.offset), (ErrorKind::Version, at), "{v:?}");
        }
    }
}
