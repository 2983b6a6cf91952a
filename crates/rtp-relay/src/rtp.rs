//! Zero-copy RTP packet views (RFC 3550 §5.1) with the validity checks of RFC 3550 A.1.
//!
//! [`RtpPacket`] borrows a datagram (`&[u8]`, or a `Bytes` through deref) and never copies
//! it; [`RtpPacketMut`] borrows it mutably so the relay can rewrite SSRC, sequence number,
//! timestamp, payload type and marker in place before the datagram is sent on.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                           timestamp                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           synchronization source (SSRC) identifier            |
//! +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//! |            contributing source (CSRC) identifiers             |
//! |                             ....                              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use bytes::Bytes;

use crate::Error;

/// Length of the fixed RTP header (RFC 3550 §5.1).
pub const FIXED_HEADER_LEN: usize = 12;

/// Where the parts of a validated RTP packet lie; `Copy`, so it can be stored next to an
/// owned buffer (e.g. a `Bytes`) without borrowing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpLayout {
    /// Offset of the payload (after fixed header, CSRCs and extension).
    pub payload_start: usize,
    /// End of the payload (start of the padding, if any).
    pub payload_end: usize,
    /// Offset of the header extension's 4-byte header, when the X bit is set.
    pub extension: Option<usize>,
}

impl RtpLayout {
    /// Validates `buf` as an RTP packet and returns where its parts lie.
    ///
    /// Checks, per RFC 3550 A.1: version 2; the datagram holds the fixed header, `CC` CSRCs
    /// and (X bit) the whole extension; with the P bit, the last octet counts the padding,
    /// is non-zero and does not reach into the header. Payload type and SSRC are session
    /// checks left to the caller (the relay checks them per leg).
    pub fn parse(buf: &[u8]) -> Result<Self, Error> {
        let len = buf.len();
        if len < FIXED_HEADER_LEN {
            return Err(Error::Truncated {
                len,
                need: FIXED_HEADER_LEN,
            });
        }
        let b0 = buf[0];
        let version = b0 >> 6;
        if version != 2 {
            return Err(Error::BadVersion(version));
        }
        let cc = usize::from(b0 & 0x0f);
        let mut start = FIXED_HEADER_LEN + 4 * cc;
        if len < start {
            return Err(Error::Truncated { len, need: start });
        }
        let mut extension = None;
        if b0 & 0x10 != 0 {
            // RFC 3550 §5.3.1: a 16-bit profile field, then the length in 32-bit words
            // not counting the 4-byte extension header itself.
            let need = start + 4;
            if len < need {
                return Err(Error::Truncated { len, need });
            }
            let words = usize::from(u16::from_be_bytes([buf[start + 2], buf[start + 3]]));
            extension = Some(start);
            start = need + 4 * words;
            if len < start {
                return Err(Error::Truncated { len, need: start });
            }
        }
        let mut end = len;
        if b0 & 0x20 != 0 {
            // RFC 3550 §5.1: "The last octet of the padding contains a count of how many
            // padding octets should be ignored, including itself." A count of zero, or one
            // that eats into the header, makes the packet invalid (A.1).
            let pad = usize::from(buf[len - 1]);
            if pad == 0 || pad > len - start {
                return Err(Error::BadPadding);
            }
            end = len - pad;
        }
        Ok(Self {
            payload_start: start,
            payload_end: end,
            extension,
        })
    }
}

/// A borrowed, validated RTP packet.
#[derive(Debug, Clone, Copy)]
pub struct RtpPacket<'a> {
    buf: &'a [u8],
    layout: RtpLayout,
}

impl<'a> RtpPacket<'a> {
    /// Validates `buf` (see [`RtpLayout::parse`]) and returns a view over it.
    pub fn parse(buf: &'a [u8]) -> Result<Self, Error> {
        let layout = RtpLayout::parse(buf)?;
        Ok(Self { buf, layout })
    }

    /// Where the parts of the packet lie.
    pub fn layout(&self) -> RtpLayout {
        self.layout
    }

    /// The whole datagram.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The P bit.
    pub fn has_padding(&self) -> bool {
        self.buf[0] & 0x20 != 0
    }

