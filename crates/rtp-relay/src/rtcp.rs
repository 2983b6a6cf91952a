//! RTCP compound packets (RFC 3550 §6): validation, zero-copy views, writers and the
//! in-place SSRC translation the relay applies when it rewrites a stream.
//!
//! A datagram carries one *compound* packet: several RTCP packets back to back, each with a
//! 4-byte header whose length field counts 32-bit words minus one.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|    RC   |   PT=SR=200   |             length            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use crate::Error;
use crate::rtp::read_u32;

/// Sender report (RFC 3550 §6.4.1).
pub const PT_SR: u8 = 200;
/// Receiver report (RFC 3550 §6.4.2).
pub const PT_RR: u8 = 201;
/// Source description (RFC 3550 §6.5).
pub const PT_SDES: u8 = 202;
/// Goodbye (RFC 3550 §6.6).
pub const PT_BYE: u8 = 203;
/// Application-defined (RFC 3550 §6.7).
pub const PT_APP: u8 = 204;
/// Transport-layer feedback (RFC 4585 §6.1).
pub const PT_RTPFB: u8 = 205;
/// Payload-specific feedback (RFC 4585 §6.1).
pub const PT_PSFB: u8 = 206;

/// SDES item type CNAME (RFC 3550 §6.5.1).
pub const SDES_CNAME: u8 = 1;

const REPORT_BLOCK_LEN: usize = 24;

/// One RTCP packet inside a validated compound.
#[derive(Debug, Clone, Copy)]
pub struct RtcpPacket<'a> {
    /// The whole packet, header included, padding included.
    buf: &'a [u8],
    /// End of the body (start of padding).
    body_end: usize,
}

impl<'a> RtcpPacket<'a> {
    /// The 5-bit count field (reception report count, source count or APP subtype).
    pub fn count(&self) -> u8 {
        self.buf[0] & 0x1f
    }

    /// The P bit.
    pub fn has_padding(&self) -> bool {
        self.buf[0] & 0x20 != 0
    }

    /// The packet type (200 = SR, 201 = RR, …).
    pub fn packet_type(&self) -> u8 {
        self.buf[1]
    }

    /// The whole packet, header and padding included.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The body after the 4-byte header, without padding.
    pub fn body(&self) -> &'a [u8] {
        &self.buf[4..self.body_end]
    }

    /// A typed view of the packet; fails when the body does not fit its declared counts.
    pub fn view(&self) -> Result<RtcpView<'a>, Error> {
        let body = self.body();
        let count = usize::from(self.count());
        Ok(match self.packet_type() {
            PT_SR => {
                if body.len() < 24 + REPORT_BLOCK_LEN * count {
                    return Err(Error::MalformedRtcp);
                }
                RtcpView::SenderReport(SenderReport { body, count })
            }
            PT_RR => {
                if body.len() < 4 + REPORT_BLOCK_LEN * count {
                    return Err(Error::MalformedRtcp);
                }
                RtcpView::ReceiverReport(ReceiverReport { body, count })
            }
            PT_SDES => RtcpView::SourceDescription(Sdes { body, count }),
            PT_BYE => {
                if body.len() < 4 * count {
                    return Err(Error::MalformedRtcp);
                }
                RtcpView::Goodbye(Bye { body, count })
            }
            PT_APP => {
                if body.len() < 8 {
                    return Err(Error::MalformedRtcp);
                }
                RtcpView::App(App {
                    body,
                    subtype: self.count(),
                })
            }
            _ => RtcpView::Other(*self),
        })
    }
}

