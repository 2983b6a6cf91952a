//! The playout buffer on its own: ordering, wrap-around, loss, lateness, restarts.

use bytes::Bytes;
use rtp_relay::codec::playout::{BufferedPacket, MAX_DEPTH, PlayoutBuffer, PlayoutEvent};

fn pkt(seq: u16) -> BufferedPacket {
    BufferedPacket {
        sequence: seq,
        timestamp: u32::from(seq) * 160,
        marker: false,
        payload: Bytes::from(vec![seq as u8]),
    }
}

/// Pushes `seqs` in order and returns what was released, as sequence numbers, with lost
/// runs as negative `-(count)` markers and resyncs as `i64::MIN`.
fn feed(buf: &mut PlayoutBuffer, seqs: &[u16], flush: bool) -> Vec<i64> {
    let mut out = Vec::new();
    let record = |ev: PlayoutEvent, out: &mut Vec<i64>| match ev {
        PlayoutEvent::Packet(p) => out.push(i64::from(p.sequence)),
        PlayoutEvent::Lost { count, .. } => out.push(-i64::from(count)),
        PlayoutEvent::Resync => out.push(i64::MIN),
    };
    for &s in seqs {
        buf.push(pkt(s));
        while let Some(ev) = buf.pop() {
            record(ev, &mut out);
        }
    }
    if flush {
        while let Some(ev) = buf.flush() {
            record(ev, &mut out);
        }
    }
    out
}

#[test]
fn in_order_packets_pass_without_delay() {
    let mut b = PlayoutBuffer::new(4);
    for s in 0..10u16 {
        b.push(pkt(s));
        assert_eq!(b.pop(), Some(PlayoutEvent::Packet(pkt(s))));
        assert_eq!(b.pop(), None);
    }
    assert!(b.is_empty());
    let st = b.stats();
    assert_eq!((st.accepted, st.released, st.lost), (10, 10, 0));
}

#[test]
fn reorders_across_the_sequence_wrap() {
    let mut b = PlayoutBuffer::new(3);
    let got = feed(&mut b, &[65533, 65535, 65534, 1, 0, 2], false);
    assert_eq!(got, vec![65533, 65534, 65535, 0, 1, 2]);
    assert_eq!(b.stats().reordered, 2);
}

#[test]
fn a_hole_is_declared_lost_once_depth_packets_wait_behind_it() {
    let mut b = PlayoutBuffer::new(3);
    let got = feed(&mut b, &[10, 11, 14, 15], false);
    assert_eq!(got, vec![10, 11], "14 and 15 wait for 12 and 13");
    assert_eq!(b.len(), 2);
    let got = feed(&mut b, &[16], false);
    assert_eq!(got, vec![-2, 14, 15, 16]);
    assert_eq!(b.stats().lost, 2);
    // 12 now arrives too late.
    assert!(feed(&mut b, &[12], false).is_empty());
    assert_eq!(b.stats().late, 1);
}

#[test]
fn duplicates_are_dropped() {
    let mut b = PlayoutBuffer::new(4);
    let got = feed(&mut b, &[1, 2, 2, 4, 4, 3], false);
    assert_eq!(got, vec![1, 2, 3, 4]);
    assert_eq!(b.stats().duplicates, 2);
}

#[test]
fn a_big_jump_restarts_instead_of_concealing_forever() {
    let mut b = PlayoutBuffer::new(4);
    let got = feed(&mut b, &[100, 101, 103, 30000, 30001], false);
    // 103 is released without waiting, then the new sequence space starts.
    assert_eq!(got, vec![100, 101, 103, i64::MIN, 30000, 30001]);
    assert_eq!(b.stats().resyncs, 1);
    assert_eq!(b.stats().lost, 0);
}

