//! What protects the node from inbound traffic before a call costs anything: a per-source
//! INVITE rate limit, per-trunk concurrency caps, and the memory of failed digest attempts.
//!
//! Every structure here is bounded: scanners and floods come from many addresses and invent
//! Call-IDs, so nothing may grow with what a peer sends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Per-source INVITE rate limit (GCRA, the `governor` crate), keyed by source IP.
pub struct SourceLimiter {
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// Above this many tracked sources, idle ones are forgotten (bounds memory).
    max_sources: usize,
}

impl SourceLimiter {
    /// `per_second` INVITEs per source with bursts of `burst`; `per_second == 0` turns the
    /// limit off.
    pub fn new(per_second: u32, burst: u32, max_sources: usize) -> Self {
        let limiter = NonZeroU32::new(per_second).map(|rate| {
            let burst = NonZeroU32::new(burst.max(per_second)).unwrap_or(rate);
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        Self {
            limiter,
            max_sources,
        }
    }

    /// Whether an INVITE from `source` may go on now.
    pub fn allow(&self, source: IpAddr) -> bool {
        let Some(limiter) = &self.limiter else {
            return true;
        };
        if limiter.len() >= self.max_sources {
            // Sources whose bucket is full again carry no state worth keeping.
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        limiter.check_key(&source).is_ok()
    }
}

/// Active inbound calls per trunk, against a per-trunk cap.
#[derive(Debug, Default)]
pub struct TrunkCalls {
    active: Mutex<HashMap<String, usize>>,
}

/// Holds one slot of a trunk's cap; gives it back when dropped.
#[derive(Debug)]
pub struct TrunkSlot {
    calls: Arc<TrunkCalls>,
    trunk: String,
}

impl TrunkCalls {
    /// Takes a slot on `trunk` unless `max` (0 = unlimited) calls are already active.
    pub fn acquire(self: &Arc<Self>, trunk: &str, max: usize) -> Option<TrunkSlot> {
        let mut active = self.active.lock().unwrap_or_else(PoisonError::into_inner);
        let n = active.entry(trunk.to_owned()).or_insert(0);
        if max != 0 && *n >= max {
            return None;
        }
        *n += 1;
        Some(TrunkSlot {
            calls: self.clone(),
            trunk: trunk.to_owned(),
        })
    }

    /// Active calls on `trunk`.
    pub fn active(&self, trunk: &str) -> usize {
        self.active
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(trunk)
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for TrunkSlot {
    fn drop(&mut self) {
        let mut active = self
            .calls
            .active
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = active.get_mut(&self.trunk) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                active.remove(&self.trunk);
            }
        }
    }
}

/// What to answer a request whose credentials did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthVerdict {
    /// Challenge again with a fresh nonce (the first wrong answer of a dialog attempt: the
    /// client may have used a stale cached nonce or realm).
    Challenge,
    /// Refuse with 403 (RFC 3261 §22.2: a UAS may stop challenging a client whose
    /// credentials keep failing).
    Forbid,
}

/// Failed digest attempts per Call-ID, bounded in entries and in age.
#[derive(Debug)]
pub struct AuthFailures {
    seen: Mutex<HashMap<String, (u32, Instant)>>,
    max_entries: usize,
    keep: Duration,
    /// Wrong answers tolerated (each answered with a fresh challenge) before 403.
    tolerated: u32,
}

impl AuthFailures {
    /// Remembers up to `max_entries` Call-IDs for `keep`; answers 403 after `tolerated`
    /// wrong answers within one Call-ID.
    pub fn new(max_entries: usize, keep: Duration, tolerated: u32) -> Self {
        Self {
            seen: Mutex::new(HashMap::new()),
            max_entries,
            keep,
            tolerated,
        }
    }

    /// Records a wrong answer for `call_id` at `now` and says what to answer.
    pub fn failed(&self, call_id: &str, now: Instant) -> AuthVerdict {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.len() >= self.max_entries {
            seen.retain(|_, (_, at)| now.saturating_duration_since(*at) < self.keep);
            if seen.len() >= self.max_entries {
                // Still full of fresh entries (a flood of invented Call-IDs): forgetting
                // them only costs those clients one more challenge each.
                seen.clear();
            }
        }
        let entry = seen.entry(call_id.to_owned()).or_insert((0, now));
        if now.saturating_duration_since(entry.1) >= self.keep {
            *entry = (0, now);
        }
        entry.0 += 1;
        if entry.0 > self.tolerated {
            AuthVerdict::Forbid
        } else {
            AuthVerdict::Challenge
        }
    }

    /// Forgets `call_id` (its credentials verified).
    pub fn succeeded(&self, call_id: &str) {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(call_id);
    }

    /// Call-IDs remembered.
    pub fn remembered(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_allows_a_burst_then_refuses_per_source() {
        let limiter = SourceLimiter::new(2, 3, 100);
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let allowed = (0..10).filter(|_| limiter.allow(a)).count();
        // GCRA with burst 3: the first 3 pass at once; the rest arrive faster than 2/s.
        assert_eq!(allowed, 3);
        // Another source has its own bucket.
        assert!(limiter.allow(b));
    }

    #[test]
    fn limiter_off_when_rate_is_zero() {
        let limiter = SourceLimiter::new(0, 0, 100);
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        assert!((0..1000).all(|_| limiter.allow(a)));
    }

    #[test]
    fn trunk_cap_counts_and_releases() {
        let calls = Arc::new(TrunkCalls::default());
        let s1 = calls.acquire("ST_a", 2).expect("first");
        let s2 = calls.acquire("ST_a", 2).expect("second");
        assert!(calls.acquire("ST_a", 2).is_none(), "cap of 2 reached");
        assert!(calls.acquire("ST_b", 2).is_some(), "other trunk unaffected");
        drop(s1);
        assert_eq!(calls.active("ST_a"), 1);
        let _s3 = calls.acquire("ST_a", 2).expect("slot freed");
        drop(s2);
        assert!(calls.acquire("ST_x", 0).is_some(), "0 means unlimited");
    }

    #[test]
    fn auth_failures_challenge_once_then_forbid() {
        let f = AuthFailures::new(10, Duration::from_secs(32), 1);
        let t0 = Instant::now();
        assert_eq!(f.failed("c1", t0), AuthVerdict::Challenge);
        assert_eq!(f.failed("c1", t0), AuthVerdict::Forbid);
        assert_eq!(f.failed("c2", t0), AuthVerdict::Challenge);
        f.succeeded("c2");
        assert_eq!(f.failed("c2", t0), AuthVerdict::Challenge);
        // After `keep`, the count starts over.
        assert_eq!(
            f.failed("c1", t0 + Duration::from_secs(33)),
            AuthVerdict::Challenge
        );
    }

    #[test]
    fn auth_failures_are_bounded() {
        let f = AuthFailures::new(8, Duration::from_secs(32), 1);
        let t0 = Instant::now();
        for i in 0..1000 {
            f.failed(&format!("call-{i}"), t0);
            assert!(f.remembered() <= 8);
        }
    }
}