/// Typed view of one RTCP packet.
#[derive(Debug, Clone, Copy)]
pub enum RtcpView<'a> {
    /// SR.
    SenderReport(SenderReport<'a>),
    /// RR.
    ReceiverReport(ReceiverReport<'a>),
    /// SDES.
    SourceDescription(Sdes<'a>),
    /// BYE.
    Goodbye(Bye<'a>),
    /// APP.
    App(App<'a>),
    /// Any other type (feedback, XR, …), untyped.
    Other(RtcpPacket<'a>),
}

/// The sender-info part of an SR (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// NTP timestamp, 32.32 fixed point.
    pub ntp: u64,
    /// RTP timestamp corresponding to `ntp`.
    pub rtp_timestamp: u32,
    /// Packets sent.
    pub packet_count: u32,
    /// Payload octets sent.
    pub octet_count: u32,
}

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: u32,
    /// Fraction lost since the previous report, 8-bit fixed point.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed; negative with duplicates).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub highest_sequence: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the last SR's NTP timestamp.
    pub last_sr: u32,
    /// Delay since the last SR, 1/65536 s.
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    fn parse(b: &[u8]) -> Self {
        // Sign-extend the 24-bit cumulative loss.
        let lost = (i32::from_be_bytes([b[5], b[6], b[7], 0])) >> 8;
        Self {
            ssrc: read_u32(b, 0),
            fraction_lost: b[4],
            cumulative_lost: lost,
            highest_sequence: read_u32(b, 8),
            jitter: read_u32(b, 12),
            last_sr: read_u32(b, 16),
            delay_since_last_sr: read_u32(b, 20),
        }
    }

    fn write(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.ssrc.to_be_bytes());
        out[4] = self.fraction_lost;
        // Clamp to the 24-bit signed range (RFC 3550 §6.4.1).
        let lost = self.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff);
        out[5..8].copy_from_slice(&lost.to_be_bytes()[1..4]);
        out[8..12].copy_from_slice(&self.highest_sequence.to_be_bytes());
        out[12..16].copy_from_slice(&self.jitter.to_be_bytes());
        out[16..20].copy_from_slice(&self.last_sr.to_be_bytes());
        out[20..24].copy_from_slice(&self.delay_since_last_sr.to_be_bytes());
    }
}

fn blocks(body: &[u8], count: usize) -> impl ExactSizeIterator<Item = ReportBlock> + '_ {
    (0..count).map(move |i| ReportBlock::parse(&body[REPORT_BLOCK_LEN * i..]))
}

/// SR view.
#[derive(Debug, Clone, Copy)]
pub struct SenderReport<'a> {
    body: &'a [u8],
    count: usize,
}

impl<'a> SenderReport<'a> {
    /// SSRC of the sender.
    pub fn ssrc(&self) -> u32 {
        read_u32(self.body, 0)
    }

    /// The sender info.
    pub fn sender_info(&self) -> SenderInfo {
        SenderInfo {
            ntp: (u64::from(read_u32(self.body, 4)) << 32) | u64::from(read_u32(self.body, 8)),
            rtp_timestamp: read_u32(self.body, 12),
            packet_count: read_u32(self.body, 16),
            octet_count: read_u32(self.body, 20),
        }
    }

    /// The reception report blocks.
    pub fn reports(&self) -> impl ExactSizeIterator<Item = ReportBlock> + 'a {
        blocks(&self.body[24..], self.count)
    }
}

/// RR view.
#[derive(Debug, Clone, Copy)]
pub struct ReceiverReport<'a> {
    body: &'a [u8],
    count: usize,
}

impl<'a> ReceiverReport<'a> {
    /// SSRC of the packet's sender.
    pub fn ssrc(&self) -> u32 {
        read_u32(self.body, 0)
    }

    /// The reception report blocks.
    pub fn reports(&self) -> impl ExactSizeIterator<Item = ReportBlock> + 'a {
        blocks(&self.body[4..], self.count)
    }
}

/// SDES view: `count` chunks, each an SSRC followed by items.
#[derive(Debug, Clone, Copy)]
pub struct Sdes<'a> {
    body: &'a [u8],
    count: usize,
}

/// One SDES chunk.
#[derive(Debug, Clone, Copy)]
pub struct SdesChunk<'a> {
    /// The source described.
    pub ssrc: u32,
    items: &'a [u8],
}

impl<'a> Sdes<'a> {
    /// The chunks; an item list that runs past the body yields `Err` and ends the iteration.
    pub fn chunks(&self) -> impl Iterator<Item = Result<SdesChunk<'a>, Error>> + 'a {
        let mut rest = self.body;
        let mut left = self.count;
        std::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            left -= 1;
            match sdes_chunk_len(rest) {
                Some(len) => {
                    let chunk = SdesChunk {
                        ssrc: read_u32(rest, 0),
                        items: &rest[4..len],
                    };
                    rest = &rest[len..];
                    Some(Ok(chunk))
                }
                None => {
                    left = 0;
                    Some(Err(Error::MalformedRtcp))
                }
            }
        })
    }
}

