//! Receipt validation: does this message deserve a 400 (or 505, 501 ...) before any
//! transaction or dialog logic sees it? (RFC 3261 §8.2, §16.3, §18.1.2, RFC 4475.)
//!
//! Requests that fail are answered with [`Rejection::response`]; responses that fail are
//! silently dropped (RFC 3261 §18.1.2: a malformed response is discarded).

use std::fmt;

use bytes::Bytes;

use crate::addr::NameAddr;
use crate::error::{ErrorKind, ParseError};
use crate::header_name::HeaderName;
use crate::headers::{Date, Expires, MediaType};
use crate::lex::trim;
use crate::message::{HeaderEntry, Limits, Message, StartLine, parse_max_forwards, split_cseq};
use crate::method::Method;
use crate::uri::Uri;

/// Why a received message is refused, and what to do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{error} ({})", match .response { Some(c) => DisplayCode(*c), None => DisplayCode(0) })]
pub struct Rejection {
    /// The fault and where it is.
    pub error: ParseError,
    /// The status code to answer a request with; `None` means drop silently (responses,
    /// or input too broken to be answered).
    pub response: Option<u16>,
}

struct DisplayCode(u16);

impl fmt::Display for DisplayCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            f.write_str("drop")
        } else {
            write!(f, "would answer {}", self.0)
        }
    }
}

impl ErrorKind {
    /// The status code a UAS answers a *request* with when it has this fault.
    pub fn response_code(self) -> u16 {
        match self {
            ErrorKind::UnsupportedVersion => 505,
            ErrorKind::TooLarge => 513,
            ErrorKind::UnsupportedUriScheme => 416,
            ErrorKind::BadExtension => 420,
            ErrorKind::NotImplemented => 501,
            _ => 400,
        }
    }
}

impl Rejection {
    /// Classifies a [`Message::parse`] failure on `input`: requests get a status code,
    /// responses (start line `SIP/...`) and unrecognisable input are dropped.
    pub fn from_parse_error(error: ParseError, input: &[u8]) -> Self {
        let start = input
            .iter()
            .position(|&c| c != b'\r' && c != b'\n')
            .unwrap_or(input.len());
        let rest = &input[start..];
        let is_response = rest.len() >= 4 && rest[..4].eq_ignore_ascii_case(b"SIP/");
        let looks_like_request = !is_response
            && rest
                .iter()
                .take_while(|&&c| crate::lex::is_token(c))
                .count()
                > 0;
        let response = match error.kind {
            ErrorKind::Empty => None,
            _ if looks_like_request => Some(error.kind.response_code()),
            _ => None,
        };
        Rejection { error, response }
    }

    fn new(kind: ErrorKind, offset: usize, request: bool, code: u16) -> Self {
        Rejection {
            error: ParseError::new(kind, offset),
            response: request.then_some(code),
        }
    }
}

/// Parses and validates a datagram in one go: what an element does on receipt.
pub fn receive(bytes: Bytes, limits: &Limits) -> Result<Message, Rejection> {
    let msg = match Message::parse_with(bytes.clone(), limits) {
        Ok(m) => m,
        Err(e) => return Err(Rejection::from_parse_error(e, &bytes)),
    };
    msg.validate()?;
    Ok(msg)
}

