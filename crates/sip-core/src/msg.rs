//! The view of an incoming message that the transaction and dialog layers need.
//!
//! Parsing and receipt validation are `sip-message`'s ([`Message::parse`],
//! [`Message::validate`]). This module indexes, once per message, the fields the core looks
//! at on every message — Via (all values, the top one typed), From/To tags, Call-ID, CSeq,
//! Max-Forwards, Contact, Record-Route, Require — as index ranges into the message's one
//! `Bytes`, so transaction matching and response echoing copy nothing.

use std::net::IpAddr;
use std::ops::Range;

use bytes::Bytes;
use sip_message::{HeaderName, Message, Method};

/// Most Via entries kept per message (the parser's own limit is higher; extra entries make
/// the message unanswerable and it is dropped).
pub const MAX_VIAS: usize = 70;
/// Most Record-Route / Require entries kept per message.
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

/// sent-by host of the top Via.
#[derive(Debug, Clone)]
pub(crate) enum SentByHost {
    Ip(IpAddr),
    /// A host name (responses then go to the packet's source address, §18.2.2).
    Domain,
}

/// Facts of the top Via (§20.42, RFC 3581), typed by [`sip_message::Via::parse`] and kept
/// as ranges into the message buffer.
#[derive(Debug, Clone)]
pub(crate) struct Via {
    /// The whole entry.
    pub value: R,
    /// sent-by host.
    pub host: SentByHost,
    /// sent-by port.
    pub port: Option<u16>,
    /// `branch`.
    pub branch: Option<R>,
    /// `rport`: `Some(None)` when present without value.
    pub rport: Option<Option<u16>>,
    /// Where a valueless `rport` ends (absolute), so a response can fill in the port.
    pub rport_end: Option<usize>,
    /// `received`.
    pub received: Option<R>,
    /// `host[:port]` as written (the §17.2.3 sent-by key).
    pub sent_by: R,
}

/// An incoming SIP message as the core sees it: the parsed [`Message`] plus the transaction
/// and dialog keys (top Via, Call-ID, From/To tags, CSeq) as ranges into its one buffer.
/// Headers needed only by some messages (Contact, Record-Route, Require, further Vias) are
/// read from the [`Message`] on demand.
#[derive(Debug, Clone)]
pub struct Inbound {
    msg: Message,
    request_uri: R,
    /// Number of Via values (§18.1.2: a response with more than one is not ours).
    pub(crate) via_count: usize,
    /// Number of Record-Route values (most messages have none: no scan then).
    rr_count: usize,
    pub(crate) top: Via,
    pub(crate) call_id: R,
    pub(crate) from: R,
    pub(crate) from_tag: Option<R>,
    pub(crate) to: R,
    pub(crate) to_tag: Option<R>,
    pub(crate) cseq: u32,
    pub(crate) cseq_method: Method,
    pub(crate) cseq_raw: R,
    pub(crate) max_forwards: Option<u32>,
}

impl Inbound {
    /// Parses and validates `raw`. `Err(Reject::Respond(code))` comes with the indexed
    /// message when a response can still be built from it.
    pub(crate) fn parse(raw: Bytes) -> Result<Self, (Reject, Option<Box<Self>>)> {
        let Ok(msg) = Message::parse(raw) else {
            // Not even framable: nothing to answer with.
            return Err((Reject::Drop, None));
        };
        // Receipt validation (§8.2) decides 400/505 for requests. A response is only matched
        // to our own client transaction by its keys (§17.1.3), which `index` checks; a
        // response whose keys are unusable is dropped (§18.1.2). An ACK is never answered,
        // so validating it could only decide to drop it — its keys decide that just as well.
        let validation = if msg.is_request() && msg.method() != Method::Ack {
            msg.validate()
        } else {
            Ok(())
        };
        let indexed = Self::index(msg);
        match (validation, indexed) {
            (Ok(()), Some(m)) => Ok(m),
            (Err(rej), Some(m)) if m.is_request() => match rej.response {
                Some(code) => Err((Reject::Respond(code), Some(Box::new(m)))),
                None => Err((Reject::Drop, None)),
            },
            _ => Err((Reject::Drop, None)),
        }
    }

