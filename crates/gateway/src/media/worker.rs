//! A media worker: one OS thread, one edge-triggered poll, one relay table.
//!
//! The loop: wait in `epoll_wait` until a socket is readable, a command arrived (waker) or
//! the relay's next media timer is due; read the clock once; drain every readable socket
//! (one `recvmmsg` per batch of datagrams → `Relay::handle_datagram` on each → the
//! rewritten datagrams queued and sent with one `sendmmsg` per batch, or transcoded, or
//! handed to an endpoint's queue; see [`super::batch`]); run commands; fire due timers;
//! forward relay events. Nothing on the per-packet path of a pass-through bridge allocates
//! or locks.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use metrics::{Counter, Gauge};
use mio::{Events, Interest, Poll, Token, Waker};
use rtp_relay::codec::{InputPacket, Transcoder, TranscoderConfig};
use rtp_relay::demux::{PacketClass, classify};
use rtp_relay::relay::{
    Action, CallConfig, CallHandle, DropReason, Event, Relay, RelayConfig, Side, SocketId,
    StreamKind, Transmit,
};
use rtp_relay::rtp::{RtpHeader, RtpPacket};
use tokio::sync::{mpsc as tokio_mpsc, oneshot};

use super::batch::{BATCH, DATAGRAM, RecvBatch, TxQueue};
use super::endpoint::{RxShared, TxShared};
use super::port_pool::PortPool;
use super::{MediaError, MediaEvent, MediaEventKind, MediaId, MediaTag, SessionStats};

/// Socket ids at and above this name an endpoint's application side, not a real port.
const APP_SOCKET_BASE: u32 = 1 << 16;

/// The "remote address" of an endpoint's application leg; never sent to.
pub(crate) const APP_DESTINATION: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9);

const WAKER: Token = Token(usize::MAX);

/// Datagrams read from one socket per wake-up before moving on to the others, so one
/// flooded port cannot starve the rest; the port is revisited right after.
const DRAIN_BUDGET: usize = 64;

/// Events waiting for room in the engine's channel beyond this are dropped when merely
/// informational.
const PENDING_EVENTS: usize = 4096;

/// How often the aggregate loss/jitter gauges are refreshed.
const GAUGE_PERIOD: Duration = Duration::from_secs(5);

/// How soon to retry events the engine's channel had no room for.
const EVENT_RETRY: Duration = Duration::from_millis(10);

/// The socket id of an endpoint's application side.
pub(crate) fn app_socket(port: u16) -> SocketId {
    SocketId(APP_SOCKET_BASE + u32::from(port))
}

/// The bound sockets of one allocated port.
#[derive(Debug)]
pub(crate) struct PortSockets {
    pub(crate) port: u16,
    pub(crate) rtp: UdpSocket,
    pub(crate) rtcp: Option<UdpSocket>,
}

/// How a transcoded bridge converts each direction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TranscodePlan {
    pub(crate) a_to_b: TranscoderConfig,
    pub(crate) a_to_b_ssrc: u32,
    pub(crate) b_to_a: TranscoderConfig,
    pub(crate) b_to_a_ssrc: u32,
    pub(crate) a_te: Option<u8>,
    pub(crate) b_te: Option<u8>,
}

#[derive(Debug)]
pub(crate) enum SessionKind {
    Bridge(Option<TranscodePlan>),
    Endpoint {
        rx: Arc<RxShared>,
        tx: Arc<TxShared>,
    },
}

#[derive(Debug)]
pub(crate) struct NewSession {
    pub(crate) tag: MediaTag,
    pub(crate) call: CallConfig,
    /// Leg A's port, then (bridge) leg B's.
    pub(crate) sockets: Vec<PortSockets>,
    pub(crate) kind: SessionKind,
}

type Reply<T> = oneshot::Sender<Result<T, MediaError>>;

#[derive(Debug)]
pub(crate) enum Command {
    Add {
        id: MediaId,
        session: Box<NewSession>,
        reply: Reply<()>,
    },
    SetRemote {
        id: MediaId,
        side: Side,
        rtp: Option<SocketAddr>,
        rtcp: Option<SocketAddr>,
        reply: Reply<()>,
    },
    SetRinging {
        id: MediaId,
        ringing: bool,
        reply: Reply<()>,
    },
    Stats {
        id: MediaId,
        reply: Reply<SessionStats>,
    },
    Release {
        id: MediaId,
        reply: Reply<SessionStats>,
    },
    Shutdown,
}

pub(crate) struct WorkerSetup {
    pub(crate) index: usize,
    pub(crate) events: tokio_mpsc::Sender<MediaEvent>,
    pub(crate) pool: Arc<Mutex<PortPool>>,
    pub(crate) max_calls: usize,
    /// `SCHED_FIFO` priority (1..=99), 0 for normal scheduling.
    pub(crate) priority: u8,
}

