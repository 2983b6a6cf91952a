//! RFC 4733 telephone-events (DTMF over RTP): payload format, a receiver that reports each
//! digit exactly once, and a sender that produces the packet sequence for a digit.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     event     |E|R| volume    |          duration             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! An event is identified by its RTP timestamp (the event onset, RFC 4733 §2.3.3): every
//! packet of one event, including the retransmitted end packets, carries the same
//! timestamp; two presses of the same digit differ in timestamp.
//!
//! The sender, [`DtmfSender`], lives in its own file and is re-exported here.

mod sender;

use std::collections::VecDeque;

pub use sender::{DtmfPacket, DtmfSender, DtmfSenderConfig};

use crate::Error;

/// Largest value of the 16-bit duration field; longer events are sent in segments
/// (RFC 4733 §2.5.1.3).
pub const MAX_SEGMENT_DURATION: u32 = 0xffff;

/// One telephone-event payload block (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code (0–9, 10 = `*`, 11 = `#`, 12–15 = A–D for DTMF; §3.2).
    pub event: u8,
    /// E bit: this packet reports the end of the event.
    pub end: bool,
    /// Power level in −dBm0, 0..=63 (§2.3.4).
    pub volume: u8,
    /// Duration so far, in timestamp units (§2.3.5).
    pub duration: u16,
}

impl TelephoneEvent {
    /// Reads the first event block of a payload. (Several blocks in one packet, §2.5.1.5,
    /// only occur with redundancy; the first block is the current event.)
    pub fn parse(payload: &[u8]) -> Result<Self, Error> {
        let b = payload.get(..4).ok_or(Error::ShortTelephoneEvent)?;
        Ok(Self {
            event: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3f,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }

    /// The 4-byte payload; the R bit is always written as zero (§2.3.2).
    pub fn to_bytes(&self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            (self.volume & 0x3f) | if self.end { 0x80 } else { 0 },
            d[0],
            d[1],
        ]
    }
}

/// The DTMF character for an event code (§3.2), or `None` for non-DTMF events.
pub fn digit_for_event(event: u8) -> Option<char> {
    Some(match event {
        0..=9 => char::from(b'0' + event),
        10 => '*',
        11 => '#',
        12..=15 => char::from(b'A' + event - 12),
        _ => return None,
    })
}

/// The event code for a DTMF character (`0-9 * # A-D`, case-insensitive).
pub fn event_for_digit(digit: char) -> Option<u8> {
    Some(match digit {
        '0'..='9' => digit as u8 - b'0',
        '*' => 10,
        '#' => 11,
        'A'..='D' => digit as u8 - b'A' + 12,
        'a'..='d' => digit as u8 - b'a' + 12,
        _ => return None,
    })
}

/// What the receiver reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfEvent {
    /// A new event began (reported once, on the first packet seen of it, even if its
    /// start packet was lost).
    Began {
        /// Event code.
        event: u8,
        /// RTP timestamp of the event onset.
        timestamp: u32,
    },
    /// The event ended (reported once). `duration` spans all segments; when every end
    /// packet was lost it is the longest duration seen, reported when the next event starts.
    Ended {
        /// Event code.
        event: u8,
        /// RTP timestamp of the event onset.
        timestamp: u32,
        /// Total duration in timestamp units.
        duration: u32,
    },
}

impl DtmfEvent {
    /// The DTMF character of the event, if it is a DTMF event.
    pub fn digit(&self) -> Option<char> {
        match self {
            Self::Began { event, .. } | Self::Ended { event, .. } => digit_for_event(*event),
        }
    }
}

/// How many finished event timestamps the receiver remembers to recognise late packets.
const RECENT: usize = 8;
/// At most this many events are produced per packet (an end for the previous event, and a
/// begin and an end for the new one).
const EVENT_QUEUE: usize = 4;
/// A segment is only considered finished when its duration came this close to the
/// maximum; below that, a new timestamp is a new event (RFC 4733 §2.5.1.3).
const SEGMENT_SLACK: u32 = 0x1000;

#[derive(Debug, Clone, Copy)]
struct Current {
    event: u8,
    /// Onset of the whole event (first segment).
    onset: u32,
    /// Timestamp of the current segment.
    segment_ts: u32,
    /// Longest duration seen in the current segment.
    max_duration: u16,
    /// Sum of the durations of earlier segments.
    before: u32,
    ended: bool,
}

