//! Rough CPU cost of the relay core's per-packet call, without sockets: N calls, each
//! sending 172-byte PCMU packets both ways, fed through `Relay::handle_datagram` in
//! arrival order. Not a benchmark of the gateway (no syscalls, no batching); the real relay
//! benchmark drives the I/O shell.
//!
//! `cargo run --release -p rtp-relay --example relay_core_cost -- [calls] [seconds of media]`
#![allow(clippy::print_stdout)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use rtp_relay::relay::{
    Action, CallConfig, LegConfig, MediaTimeouts, Relay, RelayConfig, SocketId,
};
use rtp_relay::rtp::RtpHeader;

fn main() {
    let mut args = std::env::args().skip(1);
    let calls: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(3000);
    let seconds: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    #[allow(clippy::disallowed_methods)] // the example measures wall time; the core does not
    let t0 = Instant::now();
    let mut relay = Relay::new(
        RelayConfig {
            max_calls: calls as usize,
            max_sockets: 2 * calls + 2,
            event_queue_limit: 4096,
        },
        t0,
    );
    let peer = |i: u32| {
        SocketAddr::new(
            Ipv4Addr::new(10, (i >> 16) as u8, (i >> 8) as u8, i as u8).into(),
            4000,
        )
    };
    for c in 0..calls {
        let cfg = CallConfig {
            a: LegConfig {
                remote_rtp: Some(peer(2 * c)),
                ..LegConfig::new(SocketId(2 * c))
            },
            b: LegConfig {
                remote_rtp: Some(peer(2 * c + 1)),
                ..LegConfig::new(SocketId(2 * c + 1))
            },
            timeouts: MediaTimeouts {
                no_media: Some(Duration::from_secs(30)),
                silence: Some(Duration::from_secs(30)),
            },
            ringing: false,
        };
        if let Err(e) = relay.add_call(t0, cfg) {
            println!("add_call: {e}");
            return;
        }
    }
    let mut buf = [0u8; 172];
    let payload = [0xd5u8; 160];
    let mut now = t0;
    let mut sent = 0u64;
    let mut packets = 0u64;
    #[allow(clippy::disallowed_methods)]
    let start = Instant::now();
    let cpu_start = thread_cpu_ns();
    for tick in 0..(50 * seconds) {
        for sock in 0..2 * calls {
            let n = match (RtpHeader {
                marker: false,
                payload_type: 0,
                sequence: tick as u16,
                timestamp: tick * 160,
                ssrc: sock,
            })
            .write(&payload, &mut buf)
            {
                Ok(n) => n,
                Err(e) => {
                    println!("write: {e}");
                    return;
                }
            };
            if let Action::Send(_) =
                relay.handle_datagram(now, SocketId(sock), peer(sock), &mut buf[..n])
            {
                sent += 1;
            }
            packets += 1;
            while relay.poll_event().is_some() {}
        }
        now += Duration::from_millis(20);
        if relay.poll_timeout().is_some_and(|t| t <= now) {
            relay.handle_timeout(now);
        }
    }
    let cpu = thread_cpu_ns().saturating_sub(cpu_start);
    let elapsed = start.elapsed();
    println!(
        "{calls} calls, {packets} packets ({sent} forwarded): wall {:.3} s = {:.0} ns/packet; \
         thread CPU {:.3} s = {:.0} ns/packet (including building each packet)",
        elapsed.as_secs_f64(),
        elapsed.as_nanos() as f64 / packets as f64,
        cpu as f64 / 1e9,
        cpu as f64 / packets as f64,
    );
}

/// CPU time of the calling thread in ns (Linux `/proc/thread-self/schedstat`, first
/// field), which unlike wall time does not count time other processes held the core.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
