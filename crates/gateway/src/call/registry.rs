//! The node's calls: a snapshot per call that the call's own task updates and the API reads.
//!
//! The call task is the only writer of its record; API waiters only observe it through a
//! `watch` channel, so a waiter that goes away never affects the call (DESIGN.md §3).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use control::service::{CallEnd, CallFilter, CallState, TransferOutcome};
use control::{CallError, CallId, CallInfo, TransferCall};
use tokio::sync::{mpsc, oneshot, watch};

/// Commands the API sends to a call's task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallCommand {
    /// `HangupCall`: BYE when answered, CANCEL while ringing.
    Hangup,
}

/// A `TransferSIPParticipant` handed to the call's task, with where its outcome goes.
#[derive(Debug)]
pub struct TransferRequest {
    /// The validated request.
    pub req: TransferCall,
    /// The API waiter (it may be gone by the time the outcome is known).
    pub reply: oneshot::Sender<Result<TransferOutcome, CallError>>,
}

/// What a call's task receives from the API. Transfers have their own queue, which the
/// task only reads once the call is answered: one sent earlier waits there (or fails when
/// the call ends first) instead of being taken for a command the phase cannot handle.
#[derive(Debug)]
pub struct Mailbox {
    /// Hang-ups.
    pub commands: mpsc::Receiver<CallCommand>,
    /// Transfers (at most one queued; the task refuses one while another runs).
    pub transfers: mpsc::Receiver<TransferRequest>,
}

/// One call as the registry holds it.
#[derive(Debug)]
pub struct CallRecord {
    info: watch::Sender<CallInfo>,
    commands: mpsc::Sender<CallCommand>,
    transfers: mpsc::Sender<TransferRequest>,
}

impl CallRecord {
    /// The current snapshot.
    pub fn snapshot(&self) -> CallInfo {
        self.info.borrow().clone()
    }

    /// A receiver that sees every later update.
    pub fn subscribe(&self) -> watch::Receiver<CallInfo> {
        self.info.subscribe()
    }

    /// Asks the call's task to do something; false when the task is gone.
    pub fn command(&self, command: CallCommand) -> bool {
        self.commands.try_send(command).is_ok()
    }

    /// Queues a transfer for the call's task; false when the task is gone or another
    /// transfer is already queued.
    pub fn transfer(&self, transfer: TransferRequest) -> bool {
        self.transfers.try_send(transfer).is_ok()
    }
}

/// Writer side of a record, owned by the call's task.
#[derive(Debug)]
pub struct CallUpdater {
    record: Arc<CallRecord>,
    calls: Arc<Mutex<Calls>>,
}

impl CallUpdater {
    /// Applies `f` to the snapshot and notifies observers.
    pub fn update(&self, f: impl FnOnce(&mut CallInfo)) {
        self.record.info.send_modify(f);
    }

    /// Moves the call to `state` (never backwards out of `Ended`).
    pub fn set_state(&self, state: CallState) {
        self.update(|info| {
            if info.state != CallState::Ended {
                info.state = state;
                if state == CallState::Active {
                    info.answered_at = Some(SystemTime::now());
                }
            }
        });
    }

    /// Marks the call ended with `end` (only the first end counts); the record stays
    /// visible for the registry's retention period from `now`.
    pub fn end(&self, end: CallEnd, now: Instant) {
        let mut first = false;
        self.update(|info| {
            if info.end.is_none() {
                info.state = CallState::Ended;
                info.ended_at = Some(SystemTime::now());
                info.end = Some(end);
                first = true;
            }
        });
        if first {
            let id = self.record.info.borrow().call_id.clone();
            lock(&self.calls).ended(id, now);
        }
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> CallInfo {
        self.record.snapshot()
    }
}

/// The map and its bookkeeping, behind one lock.
#[derive(Debug)]
struct Calls {
    by_id: HashMap<CallId, Arc<CallRecord>>,
    /// Ended calls in the order they ended (so by end time): expiry pops from the front
    /// and never scans the live calls.
    ended: VecDeque<(Instant, CallId)>,
    /// Calls inserted and not yet ended: `max_calls` checks read it on every INVITE.
    active: usize,
    /// Most ended calls kept (memory bound: at a high call rate the retention period alone
    /// would keep hundreds of thousands); the oldest go first.
    max_ended: usize,
}

impl Calls {
    fn ended(&mut self, id: CallId, now: Instant) {
        self.active = self.active.saturating_sub(1);
        self.ended.push_back((now, id));
        while self.ended.len() > self.max_ended {
            if let Some((_, old)) = self.ended.pop_front() {
                self.by_id.remove(&old);
            }
        }
    }

