//! Parse realistic SIP messages with sipbridge's `sip-message`, `rsipstack` and `rsip`,
//! each producing the same typed core headers (top Via branch, From tag, To tag, Call-ID,
//! CSeq number and method), and count heap allocations per message.
//!
//! Run: `cargo bench -p sipbridge-benches --bench parse`
#![allow(unsafe_code)] // the counting allocator below; nothing else.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sipbridge_benches::MESSAGES;

/// Counts allocation calls (alloc, alloc_zeroed and realloc each count once).
struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// counter is a relaxed atomic and does not touch the allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The typed core headers every parser must produce, as an owned summary used only to
/// check that the three parsers agree (outside the timed loop).
#[derive(Debug, PartialEq, Eq)]
struct Core {
    branch: String,
    from_tag: String,
    to_tag: Option<String>,
    call_id: String,
    cseq: u32,
    method: String,
}

// ---- sipbridge ----

fn sipbridge(b: &Bytes) -> usize {
    let m = sip_message::Message::parse(b.clone()).expect("sipbridge parse");
    let via = m.top_via().expect("via");
    let branch = via.branch.expect("branch");
    let from = m.from().expect("from");
    let from_tag = from.tag().expect("from tag");
    let to = m.to().expect("to");
    let to_tag = to.tag();
    let call_id = m.call_id().expect("call-id");
    let cseq = m.cseq().expect("cseq");
    black_box((branch, from_tag, to_tag, call_id, cseq));
    branch.len() + from_tag.len() + to_tag.map_or(0, str::len) + call_id.len() + cseq.seq as usize
}

fn sipbridge_core(b: &Bytes) -> Core {
    let m = sip_message::Message::parse(b.clone()).expect("sipbridge parse");
    let cseq = m.cseq().expect("cseq");
    Core {
        branch: m
            .top_via()
            .and_then(|v| v.branch.map(str::to_owned))
            .expect("branch"),
        from_tag: m
            .from()
            .and_then(|f| f.tag().map(str::to_owned))
            .expect("from tag"),
        to_tag: m.to().and_then(|t| t.tag().map(str::to_owned)),
        call_id: m.call_id().expect("call-id").to_owned(),
        cseq: cseq.seq,
        method: m.method_str().to_owned(),
    }
}

// ---- rsipstack ----

fn rsipstack_parse(b: &Bytes) -> rsipstack::sip::SipMessage {
    rsipstack::sip::SipMessage::try_from(b.clone()).expect("rsipstack parse")
}

fn rsipstack(b: &Bytes) -> usize {
    use rsipstack::sip::prelude::*;
    let m = rsipstack_parse(b);
    let via = m.via_header().expect("via").typed().expect("typed via");
    let branch = via.branch().expect("branch").to_string().len();
    let from = m.from_header().expect("from").typed().expect("typed from");
    let from_tag = from.tag().expect("from tag");
    let to = m.to_header().expect("to").typed().expect("typed to");
    let to_tag = to.tag();
    let call_id = m.call_id_header().expect("call-id").value();
    let cseq = m.cseq_header().expect("cseq").typed().expect("typed cseq");
    black_box((&from_tag, &to_tag, call_id, &cseq));
    branch + call_id.len() + cseq.seq as usize
}

fn rsipstack_core(b: &Bytes) -> Core {
    use rsipstack::sip::prelude::*;
    let m = rsipstack_parse(b);
    let cseq = m.cseq_header().expect("cseq").typed().expect("typed cseq");
    Core {
        branch: m
            .via_header()
            .unwrap()
            .typed()
            .unwrap()
            .branch()
            .unwrap()
            .to_string(),
        from_tag: m
            .from_header()
            .unwrap()
            .typed()
            .unwrap()
            .tag()
            .unwrap()
            .to_string(),
        to_tag: m
            .to_header()
            .unwrap()
            .typed()
            .unwrap()
            .tag()
            .map(|t| t.to_string()),
        call_id: m.call_id_header().unwrap().value().to_string(),
        cseq: cseq.seq,
        method: cseq.method.to_string(),
    }
}

// ---- rsip ----

fn rsip_parse(b: &Bytes) -> rsip::SipMessage {
    rsip::SipMessage::try_from(b.clone()).expect("rsip parse")
}

