//! Writing messages: the mirror image of parsing. A [`MessageWriter`] appends one message
//! to a caller-owned, reusable `BytesMut`; nothing else is allocated.

use std::fmt::{self, Write as _};

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{ErrorKind, ParseError};
use crate::header_name::HeaderName;
use crate::lex::is_token;
use crate::message::Message;
use crate::method::Method;

/// Appends one SIP message to a buffer.
///
/// Misuse (a header name that is not a token, a value containing CR or LF, which would let
/// a caller-supplied string inject header lines) is remembered and reported by
/// [`MessageWriter::finish`] / [`MessageWriter::body`], so calls can be chained.
#[derive(Debug)]
pub struct MessageWriter<'b> {
    buf: &'b mut BytesMut,
    start: usize,
    error: Option<ParseError>,
}

impl<'b> MessageWriter<'b> {
    /// Starts a request: `METHOD Request-URI SIP/2.0`.
    pub fn request(buf: &'b mut BytesMut, method: &str, request_uri: &str) -> Self {
        let mut w = MessageWriter {
            start: buf.len(),
            buf,
            error: None,
        };
        if method.is_empty()
            || !method.bytes().all(is_token)
            || request_uri.is_empty()
            || request_uri.bytes().any(|c| c <= b' ')
        {
            w.fail();
        }
        w.put(method.as_bytes());
        w.put(b" ");
        w.put(request_uri.as_bytes());
        w.put(b" SIP/2.0\r\n");
        w
    }

    /// Starts a request for a known method.
    pub fn request_for(buf: &'b mut BytesMut, method: Method, request_uri: &str) -> Self {
        Self::request(buf, method.as_str().unwrap_or(""), request_uri)
    }

    /// Starts a response: `SIP/2.0 code reason`.
    pub fn response(buf: &'b mut BytesMut, code: u16, reason: &str) -> Self {
        let mut w = MessageWriter {
            start: buf.len(),
            buf,
            error: None,
        };
        if !(100..=699).contains(&code) || reason.bytes().any(|c| c == b'\r' || c == b'\n') {
            w.fail();
        }
        w.put(b"SIP/2.0 ");
        let mut digits = [b'0'; 3];
        let c = code.min(999);
        digits[0] += (c / 100) as u8;
        digits[1] += (c / 10 % 10) as u8;
        digits[2] += (c % 10) as u8;
        w.put(&digits);
        w.put(b" ");
        w.put(reason.as_bytes());
        w.put(b"\r\n");
        w
    }

    /// Appends `Name: value`. `Content-Length` is written by `finish`/`body`; writing it
    /// here is refused.
    pub fn header(&mut self, name: HeaderName<'_>, value: &str) -> &mut Self {
        if !valid_name(&name) || value.bytes().any(|c| c == b'\r' || c == b'\n') {
            self.fail();
        }
        self.put(name.as_str().as_bytes());
        self.put(b": ");
        self.put(value.as_bytes());
        self.put(b"\r\n");
        self
    }

    /// Appends `Name: <formatted value>` without an intermediate `String`.
    pub fn header_fmt(&mut self, name: HeaderName<'_>, value: fmt::Arguments<'_>) -> &mut Self {
        if !valid_name(&name) {
            self.fail();
        }
        self.put(name.as_str().as_bytes());
        self.put(b": ");
        let at = self.buf.len();
        if self.buf.write_fmt(value).is_err()
            || self.buf[at..].iter().any(|&c| c == b'\r' || c == b'\n')
        {
            self.fail();
        }
        self.put(b"\r\n");
        self
    }

    /// Ends the header section with `Content-Length: 0`; returns the message length.
    pub fn finish(self) -> Result<usize, ParseError> {
        self.body(None, b"")
    }

    /// Writes Content-Type (if given), Content-Length and the body; returns the message
    /// length. The message is `buf[buf.len() - len..]`.
    pub fn body(mut self, content_type: Option<&str>, body: &[u8]) -> Result<usize, ParseError> {
        if let Some(ct) = content_type {
            self.header(HeaderName::ContentType, ct);
        }
        self.put(b"Content-Length: ");
        let _ = write!(self.buf, "{}", body.len());
        self.put(b"\r\n\r\n");
        self.put(body);
        match self.error {
            Some(e) => {
                // Leave no half-written message behind.
                self.buf.truncate(self.start);
                Err(e)
            }
            None => Ok(self.buf.len() - self.start),
        }
    }

