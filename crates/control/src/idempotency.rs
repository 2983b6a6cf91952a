//! Never dial twice: a bounded map from an idempotency key (the
//! `X-Livekit-Request-Id` header, which SDKs keep across their own retries) to the
//! outcome of the first attempt, shared with every repeat.
//!
//! DESIGN.md §5: creating a participant is not idempotent on the phone network. A
//! repeat with the same key — while the first attempt is still in flight or after it
//! finished — attaches to the first attempt and receives its outcome.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// Why a key could not be claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdempotencyError {
    /// The key is in use by a request with a different fingerprint.
    #[error("idempotency key reused for a different request")]
    Conflict,
    /// The map is full of attempts still in flight.
    #[error("too many attempts in flight")]
    Full,
}

/// The result of [`IdempotencyMap::claim`].
#[derive(Debug)]
pub enum Claim<V> {
    /// This is the first attempt with the key: do the work, then
    /// [`Publisher::publish`] the outcome.
    First(Publisher<V>),
    /// Another attempt owns the key: wait for its outcome.
    Attached(Waiter<V>),
}

/// Publishes the outcome of the first attempt to every waiter.
#[derive(Debug)]
pub struct Publisher<V> {
    tx: watch::Sender<Option<Finished<V>>>,
}

impl<V> Publisher<V> {
    /// Publishes the outcome, reached at `now`. Dropping a publisher without
    /// publishing tells waiters the attempt ended without an outcome.
    pub fn publish(self, now: Instant, value: V) {
        // `send_replace` stores the value even when nobody is waiting yet, so later
        // repeats still find it.
        self.tx.send_replace(Some(Finished { value, at: now }));
    }
}

/// Waits for the outcome of the first attempt.
#[derive(Debug)]
pub struct Waiter<V> {
    rx: watch::Receiver<Option<Finished<V>>>,
}

impl<V: Clone> Waiter<V> {
    /// The outcome; `None` if the first attempt ended without publishing one.
    /// Not bounded here: the caller bounds the wait by its own [`crate::Deadline`].
    pub async fn wait(mut self) -> Option<V> {
        if let Ok(v) = self.rx.wait_for(Option::is_some).await {
            return v.as_ref().map(|f| f.value.clone());
        }
        // The publisher is gone; it may still have published just before leaving.
        self.rx.borrow().as_ref().map(|f| f.value.clone())
    }
}

#[derive(Debug)]
struct Finished<V> {
    value: V,
    at: Instant,
}

struct Entry<V> {
    fingerprint: u64,
    created: Instant,
    rx: watch::Receiver<Option<Finished<V>>>,
}

impl<V> Entry<V> {
    /// When the attempt stopped being in flight: when its outcome was published, or
    /// (abandoned without an outcome) when it started. `None` while in flight:
    /// in-flight entries are never expired or evicted, since forgetting one would let
    /// a repeat dial again.
    fn finished_at(&self) -> Option<Instant> {
        if let Some(f) = self.rx.borrow().as_ref() {
            return Some(f.at);
        }
        self.rx.has_changed().is_err().then_some(self.created)
    }

    fn expired(&self, now: Instant, retention: Duration) -> bool {
        self.finished_at()
            .is_some_and(|at| now.saturating_duration_since(at) >= retention)
    }
}

/// Key → outcome of the first attempt; bounded in entries, entries expire.
///
/// - A finished entry is remembered for `retention` after its outcome was published,
///   then forgotten (a repeat after that is a new request).
/// - In-flight entries never expire or get evicted; when `max_entries` in-flight
///   attempts exist, [`IdempotencyMap::claim`] refuses with [`IdempotencyError::Full`].
/// - When full, expired entries go first, then the longest-finished ones.
pub struct IdempotencyMap<V> {
    entries: Mutex<HashMap<String, Entry<V>>>,
    max_entries: usize,
    retention: Duration,
}