pub(crate) struct Spawned {
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) waker: Arc<Waker>,
    pub(crate) load: Arc<AtomicUsize>,
}

/// Starts a worker thread.
pub(crate) fn spawn(setup: WorkerSetup) -> io::Result<(Spawned, JoinHandle<()>)> {
    let poll = Poll::new()?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    let (commands_tx, commands) = mpsc::channel();
    let load = Arc::new(AtomicUsize::new(0));
    let now = Instant::now();
    let relay = Relay::new(
        RelayConfig {
            max_calls: setup.max_calls.max(1),
            max_sockets: 2 * APP_SOCKET_BASE,
            ..RelayConfig::default()
        },
        now,
    );
    let worker = Worker {
        poll,
        commands,
        events: setup.events,
        pending: VecDeque::new(),
        pool: setup.pool,
        load: load.clone(),
        relay,
        slots: Vec::new(),
        sessions: HashMap::new(),
        by_call: HashMap::new(),
        out: vec![0; DATAGRAM].into_boxed_slice(),
        backlog: Vec::new(),
        counters: Counters::default(),
        metrics: Metrics::new(setup.index),
        next_gauges: now + GAUGE_PERIOD,
    };
    let (index, priority) = (setup.index, setup.priority);
    let thread = std::thread::Builder::new()
        .name(format!("media-{index}"))
        .spawn(move || {
            if priority > 0 {
                realtime(index, priority);
            }
            worker.run();
        })?;
    Ok((
        Spawned {
            commands: commands_tx,
            waker,
            load,
        },
        thread,
    ))
}

/// Puts the calling worker thread under `SCHED_FIFO` at `priority`. A busy relay that the
/// kernel's own threads preempt for a few milliseconds queues every packet that arrives
/// meanwhile: on the 2-core bench VM, `kdamond` runs up to 10 ms at a time, and the 3,000-call
/// p99 goes from 0.2–0.4 ms under `SCHED_FIFO` to 1–6 ms without (benches/relay/README.md).
fn realtime(index: usize, priority: u8) {
    use thread_priority::{
        RealtimeThreadSchedulePolicy, ScheduleParams, ThreadPriority, ThreadSchedulePolicy,
        set_thread_priority_and_policy, thread_native_id,
    };
    let value = ThreadPriority::from_posix(ScheduleParams {
        sched_priority: i32::from(priority),
    });
    let policy = ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo);
    if let Err(e) = set_thread_priority_and_policy(thread_native_id(), value, policy) {
        tracing::warn!(
            worker = index,
            priority,
            error = ?e,
            "SCHED_FIFO refused (needs CAP_SYS_NICE or RLIMIT_RTPRIO); the media worker runs under the normal scheduler"
        );
    }
}

/// One direction of a transcoded bridge, owned by the receiving leg's socket.
struct Direction {
    transcoder: Transcoder,
    ssrc: u32,
    /// Telephone-events of the receiving leg: reported by the relay, not transcoded.
    telephone_event: Option<u8>,
}

enum Path {
    /// Forward what the relay says, as is.
    Relay,
    /// Transcode RTP into the other leg (`None` on an RTCP socket: RTCP is terminated).
    Transcode(Option<Box<Direction>>),
    /// Hand RTP to the application.
    Endpoint(Arc<RxShared>),
}

struct Slot {
    socket: mio::net::UdpSocket,
    /// The socket's family: a receive batch keeps one set of address buffers per family.
    ipv6: bool,
    path: Path,
}

/// The worker's batch buffers. They hold raw pointers (not `Send`), so they are made on
/// the worker's own thread and passed to the methods that do I/O.
struct Io {
    rx: RecvBatch,
    tx: TxQueue,
}

struct Session {
    tag: MediaTag,
    call: CallHandle,
    /// Every bound port (RTP and RTCP) of the session.
    ports: Vec<u16>,
    /// The RTP ports of legs A and B (B absent for an endpoint).
    rtp_ports: [Option<u16>; 2],
    endpoint: Option<(Arc<RxShared>, Arc<TxShared>)>,
}

struct Worker {
    poll: Poll,
    commands: mpsc::Receiver<Command>,
    events: tokio_mpsc::Sender<MediaEvent>,
    pending: VecDeque<MediaEvent>,
    pool: Arc<Mutex<PortPool>>,
    load: Arc<AtomicUsize>,
    relay: Relay,
    /// Indexed by local port.
    slots: Vec<Option<Slot>>,
    sessions: HashMap<MediaId, Session>,
    by_call: HashMap<CallHandle, MediaId>,
    /// Where a transcoded frame is built before it is sent.
    out: Box<[u8]>,
    /// Ports whose drain budget ran out; read again before the next wait.
    backlog: Vec<u16>,
    counters: Counters,
    metrics: Metrics,
    next_gauges: Instant,
}