    fn put(&mut self, b: &[u8]) {
        self.buf.put_slice(b);
    }

    fn fail(&mut self) {
        if self.error.is_none() {
            self.error = Some(ParseError::new(
                ErrorKind::WriteInvalid,
                self.buf.len() - self.start,
            ));
        }
    }
}

fn valid_name(name: &HeaderName<'_>) -> bool {
    match name {
        HeaderName::ContentLength => false,
        HeaderName::Other(s) => !s.is_empty() && s.bytes().all(is_token),
        _ => true,
    }
}

impl Message {
    /// Starts a response to this request, copying Via (all, in order), From, To, Call-ID and
    /// CSeq (RFC 3261 §8.2.6.2). `to_tag` is added to To when To has no tag yet (a UAS MUST
    /// add one to every response but 100, §8.2.6.2). Add Contact / Record-Route /
    /// other headers, then `finish` or `body`.
    pub fn response_writer<'b>(
        &self,
        buf: &'b mut BytesMut,
        code: u16,
        reason: &str,
        to_tag: Option<&str>,
    ) -> MessageWriter<'b> {
        let mut w = MessageWriter::response(buf, code, reason);
        if !self.is_request() {
            w.error = Some(ParseError::new(ErrorKind::WriteNotRequest, 0));
            return w;
        }
        for v in self.header_all(HeaderName::Via) {
            w.header(HeaderName::Via, &unfold_check(v));
        }
        if let Some(v) = self.header(&HeaderName::From) {
            w.header(HeaderName::From, &unfold_check(v));
        }
        if let Some(v) = self.header(&HeaderName::To) {
            let has_tag = self.to().is_some_and(|t| t.tag().is_some());
            match to_tag {
                Some(tag) if !has_tag => {
                    w.header_fmt(
                        HeaderName::To,
                        format_args!("{};tag={}", unfold_check(v), tag),
                    );
                }
                _ => {
                    w.header(HeaderName::To, &unfold_check(v));
                }
            }
        }
        if let Some(v) = self.header(&HeaderName::CallId) {
            w.header(HeaderName::CallId, &unfold_check(v));
        }
        if let Some(v) = self.header(&HeaderName::CSeq) {
            w.header(HeaderName::CSeq, &unfold_check(v));
        }
        w
    }

    /// Writes this message in canonical form: full header names, folded values unfolded
    /// (CRLF + whitespace becomes one SP, RFC 3261 §7.3.1), Content-Length recomputed.
    /// Parsing the output yields the same message.
    pub fn write_to(&self, buf: &mut BytesMut) -> Result<usize, ParseError> {
        let mut w = if let (Some(code), Some(reason)) = (self.status(), self.reason()) {
            MessageWriter::response(buf, code, reason)
        } else {
            MessageWriter::request(buf, self.method_str(), self.request_uri_str().unwrap_or(""))
        };
        for (name, value) in self.headers() {
            if name == HeaderName::ContentLength {
                continue;
            }
            w.header(name, &unfold_check(value));
        }
        w.body(None, self.body_bytes())
    }

    /// [`Message::write_to`] into a fresh buffer.
    pub fn to_bytes(&self) -> Result<Bytes, ParseError> {
        let mut buf = BytesMut::with_capacity(self.as_bytes().len() + 16);
        self.write_to(&mut buf)?;
        Ok(buf.freeze())
    }
}

