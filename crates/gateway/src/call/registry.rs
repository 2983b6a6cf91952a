//! The node's calls: a snapshot per call that the call's own task updates and the API reads.
//!
//! The call task is the only writer of its record; API waiters only observe it through a
//! `watch` channel, so a waiter that goes away never affects the call (DESIGN.md §3).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use control::service::{CallEnd, CallFilter, CallState};
use control::{CallId, CallInfo};
use tokio::sync::{mpsc, watch};

/// Commands the API sends to a call's task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallCommand {
    /// `HangupCall`: BYE when answered, CANCEL while ringing.
    Hangup,
}

/// One call as the registry holds it.
#[derive(Debug)]
pub struct CallRecord {
    info: watch::Sender<CallInfo>,
    commands: mpsc::Sender<CallCommand>,
    /// Set once the call has ended, to expire the record after the retention period.
    ended_at: Mutex<Option<Instant>>,
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
}

/// Writer side of a record, owned by the call's task.
#[derive(Debug)]
pub struct CallUpdater {
    record: Arc<CallRecord>,
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

    /// Marks the call ended with `end` (only the first end counts).
    pub fn end(&self, end: CallEnd, now: Instant) {
        self.update(|info| {
            if info.end.is_none() {
                info.state = CallState::Ended;
                info.ended_at = Some(SystemTime::now());
                info.end = Some(end);
            }
        });
        *self
            .record
            .ended_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(now);
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> CallInfo {
        self.record.snapshot()
    }
}

/// All calls of this node, by sipbridge call id.
#[derive(Debug)]
pub struct Registry {
    calls: Mutex<HashMap<CallId, Arc<CallRecord>>>,
    /// Ended calls stay visible (GetCall, ListCalls with include_ended) this long.
    retention: Duration,
}

impl Registry {
    /// An empty registry keeping ended calls for `retention`.
    pub fn new(retention: Duration) -> Self {
        Self {
            calls: Mutex::new(HashMap::new()),
            retention,
        }
    }

    /// Adds a call; returns its updater and the command receiver for its task.
    pub fn insert(
        &self,
        info: CallInfo,
        now: Instant,
    ) -> (CallUpdater, mpsc::Receiver<CallCommand>) {
        // A handful of commands at most are ever pending (hangup); 8 is ample.
        let (commands, rx) = mpsc::channel(8);
        let record = Arc::new(CallRecord {
            info: watch::Sender::new(info.clone()),
            commands,
            ended_at: Mutex::new(None),
        });
        let mut calls = self.lock();
        self.expire(&mut calls, now);
        calls.insert(info.call_id.clone(), record.clone());
        (CallUpdater { record }, rx)
    }

    /// A call by id.
    pub fn get(&self, id: &CallId) -> Option<Arc<CallRecord>> {
        self.lock().get(id).cloned()
    }

    /// Snapshots of the calls that match `filter`, oldest first.
    pub fn list(&self, filter: &CallFilter, now: Instant) -> Vec<CallInfo> {
        let mut calls = self.lock();
        self.expire(&mut calls, now);
        let mut out: Vec<CallInfo> = calls
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

    /// Calls not yet ended.
    pub fn active(&self) -> usize {
        self.lock()
            .values()
            .filter(|r| r.info.borrow().state != CallState::Ended)
            .count()
    }

    fn expire(&self, calls: &mut HashMap<CallId, Arc<CallRecord>>, now: Instant) {
        calls.retain(|_, r| {
            r.ended_at
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_none_or(|at| now.duration_since(at) < self.retention)
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CallId, Arc<CallRecord>>> {
        // Every critical section is a map operation: a poisoned map is still consistent.
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