    /// The M bit (for audio: first packet of a talkspurt, RFC 3551 §4.1).
    pub fn marker(&self) -> bool {
        self.buf[1] & 0x80 != 0
    }

    /// The payload type.
    pub fn payload_type(&self) -> u8 {
        self.buf[1] & 0x7f
    }

    /// The sequence number.
    pub fn sequence(&self) -> u16 {
        u16::from_be_bytes([self.buf[2], self.buf[3]])
    }

    /// The RTP timestamp.
    pub fn timestamp(&self) -> u32 {
        read_u32(self.buf, 4)
    }

    /// The synchronization source.
    pub fn ssrc(&self) -> u32 {
        read_u32(self.buf, 8)
    }

    /// The contributing sources.
    pub fn csrcs(&self) -> impl ExactSizeIterator<Item = u32> + 'a {
        let cc = usize::from(self.buf[0] & 0x0f);
        let buf = self.buf;
        (0..cc).map(move |i| read_u32(buf, FIXED_HEADER_LEN + 4 * i))
    }

    /// The header extension as `(profile, data)` (RFC 3550 §5.3.1), when the X bit is set.
    pub fn extension(&self) -> Option<(u16, &'a [u8])> {
        let at = self.layout.extension?;
        let profile = u16::from_be_bytes([self.buf[at], self.buf[at + 1]]);
        Some((profile, &self.buf[at + 4..self.layout.payload_start]))
    }

    /// The payload, without padding.
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.layout.payload_start..self.layout.payload_end]
    }

    /// Number of padding octets (0 without the P bit).
    pub fn padding_len(&self) -> usize {
        self.buf.len() - self.layout.payload_end
    }
}

/// A mutably borrowed, validated RTP packet whose header fields can be rewritten in place.
#[derive(Debug)]
pub struct RtpPacketMut<'a> {
    buf: &'a mut [u8],
    layout: RtpLayout,
}

impl<'a> RtpPacketMut<'a> {
    /// Validates `buf` (see [`RtpLayout::parse`]) and returns a mutable view over it.
    pub fn parse(buf: &'a mut [u8]) -> Result<Self, Error> {
        let layout = RtpLayout::parse(buf)?;
        Ok(Self { buf, layout })
    }

    /// A read-only view of the same packet.
    pub fn as_packet(&self) -> RtpPacket<'_> {
        RtpPacket {
            buf: self.buf,
            layout: self.layout,
        }
    }

    /// Sets the M bit.
    pub fn set_marker(&mut self, marker: bool) {
        self.buf[1] = (self.buf[1] & 0x7f) | if marker { 0x80 } else { 0 };
    }

    /// Sets the payload type (only the low 7 bits of `pt` are used).
    pub fn set_payload_type(&mut self, pt: u8) {
        self.buf[1] = (self.buf[1] & 0x80) | (pt & 0x7f);
    }

    /// Sets the sequence number.
    pub fn set_sequence(&mut self, seq: u16) {
        self.buf[2..4].copy_from_slice(&seq.to_be_bytes());
    }

    /// Sets the RTP timestamp.
    pub fn set_timestamp(&mut self, ts: u32) {
        self.buf[4..8].copy_from_slice(&ts.to_be_bytes());
    }

    /// Sets the SSRC.
    pub fn set_ssrc(&mut self, ssrc: u32) {
        self.buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
    }

    /// The payload, mutable (without padding).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.layout.payload_start..self.layout.payload_end]
    }
}

/// A validated RTP packet that owns its datagram as a [`Bytes`]: store or queue it (e.g. in
/// a playout buffer) and take the payload as a zero-copy `Bytes` slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpBytes {
    bytes: Bytes,
    layout: RtpLayout,
}

impl RtpBytes {
    /// Validates `bytes` (see [`RtpLayout::parse`]).
    pub fn parse(bytes: Bytes) -> Result<Self, Error> {
        let layout = RtpLayout::parse(&bytes)?;
        Ok(Self { bytes, layout })
    }