impl Message {
    /// Receipt validation (RFC 3261 §8.2.1-8.2.2, RFC 4475 §3.1.2 / §3.3):
    ///
    /// - SIP-Version is 2.0 (505 for requests);
    /// - Via, From, To, Call-ID and CSeq present; From, To, Call-ID, CSeq, Max-Forwards and
    ///   Content-Length not repeated;
    /// - every Via, From, To, CSeq, Max-Forwards, Contact, Route, Record-Route, Expires,
    ///   Content-Type and Date value well-formed;
    /// - the CSeq method equals the request method (501 when the method is unknown,
    ///   RFC 4475 §3.1.2.18, else 400);
    /// - no URI headers in the Request-URI (RFC 4475 §3.1.2.11).
    ///
    /// Max-Forwards is not required, for RFC 2543 peers (RFC 4475 §3.4.1). Content-Length
    /// consistency was checked by the parser. Scheme support (416) and Require (420) are
    /// policy: see [`Message::check_support`].
    pub fn validate(&self) -> Result<(), Rejection> {
        let req = self.is_request();
        let reject = |e: ParseError| Rejection {
            error: e,
            response: req.then(|| e.kind.response_code()),
        };

        // RFC 3261 §8.2.2 / §21.5.20: version first, the rest may not mean anything.
        if !self.version().eq_ignore_ascii_case("SIP/2.0") {
            let off = match self.start {
                StartLine::Request { version, .. } | StartLine::Response { version, .. } => {
                    version.start
                }
            };
            return Err(reject(ParseError::new(
                ErrorKind::UnsupportedVersion,
                off as usize,
            )));
        }

        // One pass over the header index finds every header the checks below look at; a
        // check whose header is absent then costs nothing (most requests carry no Route,
        // Record-Route, Expires or Date).
        let seen = Survey::of(self);

        // Presence and multiplicity of single-valued headers (RFC 3261 §7.3.1, §8.1.1).
        for (slot, mandatory) in [
            (Survey::VIA, true),
            (Survey::FROM, true),
            (Survey::TO, true),
            (Survey::CALL_ID, true),
            (Survey::CSEQ, true),
            (Survey::MAX_FORWARDS, false),
            (Survey::CONTENT_LENGTH, false),
        ] {
            match seen.first[slot] {
                None if mandatory => {
                    return Err(reject(ParseError::new(
                        ErrorKind::MissingHeader(Survey::NAMES[slot]),
                        self.body_offset(),
                    )));
                }
                None => {}
                Some(_) if slot == Survey::VIA => {}
                Some(_) => {
                    if let Some(dup) = seen.second[slot] {
                        return Err(reject(ParseError::new(
                            ErrorKind::DuplicateHeader(Survey::NAMES[slot]),
                            self.headers[dup].name_span.start as usize,
                        )));
                    }
                }
            }
        }

        // Typed checks of every core value.
        for v in self.vias() {
            v.map_err(reject)?;
        }
        for slot in [Survey::FROM, Survey::TO] {
            if let Some(h) = seen.entry(self, slot) {
                let kind = ErrorKind::BadHeader(Survey::NAMES[slot]);
                self.parse_value(h.value, |s| NameAddr::parse_as(s, kind))
                    .map_err(|e| ParseError::new(kind, e.offset))
                    .map_err(reject)?;
            }
        }
        if let Some(h) = seen.entry(self, Survey::CALL_ID) {
            self.parse_value(h.value, check_call_id).map_err(reject)?;
        }
        let cseq_h = seen.entry(self, Survey::CSEQ);
        let mut cseq_method = "";
        if let Some(h) = cseq_h {
            let (num, m, _) = self.parse_value(h.value, split_cseq).map_err(reject)?;
            if crate::lex::parse_u32(num).is_none() {
                return Err(reject(ParseError::new(
                    ErrorKind::BadHeader(HeaderName::CSeq),
                    h.value.start as usize,
                )));
            }
            cseq_method = m;
        }
        if let Some(h) = seen.entry(self, Survey::MAX_FORWARDS) {
            self.parse_value(h.value, parse_max_forwards)
                .map_err(reject)?;
        }
        if seen.has(Survey::CONTACT) {
            for c in self.contacts() {
                c.map_err(reject)?;
            }
            // `*` must be the only Contact value (RFC 3261 §10.2.2).
            let star = self.header_values(HeaderName::Contact).any(|v| v == "*");
            if star && self.header_values(HeaderName::Contact).count() > 1 {
                let h = seen
                    .entry(self, Survey::CONTACT)
                    .map_or(0, |h| h.value.start as usize);
                return Err(reject(ParseError::new(
                    ErrorKind::BadHeader(HeaderName::Contact),
                    h,
                )));
            }
        }
        if seen.has(Survey::ROUTE) {
            for r in self.routes() {
                r.map_err(reject)?;
            }
        }
        if seen.has(Survey::RECORD_ROUTE) {
            for r in self.record_routes() {
                r.map_err(reject)?;
            }
        }
        if seen.has(Survey::EXPIRES) {
            for e in self.typed_all::<Expires>() {
                e.map_err(reject)?;
            }
        }
        if seen.has(Survey::CONTENT_TYPE) {
            for e in self.typed_all::<MediaType<'_>>() {
                e.map_err(reject)?;
            }
        }
        if seen.has(Survey::DATE) {
            for e in self.typed_all::<Date>() {
                e.map_err(reject)?;
            }
        }

