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

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::Error;
use crate::rtp::RtpHeader;

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

/// Settings of a [`DtmfSender`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfSenderConfig {
    /// Negotiated telephone-event payload type.
    pub payload_type: u8,
    /// RTP clock rate of the stream (telephone-event uses the audio clock, §2.1).
    pub clock_rate: u32,
    /// Interval between updates (usually the audio packet time).
    pub packet_interval: Duration,
    /// Volume field, −dBm0 (0..=63).
    pub volume: u8,
    /// Silence between the end of one event and the start of the next.
    pub gap: Duration,
    /// Maximum number of queued digits.
    pub queue_limit: usize,
}

impl Default for DtmfSenderConfig {
    fn default() -> Self {
        Self {
            payload_type: 101,
            clock_rate: 8000,
            packet_interval: Duration::from_millis(20),
            volume: 10,
            gap: Duration::from_millis(50),
            queue_limit: 64,
        }
    }
}

/// One telephone-event packet produced by the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfPacket {
    /// Marker bit: set on the first packet of an event only (§2.5.1.2).
    pub marker: bool,
    /// Payload type.
    pub payload_type: u8,
    /// RTP timestamp of the event (segment) onset.
    pub timestamp: u32,
    /// The payload.
    pub event: TelephoneEvent,
}

impl DtmfPacket {
    /// Writes the packet with the stream's `sequence` and `ssrc` into `out`.
    pub fn write(&self, sequence: u16, ssrc: u32, out: &mut [u8]) -> Result<usize, Error> {
        RtpHeader {
            marker: self.marker,
            payload_type: self.payload_type,
            sequence,
            timestamp: self.timestamp,
            ssrc,
        }
        .write(&self.event.to_bytes(), out)
    }
}

#[derive(Debug, Clone, Copy)]
struct Sending {
    event: u8,
    /// Total duration to send, in timestamp units.
    total: u32,
    /// Timestamp of the current segment.
    segment_ts: u32,
    /// Units covered by earlier segments.
    before: u32,
    /// Duration reported in the next packet of the current segment.
    next_duration: u32,
    /// End packets still to send (3 → 0) once the end is reached.
    ends_left: u8,
    first: bool,
    due: Instant,
}

/// Generates the RFC 4733 packet sequence for queued digits, driven by `now`.
///
/// For each digit: a first packet with the marker bit, then one update per packet interval
/// with the duration so far, then the end packet (E bit, final duration) three times with
/// the same timestamp (§2.5.1.4). Events longer than the 16-bit duration are split into
/// segments (§2.5.1.3). The caller sends the packets with its stream's SSRC and next
/// sequence numbers and pauses its audio while [`is_sending`](Self::is_sending).
#[derive(Debug)]
pub struct DtmfSender {
    cfg: DtmfSenderConfig,
    interval_units: u32,
    /// Maps instants to the stream's RTP timestamps.
    clock: (Instant, u32),
    queue: VecDeque<(u8, u32)>,
    sending: Option<Sending>,
    next_start: Instant,
}

impl DtmfSender {
    /// A sender whose stream has RTP timestamp `timestamp` at `now`.
    pub fn new(cfg: DtmfSenderConfig, now: Instant, timestamp: u32) -> Result<Self, Error> {
        if cfg.clock_rate == 0 || cfg.packet_interval.is_zero() || cfg.volume > 63 {
            return Err(Error::InvalidArgument(
                "DTMF sender needs a clock rate, a packet interval and a volume ≤ 63",
            ));
        }
        let interval_units = duration_units(cfg.packet_interval, cfg.clock_rate);
        if interval_units == 0 || interval_units > MAX_SEGMENT_DURATION / 2 {
            return Err(Error::InvalidArgument("DTMF packet interval out of range"));
        }
        Ok(Self {
            cfg,
            interval_units,
            clock: (now, timestamp),
            queue: VecDeque::with_capacity(cfg.queue_limit.min(64)),
            sending: None,
            next_start: now,
        })
    }

    /// Re-anchors the timestamp clock (e.g. after the stream's timestamp jumped).
    pub fn set_clock(&mut self, now: Instant, timestamp: u32) {
        self.clock = (now, timestamp);
    }

    /// Queues `event` (see [`event_for_digit`]) to be sent for `duration`, rounded up to a
    /// whole number of packet intervals.
    pub fn send_event(&mut self, event: u8, duration: Duration) -> Result<(), Error> {
        if self.queue.len() >= self.cfg.queue_limit {
            return Err(Error::DtmfQueueFull);
        }
        if duration > Duration::from_secs(3600) {
            return Err(Error::InvalidArgument("DTMF event longer than an hour"));
        }
        let units = duration_units(duration, self.cfg.clock_rate);
        let periods = units.div_ceil(self.interval_units).max(1);
        self.queue.push_back((event, periods * self.interval_units));
        Ok(())
    }