    /// Drops records that ended at least `retention` before `now`.
    fn expire(&mut self, now: Instant, retention: Duration) {
        while let Some((at, _)) = self.ended.front() {
            if now.saturating_duration_since(*at) < retention {
                break;
            }
            if let Some((_, id)) = self.ended.pop_front() {
                self.by_id.remove(&id);
            }
        }
    }
}

fn lock(calls: &Mutex<Calls>) -> std::sync::MutexGuard<'_, Calls> {
    // Every critical section is a map operation: a poisoned map is still consistent.
    calls.lock().unwrap_or_else(PoisonError::into_inner)
}

/// All calls of this node, by sipbridge call id.
#[derive(Debug)]
pub struct Registry {
    calls: Arc<Mutex<Calls>>,
    /// Ended calls stay visible (GetCall, ListCalls with include_ended) this long.
    retention: Duration,
}

impl Registry {
    /// An empty registry keeping ended calls for `retention`, at most `max_ended` of them.
    pub fn new(retention: Duration, max_ended: usize) -> Self {
        Self {
            calls: Arc::new(Mutex::new(Calls {
                by_id: HashMap::new(),
                ended: VecDeque::new(),
                active: 0,
                max_ended,
            })),
            retention,
        }
    }

    /// Adds a call; returns its updater and the mailbox for its task.
    pub fn insert(&self, info: CallInfo, now: Instant) -> (CallUpdater, Mailbox) {
        // A handful of commands at most are ever pending (hangup); 8 is ample.
        let (commands, rx) = mpsc::channel(8);
        let (transfers, transfers_rx) = mpsc::channel(1);
        let id = info.call_id.clone();
        let record = Arc::new(CallRecord {
            info: watch::Sender::new(info),
            commands,
            transfers,
        });
        let mut calls = lock(&self.calls);
        calls.expire(now, self.retention);
        calls.active += 1;
        calls.by_id.insert(id, record.clone());
        drop(calls);
        let updater = CallUpdater {
            record,
            calls: self.calls.clone(),
        };
        let mailbox = Mailbox {
            commands: rx,
            transfers: transfers_rx,
        };
        (updater, mailbox)
    }

    /// A call by id.
    pub fn get(&self, id: &CallId) -> Option<Arc<CallRecord>> {
        lock(&self.calls).by_id.get(id).cloned()
    }

    /// The live call of participant `identity` in `room`. Should a room hold two calls
    /// under one identity, an answered one before one still ringing, then the newest.
    pub fn find_participant(&self, room: &str, identity: &str) -> Option<Arc<CallRecord>> {
        let calls = lock(&self.calls);
        calls
            .by_id
            .values()
            .filter(|r| {
                let info = r.info.borrow();
                info.state != CallState::Ended
                    && info.room_name == room
                    && info.participant_identity == identity
            })
            .max_by_key(|r| {
                let info = r.info.borrow();
                (info.state == CallState::Active, info.created_at)
            })
            .cloned()
    }

    /// Snapshots of the calls that match `filter`, oldest first.
    pub fn list(&self, filter: &CallFilter, now: Instant) -> Vec<CallInfo> {
        let mut calls = lock(&self.calls);
        calls.expire(now, self.retention);
        let mut out: Vec<CallInfo> = calls
            .by_id
            .values()
            .map(|r| r.snapshot())
            .filter(|info| filter.include_ended || info.state != CallState::Ended)
            .filter(|info| {
                filter
                    .room_name
                    .as_ref()
                    .is_none_or(|room| &info.room_name == room)
            })
            .collect();
        out.sort_by_key(|info| info.created_at);
        out
    }

    /// Calls not yet ended (O(1): read on every INVITE).
    pub fn active(&self) -> usize {
        lock(&self.calls).active
    }
}

#[cfg(test)]
mod tests {
    use control::service::{CallDirection, EndCause};

    use super::*;

    fn info(id: &str) -> CallInfo {
        CallInfo {
            call_id: CallId(id.to_owned()),
            participant_id: String::new(),
            participant_identity: String::new(),
            room_name: "r".into(),
            state: CallState::Ringing,
            direction: CallDirection::Inbound,
            trunk_id: String::new(),
            from_number: String::new(),
            to_number: String::new(),
            created_at: SystemTime::now(),
            answered_at: None,
            ended_at: None,
            end: None,
        }
    }

