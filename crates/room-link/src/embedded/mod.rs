//! Embedded rooms: rooms that live inside sipbridge.
//!
//! [`EmbeddedRooms`] is the [`RoomLink`]: a registry that creates a room on its first join
//! and removes it when its last participant leaves. Each room is one tokio task owning a
//! sans-IO [`Mixer`]; the task only moves frames between the sessions' queues and the mixer
//! and sleeps until the mixer's next tick, so the audio logic is tested without it.
//!
//! A participant's session codec is the first of the join's offered codecs (the mixer speaks
//! all of PCMU, PCMA, G.722 and Opus), so the gateway always passes its SIP leg's payloads
//! through untouched to the room.

pub mod mixer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use tokio::sync::{mpsc, oneshot};

use crate::error::Error;
use crate::session::{
    BoxFuture, CloseReason, FromSession, JoinRequest, LinkSide, Outbound, ParticipantId,
    QueueConfig, RoomEvent, RoomLink, RoomSession, SessionControl, SessionInfo, SessionMedia,
};
pub use mixer::{Mixer, MixerConfig, MixerStats, ParticipantMedia};

/// Settings of [`EmbeddedRooms`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedConfig {
    /// The mixer of each room.
    pub mixer: MixerConfig,
    /// Session queue sizes.
    pub queues: QueueConfig,
    /// Commands (join, leave, close) a room task holds; joins beyond it get
    /// [`Error::Busy`].
    pub command_queue: usize,
    /// Longest wait for a room task to confirm a leave. Local, so it only bounds a stuck
    /// task; 1 s is generous.
    pub leave_timeout: Duration,
    /// Seed of the RNG that draws SSRCs, sequence numbers and timestamps (RFC 3550 §5.1
    /// wants them random; the caller seeds, so tests are reproducible).
    pub seed: u64,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        EmbeddedConfig {
            mixer: MixerConfig::default(),
            queues: QueueConfig::default(),
            command_queue: 64,
            leave_timeout: Duration::from_secs(1),
            seed: 0,
        }
    }
}

/// The registry of embedded rooms; the embedded [`RoomLink`].
#[derive(Debug, Clone)]
pub struct EmbeddedRooms {
    inner: Arc<Registry>,
}

#[derive(Debug)]
struct Registry {
    cfg: EmbeddedConfig,
    rooms: Mutex<HashMap<String, RoomEntry>>,
    rng: Mutex<ChaCha8Rng>,
}

#[derive(Debug)]
struct RoomEntry {
    tx: mpsc::Sender<Command>,
}

enum Command {
    Join {
        req: JoinRequest,
        now: Instant,
        reply: oneshot::Sender<Result<RoomSession, Error>>,
    },
    Leave {
        id: ParticipantId,
        reply: Option<oneshot::Sender<()>>,
    },
    Close,
}

impl EmbeddedRooms {
    /// An empty registry. Rooms are tokio tasks: call from within a runtime.
    #[must_use]
    pub fn new(cfg: EmbeddedConfig) -> Self {
        EmbeddedRooms {
            inner: Arc::new(Registry {
                cfg,
                rooms: Mutex::new(HashMap::new()),
                rng: Mutex::new(ChaCha8Rng::seed_from_u64(cfg.seed)),
            }),
        }
    }

    /// Names of the rooms that exist now.
    #[must_use]
    pub fn rooms(&self) -> Vec<String> {
        let mut v: Vec<String> = self.inner.lock_rooms().keys().cloned().collect();
        v.sort();
        v
    }

    /// Closes a room: every participant gets [`RoomEvent::Closed`] and the room is removed.
    /// Returns whether the close was queued (`false` for an unknown room, or one whose
    /// command queue is full).
    pub fn close_room(&self, room: &str) -> bool {
        let rooms = self.inner.lock_rooms();
        match rooms.get(room) {
            Some(e) => e.tx.try_send(Command::Close).is_ok(),
            None => false,
        }
    }
}

impl Registry {
    fn lock_rooms(&self) -> MutexGuard<'_, HashMap<String, RoomEntry>> {
        // Every critical section is a map lookup or update: a poisoned map is consistent.
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn seed(&self) -> u64 {
        self.rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next_u64()
    }
}

