//! The view of an incoming message that the transaction and dialog layers need.
//!
//! The message is scanned once: start line, header boundaries and the transaction-key
//! headers (Via, From/To tags, Call-ID, CSeq, Max-Forwards, Contact, Record-Route, Require,
//! Content-Length) are located eagerly as index ranges into the one `Bytes` buffer; nothing
//! is copied. Everything else is found on demand with [`Inbound::header`].

use std::ops::Range;

use bytes::Bytes;

use crate::Method;

/// Most headers a message may have; more is treated as hostile (400 / drop).
pub const MAX_HEADERS: usize = 128;
/// Most Via entries a message may have.
pub const MAX_VIAS: usize = 32;
/// Most Record-Route entries a message may have.
pub const MAX_ROUTES: usize = 32;

type R = Range<usize>;

/// Why a message could not be used, and the response a request deserves (if one can be
/// built).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reject {
    /// Not SIP at all, or too broken to answer: drop silently.
    Drop,
    /// Answer a request with this status (400, 505, …).
    Respond(u16),
}

/// Parsed top-level facts of one Via entry (§20.42, RFC 3581).
#[derive(Debug, Clone)]
pub(crate) struct Via {
    /// The whole entry.
    pub value: R,
    /// sent-by host (IPv6 with brackets).
    pub host: R,
    /// sent-by port.
    pub port: Option<u16>,
    /// `branch`.
    pub branch: Option<R>,
    /// `rport`: `Some(None)` when present without value.
    pub rport: Option<Option<u16>>,
    /// `received`.
    pub received: Option<R>,
}

/// Request or status line.
#[derive(Debug, Clone)]
pub(crate) enum Start {
    Request { method: Method, name: R, uri: R },
    Response { status: u16, reason: R },
}

/// Known header names, compact forms included (§7.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderKind {
    /// Via / v.
    Via,
    /// From / f.
    From,
    /// To / t.
    To,
    /// Call-ID / i.
    CallId,
    /// CSeq.
    CSeq,
    /// Max-Forwards.
    MaxForwards,
    /// Contact / m.
    Contact,
    /// Record-Route.
    RecordRoute,
    /// Route.
    Route,
    /// Require.
    Require,
    /// Content-Length / l.
    ContentLength,
    /// Content-Type / c.
    ContentType,
    /// WWW-Authenticate.
    WwwAuthenticate,
    /// Proxy-Authenticate.
    ProxyAuthenticate,
    /// Authorization.
    Authorization,
    /// Proxy-Authorization.
    ProxyAuthorization,
    /// Any other header.
    Other,
}

impl HeaderKind {
    fn classify(name: &[u8]) -> Self {
        let eq = |s: &str| name.eq_ignore_ascii_case(s.as_bytes());
        match name.len() {
            1 => match name[0].to_ascii_lowercase() {
                b'v' => Self::Via,
                b'f' => Self::From,
                b't' => Self::To,
                b'i' => Self::CallId,
                b'm' => Self::Contact,
                b'l' => Self::ContentLength,
                b'c' => Self::ContentType,
                _ => Self::Other,
            },
            _ if eq("Via") => Self::Via,
            _ if eq("From") => Self::From,
            _ if eq("To") => Self::To,
            _ if eq("Call-ID") => Self::CallId,
            _ if eq("CSeq") => Self::CSeq,
            _ if eq("Max-Forwards") => Self::MaxForwards,
            _ if eq("Contact") => Self::Contact,
            _ if eq("Record-Route") => Self::RecordRoute,
            _ if eq("Route") => Self::Route,
            _ if eq("Require") => Self::Require,
            _ if eq("Content-Length") => Self::ContentLength,
            _ if eq("Content-Type") => Self::ContentType,
            _ if eq("WWW-Authenticate") => Self::WwwAuthenticate,
            _ if eq("Proxy-Authenticate") => Self::ProxyAuthenticate,
            _ if eq("Authorization") => Self::Authorization,
            _ if eq("Proxy-Authorization") => Self::ProxyAuthorization,
            _ => Self::Other,
        }
    }
}