#[test]
fn a_run_of_late_packets_means_the_sender_restarted() {
    let mut b = PlayoutBuffer::new(4);
    feed(&mut b, &[5000, 5001, 5002], false);
    // The sender restarts 200 lower: the first few look late, then the buffer follows.
    let restart: Vec<u16> = (4800..4812).collect();
    let got = feed(&mut b, &restart, false);
    assert_eq!(b.stats().late, 7);
    assert_eq!(b.stats().resyncs, 1);
    assert_eq!(got.first(), Some(&i64::MIN));
    assert_eq!(&got[1..], &[4807, 4808, 4809, 4810, 4811]);
}

#[test]
fn flush_reports_remaining_holes() {
    let mut b = PlayoutBuffer::new(8);
    let got = feed(&mut b, &[1, 3, 6], true);
    assert_eq!(got, vec![1, -1, 3, -2, 6]);
    assert!(b.is_empty());
}

#[test]
fn depth_is_bounded() {
    assert_eq!(PlayoutBuffer::new(0).depth(), 1);
    assert_eq!(PlayoutBuffer::new(1000).depth(), MAX_DEPTH);
    // However the packets come, no more than `depth` are ever held.
    let mut b = PlayoutBuffer::new(5);
    let mut seq = 0u16;
    for i in 0..2000u32 {
        seq = seq.wrapping_add(if i % 7 == 0 { 3 } else { 1 });
        b.push(pkt(seq));
        while b.pop().is_some() {}
        assert!(b.len() <= 5);
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the network does (drops, duplicates, reordering within a few places),
        /// the buffer releases strictly increasing sequence numbers, each once, accounts
        /// for every slot as played or lost, and never holds more than its depth.
        #[test]
        fn releases_in_order_exactly_once(
            start in any::<u16>(),
            depth in 1usize..8,
            ops in proptest::collection::vec((0u8..10, 0usize..4), 1..300),
        ) {
            let mut b = PlayoutBuffer::new(depth);
            let mut arrivals = Vec::new();
            for (i, &(fate, shift)) in ops.iter().enumerate() {
                let seq = start.wrapping_add(i as u16);
                match fate {
                    0 => {}                                  // dropped
                    1 => { arrivals.push(seq); arrivals.push(seq); } // duplicated
                    _ => arrivals.push(seq),
                }
                // Local reordering: move the newest arrival back by `shift` places.
                let n = arrivals.len();
                if n > shift + 1 {
                    let p = arrivals.remove(n - 1);
                    arrivals.insert(n - 1 - shift, p);
                }
            }
            let mut released: Vec<u64> = Vec::new();
            let mut slots = 0u64;
            let mut last: Option<u64> = None;
            let mut check = |ev: PlayoutEvent, b: &PlayoutBuffer| -> Result<(), TestCaseError> {
                // Offsets from `start` in a wrapping-safe way.
                match ev {
                    PlayoutEvent::Packet(p) => {
                        let off = u64::from(p.sequence.wrapping_sub(start));
                        if let Some(l) = last { prop_assert!(off > l, "{off} after {l}"); }
                        last = Some(off);
                        released.push(off);
                        slots += 1;
                    }
                    PlayoutEvent::Lost { first, count } => {
                        let off = u64::from(first.wrapping_sub(start));
                        if let Some(l) = last { prop_assert!(off > l); }
                        last = Some(off + u64::from(count) - 1);
                        slots += u64::from(count);
                    }
                    PlayoutEvent::Resync => prop_assert!(false, "no restarts in this model"),
                }
                prop_assert!(b.len() <= depth);
                Ok(())
            };
            for s in arrivals {
                b.push(pkt(s));
                while let Some(ev) = b.pop() { check(ev, &b)?; }
            }
            while let Some(ev) = b.flush() { check(ev, &b)?; }
            let mut dedup = released.clone();
            dedup.dedup();
            prop_assert_eq!(dedup.len(), released.len());
            // Every slot from the first to the last released is either played or lost.
            if let (Some(first), Some(&end)) = (released.first(), released.last()) {
                prop_assert_eq!(slots, end - first + 1);
            }
        }
    }
}