/// Replaces each fold (CRLF + SP/HT run) with one SP; borrows when there is none.
fn unfold_check(v: &str) -> std::borrow::Cow<'_, str> {
    if !v.contains('\n') {
        return std::borrow::Cow::Borrowed(v);
    }
    let mut out = String::with_capacity(v.len());
    let mut it = v.split("\r\n");
    if let Some(first) = it.next() {
        out.push_str(first.trim_end_matches([' ', '\t']));
    }
    for part in it {
        out.push(' ');
        out.push_str(
            part.trim_start_matches([' ', '\t'])
                .trim_end_matches([' ', '\t']),
        );
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_builder_round_trips() {
        let mut buf = BytesMut::new();
        let mut w = MessageWriter::request_for(&mut buf, Method::Invite, "sip:bob@example.com");
        w.header(
            HeaderName::Via,
            "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9;rport",
        )
        .header(HeaderName::MaxForwards, "70")
        .header(
            HeaderName::From,
            "\"Alice\" <sip:alice@example.com>;tag=9fxced76sl",
        )
        .header(HeaderName::To, "<sip:bob@example.com>")
        .header(HeaderName::CallId, "3848276298220188511@192.0.2.1")
        .header_fmt(HeaderName::CSeq, format_args!("{} INVITE", 1))
        .header(HeaderName::Other("X-Room"), "lobby");
        let n = w.body(Some("application/sdp"), b"v=0\r\n").unwrap();
        assert_eq!(n, buf.len());
        let m = Message::parse(buf.freeze()).unwrap();
        m.validate().unwrap();
        assert_eq!(m.method(), Method::Invite);
        assert_eq!(m.top_via().unwrap().branch, Some("z9hG4bK74bf9"));
        assert_eq!(m.from().unwrap().tag(), Some("9fxced76sl"));
        assert_eq!(m.header(&HeaderName::Other("x-room")), Some("lobby"));
        assert_eq!(m.body_bytes(), b"v=0\r\n");
        assert_eq!(m.content_length(), Some(5));
    }

    #[test]
    fn response_for_request_copies_8_2_6_2_headers() {
        let req = b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP p1;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP p2;branch=z9hG4bK2,\r\n SIP/2.0/UDP p3;branch=z9hG4bK3\r\nFrom: <sip:a@x>;tag=f\r\nTo: <sip:bob@example.com>\r\nCall-ID: c1\r\nCSeq: 7 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
        let req = Message::parse(Bytes::from_static(req)).unwrap();
        let mut buf = BytesMut::with_capacity(512);
        let mut w = req.response_writer(&mut buf, 180, "Ringing", Some("t1"));
        w.header(HeaderName::Contact, "<sip:bob@192.0.2.2>");
        w.finish().unwrap();
        let r = Message::parse(buf.split().freeze()).unwrap();
        r.validate().unwrap();
        assert_eq!(r.status(), Some(180));
        assert_eq!(
            r.vias()
                .map(|v| v.unwrap().branch.unwrap())
                .collect::<Vec<_>>(),
            ["z9hG4bK1", "z9hG4bK2", "z9hG4bK3"]
        );
        assert_eq!(r.to().unwrap().tag(), Some("t1"));
        assert_eq!(r.from().unwrap().tag(), Some("f"));
        assert_eq!(r.call_id(), Some("c1"));
        assert_eq!(r.method(), Method::Invite);
        assert_eq!(r.cseq().unwrap().seq, 7);

        // The buffer is reusable.
        let w = req.response_writer(&mut buf, 100, "Trying", None);
        w.finish().unwrap();
        let r = Message::parse(buf.split().freeze()).unwrap();
        assert_eq!(r.to().unwrap().tag(), None);
    }

    #[test]
    fn writer_refuses_injection() {
        let mut buf = BytesMut::new();
        let mut w = MessageWriter::request(&mut buf, "OPTIONS", "sip:a@b");
        w.header(HeaderName::Subject, "hi\r\nVia: evil");
        assert_eq!(w.finish().unwrap_err().kind, ErrorKind::WriteInvalid);
        assert!(buf.is_empty());
        let mut w = MessageWriter::request(&mut buf, "OPTIONS", "sip:a@b");
        w.header(HeaderName::Other("Bad Name"), "x");
        assert!(w.finish().is_err());
        let mut w = MessageWriter::request(&mut buf, "OPTIONS", "sip:a@b");
        w.header(HeaderName::ContentLength, "5");
        assert!(w.finish().is_err());
        assert!(
            MessageWriter::response(&mut buf, 1000, "x")
                .finish()
                .is_err()
        );
        let resp = Message::parse(Bytes::from_static(b"SIP/2.0 200 OK\r\nl: 0\r\n\r\n")).unwrap();
        assert_eq!(
            resp.response_writer(&mut buf, 200, "OK", None)
                .finish()
                .unwrap_err()
                .kind,
            ErrorKind::WriteNotRequest
        );
    }
}
