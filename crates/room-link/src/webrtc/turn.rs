//! Relayed candidates: an allocation on a TURN server (RFC 8656), reached from the
//! session's own UDP socket with webrtc-rs's sans-IO TURN client.
//!
//! # Gathering
//! Before the offer is created, [`TurnGather`] sends an Allocate request to every
//! configured server (beside STUN gathering, on the same socket: module `gather`); the
//! client answers the server's 401 with the long-term credential (RFC 8489 §9.2: username,
//! the REALM and NONCE the server chose, MESSAGE-INTEGRITY keyed with
//! `MD5(username ":" realm ":" password)`). The first success response's
//! XOR-RELAYED-ADDRESS becomes a relayed candidate (RFC 8445 §5.1.1.2). The wait is bounded
//! by [`super::WebRtcLinkConfig::turn_timeout`] and the join's deadline; a failure is not
//! fatal unless [`IceTransportPolicy::Relay`] left nothing else to offer.
//!
//! # Media
//! A [`TurnRelay`] lives in the session's [`super::peer::Peer`]. The peer connection's
//! datagrams from the relayed candidate (its base is the relayed address itself, RFC 8445
//! §5.1.1.2) go out as Send indications, or ChannelData once the client has bound a channel
//! (RFC 8656 §10–§12), after a permission for the peer (RFC 8656 §9: the server drops
//! traffic to and from addresses without one). Datagrams from the server are unwrapped and
//! handed to the peer connection as received on the relayed address. The allocation
//! (half its lifetime) and the permissions (every 120 s of their 300 s) are refreshed from
//! the client's timers, which the driver runs with the peer's; leaving releases the
//! allocation with a Refresh of lifetime 0 (RFC 8656 §7), sent at once and retransmitted
//! from a short task of its own until answered (or [`super::WebRtcLinkConfig::leave_timeout`]
//! passes).
//!
//! # Stale nonce
//! A Refresh, the release's included, answered 438 (Stale Nonce) is sent once more with
//! the server's new nonce (RFC 8489 §9.2.5, RFC 8656 §7.3); `rtc`'s client stores that nonce
//! but sends nothing again itself.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use rtc::stun::error_code::{CODE_STALE_NONCE, ErrorCodeAttribute};
use rtc::stun::message::{
    CLASS_ERROR_RESPONSE, CLASS_SUCCESS_RESPONSE, Getter, METHOD_REFRESH, Message, MessageClass,
    MessageType, TransactionId,
};
use rtc::turn::client::{Client, ClientConfig, Event};
use tokio::net::UdpSocket;

use super::gather::MAX_RESPONSE;

/// Datagrams held for peers whose permission is still being created (all peers together);
/// more are dropped, as the network would (ICE retransmits its checks).
const MAX_HELD: usize = 32;
/// The first two bytes (RFC 8489 §5: the message type) of a Refresh error response
/// (RFC 8656 §7), encoded once by `rtc`, so that a datagram's kind is a 2-byte peek.
static REFRESH_ERROR: LazyLock<[u8; 2]> = LazyLock::new(|| refresh_type(CLASS_ERROR_RESPONSE));
/// The first two bytes of a Refresh success response.
static REFRESH_SUCCESS: LazyLock<[u8; 2]> = LazyLock::new(|| refresh_type(CLASS_SUCCESS_RESPONSE));

/// A TURN server and the long-term credential (RFC 8489 §9.2) used with it.
#[derive(Clone, PartialEq, Eq)]
pub struct TurnServer {
    /// The server's UDP address.
    pub address: SocketAddr,
    /// The long-term credential's username.
    pub username: String,
    /// The long-term credential's password; never logged.
    pub credential: String,
}

impl fmt::Debug for TurnServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TurnServer")
            .field("address", &self.address)
            .field("username", &self.username)
            .field("credential", &"<redacted>")
            .finish()
    }
}

/// Which candidates the offer carries (the `iceTransportPolicy` of W3C WebRTC §4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IceTransportPolicy {
    /// Host, server-reflexive and relayed candidates.
    #[default]
    All,
    /// Relayed candidates only: media always goes through a TURN server, which hides our
    /// addresses from the room. A join without an allocation fails.
    Relay,
}