/// An incoming SIP message as the core sees it: one `Bytes` plus ranges.
#[derive(Debug, Clone)]
pub struct Inbound {
    raw: Bytes,
    pub(crate) start: Start,
    headers: Vec<(HeaderKind, R, R)>,
    pub(crate) vias: Vec<Via>,
    pub(crate) call_id: R,
    pub(crate) from: R,
    pub(crate) from_tag: Option<R>,
    pub(crate) to: R,
    pub(crate) to_tag: Option<R>,
    pub(crate) cseq: u32,
    pub(crate) cseq_method: Method,
    pub(crate) cseq_method_name: R,
    pub(crate) max_forwards: Option<u32>,
    pub(crate) contact_uri: Option<R>,
    pub(crate) record_routes: Vec<R>,
    pub(crate) require: Vec<R>,
    body: R,
}

impl Inbound {
    /// Scans `raw`. `Err(Reject::Respond(code))` is returned only for requests whose
    /// mandatory headers were readable, so that a response can be built from `partial`.
    pub(crate) fn parse(raw: Bytes) -> Result<Self, (Reject, Option<Box<Self>>)> {
        let buf = &raw[..];
        let mut pos = 0;
        // §7.5: implementations SHOULD ignore CRLFs before the start line (keep-alives).
        while buf[pos..].starts_with(b"\r\n") {
            pos += 2;
        }
        let line_end = find(buf, pos, b"\r\n").ok_or((Reject::Drop, None))?;
        let line = pos..line_end;
        let mut version_ok = true;
        let start = if buf[line.clone()].starts_with(b"SIP/") {
            // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
            let l = &buf[line.clone()];
            if !l.starts_with(b"SIP/2.0 ") || l.len() < 12 || l[11] != b' ' {
                return Err((Reject::Drop, None));
            }
            let code = std::str::from_utf8(&l[8..11])
                .ok()
                .and_then(|s| s.parse::<u16>().ok())
                .filter(|c| (100..700).contains(c))
                .ok_or((Reject::Drop, None))?;
            Start::Response {
                status: code,
                reason: pos + 12..line_end,
            }
        } else {
            // Request-Line = Method SP Request-URI SP SIP-Version
            let sp1 = find(buf, pos, b" ")
                .filter(|&i| i < line_end)
                .ok_or((Reject::Drop, None))?;
            let sp2 = find(buf, sp1 + 1, b" ")
                .filter(|&i| i < line_end)
                .ok_or((Reject::Drop, None))?;
            let name = pos..sp1;
            if name.is_empty() || !buf[name.clone()].iter().all(|b| is_token(*b)) {
                return Err((Reject::Drop, None));
            }
            let version = &buf[sp2 + 1..line_end];
            if !version.starts_with(b"SIP/") {
                return Err((Reject::Drop, None));
            }
            version_ok = version == b"SIP/2.0";
            Start::Request {
                method: Method::from_bytes(&buf[name.clone()]),
                name,
                uri: sp1 + 1..sp2,
            }
        };
        let is_request = matches!(start, Start::Request { .. });
        let mut msg = Inbound {
            raw: raw.clone(),
            start,
            headers: Vec::new(),
            vias: Vec::new(),
            call_id: 0..0,
            from: 0..0,
            from_tag: None,
            to: 0..0,
            to_tag: None,
            cseq: 0,
            cseq_method: Method::Other,
            cseq_method_name: 0..0,
            max_forwards: None,
            contact_uri: None,
            record_routes: Vec::new(),
            require: Vec::new(),
            body: 0..0,
        };
        let mut p = line_end + 2;
        let mut content_length: Option<usize> = None;
        let mut seen = [false; 5]; // From, To, Call-ID, CSeq, Via
        let mut bad = false;
        let header_end = loop {
            let Some(eol) = find(buf, p, b"\r\n") else {
                return Err((Reject::Drop, None));
            };
            if eol == p {
                break eol + 2;
            }
            // Unfold: continuation lines start with SP or HTAB (§7.3.1).
            let mut end = eol;
            while matches!(buf.get(end + 2), Some(b' ' | b'\t')) {
                end = find(buf, end + 2, b"\r\n").ok_or((Reject::Drop, None))?;
            }
            let Some(colon) = find(buf, p, b":").filter(|&c| c < end) else {
                bad = true;
                p = end + 2;
                continue;
            };
            let name = trim(buf, p..colon);
            let value = trim(buf, colon + 1..end);
            if name.is_empty() || msg.headers.len() >= MAX_HEADERS {
                return Err((Reject::Drop, None));
            }
            let kind = HeaderKind::classify(&buf[name.clone()]);
            msg.headers.push((kind, name, value.clone()));
            match kind {
                HeaderKind::Via => {
                    seen[4] = true;
                    for v in split_commas(buf, value) {
                        if msg.vias.len() >= MAX_VIAS {
                            return Err((Reject::Drop, None));
                        }
                        match parse_via(buf, v) {
                            Some(via) => msg.vias.push(via),
                            None => bad = true,
                        }
                    }
                }
                HeaderKind::From => {
                    seen[0] = true;
                    msg.from_tag = param(buf, value.clone(), b"tag");
                    msg.from = value;
                }
                HeaderKind::To => {
                    seen[1] = true;
                    msg.to_tag = param(buf, value.clone(), b"tag");
                    msg.to = value;
                }
                HeaderKind::CallId => {
                    seen[2] = true;
                    bad |= value.is_empty();
                    msg.call_id = value;
                }
                HeaderKind::CSeq => {
                    seen[3] = true;
                    let v = &buf[value.clone()];
                    let sp = v.iter().position(|b| b.is_ascii_whitespace());
                    match sp {
                        Some(sp) => {
                            let num = std::str::from_utf8(&v[..sp])
                                .ok()
                                .and_then(|s| s.parse::<u32>().ok());
                            // §8.1.1.5: the sequence number MUST be less than 2**31.
                            match num.filter(|n| *n < 1 << 31) {
                                Some(n) => msg.cseq = n,
                                None => bad = true,
                            }
                            let m = trim(buf, value.start + sp..value.end);
                            msg.cseq_method = Method::from_bytes(&buf[m.clone()]);
                            msg.cseq_method_name = m;
                        }
                        None => bad = true,
                    }
                }
                HeaderKind::MaxForwards => {
                    msg.max_forwards = std::str::from_utf8(&buf[value.clone()])
                        .ok()
                        .and_then(|s| s.parse().ok());
                    bad |= msg.max_forwards.is_none();
                }
                HeaderKind::Contact if msg.contact_uri.is_none() => {
                    msg.contact_uri = split_commas(buf, value).next().map(|c| addr_uri(buf, c));
                }
                HeaderKind::RecordRoute => {
                    for r in split_commas(buf, value) {
                        if msg.record_routes.len() >= MAX_ROUTES {
                            return Err((Reject::Drop, None));
                        }
                        msg.record_routes.push(r);
                    }
                }
                HeaderKind::Require => {
                    for r in split_commas(buf, value) {
                        if msg.require.len() >= MAX_ROUTES {
                            return Err((Reject::Drop, None));
                        }
                        msg.require.push(r);
                    }
                }
                HeaderKind::ContentLength => {
                    match std::str::from_utf8(&buf[value])
                        .ok()
                        .and_then(|s| s.parse().ok())
                    {
                        Some(n) => content_length = Some(n),
                        None => bad = true,
                    }
                }
                _ => {}
            }
            p = end + 2;
        };
        // §18.3: the body is Content-Length bytes; a shorter datagram is discarded (a
        // request gets a 400), extra bytes are ignored.
        let available = buf.len() - header_end;
        let body_len = match content_length {
            Some(n) if n > available => {
                bad = true;
                0
            }
            Some(n) => n,
            None => available,
        };
        msg.body = header_end..header_end + body_len;

        let answerable = seen.iter().all(|s| *s) && !msg.vias.is_empty();
        if !answerable {
            return Err((Reject::Drop, None));
        }
        if let Start::Request { method, .. } = msg.start {
            if !version_ok {
                // §8.2.2 / §21.5.6: 505 Version Not Supported.
                return Err((Reject::Respond(505), Some(Box::new(msg))));
            }
            // §8.1.1.5: the CSeq method MUST match the request method.
            bad |= method != msg.cseq_method
                || msg.raw[msg.cseq_method_name.clone()] != msg.raw[msg.method_name_range()];
        }
        if bad {
            return if is_request {
                Err((Reject::Respond(400), Some(Box::new(msg))))
            } else {
                Err((Reject::Drop, None))
            };
        }
        Ok(msg)
    }

