//! The SIP message: one `Bytes`, a start line and an index of header fields, all spans into
//! that buffer (RFC 3261 §7).
//!
//! Parsing indexes every header line in one pass, types Content-Length eagerly
//! (it frames the message) and leaves every other value as a span. The core headers
//! (Via, From, To, Call-ID, CSeq, Max-Forwards, Contact, Route) are typed on access in
//! O(length of the value) without allocating; [`Message::validate`] checks all of them.

use std::ops::Range;

use bytes::Bytes;

use crate::addr::{Contact, NameAddr};
use crate::error::{ErrorKind, ParseError};
use crate::header_name::{HeaderName, OTHER};
use crate::headers::TypedHeader;
use crate::lex::{CommaSplit, is_token, is_ws, parse_u32, trim};
use crate::method::Method;
use crate::scan;
use crate::uri::Uri;
use crate::via::Via;

/// Resource limits applied while parsing and framing. All are configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest message (start line + headers + body) accepted, in bytes.
    pub max_message_size: usize,
    /// Most header lines accepted (physical lines, folded continuations included).
    pub max_headers: usize,
    /// Longest header field (after unfolding) or start line, in bytes.
    pub max_line_length: usize,
    /// Most Via values accepted.
    pub max_vias: usize,
}

impl Default for Limits {
    /// 65 535-byte messages (the largest UDP datagram), 256 header lines, 8 KiB lines,
    /// 70 Vias (one per hop of the recommended initial Max-Forwards, RFC 3261 §8.1.1.6).
    fn default() -> Self {
        Limits {
            max_message_size: 65_535,
            max_headers: 256,
            max_line_length: 8192,
            max_vias: 70,
        }
    }
}

