//! The public handle: port allocation and the commands sent to the workers.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rtp_relay::codec::{MediaPath, TranscoderConfig};
use rtp_relay::relay::{CallConfig, LegConfig, PayloadTypes, SocketId};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::{mpsc as tokio_mpsc, oneshot};

use super::endpoint::{MediaRx, MediaTx, RxShared, TxShared};
use super::port_pool::PortPool;
use super::worker::{self, Command, NewSession, PortSockets, SessionKind, TranscodePlan};
use super::{
    BridgeConfig, EndpointConfig, LegSpec, MediaError, MediaEvent, MediaId, MediaTimeouts,
    RtcpPort, SessionStats, Side,
};
use crate::config::RtpConfig;

/// Events waiting in the engine's event channel before informational ones are dropped
/// (essential ones wait in the worker until there is room).
pub const EVENT_CAPACITY: usize = 4096;

/// Settings of a [`MediaEngine`], usually from `[rtp]` ([`EngineConfig::from_rtp`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Address the sockets bind to and that [`MediaPort::local_addr`] advertises.
    pub address: IpAddr,
    /// Inclusive port range.
    pub port_range: [u16; 2],
    /// How long a released port stays out of reuse.
    pub port_drain: Duration,
    /// `SO_RCVBUF` of every socket, in bytes.
    pub udp_recv_buffer: usize,
    /// Worker threads; 0 = one per core.
    pub workers: usize,
    /// `SCHED_FIFO` priority of the workers (1..=99); 0 = normal scheduling.
    pub worker_priority: u8,
    /// Capacity of the event channel.
    pub event_capacity: usize,
    /// Media timeouts that [`MediaEngine::default_timeouts`] hands out.
    pub timeouts: MediaTimeouts,
}

impl EngineConfig {
    /// The engine settings of a `[rtp]` section.
    pub fn from_rtp(cfg: &RtpConfig) -> Self {
        Self {
            address: cfg.address,
            port_range: cfg.port_range,
            port_drain: Duration::from_secs(cfg.port_drain_s),
            udp_recv_buffer: cfg.udp_recv_buffer,
            workers: cfg.workers,
            worker_priority: cfg.worker_priority,
            event_capacity: EVENT_CAPACITY,
            timeouts: MediaTimeouts {
                no_media: Some(Duration::from_secs(cfg.first_packet_timeout_s)),
                silence: Some(Duration::from_secs(cfg.silence_timeout_s)),
            },
        }
    }
}

/// A bound local port, ready to be put in SDP and then used by [`MediaEngine::bridge`] or
/// [`MediaEngine::endpoint`]. Dropping it unused returns the port to the pool (after the
/// drain period).
#[derive(Debug)]
pub struct MediaPort {
    sockets: Option<PortSockets>,
    address: SocketAddr,
    pool: Arc<Mutex<PortPool>>,
}

impl MediaPort {
    /// The RTP port (even).
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The address to advertise in SDP (`c=` and `m=` port).
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// The RTCP address (`port + 1`) when the port was allocated with [`RtcpPort::Separate`].
    pub fn rtcp_addr(&self) -> Option<SocketAddr> {
        self.sockets
            .as_ref()
            .and_then(|s| s.rtcp.as_ref())
            .map(|_| SocketAddr::new(self.address.ip(), self.address.port() + 1))
    }

    /// The sockets, which the session now owns (with the duty to return the port).
    fn take(mut self) -> Result<PortSockets, MediaError> {
        self.sockets
            .take()
            .ok_or(MediaError::Invalid("port already handed to a session"))
    }
}

impl Drop for MediaPort {
    fn drop(&mut self) {
        if let Some(s) = self.sockets.take() {
            drop(s);
            lock(&self.pool).release(self.address.port(), Instant::now());
        }
    }
}

struct WorkerHandle {
    commands: mpsc::Sender<Command>,
    waker: Arc<mio::Waker>,
    load: Arc<AtomicUsize>,
}