impl Worker {
    fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        let mut backlog = Vec::new();
        let mut io = Io {
            rx: RecvBatch::new(),
            tx: TxQueue::new(),
        };
        loop {
            let timeout = self.timeout(Instant::now());
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                tracing::error!(error = %e, "media worker poll failed; worker stops");
                break;
            }
            // One clock read per wake-up: every packet of this batch and the timers use it.
            let now = Instant::now();
            let mut commands = false;
            std::mem::swap(&mut backlog, &mut self.backlog);
            for port in backlog.drain(..) {
                self.drain(&mut io, port, now);
            }
            for event in events.iter() {
                match event.token() {
                    WAKER => commands = true,
                    Token(port) => {
                        if let Ok(port) = u16::try_from(port) {
                            self.drain(&mut io, port, now);
                        }
                    }
                }
            }
            if commands && !self.run_commands(&mut io, now) {
                break;
            }
            if self.relay.poll_timeout().is_some_and(|t| t <= now) {
                self.relay.handle_timeout(now);
            }
            self.relay_events();
            self.flush_events();
            self.counters.flush(&self.metrics);
            if now >= self.next_gauges {
                self.update_gauges();
                self.next_gauges = now + GAUGE_PERIOD;
            }
        }
        self.shutdown();
    }

    fn timeout(&self, now: Instant) -> Option<Duration> {
        if !self.backlog.is_empty() {
            return Some(Duration::ZERO);
        }
        let mut at = self.next_gauges;
        if let Some(t) = self.relay.poll_timeout() {
            at = at.min(t);
        }
        if !self.pending.is_empty() {
            at = at.min(now + EVENT_RETRY);
        }
        Some(at.saturating_duration_since(now))
    }

    /// Reads a readable socket until it is empty (edge-triggered: a socket left with data
    /// would not be reported again) or until its budget is spent. A `recvmmsg` that returns
    /// fewer than [`BATCH`] datagrams stopped at `EAGAIN` (the sockets are unconnected, so
    /// no ICMP error can cut a batch short), so an empty socket costs no extra call.
    fn drain(&mut self, io: &mut Io, port: u16, now: Instant) {
        let Self {
            relay,
            slots,
            out,
            counters,
            backlog,
            ..
        } = self;
        let Io { rx, tx } = io;
        let mut budget = DRAIN_BUDGET;
        while budget > 0 {
            let Some(Some(slot)) = slots.get(usize::from(port)) else {
                return;
            };
            let n = match rx.recv(slot.socket.as_raw_fd(), slot.ipv6) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    budget -= 1;
                    continue;
                }
                Err(_) => {
                    counters.drop(Discard::RecvError);
                    return;
                }
            };
            budget = budget.saturating_sub(n.max(1));
            for i in 0..n {
                let (r, packet) = rx.datagram_mut(i);
                counters.packets += 1;
                counters.bytes += r.len as u64;
                if r.truncated {
                    counters.drop(Discard::TooLarge);
                    continue;
                }
                let Some(from) = r.from else {
                    counters.drop(Discard::RecvError);
                    continue;
                };
                match relay.handle_datagram(now, SocketId(u32::from(port)), from, packet) {
                    Action::Send(t) => forward(slots, port, t, i, packet, tx, out, counters),
                    Action::Drop(reason) => counters.drop(Discard::from_relay(&reason)),
                }
            }
            // The queue refers to the receive buffers: send before the next receive.
            let done = tx.flush(rx);
            counters.sent += done.sent;
            counters.sent_bytes += done.bytes;
            counters.drops[Discard::SendError as usize] += done.failed;
            if n < BATCH {
                return;
            }
        }
        backlog.push(port);
    }

    /// Runs every queued command; `false` on shutdown.
    fn run_commands(&mut self, io: &mut Io, now: Instant) -> bool {
        while let Ok(cmd) = self.commands.try_recv() {
            match cmd {
                Command::Shutdown => return false,
                Command::Add { id, session, reply } => {
                    let r = self.add(io, now, id, *session);
                    if r.is_err() {
                        self.load.fetch_sub(1, Ordering::Relaxed);
                    }
                    let _ = reply.send(r);
                }
                Command::SetRemote {
                    id,
                    side,
                    rtp,
                    rtcp,
                    reply,
                } => {
                    let _ = reply.send(self.set_remote(id, side, rtp, rtcp));
                }
                Command::SetRinging { id, ringing, reply } => {
                    let r = match self.sessions.get(&id) {
                        Some(s) => self
                            .relay
                            .set_ringing(now, s.call, ringing)
                            .map_err(MediaError::from),
                        None => Err(MediaError::UnknownSession),
                    };
                    let _ = reply.send(r);
                }
                Command::Stats { id, reply } => {
                    let _ = reply.send(self.stats(id));
                }
                Command::Release { id, reply } => {
                    let r = self.release(id);
                    if r.is_ok() {
                        self.load.fetch_sub(1, Ordering::Relaxed);
                    }
                    let _ = reply.send(r);
                }
            }
        }
        true
    }

    fn add(
        &mut self,
        io: &mut Io,
        now: Instant,
        id: MediaId,
        s: NewSession,
    ) -> Result<(), MediaError> {
        let NewSession {
            tag,
            call,
            sockets,
            kind,
        } = s;
        let rtp_ports = [
            sockets.first().map(|p| p.port),
            sockets.get(1).map(|p| p.port),
        ];
        let mut paths: Vec<(PortSockets, Path, Path)> = Vec::with_capacity(sockets.len());
        let mut endpoint = None;
        let built: Result<(), MediaError> = (|| {
            let mut plans = match &kind {
                SessionKind::Bridge(Some(plan)) => vec![
                    (plan.a_to_b, plan.a_to_b_ssrc, plan.a_te),
                    (plan.b_to_a, plan.b_to_a_ssrc, plan.b_te),
                ],
                _ => Vec::new(),
            }
            .into_iter();
            for ps in sockets {
                let (rtp, rtcp) = match &kind {
                    SessionKind::Bridge(None) => (Path::Relay, Path::Relay),
                    SessionKind::Bridge(Some(_)) => {
                        let (cfg, ssrc, te) = plans
                            .next()
                            .ok_or(MediaError::Invalid("a bridge has two legs"))?;
                        let dir = Direction {
                            transcoder: Transcoder::new(cfg)?,
                            ssrc,
                            telephone_event: te,
                        };
                        (Path::Transcode(Some(Box::new(dir))), Path::Transcode(None))
                    }
                    SessionKind::Endpoint { rx, .. } => {
                        (Path::Endpoint(rx.clone()), Path::Endpoint(rx.clone()))
                    }
                };
                paths.push((ps, rtp, rtcp));
            }
            Ok(())
        })();
        // On failure every port of the session goes back, whether or not its sockets made
        // it into `paths` (they are closed by then).
        let give_back = |pool: &Mutex<PortPool>, paths: Vec<(PortSockets, Path, Path)>| {
            drop(paths);
            let now = Instant::now();
            let mut pool = pool.lock().unwrap_or_else(PoisonError::into_inner);
            for port in rtp_ports.into_iter().flatten() {
                pool.release(port, now);
            }
        };
        if let Err(e) = built {
            give_back(&self.pool, paths);
            return Err(e);
        }
        let call = match self.relay.add_call(now, call) {
            Ok(c) => c,
            Err(e) => {
                give_back(&self.pool, paths);
                return Err(e.into());
            }
        };
        if let SessionKind::Endpoint { rx, tx } = kind {
            endpoint = Some((rx, tx));
        }
        let mut ports = Vec::new();
        let mut failed = None;
        for (ps, rtp_path, rtcp_path) in paths {
            let port = ps.port;
            let mut pairs = vec![(port, ps.rtp, rtp_path)];
            if let Some(rtcp) = ps.rtcp {
                pairs.push((port + 1, rtcp, rtcp_path));
            }
            for (p, socket, path) in pairs {
                match self.register(p, socket, path) {
                    Ok(()) => ports.push(p),
                    Err(e) => failed = Some(e),
                }
            }
            if failed.is_some() {
                break;
            }
        }
        let session = Session {
            tag,
            call,
            ports,
            rtp_ports,
            endpoint,
        };
        self.sessions.insert(id, session);
        self.by_call.insert(call, id);
        if let Some(e) = failed {
            let _ = self.release(id);
            return Err(e.into());
        }
        self.metrics.sessions.set(self.sessions.len() as f64);
        // Packets may have arrived between bind and registration; an edge-triggered poll
        // would not report them, so read now (with every leg of the session in place).
        let ports = self
            .sessions
            .get(&id)
            .map(|s| s.ports.clone())
            .unwrap_or_default();
        for port in ports {
            self.drain(io, port, now);
        }
        Ok(())
    }

    fn register(&mut self, port: u16, socket: UdpSocket, path: Path) -> io::Result<()> {
        let ipv6 = socket.local_addr()?.is_ipv6();
        let mut socket = mio::net::UdpSocket::from_std(socket);
        self.poll
            .registry()
            .register(&mut socket, Token(usize::from(port)), Interest::READABLE)?;
        let i = usize::from(port);
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        self.slots[i] = Some(Slot { socket, ipv6, path });
        Ok(())
    }

    fn set_remote(
        &mut self,
        id: MediaId,
        side: Side,
        rtp: Option<SocketAddr>,
        rtcp: Option<SocketAddr>,
    ) -> Result<(), MediaError> {
        let s = self.sessions.get(&id).ok_or(MediaError::UnknownSession)?;
        if let Some((_, tx)) = &s.endpoint {
            if side == Side::B {
                return Err(MediaError::Invalid("an endpoint has only leg A"));
            }
            tx.set_destination(rtp);
        }
        self.relay.set_remote(s.call, side, rtp, rtcp)?;
        Ok(())
    }

    fn stats(&self, id: MediaId) -> Result<SessionStats, MediaError> {
        let s = self.sessions.get(&id).ok_or(MediaError::UnknownSession)?;
        let legs = [
            self.relay.stats(s.call, Side::A)?,
            self.relay.stats(s.call, Side::B)?,
        ];
        let transcoder = |port: Option<u16>| match port
            .and_then(|p| self.slots.get(usize::from(p)))
            .and_then(Option::as_ref)
            .map(|slot| &slot.path)
        {
            Some(Path::Transcode(Some(d))) => Some(d.transcoder.stats()),
            _ => None,
        };
        let transcoders = match (transcoder(s.rtp_ports[0]), transcoder(s.rtp_ports[1])) {
            (Some(ab), Some(ba)) => Some([ab, ba]),
            _ => None,
        };
        Ok(SessionStats {
            legs,
            transcoders,
            endpoint_dropped: s.endpoint.as_ref().map_or(0, |(rx, _)| rx.dropped()),
        })
    }

    fn release(&mut self, id: MediaId) -> Result<SessionStats, MediaError> {
        let stats = self.stats(id)?;
        let Some(s) = self.sessions.remove(&id) else {
            return Err(MediaError::UnknownSession);
        };
        self.by_call.remove(&s.call);
        // The stats above proved the call exists; a failure here leaves nothing to undo.
        let _ = self.relay.remove_call(s.call);
        let now = Instant::now();
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        for port in &s.ports {
            if let Some(mut slot) = self
                .slots
                .get_mut(usize::from(*port))
                .and_then(Option::take)
            {
                // Deregistration fails only if the socket was never registered.
                let _ = self.poll.registry().deregister(&mut slot.socket);
            }
        }
        // Even ports go back to the pool (an RTCP port is reserved with its RTP port).
        for port in s.rtp_ports.into_iter().flatten() {
            pool.release(port, now);
        }
        drop(pool);
        if let Some((rx, tx)) = &s.endpoint {
            rx.close();
            tx.close();
        }
        self.metrics.sessions.set(self.sessions.len() as f64);
        Ok(stats)
    }

    fn relay_events(&mut self) {
        while let Some(ev) = self.relay.poll_event() {
            let (call, kind) = match ev {
                Event::Latched {
                    call,
                    side,
                    stream,
                    address,
                    ..
                } => (
                    call,
                    MediaEventKind::Latched {
                        side,
                        stream,
                        address,
                    },
                ),
                Event::SourceChanged {
                    call, side, ssrc, ..
                } => (call, MediaEventKind::SourceChanged { side, ssrc }),
                Event::MediaTimeout { call, side, kind } => {
                    (call, MediaEventKind::MediaTimeout { side, kind })
                }
                Event::Dtmf { call, side, event } => (call, MediaEventKind::Dtmf { side, event }),
                Event::RtcpBye { call, side } => (call, MediaEventKind::RtcpBye { side }),
                Event::MediaStarted { call, side } => (call, MediaEventKind::MediaStarted { side }),
            };
            let Some(id) = self.by_call.get(&call).copied() else {
                continue;
            };
            let Some(session) = self.sessions.get(&id) else {
                continue;
            };
            if let (
                Some((_, tx)),
                MediaEventKind::Latched {
                    side: Side::A,
                    stream: StreamKind::Rtp,
                    address,
                },
            ) = (&session.endpoint, kind)
            {
                tx.set_destination(Some(address));
            }
            if self.pending.len() >= PENDING_EVENTS && !kind.is_essential() {
                self.counters.events_dropped += 1;
                continue;
            }
            self.pending.push_back(MediaEvent {
                tag: session.tag,
                id,
                kind,
            });
        }
    }

    fn flush_events(&mut self) {
        while let Some(ev) = self.pending.front() {
            match self.events.try_send(*ev) {
                Ok(()) => {
                    self.pending.pop_front();
                }
                Err(tokio_mpsc::error::TrySendError::Full(_)) => break,
                Err(tokio_mpsc::error::TrySendError::Closed(_)) => {
                    // Nobody listens: events have nowhere to go.
                    self.counters.events_dropped += self.pending.len() as u64;
                    self.pending.clear();
                }
            }
        }
    }

    fn update_gauges(&self) {
        let (mut expected, mut lost, mut jitter) = (0u64, 0i64, Duration::ZERO);
        for s in self.sessions.values() {
            let sides: &[Side] = if s.endpoint.is_some() {
                &[Side::A]
            } else {
                &[Side::A, Side::B]
            };
            for &side in sides {
                if let Ok(st) = self.relay.stats(s.call, side) {
                    expected += st.expected;
                    lost += st.lost.max(0);
                    jitter = jitter.max(st.jitter_duration());
                }
            }
        }
        let ratio = if expected > 0 {
            lost as f64 / expected as f64
        } else {
            0.0
        };
        self.metrics.loss.set(ratio);
        self.metrics.jitter.set(jitter.as_secs_f64());
    }

    fn shutdown(&mut self) {
        let ids: Vec<MediaId> = self.sessions.keys().copied().collect();
        for id in ids {
            let _ = self.release(id);
        }
        self.counters.flush(&self.metrics);
    }
}