fn rsip(b: &Bytes) -> usize {
    use rsip::prelude::*;
    let m = rsip_parse(b);
    let via = m.via_header().expect("via").typed().expect("typed via");
    let branch = via.branch().expect("branch").to_string().len();
    let from = m.from_header().expect("from").typed().expect("typed from");
    let from_tag = from.tag().expect("from tag");
    let to = m.to_header().expect("to").typed().expect("typed to");
    let to_tag = to.tag();
    let call_id = m.call_id_header().expect("call-id").value();
    let cseq = m.cseq_header().expect("cseq").typed().expect("typed cseq");
    black_box((&from_tag, &to_tag, call_id, &cseq));
    branch + call_id.len() + cseq.seq as usize
}

fn rsip_core(b: &Bytes) -> Core {
    use rsip::prelude::*;
    let m = rsip_parse(b);
    let cseq = m.cseq_header().expect("cseq").typed().expect("typed cseq");
    Core {
        branch: m
            .via_header()
            .unwrap()
            .typed()
            .unwrap()
            .branch()
            .unwrap()
            .to_string(),
        from_tag: m
            .from_header()
            .unwrap()
            .typed()
            .unwrap()
            .tag()
            .unwrap()
            .to_string(),
        to_tag: m
            .to_header()
            .unwrap()
            .typed()
            .unwrap()
            .tag()
            .map(|t| t.to_string()),
        call_id: m.call_id_header().unwrap().value().to_string(),
        cseq: cseq.seq,
        method: cseq.method.to_string(),
    }
}

type Parser = (&'static str, fn(&Bytes) -> usize);

const PARSERS: [Parser; 3] = [
    ("sipbridge", sipbridge),
    ("rsipstack", rsipstack),
    ("rsip", rsip),
];

fn inputs() -> Vec<(&'static str, Bytes)> {
    // Shared (not static) buffers, like datagrams frozen from a BytesMut: cloning and
    // slicing them never allocates.
    MESSAGES
        .iter()
        .map(|(n, raw)| (*n, bytes::BytesMut::from(*raw).freeze()))
        .collect()
}

fn allocs_of(f: fn(&Bytes) -> usize, b: &Bytes) -> usize {
    black_box(f(b)); // warm up any lazy statics
    let before = ALLOCS.load(Ordering::Relaxed);
    black_box(f(black_box(b)));
    ALLOCS.load(Ordering::Relaxed) - before
}

fn report_and_check(inputs: &[(&'static str, Bytes)]) {
    for (name, b) in inputs {
        let s = sipbridge_core(b);
        assert_eq!(s, rsipstack_core(b), "{name}: rsipstack disagrees");
        assert_eq!(s, rsip_core(b), "{name}: rsip disagrees");
    }
    println!("\nheap allocations per message (parse + typed core headers):");
    print!("{:<14}", "message");
    for (p, _) in PARSERS {
        print!("{p:>12}");
    }
    println!();
    let mut totals = [0usize; 3];
    for (name, b) in inputs {
        print!("{name:<14}");
        for (i, (_, f)) in PARSERS.iter().enumerate() {
            let n = allocs_of(*f, b);
            totals[i] += n;
            print!("{n:>12}");
        }
        println!();
    }
    print!("{:<14}", "mean");
    for t in totals {
        print!("{:>12.1}", t as f64 / inputs.len() as f64);
    }
    println!("\n");
}

fn bench(c: &mut Criterion) {
    let inputs = inputs();
    report_and_check(&inputs);

    // All seven messages per iteration: time / 7 is the mean per message.
    let mut g = c.benchmark_group("parse_all_7");
    g.throughput(Throughput::Elements(inputs.len() as u64));
    for (pname, f) in PARSERS {
        g.bench_function(pname, |bch| {
            bch.iter(|| inputs.iter().map(|(_, b)| f(black_box(b))).sum::<usize>())
        });
    }
    g.finish();

    for (name, b) in &inputs {
        let mut g = c.benchmark_group(format!("parse/{name}"));
        g.throughput(Throughput::Bytes(b.len() as u64));
        for (pname, f) in PARSERS {
            g.bench_function(pname, |bch| bch.iter(|| f(black_box(b))));
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