    /// Indexes the transaction and dialog keys; `None` when Via, From, To, Call-ID or CSeq
    /// is missing or the top Via is unusable (then no response can be routed).
    fn index(msg: Message) -> Option<Self> {
        let raw = msg.buffer();
        let span = |s: &str| span_in(raw, s);
        let (mut via_count, mut top, mut lists) = (0, None, [0usize; 2]);
        let (mut from, mut to, mut cseq_raw) = (None, None, None);
        // One pass over the header index: no per-name rescans.
        for (name, value) in msg.headers() {
            match name {
                HeaderName::Via => {
                    // Most fields hold one value; split only when there is a comma.
                    if !value.as_bytes().contains(&b',') {
                        via_count += 1;
                        top = top.or(Some(value));
                    } else {
                        for v in split_commas(value) {
                            via_count += 1;
                            top = top.or(Some(v));
                        }
                    }
                }
                HeaderName::From if from.is_none() => from = Some(value),
                HeaderName::To if to.is_none() => to = Some(value),
                HeaderName::CSeq if cseq_raw.is_none() => cseq_raw = Some(value),
                // Lists the core reads later must stay within bounds (peer input).
                HeaderName::RecordRoute => lists[0] += split_commas(value).count(),
                HeaderName::Require => lists[1] += split_commas(value).count(),
                _ => {}
            }
        }
        if via_count > MAX_VIAS || lists.iter().any(|n| *n > MAX_ROUTES) {
            return None;
        }
        let top = parse_top_via(span(top?)?, raw)?;
        let (from, to, cseq_raw) = (span(from?)?, span(to?)?, span(cseq_raw?)?);
        let call_id = span(msg.call_id()?)?;
        let cseq = msg.cseq()?;
        // §8.1.1.5: the sequence number MUST be less than 2**31.
        if cseq.seq >= 1 << 31 {
            return None;
        }
        let from_tag = tag_param(raw, &from);
        let to_tag = tag_param(raw, &to);
        Some(Inbound {
            request_uri: msg.request_uri_str().and_then(span).unwrap_or(0..0),
            via_count,
            rr_count: lists[0],
            top,
            call_id,
            from,
            from_tag,
            to,
            to_tag,
            cseq: cseq.seq,
            cseq_method: cseq.method,
            cseq_raw,
            max_forwards: msg.max_forwards().map(u32::from),
            msg,
        })
    }

    /// The parsed message (typed headers, SDP body, …).
    pub fn message(&self) -> &Message {
        &self.msg
    }

    /// The whole message as received.
    pub fn raw(&self) -> &Bytes {
        self.msg.buffer()
    }

    pub(crate) fn slice(&self, r: &R) -> Bytes {
        self.msg.buffer().slice(r.clone())
    }

    pub(crate) fn bytes(&self, r: &R) -> &[u8] {
        &self.msg.buffer()[r.clone()]
    }

    /// The value of a range as text (lossy: non-UTF-8 yields an empty string).
    pub(crate) fn text(&self, r: &R) -> &str {
        std::str::from_utf8(self.bytes(r)).unwrap_or("")
    }