/// Queues (or transcodes, or delivers) datagram `i` of the receive batch, which the relay
/// decided to forward.
#[allow(clippy::too_many_arguments)]
fn forward(
    slots: &mut [Option<Slot>],
    from_port: u16,
    t: Transmit,
    i: usize,
    packet: &[u8],
    tx: &mut TxQueue,
    out: &mut [u8],
    counters: &mut Counters,
) {
    let Some(Some(slot)) = slots.get_mut(usize::from(from_port)) else {
        return;
    };
    match &mut slot.path {
        Path::Relay => queue(slots, t, i, tx, counters),
        Path::Endpoint(rx) => {
            if t.socket.0 >= APP_SOCKET_BASE && classify(packet) == PacketClass::Rtp {
                counters.delivered += 1;
                if rx.push(Bytes::copy_from_slice(packet)) {
                    counters.drop(Discard::EndpointQueueFull);
                }
            } else {
                // RTCP of an endpoint is consumed by the relay (stats, BYE events).
                counters.drop(Discard::RtcpTerminated);
            }
        }
        Path::Transcode(dir) => {
            if classify(packet) != PacketClass::Rtp {
                counters.drop(Discard::RtcpTerminated);
                return;
            }
            let Some(mut d) = dir.take() else {
                counters.drop(Discard::RtcpTerminated);
                return;
            };
            transcode(&mut d, slots, t, packet, out, counters);
            if let Some(Some(slot)) = slots.get_mut(usize::from(from_port)) {
                slot.path = Path::Transcode(Some(d));
            }
        }
    }
}

