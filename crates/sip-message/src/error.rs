//! The crate's one error type: a small `Copy` kind plus the byte offset where it was found.
//!
//! Hostile input must never allocate, so errors carry no strings.

/// Where and why parsing failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}")]
pub struct ParseError {
    /// What was wrong.
    pub kind: ErrorKind,
    /// Byte offset into the input where the problem was detected.
    pub offset: usize,
}

impl ParseError {
    /// Makes an error of `kind` at `offset`.
    pub const fn new(kind: ErrorKind, offset: usize) -> Self {
        Self { kind, offset }
    }
}

/// Why a message (or a part of it) was rejected.
///
/// Variants are grouped by layer; new variants are added inside their group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    // ---- SIP (start line, headers, framing, URIs, validation) ----
    /// The start line is neither a Request-Line nor a Status-Line.
    #[error("malformed start line")]
    StartLine,
    /// The input is empty (or only CRLFs).
    #[error("empty message")]
    Empty,
    /// The message is larger than `Limits::max_message_size` (RFC 3261 §21.5.14: 513).
    #[error("message too large")]
    TooLarge,
    /// More header fields than `Limits::max_headers`.
    #[error("too many header fields")]
    TooManyHeaders,
    /// More Via values than `Limits::max_vias`.
    #[error("too many Via values")]
    TooManyVias,
    /// A line is longer than `Limits::max_line_length`.
    #[error("line too long")]
    LineTooLong,
    /// The header section is not terminated by an empty line.
    #[error("unterminated header section")]
    Incomplete,
    /// A line ends in a bare LF or CR instead of CRLF.
    #[error("bare LF or CR in header section")]
    BareLineEnd,
    /// The header section is not valid UTF-8 (RFC 3261 §25: TEXT-UTF8).
    #[error("header section is not UTF-8")]
    NotUtf8,
    /// The Request-URI is malformed (RFC 3261 §25.1 Request-URI).
    #[error("malformed Request-URI")]
    RequestUri,
    /// The SIP-Version is malformed.
    #[error("malformed SIP version")]
    Version,
    /// The SIP-Version is well-formed but not SIP/2.0 (RFC 3261 §8.2.2 / 21.5.20: 505).
    #[error("unsupported SIP version")]
    UnsupportedVersion,
    /// The Status-Code is not three digits in 100..=699.
    #[error("malformed status code")]
    StatusCode,
    /// A header line is not `name: value` (bad field name or missing colon).
    #[error("malformed header line")]
    HeaderLine,
    /// A header value does not match the grammar of its header.
    #[error("malformed {0} header")]
    BadHeader(crate::HeaderName<'static>),
    /// A mandatory header is absent (RFC 3261 §8.1.1).
    #[error("missing {0} header")]
    MissingHeader(crate::HeaderName<'static>),
    /// A header that must appear once appears more than once (RFC 3261 §7.3.1).
    #[error("more than one {0} header")]
    DuplicateHeader(crate::HeaderName<'static>),
    /// Content-Length is not a non-negative decimal fitting in 32 bits.
    #[error("malformed Content-Length")]
    ContentLength,
    /// Several Content-Length headers disagree: the framing is unknowable.
    #[error("conflicting Content-Length values")]
    ContentLengthConflict,
    /// Content-Length is larger than the bytes that follow the header section.
    #[error("body shorter than Content-Length")]
    BodyTruncated,
    /// A stream-transport message has no Content-Length (RFC 3261 §18.3 MUST).
    #[error("missing Content-Length on a stream transport")]
    ContentLengthMissing,
    /// A URI is malformed (RFC 3261 §19.1, §25.1).
    #[error("malformed URI")]
    Uri,
    /// A host (domain name, IPv4 address or IPv6 reference, RFC 5118) is malformed.
    #[error("malformed host")]
    Host,
    /// A port is not a decimal in 0..=65535.
    #[error("malformed port")]
    Port,
    /// A `%` escape is not followed by two hex digits, or appears where escapes are illegal.
    #[error("malformed escape")]
    Escape,
    /// A quoted string is not terminated.
    #[error("unterminated quoted string")]
    QuotedString,
    /// A `;name=value` parameter is malformed.
    #[error("malformed parameter")]
    Param,
    /// The CSeq method differs from the request method (RFC 3261 §8.2.2 / 12.2.2).
    #[error("CSeq method does not match the request method")]
    CSeqMethodMismatch,
    /// The Request-URI of a request carries URI headers (`?...`), RFC 4475 §3.1.2.11.
    #[error("Request-URI carries URI headers")]
    RequestUriHeaders,
    /// The Request-URI scheme is not sip, sips or tel (RFC 3261 §8.2.2.1: 416).
    #[error("unsupported URI scheme")]
    UnsupportedUriScheme,
    /// Require names an option tag that is not supported (RFC 3261 §8.2.2.3: 420).
    #[error("unsupported extension required")]
    BadExtension,
    /// The request method is not implemented here (RFC 3261 §8.2.1: 501).
    #[error("method not implemented")]
    NotImplemented,
    /// Writer misuse: a header name is not a token, or a value contains CR or LF.
    #[error("invalid header name or value given to the writer")]
    WriteInvalid,
    /// Writer misuse: a response was requested for a message that is not a request.
    #[error("response requested for a message that is not a request")]
    WriteNotRequest,

    // ---- SDP (RFC 8866) ----
    /// An SDP line is not of the form `<type>=<value>`.
    #[error("malformed SDP line")]
    SdpLine,
    /// The SDP body is larger than `sdp::Limits::max_size`.
    #[error("SDP body too large")]
    SdpTooLarge,
    /// The SDP body is not UTF-8 (RFC 8866 §5; other `a=charset`s are not supported).
    #[error("SDP body is not UTF-8")]
    SdpNotUtf8,
    /// The first SDP line is not `v=` (RFC 8866 §5.1).
    #[error("SDP does not start with v=")]
    SdpMissingVersion,
    /// `v=` is not `0` (RFC 8866 §5.1).
    #[error("unsupported SDP version")]
    SdpVersion,
    /// No `o=` line in the session section (RFC 8866 §5.2).
    #[error("SDP has no o= line")]
    SdpMissingOrigin,
    /// No `s=` line in the session section (RFC 8866 §5.3).
    #[error("SDP has no s= line")]
    SdpMissingSessionName,
    /// A type letter RFC 8866 §5 does not define.
    #[error("unknown SDP line type")]
    SdpUnknownLineType,
    /// A line where RFC 8866 §5 does not allow it (e.g. `t=` after `m=`, `r=` without `t=`).
    #[error("SDP line out of order")]
    SdpLineOrder,
    /// A line that may appear once per section appears again.
    #[error("repeated SDP line")]
    SdpDuplicateLine,
    /// Malformed `o=` (RFC 8866 §5.2).
    #[error("malformed SDP origin")]
    SdpOrigin,
    /// Network type other than `IN` (RFC 8866 §5.7).
    #[error("unsupported SDP network type")]
    SdpNetType,
    /// Address type other than `IP4`/`IP6` (RFC 8866 §5.7).
    #[error("unsupported SDP address type")]
    SdpAddrType,
    /// Malformed address, or an IP literal of the other family than the address type.
    #[error("malformed SDP address")]
    SdpAddress,
    /// Malformed `c=` (RFC 8866 §5.7), including bad TTL or address count.
    #[error("malformed SDP connection")]
    SdpConnection,
    /// Malformed `m=` (RFC 8866 §5.14).
    #[error("malformed SDP media line")]
    SdpMedia,
    /// A port or port count is not a decimal in range.
    #[error("malformed SDP port")]
    SdpPort,
    /// An RTP payload type is not a decimal in 0..=127.
    #[error("malformed RTP payload type")]
    SdpPayloadType,
    /// More formats on an `m=` line than `sdp::Limits::max_formats`.
    #[error("too many SDP media formats")]
    SdpTooManyFormats,
    /// Malformed `b=` (RFC 8866 §5.8).
    #[error("malformed SDP bandwidth")]
    SdpBandwidth,
    /// Malformed `t=`, `r=` or `z=` (RFC 8866 §5.9–5.11).
    #[error("malformed SDP timing")]
    SdpTiming,
    /// Malformed `k=` (RFC 8866 §5.12).
    #[error("malformed SDP key")]
    SdpKey,
    /// An `a=` line whose name is not a token (RFC 8866 §5.13).
    #[error("malformed SDP attribute")]
    SdpAttribute,
    /// Malformed `a=rtpmap` (RFC 8866 §6.6).
    #[error("malformed rtpmap")]
    SdpRtpmap,
    /// Malformed `a=fmtp` (RFC 8866 §6.15).
    #[error("malformed fmtp")]
    SdpFmtp,
    /// Malformed `a=ptime` / `a=maxptime` (RFC 8866 §6.4, §6.5).
    #[error("malformed ptime")]
    SdpPtime,
    /// Malformed `a=rtcp` (RFC 3605).
    #[error("malformed rtcp attribute")]
    SdpRtcp,
    /// Malformed `a=ssrc` (RFC 5576).
    #[error("malformed ssrc attribute")]
    SdpSsrc,
    /// Malformed `a=extmap` (RFC 8285).
    #[error("malformed extmap")]
    SdpExtmap,
    /// Malformed `a=crypto` (RFC 4568).
    #[error("malformed crypto attribute")]
    SdpCrypto,
    /// Malformed `a=fingerprint` (RFC 8122).
    #[error("malformed fingerprint")]
    SdpFingerprint,
    /// Malformed `a=candidate` (RFC 8839).
    #[error("malformed ICE candidate")]
    SdpCandidate,
    /// Malformed `a=ice-ufrag`, `a=ice-pwd` or `a=ice-options` (RFC 8839).
    #[error("malformed ICE attribute")]
    SdpIce,
    /// Malformed `a=setup` (RFC 4145).
    #[error("malformed setup attribute")]
    SdpSetup,
    /// Malformed `a=mid` (RFC 5888).
    #[error("malformed mid")]
    SdpMid,
    /// Malformed `a=group` (RFC 5888).
    #[error("malformed group")]
    SdpGroup,
    /// Conflicting repeats of a once-per-section attribute, or two rtpmaps for one payload type.
    #[error("conflicting SDP attributes")]
    SdpDuplicateAttribute,
    /// More media sections than `sdp::Limits::max_media`.
    #[error("too many SDP media sections")]
    SdpTooManyMedia,
    /// More `a=` lines in one section than `sdp::Limits::max_attributes`.
    #[error("too many SDP attributes")]
    SdpTooManyAttributes,
    /// More repeatable non-attribute lines in one section than `sdp::Limits::max_lines`.
    #[error("too many SDP lines")]
    SdpTooManyLines,
}