impl RoomLink for EmbeddedRooms {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    fn join(
        &self,
        req: JoinRequest,
        deadline: Instant,
    ) -> BoxFuture<'_, Result<RoomSession, Error>> {
        Box::pin(async move {
            if req.media.codecs.is_empty() {
                return Err(Error::InvalidRequest("no codec offered"));
            }
            let now = tokio::time::Instant::now().into_std();
            let budget = deadline.saturating_duration_since(now);
            let (reply, answer) = oneshot::channel();
            // Two attempts: a room may remove itself between our lookup and our send; the
            // second attempt then creates a fresh room.
            let room = req.room.clone();
            let mut cmd = Command::Join { req, now, reply };
            let mut sent = false;
            for _ in 0..2 {
                let mut rooms = self.inner.lock_rooms();
                let tx = match rooms.get(&room) {
                    Some(e) => e.tx.clone(),
                    None => {
                        let tx = spawn_room(&self.inner, room.clone());
                        rooms.insert(room.clone(), RoomEntry { tx: tx.clone() });
                        tx
                    }
                };
                // Sent while the registry is locked: a room decides to remove itself under
                // the same lock, after checking that no command is pending.
                match tx.try_send(cmd) {
                    Ok(()) => {
                        sent = true;
                        break;
                    }
                    Err(mpsc::error::TrySendError::Full(_)) => return Err(Error::Busy),
                    Err(mpsc::error::TrySendError::Closed(c)) => {
                        rooms.remove(&room);
                        cmd = c;
                    }
                }
            }
            if !sent {
                return Err(Error::Closed);
            }
            match tokio::time::timeout(budget, answer).await {
                Ok(Ok(r)) => r,
                Ok(Err(_)) => Err(Error::Closed),
                Err(_) => Err(Error::Timeout {
                    step: "join",
                    after: budget,
                }),
            }
        })
    }
}

fn spawn_room(reg: &Arc<Registry>, name: String) -> mpsc::Sender<Command> {
    let (tx, rx) = mpsc::channel(reg.cfg.command_queue.max(1));
    let task = RoomTask {
        reg: reg.clone(),
        name,
        tx: tx.clone(),
        rx,
        mixer: Mixer::new(reg.cfg.mixer),
        sides: Vec::new(),
        rng: ChaCha8Rng::seed_from_u64(reg.seed()),
    };
    tokio::spawn(task.run());
    tx
}

struct RoomTask {
    reg: Arc<Registry>,
    name: String,
    tx: mpsc::Sender<Command>,
    rx: mpsc::Receiver<Command>,
    mixer: Mixer,
    sides: Vec<(ParticipantId, LinkSide)>,
    rng: ChaCha8Rng,
}

impl RoomTask {
    async fn run(mut self) {
        loop {
            let wake = self
                .mixer
                .poll_timeout()
                .map(tokio::time::Instant::from_std);
            let cmd = tokio::select! {
                cmd = self.rx.recv() => cmd,
                () = sleep_until(wake) => {
                    self.tick();
                    continue;
                }
            };
            match cmd {
                Some(Command::Join { req, now, reply }) => {
                    let r = self.join(req, now);
                    // A joiner that gave up (deadline) drops the receiver; the session is
                    // then dropped here, which leaves the room again.
                    let _ = reply.send(r);
                }
                Some(Command::Leave { id, reply }) => {
                    self.remove(id);
                    if let Some(r) = reply {
                        let _ = r.send(());
                    }
                }
                Some(Command::Close) | None => {
                    self.close();
                    return;
                }
            }
            self.route();
            if self.mixer.is_empty() && self.try_retire() {
                return;
            }
        }
    }

    fn join(&mut self, req: JoinRequest, now: Instant) -> Result<RoomSession, Error> {
        let caps = &req.media;
        let codec = *caps
            .codecs
            .first()
            .ok_or(Error::InvalidRequest("no codec offered"))?;
        let ptime_ms = u32::try_from(caps.ptime.as_millis()).unwrap_or(u32::MAX);
        let media = ParticipantMedia {
            codec,
            telephone_event: caps.telephone_event,
            ptime_ms,
            ssrc: self.rng.next_u32(),
            initial_sequence: self.rng.next_u32() as u16,
            initial_timestamp: self.rng.next_u32(),
        };
        let id =
            self.mixer
                .add_participant(now, &req.identity, &req.name, &req.attributes, media)?;
        let info = SessionInfo {
            room: self.name.clone(),
            participant: id,
            media: SessionMedia {
                codec,
                telephone_event: caps.telephone_event,
                ptime: caps.ptime,
            },
        };
        let control = Box::new(EmbeddedControl {
            tx: self.tx.clone(),
            id,
            leave_timeout: self.reg.cfg.leave_timeout,
        });
        let (session, side) = RoomSession::new(info, self.reg.cfg.queues, control);
        self.sides.push((id, side));
        Ok(session)
    }