fn transcode(
    d: &mut Direction,
    slots: &[Option<Slot>],
    t: Transmit,
    packet: &[u8],
    out: &mut [u8],
    counters: &mut Counters,
) {
    let Ok(p) = RtpPacket::parse(packet) else {
        counters.drop(Discard::InvalidRtp);
        return;
    };
    if d.telephone_event == Some(p.payload_type()) {
        // Reported as a DTMF event by the relay; regenerating it in the other leg's
        // clock is not done here.
        counters.drop(Discard::DtmfNotTranscoded);
        return;
    }
    let input = InputPacket {
        sequence: p.sequence(),
        timestamp: p.timestamp(),
        marker: p.marker(),
        payload: Bytes::copy_from_slice(p.payload()),
    };
    if d.transcoder.push(input).is_err() {
        counters.drop(Discard::CodecError);
    }
    while let Some(f) = d.transcoder.poll_frame() {
        let header = RtpHeader {
            marker: f.marker,
            payload_type: f.payload_type,
            sequence: f.sequence,
            timestamp: f.timestamp,
            ssrc: d.ssrc,
        };
        match header.write(&f.payload, out) {
            Ok(len) => {
                counters.transcoded += 1;
                send(slots, t, &out[..len], counters);
            }
            Err(_) => counters.drop(Discard::TooLarge),
        }
    }
}

