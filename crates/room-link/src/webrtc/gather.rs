//! Candidate gathering on the session's own socket before the offer: a server-reflexive
//! candidate from STUN servers and a relayed one from TURN servers (module `turn`), asked
//! at the same time so neither waits for the other.
//!
//! `rtc` is sans-IO and leaves gathering to its user. [`StunGather`] sends a Binding request
//! (RFC 8489 §6.1, no authentication) to every configured STUN server; the first success
//! response's XOR-MAPPED-ADDRESS (§14.2) becomes a server-reflexive candidate whose base is
//! the session's host candidate (RFC 8445 §5.1.1.2). Requests are retransmitted (§6.2.1:
//! the RTO "SHOULD be configurable"; ours starts at 100 ms and doubles, since the join waits
//! for it) until the gathering budget runs out; no answer is not an error, the offer then
//! goes without that candidate. [`gather`] drives both machines with one receive loop,
//! routing each response by its source (and, for STUN, its transaction).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rtc::stun::message::{BINDING_REQUEST, BINDING_SUCCESS, Getter, Message, TransactionId};
use rtc::stun::xoraddr::XorMappedAddress;
use tokio::net::UdpSocket;

use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::transport::{
    CandidateConfig, CandidateHostConfig, CandidateRelayConfig, CandidateServerReflexiveConfig,
    RTCIceCandidate,
};

use crate::error::Error;

use super::turn::{TurnGather, TurnRelay};

/// Largest STUN/TURN response read (RFC 8489 §6.1: a STUN message over UDP fits a
/// path MTU).
pub(super) const MAX_RESPONSE: usize = 1500;

/// The candidates a session offers (RFC 8445 §5.1.1).
pub(super) struct Candidates {
    /// Our host candidate, unless the policy is relay-only.
    pub(super) host: Option<SocketAddr>,
    /// A STUN server's view of `base`.
    pub(super) reflexive: Option<SocketAddr>,
    /// A TURN server's relayed address.
    pub(super) relayed: Option<SocketAddr>,
    /// The session socket's advertised address: the base of the reflexive candidate and the
    /// related address of the relayed one.
    pub(super) base: SocketAddr,
}

/// Adds `candidates` to `pc` as its local candidates (end-of-candidates is the caller's).
pub(super) fn add_local_candidates(
    pc: &mut RTCPeerConnection,
    candidates: &Candidates,
) -> Result<(), Error> {
    let bad = |_| Error::InvalidRequest("webrtc candidate could not be added");
    let mut add = |candidate: Result<_, _>| -> Result<(), Error> {
        let init = RTCIceCandidate::from(&candidate.map_err(bad)?)
            .to_json()
            .map_err(bad)?;
        pc.add_local_candidate(init).map_err(bad)
    };
    if let Some(local) = candidates.host {
        add(CandidateHostConfig {
            base_config: udp(local),
            ..Default::default()
        }
        .new_candidate_host())?;
    }
    let base = candidates.base;
    if let Some(mapped) = candidates.reflexive {
        // RFC 8445 §5.1.1.2: the host candidate is its base (raddr/rport).
        add(CandidateServerReflexiveConfig {
            base_config: udp(mapped),
            rel_addr: base.ip().to_string(),
            rel_port: base.port(),
            url: None,
        }
        .new_candidate_server_reflexive())?;
    }
    if let Some(relayed) = candidates.relayed {
        // RFC 8445 §5.1.1.2: a relayed candidate is its own base; RFC 8839 §5.1 puts the
        // address it was obtained from in raddr/rport.
        add(CandidateRelayConfig {
            base_config: udp(relayed),
            rel_addr: base.ip().to_string(),
            rel_port: base.port(),
            url: None,
        }
        .new_candidate_relay())?;
    }
    Ok(())
}

/// The part every candidate shares: UDP at `addr`, component 1 (RTP, muxed with RTCP).
fn udp(addr: SocketAddr) -> CandidateConfig {
    CandidateConfig {
        network: "udp".to_owned(),
        address: addr.ip().to_string(),
        port: addr.port(),
        component: 1,
        ..Default::default()
    }
}