/// State of one peer's permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Permission {
    /// CreatePermission sent, no answer yet.
    Pending(TransactionId),
    /// Installed (and refreshed by the client).
    Granted,
    /// Refused by the server (e.g. 403 for a forbidden address, 443 for another address
    /// family): not asked again, and nothing is relayed to that peer.
    Refused,
}

/// What a datagram from the server answered, when it was a Refresh response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RefreshAnswer {
    /// Success: the allocation was refreshed (or, for the release, deleted).
    Granted,
    /// 438 (Stale Nonce): the Refresh was sent again with the new nonce.
    Retried,
    /// Any other error, or a second 438 in a row: nothing more is sent.
    Failed,
}

/// A live allocation and the client that keeps it.
pub(super) struct TurnRelay {
    client: Client,
    server: SocketAddr,
    /// The session socket's bound address, which the client was created with.
    local: SocketAddr,
    relayed: SocketAddr,
    permissions: HashMap<SocketAddr, Permission>,
    /// Datagrams waiting for their peer's permission, bounded by [`MAX_HELD`].
    held: VecDeque<(SocketAddr, BytesMut)>,
    /// The Refresh with LIFETIME 0 was queued ([`TurnRelay::release`]): a stale-nonce retry
    /// sends the release again, not a refresh.
    released: bool,
    /// A Refresh was sent again after a 438 since the last successful one (see
    /// [`TurnRelay::handle_read`]).
    stale_retried: bool,
}

impl TurnRelay {
    /// The relayed transport address (the candidate's address).
    pub(super) fn relayed(&self) -> SocketAddr {
        self.relayed
    }

    /// Whether a datagram from `from` is the server's (TURN) rather than a peer's.
    pub(super) fn is_server(&self, from: SocketAddr) -> bool {
        from == self.server
    }

    /// A datagram from the server; what it answered when it was a Refresh response.
    ///
    /// The client takes the new NONCE from a 438 (Stale Nonce) answer to a Refresh but does
    /// not send the Refresh again (it reports no error and ends the transaction); the next
    /// one would come only after another half lifetime, when the allocation has expired,
    /// and a release would never come. RFC 8489 §9.2.5 (and RFC 8656 §7.3): on 438 the
    /// client retries with the new nonce, once: a second 438 in a row means the server
    /// refuses the credential's new nonce too. So a stale-nonce Refresh error is followed
    /// here by the same Refresh again, the release (LIFETIME 0) once released.
    pub(super) fn handle_read(&mut self, now: Instant, data: BytesMut) -> Option<RefreshAnswer> {
        let kind = data.get(..2).and_then(|t| <[u8; 2]>::try_from(t).ok());
        let answer = match kind {
            Some(k) if k == *REFRESH_SUCCESS => Some(RefreshAnswer::Granted),
            Some(k) if k == *REFRESH_ERROR => Some(if is_stale_nonce(&data) {
                RefreshAnswer::Retried
            } else {
                RefreshAnswer::Failed
            }),
            _ => None,
        };
        let msg = tagged(now, self.local, self.server, data);
        if let Err(e) = self.client.handle_read(msg) {
            tracing::debug!(error = %e, server = %self.server, "webrtc room link: TURN datagram refused");
        }
        match answer {
            Some(RefreshAnswer::Granted) => self.stale_retried = false,
            Some(RefreshAnswer::Retried) if self.stale_retried => {
                tracing::debug!(server = %self.server, "webrtc room link: TURN refresh met a stale nonce twice");
                return Some(RefreshAnswer::Failed);
            }
            Some(RefreshAnswer::Retried) => {
                self.stale_retried = true;
                let sent = if self.released {
                    self.client
                        .relay(self.relayed)
                        .and_then(|mut r| r.close(now))
                } else {
                    self.client.refresh_allocations(now)
                };
                if let Err(e) = sent {
                    tracing::debug!(error = %e, "webrtc room link: TURN refresh not sent again");
                    return Some(RefreshAnswer::Failed);
                }
            }
            Some(RefreshAnswer::Failed) | None => {}
        }
        answer
    }

