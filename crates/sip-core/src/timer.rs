//! Timers as data (STYLE.md §2): every timer is named as in RFC 3261 §17 / RFC 6026, each
//! state machine keeps a table of `Option<Instant>`, and the endpoint keeps one heap of
//! deadlines with lazy invalidation.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Instant;

/// A named timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// INVITE client: request retransmission (unreliable transports), starts at T1 and doubles.
    A,
    /// INVITE client: transaction timeout, 64·T1.
    B,
    /// INVITE client: wait for response retransmissions in Completed (≥ 32 s unreliable).
    D,
    /// Non-INVITE client: request retransmission, doubling up to T2.
    E,
    /// Non-INVITE client: transaction timeout, 64·T1.
    F,
    /// INVITE server: final response retransmission, doubling up to T2.
    G,
    /// INVITE server: wait for ACK, 64·T1.
    H,
    /// INVITE server: absorb ACK retransmissions in Confirmed, T4.
    I,
    /// Non-INVITE server: absorb request retransmissions in Completed, 64·T1.
    J,
    /// Non-INVITE client: absorb response retransmissions in Completed, T4.
    K,
    /// INVITE server (RFC 6026 §8.7): linger in Accepted, 64·T1.
    L,
    /// INVITE client (RFC 6026 §8.4): linger in Accepted, 64·T1.
    M,
    /// INVITE server: send 100 Trying if the TU has not answered (§17.2.1, 200 ms).
    Trying,
    /// UAC INVITE session: the caller's ringing timeout, armed when the INVITE is sent.
    Ringing,
    /// UAS INVITE session: retransmit the 2xx, T1 doubling to T2 (§13.3.1.4).
    Retransmit2xx,
    /// UAS INVITE session: give up waiting for the ACK of a 2xx after 64·T1 (§13.3.1.4).
    AckTimeout,
    /// UAC: a CANCEL was sent and no final response to the INVITE arrived within 64·T1
    /// (§9.1: "consider the original transaction cancelled").
    CancelGuard,
}

/// Every timer, in declaration (index) order.
const TIMERS: [Timer; Timer::COUNT] = [
    Timer::A,
    Timer::B,
    Timer::D,
    Timer::E,
    Timer::F,
    Timer::G,
    Timer::H,
    Timer::I,
    Timer::J,
    Timer::K,
    Timer::L,
    Timer::M,
    Timer::Trying,
    Timer::Ringing,
    Timer::Retransmit2xx,
    Timer::AckTimeout,
    Timer::CancelGuard,
];

impl Timer {
    /// Number of distinct timers (size of a [`TimerTable`]).
    pub(crate) const COUNT: usize = 17;

    fn index(self) -> usize {
        self as usize
    }
}

/// One deadline slot per [`Timer`].
#[derive(Debug, Clone, Default)]
pub(crate) struct TimerTable {
    slots: [Option<Instant>; Timer::COUNT],
}

impl TimerTable {
    pub(crate) fn get(&self, t: Timer) -> Option<Instant> {
        self.slots[t.index()]
    }

    pub(crate) fn cancel(&mut self, t: Timer) {
        self.slots[t.index()] = None;
    }

    pub(crate) fn cancel_all(&mut self) {
        self.slots = [None; Timer::COUNT];
    }

    /// Takes the deadline of `t` if it equals `at` (the heap entry is current).
    pub(crate) fn take_if(&mut self, t: Timer, at: Instant) -> bool {
        if self.slots[t.index()] == Some(at) {
            self.slots[t.index()] = None;
            true
        } else {
            false
        }
    }

    fn set(&mut self, t: Timer, at: Instant) {
        self.slots[t.index()] = Some(at);
    }
}

/// What a heap entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Owner {
    Client(u64),
    Server(u64),
    Call(u64),
}

/// One heap entry's identity and deadline, ordered as fired: by deadline, then owner, then
/// timer (so equal deadlines fire in a deterministic order).
type Entry = (Instant, Owner, Timer);

/// Where the earliest entry lives.
#[derive(Clone, Copy)]
enum Source {
    Queue(usize),
    Heap,
}

