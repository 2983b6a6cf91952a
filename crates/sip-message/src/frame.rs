//! Stream framing for TCP/TLS/WS: where does the next message end? (RFC 3261 §18.3,
//! keep-alives RFC 5626 §3.5.1.)

use crate::error::{ErrorKind, ParseError};
use crate::lex::{is_ws, parse_u32};
use crate::message::Limits;

/// What the front of a stream buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// A complete message of this many bytes: `Message::parse(buf.split_to(n).freeze())`.
    Complete(usize),
    /// Not enough bytes yet; read more and call again with the grown buffer.
    NeedMore,
    /// This many bytes of CRLF keep-alive (a `CRLFCRLF` ping or a `CRLF` pong) to discard.
    KeepAlive(usize),
}

/// Frames the message at the front of `buf`.
///
/// Content-Length is mandatory on streams (RFC 3261 §18.3 MUST) and conflicting values are
/// unrecoverable (RFC 4475 §3.3.9): both are errors after which the connection should be
/// closed. Only the header section is scanned; [`crate::Message::parse`] does the rest.
pub fn frame(buf: &[u8], limits: &Limits) -> Result<Frame, ParseError> {
    if buf.is_empty() {
        return Ok(Frame::NeedMore);
    }
    if buf[0] == b'\r' || buf[0] == b'\n' {
        let mut n = buf
            .iter()
            .take_while(|&&c| c == b'\r' || c == b'\n')
            .count();
        if n == buf.len() && buf[n - 1] == b'\r' {
            // The LF of the last CRLF may be in the next read.
            n -= 1;
        }
        return Ok(if n == 0 {
            Frame::NeedMore
        } else {
            Frame::KeepAlive(n)
        });
    }
    let max = limits.max_message_size;
    let window = &buf[..buf.len().min(max)];
    let Some(head_end) = memchr::memmem::find(window, b"\r\n\r\n") else {
        if buf.len() >= max {
            return Err(ParseError::new(ErrorKind::TooLarge, max));
        }
        let last_nl = memchr::memrchr(b'\n', buf).map_or(0, |p| p + 1);
        if buf.len() - last_nl > limits.max_line_length {
            return Err(ParseError::new(ErrorKind::LineTooLong, last_nl));
        }
        return Ok(Frame::NeedMore);
    };
    let body_start = head_end + 4;
    let mut cl: Option<u32> = None;
    let mut pos = memchr::memchr(b'\n', &buf[..body_start]).map_or(body_start, |p| p + 1);
    let mut lines = 0usize;
    while pos < head_end + 2 {
        lines += 1;
        if lines > limits.max_headers {
            return Err(ParseError::new(ErrorKind::TooManyHeaders, pos));
        }
        // One logical line: up to a CRLF not followed by SP/HT.
        let mut le = pos;
        loop {
            let nl = memchr::memchr(b'\n', &buf[le..body_start]).map_or(body_start, |p| le + p);
            le = nl + 1;
            if le >= head_end + 2 || !(buf[le] == b' ' || buf[le] == b'\t') {
                break;
            }
        }
        let line = &buf[pos..le];
        if line.len() > limits.max_line_length {
            return Err(ParseError::new(ErrorKind::LineTooLong, pos));
        }
        if let Some(colon) = memchr::memchr(b':', line) {
            let mut name = &line[..colon];
            while name.last().is_some_and(|c| *c == b' ' || *c == b'\t') {
                name = &name[..name.len() - 1];
            }
            if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
                let v = &line[colon + 1..];
                let start = v.iter().position(|&c| !is_ws(c)).unwrap_or(v.len());
                let end = v.iter().rposition(|&c| !is_ws(c)).map_or(start, |p| p + 1);
                let n = std::str::from_utf8(&v[start..end.max(start)])
                    .ok()
                    .and_then(parse_u32)
                    .ok_or(ParseError::new(
                        ErrorKind::ContentLength,
                        pos + colon + 1 + start,
                    ))?;
                if cl.is_some_and(|old| old != n) {
                    return Err(ParseError::new(ErrorKind::ContentLengthConflict, pos));
                }
                cl = Some(n);
            }
        }
        pos = le;
    }
    let cl = cl.ok_or(ParseError::new(ErrorKind::ContentLengthMissing, head_end))? as usize;
    let total = body_start
        .checked_add(cl)
        .ok_or(ParseError::new(ErrorKind::TooLarge, head_end))?;
    if total > max {
        return Err(ParseError::new(ErrorKind::TooLarge, head_end));
    }
    Ok(if buf.len() >= total {
        Frame::Complete(total)
    } else {
        Frame::NeedMore
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] =
        b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nl: 4\r\n\r\nabcd";

    #[test]
    fn complete_needmore_keepalive() {
        let l = Limits::default();
        assert_eq!(frame(MSG, &l), Ok(Frame::Complete(MSG.len())));
        for cut in 0..MSG.len() {
            assert_eq!(frame(&MSG[..cut], &l), Ok(Frame::NeedMore), "cut {cut}");
        }
        let mut two = MSG.to_vec();
        two.extend_from_slice(MSG);
        assert_eq!(frame(&two, &l), Ok(Frame::Complete(MSG.len())));
        assert_eq!(frame(b"\r\n\r\nOPTIONS", &l), Ok(Frame::KeepAlive(4)));
        assert_eq!(frame(b"\r\n", &l), Ok(Frame::KeepAlive(2)));
        assert_eq!(frame(b"\r", &l), Ok(Frame::NeedMore));
        assert_eq!(frame(b"\r\n\r", &l), Ok(Frame::KeepAlive(2)));
    }

    #[test]
    fn folded_content_length() {
        let m = b"BYE sip:a@b SIP/2.0\r\nContent-Length:\r\n 2\r\n\r\nxy";
        assert_eq!(frame(m, &Limits::default()), Ok(Frame::Complete(m.len())));
    }

    #[test]
    fn stream_errors() {
        let l = Limits::default();
        let no_cl = b"BYE sip:a@b SIP/2.0\r\nVia: x\r\n\r\n";
        assert_eq!(
            frame(no_cl, &l).unwrap_err().kind,
            ErrorKind::ContentLengthMissing
        );
        let neg = b"BYE sip:a@b SIP/2.0\r\nContent-Length: -999\r\n\r\n";
        assert_eq!(frame(neg, &l).unwrap_err().kind, ErrorKind::ContentLength);
        let five = b"BYE sip:a@b SIP/2.0\r\nContent-Length: five\r\n\r\n";
        assert_eq!(frame(five, &l).unwrap_err().kind, ErrorKind::ContentLength);
        let conflict = b"BYE sip:a@b SIP/2.0\r\nContent-Length: 13\r\nl: 5\r\n\r\n";
        assert_eq!(
            frame(conflict, &l).unwrap_err().kind,
            ErrorKind::ContentLengthConflict
        );
        let small = Limits {
            max_message_size: 64,
            ..Limits::default()
        };
        let big = b"BYE sip:a@b SIP/2.0\r\nContent-Length: 1000\r\n\r\n";
        assert_eq!(frame(big, &small).unwrap_err().kind, ErrorKind::TooLarge);
        assert_eq!(
            frame(&[b'A'; 100], &small).unwrap_err().kind,
            ErrorKind::TooLarge
        );
        let short = Limits {
            max_line_length: 10,
            ..Limits::default()
        };
        assert_eq!(
            frame(&[b'A'; 20], &short).unwrap_err().kind,
            ErrorKind::LineTooLong
        );
        let few = Limits {
            max_headers: 1,
            ..Limits::default()
        };
        let m = b"BYE sip:a@b SIP/2.0\r\nA: 1\r\nB: 2\r\nl: 0\r\n\r\n";
        assert_eq!(frame(m, &few).unwrap_err().kind, ErrorKind::TooManyHeaders);
    }
}