    /// A borrowed view for the header fields.
    pub fn packet(&self) -> RtpPacket<'_> {
        RtpPacket {
            buf: &self.bytes,
            layout: self.layout,
        }
    }

    /// The payload without padding, sharing the datagram's buffer.
    pub fn payload(&self) -> Bytes {
        self.bytes
            .slice(self.layout.payload_start..self.layout.payload_end)
    }

    /// The whole datagram.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }
}

/// Fields of an RTP header without CSRCs, extension or padding, for writing packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    /// M bit.
    pub marker: bool,
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// Sequence number.
    pub sequence: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// SSRC.
    pub ssrc: u32,
}

impl RtpHeader {
    /// Writes the header followed by `payload` into `out`; returns the packet length.
    pub fn write(&self, payload: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        let need = FIXED_HEADER_LEN + payload.len();
        if out.len() < need {
            return Err(Error::BufferTooSmall {
                len: out.len(),
                need,
            });
        }
        out[0] = 0x80;
        out[1] = (self.payload_type & 0x7f) | if self.marker { 0x80 } else { 0 };
        out[2..4].copy_from_slice(&self.sequence.to_be_bytes());
        out[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        out[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        out[FIXED_HEADER_LEN..need].copy_from_slice(payload);
        Ok(need)
    }
}

pub(crate) fn read_u32(buf: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

/// `a` is newer than `b` in 16-bit serial number arithmetic (RFC 1982 style, as RFC 3550
/// A.1 treats sequence numbers).
pub(crate) fn seq_newer(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(b0: u8, extra: &[u8]) -> Vec<u8> {
        let mut v = vec![
            b0, 0x00, 0x12, 0x34, 0, 0, 0x01, 0x00, 0xde, 0xad, 0xbe, 0xef,
        ];
        v.extend_from_slice(extra);
        v
    }

    #[test]
    fn validation_table() {
        struct Case {
            name: &'static str,
            buf: Vec<u8>,
            want: Result<(usize, usize), Error>,
        }
        let cases = vec![
            Case {
                name: "minimal, empty payload",
                buf: header(0x80, &[]),
                want: Ok((12, 12)),
            },
            Case {
                name: "payload",
                buf: header(0x80, &[1, 2, 3]),
                want: Ok((12, 15)),
            },
            Case {
                name: "too short",
                buf: vec![0x80; 11],
                want: Err(Error::Truncated { len: 11, need: 12 }),
            },
            Case {
                name: "version 1",
                buf: header(0x40, &[]),
                want: Err(Error::BadVersion(1)),
            },
            Case {
                name: "version 0 (STUN-like)",
                buf: header(0x00, &[]),
                want: Err(Error::BadVersion(0)),
            },
            Case {
                name: "two CSRCs",
                buf: header(0x82, &[0, 0, 0, 1, 0, 0, 0, 2, 9]),
                want: Ok((20, 21)),
            },
            Case {
                name: "CSRC count beyond datagram",
                buf: header(0x83, &[0, 0, 0, 1]),
                want: Err(Error::Truncated { len: 16, need: 24 }),
            },
            Case {
                name: "extension of one word",
                buf: header(0x90, &[0xbe, 0xde, 0, 1, 1, 2, 3, 4, 0xaa]),
                want: Ok((20, 21)),
            },
            Case {
                name: "extension header truncated",
                buf: header(0x90, &[0xbe, 0xde]),
                want: Err(Error::Truncated { len: 14, need: 16 }),
            },
            Case {
                name: "extension length beyond datagram",
                buf: header(0x90, &[0xbe, 0xde, 0, 2, 1, 2, 3, 4]),
                want: Err(Error::Truncated { len: 20, need: 24 }),
            },
            Case {
                name: "padding of 3",
                buf: header(0xa0, &[7, 7, 0, 0, 3]),
                want: Ok((12, 14)),
            },
            Case {
                name: "padding count zero",
                buf: header(0xa0, &[7, 0]),
                want: Err(Error::BadPadding),
            },
            Case {
                name: "padding reaching into header",
                buf: header(0xa0, &[7, 3]),
                want: Err(Error::BadPadding),
            },
            Case {
                name: "padding eats whole payload",
                buf: header(0xa0, &[0, 2]),
                want: Ok((12, 12)),
            },
            Case {
                name: "padding bit, no room after header",
                buf: header(0xa0, &[]),
                want: Err(Error::BadPadding),
            },
        ];
        for c in cases {
            let got = RtpLayout::parse(&c.buf).map(|l| (l.payload_start, l.payload_end));
            assert_eq!(got, c.want, "{}", c.name);
        }
    }

    #[test]
    fn accessors() {
        let buf = header(
            0x91,
            &[0, 0, 0, 7, 0x10, 0x00, 0, 1, 9, 9, 9, 9, 0x55, 0x66],
        );
        let mut buf = buf;
        buf[1] = 0x80 | 8;
        let p = RtpPacket::parse(&buf).unwrap_or_else(|e| panic!("{e}"));
        assert!(p.marker());
        assert_eq!(p.payload_type(), 8);
        assert_eq!(p.sequence(), 0x1234);
        assert_eq!(p.timestamp(), 0x100);
        assert_eq!(p.ssrc(), 0xdeadbeef);
        assert_eq!(p.csrcs().collect::<Vec<_>>(), vec![7]);
        assert_eq!(p.extension(), Some((0x1000, &[9u8, 9, 9, 9][..])));
        assert_eq!(p.payload(), &[0x55, 0x66]);
        assert_eq!(p.padding_len(), 0);
        assert!(!p.has_padding());
    }

    #[test]
    fn rewrite_in_place() {
        let mut buf = header(0xa0, &[1, 2, 3, 0, 0, 3]);
        let mut p = RtpPacketMut::parse(&mut buf).unwrap_or_else(|e| panic!("{e}"));
        p.set_ssrc(1);
        p.set_sequence(65535);
        p.set_timestamp(0xffff_fff0);
        p.set_payload_type(101);
        p.set_marker(true);
        p.payload_mut()[0] = 42;
        let r = p.as_packet();
        assert_eq!(
            (
                r.ssrc(),
                r.sequence(),
                r.timestamp(),
                r.payload_type(),
                r.marker()
            ),
            (1, 65535, 0xffff_fff0, 101, true)
        );
        assert_eq!(r.payload(), &[42, 2, 3]);
        assert_eq!(r.padding_len(), 3);
        p.set_marker(false);
        p.set_payload_type(0xff);
        assert_eq!(p.as_packet().payload_type(), 0x7f);
        assert!(!p.as_packet().marker());
    }

    #[test]
    fn header_write_round_trip() {
        let h = RtpHeader {
            marker: true,
            payload_type: 0,
            sequence: 7,
            timestamp: 160,
            ssrc: 99,
        };
        let mut out = [0u8; 20];
        let n = h
            .write(&[1, 2, 3, 4], &mut out)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n, 16);
        let p = RtpPacket::parse(&out[..n]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (
                p.marker(),
                p.payload_type(),
                p.sequence(),
                p.timestamp(),
                p.ssrc()
            ),
            (true, 0, 7, 160, 99)
        );
        assert_eq!(p.payload(), &[1, 2, 3, 4]);
        assert_eq!(
            h.write(&[0; 9], &mut out),
            Err(Error::BufferTooSmall { len: 20, need: 21 })
        );
    }

    #[test]
    fn owned_bytes_share_the_buffer() {
        let buf = Bytes::from(header(0xa0, &[1, 2, 3, 0, 2]));
        let p = RtpBytes::parse(buf.clone()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.packet().sequence(), 0x1234);
        let payload = p.payload();
        assert_eq!(&payload[..], &[1, 2, 3]);
        // Same allocation: the payload slice points into the datagram.
        assert_eq!(payload.as_ptr(), buf[12..].as_ptr());
        assert_eq!(p.into_bytes(), buf);
        assert_eq!(
            RtpBytes::parse(Bytes::from_static(&[0x80; 4])),
            Err(Error::Truncated { len: 4, need: 12 })
        );
    }

    #[test]
    fn serial_compare() {
        assert!(seq_newer(1, 0));
        assert!(seq_newer(0, 65535));
        assert!(!seq_newer(65535, 0));
        assert!(!seq_newer(5, 5));
    }
}