/// The endpoint-wide deadline scheduler. Entries are never removed eagerly: a popped entry
/// whose deadline no longer matches its owner's table is stale and skipped.
///
/// Almost every SIP timer is armed as `now + d` with a `d` fixed per timer (64·T1, T4, the
/// 100 Trying delay, a ringing timeout most callers share), so the deadlines of one timer
/// arrive in order. Each timer therefore has a FIFO queue (O(1) push and pop, memory
/// touched in order), and an entry that would break its queue's order (a shorter
/// retransmission interval after a longer one, an unusual ringing timeout, time that did not
/// move forward) goes to a binary heap instead. The earliest entry is the least of the
/// queue heads and the heap's top. With a million armed timers a plain heap spent a fifth
/// of a call flow's CPU on cache misses in `pop`.
#[derive(Debug, Default)]
pub(crate) struct Scheduler {
    queues: [VecDeque<(Instant, Owner)>; Timer::COUNT],
    heap: BinaryHeap<Reverse<Entry>>,
    len: usize,
}

impl Scheduler {
    /// Arms `t` of `owner` at `at`, recording it in the owner's `table`.
    pub(crate) fn arm(&mut self, table: &mut TimerTable, owner: Owner, t: Timer, at: Instant) {
        table.set(t, at);
        self.push(owner, t, at);
    }

    /// Re-arms retransmission timer `t` at `at` and schedules the deferred `timeout` it
    /// carries once that is due by then (see [`Scheduler::defer`]).
    pub(crate) fn rearm_carrying(
        &mut self,
        table: &mut TimerTable,
        owner: Owner,
        t: Timer,
        at: Instant,
        timeout: Timer,
    ) {
        self.arm(table, owner, t, at);
        self.release(table, owner, timeout, at);
    }

    /// Records the deadline of `t` in `table` without scheduling it: for a timeout that a
    /// retransmission timer of the same owner always reaches first (B after A, F after E,
    /// the 2xx's ACK timeout after its retransmissions; all 64·T1 after a first firing at
    /// T1). The retransmission timer then re-arms with [`Scheduler::rearm_carrying`]. Most of these timeouts are
    /// cancelled by the first response long before they are due; deferred, they never
    /// enter the scheduler, which then has no stale entry to pop 64·T1 later.
    pub(crate) fn defer(table: &mut TimerTable, t: Timer, at: Instant) {
        table.set(t, at);
    }

    /// Schedules the deferred `t` of `owner` if it is due no later than `next`, the next
    /// firing of the retransmission timer that carries it. Scheduling it twice is harmless:
    /// the second entry is stale once the first fired.
    pub(crate) fn release(&mut self, table: &TimerTable, owner: Owner, t: Timer, next: Instant) {
        if let Some(at) = table.get(t) {
            if at <= next {
                self.push(owner, t, at);
            }
        }
    }

    fn push(&mut self, owner: Owner, t: Timer, at: Instant) {
        let q = &mut self.queues[t.index()];
        if q.back().is_none_or(|&(last, o)| (last, o) <= (at, owner)) {
            q.push_back((at, owner));
        } else {
            self.heap.push(Reverse((at, owner, t)));
        }
        self.len += 1;
    }

    fn earliest(&self) -> Option<(Entry, Source)> {
        let mut best = self.heap.peek().map(|Reverse(e)| (*e, Source::Heap));
        for (i, q) in self.queues.iter().enumerate() {
            if let Some(&(at, owner)) = q.front() {
                let e = (at, owner, TIMERS[i]);
                if best.is_none_or(|(b, _)| e < b) {
                    best = Some((e, Source::Queue(i)));
                }
            }
        }
        best
    }

    fn remove(&mut self, source: Source) {
        let removed = match source {
            Source::Queue(i) => self.queues[i].pop_front().is_some(),
            Source::Heap => self.heap.pop().is_some(),
        };
        if removed {
            self.len -= 1;
        }
    }

