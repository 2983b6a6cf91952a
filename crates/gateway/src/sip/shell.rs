//! The SIP I/O shell: tokio sockets around the sans-IO [`sip_core::Endpoint`].
//!
//! One driver task owns the endpoint. Socket tasks (the UDP receiver, one task per TCP
//! connection) hand it received messages over a bounded channel; it feeds them to the
//! endpoint, then drains transmit → event → timeout exactly as `sip_core`'s contract asks, and
//! keeps one sleep reset to `poll_timeout()`. The clock is read as
//! `tokio::time::Instant::now().into_std()` so `tokio::time::pause()` tests work.
//!
//! TCP (RFC 3261 §18): connections are reused per peer address in both directions; inbound
//! bytes are framed with [`sip_message::frame`] (Content-Length mandatory, CRLF keep-alives
//! skipped per RFC 5626 §3.5.1); a connection idle for `[sip] tcp_idle_timeout_s` is closed; a
//! framing error closes it. TLS will plug in as another stream kind next to TCP.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::{Bytes, BytesMut};
use sip_core::{Endpoint, Event, Transmit, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant as TokioInstant;

/// Depth of the queue from socket tasks to the driver. When it is full, UDP datagrams are
/// dropped (the peer retransmits) and TCP readers wait (back-pressure on the connection).
const INBOUND_QUEUE: usize = 8192;
/// Messages queued for one TCP connection before further ones are dropped (the transaction
/// layer treats it like loss and times out).
const CONNECTION_QUEUE: usize = 256;
/// Pause after a failed `accept` (e.g. out of file descriptors), so the acceptor does not
/// spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// Largest UDP datagram (IPv4 maximum payload).
const MAX_DATAGRAM: usize = 65_535;

/// Settings of the shell, all from the `[sip]` section of the configuration.
#[derive(Debug, Clone)]
pub struct ShellConfig {
    /// UDP and TCP listen address.
    pub listen: SocketAddr,
    /// SO_RCVBUF for the UDP socket.
    pub udp_recv_buffer: usize,
    /// Idle TCP connections are closed after this long.
    pub tcp_idle_timeout: Duration,
    /// How long an outgoing TCP connect may take: 64·T1, the same bound Timer B puts on the
    /// INVITE that needs the connection (RFC 3261 §17.1.1.2).
    pub tcp_connect_timeout: Duration,
    /// Parser limits (message size, header count, line length).
    pub limits: sip_message::Limits,
}

/// A command run inside the driver against the endpoint.
type EndpointCommand = Box<dyn FnOnce(&mut Endpoint, std::time::Instant) + Send>;

enum Input {
    Message {
        transport: Transport,
        from: SocketAddr,
        data: Bytes,
    },
    Command(EndpointCommand),
    Register {
        peer: SocketAddr,
        tx: mpsc::Sender<Bytes>,
        reply: oneshot::Sender<u64>,
    },
    ConnectionClosed(SocketAddr, u64),
}

/// A handle to the running shell: run commands against the endpoint.
#[derive(Clone)]
pub struct SipHandle {
    inputs: mpsc::Sender<Input>,
    local: SocketAddr,
}

impl SipHandle {
    /// Runs `f` on the endpoint inside the driver (then drains outputs) and returns its result.
    pub async fn with<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Endpoint, std::time::Instant) -> R + Send + 'static,
    ) -> Result<R> {
        let (tx, rx) = oneshot::channel();
        let command = Box::new(move |ep: &mut Endpoint, now| {
            let _ = tx.send(f(ep, now));
        });
        self.inputs
            .send(Input::Command(command))
            .await
            .map_err(|_| anyhow::anyhow!("SIP driver stopped"))?;
        rx.await.context("SIP driver stopped")
    }

    /// The bound UDP/TCP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

/// Tries for a port free on both UDP and TCP when the OS picks it (port 0).
const PORT_PICKS: usize = 16;

/// Binds UDP on `listen`, then TCP on the same port. With port 0 the OS picks the UDP
/// port, which another process may hold on TCP: then another pick, a bounded number of
/// times.
async fn bind_both(
    listen: SocketAddr,
    recv_buffer: usize,
) -> Result<(UdpSocket, std::net::UdpSocket, TcpListener)> {
    let mut tries = 0;
    loop {
        tries += 1;
        let (udp, udp_send) = bind_udp(listen, recv_buffer)?;
        let local = udp.local_addr()?;
        match TcpListener::bind(local).await {
            Ok(tcp) => return Ok((udp, udp_send, tcp)),
            Err(e)
                if listen.port() == 0
                    && e.kind() == std::io::ErrorKind::AddrInUse
                    && tries < PORT_PICKS => {}
            Err(e) => {
                return Err(e).with_context(|| format!("cannot listen for SIP on tcp {local}"));
            }
        }
    }
}