impl<'a> SdesChunk<'a> {
    /// The items as `(type, value)`; stops at the terminating null item.
    pub fn items(&self) -> impl Iterator<Item = (u8, &'a [u8])> + 'a {
        let mut rest = self.items;
        std::iter::from_fn(move || {
            let (&kind, tail) = rest.split_first()?;
            if kind == 0 {
                return None;
            }
            let (&len, tail) = tail.split_first()?;
            let value = tail.get(..usize::from(len))?;
            rest = &tail[usize::from(len)..];
            Some((kind, value))
        })
    }

    /// The CNAME item, if present.
    pub fn cname(&self) -> Option<&'a [u8]> {
        self.items()
            .find(|(kind, _)| *kind == SDES_CNAME)
            .map(|(_, v)| v)
    }
}

/// Length of the SDES chunk at the start of `buf` (SSRC, items, null terminator, padding
/// to a 32-bit boundary, RFC 3550 §6.5), or `None` when it does not fit.
fn sdes_chunk_len(buf: &[u8]) -> Option<usize> {
    let mut at = 4;
    if buf.len() < at {
        return None;
    }
    loop {
        let kind = *buf.get(at)?;
        if kind == 0 {
            // The list ends with one or more null octets up to the next word boundary.
            let end = (at + 4) & !3;
            return if end <= buf.len() { Some(end) } else { None };
        }
        let len = usize::from(*buf.get(at + 1)?);
        at += 2 + len;
    }
}

/// BYE view.
#[derive(Debug, Clone, Copy)]
pub struct Bye<'a> {
    body: &'a [u8],
    count: usize,
}

impl<'a> Bye<'a> {
    /// The sources leaving.
    pub fn ssrcs(&self) -> impl ExactSizeIterator<Item = u32> + 'a {
        let body = self.body;
        (0..self.count).map(move |i| read_u32(body, 4 * i))
    }

    /// The optional reason text (RFC 3550 §6.6), when present and well-formed.
    pub fn reason(&self) -> Option<&'a [u8]> {
        let rest = &self.body[4 * self.count..];
        let (&len, text) = rest.split_first()?;
        text.get(..usize::from(len))
    }
}

/// APP view.
#[derive(Debug, Clone, Copy)]
pub struct App<'a> {
    body: &'a [u8],
    subtype: u8,
}

impl<'a> App<'a> {
    /// The 5-bit subtype.
    pub fn subtype(&self) -> u8 {
        self.subtype
    }

    /// SSRC/CSRC of the sender.
    pub fn ssrc(&self) -> u32 {
        read_u32(self.body, 0)
    }

    /// The four-character name.
    pub fn name(&self) -> [u8; 4] {
        [self.body[4], self.body[5], self.body[6], self.body[7]]
    }

    /// Application-dependent data.
    pub fn data(&self) -> &'a [u8] {
        &self.body[8..]
    }
}

/// A validated compound RTCP packet.
#[derive(Debug, Clone, Copy)]
pub struct RtcpCompound<'a> {
    buf: &'a [u8],
}

impl<'a> RtcpCompound<'a> {
    /// Validates `buf` per RFC 3550 A.2: every packet has version 2, the first is SR or RR,
    /// only the last may be padded, and the length fields add up to the datagram exactly.
    pub fn parse(buf: &'a [u8]) -> Result<Self, Error> {
        validate(buf, true)?;
        Ok(Self { buf })
    }

    /// As [`parse`](Self::parse) but accepts any RTCP type first, for peers that negotiated
    /// reduced-size RTCP (RFC 5506 §3.1, `a=rtcp-rsize`).
    pub fn parse_reduced_size(buf: &'a [u8]) -> Result<Self, Error> {
        validate(buf, false)?;
        Ok(Self { buf })
    }

