//! The crate's one public error type.
//!
//! Variants are grouped by who is at fault: malformed packets from the peer (RTP, RTCP,
//! telephone-events), API misuse by the caller (unknown call, socket already bound, full
//! table, buffer too small) and codec problems. Packet variants carry no heap data so that
//! hostile input allocates nothing on the hot path.

/// Errors of the media core.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- RTP (peer input), RFC 3550 §5.1 and A.1
    /// The datagram is shorter than the structure it claims to contain.
    #[error("packet truncated: {len} bytes, need at least {need}")]
    Truncated {
        /// Bytes available.
        len: usize,
        /// Bytes the header fields require.
        need: usize,
    },
    /// The version field is not 2 (RFC 3550 §5.1).
    #[error("unsupported RTP/RTCP version {0}")]
    BadVersion(u8),
    /// The padding count is zero or reaches into the header (RFC 3550 §5.1, A.1).
    #[error("invalid padding")]
    BadPadding,

    // ---- RTCP (peer input), RFC 3550 §6.1 and A.2
    /// The first packet of a compound is not SR or RR (RFC 3550 §6.1).
    #[error("compound RTCP does not start with SR or RR (packet type {0})")]
    FirstNotReport(u8),
    /// A packet other than the last one of a compound has the padding bit set (RFC 3550 A.2).
    #[error("padding bit set on a packet that is not the last of the compound")]
    PaddingNotLast,
    /// The packet lengths do not add up to the datagram length (RFC 3550 A.2).
    #[error("RTCP length fields do not match the datagram")]
    BadLength,
    /// The packet type is not an RTCP type (RFC 3550 §12.1, RFC 5761 §4: 192..=223).
    #[error("not an RTCP packet type: {0}")]
    NotRtcp(u8),
    /// A report count or item list does not fit the packet body.
    #[error("RTCP packet body is malformed")]
    MalformedRtcp,

    // ---- telephone-events (peer input), RFC 4733 §2.3
    /// A telephone-event payload is shorter than 4 bytes.
    #[error("telephone-event payload too short")]
    ShortTelephoneEvent,

    // ---- API misuse by the caller
    /// The call handle does not name a live call (removed, or from another relay).
    #[error("unknown call")]
    UnknownCall,
    /// The socket id is already bound to a leg of another (or the same) call.
    #[error("socket {0} is already bound")]
    SocketInUse(u32),
    /// The socket id is larger than the configured table size.
    #[error("socket id {id} out of range (max {max})")]
    SocketOutOfRange {
        /// The offending id.
        id: u32,
        /// The configured number of sockets.
        max: u32,
    },
    /// The relay already holds its configured maximum number of calls.
    #[error("relay table is full ({0} calls)")]
    TableFull(usize),
    /// An output buffer is too small for the packet being written.
    #[error("output buffer too small: {len} bytes, need {need}")]
    BufferTooSmall {
        /// Bytes available.
        len: usize,
        /// Bytes needed.
        need: usize,
    },
    /// A value given by the caller is outside its allowed range.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// The leg has no remote address yet (nothing latched, none from SDP).
    #[error("the leg has no destination yet")]
    NoDestination,
    /// The DTMF sender queue is full.
    #[error("DTMF send queue is full")]
    DtmfQueueFull,

    // ---- codec
    /// libopus rejected a call (bad configuration, or an internal failure).
    #[error("opus: {function} failed: {code:?}")]
    Opus {
        /// The libopus function that failed.
        function: &'static str,
        /// The libopus error code (`OPUS_BAD_ARG` = -1 … `OPUS_ALLOC_FAIL` = -7,
        /// opus_defines.h).
        code: i32,
    },
    /// The G.722 codec failed (only possible when a buffer was sized wrongly).
    #[error("G.722 codec failed: {0:?}")]
    G722(audio_codec::CodecError),
    /// The sample rate is not one the codec layer supports (8000, 16000, 48000 Hz; Opus
    /// also 12000 and 24000).
    #[error("unsupported sample rate {0} Hz")]
    UnsupportedSampleRate(u32),
    /// The PCM frame has a length the encoder cannot encode (Opus takes 2.5, 5, 10, 20, 40
    /// or 60 ms; every codec here rejects more than 120 ms).
    #[error("{codec:?} cannot encode a frame of {len} samples")]
    BadFrameLength {
        /// The encoder's codec.
        codec: crate::codec::CodecKind,
        /// Samples given.
        len: usize,
    },
    /// A payload from the peer decodes to more than the largest frame we accept (120 ms).
    #[error("{codec:?} payload of {len} bytes is too long")]
    PayloadTooLong {
        /// The decoder's codec.
        codec: crate::codec::CodecKind,
        /// Payload length in bytes.
        len: usize,
    },
    /// The payload is not valid for its codec (e.g. a corrupt Opus packet).
    #[error("invalid {0:?} payload")]
    InvalidPayload(crate::codec::CodecKind),
}