/// Queues datagram `i` of the receive batch, relayed in place, for the next flush.
fn queue(slots: &[Option<Slot>], t: Transmit, i: usize, tx: &mut TxQueue, counters: &mut Counters) {
    let Some(Some(slot)) = slots.get(t.socket.0 as usize) else {
        counters.drop(Discard::UnknownSocket);
        return;
    };
    // One queued datagram per received one, and the queue holds a whole receive batch.
    if !tx.has_room() {
        counters.drop(Discard::SendError);
        return;
    }
    tx.push_received(slot.socket.as_raw_fd(), t.destination, i);
}

/// Sends a datagram built by the worker (a transcoded frame) right away.
fn send(slots: &[Option<Slot>], t: Transmit, data: &[u8], counters: &mut Counters) {
    let Some(Some(slot)) = slots.get(t.socket.0 as usize) else {
        counters.drop(Discard::UnknownSocket);
        return;
    };
    match slot.socket.send_to(data, t.destination) {
        Ok(_) => {
            counters.sent += 1;
            counters.sent_bytes += data.len() as u64;
        }
        Err(_) => counters.drop(Discard::SendError),
    }
}

/// Why a datagram went nowhere (the `reason` label).
#[derive(Debug, Clone, Copy)]
enum Discard {
    UnknownSocket,
    NotMedia,
    InvalidRtp,
    InvalidRtcp,
    PayloadType,
    WrongSource,
    NoDestination,
    Muted,
    SendError,
    RecvError,
    TooLarge,
    RtcpTerminated,
    DtmfNotTranscoded,
    CodecError,
    EndpointQueueFull,
}