    /// The whole datagram.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The packets, in order.
    pub fn packets(&self) -> impl Iterator<Item = RtcpPacket<'a>> + 'a {
        let mut rest = self.buf;
        std::iter::from_fn(move || {
            // Validation guarantees every header and length is in bounds; `get` keeps this
            // panic-free regardless.
            let words = u16::from_be_bytes([*rest.get(2)?, *rest.get(3)?]);
            let len = 4 * (usize::from(words) + 1);
            let buf = rest.get(..len)?;
            rest = &rest[len..];
            let body_end = if buf[0] & 0x20 != 0 {
                len - usize::from(buf[len - 1])
            } else {
                len
            };
            Some(RtcpPacket { buf, body_end })
        })
    }
}

fn validate(buf: &[u8], require_report_first: bool) -> Result<(), Error> {
    if buf.len() < 4 {
        return Err(Error::Truncated {
            len: buf.len(),
            need: 4,
        });
    }
    let mut at = 0;
    let mut first = true;
    while at < buf.len() {
        let hdr = buf.get(at..at + 4).ok_or(Error::BadLength)?;
        let version = hdr[0] >> 6;
        if version != 2 {
            return Err(Error::BadVersion(version));
        }
        let pt = hdr[1];
        if !(192..=223).contains(&pt) {
            return Err(Error::NotRtcp(pt));
        }
        if first && require_report_first && pt != PT_SR && pt != PT_RR {
            return Err(Error::FirstNotReport(pt));
        }
        let len = 4 * (usize::from(u16::from_be_bytes([hdr[2], hdr[3]])) + 1);
        let end = at + len;
        if end > buf.len() {
            return Err(Error::BadLength);
        }
        if hdr[0] & 0x20 != 0 {
            // RFC 3550 §6.4.1: padding "only on the last individual packet" of a compound.
            if end != buf.len() {
                return Err(Error::PaddingNotLast);
            }
            let pad = usize::from(buf[end - 1]);
            if pad == 0 || pad > len - 4 {
                return Err(Error::BadPadding);
            }
        }
        at = end;
        first = false;
    }
    Ok(())
}

/// Maps identifiers and counters of one direction when the relay forwards RTCP for a stream
/// it rewrites (RFC 3550 §7: a translator that changes SSRCs must change them in RTCP too).
pub trait Translate {
    /// Maps the SSRC of a packet's own sender (SR/RR sender, SDES chunk, BYE source).
    fn sender_ssrc(&self, ssrc: u32) -> u32;
    /// Maps the RTP timestamp of an SR whose sender SSRC was `ssrc` (before mapping).
    fn sender_timestamp(&self, ssrc: u32, ts: u32) -> u32;
    /// Maps the SSRC a report block (or feedback message) is about.
    fn report_ssrc(&self, ssrc: u32) -> u32;
    /// Maps the extended highest sequence number of a report about `ssrc` (before mapping).
    fn report_sequence(&self, ssrc: u32, seq: u32) -> u32;
}

/// Applies `t` to every SSRC, SR timestamp and report block of a compound in place.
///
/// `buf` must already be a valid compound ([`RtcpCompound::parse`]); packets whose bodies
/// do not fit their counts are left untouched.
pub fn translate_in_place(buf: &mut [u8], t: &impl Translate) {
    let mut at = 0;
    while at + 4 <= buf.len() {
        let len = 4 * (usize::from(u16::from_be_bytes([buf[at + 2], buf[at + 3]])) + 1);
        let Some(pkt) = buf.get_mut(at..at + len) else {
            return;
        };
        let pad = if pkt[0] & 0x20 != 0 {
            usize::from(pkt[len - 1])
        } else {
            0
        };
        let body_end = len.saturating_sub(pad).max(4);
        let count = usize::from(pkt[0] & 0x1f);
        let pt = pkt[1];
        let body = &mut pkt[4..body_end];
        match pt {
            PT_SR if body.len() >= 24 + REPORT_BLOCK_LEN * count => {
                let ssrc = read_u32(body, 0);
                put_u32(body, 0, t.sender_ssrc(ssrc));
                let ts = read_u32(body, 12);
                put_u32(body, 12, t.sender_timestamp(ssrc, ts));
                translate_blocks(&mut body[24..], count, t);
            }
            PT_RR if body.len() >= 4 + REPORT_BLOCK_LEN * count => {
                let ssrc = read_u32(body, 0);
                put_u32(body, 0, t.sender_ssrc(ssrc));
                translate_blocks(&mut body[4..], count, t);
            }
            PT_SDES => {
                let mut off = 0;
                for _ in 0..count {
                    let Some(clen) = sdes_chunk_len(&body[off..]) else {
                        break;
                    };
                    let ssrc = read_u32(body, off);
                    put_u32(body, off, t.sender_ssrc(ssrc));
                    off += clen;
                }
            }
            PT_BYE if body.len() >= 4 * count => {
                for i in 0..count {
                    let ssrc = read_u32(body, 4 * i);
                    put_u32(body, 4 * i, t.sender_ssrc(ssrc));
                }
            }
            PT_APP if body.len() >= 8 => {
                let ssrc = read_u32(body, 0);
                put_u32(body, 0, t.sender_ssrc(ssrc));
            }
            PT_RTPFB | PT_PSFB if body.len() >= 8 => {
                // RFC 4585 §6.1: packet sender SSRC, then the media source it is about.
                let ssrc = read_u32(body, 0);
                put_u32(body, 0, t.sender_ssrc(ssrc));
                let media = read_u32(body, 4);
                put_u32(body, 4, t.report_ssrc(media));
            }
            _ => {}
        }
        at += len;
    }
}