        if let StartLine::Request {
            method_span, uri, ..
        } = self.start
        {
            // RFC 3261 §8.2.2: CSeq method must match; for an unknown method 501 is the
            // better answer (RFC 4475 §3.1.2.18).
            let method = self.str_at(method_span);
            if method != cseq_method {
                let code = if Method::new(method) == Method::Other {
                    501
                } else {
                    400
                };
                let off = cseq_h.map_or(0, |h| h.value.start as usize);
                return Err(Rejection::new(
                    ErrorKind::CSeqMethodMismatch,
                    off,
                    true,
                    code,
                ));
            }
            if let Some(Uri::Sip(u)) = self.request_uri() {
                if !u.headers_str().is_empty() {
                    return Err(reject(ParseError::new(
                        ErrorKind::RequestUriHeaders,
                        uri.start as usize,
                    )));
                }
            }
        }
        Ok(())
    }

    /// Policy checks a UAS makes after [`Message::validate`]: the Request-URI scheme must be
    /// sip, sips or tel (416, RFC 3261 §8.2.2.1), the method must be known (501, §8.2.1),
    /// and every Require option tag must be in `supported` (420, §8.2.2.3; answer with the
    /// tags from [`Message::unsupported_requirements`]). Responses always pass.
    pub fn check_support(&self, supported: &[&str]) -> Result<(), Rejection> {
        let StartLine::Request { uri, method, .. } = self.start else {
            return Ok(());
        };
        match self.request_uri() {
            Some(Uri::Sip(_) | Uri::Tel(_)) => {}
            _ => {
                return Err(Rejection::new(
                    ErrorKind::UnsupportedUriScheme,
                    uri.start as usize,
                    true,
                    416,
                ));
            }
        }
        if method == Method::Other {
            return Err(Rejection::new(ErrorKind::NotImplemented, 0, true, 501));
        }
        // ACK and CANCEL carry no Require processing (RFC 3261 §8.2.2.3).
        if !matches!(method, Method::Ack | Method::Cancel) {
            if let Some(h) = self.entries(HeaderName::Require).next() {
                if self.unsupported_requirements(supported).next().is_some() {
                    return Err(Rejection::new(
                        ErrorKind::BadExtension,
                        h.value.start as usize,
                        true,
                        420,
                    ));
                }
            }
        }
        Ok(())
    }

    /// The Require option tags not in `supported`, for the Unsupported header of a 420.
    pub fn unsupported_requirements<'s>(
        &'s self,
        supported: &'s [&'s str],
    ) -> impl Iterator<Item = &'s str> + 's {
        self.header_values(HeaderName::Require)
            .filter(move |t| !supported.iter().any(|s| s.eq_ignore_ascii_case(t)))
    }

    fn body_offset(&self) -> usize {
        self.headers.last().map_or(0, |h| h.value.end as usize)
    }
}