/// Server-reflexive gathering, sans-IO.
pub(super) struct StunGather<'a> {
    servers: &'a [SocketAddr],
    request: Option<Message>,
    transaction: [u8; 12],
    rto: Duration,
    next_send: Instant,
    deadline: Instant,
    mapped: Option<SocketAddr>,
}

impl<'a> StunGather<'a> {
    /// Asks `servers` (none: over at once) with `transaction`, retransmitting from `rto` on,
    /// until `deadline`.
    pub(super) fn new(
        servers: &'a [SocketAddr],
        transaction: [u8; 12],
        rto: Duration,
        now: Instant,
        deadline: Instant,
    ) -> Self {
        let mut request = Message::new();
        let built = request.build(&[
            Box::new(TransactionId(transaction)),
            Box::new(BINDING_REQUEST),
        ]);
        StunGather {
            servers,
            request: (!servers.is_empty() && built.is_ok()).then_some(request),
            transaction,
            rto,
            next_send: now,
            deadline,
            mapped: None,
        }
    }

    fn is_done(&self) -> bool {
        self.request.is_none()
    }

    /// The request, when it is due again (to every server); re-arms the retransmission.
    fn poll_request(&mut self, now: Instant) -> Option<&[u8]> {
        if now < self.next_send {
            return None;
        }
        let request = self.request.as_ref()?;
        self.next_send = now + self.rto;
        self.rto *= 2;
        Some(&request.raw)
    }

    fn handle_read(&mut self, from: SocketAddr, data: &[u8]) {
        if self.is_done() || !self.servers.contains(&from) {
            return;
        }
        if let Some(mapped) = mapped_address(data, self.transaction) {
            self.mapped = Some(mapped);
            self.request = None;
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if now >= self.deadline {
            self.request = None;
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        (!self.is_done()).then(|| self.next_send.min(self.deadline))
    }
}

/// Runs `stun` and `turn` on `socket` until both are over (each has its deadline): the
/// mapped address and the allocation, when they were obtained.
pub(super) async fn gather(
    socket: &UdpSocket,
    mut stun: StunGather<'_>,
    mut turn: TurnGather,
) -> (Option<SocketAddr>, Option<TurnRelay>) {
    let mut buf = vec![0u8; MAX_RESPONSE];
    // Bounded: each machine ends by its deadline, and every round either receives or sleeps
    // until the earliest timer.
    loop {
        let now = tokio::time::Instant::now().into_std();
        stun.handle_timeout(now);
        turn.handle_timeout(now);
        let servers = stun.servers;
        if let Some(request) = stun.poll_request(now) {
            for server in servers {
                if let Err(e) = socket.send_to(request, server).await {
                    tracing::debug!(error = %e, %server, "webrtc room link: STUN request not sent");
                }
            }
        }
        while let Some((server, data)) = turn.poll_transmit() {
            if let Err(e) = socket.send_to(&data, server).await {
                tracing::debug!(error = %e, %server, "webrtc room link: TURN request not sent");
            }
        }
        let wake = match (stun.poll_timeout(), turn.poll_timeout()) {
            (None, None) => break,
            (Some(a), Some(b)) => a.min(b),
            (Some(t), None) | (None, Some(t)) => t,
        };
        let received = tokio::time::timeout_at(
            tokio::time::Instant::from_std(wake),
            socket.recv_from(&mut buf),
        )
        .await;
        // An ICMP error of one server (`Ok(Err)`) must not end the wait for another.
        if let Ok(Ok((n, from))) = received {
            let at = tokio::time::Instant::now().into_std();
            // One server may be both: STUN matches its transaction, TURN drops responses to
            // transactions it does not know.
            stun.handle_read(from, &buf[..n]);
            turn.handle_read(at, from, &buf[..n]);
        }
    }
    (stun.mapped, turn.into_relay())
}

/// The XOR-MAPPED-ADDRESS of a Binding success response to `transaction`.
fn mapped_address(datagram: &[u8], transaction: [u8; 12]) -> Option<SocketAddr> {
    let mut response = Message::new();
    response.unmarshal_binary(datagram).ok()?;
    if response.typ != BINDING_SUCCESS || response.transaction_id.0 != transaction {
        return None;
    }
    let mut xor = XorMappedAddress::default();
    xor.get_from(&response).ok()?;
    Some(SocketAddr::new(xor.ip, xor.port))
}