    /// Every Via value after the top one, in order (echoed into responses, §8.2.6.2).
    pub(crate) fn lower_vias(&self) -> impl Iterator<Item = R> + '_ {
        self.list(HeaderName::Via).skip(1)
    }

    /// Record-Route values, in order (each a name-addr).
    pub(crate) fn record_routes(&self) -> impl DoubleEndedIterator<Item = R> + '_ {
        let all: Vec<R> = if self.rr_count == 0 {
            Vec::new()
        } else {
            self.list(HeaderName::RecordRoute).collect()
        };
        all.into_iter()
    }

    /// Require option tags.
    pub(crate) fn require(&self) -> impl Iterator<Item = &str> + '_ {
        self.msg.header_values(HeaderName::Require)
    }

    /// The range of the first Contact URI.
    pub(crate) fn contact_range(&self) -> Option<R> {
        let first = split_commas(self.msg.header(&HeaderName::Contact)?).next()?;
        let r = span_in(self.msg.buffer(), first)?;
        Some(addr_uri(self.msg.buffer(), r))
    }

    fn list(&self, name: HeaderName<'static>) -> impl Iterator<Item = R> + '_ {
        let raw = self.msg.buffer();
        self.msg
            .header_all(name)
            .flat_map(split_commas)
            .filter_map(move |v| span_in(raw, v))
    }

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        self.msg.is_request()
    }

    /// The request method, or the CSeq method of a response.
    pub fn method(&self) -> Method {
        if self.is_request() {
            self.msg.method()
        } else {
            self.cseq_method
        }
    }

    /// The method token as written (useful for extension methods).
    pub fn method_name(&self) -> &str {
        self.msg.method_str()
    }

    /// The status code of a response.
    pub fn status(&self) -> Option<u16> {
        self.msg.status()
    }

    /// The reason phrase of a response.
    pub fn reason(&self) -> Option<&str> {
        self.msg.reason()
    }

    /// The Request-URI of a request.
    pub fn request_uri(&self) -> Option<&str> {
        self.msg.request_uri_str()
    }

    pub(crate) fn request_uri_range(&self) -> R {
        self.request_uri.clone()
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
        self.contact_range().map(|r| self.text(&r))
    }

    /// The first value of a header by name (case-insensitive, compact forms understood).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.msg.header(&HeaderName::new(name))
    }

    /// The body (zero-copy slice).
    pub fn body(&self) -> Bytes {
        self.msg.body()
    }

    /// The Content-Type value, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.msg.header(&HeaderName::ContentType)
    }

    /// Whether the body is a session description (`Content-Type: application/sdp`,
    /// parameters aside, compared case-insensitively: RFC 3261 §20.15, RFC 3264).
    pub fn has_sdp(&self) -> bool {
        !self.msg.body().is_empty()
            && self.content_type().is_some_and(|t| {
                t.split(';')
                    .next()
                    .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/sdp"))
            })
    }

    pub(crate) fn top_via(&self) -> &Via {
        &self.top
    }

    /// The top Via branch.
    pub(crate) fn branch(&self) -> Option<&[u8]> {
        self.top_via().branch.as_ref().map(|r| self.bytes(r))
    }
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

/// Reads the keys of the top Via (§20.42, RFC 3581): sent-by host and port, branch,
/// rport, received. This is a key extractor, not a validator: requests were validated by
/// [`Message::validate`] already, and a response is only matched by these keys (§17.1.3);
/// its cost is a small fraction of typing the value with `sip_message::Via`.
fn parse_top_via(value: R, buf: &[u8]) -> Option<Via> {
    let v = &buf[value.clone()];
    let sb = sent_by_range(v)?;
    let sent_by = &v[sb.clone()];
    let (host, port) = if sent_by.first() == Some(&b'[') {
        let close = sent_by.iter().position(|b| *b == b']')?;
        let ip: std::net::Ipv6Addr = std::str::from_utf8(&sent_by[1..close]).ok()?.parse().ok()?;
        let port = match &sent_by[close + 1..] {
            [] => None,
            [b':', p @ ..] => Some(parse_port(p)?),
            _ => return None,
        };
        (SentByHost::Ip(IpAddr::V6(ip)), port)
    } else {
        let (h, port) = match sent_by.iter().rposition(|b| *b == b':') {
            Some(i) => (&sent_by[..i], Some(parse_port(&sent_by[i + 1..])?)),
            None => (sent_by, None),
        };
        if h.is_empty() {
            return None;
        }
        let host = parse_ipv4(h).map_or(SentByHost::Domain, |ip| SentByHost::Ip(IpAddr::V4(ip)));
        (host, port)
    };
    // One pass over `;name[=value]` for the three parameters the core reads.
    let (mut branch, mut rport, mut received, mut rport_end) = (None, None, None, None);
    let base = value.start;
    let mut i = sb.end;
    while let Some(semi) = v[i..].iter().position(|b| *b == b';') {
        let item_start = i + semi + 1;
        let item_end = v[item_start..]
            .iter()
            .position(|b| *b == b';')
            .map_or(v.len(), |p| item_start + p);
        let item = trim(v, item_start..item_end);
        let (name, val) = match v[item.clone()].iter().position(|b| *b == b'=') {
            Some(eq) => (
                trim(v, item.start..item.start + eq),
                Some(trim(v, item.start + eq + 1..item.end)),
            ),
            None => (item.clone(), None),
        };
        let name = &v[name];
        let abs = |r: R| base + r.start..base + r.end;
        if name.eq_ignore_ascii_case(b"branch") {
            branch = val.filter(|r| !r.is_empty()).map(abs);
        } else if name.eq_ignore_ascii_case(b"rport") {
            rport = Some(val.clone().and_then(|r| parse_port(&v[r])));
            rport_end = val.is_none().then_some(base + item.end);
        } else if name.eq_ignore_ascii_case(b"received") {
            received = val.filter(|r| !r.is_empty()).map(abs);
        }
        i = item_end;
    }
    Some(Via {
        sent_by: base + sb.start..base + sb.end,
        branch,
        received,
        value,
        host,
        port,
        rport,
        rport_end,
    })
}