    fn end() -> CallEnd {
        CallEnd {
            cause: EndCause::RemoteHangup,
            sip_status: None,
            timeout_cause: None,
        }
    }

    #[test]
    fn active_counts_and_retention_expire_in_end_order() {
        let reg = Registry::new(Duration::from_secs(10), 100);
        let t0 = Instant::now();
        let (a, _ra) = reg.insert(info("a"), t0);
        let (b, _rb) = reg.insert(info("b"), t0);
        let (_c, _rc) = reg.insert(info("c"), t0);
        assert_eq!(reg.active(), 3);
        b.end(end(), t0 + Duration::from_secs(1));
        b.end(end(), t0 + Duration::from_secs(2)); // a second end changes nothing
        a.end(end(), t0 + Duration::from_secs(5));
        assert_eq!(reg.active(), 1);
        let all = CallFilter {
            include_ended: true,
            room_name: None,
        };
        // Both ended calls are still visible within their retention ...
        assert_eq!(reg.list(&all, t0 + Duration::from_secs(10)).len(), 3);
        // ... b expires 10 s after its end, a 10 s after its own.
        assert_eq!(reg.list(&all, t0 + Duration::from_secs(11)).len(), 2);
        assert!(reg.get(&CallId("b".into())).is_none());
        assert!(reg.get(&CallId("a".into())).is_some());
        assert_eq!(reg.list(&all, t0 + Duration::from_secs(15)).len(), 1);
        let live = CallFilter {
            include_ended: false,
            room_name: None,
        };
        assert_eq!(reg.list(&live, t0 + Duration::from_secs(15)).len(), 1);
        assert_eq!(reg.active(), 1);
    }

    #[test]
    fn a_participant_is_found_by_room_and_identity_while_its_call_lives() {
        let reg = Registry::new(Duration::from_secs(10), 100);
        let t0 = Instant::now();
        let with = |id: &str, room: &str, identity: &str, age_s: u64| {
            let mut i = info(id);
            i.room_name = room.into();
            i.participant_identity = identity.into();
            i.created_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1000 - age_s);
            i
        };
        let (old, _m1) = reg.insert(with("old", "r", "alice", 20), t0);
        let (_new, _m2) = reg.insert(with("new", "r", "alice", 10), t0);
        let (_other, _m3) = reg.insert(with("other", "s", "alice", 5), t0);
        let found = |room, who| {
            reg.find_participant(room, who)
                .map(|r| r.snapshot().call_id.0)
        };
        assert_eq!(found("r", "alice").as_deref(), Some("new"), "the newest");
        assert_eq!(found("s", "alice").as_deref(), Some("other"));
        assert_eq!(found("r", "bob"), None);
        assert_eq!(found("t", "alice"), None);
        // An answered call is preferred to a newer one still ringing.
        old.set_state(CallState::Active);
        assert_eq!(found("r", "alice").as_deref(), Some("old"));
        // An ended call is no longer transferable.
        old.end(end(), t0);
        let (newest, _m4) = reg.insert(with("newest", "r", "alice", 1), t0);
        assert_eq!(found("r", "alice").as_deref(), Some("newest"));
        newest.end(end(), t0);
        assert_eq!(found("r", "alice").as_deref(), Some("new"));
    }

    #[test]
    fn ended_calls_are_bounded_oldest_first() {
        let reg = Registry::new(Duration::from_secs(3600), 2);
        let t0 = Instant::now();
        let mut updaters = Vec::new();
        for id in ["a", "b", "c", "d"] {
            let (u, rx) = reg.insert(info(id), t0);
            updaters.push((u, rx));
        }
        for (i, (u, _)) in updaters.iter().enumerate() {
            u.end(end(), t0 + Duration::from_secs(i as u64));
        }
        let all = CallFilter {
            include_ended: true,
            room_name: None,
        };
        let kept: Vec<String> = reg
            .list(&all, t0 + Duration::from_secs(5))
            .into_iter()
            .map(|i| i.call_id.0)
            .collect();
        assert_eq!(kept.len(), 2, "{kept:?}");
        assert!(reg.get(&CallId("a".into())).is_none());
        assert!(reg.get(&CallId("b".into())).is_none());
        assert!(reg.get(&CallId("d".into())).is_some());
        assert_eq!(reg.active(), 0);
    }
}