impl Discard {
    const ALL: [Discard; 15] = [
        Discard::UnknownSocket,
        Discard::NotMedia,
        Discard::InvalidRtp,
        Discard::InvalidRtcp,
        Discard::PayloadType,
        Discard::WrongSource,
        Discard::NoDestination,
        Discard::Muted,
        Discard::SendError,
        Discard::RecvError,
        Discard::TooLarge,
        Discard::RtcpTerminated,
        Discard::DtmfNotTranscoded,
        Discard::CodecError,
        Discard::EndpointQueueFull,
    ];

    fn from_relay(r: &DropReason) -> Self {
        match r {
            DropReason::UnknownSocket => Self::UnknownSocket,
            DropReason::NotMedia(_) => Self::NotMedia,
            DropReason::InvalidRtp(_) => Self::InvalidRtp,
            DropReason::InvalidRtcp(_) => Self::InvalidRtcp,
            DropReason::PayloadType(_) => Self::PayloadType,
            DropReason::WrongSource => Self::WrongSource,
            DropReason::NoDestination => Self::NoDestination,
            DropReason::Muted => Self::Muted,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::UnknownSocket => "unknown_socket",
            Self::NotMedia => "not_media",
            Self::InvalidRtp => "invalid_rtp",
            Self::InvalidRtcp => "invalid_rtcp",
            Self::PayloadType => "payload_type",
            Self::WrongSource => "wrong_source",
            Self::NoDestination => "no_destination",
            Self::Muted => "muted",
            Self::SendError => "send_error",
            Self::RecvError => "recv_error",
            Self::TooLarge => "too_large",
            Self::RtcpTerminated => "rtcp_terminated",
            Self::DtmfNotTranscoded => "dtmf_not_transcoded",
            Self::CodecError => "codec_error",
            Self::EndpointQueueFull => "endpoint_queue_full",
        }
    }
}

/// Per-wake-up counts, added to the shared metrics once per batch (not per packet).
#[derive(Debug, Default)]
struct Counters {
    packets: u64,
    bytes: u64,
    sent: u64,
    sent_bytes: u64,
    transcoded: u64,
    delivered: u64,
    events_dropped: u64,
    drops: [u64; Discard::ALL.len()],
}

impl Counters {
    fn drop(&mut self, reason: Discard) {
        self.drops[reason as usize] += 1;
    }

    fn flush(&mut self, m: &Metrics) {
        let take = |x: &mut u64, c: &Counter| {
            if *x > 0 {
                c.increment(std::mem::take(x));
            }
        };
        take(&mut self.packets, &m.received_packets);
        take(&mut self.bytes, &m.received_bytes);
        take(&mut self.sent, &m.sent_packets);
        take(&mut self.sent_bytes, &m.sent_bytes);
        take(&mut self.transcoded, &m.transcoded);
        take(&mut self.delivered, &m.delivered);
        take(&mut self.events_dropped, &m.events_dropped);
        for (x, c) in self.drops.iter_mut().zip(&m.drops) {
            take(x, c);
        }
    }
}

/// Metric handles, taken once per worker.
struct Metrics {
    received_packets: Counter,
    received_bytes: Counter,
    sent_packets: Counter,
    sent_bytes: Counter,
    transcoded: Counter,
    delivered: Counter,
    events_dropped: Counter,
    drops: Vec<Counter>,
    sessions: Gauge,
    loss: Gauge,
    jitter: Gauge,
}