impl<V: Clone> IdempotencyMap<V> {
    /// A map holding at most `max_entries` keys (at least 1), remembering finished
    /// attempts for `retention`.
    pub fn new(max_entries: usize, retention: Duration) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            max_entries: max_entries.max(1),
            retention,
        }
    }

    /// Claims `key` for a request with `fingerprint` (a hash of the validated
    /// request) at `now`.
    pub fn claim(
        &self,
        key: &str,
        fingerprint: u64,
        now: Instant,
    ) -> Result<Claim<V>, IdempotencyError> {
        // A poisoned lock only means another thread panicked mid-update of a plain
        // map; the map itself is still consistent.
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(e) = entries.get(key) {
            if !e.expired(now, self.retention) {
                if e.fingerprint != fingerprint {
                    return Err(IdempotencyError::Conflict);
                }
                return Ok(Claim::Attached(Waiter { rx: e.rx.clone() }));
            }
            entries.remove(key);
        }
        if entries.len() >= self.max_entries {
            let retention = self.retention;
            entries.retain(|_, e| !e.expired(now, retention));
            while entries.len() >= self.max_entries {
                let oldest = entries
                    .iter()
                    .filter_map(|(k, e)| Some((e.finished_at()?, k)))
                    .min()
                    .map(|(_, k)| k.clone());
                match oldest {
                    Some(k) => {
                        entries.remove(&k);
                    }
                    None => return Err(IdempotencyError::Full),
                }
            }
        }
        let (tx, rx) = watch::channel(None);
        entries.insert(
            key.to_owned(),
            Entry {
                fingerprint,
                created: now,
                rx,
            },
        );
        Ok(Claim::First(Publisher { tx }))
    }

    /// Number of keys held (in flight or remembered).
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<V> std::fmt::Debug for IdempotencyMap<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotencyMap")
            .field("max_entries", &self.max_entries)
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RETAIN: Duration = Duration::from_secs(60);

    fn first<V: std::fmt::Debug>(c: Result<Claim<V>, IdempotencyError>) -> Publisher<V> {
        match c {
            Ok(Claim::First(p)) => p,
            other => panic!("expected First, got {other:?}"),
        }
    }

    fn attached<V: std::fmt::Debug>(c: Result<Claim<V>, IdempotencyError>) -> Waiter<V> {
        match c {
            Ok(Claim::Attached(w)) => w,
            other => panic!("expected Attached, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn repeat_while_in_flight_gets_the_first_outcome() {
        let m = IdempotencyMap::<u32>::new(8, RETAIN);
        let now = Instant::now();
        let p = first(m.claim("k", 1, now));
        let w = attached(m.claim("k", 1, now));
        let waiting = tokio::spawn(w.wait());
        p.publish(now, 7);
        assert_eq!(waiting.await.expect("join"), Some(7));
        // After it finished, too.
        assert_eq!(
            attached(m.claim("k", 1, now + Duration::from_secs(1)))
                .wait()
                .await,
            Some(7)
        );
    }

    #[tokio::test]
    async fn different_request_same_key_conflicts() {
        let m = IdempotencyMap::<u32>::new(8, RETAIN);
        let now = Instant::now();
        let _p = first(m.claim("k", 1, now));
        assert_eq!(m.claim("k", 2, now).err(), Some(IdempotencyError::Conflict));
    }

    #[tokio::test]
    async fn finished_entries_expire_in_flight_ones_do_not() {
        let m = IdempotencyMap::<u32>::new(8, RETAIN);
        let now = Instant::now();
        let _p = first(m.claim("busy", 1, now));
        // Retention counts from the outcome, not from the start: a long ring that
        // finishes late is still remembered for the full retention.
        let finished = now + RETAIN * 2;
        first(m.claim("done", 1, now)).publish(finished, 1);
        assert!(matches!(
            m.claim("done", 1, finished + RETAIN - Duration::from_secs(1)),
            Ok(Claim::Attached(_))
        ));
        let later = finished + RETAIN;
        let _again = first(m.claim("done", 1, later));
        assert!(matches!(
            m.claim("busy", 1, later + RETAIN * 10),
            Ok(Claim::Attached(_))
        ));
    }

    #[tokio::test]
    async fn abandoned_attempt_releases_waiters() {
        let m = IdempotencyMap::<u32>::new(8, RETAIN);
        let now = Instant::now();
        let p = first(m.claim("k", 1, now));
        let w = attached(m.claim("k", 1, now));
        drop(p);
        assert_eq!(w.wait().await, None);
    }

    #[tokio::test]
    async fn bounded_evicts_finished_then_refuses() {
        let m = IdempotencyMap::<u32>::new(2, RETAIN);
        let now = Instant::now();
        first(m.claim("a", 1, now)).publish(now, 1);
        let _b = first(m.claim("b", 1, now + Duration::from_secs(1)));
        // Full: the finished "a" is evicted for "c".
        let _c = first(m.claim("c", 1, now + Duration::from_secs(2)));
        assert_eq!(m.len(), 2);
        // Now both entries are in flight: refuse rather than forget one.
        assert_eq!(
            m.claim("d", 1, now + Duration::from_secs(3)).err(),
            Some(IdempotencyError::Full)
        );
        assert!(matches!(m.claim("b", 1, now), Ok(Claim::Attached(_))));
    }
}
