//! SSRC / sequence / timestamp rewriting of one output stream, and the matching RTCP
//! translation.
//!
//! The far end must see one continuous stream even when the source behind the relay
//! changes (a transfer, a media server taking over, a re-INVITE to another endpoint). Like
//! an RFC 3550 §7 translator, the rewriter keeps the output SSRC of the first source and, on
//! every source change, offsets the new source's sequence numbers to continue from the last
//! one sent and its timestamps to continue from the last timestamp plus the wall-clock gap
//! (from `now`) in clock units, so jitter buffers and RFC 3550 A.1 validity checks on the
//! far end see neither a jump nor a restart. The first packet after a change carries the
//! marker bit, which for audio announces a new talkspurt (RFC 3551 §4.1) and lets the far
//! end's jitter buffer resynchronise.

use std::time::Instant;

use crate::rtcp::Translate;
use crate::rtp::{read_u32, seq_newer};
use crate::stats::instant_to_units;

/// How packets sent out of a leg are rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rewrite {
    /// Never touch SSRC, sequence or timestamp: the far end sees every source change.
    Off,
    /// Keep the first source's SSRC, sequence and timestamp untouched (pass-through) and
    /// rewrite only after a source change, to continue that stream seamlessly.
    OnSourceChange,
    /// Always send with this SSRC (chosen by the caller from its seeded RNG); sequence and
    /// timestamp continue as with `OnSourceChange`.
    Fixed {
        /// The output SSRC.
        ssrc: u32,
    },
}

/// Input-to-output mapping of one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mapping {
    in_ssrc: u32,
    out_ssrc: u32,
    seq_offset: u16,
    ts_offset: u32,
}

impl Mapping {
    fn is_identity(&self) -> bool {
        self.in_ssrc == self.out_ssrc && self.seq_offset == 0 && self.ts_offset == 0
    }
}

/// A source change seen by the rewriter: `(previous input SSRC, new input SSRC)`.
pub(crate) type SourceChange = (u32, u32);

/// A frame's header fields on the output stream ([`Rewriter::map`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MappedHeader {
    /// Output SSRC.
    pub ssrc: u32,
    /// Output sequence number.
    pub sequence: u16,
    /// Output timestamp.
    pub timestamp: u32,
    /// The frame must carry the marker bit (the first after a source change), whatever its
    /// own marker.
    pub marker: bool,
}

/// Rewriting state of one output stream.
#[derive(Debug, Clone)]
pub struct Rewriter {
    mode: Rewrite,
    pt_map: [u8; 128],
    pt_identity: bool,
    current: Option<Mapping>,
    /// The source before the last change, so its late (reordered) packets are still mapped
    /// into its old range instead of counting as a change back.
    previous: Option<Mapping>,
    last_seq: u16,
    last_ts: u32,
    last_at: Option<Instant>,
    mark_next: bool,
}

impl Rewriter {
    /// A rewriter in `mode` that also renumbers payload types by `pt_map` (`(in, out)`).
    #[must_use]
    pub fn new(mode: Rewrite, pt_map: &[(u8, u8)]) -> Self {
        let mut map = [0u8; 128];
        for (i, slot) in map.iter_mut().enumerate() {
            *slot = i as u8;
        }
        for &(from, to) in pt_map {
            map[usize::from(from & 0x7f)] = to & 0x7f;
        }
        let pt_identity = map.iter().enumerate().all(|(i, &v)| usize::from(v) == i);
        Self {
            mode,
            pt_map: map,
            pt_identity,
            current: None,
            previous: None,
            last_seq: 0,
            last_ts: 0,
            last_at: None,
            mark_next: false,
        }
    }

    /// Rewrites a validated RTP packet in place. `clock_rate` is the clock of the incoming
    /// stream, used to turn the wall-clock gap at a source change into timestamp units.
    pub(crate) fn apply(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        clock_rate: u32,
    ) -> Option<SourceChange> {
        if !self.pt_identity {
            let pt = usize::from(buf[1] & 0x7f);
            buf[1] = (buf[1] & 0x80) | self.pt_map[pt];
        }
        if self.mode == Rewrite::Off {
            return None;
        }
        let ssrc = read_u32(buf, 8);
        let seq = u16::from_be_bytes([buf[2], buf[3]]);
        let ts = read_u32(buf, 4);
        let (map, mark, change) = self.step(now, ssrc, seq, ts, clock_rate);
        write(buf, &map, seq, ts);
        if mark {
            buf[1] |= 0x80;
        }
        change
    }