    fn method_name_range(&self) -> R {
        match &self.start {
            Start::Request { name, .. } => name.clone(),
            Start::Response { .. } => 0..0,
        }
    }

    /// The whole message as received.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    pub(crate) fn slice(&self, r: &R) -> Bytes {
        self.raw.slice(r.clone())
    }

    pub(crate) fn bytes(&self, r: &R) -> &[u8] {
        &self.raw[r.clone()]
    }

    /// The value of a range as text (lossy: non-UTF-8 yields an empty string).
    pub(crate) fn text(&self, r: &R) -> &str {
        std::str::from_utf8(&self.raw[r.clone()]).unwrap_or("")
    }

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, Start::Request { .. })
    }

    /// The request method, or the CSeq method of a response.
    pub fn method(&self) -> Method {
        match self.start {
            Start::Request { method, .. } => method,
            Start::Response { .. } => self.cseq_method,
        }
    }

    /// The method token as written (useful for extension methods).
    pub fn method_name(&self) -> &str {
        match &self.start {
            Start::Request { name, .. } => self.text(name),
            Start::Response { .. } => self.text(&self.cseq_method_name),
        }
    }

    /// The status code of a response.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            Start::Response { status, .. } => Some(status),
            Start::Request { .. } => None,
        }
    }

    /// The reason phrase of a response.
    pub fn reason(&self) -> Option<&str> {
        match &self.start {
            Start::Response { reason, .. } => Some(self.text(reason)),
            Start::Request { .. } => None,
        }
    }

    /// The Request-URI of a request.
    pub fn request_uri(&self) -> Option<&str> {
        match &self.start {
            Start::Request { uri, .. } => Some(self.text(uri)),
            Start::Response { .. } => None,
        }
    }

    pub(crate) fn request_uri_range(&self) -> R {
        match &self.start {
            Start::Request { uri, .. } => uri.clone(),
            Start::Response { .. } => 0..0,
        }
    }

    /// The Call-ID.
    pub fn call_id(&self) -> &str {
        self.text(&self.call_id)
    }

    /// The From header value.
    pub fn from(&self) -> &str {
        self.text(&self.from)
    }

    /// The To header value.
    pub fn to(&self) -> &str {
        self.text(&self.to)
    }

    /// The CSeq number.
    pub fn cseq(&self) -> u32 {
        self.cseq
    }

    /// Max-Forwards, if present.
    pub fn max_forwards(&self) -> Option<u32> {
        self.max_forwards
    }

    /// The first Contact URI, if any.
    pub fn contact_uri(&self) -> Option<&str> {
        self.contact_uri.as_ref().map(|r| self.text(r))
    }

    /// The first value of a header by name (case-insensitive; compact forms are not
    /// expanded for unknown names).
    pub fn header(&self, name: &str) -> Option<&str> {
        let kind = HeaderKind::classify(name.as_bytes());
        self.headers
            .iter()
            .find(|(k, n, _)| {
                if kind == HeaderKind::Other {
                    self.raw[n.clone()].eq_ignore_ascii_case(name.as_bytes())
                } else {
                    *k == kind
                }
            })
            .map(|(_, _, v)| self.text(v))
    }

    /// All headers as (name, value) in order.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers
            .iter()
            .map(|(_, n, v)| (self.text(n), self.text(v)))
    }

    pub(crate) fn header_ranges(&self, kind: HeaderKind) -> impl Iterator<Item = &R> {
        self.headers
            .iter()
            .filter(move |(k, _, _)| *k == kind)
            .map(|(_, _, v)| v)
    }

    /// The body (zero-copy slice).
    pub fn body(&self) -> Bytes {
        self.raw.slice(self.body.clone())
    }

    /// The Content-Type value, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.header("Content-Type")
    }

    pub(crate) fn top_via(&self) -> &Via {
        // `parse` rejects messages without Via.
        &self.vias[0]
    }

    /// The top Via branch.
    pub(crate) fn branch(&self) -> Option<&[u8]> {
        self.top_via().branch.as_ref().map(|r| self.bytes(r))
    }
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