    /// Whether an event is being sent (the caller should pause audio).
    pub fn is_sending(&self) -> bool {
        self.sending.is_some()
    }

    /// The next packet due at or before `now`, if any. Call until `None`.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<DtmfPacket> {
        if self.sending.is_none() {
            if now < self.next_start {
                return None;
            }
            let (event, total) = self.queue.pop_front()?;
            // The event starts when it is polled; a late poll delays it rather than
            // bursting packets that were due in the past.
            let start = now;
            self.sending = Some(Sending {
                event,
                total,
                segment_ts: self.timestamp_at(start),
                before: 0,
                next_duration: self.interval_units.min(total),
                ends_left: 3,
                first: true,
                due: start,
            });
        }
        let interval = self.cfg.packet_interval;
        let s = self.sending.as_mut()?;
        if now < s.due {
            return None;
        }
        let reached_end = s.before + s.next_duration >= s.total;
        let pkt = DtmfPacket {
            marker: s.first,
            payload_type: self.cfg.payload_type,
            timestamp: s.segment_ts,
            event: TelephoneEvent {
                event: s.event,
                end: reached_end,
                volume: self.cfg.volume,
                duration: s.next_duration as u16,
            },
        };
        s.first = false;
        s.due += interval;
        if reached_end {
            s.ends_left -= 1;
            if s.ends_left == 0 {
                self.next_start = s.due - interval + self.cfg.gap;
                self.sending = None;
            }
        } else {
            let next = s.next_duration + self.interval_units;
            let seg_max = MAX_SEGMENT_DURATION / self.interval_units * self.interval_units;
            if next > seg_max {
                // §2.5.1.3: start a new segment at old timestamp + old duration.
                s.before += s.next_duration;
                s.segment_ts = s.segment_ts.wrapping_add(s.next_duration);
                s.next_duration = self.interval_units.min(s.total - s.before);
            } else {
                s.next_duration = next.min(s.total - s.before);
            }
        }
        Some(pkt)
    }

    /// When the next packet is due.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.sending {
            Some(s) => Some(s.due),
            None if !self.queue.is_empty() => Some(self.next_start),
            None => None,
        }
    }

    fn timestamp_at(&self, at: Instant) -> u32 {
        let (t0, ts0) = self.clock;
        if at >= t0 {
            ts0.wrapping_add(duration_units(at - t0, self.cfg.clock_rate))
        } else {
            ts0.wrapping_sub(duration_units(t0 - at, self.cfg.clock_rate))
        }
    }
}

