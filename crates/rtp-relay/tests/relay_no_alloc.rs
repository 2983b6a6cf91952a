//! The relay's per-packet path allocates nothing in steady state: pass-through RTP,
//! rewritten RTP after a source change, RTCP with translation, telephone-events and drops.
//!
//! A counting global allocator (test-only, delegating to the system allocator) counts the
//! allocations made by this thread while packets are handled. This file holds one test so
//! no other test thread shares the binary's allocator while it counts.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use rtp_relay::dtmf::TelephoneEvent;
use rtp_relay::relay::{
    Action, CallConfig, LegConfig, MediaTimeouts, Relay, RelayConfig, Side, SocketId,
};
use rtp_relay::rtcp::{ReportBlock, write_receiver_report, write_sdes_cname};
use rtp_relay::rtp::RtpHeader;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is exactly the system allocator's; the only addition is a
// const-initialised thread-local counter, which itself never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port)
}

/// An arbitrary base instant; from here on time only moves by explicit jumps.
#[allow(clippy::disallowed_methods)]
fn base_instant() -> Instant {
    Instant::now()
}

fn rtp(buf: &mut [u8; 256], ssrc: u32, seq: u16, ts: u32, pt: u8, payload: &[u8]) -> usize {
    RtpHeader {
        marker: false,
        payload_type: pt,
        sequence: seq,
        timestamp: ts,
        ssrc,
    }
    .write(payload, buf)
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn per_packet_path_does_not_allocate() {
    let t0 = base_instant();
    let mut relay = Relay::new(RelayConfig::default(), t0);
    let cfg = CallConfig {
        a: LegConfig {
            telephone_event: Some(101),
            ..LegConfig::new(SocketId(1))
        },
        b: LegConfig {
            remote_rtp: Some(addr(50_000)),
            ..LegConfig::new(SocketId(2))
        },
        timeouts: MediaTimeouts {
            no_media: Some(Duration::from_secs(5)),
            silence: Some(Duration::from_secs(5)),
        },
        ringing: false,
    };
    let call = relay.add_call(t0, cfg).unwrap_or_else(|e| panic!("{e}"));
    let mut rr = [0u8; 128];
    let n = write_receiver_report(
        &mut rr,
        0xbbbb,
        &[ReportBlock {
            ssrc: 0x1111,
            ..ReportBlock::default()
        }],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let m = write_sdes_cname(&mut rr[n..], 0xbbbb, b"b@host").unwrap_or_else(|e| panic!("{e}"));
    let rr_len = n + m;

    let mut now = t0;
    let mut buf = [0u8; 256];
    let audio = [0xd5u8; 160];
    let mut forwarded = 0u64;
    let mut run = |relay: &mut Relay, now: &mut Instant, ssrc: u32, seq0: u16, count: u16| {
        for i in 0..count {
            let len = rtp(
                &mut buf,
                ssrc,
                seq0.wrapping_add(i),
                u32::from(i) * 160,
                0,
                &audio,
            );
            if let Action::Send(_) =
                relay.handle_datagram(*now, SocketId(1), addr(41_000), &mut buf[..len])
            {
                forwarded += 1;
            }
            let len = rtp(&mut buf, 0xbbbb, i, u32::from(i) * 160, 0, &audio);
            let _ = relay.handle_datagram(*now, SocketId(2), addr(51_000), &mut buf[..len]);
            if i % 50 == 0 {
                let mut r = rr;
                let _ = relay.handle_datagram(*now, SocketId(2), addr(51_000), &mut r[..rr_len]);
                let te = TelephoneEvent {
                    event: 5,
                    end: i % 100 == 0,
                    volume: 10,
                    duration: 160,
                };
                let len = rtp(
                    &mut buf,
                    ssrc,
                    seq0.wrapping_add(i),
                    99,
                    101,
                    &te.to_bytes(),
                );
                let _ = relay.handle_datagram(*now, SocketId(1), addr(41_000), &mut buf[..len]);
                // A packet the gateway originates (e.g. DTMF toward the far end).
                let len = rtp(&mut buf, 1, 1, 1, 101, &te.to_bytes());
                let _ = relay.inject(*now, call, Side::B, &mut buf[..len]);
                // Junk and a packet from a stranger are dropped without allocating.
                let _ = relay.handle_datagram(*now, SocketId(1), addr(41_000), &mut buf[..5]);
                let len = rtp(&mut buf, ssrc, 0, 0, 0, &audio);
                let _ = relay.handle_datagram(*now, SocketId(1), addr(9), &mut buf[..len]);
            }
            while relay.poll_event().is_some() {}
            if relay.poll_timeout().is_some_and(|t| t <= *now) {
                relay.handle_timeout(*now);
            }
            *now += Duration::from_millis(20);
        }
    };

    // Warm-up: latching, first events, first source change, queues reach their size.
    run(&mut relay, &mut now, 0x1111, 0, 200);
    run(&mut relay, &mut now, 0x2222, 30_000, 200);

    let before = allocations();
    // Steady state, then a third source (rewriting with a new mapping), then steady again.
    run(&mut relay, &mut now, 0x2222, 30_200, 1000);
    run(&mut relay, &mut now, 0x3333, 7, 1000);
    let after = allocations();
    assert_eq!(after - before, 0, "allocations on the per-packet path");
    // The counter itself works: one deliberate allocation is seen.
    let probe = std::hint::black_box(Vec::<u8>::with_capacity(8));
    assert_eq!(allocations() - after, 1);
    drop(probe);
    assert_eq!(forwarded, 2400);
    let st = relay.stats(call, Side::A).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(st.source_changes, 2);
    assert!(st.dropped_source > 0 && st.dropped_invalid > 0);
}