/// A CSeq value (RFC 3261 §20.16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CSeq {
    /// Sequence number.
    pub seq: u32,
    /// Method (extension methods are `Method::Other`).
    pub method: Method,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Span {
    fn new(start: usize, end: usize) -> Self {
        // Limits keep every offset below max_message_size, itself clamped to u32.
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    pub(crate) fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// One header field: 20 bytes (the 24-byte `HeaderName` made entries 40 bytes).
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeaderEntry {
    /// [`HeaderName::code`] of the name; for [`OTHER`] the spelling is in `name_span`.
    pub(crate) code: u8,
    pub(crate) name_span: Span,
    pub(crate) value: Span,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum StartLine {
    Request {
        method: Method,
        method_span: Span,
        uri: Span,
        version: Span,
    },
    Response {
        code: u16,
        reason: Span,
        version: Span,
    },
}

/// A parsed SIP request or response.
///
/// The message owns one [`Bytes`] (the datagram or stream frame); every string handed out
/// borrows from it. Cloning is cheap (a reference count and the header index).
#[derive(Debug, Clone)]
pub struct Message {
    buf: Bytes,
    pub(crate) start: StartLine,
    pub(crate) headers: Vec<HeaderEntry>,
    body: Span,
    content_length: Option<u32>,
    /// Index + 1 of the first Via, From, To, Call-ID, CSeq and Max-Forwards field (0: none),
    /// recorded while indexing so the core accessors need no scan.
    first: [u16; 6],
    /// Whether the first Via field line holds one value (no comma): then the top Via is the
    /// whole field, as indexing found.
    top_via_alone: bool,
}

/// Codes of the names indexing looks at.
const C_VIA: u8 = HeaderName::Via.code();
const C_FROM: u8 = HeaderName::From.code();
const C_TO: u8 = HeaderName::To.code();
const C_CALL_ID: u8 = HeaderName::CallId.code();
const C_CSEQ: u8 = HeaderName::CSeq.code();
const C_MAX_FORWARDS: u8 = HeaderName::MaxForwards.code();
const C_CONTENT_LENGTH: u8 = HeaderName::ContentLength.code();

/// Slots of `Message::first`.
const VIA: usize = 0;
const FROM: usize = 1;
const TO: usize = 2;
const CALL_ID: usize = 3;
const CSEQ: usize = 4;
const MAX_FORWARDS: usize = 5;

impl Message {
    /// Parses one UDP datagram (or one frame cut by [`crate::frame`]) with default limits.
    ///
    /// Octets after the body announced by Content-Length are ignored (RFC 3261 §18.3,
    /// RFC 4475 §3.1.1.8). Without Content-Length the body runs to the end of the datagram.
    #[inline]
    pub fn parse(bytes: Bytes) -> Result<Message, ParseError> {
        Self::parse_with(bytes, &Limits::default())
    }

    /// Parses with explicit limits.
    pub fn parse_with(bytes: Bytes, limits: &Limits) -> Result<Message, ParseError> {
        let b: &[u8] = &bytes;
        let max = limits.max_message_size.min(u32::MAX as usize - 1);
        if b.len() > max {
            return Err(ParseError::new(ErrorKind::TooLarge, max));
        }
        // RFC 3261 §7.5: CRLFs before the start line SHOULD be ignored.
        let s0 = b
            .iter()
            .position(|&c| c != b'\r' && c != b'\n')
            .ok_or(ParseError::new(ErrorKind::Empty, 0))?;
        let fail = |e| scan::locate(b, e);
        // Header indices are kept as u16 (see `first`).
        let max_headers = limits.max_headers.min(usize::from(u16::MAX) - 1);
        // Realistic heads average well over 32 bytes a field: one allocation, rarely grown.
        // At most 25 entries (1,000 bytes) up front: glibc serves blocks up to 1,032 bytes
        // from its per-thread cache, larger ones take the slower general path (callgrind:
        // about 100 instructions a message more for a big INVITE).
        // (`clamp` would panic for a configured max_headers below 8.)
        let mut headers = index_pool::take((b.len() / 32).clamp(8, 25).min(max_headers).max(1));

        let (mut rest, line) = scan::line(&b[s0..]).map_err(fail)?;
        if line.len() > limits.max_line_length {
            return Err(ParseError::new(ErrorKind::LineTooLong, s0));
        }
        // The start line is typed now (its errors come first), so it is checked as UTF-8
        // here, once; the header section is checked after the loop.
        let (start, line_utf8) = start_line(b, line)?;
        let headers_from = if line_utf8 { b.len() - rest.len() } else { s0 };

        let mut content_length: Option<u32> = None;
        let mut vias = 0usize;
        let mut top_via_alone = false;
        let mut first = [0u16; 6];
        // Non-zero once a header line holds a byte that is not ASCII (`scan::header_field`).
        let mut high = 0u32;
        // One pass over the header fields; the empty line ends the head.
        let end = loop {
            match rest {
                [b'\r', b'\n', ..] => break b.len() - rest.len(),
                [] | [b'\r'] => return Err(ParseError::new(ErrorKind::Incomplete, b.len())),
                // A continuation line with no field before it.
                [b' ' | b'\t', ..] => {
                    return Err(ParseError::new(ErrorKind::HeaderLine, b.len() - rest.len()));
                }
                _ => {}
            }
            let line_start = b.len() - rest.len();
            if headers.len() >= max_headers {
                return Err(ParseError::new(ErrorKind::TooManyHeaders, line_start));
            }
            let (next, field) =
                scan::header_field(rest, limits.max_line_length, &mut high).map_err(fail)?;
            let (code, name_bytes, value) = (field.code, field.name, field.value);
            let vs = offset_in(b, value);
            let value_span = Span::new(vs, vs + value.len());
            // max_headers is clamped below u16::MAX above.
            let index = u16::try_from(headers.len() + 1).unwrap_or(0);
            let mut note_first = |slot: usize| {
                if first[slot] == 0 {
                    first[slot] = index;
                }
            };
            match code {
                C_FROM => note_first(FROM),
                C_TO => note_first(TO),
                C_CALL_ID => note_first(CALL_ID),
                C_CSEQ => note_first(CSEQ),
                C_MAX_FORWARDS => note_first(MAX_FORWARDS),
                C_CONTENT_LENGTH => {
                    let n = parse_u32_bytes(value)
                        .ok_or(ParseError::new(ErrorKind::ContentLength, vs))?;
                    if content_length.is_some_and(|old| old != n) {
                        return Err(ParseError::new(
                            ErrorKind::ContentLengthConflict,
                            line_start,
                        ));
                    }
                    content_length = Some(n);
                }
                C_VIA => {
                    note_first(VIA);
                    let alone = crate::find::find1(value, b',').is_none();
                    if vias == 0 {
                        top_via_alone = alone;
                    }
                    vias += if alone {
                        1
                    } else {
                        CommaSplit::new(std::str::from_utf8(value).unwrap_or("")).count()
                    };
                    if vias > limits.max_vias {
                        return Err(ParseError::new(ErrorKind::TooManyVias, line_start));
                    }
                }
                _ => {}
            }
            headers.push(HeaderEntry {
                code,
                name_span: Span::new(line_start, line_start + name_bytes.len()),
                value: value_span,
            });
            rest = next;
        };
        // TEXT-UTF8 (RFC 3261 §25.1); the common all-ASCII head, seen so by the line scan,
        // skips the full decoder (a start line that is not UTF-8 is part of `head`).
        let head = &b[headers_from..end];
        if (high != 0 || !line_utf8) && !crate::find::is_ascii(head) {
            if let Err(e) = std::str::from_utf8(head) {
                return Err(ParseError::new(
                    ErrorKind::NotUtf8,
                    headers_from + e.valid_up_to(),
                ));
            }
        }

        let body_start = end + 2;
        let body_end = match content_length {
            Some(n) => {
                let e = body_start + n as usize;
                if e > b.len() {
                    return Err(ParseError::new(ErrorKind::BodyTruncated, b.len()));
                }
                e
            }
            None => b.len(),
        };
        Ok(Message {
            first,
            top_via_alone,
            buf: bytes,
            start,
            headers,
            body: Span::new(body_start, body_end),
            content_length,
        })
    }

    // ---- start line ----

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The request method; for a response, the method of its CSeq.
    pub fn method(&self) -> Method {
        match self.start {
            StartLine::Request { method, .. } => method,
            StartLine::Response { .. } => self.cseq().map_or(Method::Other, |c| c.method),
        }
    }

    /// The method as written (request line, or the CSeq method of a response).
    pub fn method_str(&self) -> &str {
        match self.start {
            StartLine::Request { method_span, .. } => self.str_at(method_span),
            StartLine::Response { .. } => self
                .header(&HeaderName::CSeq)
                .and_then(|v| split_cseq(v).ok())
                .map_or("", |(_, m, _)| m),
        }
    }

    /// The status code of a response.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase of a response (possibly empty, RFC 4475 §3.1.1.13).
    pub fn reason(&self) -> Option<&str> {
        match self.start {
            StartLine::Response { reason, .. } => Some(self.str_at(reason)),
            StartLine::Request { .. } => None,
        }
    }

    /// The Request-URI of a request (validated at parse time).
    pub fn request_uri(&self) -> Option<Uri<'_>> {
        Uri::parse(self.request_uri_str()?).ok()
    }

    /// The Request-URI as written.
    pub fn request_uri_str(&self) -> Option<&str> {
        match self.start {
            StartLine::Request { uri, .. } => Some(self.str_at(uri)),
            StartLine::Response { .. } => None,
        }
    }

    /// The SIP-Version as written (`SIP/2.0`).
    pub fn version(&self) -> &str {
        match self.start {
            StartLine::Request { version, .. } | StartLine::Response { version, .. } => {
                self.str_at(version)
            }
        }
    }

    // ---- generic header access ----

    /// Every header field in order: (name, raw value). Values are trimmed but otherwise raw:
    /// a folded value still contains its CRLF + whitespace.
    pub fn headers(&self) -> impl Iterator<Item = (HeaderName<'_>, &str)> + '_ {
        self.headers
            .iter()
            .map(|h| (self.name_of(h), self.str_at(h.value)))
    }

    /// The number of header fields.
    pub fn header_count(&self) -> usize {
        self.headers.len()
    }

    /// The raw value of the first header field called `name`.
    pub fn header(&self, name: &HeaderName<'_>) -> Option<&str> {
        self.entries(*name).next().map(|h| self.str_at(h.value))
    }

    /// The raw values of every header field called `name`, in order.
    pub fn header_all<'s>(&'s self, name: HeaderName<'s>) -> impl Iterator<Item = &'s str> + 's {
        self.entries(name).map(|h| self.str_at(h.value))
    }

    /// The comma-separated values of every `name` field, split at top-level commas
    /// (respecting quotes and `<>`), trimmed; empty items are skipped.
    pub fn header_values<'s>(&'s self, name: HeaderName<'s>) -> impl Iterator<Item = &'s str> + 's {
        self.header_all(name)
            .flat_map(|v| CommaSplit::new(v).map(|(_, s)| s))
            .filter(|s| !s.is_empty())
    }

    /// Parses the first `T` value on demand (the first comma-separated item for list
    /// headers); `None` when absent.
    pub fn typed<'s, T: TypedHeader<'s>>(&'s self) -> Option<Result<T, ParseError>> {
        self.typed_all::<T>().next()
    }

    /// Parses every `T` value on demand: one per field line, or one per comma-separated item
    /// for list headers (`T::MULTI`; empty items are skipped).
    pub fn typed_all<'s, T: TypedHeader<'s>>(
        &'s self,
    ) -> impl Iterator<Item = Result<T, ParseError>> + 's {
        self.entries(T::NAME).flat_map(move |h| {
            let v = self.str_at(h.value);
            let base = h.value.start as usize;
            let items: CommaSplit<'s> = if T::MULTI {
                CommaSplit::new(v)
            } else {
                CommaSplit::whole(v)
            };
            items
                .filter(|(_, s)| !(T::MULTI && s.is_empty()))
                .map(move |(off, item)| {
                    T::parse(item).map_err(|e| {
                        ParseError::new(ErrorKind::BadHeader(T::NAME), base + off + e.offset)
                    })
                })
        })
    }

    // ---- core headers ----

    /// Every Via value, top first (several per field line allowed).
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'_>, ParseError>> + '_ {
        self.list(HeaderName::Via, Via::parse)
    }

    /// The top Via; `None` when absent or malformed ([`Message::validate`] says which).
    pub fn top_via(&self) -> Option<Via<'_>> {
        let v = self.first_value(VIA)?;
        if self.top_via_alone {
            return Via::parse_ok(v);
        }
        CommaSplit::new(v)
            .next()
            .and_then(|(_, s)| Via::parse_ok(s))
    }

    /// From (RFC 3261 §20.20); `None` when absent or malformed.
    pub fn from(&self) -> Option<NameAddr<'_>> {
        NameAddr::parse_ok(
            self.first_value(FROM)?,
            ErrorKind::BadHeader(HeaderName::From),
        )
    }

    /// To (RFC 3261 §20.39); `None` when absent or malformed.
    pub fn to(&self) -> Option<NameAddr<'_>> {
        NameAddr::parse_ok(self.first_value(TO)?, ErrorKind::BadHeader(HeaderName::To))
    }

    /// Call-ID (RFC 3261 §20.8), as written; `None` when absent or empty.
    pub fn call_id(&self) -> Option<&str> {
        self.first_value(CALL_ID).filter(|s| !s.is_empty())
    }

    /// CSeq (RFC 3261 §20.16); `None` when absent or malformed (e.g. above 2^32-1).
    pub fn cseq(&self) -> Option<CSeq> {
        parse_cseq(self.first_value(CSEQ)?).ok()
    }

    /// Max-Forwards (RFC 3261 §20.22); `None` when absent or malformed.
    pub fn max_forwards(&self) -> Option<u8> {
        parse_max_forwards(self.first_value(MAX_FORWARDS)?).ok()
    }

    /// Content-Length, when present (it was checked at parse time).
    pub fn content_length(&self) -> Option<u32> {
        self.content_length
    }

    /// Every Contact value (`*`, expires, q).
    pub fn contacts(&self) -> impl Iterator<Item = Result<Contact<'_>, ParseError>> + '_ {
        self.list(HeaderName::Contact, Contact::parse)
    }

    /// Every Route value, in order.
    pub fn routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, ParseError>> + '_ {
        self.list(HeaderName::Route, |s| {
            NameAddr::parse_as(s, ErrorKind::BadHeader(HeaderName::Route))
        })
    }

    /// Every Record-Route value, in order.
    pub fn record_routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, ParseError>> + '_ {
        self.list(HeaderName::RecordRoute, |s| {
            NameAddr::parse_as(s, ErrorKind::BadHeader(HeaderName::RecordRoute))
        })
    }

    // ---- body and bytes ----

    /// The body as a zero-copy slice of the message buffer.
    pub fn body(&self) -> Bytes {
        self.buf.slice(self.body.range())
    }

    /// The body as a byte slice.
    pub fn body_bytes(&self) -> &[u8] {
        &self.buf[self.body.range()]
    }

    /// The buffer given to `parse` (including any trailing octets after the message).
    pub fn buffer(&self) -> &Bytes {
        &self.buf
    }

    /// The message bytes: start line through the end of the body, trailing octets excluded.
    pub fn as_bytes(&self) -> &[u8] {
        let s0 = match self.start {
            StartLine::Request { method_span, .. } => method_span.start,
            StartLine::Response { version, .. } => version.start,
        } as usize;
        &self.buf[s0..self.body.end as usize]
    }

    // ---- internals ----

    /// The raw value of the first header in a core slot.
    fn first_value(&self, slot: usize) -> Option<&str> {
        let i = usize::from(self.first[slot]).checked_sub(1)?;
        self.headers.get(i).map(|h| self.str_at(h.value))
    }

    /// The text of a span of the head.
    ///
    /// Measured hot path: every core accessor goes through here, and validating the same
    /// bytes again cost about 6 % of parse + core headers (callgrind, `cpu_time` example).
    #[allow(unsafe_code)]
    #[inline]
    pub(crate) fn str_at(&self, s: Span) -> &str {
        let bytes = &self.buf[s.range()];
        debug_assert!(
            std::str::from_utf8(bytes).is_ok(),
            "span {s:?} is not UTF-8"
        );
        // SAFETY: every `Span` in a `Message` is made by `parse_with` (the only place that
        // builds a `Message`) inside the head `buf[s0..end]`, which `parse_with` proved to be
        // UTF-8 before returning (the start line with `from_utf8`, the header section with
        // `is_ascii` or `from_utf8`); `buf` is immutable `Bytes`. Each end of a span is the
        // start of the head or next to an ASCII byte (SP, HT, ':', CR, or a token byte), and
        // in valid UTF-8 such a position is a char boundary, so the span is valid UTF-8.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    pub(crate) fn name_of(&self, h: &HeaderEntry) -> HeaderName<'_> {
        if h.code == OTHER {
            HeaderName::Other(self.str_at(h.name_span))
        } else {
            HeaderName::from_code(h.code)
        }
    }

    pub(crate) fn entries<'s>(
        &'s self,
        name: HeaderName<'s>,
    ) -> impl Iterator<Item = &'s HeaderEntry> + 's {
        let code = name.code();
        self.headers.iter().filter(move |h| {
            h.code == code
                && match name {
                    HeaderName::Other(want) => self.str_at(h.name_span).eq_ignore_ascii_case(want),
                    _ => true,
                }
        })
    }

    /// Offset of a value span in the buffer, for error reporting.
    pub(crate) fn parse_value<'s, T>(
        &'s self,
        span: Span,
        f: impl FnOnce(&'s str) -> Result<T, ParseError>,
    ) -> Result<T, ParseError> {
        f(self.str_at(span)).map_err(|e| ParseError::new(e.kind, span.start as usize + e.offset))
    }

    fn list<'s, T: 's>(
        &'s self,
        name: HeaderName<'static>,
        f: fn(&'s str) -> Result<T, ParseError>,
    ) -> impl Iterator<Item = Result<T, ParseError>> + 's {
        self.entries(name).flat_map(move |h| {
            let v = self.str_at(h.value);
            let base = h.value.start as usize;
            CommaSplit::new(v).map(move |(off, item)| {
                if item.is_empty() {
                    return Err(ParseError::new(ErrorKind::BadHeader(name), base + off));
                }
                // Report the header, not the inner grammar rule: that is what a 400 names.
                f(item)
                    .map_err(|e| ParseError::new(ErrorKind::BadHeader(name), base + off + e.offset))
            })
        })
    }
}