/// Receives telephone-event payloads of one stream and reports each event once, in order.
///
/// Drain [`poll_event`](Self::poll_event) after every [`handle_payload`](Self::handle_payload).
#[derive(Debug)]
pub struct DtmfReceiver {
    current: Option<Current>,
    recent: [u32; RECENT],
    recent_len: usize,
    recent_next: usize,
    events: VecDeque<DtmfEvent>,
    ignored: u64,
}

impl Default for DtmfReceiver {
    fn default() -> Self {
        Self::new()
    }
}

impl DtmfReceiver {
    /// A receiver with no history.
    pub fn new() -> Self {
        Self {
            current: None,
            recent: [0; RECENT],
            recent_len: 0,
            recent_next: 0,
            events: VecDeque::with_capacity(EVENT_QUEUE),
            ignored: 0,
        }
    }

    /// Feeds one telephone-event packet: its marker bit, RTP timestamp and payload.
    pub fn handle_payload(
        &mut self,
        marker: bool,
        timestamp: u32,
        payload: &[u8],
    ) -> Result<(), Error> {
        let te = TelephoneEvent::parse(payload)?;
        if let Some(cur) = &mut self.current {
            if timestamp == cur.segment_ts {
                if te.event != cur.event {
                    self.ignored += 1;
                    return Ok(());
                }
                cur.max_duration = cur.max_duration.max(te.duration);
                // §2.5.1.4: the end packet is sent three times; report the first only.
                if te.end && !cur.ended {
                    cur.ended = true;
                    let ev = DtmfEvent::Ended {
                        event: cur.event,
                        timestamp: cur.onset,
                        duration: cur.before + u32::from(cur.max_duration),
                    };
                    self.push(ev);
                }
                return Ok(());
            }
            if !ts_newer(timestamp, cur.segment_ts) {
                // Older than the current event: a late retransmission or a packet of an
                // event that is over. Reporting it now would break the order.
                self.ignored += 1;
                return Ok(());
            }
            let delta = timestamp.wrapping_sub(cur.segment_ts);
            // §2.5.1.3: a long event continues in a new segment whose timestamp is the old
            // one plus the old segment's duration; the marker bit is not set again.
            let continuation = !marker
                && !cur.ended
                && te.event == cur.event
                && u32::from(cur.max_duration) + SEGMENT_SLACK > MAX_SEGMENT_DURATION
                && delta >= u32::from(cur.max_duration)
                && delta <= MAX_SEGMENT_DURATION;
            if continuation {
                let old_ts = cur.segment_ts;
                cur.before += delta;
                cur.segment_ts = timestamp;
                cur.max_duration = te.duration;
                let ended = te.end.then(|| {
                    cur.ended = true;
                    DtmfEvent::Ended {
                        event: cur.event,
                        timestamp: cur.onset,
                        duration: cur.before + u32::from(te.duration),
                    }
                });
                self.remember(old_ts);
                if let Some(ev) = ended {
                    self.push(ev);
                }
                return Ok(());
            }
        }
        if self.recent[..self.recent_len].contains(&timestamp) {
            self.ignored += 1;
            return Ok(());
        }
        // A new event. If the previous one never reported its end (all end packets lost),
        // close it now with the longest duration seen.
        if let Some(prev) = self.current.take() {
            if !prev.ended {
                self.push(DtmfEvent::Ended {
                    event: prev.event,
                    timestamp: prev.onset,
                    duration: prev.before + u32::from(prev.max_duration),
                });
            }
            self.remember(prev.segment_ts);
        }
        self.current = Some(Current {
            event: te.event,
            onset: timestamp,
            segment_ts: timestamp,
            max_duration: te.duration,
            before: 0,
            ended: te.end,
        });
        self.push(DtmfEvent::Began {
            event: te.event,
            timestamp,
        });
        if te.end {
            // Only the end packets arrived: the event still happened, once.
            self.push(DtmfEvent::Ended {
                event: te.event,
                timestamp,
                duration: u32::from(te.duration),
            });
        }
        Ok(())
    }

    /// The next event, in order.
    pub fn poll_event(&mut self) -> Option<DtmfEvent> {
        self.events.pop_front()
    }

    /// Forgets the event history, e.g. when the stream's source (and so its timestamp
    /// space) changed; an event still open is reported as ended with the longest duration
    /// seen, so every `Began` has its `Ended`.
    pub fn reset(&mut self) {
        if let Some(prev) = self.current.take() {
            if !prev.ended {
                self.push(DtmfEvent::Ended {
                    event: prev.event,
                    timestamp: prev.onset,
                    duration: prev.before + u32::from(prev.max_duration),
                });
            }
        }
        self.recent_len = 0;
        self.recent_next = 0;
    }

