//! The in-memory UAC/UAS pair shared by the `call_flow` bench and the `call_flows` example
//! (the callgrind driver): INVITE → 100 → 180 → 200 (SDP) → ACK → BYE → 200, every message
//! written by one endpoint and parsed by the other.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sip_core::{Body, Config, Endpoint, Event, InviteOptions, Reply, Transport};

const OFFER: &[u8] = b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n";
const ANSWER: &[u8] = b"v=0\r\no=- 2 2 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";

/// A UAC and a UAS endpoint wired back to back, with a simulated clock.
pub struct World {
    uac: Endpoint,
    uas: Endpoint,
    uac_addr: SocketAddr,
    uas_addr: SocketAddr,
    now: Instant,
    opts: InviteOptions,
}

impl World {
    pub fn new() -> Self {
        let uac_addr: SocketAddr = "10.0.0.1:5060".parse().expect("addr");
        let uas_addr: SocketAddr = "10.0.0.2:5060".parse().expect("addr");
        #[allow(clippy::disallowed_methods)] // a bench needs some starting Instant
        let now = Instant::now();
        let opts = InviteOptions {
            transport: Transport::Udp,
            destination: uas_addr,
            request_uri: "sip:+15551234567@10.0.0.2".into(),
            from: "\"Alice\" <sip:alice@10.0.0.1>".into(),
            to: "<sip:+15551234567@10.0.0.2>".into(),
            contact: None,
            route: Vec::new(),
            headers: Vec::new(),
            body: Some(Body::sdp(OFFER)),
            ringing_timeout: Duration::from_secs(30),
            credentials: None,
            call_id: None,
        };
        Self {
            uac: Endpoint::new(Config::new("10.0.0.1", 5060), 1),
            uas: Endpoint::new(Config::new("10.0.0.2", 5060), 2),
            uac_addr,
            uas_addr,
            now,
            opts,
        }
    }

    /// Moves messages both ways and lets the UAS answer, until both are quiet. Returns
    /// whether the UAC saw its call answered.
    fn pump(&mut self) -> (bool, bool) {
        let (mut answered, mut ended) = (false, false);
        for _ in 0..64 {
            let mut moved = false;
            while let Some(t) = self.uac.poll_transmit() {
                moved = true;
                self.uas
                    .handle_datagram(self.now, t.transport, self.uac_addr, t.payload);
            }
            while let Some(e) = self.uas.poll_event() {
                moved = true;
                if let Event::IncomingCall { call, .. } = e {
                    let now = self.now;
                    let _ = self.uas.respond(now, call, Reply::status(100));
                    let _ = self.uas.respond(now, call, Reply::status(180));
                    let _ = self
                        .uas
                        .respond(now, call, Reply::with_body(200, Body::sdp(ANSWER)));
                }
            }
            while let Some(t) = self.uas.poll_transmit() {
                moved = true;
                self.uac
                    .handle_datagram(self.now, t.transport, self.uas_addr, t.payload);
            }
            while let Some(e) = self.uac.poll_event() {
                moved = true;
                match e {
                    Event::Answered { .. } => answered = true,
                    Event::Ended { .. } => ended = true,
                    _ => {}
                }
            }
            if !moved {
                break;
            }
        }
        (answered, ended)
    }

    /// One complete call flow; panics if the call is not answered.
    pub fn flow(&mut self) {
        let call = self
            .uac
            .invite(self.now, self.opts.clone())
            .expect("invite");
        let (answered, _) = self.pump();
        assert!(answered, "call answered");
        self.uac.hangup(self.now, call).expect("hangup");
        self.pump();
        // 1 ms of simulated time per flow: lingering transactions (Timers J/K/L/M) expire
        // and are reaped, so the tables hold a realistic steady state.
        self.now += Duration::from_millis(1);
        for ep in [&mut self.uac, &mut self.uas] {
            if ep.poll_timeout().is_some_and(|t| t <= self.now) {
                ep.handle_timeout(self.now);
            }
        }
        // Timer-driven output (none expected on a lossless wire) is discarded.
        while self.uac.poll_transmit().is_some() {}
        while self.uas.poll_transmit().is_some() {}
    }
}