pub(crate) fn find(buf: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    if from > buf.len() {
        return None;
    }
    buf[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

fn trim(buf: &[u8], mut r: R) -> R {
    while r.start < r.end && buf[r.start].is_ascii_whitespace() {
        r.start += 1;
    }
    while r.end > r.start && buf[r.end - 1].is_ascii_whitespace() {
        r.end -= 1;
    }
    r
}

/// Splits a header value at commas outside quotes and angle brackets (§7.3.1).
pub(crate) fn split_commas(buf: &[u8], r: R) -> impl Iterator<Item = R> + '_ {
    let mut start = r.start;
    let mut i = r.start;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let (mut quoted, mut angle) = (false, false);
        while i < r.end {
            match buf[i] {
                b'\\' if quoted => i += 1,
                b'"' => quoted = !quoted,
                b'<' if !quoted => angle = true,
                b'>' if !quoted => angle = false,
                b',' if !quoted && !angle => {
                    let item = trim(buf, start..i);
                    i += 1;
                    start = i;
                    return Some(item);
                }
                _ => {}
            }
            i += 1;
        }
        done = true;
        let item = trim(buf, start..r.end.max(start));
        (!item.is_empty()).then_some(item)
    })
}

/// Where the header parameters of a name-addr/addr-spec value start: after `>` for a
/// name-addr, at the first `;` for an addr-spec (§20.10: parameters after an addr-spec
/// without brackets are header parameters).
fn params_start(buf: &[u8], r: &R) -> usize {
    let mut quoted = false;
    let mut i = r.start;
    while i < r.end {
        match buf[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'<' if !quoted => {
                return find(buf, i, b">")
                    .filter(|&e| e < r.end)
                    .map_or(r.end, |e| e + 1);
            }
            b';' if !quoted => return i,
            _ => {}
        }
        i += 1;
    }
    r.end
}

