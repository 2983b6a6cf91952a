//! Per-leg receive statistics: counters, loss (RFC 3550 A.1/A.3) and interarrival jitter
//! (RFC 3550 A.8).

use std::time::{Duration, Instant};

use crate::rtcp::ReportBlock;

/// RFC 3550 A.1: a source must be seen this many times in sequence before it counts.
const MIN_SEQUENTIAL: u16 = 2;
/// RFC 3550 A.1: a jump forward of less than this is a gap, not a restart.
const MAX_DROPOUT: u16 = 3000;
/// RFC 3550 A.1: a jump back of less than this is reordering, not a restart.
const MAX_MISORDER: u16 = 100;
const SEQ_MOD: u32 = 1 << 16;

/// What the relay counted for the packets received on one leg. Cumulative over the call,
/// across source (SSRC) changes; the gateway exports it to metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LegStats {
    /// Valid RTP packets accepted from the peer.
    pub rtp_packets: u64,
    /// Bytes of those RTP datagrams (headers included).
    pub rtp_bytes: u64,
    /// Valid RTCP compounds accepted from the peer.
    pub rtcp_packets: u64,
    /// Bytes of those RTCP datagrams.
    pub rtcp_bytes: u64,
    /// Datagrams (RTP or RTCP) forwarded to the other leg.
    pub forwarded: u64,
    /// Datagrams dropped as malformed or not RTP/RTCP.
    pub dropped_invalid: u64,
    /// Datagrams dropped because they came from an address other than the latched peer.
    pub dropped_source: u64,
    /// RTP packets dropped for a payload type the leg does not accept.
    pub dropped_payload_type: u64,
    /// Datagrams dropped because the other leg has no destination yet.
    pub dropped_no_destination: u64,
    /// Packets expected from the sequence numbers (RFC 3550 A.3), over all sources.
    pub expected: u64,
    /// Packets lost: expected − received (RFC 3550 A.3); negative with duplicates.
    pub lost: i64,
    /// Interarrival jitter of the current source in timestamp units (RFC 3550 A.8).
    pub jitter: u32,
    /// The clock rate `jitter` is measured in.
    pub clock_rate: u32,
    /// Number of times the peer's SSRC changed.
    pub source_changes: u32,
    /// The latest reception report the peer sent about the stream the relay sends it
    /// (RFC 3550 §6.4): the loss and jitter the far end experiences.
    pub peer_report: Option<ReportBlock>,
}

impl LegStats {
    /// The jitter as a duration (0 when the clock rate is unknown).
    pub fn jitter_duration(&self) -> Duration {
        if self.clock_rate == 0 {
            return Duration::ZERO;
        }
        Duration::from_micros(u64::from(self.jitter) * 1_000_000 / u64::from(self.clock_rate))
    }

    /// Fraction of expected packets lost, in `0.0..=1.0` (0 before anything is expected).
    pub fn loss_fraction(&self) -> f64 {
        if self.expected == 0 || self.lost <= 0 {
            return 0.0;
        }
        (self.lost as f64 / self.expected as f64).min(1.0)
    }
}

/// Sequence and jitter state for one source, as in RFC 3550 A.1 and A.8.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SourceStats {
    ssrc: u32,
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    probation: u16,
    received: u32,
    /// Previous transit time (arrival − RTP timestamp), in timestamp units.
    transit: Option<u32>,
    /// Jitter scaled by 16, as in RFC 3550 A.8.
    jitter16: u32,
}

impl SourceStats {
    /// A new source whose first packet has `seq` (RFC 3550 A.1: on probation).
    pub(crate) fn new(ssrc: u32, seq: u16) -> Self {
        let mut s = Self {
            ssrc,
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: 0,
            probation: MIN_SEQUENTIAL,
            received: 0,
            transit: None,
            jitter16: 0,
        };
        s.init_seq(seq);
        s.max_seq = seq.wrapping_sub(1);
        s
    }

    pub(crate) fn ssrc(&self) -> u32 {
        self.ssrc
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
    }

    /// RFC 3550 A.1 `update_seq`: returns whether the packet counts as received.
    pub(crate) fn update_seq(&mut self, seq: u16) -> bool {
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init_seq(seq);
                    self.received += 1;
                    return true;
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return false;
        }
        if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(SEQ_MOD);
            }
            self.max_seq = seq;
        } else if u32::from(udelta) <= SEQ_MOD - u32::from(MAX_MISORDER) {
            // A very large jump: the source restarted, or a stray packet. Only the second
            // packet in sequence after the jump resynchronises.
            if u32::from(seq) == self.bad_seq {
                self.init_seq(seq);
            } else {
                self.bad_seq = (u32::from(seq) + 1) & (SEQ_MOD - 1);
                return false;
            }
        }
        // Otherwise a duplicate or reordered packet: counted, max_seq unchanged.
        self.received += 1;
        true
    }

    /// RFC 3550 A.8: `arrival` is the arrival time in timestamp units.
    pub(crate) fn update_jitter(&mut self, arrival: u32, rtp_ts: u32) {
        let transit = arrival.wrapping_sub(rtp_ts);
        if let Some(prev) = self.transit {
            let d = (transit.wrapping_sub(prev) as i32).unsigned_abs();
            // J += (|D| - J) / 16, kept scaled by 16 with rounding, as in A.8.
            self.jitter16 = self
                .jitter16
                .wrapping_add(d)
                .wrapping_sub((self.jitter16 + 8) >> 4);
        }
        self.transit = Some(transit);
    }

    /// Extended highest sequence number received.
    pub(crate) fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    /// Packets expected (RFC 3550 A.3); 0 while on probation.
    pub(crate) fn expected(&self) -> u64 {
        if self.probation > 0 {
            return 0;
        }
        u64::from(self.extended_max().wrapping_sub(self.base_seq)) + 1
    }

    pub(crate) fn received(&self) -> u64 {
        u64::from(self.received)
    }

    pub(crate) fn lost(&self) -> i64 {
        self.expected() as i64 - self.received() as i64
    }

    pub(crate) fn jitter(&self) -> u32 {
        self.jitter16 >> 4
    }
}

