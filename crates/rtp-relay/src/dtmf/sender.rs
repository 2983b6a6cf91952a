//! RFC 4733 telephone-event sender: the packet sequence for queued digits, driven by `now`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{MAX_SEGMENT_DURATION, TelephoneEvent};
use crate::Error;
use crate::rtp::RtpHeader;

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

    /// Queues `event` (see [`event_for_digit`](super::event_for_digit)) to be sent for `duration`, rounded up to a
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
    use crate::dtmf::{DtmfEvent, DtmfReceiver};

    /// An arbitrary base instant; from here on time only moves by explicit jumps.
    #[allow(clippy::disallowed_methods)]
    fn base_instant() -> Instant {
        Instant::now()
    }

    fn drain(rx: &mut DtmfReceiver) -> Vec<DtmfEvent> {
        std::iter::from_fn(|| rx.poll_event()).collect()
    }

    fn digits(evs: &[DtmfEvent]) -> String {
        evs.iter()
            .filter(|e| matches!(e, DtmfEvent::Began { .. }))
            .filter_map(DtmfEvent::digit)
            .collect()
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
