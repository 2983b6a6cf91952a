//! Writing the messages the core originates, into one reusable buffer (STYLE.md §3, "writing
//! is the mirror image": a builder over a `BytesMut`).

use std::fmt::Write as _;

use bytes::{BufMut as _, Bytes, BytesMut};

/// Default reason phrases (§21).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => match status / 100 {
            1 => "Session Progress",
            2 => "OK",
            3 => "Redirect",
            4 => "Request Failure",
            5 => "Server Failure",
            _ => "Global Failure",
        },
    }
}

/// A message being written into the endpoint's scratch buffer.
pub(crate) struct Writer<'a> {
    buf: &'a mut BytesMut,
}

impl<'a> Writer<'a> {
    /// Starts a request: `METHOD uri SIP/2.0`.
    pub(crate) fn request(buf: &'a mut BytesMut, method: &str, uri: &[u8]) -> Self {
        buf.clear();
        buf.reserve(1024);
        buf.put_slice(method.as_bytes());
        buf.put_u8(b' ');
        buf.put_slice(uri);
        buf.put_slice(b" SIP/2.0\r\n");
        Self { buf }
    }

    /// Starts a response: `SIP/2.0 code reason`.
    pub(crate) fn response(buf: &'a mut BytesMut, status: u16, reason: &str) -> Self {
        buf.clear();
        buf.reserve(1024);
        let _ = write!(buf, "SIP/2.0 {status} {reason}\r\n");
        Self { buf }
    }

    /// One header line.
    pub(crate) fn header(&mut self, name: &str, value: &[u8]) -> &mut Self {
        self.buf.put_slice(name.as_bytes());
        self.buf.put_slice(b": ");
        self.buf.put_slice(value);
        self.buf.put_slice(b"\r\n");
        self
    }

    /// A header whose value is given in pieces.
    pub(crate) fn header_parts(&mut self, name: &str, parts: &[&[u8]]) -> &mut Self {
        self.buf.put_slice(name.as_bytes());
        self.buf.put_slice(b": ");
        for p in parts {
            self.buf.put_slice(p);
        }
        self.buf.put_slice(b"\r\n");
        self
    }

    /// Our own Via: `SIP/2.0/<T> host:port;branch=…;rport` (RFC 3581 §3: ask for rport).
    pub(crate) fn via(
        &mut self,
        transport: &str,
        host: &str,
        port: u16,
        branch: &[u8],
    ) -> &mut Self {
        let _ = write!(self.buf, "Via: SIP/2.0/{transport} {host}:{port};branch=");
        self.buf.put_slice(branch);
        self.buf.put_slice(b";rport\r\n");
        self
    }

    /// `CSeq: n METHOD`.
    pub(crate) fn cseq(&mut self, seq: u32, method: &str) -> &mut Self {
        let _ = write!(self.buf, "CSeq: {seq} {method}\r\n");
        self
    }

    /// Ends the headers and appends the body (always with Content-Length, §20.14: MUST on
    /// stream transports and harmless on UDP).
    pub(crate) fn finish(self, content_type: Option<&str>, body: &[u8]) -> Bytes {
        if let Some(ct) = content_type {
            if !body.is_empty() {
                self.buf.put_slice(b"Content-Type: ");
                self.buf.put_slice(ct.as_bytes());
                self.buf.put_slice(b"\r\n");
            }
        }
        let _ = write!(self.buf, "Content-Length: {}\r\n\r\n", body.len());
        self.buf.put_slice(body);
        self.buf.split().freeze()
    }
}