    /// The next datagram a peer sent to the relayed address (Data indication or
    /// ChannelData, unwrapped), with the peer's address. Also settles permissions.
    pub(super) fn poll_relayed(&mut self, now: Instant) -> Option<(SocketAddr, BytesMut)> {
        // Bounded: each round consumes one queued event.
        while let Some(event) = self.client.poll_event() {
            match event {
                Event::DataIndicationOrChannelData(_, from, data) => return Some((from, data)),
                Event::CreatePermissionResponse(_, peer) => {
                    self.permissions.insert(peer, Permission::Granted);
                    self.release_held(now, peer);
                }
                Event::CreatePermissionError(id, e) => {
                    tracing::debug!(error = %e, server = %self.server, "webrtc room link: TURN permission refused");
                    // 438 (Stale Nonce): the client took the new nonce; asked again on the
                    // next datagram. Anything else is final for that peer.
                    let retry = e == rtc::shared::error::Error::ErrTryAgain;
                    self.forget_pending(id, retry);
                }
                Event::TransactionTimeout(id) => {
                    tracing::debug!(server = %self.server, "webrtc room link: TURN request unanswered");
                    self.forget_pending(id, true);
                }
                _ => {}
            }
        }
        None
    }

    /// Asks for a permission for `peer` unless one is granted or pending (RFC 8656 §9.1).
    pub(super) fn permit(&mut self, now: Instant, peer: SocketAddr) {
        if self.permissions.contains_key(&peer) {
            return;
        }
        match self
            .client
            .relay(self.relayed)
            .and_then(|mut r| r.create_permission(now, peer))
        {
            Ok(Some(id)) => {
                self.permissions.insert(peer, Permission::Pending(id));
            }
            // The client already holds it.
            Ok(None) => {
                self.permissions.insert(peer, Permission::Granted);
            }
            Err(e) => {
                tracing::debug!(error = %e, %peer, "webrtc room link: TURN permission not requested");
            }
        }
    }

    /// Sends `data` to `peer` through the relay; held (bounded) while the peer's permission
    /// is being created.
    pub(super) fn send(&mut self, now: Instant, peer: SocketAddr, data: BytesMut) {
        match self.permissions.get(&peer) {
            Some(Permission::Granted) => self.send_now(now, peer, &data),
            Some(Permission::Pending(_)) => self.hold(peer, data),
            Some(Permission::Refused) => {}
            None => {
                self.permit(now, peer);
                if self.permissions.contains_key(&peer) {
                    self.hold(peer, data);
                }
            }
        }
    }

    /// The next datagram for the server.
    pub(super) fn poll_transmit(&mut self) -> Option<(SocketAddr, BytesMut)> {
        self.client
            .poll_write()
            .map(|t| (t.transport.peer_addr, t.message))
    }

    /// When the client next needs [`TurnRelay::handle_timeout`]: a retransmission, the
    /// allocation's or the permissions' refresh.
    pub(super) fn poll_timeout(&mut self) -> Option<Instant> {
        self.client.poll_timeout()
    }

    pub(super) fn handle_timeout(&mut self, now: Instant) {
        if let Err(e) = self.client.handle_timeout(now) {
            tracing::debug!(error = %e, "webrtc room link: TURN timeout handling failed");
        }
    }

    /// Releases the allocation on `socket`: a Refresh with LIFETIME 0 (RFC 8656 §7.1),
    /// sent at once (so a runtime shutting down still gets one out), then retransmitted
    /// (RFC 8489 §6.2.1) and sent again after a stale nonce from a task of its own until
    /// the server answers or `bound` passes, so that one lost datagram does not leave the
    /// allocation (and the user's quota on the server) taken for its whole lifetime.
    ///
    /// Consumes the relay: nothing else is sent through it once it is released.
    pub(super) fn release_in_background(mut self, socket: Arc<UdpSocket>, bound: Duration) {
        let now = tokio::time::Instant::now();
        self.release(now.into_std());
        while let Some((to, data)) = self.poll_transmit() {
            if let Err(e) = socket.try_send_to(&data, to) {
                // Retransmitted by the task.
                tracing::debug!(error = %e, "webrtc room link: TURN release not sent");
            }
        }
        tokio::spawn(self.release_task(socket, now + bound));
    }