fn translate_blocks(blocks: &mut [u8], count: usize, t: &impl Translate) {
    for i in 0..count {
        let b = &mut blocks[REPORT_BLOCK_LEN * i..REPORT_BLOCK_LEN * (i + 1)];
        let ssrc = read_u32(b, 0);
        put_u32(b, 0, t.report_ssrc(ssrc));
        let seq = read_u32(b, 8);
        put_u32(b, 8, t.report_sequence(ssrc, seq));
    }
}

fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// Writes an RTCP header for a packet of `total` bytes (a multiple of 4).
fn write_header(out: &mut [u8], count: u8, pt: u8, total: usize) {
    out[0] = 0x80 | (count & 0x1f);
    out[1] = pt;
    let words = (total / 4 - 1) as u16;
    out[2..4].copy_from_slice(&words.to_be_bytes());
}

fn check_room(out: &[u8], need: usize) -> Result<(), Error> {
    if out.len() < need {
        Err(Error::BufferTooSmall {
            len: out.len(),
            need,
        })
    } else {
        Ok(())
    }
}

fn check_blocks(reports: &[ReportBlock]) -> Result<(), Error> {
    if reports.len() > 31 {
        Err(Error::InvalidArgument(
            "at most 31 report blocks per packet",
        ))
    } else {
        Ok(())
    }
}

/// Writes an RR (RFC 3550 §6.4.2) into `out`; returns its length.
pub fn write_receiver_report(
    out: &mut [u8],
    ssrc: u32,
    reports: &[ReportBlock],
) -> Result<usize, Error> {
    check_blocks(reports)?;
    let total = 8 + REPORT_BLOCK_LEN * reports.len();
    check_room(out, total)?;
    write_header(out, reports.len() as u8, PT_RR, total);
    put_u32(out, 4, ssrc);
    for (i, r) in reports.iter().enumerate() {
        r.write(&mut out[8 + REPORT_BLOCK_LEN * i..]);
    }
    Ok(total)
}

/// Writes an SR (RFC 3550 §6.4.1) into `out`; returns its length.
pub fn write_sender_report(
    out: &mut [u8],
    ssrc: u32,
    info: &SenderInfo,
    reports: &[ReportBlock],
) -> Result<usize, Error> {
    check_blocks(reports)?;
    let total = 28 + REPORT_BLOCK_LEN * reports.len();
    check_room(out, total)?;
    write_header(out, reports.len() as u8, PT_SR, total);
    put_u32(out, 4, ssrc);
    out[8..16].copy_from_slice(&info.ntp.to_be_bytes());
    put_u32(out, 16, info.rtp_timestamp);
    put_u32(out, 20, info.packet_count);
    put_u32(out, 24, info.octet_count);
    for (i, r) in reports.iter().enumerate() {
        r.write(&mut out[28 + REPORT_BLOCK_LEN * i..]);
    }
    Ok(total)
}