    /// Packets ignored as late, duplicate or inconsistent.
    pub fn ignored(&self) -> u64 {
        self.ignored
    }

    fn push(&mut self, ev: DtmfEvent) {
        // Bounded: the caller drains after every packet and one packet yields at most
        // three events; if it does not drain, the oldest event goes.
        if self.events.len() == EVENT_QUEUE {
            self.events.pop_front();
        }
        self.events.push_back(ev);
    }

    fn remember(&mut self, ts: u32) {
        self.recent[self.recent_next] = ts;
        self.recent_next = (self.recent_next + 1) % RECENT;
        self.recent_len = (self.recent_len + 1).min(RECENT);
    }
}

/// `a` is later than `b` in 32-bit serial arithmetic (RTP timestamps wrap).
fn ts_newer(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn te(event: u8, end: bool, duration: u16) -> [u8; 4] {
        TelephoneEvent {
            event,
            end,
            volume: 10,
            duration,
        }
        .to_bytes()
    }

    fn drain(rx: &mut DtmfReceiver) -> Vec<DtmfEvent> {
        std::iter::from_fn(|| rx.poll_event()).collect()
    }

    fn feed(rx: &mut DtmfReceiver, pkts: &[(bool, u32, [u8; 4])]) -> Vec<DtmfEvent> {
        let mut out = Vec::new();
        for (m, ts, p) in pkts {
            rx.handle_payload(*m, *ts, p)
                .unwrap_or_else(|e| panic!("{e}"));
            out.extend(drain(rx));
        }
        out
    }

    fn digits(evs: &[DtmfEvent]) -> String {
        evs.iter()
            .filter(|e| matches!(e, DtmfEvent::Began { .. }))
            .filter_map(DtmfEvent::digit)
            .collect()
    }

    #[test]
    fn payload_round_trip_and_digits() {
        let t = TelephoneEvent {
            event: 11,
            end: true,
            volume: 63,
            duration: 0xfffe,
        };
        assert_eq!(TelephoneEvent::parse(&t.to_bytes()), Ok(t));
        assert_eq!(
            TelephoneEvent::parse(&[1, 2, 3]),
            Err(Error::ShortTelephoneEvent)
        );
        // The R bit is ignored on receive.
        assert_eq!(
            TelephoneEvent::parse(&[5, 0x40 | 7, 0, 1]).map(|e| e.volume),
            Ok(7)
        );
        for (c, e) in [
            ('0', 0),
            ('9', 9),
            ('*', 10),
            ('#', 11),
            ('A', 12),
            ('D', 15),
        ] {
            assert_eq!(event_for_digit(c), Some(e));
            assert_eq!(digit_for_event(e), Some(c));
        }
        assert_eq!(event_for_digit('d'), Some(15));
        assert_eq!(event_for_digit('x'), None);
        assert_eq!(digit_for_event(16), None);
    }

    #[test]
    fn retransmitted_end_reported_once() {
        let mut rx = DtmfReceiver::new();
        let evs = feed(
            &mut rx,
            &[
                (true, 1000, te(1, false, 160)),
                (false, 1000, te(1, false, 320)),
                (false, 1000, te(1, true, 480)),
                (false, 1000, te(1, true, 480)),
                (false, 1000, te(1, true, 480)),
            ],
        );
        assert_eq!(
            evs,
            vec![
                DtmfEvent::Began {
                    event: 1,
                    timestamp: 1000
                },
                DtmfEvent::Ended {
                    event: 1,
                    timestamp: 1000,
                    duration: 480
                },
            ]
        );
    }

    #[test]
    fn lost_start_packet_still_reports_digit() {
        let mut rx = DtmfReceiver::new();
        let evs = feed(
            &mut rx,
            &[
                (false, 1000, te(5, false, 320)),
                (false, 1000, te(5, true, 480)),
            ],
        );
        assert_eq!(digits(&evs), "5");
        // Only end packets arrived at all.
        let evs = feed(
            &mut rx,
            &[
                (false, 3000, te(6, true, 800)),
                (false, 3000, te(6, true, 800)),
            ],
        );
        assert_eq!(
            evs,
            vec![
                DtmfEvent::Began {
                    event: 6,
                    timestamp: 3000
                },
                DtmfEvent::Ended {
                    event: 6,
                    timestamp: 3000,
                    duration: 800
                },
            ]
        );
    }

    #[test]
    fn late_end_of_previous_event_is_ignored() {
        let mut rx = DtmfReceiver::new();
        let evs = feed(
            &mut rx,
            &[
                (true, 1000, te(1, false, 160)),
                (false, 1000, te(1, true, 480)),
                (true, 5000, te(2, false, 160)),
                // Third end retransmission of digit 1 arrives after digit 2 started.
                (false, 1000, te(1, true, 480)),
                (false, 5000, te(2, true, 480)),
            ],
        );
        assert_eq!(digits(&evs), "12");
        assert_eq!(evs.len(), 4);
        assert_eq!(rx.ignored(), 1);
    }

    #[test]
    fn out_of_order_within_event() {
        let mut rx = DtmfReceiver::new();
        let evs = feed(
            &mut rx,
            &[
                (false, 1000, te(3, false, 320)),
                (true, 1000, te(3, false, 160)),
                (false, 1000, te(3, true, 640)),
                (false, 1000, te(3, false, 480)),
            ],
        );
        assert_eq!(
            evs,
            vec![
                DtmfEvent::Began {
                    event: 3,
                    timestamp: 1000
                },
                DtmfEvent::Ended {
                    event: 3,
                    timestamp: 1000,
                    duration: 640
                },
            ]
        );
    }

    #[test]
    fn older_event_arriving_late_is_not_reported_out_of_order() {
        let mut rx = DtmfReceiver::new();
        let evs = feed(
            &mut rx,
            &[
                (true, 9000, te(9, false, 160)),
                (true, 4000, te(4, false, 160)),
                (false, 9000, te(9, true, 320)),
            ],
        );
        assert_eq!(digits(&evs), "9");
    }

    #[test]
    fn same_digit_twice_is_two_events() {
        let mut rx = DtmfReceiver::new();
        let evs = feed(
            &mut rx,
            &[
                (true, 1000, te(7, false, 160)),
                (false, 1000, te(7, true, 320)),
                (false, 1000, te(7, true, 320)),
                (true, 2000, te(7, false, 160)),
                (false, 2000, te(7, true, 320)),
            ],
        );
        assert_eq!(digits(&evs), "77");
        // Same digit, first one's end packets all lost, second's marker lost too.
        let mut rx = DtmfReceiver::new();
        let evs = feed(
            &mut rx,
            &[
                (true, 1000, te(7, false, 160)),
                (false, 1000, te(7, false, 320)),
                (false, 2000, te(7, false, 160)),
            ],
        );
        assert_eq!(digits(&evs), "77");
        assert!(evs.contains(&DtmfEvent::Ended {
            event: 7,
            timestamp: 1000,
            duration: 320
        }));
    }

    #[test]
    fn long_event_segments_are_one_digit() {
        let mut rx = DtmfReceiver::new();
        let seg = 65440u32; // 409 × 160
        let t0 = u32::MAX - 1000; // the segment timestamps wrap
        let evs = feed(
            &mut rx,
            &[
                (true, t0, te(0, false, 160)),
                (false, t0, te(0, false, seg as u16)),
                (false, t0.wrapping_add(seg), te(0, false, 160)),
                (false, t0.wrapping_add(seg), te(0, true, 320)),
                (false, t0.wrapping_add(seg), te(0, true, 320)),
            ],
        );
        assert_eq!(
            evs,
            vec![
                DtmfEvent::Began {
                    event: 0,
                    timestamp: t0
                },
                DtmfEvent::Ended {
                    event: 0,
                    timestamp: t0,
                    duration: seg + 320
                },
            ]
        );
    }

    #[test]
    fn reset_closes_open_event_and_forgets_timestamps() {
        let mut rx = DtmfReceiver::new();
        let _ = feed(&mut rx, &[(true, 1_000_000, te(8, false, 160))]);
        rx.reset();
        assert_eq!(
            drain(&mut rx),
            vec![DtmfEvent::Ended {
                event: 8,
                timestamp: 1_000_000,
                duration: 160
            }]
        );
        // A new source with a much lower timestamp is not mistaken for a late packet.
        let evs = feed(&mut rx, &[(true, 50, te(9, false, 160))]);
        assert_eq!(digits(&evs), "9");
    }
}