    async fn release_task(mut self, socket: Arc<UdpSocket>, end: tokio::time::Instant) {
        let mut buf = vec![0u8; MAX_RESPONSE];
        // Bounded by `end`.
        loop {
            while let Some((to, data)) = self.poll_transmit() {
                if let Err(e) = socket.send_to(&data, to).await {
                    tracing::debug!(error = %e, "webrtc room link: TURN release not sent");
                }
            }
            let wake = self
                .client
                .poll_timeout()
                .map(tokio::time::Instant::from_std)
                .map_or(end, |t| t.min(end));
            if let Ok(Ok((n, from))) =
                tokio::time::timeout_at(wake, socket.recv_from(&mut buf)).await
            {
                if from == self.server {
                    let at = tokio::time::Instant::now().into_std();
                    match self.handle_read(at, BytesMut::from(&buf[..n])) {
                        // 438: the release went out again with the new nonce; wait for
                        // its answer.
                        Some(RefreshAnswer::Retried) | None => {}
                        // Success, or an error such as 437 after a retransmission whose
                        // original was answered (and taken by the session's reader)
                        // already.
                        Some(RefreshAnswer::Granted | RefreshAnswer::Failed) => return,
                    }
                }
            }
            let now = tokio::time::Instant::now();
            if now >= end {
                tracing::debug!(server = %self.server, "webrtc room link: TURN release unanswered");
                return;
            }
            if let Err(e) = self.client.handle_timeout(now.into_std()) {
                tracing::debug!(error = %e, "webrtc room link: TURN timeout handling failed");
            }
            while let Some(event) = self.client.poll_event() {
                if matches!(event, Event::TransactionTimeout(_)) {
                    tracing::debug!(server = %self.server, "webrtc room link: TURN release unanswered");
                    return;
                }
            }
        }
    }

    /// Marks the allocation released and queues the Refresh with LIFETIME 0.
    fn release(&mut self, now: Instant) {
        self.released = true;
        // A new request: it gets its own retry after a stale nonce.
        self.stale_retried = false;
        self.held.clear();
        if let Err(e) = self
            .client
            .relay(self.relayed)
            .and_then(|mut r| r.close(now))
        {
            tracing::debug!(error = %e, "webrtc room link: TURN release not sent");
        }
    }

    fn send_now(&mut self, now: Instant, peer: SocketAddr, data: &[u8]) {
        if let Err(e) = self
            .client
            .relay(self.relayed)
            .and_then(|mut r| r.send_to(now, data, peer))
        {
            tracing::debug!(error = %e, %peer, "webrtc room link: TURN send failed");
        }
    }

    fn hold(&mut self, peer: SocketAddr, data: BytesMut) {
        if self.held.len() < MAX_HELD {
            self.held.push_back((peer, data));
        }
    }

    fn release_held(&mut self, now: Instant, peer: SocketAddr) {
        let held = std::mem::take(&mut self.held);
        for (to, data) in held {
            if to == peer {
                self.send_now(now, to, &data);
            } else {
                self.held.push_back((to, data));
            }
        }
    }

    /// Ends the pending permission request `id`: asked again on the peer's next datagram
    /// when `retry`, else marked refused.
    fn forget_pending(&mut self, id: TransactionId, retry: bool) {
        let peer = self
            .permissions
            .iter()
            .find(|(_, p)| **p == Permission::Pending(id))
            .map(|(peer, _)| *peer);
        if let Some(peer) = peer {
            if retry {
                self.permissions.remove(&peer);
            } else {
                self.permissions.insert(peer, Permission::Refused);
            }
            self.held.retain(|(to, _)| *to != peer);
        }
    }
}

/// Releases an allocation the join could not hand to its peer (every early return after
/// gathering), in the background.
pub(super) struct UnusedRelay {
    pub(super) socket: Arc<UdpSocket>,
    pub(super) relay: Option<TurnRelay>,
    pub(super) timeout: Duration,
}

impl Drop for UnusedRelay {
    fn drop(&mut self) {
        if let Some(r) = self.relay.take() {
            r.release_in_background(self.socket.clone(), self.timeout);
        }
    }
}

/// One server being asked.
struct Attempt {
    server: SocketAddr,
    client: Client,
    done: bool,
}

/// Allocation on the first of the configured servers that grants one, sans-IO: the
/// gathering loop (module `gather`) feeds it the servers' datagrams and timeouts and sends
/// what it transmits. Over when one server granted an allocation, all refused or went
/// silent, or the deadline passed (no attempt left, then); each failure's cause is logged
/// at debug.
pub(super) struct TurnGather {
    local: SocketAddr,
    /// The servers still being asked.
    attempts: Vec<Attempt>,
    deadline: Instant,
    relay: Option<TurnRelay>,
}

