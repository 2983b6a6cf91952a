//! Server-reflexive candidate gathering: our public address as a STUN server sees it.
//!
//! `rtc` is sans-IO and leaves gathering to its user. Before the offer is created, the
//! session's own socket sends a Binding request (RFC 8489 §6.1, no authentication) to every
//! configured STUN server; the first success response's XOR-MAPPED-ADDRESS (§14.2) becomes
//! a server-reflexive candidate whose base is the session's host candidate (RFC 8445
//! §5.1.1.2). Requests are retransmitted (§6.2.1: the RTO "SHOULD be configurable"; ours
//! starts at 100 ms and doubles, since the join waits for it) until the gathering budget
//! runs out; no answer is not an error, the offer then carries the host candidate only.

use std::net::SocketAddr;
use std::time::Duration;

use rtc::stun::message::{BINDING_REQUEST, BINDING_SUCCESS, Getter, Message, TransactionId};
use rtc::stun::xoraddr::XorMappedAddress;
use tokio::net::UdpSocket;

/// First retransmission timeout.
const INITIAL_RTO: Duration = Duration::from_millis(100);
/// Largest datagram read while gathering.
const MAX_RESPONSE: usize = 1500;

/// The mapped address the first of `servers` reports for `socket`, waiting until
/// `deadline` at most; `None` when none answered in time.
pub(super) async fn server_reflexive(
    socket: &UdpSocket,
    servers: &[SocketAddr],
    transaction: [u8; 12],
    deadline: tokio::time::Instant,
) -> Option<SocketAddr> {
    if servers.is_empty() {
        return None;
    }
    let mut request = Message::new();
    request
        .build(&[
            Box::new(TransactionId(transaction)),
            Box::new(BINDING_REQUEST),
        ])
        .ok()?;
    let mut rto = INITIAL_RTO;
    let mut buf = vec![0u8; MAX_RESPONSE];
    // Bounded: the RTO doubles until the deadline passes.
    loop {
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return None;
        }
        for server in servers {
            if let Err(e) = socket.send_to(&request.raw, server).await {
                tracing::debug!(error = %e, %server, "webrtc room link: STUN request not sent");
            }
        }
        let resend = (now + rto).min(deadline);
        rto *= 2;
        while let Ok(received) = tokio::time::timeout_at(resend, socket.recv_from(&mut buf)).await {
            let Ok((n, from)) = received else {
                continue; // ICMP errors of one server must not end the wait for another
            };
            if !servers.contains(&from) {
                continue;
            }
            if let Some(mapped) = mapped_address(&buf[..n], transaction) {
                return Some(mapped);
            }
        }
    }
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