/// Writes an SDES packet with one chunk holding a CNAME (RFC 3550 §6.5.1); returns its
/// length. Appended after an SR/RR this makes the minimal compound §6.1 asks for.
pub fn write_sdes_cname(out: &mut [u8], ssrc: u32, cname: &[u8]) -> Result<usize, Error> {
    let clen = u8::try_from(cname.len())
        .map_err(|_| Error::InvalidArgument("CNAME longer than 255 octets"))?;
    // header + SSRC + type + len + value + at least one null, padded to 4.
    let total = (4 + 4 + 2 + cname.len() + 1 + 3) & !3;
    check_room(out, total)?;
    write_header(out, 1, PT_SDES, total);
    put_u32(out, 4, ssrc);
    out[8] = SDES_CNAME;
    out[9] = clen;
    out[10..10 + cname.len()].copy_from_slice(cname);
    out[10 + cname.len()..total].fill(0);
    Ok(total)
}

/// Writes a BYE for `ssrcs` (RFC 3550 §6.6) without a reason; returns its length.
pub fn write_bye(out: &mut [u8], ssrcs: &[u32]) -> Result<usize, Error> {
    if ssrcs.len() > 31 {
        return Err(Error::InvalidArgument("at most 31 sources per BYE"));
    }
    let total = 4 + 4 * ssrcs.len();
    check_room(out, total)?;
    write_header(out, ssrcs.len() as u8, PT_BYE, total);
    for (i, s) in ssrcs.iter().enumerate() {
        put_u32(out, 4 + 4 * i, *s);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rr(ssrc: u32, blocks: &[ReportBlock]) -> Vec<u8> {
        let mut out = vec![0u8; 8 + 24 * blocks.len()];
        let n = write_receiver_report(&mut out, ssrc, blocks).unwrap_or_else(|e| panic!("{e}"));
        out.truncate(n);
        out
    }

    fn sdes(ssrc: u32, cname: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; 300];
        let n = write_sdes_cname(&mut out, ssrc, cname).unwrap_or_else(|e| panic!("{e}"));
        out.truncate(n);
        out
    }

    fn block() -> ReportBlock {
        ReportBlock {
            ssrc: 0x1111,
            fraction_lost: 25,
            cumulative_lost: -3,
            highest_sequence: 0x0001_0005,
            jitter: 40,
            last_sr: 0xabcd,
            delay_since_last_sr: 65536,
        }
    }

    #[test]
    fn compound_rr_sdes_bye_round_trip() {
        let mut buf = rr(0xaaaa, &[block()]);
        buf.extend(sdes(0xaaaa, b"user@host"));
        let mut bye = vec![0u8; 8];
        let n = write_bye(&mut bye, &[0xaaaa]).unwrap_or_else(|e| panic!("{e}"));
        buf.extend(&bye[..n]);
        let c = RtcpCompound::parse(&buf).unwrap_or_else(|e| panic!("{e}"));
        let pkts: Vec<_> = c.packets().collect();
        assert_eq!(pkts.len(), 3);
        match pkts[0].view() {
            Ok(RtcpView::ReceiverReport(r)) => {
                assert_eq!(r.ssrc(), 0xaaaa);
                assert_eq!(r.reports().collect::<Vec<_>>(), vec![block()]);
            }
            other => panic!("{other:?}"),
        }
        match pkts[1].view() {
            Ok(RtcpView::SourceDescription(s)) => {
                let chunks: Vec<_> = s.chunks().collect();
                assert_eq!(chunks.len(), 1);
                let ch = chunks[0].clone().unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(ch.ssrc, 0xaaaa);
                assert_eq!(ch.cname(), Some(&b"user@host"[..]));
            }
            other => panic!("{other:?}"),
        }
        match pkts[2].view() {
            Ok(RtcpView::Goodbye(b)) => {
                assert_eq!(b.ssrcs().collect::<Vec<_>>(), vec![0xaaaa]);
                assert_eq!(b.reason(), None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sender_report_round_trip() {
        let info = SenderInfo {
            ntp: 0x0102_0304_0506_0708,
            rtp_timestamp: 160,
            packet_count: 3,
            octet_count: 480,
        };
        let mut out = [0u8; 52];
        let n =
            write_sender_report(&mut out, 7, &info, &[block()]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n, 52);
        let c = RtcpCompound::parse(&out).unwrap_or_else(|e| panic!("{e}"));
        let p = c.packets().next().unwrap_or_else(|| panic!("no packet"));
        match p.view() {
            Ok(RtcpView::SenderReport(sr)) => {
                assert_eq!(sr.ssrc(), 7);
                assert_eq!(sr.sender_info(), info);
                assert_eq!(sr.reports().next(), Some(block()));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn validation_table() {
        let good_rr = rr(1, &[]);
        let good_sdes = sdes(1, b"x");
        let cat = |parts: &[&[u8]]| parts.concat();

        let mut padded_first = good_rr.clone();
        padded_first[0] |= 0x20;
        let mut padded_last = good_sdes.clone();
        padded_last[0] |= 0x20;
        // SDES of "x": 4+4+2+1+1 = 12 bytes; the last byte is a null terminator, set the
        // padding count to 1 (the terminator counts as padding here only for validation).
        let last = padded_last.len() - 1;
        padded_last[last] = 1;
        let mut zero_pad = good_sdes.clone();
        zero_pad[0] |= 0x20;
        let mut long_pad = good_sdes.clone();
        long_pad[0] |= 0x20;
        long_pad[last] = 12;
        let mut v1 = good_rr.clone();
        v1[0] = 0x40;
        let mut second_v0 = good_sdes.clone();
        second_v0[0] &= 0x3f;
        let mut bad_len = good_rr.clone();
        bad_len[3] = 5;
        let mut rtp_pt = good_rr.clone();
        rtp_pt[1] = 96;

        let cases: Vec<(&str, Vec<u8>, Result<(), Error>)> = vec![
            ("RR alone", good_rr.clone(), Ok(())),
            ("RR + SDES", cat(&[&good_rr, &good_sdes]), Ok(())),
            (
                "SDES first",
                cat(&[&good_sdes, &good_rr]),
                Err(Error::FirstNotReport(202)),
            ),
            (
                "padding on first of two",
                cat(&[&padded_first, &good_sdes]),
                Err(Error::PaddingNotLast),
            ),
            ("padding on last", cat(&[&good_rr, &padded_last]), Ok(())),
            (
                "padding count zero",
                cat(&[&good_rr, &zero_pad]),
                Err(Error::BadPadding),
            ),
            (
                "padding longer than body",
                cat(&[&good_rr, &long_pad]),
                Err(Error::BadPadding),
            ),
            ("version 1", v1, Err(Error::BadVersion(1))),
            (
                "second packet version 0",
                cat(&[&good_rr, &second_v0]),
                Err(Error::BadVersion(0)),
            ),
            ("length past end", bad_len, Err(Error::BadLength)),
            (
                "trailing garbage",
                cat(&[&good_rr, &[0x80, 201]]),
                Err(Error::BadLength),
            ),
            ("RTP payload type", rtp_pt, Err(Error::NotRtcp(96))),
            (
                "three bytes",
                vec![0x80, 201, 0],
                Err(Error::Truncated { len: 3, need: 4 }),
            ),
        ];
        for (name, buf, want) in cases {
            assert_eq!(RtcpCompound::parse(&buf).map(|_| ()), want, "{name}");
        }
        // RFC 5506 reduced-size RTCP may start with any type.
        let sdes_first = cat(&[&good_sdes, &good_rr]);
        assert!(RtcpCompound::parse_reduced_size(&sdes_first).is_ok());
    }

    #[test]
    fn body_counts_are_checked() {
        // RR claiming two blocks in an 8-byte packet.
        let mut buf = rr(1, &[]);
        buf[0] |= 2;
        let c = RtcpCompound::parse(&buf).unwrap_or_else(|e| panic!("{e}"));
        let p = c.packets().next().unwrap_or_else(|| panic!("no packet"));
        assert!(matches!(p.view(), Err(Error::MalformedRtcp)));
        // SDES whose item runs past the body.
        let mut s = sdes(1, b"abc");
        s[9] = 200;
        let mut buf = rr(1, &[]);
        buf.extend(&s);
        let c = RtcpCompound::parse(&buf).unwrap_or_else(|e| panic!("{e}"));
        let p = c.packets().nth(1).unwrap_or_else(|| panic!("no packet"));
        match p.view() {
            Ok(RtcpView::SourceDescription(s)) => {
                assert!(matches!(s.chunks().next(), Some(Err(Error::MalformedRtcp))));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cumulative_lost_is_24_bit_signed() {
        for lost in [-0x80_0000, -1, 0, 1, 0x7f_ffff] {
            let b = ReportBlock {
                cumulative_lost: lost,
                ..block()
            };
            let buf = rr(1, &[b]);
            let c = RtcpCompound::parse(&buf).unwrap_or_else(|e| panic!("{e}"));
            match c.packets().next().map(|p| p.view()) {
                Some(Ok(RtcpView::ReceiverReport(r))) => {
                    assert_eq!(r.reports().next().map(|b| b.cumulative_lost), Some(lost));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    struct Shift;
    impl Translate for Shift {
        fn sender_ssrc(&self, ssrc: u32) -> u32 {
            ssrc + 1
        }
        fn sender_timestamp(&self, _ssrc: u32, ts: u32) -> u32 {
            ts + 1000
        }
        fn report_ssrc(&self, ssrc: u32) -> u32 {
            ssrc + 100
        }
        fn report_sequence(&self, _ssrc: u32, seq: u32) -> u32 {
            seq - 5
        }
    }

    #[test]
    fn translate_rewrites_every_identifier() {
        let info = SenderInfo {
            rtp_timestamp: 1,
            ..SenderInfo::default()
        };
        let mut buf = vec![0u8; 52];
        let n =
            write_sender_report(&mut buf, 10, &info, &[block()]).unwrap_or_else(|e| panic!("{e}"));
        buf.truncate(n);
        buf.extend(sdes(10, b"cn"));
        let mut bye = [0u8; 8];
        let n = write_bye(&mut bye, &[10]).unwrap_or_else(|e| panic!("{e}"));
        buf.extend(&bye[..n]);
        translate_in_place(&mut buf, &Shift);
        let c = RtcpCompound::parse(&buf).unwrap_or_else(|e| panic!("{e}"));
        let views: Vec<_> = c.packets().map(|p| p.view()).collect();
        match &views[0] {
            Ok(RtcpView::SenderReport(sr)) => {
                assert_eq!(sr.ssrc(), 11);
                assert_eq!(sr.sender_info().rtp_timestamp, 1001);
                let b = sr.reports().next().unwrap_or_else(|| panic!("no block"));
                assert_eq!(b.ssrc, 0x1111 + 100);
                assert_eq!(b.highest_sequence, 0x0001_0000);
            }
            other => panic!("{other:?}"),
        }
        match &views[1] {
            Ok(RtcpView::SourceDescription(s)) => {
                let ch = s.chunks().next().and_then(Result::ok);
                assert_eq!(ch.map(|c| c.ssrc), Some(11));
            }
            other => panic!("{other:?}"),
        }
        match &views[2] {
            Ok(RtcpView::Goodbye(b)) => assert_eq!(b.ssrcs().next(), Some(11)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn writers_check_room_and_limits() {
        let mut small = [0u8; 7];
        assert_eq!(
            write_receiver_report(&mut small, 1, &[]),
            Err(Error::BufferTooSmall { len: 7, need: 8 })
        );
        let many = [ReportBlock::default(); 32];
        let mut big = [0u8; 1024];
        assert!(matches!(
            write_receiver_report(&mut big, 1, &many),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            write_sdes_cname(&mut big, 1, &[b'a'; 256]),
            Err(Error::InvalidArgument(_))
        ));
        // CNAME lengths around the word boundary stay 32-bit aligned and valid.
        for len in 0..8 {
            let cname = vec![b'c'; len];
            let n = write_sdes_cname(&mut big, 1, &cname).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(n % 4, 0);
            let mut buf = rr(1, &[]);
            buf.extend(&big[..n]);
            let c = RtcpCompound::parse(&buf).unwrap_or_else(|e| panic!("{e}"));
            match c.packets().nth(1).map(|p| p.view()) {
                Some(Ok(RtcpView::SourceDescription(s))) => {
                    let ch = s.chunks().next().and_then(Result::ok);
                    assert_eq!(ch.and_then(|c| c.cname()), Some(&cname[..]));
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