    fn remove(&mut self, id: ParticipantId) {
        // What the participant sent before leaving still counts: a digit pressed just before
        // hanging up must reach the others.
        if let Some((_, side)) = self.sides.iter().find(|(p, _)| *p == id) {
            let now = tokio::time::Instant::now().into_std();
            while let Some(item) = side.try_take() {
                feed(&mut self.mixer, now, id, item);
            }
        }
        self.mixer.remove_participant(id);
        if let Some(i) = self.sides.iter().position(|(p, _)| *p == id) {
            let (_, side) = self.sides.swap_remove(i);
            side.finish(None);
        }
    }

    /// Moves what the sessions sent into the mixer, runs due ticks, moves the output out.
    fn tick(&mut self) {
        let now = tokio::time::Instant::now().into_std();
        let mut gone = Vec::new();
        for (id, side) in &self.sides {
            // Bounded: a session's queue holds at most its configured size.
            while let Some(item) = side.try_take() {
                feed(&mut self.mixer, now, *id, item);
            }
            if side.is_closed() {
                gone.push(*id);
            }
        }
        for id in gone {
            self.remove(id);
        }
        if let Err(e) = self.mixer.handle_timeout(now) {
            tracing::warn!(room = %self.name, error = %e, "embedded room mixer failed");
        }
        self.route();
    }

    fn route(&mut self) {
        while let Some((to, frame)) = self.mixer.poll_transmit() {
            if let Some((_, side)) = self.sides.iter().find(|(p, _)| *p == to) {
                let _ = side.deliver_audio(frame);
            }
        }
        while let Some((to, ev)) = self.mixer.poll_event() {
            if let Some((_, side)) = self.sides.iter().find(|(p, _)| *p == to) {
                let _ = side.deliver_event(ev);
            }
        }
    }

    /// Removes the room from the registry if nobody is about to join it.
    fn try_retire(&mut self) -> bool {
        let mut rooms = self.reg.lock_rooms();
        if !self.rx.is_empty() {
            return false;
        }
        if rooms
            .get(&self.name)
            .is_some_and(|e| e.tx.same_channel(&self.tx))
        {
            rooms.remove(&self.name);
        }
        self.rx.close();
        true
    }

    fn close(&mut self) {
        let mut rooms = self.reg.lock_rooms();
        if rooms
            .get(&self.name)
            .is_some_and(|e| e.tx.same_channel(&self.tx))
        {
            rooms.remove(&self.name);
        }
        drop(rooms);
        self.rx.close();
        for (_, side) in self.sides.drain(..) {
            side.finish(Some(RoomEvent::Closed(CloseReason::RoomClosed)));
        }
    }
}

fn feed(mixer: &mut Mixer, now: Instant, id: ParticipantId, item: FromSession) {
    match item {
        FromSession::Audio(f) => mixer.handle_audio(now, id, &f),
        FromSession::Command(Outbound::Dtmf { digit, .. }) => {
            // Only fails for an unknown participant, which `id` is not.
            let _ = mixer.handle_dtmf(id, digit);
        }
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

struct EmbeddedControl {
    tx: mpsc::Sender<Command>,
    id: ParticipantId,
    leave_timeout: Duration,
}

impl SessionControl for EmbeddedControl {
    fn leave(self: Box<Self>) -> BoxFuture<'static, Result<(), Error>> {
        Box::pin(async move {
            let (reply, done) = oneshot::channel();
            let cmd = Command::Leave {
                id: self.id,
                reply: Some(reply),
            };
            let wait = async {
                self.tx.send(cmd).await.map_err(|_| Error::Closed)?;
                done.await.map_err(|_| Error::Closed)
            };
            match tokio::time::timeout(self.leave_timeout, wait).await {
                Ok(Ok(())) | Ok(Err(Error::Closed)) => Ok(()),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(Error::Timeout {
                    step: "leave",
                    after: self.leave_timeout,
                }),
            }
        })
    }

    fn abandon(self: Box<Self>) {
        // If the command queue is full, the room notices the closed session on its next
        // tick instead.
        let _ = self.tx.try_send(Command::Leave {
            id: self.id,
            reply: None,
        });
    }
}
