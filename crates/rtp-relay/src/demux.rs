//! Demultiplexing of one UDP port shared by several protocols.
//!
//! RFC 7983 §7 sorts a datagram by its first byte (STUN, ZRTP, DTLS, TURN channel,
//! RTP/RTCP); RFC 5761 §4 then separates RTCP from RTP on an rtcp-mux port by the second
//! byte: RTCP packet types 192..=223 look like RTP payload types 64..=95 with the marker bit
//! masked off, which is why those payload types must not be used for RTP under rtcp-mux.

/// What a datagram on a shared port is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketClass {
    /// STUN (first byte 0..=3).
    Stun,
    /// ZRTP (first byte 16..=19).
    Zrtp,
    /// DTLS (first byte 20..=63).
    Dtls,
    /// TURN ChannelData (first byte 64..=79).
    TurnChannel,
    /// RTP (first byte 128..=191, payload type outside 64..=95).
    Rtp,
    /// RTCP (first byte 128..=191, second byte 192..=223).
    Rtcp,
    /// Anything else; RFC 7983 says to drop it.
    Unknown,
}

/// Classifies a datagram received on an rtcp-mux port (RFC 7983 §7, RFC 5761 §4).
pub fn classify(buf: &[u8]) -> PacketClass {
    let Some(&b0) = buf.first() else {
        return PacketClass::Unknown;
    };
    match b0 {
        0..=3 => PacketClass::Stun,
        16..=19 => PacketClass::Zrtp,
        20..=63 => PacketClass::Dtls,
        64..=79 => PacketClass::TurnChannel,
        128..=191 => match buf.get(1) {
            Some(&b1) if (64..=95).contains(&(b1 & 0x7f)) => PacketClass::Rtcp,
            Some(_) => PacketClass::Rtp,
            None => PacketClass::Unknown,
        },
        _ => PacketClass::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_byte_ranges() {
        let table: &[(&[u8], PacketClass)] = &[
            (&[], PacketClass::Unknown),
            (&[0x00, 0x01], PacketClass::Stun),
            (&[0x03, 0x00], PacketClass::Stun),
            (&[4, 0], PacketClass::Unknown),
            (&[16, 0], PacketClass::Zrtp),
            (&[19, 0], PacketClass::Zrtp),
            (&[20, 0], PacketClass::Dtls),
            (&[22, 0xfe], PacketClass::Dtls),
            (&[63, 0], PacketClass::Dtls),
            (&[64, 0], PacketClass::TurnChannel),
            (&[79, 0], PacketClass::TurnChannel),
            (&[80, 0], PacketClass::Unknown),
            (&[127, 0], PacketClass::Unknown),
            (&[0x80], PacketClass::Unknown),
            (&[0x80, 0], PacketClass::Rtp),
            (&[0x80, 0x80], PacketClass::Rtp),
            (&[0x80, 8], PacketClass::Rtp),
            (&[0x80, 101], PacketClass::Rtp),
            (&[0x80, 63], PacketClass::Rtp),
            (&[0x80, 200], PacketClass::Rtcp),
            (&[0x81, 201], PacketClass::Rtcp),
            (&[0x80, 192], PacketClass::Rtcp),
            (&[0x80, 223], PacketClass::Rtcp),
            (&[0x80, 224], PacketClass::Rtp),
            // PT 64..=95 without marker is also treated as RTCP (RFC 5761 §4).
            (&[0x80, 72], PacketClass::Rtcp),
            (&[0xbf, 0], PacketClass::Rtp),
            (&[0xc0, 0], PacketClass::Unknown),
        ];
        for (buf, want) in table {
            assert_eq!(classify(buf), *want, "{buf:?}");
        }
    }
}