/// A port number: 1 to 5 digits, at most 65535.
fn parse_port(p: &[u8]) -> Option<u16> {
    if p.is_empty() || p.len() > 5 || !p.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = p.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    u16::try_from(n).ok()
}

/// A dotted-quad IPv4 address (RFC 3261 §25.1 IPv4address), or `None` (a host name).
fn parse_ipv4(h: &[u8]) -> Option<std::net::Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = h.split(|b| *b == b'.');
    for o in &mut octets {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.iter().all(u8::is_ascii_digit) {
            return None;
        }
        *o = u8::try_from(p.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'))).ok()?;
    }
    parts.next().is_none().then(|| octets.into())
}

/// The non-empty `tag` parameter of a From/To value (§19.3): the header parameters start
/// after the name-addr's `>`, or at the first `;` of a bare addr-spec (§20.10); quotes hide
/// both.
fn tag_param(buf: &[u8], r: &R) -> Option<R> {
    let v = &buf[r.clone()];
    // Fast path: the tag is almost always the last parameter. The last `;` delimits a
    // header parameter when no `>` or `"` follows it (it is then neither inside the
    // name-addr nor inside a quoted string).
    let c = v.iter().rposition(|b| *b == b';')?;
    {
        let tail = &v[c + 1..];
        if !tail.iter().any(|b| matches!(b, b'>' | b'"')) {
            let item = trim(v, c + 1..v.len());
            if let Some(eq) = v[item.clone()].iter().position(|b| *b == b'=') {
                let name = trim(v, item.start..item.start + eq);
                if v[name].eq_ignore_ascii_case(b"tag") {
                    let t = trim(v, item.start + eq + 1..item.end);
                    return (!t.is_empty()).then(|| r.start + t.start..r.start + t.end);
                }
            }
        }
    }
    let (mut quoted, mut angle) = (false, false);
    let mut i = 0;
    while i < v.len() {
        match v[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'<' if !quoted => angle = true,
            b'>' if !quoted => angle = false,
            b';' if !quoted && !angle => {
                let mut j = i + 1;
                while v.get(j).is_some_and(|b| b.is_ascii_whitespace()) {
                    j += 1;
                }
                let end = v[j..]
                    .iter()
                    .position(|b| *b == b';')
                    .map_or(v.len(), |p| j + p);
                if end - j >= 3 && v[j..j + 3].eq_ignore_ascii_case(b"tag") {
                    let rest = trim(v, j + 3..end);
                    if rest.is_empty() {
                        // A valueless `tag` flag is no tag.
                        return None;
                    }
                    if v[rest.start] == b'=' {
                        let t = trim(v, rest.start + 1..rest.end);
                        return (!t.is_empty()).then(|| r.start + t.start..r.start + t.end);
                    }
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The sent-by part of a Via value: after `SIP/2.0/<transport>` and whitespace, up to the
/// first `;` or whitespace.
fn sent_by_range(b: &[u8]) -> Option<R> {
    let mut slashes = 0;
    let mut i = 0;
    while i < b.len() && slashes < 2 {
        slashes += usize::from(b[i] == b'/');
        i += 1;
    }
    while i < b.len() && !b[i].is_ascii_whitespace() {
        i += 1;
    }
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    let start = i;
    while i < b.len() && b[i] != b';' && !b[i].is_ascii_whitespace() {
        i += 1;
    }
    (i > start).then_some(start..i)
}

/// Splits a header value at commas outside quotes and angle brackets (§7.3.1).
pub(crate) fn split_commas(v: &str) -> impl Iterator<Item = &str> + '_ {
    let b = v.as_bytes();
    let mut start = 0;
    let mut done = false;
    std::iter::from_fn(move || {
        while !done {
            let (mut quoted, mut angle) = (false, false);
            let mut i = start;
            let mut cut = None;
            while i < b.len() {
                match b[i] {
                    b'\\' if quoted => i += 1,
                    b'"' => quoted = !quoted,
                    b'<' if !quoted => angle = true,
                    b'>' if !quoted => angle = false,
                    b',' if !quoted && !angle => {
                        cut = Some(i);
                        break;
                    }
                    _ => {}
                }
                i += 1;
            }
            let end = cut.unwrap_or(b.len());
            let item = v.get(start..end).unwrap_or("").trim();
            match cut {
                Some(c) => start = c + 1,
                None => done = true,
            }
            if !item.is_empty() {
                return Some(item);
            }
        }
        None
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

/// The range of `s` inside `buf`, if `s` borrows from it (sip-message hands out views of
/// its one buffer; an empty string may point elsewhere and maps to an empty range).
pub(crate) fn span_in(buf: &Bytes, s: &str) -> Option<R> {
    let base = buf.as_ptr() as usize;
    let p = s.as_ptr() as usize;
    if p >= base && p + s.len() <= base + buf.len() {
        Some(p - base..p - base + s.len())
    } else if s.is_empty() {
        Some(0..0)
    } else {
        None
    }
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
        assert_eq!(m.via_count, 2);
        let v = m.top_via();
        assert!(matches!(v.host, SentByHost::Ip(ip) if ip.to_string() == "10.0.0.1"));
        assert_eq!(v.port, Some(5070));
        assert_eq!(v.rport, Some(None));
        assert_eq!(m.branch(), Some(&b"z9hG4bK776"[..]));
        let lower: Vec<_> = m.lower_vias().collect();
        assert_eq!(
            m.bytes(&lower[0]),
            b"SIP/2.0/TCP [2001:db8::1];branch=z9hG4bKx"
        );
        assert_eq!(
            m.top_via()
                .rport_end
                .map(|e| &m.raw()[..e])
                .map(|s| s.ends_with(b";rport")),
            Some(true)
        );
        assert_eq!(m.from_tag.as_ref().map(|r| m.bytes(r)), Some(&b"1928"[..]));
        assert_eq!(m.to_tag.as_ref().map(|r| m.bytes(r)), Some(&b"abc"[..]));
        assert_eq!(m.call_id(), "a84b4c76e66710");
        assert_eq!((m.cseq(), m.cseq_method), (314159, Method::Invite));
        assert_eq!(m.contact_uri(), Some("sip:alice@10.0.0.1:5070"));
        assert_eq!(m.record_routes().count(), 2);
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
        // A datagram shorter than its Content-Length is unusable (§18.3).
        let short_body = INVITE.replace("l: 4", "l: 400");
        assert!(Inbound::parse(Bytes::from(short_body)).is_err());
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