    /// The same rewriting for a stream carried as frames rather than RTP packets (a gateway
    /// feeding audio frames to a room session from successive sources: a tone, then the
    /// phone): maps one frame's SSRC, sequence number and timestamp onto the output stream.
    pub fn map(
        &mut self,
        now: Instant,
        ssrc: u32,
        sequence: u16,
        timestamp: u32,
        clock_rate: u32,
    ) -> MappedHeader {
        if self.mode == Rewrite::Off {
            return MappedHeader {
                ssrc,
                sequence,
                timestamp,
                marker: false,
            };
        }
        let (m, marker, _) = self.step(now, ssrc, sequence, timestamp, clock_rate);
        MappedHeader {
            ssrc: m.out_ssrc,
            sequence: sequence.wrapping_add(m.seq_offset),
            timestamp: timestamp.wrapping_add(m.ts_offset),
            marker,
        }
    }

    /// The mapping of one input packet, whether it must carry the marker bit, and the source
    /// change it made; tracks the output position.
    fn step(
        &mut self,
        now: Instant,
        ssrc: u32,
        seq: u16,
        ts: u32,
        clock_rate: u32,
    ) -> (Mapping, bool, Option<SourceChange>) {
        let mut change = None;
        let map = match self.current {
            Some(m) if m.in_ssrc == ssrc => m,
            Some(m) => {
                if let Some(p) = self.previous.filter(|p| p.in_ssrc == ssrc) {
                    // A straggler of the previous source: if its mapped sequence number is
                    // not ahead of what was sent, it is a late packet, not a switch back.
                    if !seq_newer(seq.wrapping_add(p.seq_offset), self.last_seq) {
                        return (p, false, None);
                    }
                }
                let next_seq = self.last_seq.wrapping_add(1);
                let gap = self
                    .last_at
                    .map_or(0, |t| instant_to_units(t, now, clock_rate))
                    .max(1);
                let out_ts = self.last_ts.wrapping_add(gap);
                let new = Mapping {
                    in_ssrc: ssrc,
                    out_ssrc: m.out_ssrc,
                    seq_offset: next_seq.wrapping_sub(seq),
                    ts_offset: out_ts.wrapping_sub(ts),
                };
                self.previous = Some(m);
                self.current = Some(new);
                self.mark_next = true;
                change = Some((m.in_ssrc, ssrc));
                new
            }
            None => {
                let out_ssrc = match self.mode {
                    Rewrite::Fixed { ssrc: out } => out,
                    Rewrite::Off | Rewrite::OnSourceChange => ssrc,
                };
                let m = Mapping {
                    in_ssrc: ssrc,
                    out_ssrc,
                    seq_offset: 0,
                    ts_offset: 0,
                };
                self.current = Some(m);
                self.last_seq = seq.wrapping_sub(1);
                m
            }
        };
        let out_seq = seq.wrapping_add(map.seq_offset);
        let out_ts = ts.wrapping_add(map.ts_offset);
        let mark = std::mem::take(&mut self.mark_next);
        if seq_newer(out_seq, self.last_seq) {
            self.last_seq = out_seq;
            self.last_ts = out_ts;
            self.last_at = Some(now);
        }
        (map, mark, change)
    }

    /// Handles a packet that is *not* sent (the leg is muted): source tracking goes on as
    /// for a sent packet, but its sequence number is given back, so the far end sees no gap
    /// when sending resumes.
    pub(crate) fn skip(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        clock_rate: u32,
    ) -> Option<SourceChange> {
        let before = self.last_seq;
        let had_stream = self.current.is_some();
        let change = self.apply(now, buf, clock_rate);
        let advanced = !had_stream || seq_newer(self.last_seq, before);
        if self.mode != Rewrite::Off && advanced {
            self.last_seq = self.last_seq.wrapping_sub(1);
            if let Some(m) = &mut self.current {
                m.seq_offset = m.seq_offset.wrapping_sub(1);
            }
        }
        change
    }

