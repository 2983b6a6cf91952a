//! `message/sipfrag` bodies (RFC 3420) as REFER's implicit subscription uses them: each
//! NOTIFY carries the status line of the latest response to the request the REFER caused
//! (RFC 3515 §2.4.5), e.g. `SIP/2.0 180 Ringing`, then `SIP/2.0 200 OK`.
//!
//! Only the status line matters to the referrer; any header fields after it (a fragment may
//! carry some, RFC 3420 §2) are left alone.

use crate::error::{ErrorKind, ParseError};
use crate::scan::{self, Start};

/// The status line at the start of a `message/sipfrag` body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentStatus<'a> {
    /// The status code (100–699).
    pub code: u16,
    /// The reason phrase as sent (may be empty).
    pub reason: &'a [u8],
}

/// Reads the status line that starts a `message/sipfrag` body. The line ends at the first
/// line feed (CRLF, or a bare LF as some phones write) or at the end of the body (a fragment
/// that is only a status line may omit it); trailing white space is ignored. A NOTIFY's
/// body is read liberally: misreading it would turn a transfer that worked into a failure.
///
/// # Errors
/// [`ErrorKind::StartLine`] when the body does not start with a Status-Line (a request
/// fragment, or nothing); [`ErrorKind::StatusCode`] for a code outside 100–699 or not three
/// digits; [`ErrorKind::Version`] for a malformed SIP-Version. The offset points into `body`.
pub fn sipfrag_status(body: &[u8]) -> Result<FragmentStatus<'_>, ParseError> {
    let line = match body.iter().position(|&b| b == b'\n') {
        Some(end) => &body[..end],
        None => body,
    };
    let line = line.trim_ascii_end();
    if line.len() < 4 || !line[..4].eq_ignore_ascii_case(b"SIP/") {
        return Err(ParseError::new(ErrorKind::StartLine, 0));
    }
    match scan::start_line(line) {
        Ok(Start::Status { code, reason, .. }) => Ok(FragmentStatus { code, reason }),
        Ok(Start::Request { .. }) => Err(ParseError::new(ErrorKind::StartLine, 0)),
        Err(e) => Err(scan::locate(body, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_with_and_without_line_end_and_headers() {
        let s = sipfrag_status(b"SIP/2.0 200 OK\r\n").expect("200");
        assert_eq!((s.code, s.reason), (200, &b"OK"[..]));
        let s = sipfrag_status(b"SIP/2.0 180 Ringing").expect("no CRLF");
        assert_eq!((s.code, s.reason), (180, &b"Ringing"[..]));
        let s = sipfrag_status(b"SIP/2.0 486 Busy Here\r\nContent-Length: 0\r\n\r\n")
            .expect("with a header");
        assert_eq!((s.code, s.reason), (486, &b"Busy Here"[..]));
        // RFC 4475 §3.1.1.13: the reason may be empty and its SP absent.
        let s = sipfrag_status(b"SIP/2.0 603").expect("no reason");
        assert_eq!((s.code, s.reason), (603, &b""[..]));
        // Bare LF, trailing white space.
        let s = sipfrag_status(b"SIP/2.0 200\n").expect("bare LF");
        assert_eq!((s.code, s.reason), (200, &b""[..]));
        let s = sipfrag_status(b"SIP/2.0 180 Ringing \t\r\n").expect("trailing space");
        assert_eq!((s.code, s.reason), (180, &b"Ringing"[..]));
        // The version literal is case-insensitive (RFC 3261 §25.1).
        assert_eq!(
            sipfrag_status(b"sip/2.0 100 Trying").expect("case").code,
            100
        );
    }

    #[test]
    fn anything_else_is_a_clear_error() {
        let kind = |b: &[u8]| sipfrag_status(b).expect_err("refused").kind;
        assert_eq!(kind(b""), ErrorKind::StartLine);
        assert_eq!(kind(b"\r\n"), ErrorKind::StartLine);
        assert_eq!(
            kind(b"INVITE sip:bob@example.com SIP/2.0\r\n"),
            ErrorKind::StartLine
        );
        assert_eq!(kind(b"SIP/2.0 99 Low\r\n"), ErrorKind::StatusCode);
        assert_eq!(kind(b"SIP/2.0 700 High\r\n"), ErrorKind::StatusCode);
        assert_eq!(kind(b"SIP/2.0 2000 Long\r\n"), ErrorKind::StatusCode);
        assert_eq!(kind(b"SIP/2.0 20x OK\r\n"), ErrorKind::StatusCode);
        // "SIP/2.0200" is a well-formed version (1*DIGIT "." 1*DIGIT): the code is missing.
        assert_eq!(kind(b"SIP/2.0200 OK"), ErrorKind::StatusCode);
        assert_eq!(kind(b"SIP/x.y 200 OK\r\n"), ErrorKind::Version);
    }
}