impl Drop for Message {
    fn drop(&mut self) {
        index_pool::give(std::mem::take(&mut self.headers));
    }
}

/// Header indexes of dropped messages, kept per thread for the next parse, so a parse
/// usually allocates nothing (malloc and free were about 1.5 % of parse + core headers,
/// perf). Bounded: at most `BUFFERS` buffers of at most `ENTRIES` entries per thread;
/// anything else is freed as usual.
mod index_pool {
    use std::cell::RefCell;

    use super::HeaderEntry;

    const BUFFERS: usize = 8;
    const ENTRIES: usize = 64;

    thread_local! {
        static FREE: RefCell<Vec<Vec<HeaderEntry>>> = const { RefCell::new(Vec::new()) };
    }

    /// An empty index: a kept one, or a new one with room for `cap` entries.
    #[inline]
    pub(super) fn take(cap: usize) -> Vec<HeaderEntry> {
        FREE.try_with(|f| f.try_borrow_mut().ok()?.pop())
            .ok()
            .flatten()
            .unwrap_or_else(|| Vec::with_capacity(cap))
    }

    /// Keeps `v` for a later [`take`] if there is room.
    #[inline]
    pub(super) fn give(mut v: Vec<HeaderEntry>) {
        if v.capacity() == 0 || v.capacity() > ENTRIES {
            return;
        }
        v.clear();
        // During thread teardown the pool may be gone: then `v` is simply freed.
        let _ = FREE.try_with(|f| {
            if let Ok(mut f) = f.try_borrow_mut() {
                if f.len() < BUFFERS {
                    if f.capacity() == 0 {
                        f.reserve_exact(BUFFERS);
                    }
                    f.push(v);
                }
            }
        });
    }
}

