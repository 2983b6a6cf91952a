//! Writing the messages the core originates, into one reusable buffer (STYLE.md §3, "writing
//! is the mirror image": a builder over a `BytesMut`).

use std::fmt::Write as _;
use std::net::IpAddr;

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
        buf.put_slice(b"SIP/2.0 ");
        put_u32(buf, u32::from(status));
        buf.put_u8(b' ');
        buf.put_slice(reason.as_bytes());
        buf.put_slice(b"\r\n");
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
        self.buf.put_slice(b"Via: SIP/2.0/");
        self.buf.put_slice(transport.as_bytes());
        self.buf.put_u8(b' ');
        self.buf.put_slice(host.as_bytes());
        self.buf.put_u8(b':');
        put_u32(self.buf, u32::from(port));
        self.buf.put_slice(b";branch=");
        self.buf.put_slice(branch);
        self.buf.put_slice(b";rport\r\n");
        self
    }

    /// `CSeq: n METHOD`.
    pub(crate) fn cseq(&mut self, seq: u32, method: &str) -> &mut Self {
        self.buf.put_slice(b"CSeq: ");
        put_u32(self.buf, seq);
        self.buf.put_u8(b' ');
        self.buf.put_slice(method.as_bytes());
        self.buf.put_slice(b"\r\n");
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
        self.buf.put_slice(b"Content-Length: ");
        // Bodies come from the TU and are far below 4 GiB; saturate rather than wrap.
        put_u32(self.buf, u32::try_from(body.len()).unwrap_or(u32::MAX));
        self.buf.put_slice(b"\r\n\r\n");
        self.buf.put_slice(body);
        self.buf.split().freeze()
    }
}

/// Appends `n` in decimal (the hot path writes several numbers per message; `fmt` costs
/// far more than this).
pub(crate) fn put_u32(buf: &mut BytesMut, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.put_slice(&digits[i..]);
}

/// Appends an IP address as a Via `received` value (RFC 3261 §18.2.1; IPv6 without
/// brackets, RFC 5118 §4.5).
pub(crate) fn put_ip(buf: &mut BytesMut, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, o) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    buf.put_u8(b'.');
                }
                put_u32(buf, u32::from(o));
            }
        }
        IpAddr::V6(v6) => {
            let _ = write!(buf, "{v6}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_numbers_and_addresses() {
        let mut b = BytesMut::new();
        for n in [0, 7, 10, 65_535, u32::MAX] {
            b.clear();
            put_u32(&mut b, n);
            assert_eq!(&b[..], n.to_string().as_bytes());
        }
        for ip in ["192.0.2.255", "0.0.0.0", "2001:db8::1"] {
            b.clear();
            put_ip(&mut b, ip.parse().expect("ip"));
            assert_eq!(&b[..], ip.as_bytes());
        }
    }
}