/// Call-ID = word [ "@" word ] (RFC 3261 §25.1).
fn check_call_id(v: &str) -> Result<(), ParseError> {
    let kind = ErrorKind::BadHeader(HeaderName::CallId);
    let v = trim(v);
    let is_word = |c: u8| {
        crate::lex::is_token(c)
            || matches!(
                c,
                b'(' | b')'
                    | b'<'
                    | b'>'
                    | b':'
                    | b'\\'
                    | b'"'
                    | b'/'
                    | b'['
                    | b']'
                    | b'?'
                    | b'{'
                    | b'}'
            )
    };
    let (a, b) = match v.split_once('@') {
        Some((a, b)) => (a, Some(b)),
        None => (v, None),
    };
    if a.is_empty() || !a.bytes().all(is_word) {
        return Err(ParseError::new(kind, 0));
    }
    if let Some(b) = b {
        if b.is_empty() || !b.bytes().all(is_word) {
            return Err(ParseError::new(kind, a.len() + 1));
        }
    }
    Ok(())
}

/// Where the headers [`Message::validate`] checks occur in the header index: the first and
/// second entry of each (a second one of a single-valued header is a duplicate), found in one
/// pass instead of one scan per header.
struct Survey {
    first: [Option<usize>; Survey::COUNT],
    second: [Option<usize>; Survey::COUNT],
}

impl Survey {
    const VIA: usize = 0;
    const FROM: usize = 1;
    const TO: usize = 2;
    const CALL_ID: usize = 3;
    const CSEQ: usize = 4;
    const MAX_FORWARDS: usize = 5;
    const CONTENT_LENGTH: usize = 6;
    const CONTACT: usize = 7;
    const ROUTE: usize = 8;
    const RECORD_ROUTE: usize = 9;
    const EXPIRES: usize = 10;
    const CONTENT_TYPE: usize = 11;
    const DATE: usize = 12;
    const COUNT: usize = 13;
    /// The header of each slot.
    const NAMES: [HeaderName<'static>; Survey::COUNT] = [
        HeaderName::Via,
        HeaderName::From,
        HeaderName::To,
        HeaderName::CallId,
        HeaderName::CSeq,
        HeaderName::MaxForwards,
        HeaderName::ContentLength,
        HeaderName::Contact,
        HeaderName::Route,
        HeaderName::RecordRoute,
        HeaderName::Expires,
        HeaderName::ContentType,
        HeaderName::Date,
    ];

    fn slot(name: HeaderName<'_>) -> Option<usize> {
        Some(match name {
            HeaderName::Via => Self::VIA,
            HeaderName::From => Self::FROM,
            HeaderName::To => Self::TO,
            HeaderName::CallId => Self::CALL_ID,
            HeaderName::CSeq => Self::CSEQ,
            HeaderName::MaxForwards => Self::MAX_FORWARDS,
            HeaderName::ContentLength => Self::CONTENT_LENGTH,
            HeaderName::Contact => Self::CONTACT,
            HeaderName::Route => Self::ROUTE,
            HeaderName::RecordRoute => Self::RECORD_ROUTE,
            HeaderName::Expires => Self::EXPIRES,
            HeaderName::ContentType => Self::CONTENT_TYPE,
            HeaderName::Date => Self::DATE,
            _ => return None,
        })
    }

    fn of(m: &Message) -> Self {
        let mut s = Survey {
            first: [None; Survey::COUNT],
            second: [None; Survey::COUNT],
        };
        for (i, h) in m.headers.iter().enumerate() {
            if let Some(slot) = Self::slot(HeaderName::from_code(h.code)) {
                if s.first[slot].is_none() {
                    s.first[slot] = Some(i);
                } else if s.second[slot].is_none() {
                    s.second[slot] = Some(i);
                }
            }
        }
        s
    }

    fn has(&self, slot: usize) -> bool {
        self.first[slot].is_some()
    }

    fn entry<'m>(&self, m: &'m Message, slot: usize) -> Option<&'m HeaderEntry> {
        self.first[slot].map(|i| &m.headers[i])
    }
}
