//! A bounded two-lane queue between a session handle and the task that serves it.
//!
//! Media and control travel in separate lanes because they want opposite overload policies:
//! late audio is worthless, so the media lane drops its *oldest* frame to make room (and
//! counts it); a DTMF digit or a participant event must not be silently replaced, so the
//! control lane refuses the *new* item when full (and counts it). Both lanes are bounded, and
//! storage is allocated once at creation: pushing a frame allocates nothing.
//!
//! One consumer per queue (the consumer awaits a [`Notify`] permit, which `notify_one` keeps
//! for it if it is not waiting yet, so no wake-up is lost).

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

/// Drop and refusal counters of one direction of a session queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LaneStats {
    /// Media items dropped (oldest first) because the media lane was full.
    pub media_dropped: u64,
    /// Control items refused because the control lane was full.
    pub control_refused: u64,
}

/// What a consumer takes out: control first, then media.
#[derive(Debug)]
pub(crate) enum Item<M, C> {
    Media(M),
    Control(C),
}

/// Why a push failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PushError {
    /// The consumer is gone.
    Closed,
    /// The control lane is full.
    Full,
}

#[derive(Debug)]
struct State<M, C> {
    media: VecDeque<M>,
    control: VecDeque<C>,
    media_cap: usize,
    control_cap: usize,
    closed: bool,
    stats: LaneStats,
}

/// The queue.
#[derive(Debug)]
pub(crate) struct Lanes<M, C> {
    state: Mutex<State<M, C>>,
    notify: Notify,
}

impl<M, C> Lanes<M, C> {
    /// A queue holding at most `media` media items and `control` control items (each at
    /// least 1).
    pub(crate) fn new(media: usize, control: usize) -> Self {
        let (media, control) = (media.max(1), control.max(1));
        Lanes {
            state: Mutex::new(State {
                media: VecDeque::with_capacity(media),
                control: VecDeque::with_capacity(control),
                media_cap: media,
                control_cap: control,
                closed: false,
                stats: LaneStats::default(),
            }),
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<M, C>> {
        // A panic while holding this lock cannot leave the queue inconsistent (every
        // operation is a single push or pop), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a media item, dropping the oldest one when full.
    pub(crate) fn push_media(&self, item: M) -> Result<(), PushError> {
        let mut s = self.lock();
        if s.closed {
            return Err(PushError::Closed);
        }
        if s.media.len() >= s.media_cap {
            s.media.pop_front();
            s.stats.media_dropped += 1;
        }
        s.media.push_back(item);
        drop(s);
        self.notify.notify_one();
        Ok(())
    }

    /// Queues a control item, refusing it when the control lane is full.
    pub(crate) fn push_control(&self, item: C) -> Result<(), PushError> {
        let mut s = self.lock();
        if s.closed {
            return Err(PushError::Closed);
        }
        if s.control.len() >= s.control_cap {
            s.stats.control_refused += 1;
            return Err(PushError::Full);
        }
        s.control.push_back(item);
        drop(s);
        self.notify.notify_one();
        Ok(())
    }

    /// The next item without waiting: control first.
    pub(crate) fn try_pop(&self) -> Option<Item<M, C>> {
        let mut s = self.lock();
        if let Some(c) = s.control.pop_front() {
            return Some(Item::Control(c));
        }
        s.media.pop_front().map(Item::Media)
    }

    /// The next item, waiting for one; `None` once closed and drained.
    pub(crate) async fn pop(&self) -> Option<Item<M, C>> {
        loop {
            {
                let mut s = self.lock();
                if let Some(c) = s.control.pop_front() {
                    return Some(Item::Control(c));
                }
                if let Some(m) = s.media.pop_front() {
                    return Some(Item::Media(m));
                }
                if s.closed {
                    return None;
                }
            }
            self.notify.notified().await;
        }
    }

    /// Refuses further pushes; what is queued can still be taken.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_one();
    }

    /// Whether [`Lanes::close`] was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// The counters.
    pub(crate) fn stats(&self) -> LaneStats {
        self.lock().stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_drops_oldest_and_control_refuses_newest() {
        let q: Lanes<u32, &str> = Lanes::new(2, 1);
        for i in 0..5 {
            assert_eq!(q.push_media(i), Ok(()));
        }
        assert_eq!(q.push_control("a"), Ok(()));
        assert_eq!(q.push_control("b"), Err(PushError::Full));
        assert!(matches!(q.try_pop(), Some(Item::Control("a"))));
        assert!(matches!(q.try_pop(), Some(Item::Media(3))));
        assert!(matches!(q.try_pop(), Some(Item::Media(4))));
        assert!(q.try_pop().is_none());
        assert_eq!(
            q.stats(),
            LaneStats {
                media_dropped: 3,
                control_refused: 1
            }
        );
    }

    #[tokio::test]
    async fn pop_wakes_on_push_and_ends_after_close() {
        let q = std::sync::Arc::new(Lanes::<u32, ()>::new(4, 4));
        let q2 = q.clone();
        let waiter = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(Item::Media(m)) = q2.pop().await {
                got.push(m);
            }
            got
        });
        tokio::task::yield_now().await;
        q.push_media(7).ok();
        q.push_media(8).ok();
        q.close();
        assert_eq!(q.push_media(9), Err(PushError::Closed));
        let got = waiter.await.unwrap_or_default();
        assert_eq!(got, vec![7, 8]);
    }
}