/// Binds UDP and TCP on `config.listen` and starts the driver; events go to `events`.
///
/// Returns once the sockets are bound, so callers know the port (useful with port 0).
pub async fn start(
    config: ShellConfig,
    endpoint_for: impl FnOnce(SocketAddr) -> Endpoint,
    events: mpsc::Sender<Event>,
) -> Result<SipHandle> {
    let (udp, udp_send, tcp) = bind_both(config.listen, config.udp_recv_buffer).await?;
    let local = udp.local_addr()?;
    let udp = Arc::new(udp);
    let (inputs, rx) = mpsc::channel(INBOUND_QUEUE);
    let config = Arc::new(config);

    tokio::spawn(udp_receiver(udp.clone(), inputs.clone()));
    tokio::spawn(tcp_acceptor(tcp, inputs.clone(), config.clone()));
    let driver = Driver {
        endpoint: endpoint_for(local),
        udp: udp_send,
        connections: HashMap::new(),
        next_conn_id: 1,
        inputs: inputs.clone(),
        config,
        events,
    };
    tokio::spawn(driver.run(rx));
    tracing::info!(%local, "SIP listening on udp and tcp");
    Ok(SipHandle { inputs, local })
}

/// Binds the SIP UDP socket; returns the tokio socket for receiving and a clone of the same
/// socket for sending.
///
/// Sending goes through the plain non-blocking std socket: tokio's `try_send_to` refuses to
/// send until the reactor has reported the socket writable, which would silently drop the
/// first message after start-up and leave it to a retransmission 500 ms later.
fn bind_udp(addr: SocketAddr, recv_buffer: usize) -> Result<(UdpSocket, std::net::UdpSocket)> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // The kernel may cap the size (net.core.rmem_max); a smaller buffer is not fatal.
    if let Err(err) = socket.set_recv_buffer_size(recv_buffer) {
        tracing::warn!(%err, recv_buffer, "cannot set SIP UDP receive buffer");
    }
    socket.set_nonblocking(true)?;
    socket
        .bind(&addr.into())
        .with_context(|| format!("cannot listen for SIP on udp {addr}"))?;
    let socket: std::net::UdpSocket = socket.into();
    let sender = socket.try_clone()?;
    Ok((UdpSocket::from_std(socket)?, sender))
}

async fn udp_receiver(socket: Arc<UdpSocket>, inputs: mpsc::Sender<Input>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (len, from) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(err) => {
                // ICMP errors surface here on some platforms; they are not fatal.
                tracing::debug!(%err, "SIP udp recv error");
                continue;
            }
        };
        let data = Bytes::copy_from_slice(&buf[..len]);
        let input = Input::Message {
            transport: Transport::Udp,
            from,
            data,
        };
        match inputs.try_send(input) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                metrics::counter!("sipbridge_sip_dropped_total", "reason" => "queue_full")
                    .increment(1);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
    }
}

async fn tcp_acceptor(
    listener: TcpListener,
    inputs: mpsc::Sender<Input>,
    config: Arc<ShellConfig>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let inputs = inputs.clone();
                let config = config.clone();
                tokio::spawn(async move {
                    // Register with the driver first so responses reuse this connection
                    // (RFC 3261 §18.2.2).
                    let (tx, rx) = mpsc::channel(CONNECTION_QUEUE);
                    let (reply, id) = oneshot::channel();
                    let register = Input::Register { peer, tx, reply };
                    if inputs.send(register).await.is_err() {
                        return;
                    }
                    let Ok(id) = id.await else { return };
                    run_connection(stream, peer, id, rx, inputs, config).await;
                });
            }
            Err(err) => {
                tracing::warn!(%err, "SIP tcp accept failed");
                // Out of file descriptors and similar: back off briefly instead of spinning.
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

async fn run_connection(
    stream: TcpStream,
    peer: SocketAddr,
    id: u64,
    mut outbound: mpsc::Receiver<Bytes>,
    inputs: mpsc::Sender<Input>,
    config: Arc<ShellConfig>,
) {
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let idle = config.tcp_idle_timeout;
    let reason = loop {
        tokio::select! {
            read = tokio::time::timeout(idle, reader.read_buf(&mut buf)) => {
                match read {
                    Err(_) => break "idle",
                    Ok(Err(_)) | Ok(Ok(0)) => break "closed",
                    Ok(Ok(_)) => {}
                }
                match drain_frames(&mut buf, peer, &inputs, &config.limits).await {
                    Ok(()) => {}
                    Err(why) => break why,
                }
            }
            message = outbound.recv() => {
                let Some(message) = message else { break "driver" };
                if writer.write_all(&message).await.is_err() {
                    break "write";
                }
            }
        }
    };
    tracing::debug!(%peer, reason, "SIP tcp connection closed");
    let _ = inputs.send(Input::ConnectionClosed(peer, id)).await;
}

/// Cuts every complete message off the front of `buf` and hands it to the driver.
async fn drain_frames(
    buf: &mut BytesMut,
    peer: SocketAddr,
    inputs: &mpsc::Sender<Input>,
    limits: &sip_message::Limits,
) -> Result<(), &'static str> {
    loop {
        match sip_message::frame(buf, limits) {
            Ok(sip_message::Frame::NeedMore) => {
                if buf.len() > limits.max_message_size {
                    return Err("oversized");
                }
                return Ok(());
            }
            Ok(sip_message::Frame::KeepAlive(n)) => {
                let _ = buf.split_to(n);
            }
            Ok(sip_message::Frame::Complete(n)) => {
                let data = buf.split_to(n).freeze();
                let input = Input::Message {
                    transport: Transport::Tcp,
                    from: peer,
                    data,
                };
                inputs.send(input).await.map_err(|_| "driver")?;
            }
            Err(err) => {
                tracing::debug!(%peer, %err, "SIP tcp framing error");
                return Err("framing");
            }
        }
    }
}