/// The value of header parameter `name` (case-insensitive), `Some(empty)` for a flag.
pub(crate) fn param(buf: &[u8], r: R, name: &[u8]) -> Option<R> {
    params_in(buf, params_start(buf, &r)..r.end, name)
}

fn params_in(buf: &[u8], r: R, name: &[u8]) -> Option<R> {
    let mut i = r.start;
    while i < r.end {
        if buf[i] != b';' {
            i += 1;
            continue;
        }
        let s = i + 1;
        let mut e = s;
        while e < r.end && buf[e] != b';' {
            e += 1;
        }
        let item = trim(buf, s..e);
        let (n, v) = match buf[item.clone()].iter().position(|b| *b == b'=') {
            Some(eq) => (
                trim(buf, item.start..item.start + eq),
                trim(buf, item.start + eq + 1..item.end),
            ),
            None => (item.clone(), item.end..item.end),
        };
        if buf[n].eq_ignore_ascii_case(name) {
            return Some(v);
        }
        i = e;
    }
    None
}

/// The URI inside a name-addr (`<…>`) or the addr-spec up to its parameters.
pub(crate) fn addr_uri(buf: &[u8], r: R) -> R {
    if let Some(lt) = find(buf, r.start, b"<").filter(|&i| i < r.end) {
        if let Some(gt) = find(buf, lt, b">").filter(|&i| i < r.end) {
            return lt + 1..gt;
        }
    }
    let end = buf[r.clone()]
        .iter()
        .position(|b| *b == b';')
        .map_or(r.end, |i| r.start + i);
    trim(buf, r.start..end)
}

fn parse_via(buf: &[u8], r: R) -> Option<Via> {
    // sent-protocol = "SIP" "/" "2.0" "/" transport, then LWS, then sent-by, then params.
    let v = &buf[r.clone()];
    let mut slashes = 0;
    let mut i = 0;
    while i < v.len() && slashes < 2 {
        if v[i] == b'/' {
            slashes += 1;
        }
        i += 1;
    }
    if slashes < 2 {
        return None;
    }
    let t_start = r.start + i;
    let mut j = i;
    while j < v.len() && !v[j].is_ascii_whitespace() {
        j += 1;
    }
    let transport = trim(buf, t_start..r.start + j);
    while j < v.len() && v[j].is_ascii_whitespace() {
        j += 1;
    }
    let sb_start = r.start + j;
    let mut k = j;
    while k < v.len() && v[k] != b';' {
        k += 1;
    }
    let sent_by = trim(buf, sb_start..r.start + k);
    let sb = &buf[sent_by.clone()];
    let (host, port) = if sb.first() == Some(&b'[') {
        let close = sb.iter().position(|b| *b == b']')?;
        let host = sent_by.start..sent_by.start + close + 1;
        let port = match sb.get(close + 1) {
            Some(b':') => Some(parse_u16(&sb[close + 2..])?),
            None => None,
            Some(_) => return None,
        };
        (host, port)
    } else {
        match sb.iter().position(|b| *b == b':') {
            Some(c) => (
                sent_by.start..sent_by.start + c,
                Some(parse_u16(&sb[c + 1..])?),
            ),
            None => (sent_by.clone(), None),
        }
    };
    if host.is_empty() || transport.is_empty() {
        return None;
    }
    let params = r.start + k..r.end;
    let rport = params_in(buf, params.clone(), b"rport").map(|p| parse_u16(&buf[p]));
    Some(Via {
        value: r,
        host,
        port,
        branch: params_in(buf, params.clone(), b"branch").filter(|b| !b.is_empty()),
        rport,
        received: params_in(buf, params, b"received"),
    })
}

