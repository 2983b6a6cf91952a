//! Parsing SDP allocates nothing, on valid or hostile input, and neither does walking the
//! parsed view. Checked with a counting global allocator.
// A `GlobalAlloc` impl is inherently `unsafe`; this test binary only counts and delegates.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use sip_message::sdp::SessionDescription;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds the `GlobalAlloc`
// contract; the thread-local counter has a const initialiser and no destructor, so touching it
// never allocates or re-enters the allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same layout contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: `ptr` came from `System` with `layout`; forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made on this thread while running `f`.
fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

const FIXTURES: [&[u8]; 4] = [
    include_bytes!("data/sdp/carrier_offer.sdp"),
    include_bytes!("data/sdp/carrier_answer_ipv6_lf.sdp"),
    include_bytes!("data/sdp/webrtc_offer.sdp"),
    include_bytes!("data/sdp/srtp_offer.sdp"),
];

#[test]
fn the_counter_sees_allocations() {
    let n = allocations(|| {
        std::hint::black_box(Vec::<u8>::with_capacity(16));
    });
    assert!(n >= 1, "counting allocator is not installed");
}

#[test]
fn parsing_and_walking_valid_sdp_allocates_nothing() {
    for f in FIXTURES {
        let n = allocations(|| {
            let sdp = SessionDescription::parse(f).expect("fixture parses");
            let mut sum = 0usize;
            for m in sdp.media() {
                sum += m.attributes().count() + m.codecs().count() + m.candidates().count();
                sum += m
                    .crypto()
                    .flat_map(|c| c.keys())
                    .filter_map(|k| k.inline())
                    .count();
                sum += m.fingerprints().flat_map(|f| f.bytes()).count();
                sum += usize::from(m.connection().is_some());
            }
            std::hint::black_box(sum);
        });
        assert_eq!(n, 0, "allocations while parsing a fixture");
    }
}

#[test]
fn rejecting_hostile_sdp_allocates_nothing() {
    let mut long = Vec::with_capacity(70_000);
    long.resize(70_000, b'a');
    let hostile: [&[u8]; 8] = [
        b"",
        b"\xff\xfe garbage",
        b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nm=audio 99999 RTP/AVP 0\r\n",
        b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\nt=0 0\r\n",
        b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\na=crypto:1 X inline:abc|2^99\r\n",
        b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\na=candidate:1 1 udp 1 1.2.3.4 5 typ\r\n",
        b"o=- 1 1 IN IP4 192.0.2.1\r\n",
        &long,
    ];
    for input in hostile {
        let n = allocations(|| {
            let r = SessionDescription::parse(input);
            assert!(r.is_err());
        });
        assert_eq!(
            n,
            0,
            "allocations while rejecting {:?}",
            String::from_utf8_lossy(&input[..input.len().min(40)])
        );
    }
}