impl TurnGather {
    /// Sends an Allocate to every one of `servers` from `local` (the session socket's
    /// address), to be answered by `deadline`.
    pub(super) fn new(
        servers: &[TurnServer],
        local: SocketAddr,
        rto: Duration,
        now: Instant,
        deadline: Instant,
    ) -> TurnGather {
        let mut gather = TurnGather {
            local,
            attempts: Vec::with_capacity(servers.len()),
            deadline,
            relay: None,
        };
        if servers.is_empty() {
            return gather;
        }
        let provider = match rtc::crypto::default_provider() {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(error = %e, "webrtc room link: no TURN allocation (crypto)");
                return gather;
            }
        };
        for s in servers {
            let cfg = ClientConfig {
                stun_serv_addr: String::new(),
                turn_serv_addr: s.address.to_string(),
                local_addr: local,
                transport_protocol: TransportProtocol::UDP,
                username: s.username.clone(),
                password: s.credential.clone(),
                // Learned from the server's 401 (RFC 8489 §9.2.3).
                realm: String::new(),
                software: String::new(),
                rto_in_ms: u64::try_from(rto.as_millis()).unwrap_or(u64::MAX).max(1),
                allocation_refresh_interval_cap: None,
            };
            let started = Client::new(cfg, provider.clone()).and_then(|mut c| {
                c.allocate(now)?;
                Ok(c)
            });
            match started {
                Ok(client) => gather.attempts.push(Attempt {
                    server: s.address,
                    client,
                    done: false,
                }),
                Err(e) => {
                    tracing::debug!(error = %e, server = %s.address, "webrtc room link: TURN Allocate not sent");
                }
            }
        }
        gather.settle();
        gather
    }

    /// Whether the gathering is over: no server is being asked any more.
    fn is_done(&self) -> bool {
        self.attempts.is_empty()
    }

    /// A datagram from `from`; ignored unless `from` is one of the servers being asked.
    pub(super) fn handle_read(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        let Some(a) = self.attempts.iter_mut().find(|a| a.server == from) else {
            return;
        };
        let msg = tagged(now, self.local, from, BytesMut::from(data));
        if let Err(e) = a.client.handle_read(msg) {
            tracing::debug!(error = %e, server = %from, "webrtc room link: TURN response refused");
        }
        self.settle();
    }

    /// Retransmissions, and the end at the deadline.
    pub(super) fn handle_timeout(&mut self, now: Instant) {
        if now >= self.deadline {
            for a in &self.attempts {
                tracing::debug!(server = %a.server, "webrtc room link: TURN allocation timed out");
            }
            self.attempts.clear();
            return;
        }
        for a in &mut self.attempts {
            if a.client.poll_timeout().is_some_and(|t| t <= now) {
                if let Err(e) = a.client.handle_timeout(now) {
                    tracing::debug!(error = %e, server = %a.server, "webrtc room link: TURN timeout handling failed");
                }
            }
        }
        self.settle();
    }

    /// The next request to send, with its server's address.
    pub(super) fn poll_transmit(&mut self) -> Option<(SocketAddr, BytesMut)> {
        self.attempts.iter_mut().find_map(|a| {
            a.client
                .poll_write()
                .map(|t| (t.transport.peer_addr, t.message))
        })
    }

    /// When [`TurnGather::handle_timeout`] is next due; `None` once over.
    pub(super) fn poll_timeout(&mut self) -> Option<Instant> {
        if self.is_done() {
            return None;
        }
        let timers = self
            .attempts
            .iter_mut()
            .filter_map(|a| a.client.poll_timeout());
        Some(timers.fold(self.deadline, Instant::min))
    }

    /// The allocation, if one was granted.
    pub(super) fn into_relay(self) -> Option<TurnRelay> {
        self.relay
    }

    /// Takes the clients' events: the first allocation wins; refusals and silence end
    /// their attempt.
    fn settle(&mut self) {
        for i in 0..self.attempts.len() {
            while let Some(event) = self.attempts[i].client.poll_event() {
                match event {
                    Event::AllocateResponse(_, relayed) => {
                        let a = self.attempts.swap_remove(i);
                        tracing::debug!(server = %a.server, %relayed, "webrtc room link: TURN allocation");
                        self.relay = Some(TurnRelay {
                            client: a.client,
                            server: a.server,
                            local: self.local,
                            relayed,
                            permissions: HashMap::new(),
                            held: VecDeque::new(),
                            released: false,
                            stale_retried: false,
                        });
                        // Requests still in flight to other servers are abandoned; an
                        // allocation they might still grant expires with its lifetime.
                        self.attempts.clear();
                        return;
                    }
                    Event::AllocateError(_, e) => {
                        // A wrong credential ends here: the second 401 (RFC 8489 §9.2.5).
                        tracing::debug!(error = %e, server = %self.attempts[i].server, "webrtc room link: TURN allocation refused");
                        self.attempts[i].done = true;
                    }
                    Event::TransactionTimeout(_) => {
                        tracing::debug!(server = %self.attempts[i].server, "webrtc room link: TURN server did not answer");
                        self.attempts[i].done = true;
                    }
                    _ => {}
                }
            }
        }
        self.attempts.retain(|a| !a.done);
    }
}

