//! The RTP port pool: even ports from `[rtp] port_range`, kept out of reuse for a drain period.
//!
//! RFC 3550 §11 recommends an even RTP port (with RTCP on the next odd one when rtcp-mux is
//! not used), so the pool hands out even ports only and reserves `port + 1` with it. A released
//! port goes to the back of a drain queue and becomes free again only `drain` after release:
//! late packets of an ended call must never reach the next call that gets the port.
//!
//! The pool is plain data and takes `now`; binding sockets is the caller's business (a port the
//! OS refuses is simply skipped and returned with [`PortPool::release`]).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Even RTP ports from an inclusive range.
#[derive(Debug)]
pub struct PortPool {
    free: VecDeque<u16>,
    draining: VecDeque<(Instant, u16)>,
    drain: Duration,
    capacity: usize,
}

impl PortPool {
    /// A pool over the even ports of `low..=high` whose `port + 1` is also in range.
    pub fn new(low: u16, high: u16, drain: Duration) -> Self {
        let first = low + (low & 1);
        let free: VecDeque<u16> = (first..high).step_by(2).collect();
        let capacity = free.len();
        Self {
            free,
            draining: VecDeque::new(),
            drain,
            capacity,
        }
    }

    /// Takes a free even port, or `None` when every port is in use or still draining.
    pub fn allocate(&mut self, now: Instant) -> Option<u16> {
        self.reclaim(now);
        self.free.pop_front()
    }

    /// Returns a port; it becomes available again `drain` after `now`.
    pub fn release(&mut self, port: u16, now: Instant) {
        self.draining.push_back((now + self.drain, port));
    }

    /// Ports that can be allocated right now.
    pub fn available(&mut self, now: Instant) -> usize {
        self.reclaim(now);
        self.free.len()
    }

    /// Number of even ports the pool manages.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Moves ports whose drain period is over back to the free list (FIFO, so the
    /// least recently used port is handed out first).
    fn reclaim(&mut self, now: Instant) {
        while let Some(&(until, port)) = self.draining.front() {
            if until > now {
                break;
            }
            self.draining.pop_front();
            self.free.push_back(port);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_even_ports_with_room_for_rtcp() {
        let now = Instant::now();
        let mut pool = PortPool::new(10001, 10008, Duration::from_secs(10));
        assert_eq!(pool.capacity(), 3);
        let ports: Vec<u16> = std::iter::from_fn(|| pool.allocate(now)).collect();
        assert_eq!(ports, vec![10002, 10004, 10006]);
    }

    #[test]
    fn released_ports_drain_before_reuse() {
        let start = Instant::now();
        let drain = Duration::from_secs(10);
        let mut pool = PortPool::new(20000, 20003, drain);
        let a = pool.allocate(start).unwrap();
        let b = pool.allocate(start).unwrap();
        assert_eq!(pool.allocate(start), None, "pool exhausted");
        pool.release(a, start);
        assert_eq!(
            pool.allocate(start + drain - Duration::from_millis(1)),
            None
        );
        assert_eq!(pool.allocate(start + drain), Some(a));
        pool.release(b, start + drain);
        assert_eq!(pool.available(start + drain), 0);
        assert_eq!(pool.available(start + drain * 2), 1);
    }

    #[test]
    fn least_recently_used_port_comes_first() {
        let t0 = Instant::now();
        let drain = Duration::from_secs(1);
        let mut pool = PortPool::new(30000, 30005, drain);
        let a = pool.allocate(t0).unwrap();
        let b = pool.allocate(t0).unwrap();
        let c = pool.allocate(t0).unwrap();
        pool.release(b, t0);
        pool.release(a, t0 + Duration::from_millis(1));
        pool.release(c, t0 + Duration::from_millis(2));
        let later = t0 + drain * 5;
        let order: Vec<u16> = std::iter::from_fn(|| pool.allocate(later)).collect();
        assert_eq!(order, vec![b, a, c]);
    }
}