impl Metrics {
    fn new(worker: usize) -> Self {
        let w = worker.to_string();
        Self {
            received_packets: metrics::counter!("sipbridge_rtp_packets_total", "direction" => "in"),
            received_bytes: metrics::counter!("sipbridge_rtp_bytes_total", "direction" => "in"),
            sent_packets: metrics::counter!("sipbridge_rtp_packets_total", "direction" => "out"),
            sent_bytes: metrics::counter!("sipbridge_rtp_bytes_total", "direction" => "out"),
            transcoded: metrics::counter!("sipbridge_rtp_transcoded_frames_total"),
            delivered: metrics::counter!("sipbridge_rtp_endpoint_packets_total"),
            events_dropped: metrics::counter!("sipbridge_media_events_dropped_total"),
            drops: Discard::ALL
                .iter()
                .map(|d| metrics::counter!("sipbridge_rtp_drops_total", "reason" => d.label()))
                .collect(),
            sessions: metrics::gauge!("sipbridge_media_sessions", "worker" => w.clone()),
            loss: metrics::gauge!("sipbridge_rtp_loss_ratio", "worker" => w.clone()),
            jitter: metrics::gauge!("sipbridge_rtp_jitter_max_seconds", "worker" => w),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::UdpSocket;
    use std::time::Duration;

    use rtp_relay::rtp::{RtpHeader, RtpPacket};

    use super::{BATCH, DRAIN_BUDGET};
    use crate::media::{
        BridgeConfig, Codec, CodecKind, EngineConfig, LegSpec, MediaEngine, MediaTag,
        MediaTimeouts, RtcpPort,
    };

    /// More datagrams than one `recvmmsg` batch and one drain budget, all queued before the
    /// bridge exists: the worker's first drain must take them in full batches, leave the
    /// socket in the backlog when the budget runs out, and come back for the rest.
    #[test]
    fn a_backlog_longer_than_the_drain_budget_is_relayed_whole_and_in_order() {
        const PACKETS: usize = 3 * DRAIN_BUDGET + BATCH / 2;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let probe = UdpSocket::bind("127.0.0.1:0").expect("probe");
        let low = probe.local_addr().expect("probe address").port() & !1;
        drop(probe);
        let (engine, _events) = MediaEngine::start_with(EngineConfig {
            address: "127.0.0.1".parse().expect("address"),
            port_range: [low.min(65000), low.min(65000) + 63],
            port_drain: Duration::ZERO,
            udp_recv_buffer: 1 << 20,
            workers: 1,
            worker_priority: 0,
            event_capacity: 64,
            timeouts: MediaTimeouts::default(),
        })
        .expect("engine");
        let a = engine.allocate(RtcpPort::Mux).expect("port a");
        let b = engine.allocate(RtcpPort::Mux).expect("port b");
        let (pa, pb) = (
            UdpSocket::bind("127.0.0.1:0").expect("phone a"),
            UdpSocket::bind("127.0.0.1:0").expect("phone b"),
        );
        pb.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        let mut packet = [0u8; 172];
        for i in 0..PACKETS {
            let header = RtpHeader {
                marker: false,
                payload_type: 0,
                sequence: i as u16,
                timestamp: 160 * i as u32,
                ssrc: 0x5eed,
            };
            let n = header.write(&[i as u8; 160], &mut packet).expect("rtp");
            pa.send_to(&packet[..n], a.local_addr()).expect("send");
        }
        let mut leg_a = LegSpec::new(Codec::with_default_pt(CodecKind::Pcmu));
        leg_a.remote_rtp = Some(pa.local_addr().expect("addr"));
        let mut leg_b = LegSpec::new(Codec::with_default_pt(CodecKind::Pcmu));
        leg_b.remote_rtp = Some(pb.local_addr().expect("addr"));
        let cfg = BridgeConfig::new(MediaTag(1), leg_a, leg_b, MediaTimeouts::default());
        let id = rt.block_on(engine.bridge(a, b, cfg)).expect("bridge");
        let mut buf = [0u8; 2048];
        let mut last = None;
        for i in 0..PACKETS {
            let (n, _) = pb.recv_from(&mut buf).expect("every packet relayed");
            let p = RtpPacket::parse(&buf[..n]).expect("rtp");
            assert_eq!(p.payload(), &[i as u8; 160][..], "packet {i} in order");
            if let Some(prev) = last {
                assert_eq!(p.sequence(), u16::wrapping_add(prev, 1));
            }
            last = Some(p.sequence());
        }
        let stats = rt.block_on(engine.release(id)).expect("release");
        assert_eq!(stats.legs[0].rtp_packets, PACKETS as u64);
        assert_eq!(stats.legs[0].forwarded, PACKETS as u64);
    }
}
