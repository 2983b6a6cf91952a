//! Endpoint configuration: RFC 3261 timer values and the local identity used in Via/Contact.

use std::time::Duration;

/// Configuration of an [`Endpoint`](crate::Endpoint).
///
/// Every duration that changes protocol timing is a named field here; nothing in the crate
/// hides a default elsewhere (DESIGN.md, "No hidden defaults").
#[derive(Debug, Clone)]
pub struct Config {
    /// RFC 3261 T1, the round-trip estimate (§17.1.1.1 recommends 500 ms).
    pub t1: Duration,
    /// RFC 3261 T2, the cap for non-INVITE and 2xx retransmission intervals (4 s).
    pub t2: Duration,
    /// RFC 3261 T4, how long a message may stay in the network (5 s).
    pub t4: Duration,
    /// How long an INVITE server transaction waits for the TU before it sends 100 Trying
    /// itself (§17.2.1: "if the TU will not generate a provisional response within 200 ms").
    pub trying_delay: Duration,
    /// Host (IP literal or name) written as sent-by in Via and as host of generated Contacts.
    pub local_host: String,
    /// Port advertised for UDP in Via/Contact.
    pub udp_port: u16,
    /// Port advertised for TCP in Via/Contact.
    pub tcp_port: u16,
    /// Port advertised for TLS in Via/Contact.
    pub tls_port: u16,
    /// Value of the User-Agent/Server header, if any.
    pub user_agent: Option<String>,
    /// How many times a UAC answers 401/407 challenges for one call before giving up.
    pub max_auth_attempts: u8,
    /// Option tags this endpoint supports; a request whose Require lists anything else is
    /// rejected with 420 (§8.2.2.3).
    pub supported: Vec<String>,
    /// Value of the Allow header sent in responses to OPTIONS and in 405s.
    pub allow: String,
    /// Send in-dialog requests to the address the call's signaling flow uses (the INVITE's
    /// source or first hop) instead of the remote target / route set. Helps with peers
    /// behind NAT whose Contact is unreachable; off by default (§12.2.1.1 behaviour).
    pub in_dialog_to_flow: bool,
    /// How many calls (dialogs being set up or established) may exist at once; INVITEs over
    /// the limit are answered 503 so that state stays bounded.
    pub max_calls: usize,
    /// How many server and client transactions may exist at once; requests over the limit
    /// are answered 503 (or dropped when no response can be built).
    pub max_transactions: usize,
}

impl Config {
    /// A configuration with the RFC 3261 default timers for the given local host and one
    /// port used for every transport.
    pub fn new(local_host: impl Into<String>, port: u16) -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            trying_delay: Duration::from_millis(200),
            local_host: local_host.into(),
            udp_port: port,
            tcp_port: port,
            tls_port: port,
            user_agent: Some(concat!("sipbridge/", env!("CARGO_PKG_VERSION")).to_owned()),
            max_auth_attempts: 2,
            supported: Vec::new(),
            allow: "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY".to_owned(),
            in_dialog_to_flow: false,
            max_calls: 100_000,
            max_transactions: 400_000,
        }
    }

    /// 64·T1: Timers B, F, H, J (unreliable), L and M.
    pub fn t1x64(&self) -> Duration {
        self.t1 * 64
    }
}