struct Inner {
    cfg: EngineConfig,
    pool: Arc<Mutex<PortPool>>,
    workers: Vec<WorkerHandle>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    serial: AtomicU64,
    random: RandomState,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for w in &self.workers {
            // A worker that already stopped has dropped its receiver; nothing to do.
            let _ = w.commands.send(Command::Shutdown);
            let _ = w.waker.wake();
        }
        for t in lock(&self.threads).drain(..) {
            let _ = t.join();
        }
    }
}

/// The media engine: a port pool and the worker threads. Cheap to clone; the workers stop
/// when the last clone is dropped.
#[derive(Clone)]
pub struct MediaEngine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MediaEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaEngine")
            .field("cfg", &self.inner.cfg)
            .field("workers", &self.inner.workers.len())
            .finish()
    }
}

impl MediaEngine {
    /// Starts the engine for a `[rtp]` section. Returns the engine and its event channel.
    ///
    /// # Errors
    /// [`MediaError::Invalid`] for an empty port range, [`MediaError::Io`] when a worker
    /// cannot create its poll.
    pub fn start(cfg: &RtpConfig) -> Result<(Self, tokio_mpsc::Receiver<MediaEvent>), MediaError> {
        Self::start_with(EngineConfig::from_rtp(cfg))
    }

    /// Starts the engine with explicit settings.
    ///
    /// # Errors
    /// As [`MediaEngine::start`].
    pub fn start_with(
        cfg: EngineConfig,
    ) -> Result<(Self, tokio_mpsc::Receiver<MediaEvent>), MediaError> {
        let [low, high] = cfg.port_range;
        if low >= high {
            return Err(MediaError::Invalid(
                "port range must be [low, high] with low < high",
            ));
        }
        let pool = PortPool::new(low, high, cfg.port_drain);
        if pool.capacity() == 0 {
            return Err(MediaError::Invalid("port range holds no even port"));
        }
        let capacity = pool.capacity();
        let pool = Arc::new(Mutex::new(pool));
        let count = match cfg.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
        .min(256);
        let (events_tx, events_rx) = tokio_mpsc::channel(cfg.event_capacity.max(1));
        let mut workers = Vec::with_capacity(count);
        let mut threads = Vec::with_capacity(count);
        for index in 0..count {
            let (handle, thread) = worker::spawn(worker::WorkerSetup {
                index,
                events: events_tx.clone(),
                pool: pool.clone(),
                max_calls: capacity,
                priority: cfg.worker_priority,
            })?;
            workers.push(WorkerHandle {
                commands: handle.commands,
                waker: handle.waker,
                load: handle.load,
            });
            threads.push(thread);
        }
        let inner = Inner {
            cfg,
            pool,
            workers,
            threads: Mutex::new(threads),
            serial: AtomicU64::new(1),
            random: RandomState::new(),
        };
        Ok((
            Self {
                inner: Arc::new(inner),
            },
            events_rx,
        ))
    }

    /// The media timeouts of `[rtp]`, for [`BridgeConfig`] and [`EndpointConfig`].
    pub fn default_timeouts(&self) -> MediaTimeouts {
        self.inner.cfg.timeouts
    }

    /// Ports that can be allocated now.
    pub fn ports_available(&self) -> usize {
        lock(&self.inner.pool).available(Instant::now())
    }

    /// Allocates and binds an even port (and `port + 1` for [`RtcpPort::Separate`]). Ports
    /// the OS refuses to bind are skipped (and drain like released ones).
    ///
    /// # Errors
    /// [`MediaError::PortsExhausted`] when no port of the range can be bound.
    pub fn allocate(&self, rtcp: RtcpPort) -> Result<MediaPort, MediaError> {
        let inner = &self.inner;
        let mut pool = lock(&inner.pool);
        let now = Instant::now();
        for _ in 0..pool.capacity() {
            let Some(port) = pool.allocate(now) else {
                break;
            };
            let bound = bind(inner.cfg.address, port, inner.cfg.udp_recv_buffer).and_then(|rtp| {
                let rtcp = match rtcp {
                    RtcpPort::Mux => None,
                    RtcpPort::Separate => Some(bind(
                        inner.cfg.address,
                        port + 1,
                        inner.cfg.udp_recv_buffer,
                    )?),
                };
                Ok(PortSockets { port, rtp, rtcp })
            });
            match bound {
                Ok(sockets) => {
                    return Ok(MediaPort {
                        sockets: Some(sockets),
                        address: SocketAddr::new(inner.cfg.address, port),
                        pool: inner.pool.clone(),
                    });
                }
                Err(e) => {
                    tracing::debug!(port, error = %e, "RTP port refused by the OS; skipped");
                    pool.release(port, now);
                }
            }
        }
        Err(MediaError::PortsExhausted)
    }