fn parse_u16(b: &[u8]) -> Option<u16> {
    std::str::from_utf8(b).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK776;rport, SIP/2.0/TCP [2001:db8::1];branch=z9hG4bKx\r\n\
Max-Forwards: 70\r\n\
f: \"A, b\" <sip:alice@example.com;x=1>;tag=1928\r\n\
To: sip:bob@example.com;tag=abc\r\n\
i: a84b4c76e66710\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@10.0.0.1:5070>;expires=3\r\n\
Record-Route: <sip:p1;lr>, <sip:p2;lr>\r\n\
Subject: folded\r\n line\r\n\
l: 4\r\n\r\nv=0\r\nextra";

    #[test]
    fn scans_key_headers() {
        let m = Inbound::parse(Bytes::from_static(INVITE.as_bytes())).expect("parses");
        assert!(m.is_request());
        assert_eq!(m.method(), Method::Invite);
        assert_eq!(m.request_uri(), Some("sip:bob@example.com"));
        assert_eq!(m.vias.len(), 2);
        let v = m.top_via();
        assert_eq!(m.bytes(&v.host), b"10.0.0.1");
        assert_eq!(v.port, Some(5070));
        assert_eq!(v.rport, Some(None));
        assert_eq!(m.branch(), Some(&b"z9hG4bK776"[..]));
        assert_eq!(m.bytes(&m.vias[1].host), b"[2001:db8::1]");
        assert_eq!(m.from_tag.as_ref().map(|r| m.bytes(r)), Some(&b"1928"[..]));
        assert_eq!(m.to_tag.as_ref().map(|r| m.bytes(r)), Some(&b"abc"[..]));
        assert_eq!(m.call_id(), "a84b4c76e66710");
        assert_eq!((m.cseq(), m.cseq_method), (314159, Method::Invite));
        assert_eq!(m.contact_uri(), Some("sip:alice@10.0.0.1:5070"));
        assert_eq!(m.record_routes.len(), 2);
        assert_eq!(m.header("subject"), Some("folded\r\n line"));
        assert_eq!(&m.body()[..], b"v=0\r");
    }

    #[test]
    fn rejects_with_codes() {
        let bad_version = INVITE.replace("SIP/2.0\r\nVia", "SIP/3.0\r\nVia");
        assert!(matches!(
            Inbound::parse(Bytes::from(bad_version)),
            Err((Reject::Respond(505), Some(_)))
        ));
        let short_body = INVITE.replace("l: 4", "l: 400");
        assert!(matches!(
            Inbound::parse(Bytes::from(short_body)),
            Err((Reject::Respond(400), Some(_)))
        ));
        let cseq_mismatch = INVITE.replace("314159 INVITE", "314159 BYE");
        assert!(matches!(
            Inbound::parse(Bytes::from(cseq_mismatch)),
            Err((Reject::Respond(400), Some(_)))
        ));
        let no_callid = INVITE.replace("i: a84b4c76e66710\r\n", "");
        assert!(matches!(
            Inbound::parse(Bytes::from(no_callid)),
            Err((Reject::Drop, None))
        ));
        assert!(matches!(
            Inbound::parse(Bytes::from_static(b"garbage")),
            Err((Reject::Drop, None))
        ));
    }
}