/// The peer addresses of the UDP candidates in an SDP `answer` (RFC 8839 §5.1), which get
/// permissions before the first check so the room's checks toward the relayed candidate
/// are let through. Host names (mDNS) are skipped.
pub(super) fn remote_candidates(answer: &str) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for line in answer.lines() {
        let Some(rest) = line.trim_end().strip_prefix("a=candidate:") else {
            continue;
        };
        // foundation component-id transport priority address port "typ" type …
        let mut fields = rest.split_ascii_whitespace();
        let (Some(_), Some(_), Some(transport), Some(_), Some(address), Some(port)) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            continue;
        };
        if !transport.eq_ignore_ascii_case("udp") {
            continue;
        }
        if let (Ok(ip), Ok(port)) = (address.parse(), port.parse::<u16>()) {
            let addr = SocketAddr::new(ip, port);
            if !out.contains(&addr) {
                out.push(addr);
            }
        }
    }
    out
}

/// The message type bytes of a Refresh response of `class`.
fn refresh_type(class: MessageClass) -> [u8; 2] {
    MessageType::new(METHOD_REFRESH, class)
        .value()
        .to_be_bytes()
}

/// Whether a STUN error response carries ERROR-CODE 438 (Stale Nonce, RFC 8489 §14.8).
fn is_stale_nonce(datagram: &[u8]) -> bool {
    let mut msg = Message::new();
    if msg.unmarshal_binary(datagram).is_err() {
        return false;
    }
    let mut code = ErrorCodeAttribute::default();
    code.get_from(&msg).is_ok() && code.code == CODE_STALE_NONCE
}

fn tagged(now: Instant, local: SocketAddr, peer: SocketAddr, message: BytesMut) -> TaggedBytesMut {
    TaggedBytesMut {
        now,
        transport: TransportContext {
            local_addr: local,
            peer_addr: peer,
            ecn: None,
            transport_protocol: TransportProtocol::UDP,
        },
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_candidates_are_parsed_udp_ip_only() {
        let sdp = "v=0\r\n\
            a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n\
            a=candidate:2 1 UDP 1694498815 203.0.113.7 5000 typ srflx raddr 10.0.0.1 rport 4000\r\n\
            a=candidate:3 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active\r\n\
            a=candidate:4 1 udp 2130706431 abc.local 40001 typ host\r\n\
            a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n\
            a=candidate:5 1 udp\r\n\
            a=end-of-candidates\r\n";
        assert_eq!(
            remote_candidates(sdp),
            vec![
                "127.0.0.1:40000"
                    .parse::<SocketAddr>()
                    .unwrap_or_else(|e| panic!("{e}")),
                "203.0.113.7:5000"
                    .parse::<SocketAddr>()
                    .unwrap_or_else(|e| panic!("{e}")),
            ]
        );
    }

    #[test]
    fn the_credential_is_not_in_debug_output() {
        let s = TurnServer {
            address: "127.0.0.1:3478".parse().unwrap_or_else(|e| panic!("{e}")),
            username: "alice".into(),
            credential: "hunter2-secret".into(),
        };
        let text = format!("{s:?}");
        assert!(text.contains("alice"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