    /// Relays `a` and `b` to each other (transcoding when their codecs differ).
    ///
    /// # Errors
    /// [`MediaError::Io`] when a needed RTCP port cannot be bound, [`MediaError::Relay`]
    /// when the relay table is full or a codec cannot be set up, [`MediaError::Stopped`].
    pub async fn bridge(
        &self,
        a: MediaPort,
        b: MediaPort,
        cfg: BridgeConfig,
    ) -> Result<MediaId, MediaError> {
        let mut a = a.take()?;
        let mut b = b.take()?;
        let pool = self.inner.pool.clone();
        let prepared = (|| {
            self.ensure_rtcp(&mut a, &cfg.a)?;
            self.ensure_rtcp(&mut b, &cfg.b)?;
            self.bridge_plan(&a, &b, &cfg)
        })();
        let (call, transcode) = match prepared {
            Ok(p) => p,
            Err(e) => {
                release_sockets(&pool, [Some(a), Some(b)]);
                return Err(e);
            }
        };
        let session = NewSession {
            tag: cfg.tag,
            call,
            sockets: vec![a, b],
            kind: SessionKind::Bridge(transcode),
        };
        self.add(session).await
    }

    /// Hands a port to the application: received RTP arrives on the [`MediaRx`], the
    /// [`MediaTx`] sends toward the peer (latched, or `leg.remote_rtp` until then).
    ///
    /// # Errors
    /// As [`MediaEngine::bridge`].
    pub async fn endpoint(
        &self,
        port: MediaPort,
        cfg: EndpointConfig,
    ) -> Result<(MediaId, MediaRx, MediaTx), MediaError> {
        let mut sockets = port.take()?;
        let pool = self.inner.pool.clone();
        let prepared = (|| {
            self.ensure_rtcp(&mut sockets, &cfg.leg)?;
            let tx_socket = sockets.rtp.try_clone()?;
            Ok::<_, MediaError>(tx_socket)
        })();
        let tx_socket = match prepared {
            Ok(s) => s,
            Err(e) => {
                release_sockets(&pool, [Some(sockets), None]);
                return Err(e);
            }
        };
        let a = leg_config(&cfg.leg, &sockets);
        // Leg B is the application: a socket id no real port has, whose "destination" is
        // never used (the worker hands its packets to the queue instead of sending them).
        let mut b = LegConfig::new(worker::app_socket(sockets.port));
        b.remote_rtp = Some(worker::APP_DESTINATION);
        b.latching = rtp_relay::relay::Latching::Off;
        b.clock_rate = cfg.leg.codec.kind.clock_rate();
        b.watch_media = false;
        let call = CallConfig {
            a,
            b,
            timeouts: cfg.timeouts,
            ringing: cfg.ringing,
        };
        let rx = RxShared::new(cfg.queue);
        let tx = TxShared::new(tx_socket, cfg.leg.remote_rtp);
        let session = NewSession {
            tag: cfg.tag,
            call,
            sockets: vec![sockets],
            kind: SessionKind::Endpoint {
                rx: rx.clone(),
                tx: tx.clone(),
            },
        };
        let id = self.add(session).await?;
        Ok((id, MediaRx::new(rx), MediaTx::new(tx)))
    }

    /// New remote addresses for a leg (SDP answer, re-INVITE): forgets the latched peer.
    ///
    /// # Errors
    /// [`MediaError::UnknownSession`], [`MediaError::Stopped`].
    pub async fn set_remote(
        &self,
        id: MediaId,
        side: Side,
        rtp: Option<SocketAddr>,
        rtcp: Option<SocketAddr>,
    ) -> Result<(), MediaError> {
        self.request(id, |reply| Command::SetRemote {
            id,
            side,
            rtp,
            rtcp,
            reply,
        })
        .await?
    }