/// Converts an instant to RTP timestamp units relative to `epoch` (wrapping, as RTP does).
pub(crate) fn instant_to_units(epoch: Instant, now: Instant, clock_rate: u32) -> u32 {
    let micros = now.saturating_duration_since(epoch).as_micros() as u64;
    (micros.wrapping_mul(u64::from(clock_rate)) / 1_000_000) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An arbitrary base instant; from here on time only moves by explicit jumps.
    #[allow(clippy::disallowed_methods)]
    fn base_instant() -> Instant {
        Instant::now()
    }

    /// Feeds `seqs` after a two-packet probation run starting at `first`.
    fn run(first: u16, seqs: &[u16]) -> SourceStats {
        let mut s = SourceStats::new(1, first);
        assert!(!s.update_seq(first), "first packet is on probation");
        assert!(s.update_seq(first.wrapping_add(1)));
        for &q in seqs {
            s.update_seq(q);
        }
        s
    }

    #[test]
    fn no_loss_in_order() {
        let s = run(100, &[102, 103, 104]);
        // base_seq is 101 (probation ends there), max 104: expected 4, received 4.
        assert_eq!(s.expected(), 4);
        assert_eq!(s.received(), 4);
        assert_eq!(s.lost(), 0);
    }

    #[test]
    fn loss_is_extended_max_minus_base_minus_received() {
        // 101 received (end of probation), 102 and 105 lost.
        let s = run(100, &[103, 104, 106]);
        assert_eq!(s.extended_max(), 106);
        assert_eq!(s.expected(), 6);
        assert_eq!(s.received(), 4);
        assert_eq!(s.lost(), 2);
    }

    #[test]
    fn wrap_counts_a_cycle() {
        let s = run(65534, &[0, 1, 2]);
        // 65535, 0, 1, 2 received; extended max = 65536 + 2.
        assert_eq!(s.extended_max(), 65538);
        assert_eq!(s.expected(), 4);
        assert_eq!(s.lost(), 0);
    }

    #[test]
    fn duplicates_make_loss_negative() {
        let s = run(10, &[12, 12, 11]);
        assert_eq!(s.expected(), 2);
        assert_eq!(s.received(), 4);
        assert_eq!(s.lost(), -2);
    }

    #[test]
    fn big_jump_resyncs_after_two_in_sequence() {
        let mut s = run(10, &[12]);
        // A jump of 10000 is not counted at first...
        assert!(!s.update_seq(10_012));
        // ...but the next one in sequence restarts the counters from there.
        assert!(s.update_seq(10_013));
        assert_eq!(s.expected(), 1);
        assert_eq!(s.received(), 1);
    }

    #[test]
    fn probation_restarts_on_out_of_sequence() {
        let mut s = SourceStats::new(1, 50);
        assert!(!s.update_seq(50));
        assert!(!s.update_seq(60));
        assert!(s.update_seq(61));
        assert_eq!(s.expected(), 1);
    }

    #[test]
    fn jitter_matches_hand_computation() {
        // 8 kHz, 20 ms packets: timestamps step 160. Arrivals (in units): 0, 160, 400, 480.
        // Transits: 0, 0, 80, 0. |D|: -, 0, 80, 80.
        // J16 after each: 0 → 0; then 0 + 80 - ((0+8)>>4)=80; then 80 + 80 - ((80+8)>>4)=155.
        let mut s = SourceStats::new(1, 0);
        for (arrival, ts) in [(0, 0), (160, 160), (400, 320), (480, 480)] {
            s.update_jitter(arrival, ts);
        }
        assert_eq!(s.jitter16, 155);
        assert_eq!(s.jitter(), 9);
    }

    #[test]
    fn jitter_handles_timestamp_wrap() {
        let mut s = SourceStats::new(1, 0);
        s.update_jitter(1000, u32::MAX - 159);
        s.update_jitter(1160, 0);
        assert_eq!(s.jitter(), 0);
    }

    #[test]
    fn units_conversion() {
        let t0 = base_instant();
        assert_eq!(
            instant_to_units(t0, t0 + Duration::from_millis(20), 8000),
            160
        );
        assert_eq!(
            instant_to_units(t0, t0 + Duration::from_millis(20), 48000),
            960
        );
        assert_eq!(instant_to_units(t0 + Duration::from_secs(1), t0, 8000), 0);
    }

    #[test]
    fn stats_helpers() {
        let st = LegStats {
            jitter: 80,
            clock_rate: 8000,
            expected: 200,
            lost: 3,
            ..LegStats::default()
        };
        assert_eq!(st.jitter_duration(), Duration::from_millis(10));
        assert!((st.loss_fraction() - 0.015).abs() < 1e-9);
        assert_eq!(LegStats::default().jitter_duration(), Duration::ZERO);
        assert_eq!(LegStats::default().loss_fraction(), 0.0);
    }
}