/// Offset of `part` (a sub-slice of `base`) in `base`.
#[inline]
fn offset_in(base: &[u8], part: &[u8]) -> usize {
    part.as_ptr() as usize - base.as_ptr() as usize
}

/// A decimal that must fit `u32` (Content-Length = 1*DIGIT, RFC 3261 §20.14).
#[inline]
fn parse_u32_bytes(v: &[u8]) -> Option<u32> {
    if v.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &c in v {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(c - b'0');
        if n > u64::from(u32::MAX) {
            return None;
        }
    }
    u32::try_from(n).ok()
}

/// Types the start line split by [`scan::start_line`]; `line` is a sub-slice of `b`.
/// Also says whether the line was checked as UTF-8 (otherwise the caller checks it with the
/// header section).
fn start_line<'a>(b: &'a [u8], line: &'a [u8]) -> Result<(StartLine, bool), ParseError> {
    let span = |s: &[u8]| {
        let o = offset_in(b, s);
        Span::new(o, o + s.len())
    };
    let split = scan::start_line(line).map_err(|e| scan::locate(b, e))?;
    // The whole line is decoded once and its parts are views into it. A line that is not
    // UTF-8 takes the part-by-part path, so the error reported stays the same (a bad
    // Request-URI names the URI; anything else is found with the header section).
    let text = std::str::from_utf8(line).ok();
    let as_str = |part: &'a [u8]| -> Option<&'a str> {
        match text {
            Some(t) => {
                let o = offset_in(line, part);
                t.get(o..o + part.len())
            }
            None => std::str::from_utf8(part).ok(),
        }
    };
    let typed = match split {
        scan::Start::Status {
            version,
            code,
            reason,
        } => StartLine::Response {
            code,
            reason: span(reason),
            version: span(version),
        },
        scan::Start::Request {
            method,
            uri,
            version,
        } => {
            let us = offset_in(b, uri);
            let u = as_str(uri).ok_or(ParseError::new(ErrorKind::RequestUri, us))?;
            Uri::parse(u).map_err(|e| ParseError::new(ErrorKind::RequestUri, us + e.offset))?;
            scan::sip_version(version).map_err(|e| scan::locate(b, e))?;
            StartLine::Request {
                method: Method::new(as_str(method).unwrap_or("")),
                method_span: span(method),
                uri: span(uri),
                version: span(version),
            }
        }
    };
    Ok((typed, text.is_some()))
}