    /// Media timeouts off while ringing (or on hold), armed from now when `false`.
    ///
    /// # Errors
    /// [`MediaError::UnknownSession`], [`MediaError::Stopped`].
    pub async fn set_ringing(&self, id: MediaId, ringing: bool) -> Result<(), MediaError> {
        self.request(id, |reply| Command::SetRinging { id, ringing, reply })
            .await?
    }

    /// Statistics so far.
    ///
    /// # Errors
    /// [`MediaError::UnknownSession`], [`MediaError::Stopped`].
    pub async fn stats(&self, id: MediaId) -> Result<SessionStats, MediaError> {
        self.request(id, |reply| Command::Stats { id, reply })
            .await?
    }

    /// Ends a session: closes its sockets, returns its ports to the pool (they drain before
    /// reuse), closes an endpoint's [`MediaRx`], and returns the final statistics.
    ///
    /// # Errors
    /// [`MediaError::UnknownSession`], [`MediaError::Stopped`].
    pub async fn release(&self, id: MediaId) -> Result<SessionStats, MediaError> {
        self.request(id, |reply| Command::Release { id, reply })
            .await?
    }

    /// Ends a session without waiting for its statistics, from synchronous code (the
    /// `Drop` of a task that owns it). A session already gone is ignored.
    pub fn discard(&self, id: MediaId) {
        let Some(w) = self.inner.workers.get(id.worker()) else {
            return;
        };
        // The worker's answer goes nowhere: the receiver is dropped here.
        let (reply, _) = oneshot::channel();
        if w.commands.send(Command::Release { id, reply }).is_ok() {
            let _ = w.waker.wake();
        }
    }

    async fn add(&self, session: NewSession) -> Result<MediaId, MediaError> {
        let workers = &self.inner.workers;
        let index = workers
            .iter()
            .enumerate()
            .min_by_key(|(_, w)| w.load.load(Ordering::Relaxed))
            .map_or(0, |(i, _)| i);
        let serial = self.inner.serial.fetch_add(1, Ordering::Relaxed);
        let id = MediaId::new(serial, index);
        let (reply, answer) = oneshot::channel();
        let w = &workers[index];
        w.load.fetch_add(1, Ordering::Relaxed);
        if let Err(mpsc::SendError(cmd)) = w.commands.send(Command::Add {
            id,
            session: Box::new(session),
            reply,
        }) {
            w.load.fetch_sub(1, Ordering::Relaxed);
            if let Command::Add { session, .. } = cmd {
                let sockets = session.sockets;
                for s in sockets {
                    release_sockets(&self.inner.pool, [Some(s), None]);
                }
            }
            return Err(MediaError::Stopped);
        }
        w.waker.wake()?;
        answer.await.map_err(|_| MediaError::Stopped)??;
        Ok(id)
    }