    /// Earliest entry (possibly stale).
    pub(crate) fn peek(&self) -> Option<Entry> {
        self.earliest().map(|(e, _)| e)
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Entry> {
        let (e, source) = self.earliest()?;
        if e.0 > now {
            return None;
        }
        self.remove(source);
        Some(e)
    }

    /// Removes the earliest entry (used to drop stale entries).
    pub(crate) fn pop(&mut self) {
        if let Some((_, source)) = self.earliest() {
            self.remove(source);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Keeps only entries for which `live` says yes; bounds memory when many timers were
    /// re-armed or cancelled.
    pub(crate) fn retain(&mut self, mut live: impl FnMut(Owner, Timer, Instant) -> bool) {
        for (i, q) in self.queues.iter_mut().enumerate() {
            q.retain(|&(at, owner)| live(owner, TIMERS[i], at));
        }
        let entries = std::mem::take(&mut self.heap).into_vec();
        self.heap = entries
            .into_iter()
            .filter(|Reverse((at, o, t))| live(*o, *t, *at))
            .collect();
        self.len = self.heap.len() + self.queues.iter().map(VecDeque::len).sum::<usize>();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timer_index_matches_table() {
        for (i, t) in TIMERS.iter().enumerate() {
            assert_eq!(t.index(), i, "{t:?}");
        }
    }

    /// Entries come out in (deadline, owner, timer) order whatever order they were armed
    /// in, whether they went to a queue or to the heap; the reference is a sort.
    #[test]
    fn pops_in_deadline_order_against_a_sort() {
        #[allow(clippy::disallowed_methods)] // a test needs some starting Instant
        let base = Instant::now();
        let mut s = Scheduler::default();
        let mut tables = vec![TimerTable::default(); 64];
        let mut expected = Vec::new();
        // A deterministic scramble of deadlines, owners and timers, including repeats,
        // shorter intervals after longer ones and equal deadlines.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let t = TIMERS[(x % Timer::COUNT as u64) as usize];
            let owner = match (x >> 8) % 3 {
                0 => Owner::Client((x >> 16) % 64),
                1 => Owner::Server((x >> 16) % 64),
                _ => Owner::Call((x >> 16) % 64),
            };
            let at = base + Duration::from_millis((x >> 24) % 500);
            let id = match owner {
                Owner::Client(i) | Owner::Server(i) | Owner::Call(i) => i as usize,
            };
            s.arm(&mut tables[id], owner, t, at);
            expected.push((at, owner, t));
        }
        expected.sort();
        assert_eq!(s.len(), expected.len());
        assert!(s.pop_due(expected[0].0 - Duration::from_nanos(1)).is_none());
        let mut got = Vec::new();
        while let Some(e) = s.pop_due(base + Duration::from_secs(1)) {
            got.push(e);
        }
        assert_eq!(got, expected);
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn pop_due_waits_for_the_deadline_and_retain_filters_both_stores() {
        #[allow(clippy::disallowed_methods)] // a test needs some starting Instant
        let base = Instant::now();
        let mut s = Scheduler::default();
        let mut table = TimerTable::default();
        let ms = Duration::from_millis;
        s.arm(&mut table, Owner::Call(1), Timer::A, base + ms(1000));
        // Shorter after longer: goes to the heap.
        s.arm(&mut table, Owner::Call(2), Timer::A, base + ms(500));
        s.arm(&mut table, Owner::Call(3), Timer::B, base + ms(700));
        assert_eq!(s.peek(), Some((base + ms(500), Owner::Call(2), Timer::A)));
        assert_eq!(s.pop_due(base + ms(499)), None);
        s.retain(|owner, _, _| owner != Owner::Call(2));
        assert_eq!(s.len(), 2);
        assert_eq!(
            s.pop_due(base + ms(700)),
            Some((base + ms(700), Owner::Call(3), Timer::B))
        );
        assert_eq!(s.pop_due(base + ms(999)), None);
        s.pop();
        assert_eq!(s.len(), 0);
        assert_eq!(s.peek(), None);
    }

    #[test]
    fn a_deferred_timeout_is_scheduled_only_when_released_before_it_is_due() {
        #[allow(clippy::disallowed_methods)] // a test needs some starting Instant
        let base = Instant::now();
        let ms = Duration::from_millis;
        let mut s = Scheduler::default();
        let mut table = TimerTable::default();
        let owner = Owner::Client(7);
        Scheduler::defer(&mut table, Timer::B, base + ms(32_000));
        assert_eq!(table.get(Timer::B), Some(base + ms(32_000)));
        s.release(&table, owner, Timer::B, base + ms(15_500));
        assert_eq!(s.len(), 0, "not yet: the next retransmission comes first");
        s.release(&table, owner, Timer::B, base + ms(63_500));
        assert_eq!(
            s.pop_due(base + ms(32_000)),
            Some((base + ms(32_000), owner, Timer::B))
        );
        // A timeout cancelled before it was released never enters the scheduler.
        table.cancel(Timer::F);
        Scheduler::defer(&mut table, Timer::F, base + ms(32_000));
        table.cancel(Timer::F);
        s.release(&table, owner, Timer::F, base + ms(40_000));
        assert_eq!(s.len(), 0);
    }
}