/// Splits a CSeq value into (number text, method, offset of method).
pub(crate) fn split_cseq(v: &str) -> Result<(&str, &str, usize), ParseError> {
    let kind = ErrorKind::BadHeader(HeaderName::CSeq);
    let v = trim(v);
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let num = &v[..i];
    let ms = i;
    while i < b.len() && is_ws(b[i]) {
        i += 1;
    }
    if num.is_empty() || i == ms {
        return Err(ParseError::new(kind, i));
    }
    let mstart = i;
    while i < b.len() && is_token(b[i]) {
        i += 1;
    }
    if i == mstart || i != b.len() {
        return Err(ParseError::new(kind, i));
    }
    Ok((num, &v[mstart..], mstart))
}

/// Parses a CSeq value: `1*DIGIT LWS Method`, the number fitting 32 bits (RFC 4475 §3.1.2.4).
///
/// The usual shape (`123 INVITE`, already trimmed by indexing) is read in one pass; anything
/// else goes through [`split_cseq`], which accepts the same language.
pub(crate) fn parse_cseq(v: &str) -> Result<CSeq, ParseError> {
    let b = v.as_bytes();
    let mut n: u64 = 0;
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if !c.is_ascii_digit() || i >= 10 {
            break;
        }
        n = n * 10 + u64::from(c - b'0');
        i += 1;
    }
    if i > 0 && b.get(i) == Some(&b' ') {
        if let (Ok(seq), Some(m)) = (u32::try_from(n), v.get(i + 1..)) {
            // A known method is a token; only an extension method needs the byte check.
            let method = Method::new(m);
            if !m.is_empty() && (method != Method::Other || m.bytes().all(is_token)) {
                return Ok(CSeq { seq, method });
            }
        }
    }
    let (num, m, _) = split_cseq(v)?;
    let seq = parse_u32(num).ok_or(ParseError::new(ErrorKind::BadHeader(HeaderName::CSeq), 0))?;
    Ok(CSeq {
        seq,
        method: Method::new(m),
    })
}