    async fn request<T>(
        &self,
        id: MediaId,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, MediaError> {
        let w = self
            .inner
            .workers
            .get(id.worker())
            .ok_or(MediaError::UnknownSession)?;
        let (reply, answer) = oneshot::channel();
        w.commands
            .send(make(reply))
            .map_err(|_| MediaError::Stopped)?;
        w.waker.wake()?;
        answer.await.map_err(|_| MediaError::Stopped)
    }

    /// Binds `port + 1` for a leg without rtcp-mux, or closes it for one with mux.
    fn ensure_rtcp(&self, s: &mut PortSockets, leg: &LegSpec) -> Result<(), MediaError> {
        if leg.rtcp_mux {
            s.rtcp = None;
        } else if s.rtcp.is_none() {
            let cfg = &self.inner.cfg;
            s.rtcp = Some(bind(cfg.address, s.port + 1, cfg.udp_recv_buffer)?);
        }
        Ok(())
    }

    fn bridge_plan(
        &self,
        a: &PortSockets,
        b: &PortSockets,
        cfg: &BridgeConfig,
    ) -> Result<(CallConfig, Option<TranscodePlan>), MediaError> {
        let mut la = leg_config(&cfg.a, a);
        let mut lb = leg_config(&cfg.b, b);
        let transcode = match MediaPath::decide(cfg.a.codec, cfg.b.codec) {
            MediaPath::PassThrough => {
                // Out of a leg go the other leg's payload types, renamed to this leg's.
                la.payload_type_map = pt_map(&cfg.b, &cfg.a);
                lb.payload_type_map = pt_map(&cfg.a, &cfg.b);
                None
            }
            MediaPath::Transcode => {
                let plan = |from: &LegSpec, to: &LegSpec| {
                    let mut t = TranscoderConfig::new(from.codec, to.codec);
                    t.ptime_ms = cfg.ptime_ms;
                    t.opus = cfg.opus;
                    // RFC 3550 §5.1: random initial sequence number and timestamp.
                    let r = self.random();
                    t.initial_sequence = r as u16;
                    t.initial_timestamp = (r >> 16) as u32;
                    (t, (r >> 48) as u32 ^ self.random() as u32)
                };
                let (ab, ab_ssrc) = plan(&cfg.a, &cfg.b);
                let (ba, ba_ssrc) = plan(&cfg.b, &cfg.a);
                // Validate here so a bad ptime is the caller's error, not the worker's.
                rtp_relay::codec::Transcoder::new(ab)?;
                Some(TranscodePlan {
                    a_to_b: ab,
                    a_to_b_ssrc: ab_ssrc,
                    b_to_a: ba,
                    b_to_a_ssrc: ba_ssrc,
                    a_te: cfg.a.telephone_event,
                    b_te: cfg.b.telephone_event,
                })
            }
        };
        Ok((
            CallConfig {
                a: la,
                b: lb,
                timeouts: cfg.timeouts,
                ringing: cfg.ringing,
            },
            transcode,
        ))
    }

    fn random(&self) -> u64 {
        let mut h = self.inner.random.build_hasher();
        h.write_u64(self.inner.serial.fetch_add(1, Ordering::Relaxed));
        h.finish()
    }
}

/// The relay leg for a spec on bound sockets.
fn leg_config(spec: &LegSpec, s: &PortSockets) -> LegConfig {
    let mut c = LegConfig::new(SocketId(u32::from(s.port)));
    c.rtcp_socket = s.rtcp.as_ref().map(|_| SocketId(u32::from(s.port) + 1));
    c.remote_rtp = spec.remote_rtp;
    c.remote_rtcp = spec.remote_rtcp;
    c.latching = spec.latching;
    let mut pts = vec![spec.codec.payload_type];
    pts.extend(spec.telephone_event);
    c.accept = PayloadTypes::only(&pts);
    c.clock_rate = spec.codec.kind.clock_rate();
    c.telephone_event = spec.telephone_event;
    c.watch_media = spec.watch_media;
    c
}

/// Payload-type renames for packets from `from` going out of `to` (pass-through).
fn pt_map(from: &LegSpec, to: &LegSpec) -> Vec<(u8, u8)> {
    let mut map = Vec::new();
    if from.codec.payload_type != to.codec.payload_type {
        map.push((from.codec.payload_type, to.codec.payload_type));
    }
    if let (Some(f), Some(t)) = (from.telephone_event, to.telephone_event) {
        if f != t {
            map.push((f, t));
        }
    }
    map
}

/// A non-blocking UDP socket with the configured receive buffer.
fn bind(ip: IpAddr, port: u16, recv_buffer: usize) -> std::io::Result<UdpSocket> {
    let addr = SocketAddr::new(ip, port);
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // The kernel may cap this at net.core.rmem_max; a smaller buffer is not an error.
    if let Err(e) = socket.set_recv_buffer_size(recv_buffer) {
        tracing::debug!(error = %e, "SO_RCVBUF refused");
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

pub(crate) fn release_sockets(pool: &Mutex<PortPool>, sockets: [Option<PortSockets>; 2]) {
    let now = Instant::now();
    let mut pool = lock(pool);
    for s in sockets.into_iter().flatten() {
        let port = s.port;
        drop(s);
        pool.release(port, now);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
