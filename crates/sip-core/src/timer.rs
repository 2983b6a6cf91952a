//! Timers as data (STYLE.md §2): every timer is named as in RFC 3261 §17 / RFC 6026, each
//! state machine keeps a table of `Option<Instant>`, and the endpoint keeps one heap of
//! deadlines with lazy invalidation.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
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

/// The endpoint-wide deadline heap. Entries are never removed eagerly: a popped entry whose
/// deadline no longer matches its owner's table is stale and skipped.
#[derive(Debug, Default)]
pub(crate) struct Scheduler {
    heap: BinaryHeap<Reverse<(Instant, Owner, Timer)>>,
}

impl Scheduler {
    /// Arms `t` of `owner` at `at`, recording it in the owner's `table`.
    pub(crate) fn arm(&mut self, table: &mut TimerTable, owner: Owner, t: Timer, at: Instant) {
        table.set(t, at);
        self.heap.push(Reverse((at, owner, t)));
    }

    /// Earliest entry (possibly stale).
    pub(crate) fn peek(&self) -> Option<(Instant, Owner, Timer)> {
        self.heap.peek().map(|Reverse(e)| *e)
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, Owner, Timer)> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    /// Removes the earliest entry (used to drop stale entries).
    pub(crate) fn pop(&mut self) {
        self.heap.pop();
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// Rebuilds the heap keeping only entries for which `live` says yes; bounds memory when
    /// many timers were re-armed or cancelled.
    pub(crate) fn retain(&mut self, mut live: impl FnMut(Owner, Timer, Instant) -> bool) {
        let entries = std::mem::take(&mut self.heap).into_vec();
        self.heap = entries
            .into_iter()
            .filter(|Reverse((at, o, t))| live(*o, *t, *at))
            .collect();
    }
}