    /// Stamps a packet the caller originates (e.g. DTMF) into the output stream: output SSRC
    /// and the next sequence number, timestamp untouched (the caller takes it from
    /// `Relay::output_clock`). The forwarded stream is shifted to continue
    /// after it. Returns `false` with `Rewrite::Off`, where no continuity is kept.
    pub(crate) fn inject(&mut self, now: Instant, buf: &mut [u8], clock_rate: u32) -> bool {
        if self.mode == Rewrite::Off {
            return false;
        }
        let Some(m) = &mut self.current else {
            // Nothing forwarded yet: the injected packet starts the stream, and the first
            // forwarded source will be a source change continuing it.
            let _ = self.apply(now, buf, clock_rate);
            return true;
        };
        let seq = self.last_seq.wrapping_add(1);
        buf[2..4].copy_from_slice(&seq.to_be_bytes());
        buf[8..12].copy_from_slice(&m.out_ssrc.to_be_bytes());
        m.seq_offset = m.seq_offset.wrapping_add(1);
        self.last_seq = seq;
        true
    }

    /// Marks the next forwarded packet (a talkspurt restarts after a pause, RFC 3551 §4.1).
    pub(crate) fn mark_next(&mut self) {
        self.mark_next = true;
    }

    /// Where the output stream stands: `(ssrc, last sequence, last timestamp, sent at)`.
    pub(crate) fn position(&self) -> Option<(u32, u16, u32, Instant)> {
        let m = self.current?;
        Some((m.out_ssrc, self.last_seq, self.last_ts, self.last_at?))
    }

    /// The SSRC the far end sees, once a packet went out (not tracked with `Rewrite::Off`).
    pub(crate) fn output_ssrc(&self) -> Option<u32> {
        self.current.map(|m| m.out_ssrc)
    }

    /// Whether RTCP for this stream can pass untouched.
    pub(crate) fn is_identity(&self) -> bool {
        self.current.is_none_or(|m| m.is_identity()) && self.previous.is_none()
    }

    fn mapping_for_input(&self, ssrc: u32) -> Option<&Mapping> {
        [self.current.as_ref(), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|m| m.in_ssrc == ssrc)
    }
}

/// Writes the mapped header fields (skipped for an identity mapping: pass-through writes
/// nothing); returns the output sequence number and timestamp.
fn write(buf: &mut [u8], m: &Mapping, seq: u16, ts: u32) -> (u16, u32) {
    let out_seq = seq.wrapping_add(m.seq_offset);
    let out_ts = ts.wrapping_add(m.ts_offset);
    if !m.is_identity() {
        buf[2..4].copy_from_slice(&out_seq.to_be_bytes());
        buf[4..8].copy_from_slice(&out_ts.to_be_bytes());
        buf[8..12].copy_from_slice(&m.out_ssrc.to_be_bytes());
    }
    (out_seq, out_ts)
}

/// RTCP translation for a compound travelling in the same direction as `forward`'s stream.
///
/// The compound's own sender is the source of the forward stream, so its SSRC, SR
/// timestamp and SDES/BYE SSRCs map like that stream. Its report blocks describe the
/// stream it receives, which is the *reverse* stream after our rewriting: the far end
/// knows that stream by its output SSRC, so map back to the input SSRC and sequence space.
pub(crate) struct RtcpMap<'a> {
    pub(crate) forward: &'a Rewriter,
    pub(crate) reverse: &'a Rewriter,
}

impl RtcpMap<'_> {
    pub(crate) fn is_identity(&self) -> bool {
        self.forward.is_identity() && self.reverse.is_identity()
    }
}

impl Translate for RtcpMap<'_> {
    fn sender_ssrc(&self, ssrc: u32) -> u32 {
        self.forward
            .mapping_for_input(ssrc)
            .map_or(ssrc, |m| m.out_ssrc)
    }

    fn sender_timestamp(&self, ssrc: u32, ts: u32) -> u32 {
        self.forward
            .mapping_for_input(ssrc)
            .map_or(ts, |m| ts.wrapping_add(m.ts_offset))
    }

    fn report_ssrc(&self, ssrc: u32) -> u32 {
        match self.reverse.current {
            Some(m) if m.out_ssrc == ssrc => m.in_ssrc,
            _ => ssrc,
        }
    }

    fn report_sequence(&self, ssrc: u32, seq: u32) -> u32 {
        match self.reverse.current {
            Some(m) if m.out_ssrc == ssrc => {
                let low = (seq as u16).wrapping_sub(m.seq_offset);
                (seq & 0xffff_0000) | u32::from(low)
            }
            _ => seq,
        }
    }
}