/// Max-Forwards = 1*DIGIT, at most 255.
pub(crate) fn parse_max_forwards(v: &str) -> Result<u8, ParseError> {
    parse_u32(trim(v))
        .and_then(|n| u8::try_from(n).ok())
        .ok_or(ParseError::new(
            ErrorKind::BadHeader(HeaderName::MaxForwards),
            0,
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_header_limits_are_enforced_not_panicked_on() {
        // Regression: the index capacity was `clamp(8, max_headers)`, which panics when the
        // configured limit is below 8.
        let msg = Bytes::from_static(
            b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
              Call-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n",
        );
        for max_headers in 0..=4 {
            let limits = Limits {
                max_headers,
                ..Limits::default()
            };
            let r = Message::parse_with(msg.clone(), &limits);
            if max_headers >= 3 {
                assert_eq!(r.map(|m| m.header_count()), Ok(3), "{max_headers}");
            } else {
                assert_eq!(
                    r.map(|m| m.header_count()).map_err(|e| e.kind),
                    Err(ErrorKind::TooManyHeaders),
                    "{max_headers}"
                );
            }
        }
    }

    #[test]
    fn a_bare_cr_inside_a_known_name_is_a_bare_line_end() {
        // Regression: CR OR 0x20 is '-', so the fast name match read "Call<CR>ID" as Call-ID
        // and the bare CR went unnoticed (RFC 3261 §7: lines end in CRLF).
        for head in [
            &b"OPTIONS sip:a@b SIP/2.0\r\nCall\rID: x\r\nCSeq: 1 OPTIONS\r\n\r\n"[..],
            b"OPTIONS sip:a@b SIP/2.0\r\nMax\rForwards: 70\r\nCall-ID: x\r\n\r\n",
            b"OPTIONS sip:a@b SIP/2.0\r\nP-Asserted\rIdentity: <sip:a@b>\r\n\r\n",
        ] {
            let e = Message::parse(Bytes::from_static(head)).unwrap_err();
            assert_eq!(e.kind, ErrorKind::BareLineEnd, "{head:?}");
        }
    }

    #[test]
    fn reused_header_indexes_start_empty() {
        // A dropped message's index goes back to the thread's pool; the next parse must see
        // only its own fields, however many the previous message had.
        let big = Bytes::from_static(
            b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
              X-A: 1\r\nX-B: 2\r\nX-C: 3\r\nCall-ID: big\r\nCSeq: 1 OPTIONS\r\n\r\n",
        );
        let small = Bytes::from_static(b"SIP/2.0 200 OK\r\nCall-ID: small\r\n\r\n");
        for _ in 0..20 {
            let m = Message::parse(big.clone()).unwrap();
            assert_eq!(m.header_count(), 6);
            drop(m);
            let m = Message::parse(small.clone()).unwrap();
            assert_eq!(m.header_count(), 1);
            assert_eq!(m.call_id(), Some("small"));
            assert_eq!(m.header(&HeaderName::new("X-A")), None);
            let copy = m.clone();
            drop(m);
            assert_eq!(copy.call_id(), Some("small"));
        }
    }

    #[test]
    fn cseq_one_pass_agrees_with_the_split_grammar() {
        // Pins the one-pass CSeq read: every input gets the answer of split_cseq + parse_u32.
        let slow = |v: &str| {
            split_cseq(v)
                .ok()
                .and_then(|(num, m, _)| Some((parse_u32(num)?, Method::new(m))))
        };
        for v in [
            "314159 INVITE",
            "1 OPTIONS",
            "0 ACK",
            "4294967295 BYE",
            "4294967296 BYE",
            "00000000001 INVITE",
            "0000000001 INVITE",
            "99999999999 INVITE",
            "1  INVITE",
            "1\tINVITE",
            "1 INV ITE",
            "1 INVITE ",
            " 1 INVITE",
            "1 ",
            "1",
            "INVITE",
            "1 NEWMETHOD",
            "1 INVITE;x",
            "",
        ] {
            let fast = parse_cseq(v).ok().map(|c| (c.seq, c.method));
            assert_eq!(fast, slow(v), "{v:?}");
        }
    }
}
