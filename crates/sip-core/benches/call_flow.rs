//! Complete call flows between an in-memory UAC and UAS endpoint:
//! INVITE → 100 → 180 → 200 (SDP) → ACK → BYE → 200, every message written by one
//! endpoint and parsed by the other. Throughput is counted in flows.
//!
//! `cargo bench -p sip-core --bench call_flow`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "support/world.rs"]
mod world;

fn call_flow(c: &mut Criterion) {
    let mut g = c.benchmark_group("call_flow");
    g.throughput(Throughput::Elements(1));
    let mut world = world::World::new();
    g.bench_function("invite_100_180_200_ack_bye_200", |b| {
        b.iter(|| world.flow())
    });
    g.finish();
}

criterion_group!(benches, call_flow);
criterion_main!(benches);
