//! Runs N complete call flows (the `call_flow` bench's loop without criterion), for
//! instruction counts under callgrind, which stay stable on a busy machine:
//!
//! `valgrind --tool=callgrind target/release/examples/call_flows 20000`
//!
//! Instructions per flow = (Ir at N₂ − Ir at N₁) / (N₂ − N₁), which removes setup cost.

#[path = "../benches/support/world.rs"]
mod world;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let mut w = world::World::new();
    for _ in 0..n {
        w.flow();
    }
    println!("{n} flows");
}