struct Connection {
    id: u64,
    tx: mpsc::Sender<Bytes>,
}

struct Driver {
    endpoint: Endpoint,
    udp: std::net::UdpSocket,
    connections: HashMap<SocketAddr, Connection>,
    next_conn_id: u64,
    inputs: mpsc::Sender<Input>,
    config: Arc<ShellConfig>,
    events: mpsc::Sender<Event>,
}

impl Driver {
    async fn run(mut self, mut rx: mpsc::Receiver<Input>) {
        let sleep = tokio::time::sleep_until(TokioInstant::now() + Duration::from_secs(3600));
        tokio::pin!(sleep);
        let mut armed = false;
        loop {
            tokio::select! {
                input = rx.recv() => {
                    let Some(input) = input else { return };
                    let now = TokioInstant::now().into_std();
                    self.handle(now, input);
                }
                () = &mut sleep, if armed => {
                    let now = TokioInstant::now().into_std();
                    self.endpoint.handle_timeout(now);
                }
            }
            if !self.drain().await {
                return;
            }
            match self.endpoint.poll_timeout() {
                Some(at) => {
                    sleep.as_mut().reset(TokioInstant::from_std(at));
                    armed = true;
                }
                None => armed = false,
            }
        }
    }

    fn handle(&mut self, now: std::time::Instant, input: Input) {
        match input {
            Input::Message {
                transport,
                from,
                data,
            } => self.endpoint.handle_datagram(now, transport, from, data),
            Input::Command(f) => f(&mut self.endpoint, now),
            Input::Register { peer, tx, reply } => {
                let id = self.next_conn_id;
                self.next_conn_id += 1;
                self.connections.insert(peer, Connection { id, tx });
                let _ = reply.send(id);
            }
            Input::ConnectionClosed(peer, id) => {
                if self.connections.get(&peer).is_some_and(|c| c.id == id) {
                    self.connections.remove(&peer);
                }
            }
        }
    }

    /// Drains transmits then events. Returns false when the event consumer is gone.
    async fn drain(&mut self) -> bool {
        while let Some(transmit) = self.endpoint.poll_transmit() {
            self.send(transmit);
        }
        while let Some(event) = self.endpoint.poll_event() {
            if self.events.send(event).await.is_err() {
                return false;
            }
        }
        true
    }

    fn send(&mut self, transmit: Transmit) {
        let Transmit {
            transport,
            destination,
            payload,
        } = transmit;
        match transport {
            Transport::Udp => {
                if let Err(err) = self.udp.send_to(&payload, destination) {
                    // A full socket buffer is loss to the transaction layer, which retransmits.
                    tracing::debug!(%err, %destination, "SIP udp send failed");
                }
            }
            Transport::Tcp | Transport::Tls => {
                let tx = match self.connections.get(&destination) {
                    Some(conn) => conn.tx.clone(),
                    None => self.connect(destination),
                };
                if tx.try_send(payload).is_err() {
                    tracing::debug!(%destination, "SIP tcp queue full, message dropped");
                }
            }
        }
    }

    /// Opens a TCP connection to `peer` in the background; messages queue meanwhile.
    fn connect(&mut self, peer: SocketAddr) -> mpsc::Sender<Bytes> {
        let (tx, rx) = mpsc::channel(CONNECTION_QUEUE);
        let id = self.next_conn_id;
        self.next_conn_id += 1;
        self.connections
            .insert(peer, Connection { id, tx: tx.clone() });
        let inputs = self.inputs.clone();
        let config = self.config.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(config.tcp_connect_timeout, TcpStream::connect(peer)).await {
                Ok(Ok(stream)) => run_connection(stream, peer, id, rx, inputs, config).await,
                Ok(Err(err)) => {
                    tracing::debug!(%peer, %err, "SIP tcp connect failed");
                    let _ = inputs.send(Input::ConnectionClosed(peer, id)).await;
                }
                Err(_) => {
                    tracing::debug!(%peer, "SIP tcp connect timed out");
                    let _ = inputs.send(Input::ConnectionClosed(peer, id)).await;
                }
            }
        });
        tx
    }
}