fn duration_units(d: Duration, clock_rate: u32) -> u32 {
    (d.as_micros() as u64 * u64::from(clock_rate) / 1_000_000) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An arbitrary base instant; from here on time only moves by explicit jumps.
    #[allow(clippy::disallowed_methods)]
    fn base_instant() -> Instant {
        Instant::now()
    }

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

    fn sender(interval_ms: u64) -> (DtmfSender, Instant) {
        let t0 = base_instant();
        let cfg = DtmfSenderConfig {
            packet_interval: Duration::from_millis(interval_ms),
            ..DtmfSenderConfig::default()
        };
        let s = DtmfSender::new(cfg, t0, 10_000).unwrap_or_else(|e| panic!("{e}"));
        (s, t0)
    }

    /// Runs the sender by jumping to each deadline; returns (time offset ms, packet).
    fn run_sender(s: &mut DtmfSender, t0: Instant) -> Vec<(u128, DtmfPacket)> {
        let mut out = Vec::new();
        let mut now = t0;
        for _ in 0..100_000 {
            while let Some(p) = s.poll_transmit(now) {
                out.push(((now - t0).as_millis(), p));
            }
            match s.poll_timeout() {
                Some(t) => now = now.max(t),
                None => break,
            }
        }
        out
    }

    #[test]
    fn sender_sequence_for_one_digit() {
        let (mut s, t0) = sender(20);
        s.send_event(1, Duration::from_millis(100))
            .unwrap_or_else(|e| panic!("{e}"));
        let pkts = run_sender(&mut s, t0);
        let summary: Vec<_> = pkts
            .iter()
            .map(|(t, p)| (*t, p.marker, p.timestamp, p.event.end, p.event.duration))
            .collect();
        assert_eq!(
            summary,
            vec![
                (0, true, 10_000, false, 160),
                (20, false, 10_000, false, 320),
                (40, false, 10_000, false, 480),
                (60, false, 10_000, false, 640),
                (80, false, 10_000, true, 800),
                (100, false, 10_000, true, 800),
                (120, false, 10_000, true, 800),
            ]
        );
        assert!(
            pkts.iter()
                .all(|(_, p)| p.event.volume == 10 && p.payload_type == 101)
        );
        assert!(!s.is_sending());
    }

    #[test]
    fn sender_gap_and_second_digit_timestamp() {
        let (mut s, t0) = sender(20);
        s.send_event(2, Duration::from_millis(40))
            .unwrap_or_else(|e| panic!("{e}"));
        s.send_event(2, Duration::from_millis(40))
            .unwrap_or_else(|e| panic!("{e}"));
        let pkts = run_sender(&mut s, t0);
        // Digit 1: 0 ms, 20 ms (end) ×3 at 20, 40, 60. Gap 50 ms after the last end → 110.
        let starts: Vec<_> = pkts
            .iter()
            .filter(|(_, p)| p.marker)
            .map(|(t, p)| (*t, p.timestamp))
            .collect();
        assert_eq!(starts, vec![(0, 10_000), (110, 10_000 + 880)]);
        // The receiver sees two digits.
        let mut rx = DtmfReceiver::new();
        let mut evs = Vec::new();
        for (_, p) in &pkts {
            rx.handle_payload(p.marker, p.timestamp, &p.event.to_bytes())
                .unwrap_or_else(|e| panic!("{e}"));
            evs.extend(drain(&mut rx));
        }
        assert_eq!(digits(&evs), "22");
    }

    #[test]
    fn sender_segments_long_event_and_receiver_joins_them() {
        let (mut s, t0) = sender(20);
        // 10 s at 8 kHz = 80000 units > 65535: two segments.
        s.send_event(0, Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("{e}"));
        let pkts = run_sender(&mut s, t0);
        let seg_ts: Vec<u32> = {
            let mut v: Vec<u32> = pkts.iter().map(|(_, p)| p.timestamp).collect();
            v.dedup();
            v
        };
        assert_eq!(seg_ts, vec![10_000, 10_000 + 65_440]);
        assert!(
            pkts.iter()
                .all(|(_, p)| u32::from(p.event.duration) <= MAX_SEGMENT_DURATION)
        );
        assert_eq!(pkts.iter().filter(|(_, p)| p.marker).count(), 1);
        let ends: Vec<_> = pkts.iter().filter(|(_, p)| p.event.end).collect();
        assert_eq!(ends.len(), 3);
        assert!(
            ends.iter()
                .all(|(_, p)| p.event.duration as u32 == 80_000 - 65_440)
        );
        let mut rx = DtmfReceiver::new();
        let mut evs = Vec::new();
        for (_, p) in &pkts {
            rx.handle_payload(p.marker, p.timestamp, &p.event.to_bytes())
                .unwrap_or_else(|e| panic!("{e}"));
            evs.extend(drain(&mut rx));
        }
        assert_eq!(
            evs,
            vec![
                DtmfEvent::Began {
                    event: 0,
                    timestamp: 10_000
                },
                DtmfEvent::Ended {
                    event: 0,
                    timestamp: 10_000,
                    duration: 80_000
                },
            ]
        );
    }

    #[test]
    fn sender_rounds_short_duration_up_and_bounds_queue() {
        let (mut s, t0) = sender(20);
        s.send_event(4, Duration::from_millis(1))
            .unwrap_or_else(|e| panic!("{e}"));
        let pkts = run_sender(&mut s, t0);
        assert_eq!(pkts.len(), 3);
        assert!(
            pkts[0].1.marker
                && pkts
                    .iter()
                    .all(|(_, p)| p.event.end && p.event.duration == 160)
        );
        let cfg = DtmfSenderConfig {
            queue_limit: 1,
            ..DtmfSenderConfig::default()
        };
        let mut s = DtmfSender::new(cfg, t0, 0).unwrap_or_else(|e| panic!("{e}"));
        assert!(s.send_event(1, Duration::from_millis(50)).is_ok());
        assert_eq!(
            s.send_event(1, Duration::from_millis(50)),
            Err(Error::DtmfQueueFull)
        );
        let bad = DtmfSenderConfig {
            volume: 64,
            ..DtmfSenderConfig::default()
        };
        assert!(DtmfSender::new(bad, t0, 0).is_err());
    }

    #[test]
    fn sender_packet_writes_rtp() {
        let (mut s, t0) = sender(20);
        s.send_event(11, Duration::from_millis(20))
            .unwrap_or_else(|e| panic!("{e}"));
        let p = s.poll_transmit(t0).unwrap_or_else(|| panic!("no packet"));
        let mut buf = [0u8; 32];
        let n = p
            .write(77, 0xabc, &mut buf)
            .unwrap_or_else(|e| panic!("{e}"));
        let r = crate::rtp::RtpPacket::parse(&buf[..n]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (r.sequence(), r.ssrc(), r.payload_type(), r.marker()),
            (77, 0xabc, 101, true)
        );
        assert_eq!(TelephoneEvent::parse(r.payload()).map(|e| e.event), Ok(11));
    }
}
