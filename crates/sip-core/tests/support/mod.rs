//! A simulated network for sip-core endpoints: latency, loss, duplication and reordering,
//! with time that jumps to the next deadline (no sleeping, no wall clock).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use sip_core::{CallHandle, Config, Endpoint, Event, InviteOptions, Transmit, Transport};

/// A deterministic drop rule: return true to lose the message.
pub type DropRule = Box<dyn FnMut(&SocketAddr, &Transmit) -> bool>;

/// Something a test wants done to an endpoint at a given time.
pub type Action = Box<dyn FnOnce(&mut Endpoint, Instant)>;

/// A test's reaction to an event: actions to run after a delay (zero = right away).
pub type Reactor = Box<dyn FnMut(Instant, &Event) -> Vec<(Duration, Action)>>;

/// One endpoint on the simulated network.
pub struct Node {
    pub ep: Endpoint,
    pub addr: SocketAddr,
    /// Every event, with the time it was drained.
    pub events: Vec<(Instant, Event)>,
    /// Every message this node sent, with the time it left.
    pub sent: Vec<(Instant, Transmit)>,
    pub reactor: Option<Reactor>,
}

struct Flight {
    at: Instant,
    seq: u64,
    from: SocketAddr,
    t: Transmit,
}

/// The network.
pub struct Net {
    pub start: Instant,
    pub now: Instant,
    pub latency: Duration,
    /// Extra random delay in [0, jitter) per message: reorders messages.
    pub jitter: Duration,
    /// Loss probability in per-mille.
    pub loss_permille: u32,
    /// Duplication probability in per-mille.
    pub dup_permille: u32,
    /// Deterministic drop rule, applied before random loss: return true to drop.
    pub drop_if: Option<DropRule>,
    pub nodes: Vec<Node>,
    flights: Vec<Flight>,
    actions: Vec<(Instant, usize, u64, Action)>,
    seq: u64,
    rng: ChaCha8Rng,
    /// Messages addressed to nobody (e.g. total-loss tests).
    pub blackholed: usize,
}

pub fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, i], 5060))
}

pub fn config(i: u8) -> Config {
    Config::new(format!("10.0.0.{i}"), 5060)
}

impl Net {
    pub fn new(seed: u64) -> Self {
        #[allow(clippy::disallowed_methods)] // the test needs *an* Instant to start from
        let start = Instant::now();
        Self {
            start,
            now: start,
            latency: Duration::from_millis(20),
            jitter: Duration::ZERO,
            loss_permille: 0,
            dup_permille: 0,
            drop_if: None,
            nodes: Vec::new(),
            flights: Vec::new(),
            actions: Vec::new(),
            seq: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
            blackholed: 0,
        }
    }

    /// A UAC at 10.0.0.1 (node 0) and a UAS at 10.0.0.2 (node 1).
    pub fn pair(seed: u64) -> Self {
        let mut net = Self::new(seed);
        net.add(config(1), seed.wrapping_add(1));
        net.add(config(2), seed.wrapping_add(2));
        net
    }

    pub fn add(&mut self, cfg: Config, seed: u64) -> usize {
        let host: std::net::IpAddr = cfg.local_host.parse().expect("ip literal host");
        let addr = SocketAddr::new(host, cfg.udp_port);
        self.nodes.push(Node {
            ep: Endpoint::new(cfg, seed),
            addr,
            events: Vec::new(),
            sent: Vec::new(),
            reactor: None,
        });
        self.nodes.len() - 1
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Runs `f` on node `i` now (a command), then drains.
    pub fn with<R>(&mut self, i: usize, f: impl FnOnce(&mut Endpoint, Instant) -> R) -> R {
        let now = self.now;
        let r = f(&mut self.nodes[i].ep, now);
        self.drain();
        r
    }

    /// Schedules `f` on node `i` after `delay`.
    pub fn after(
        &mut self,
        delay: Duration,
        i: usize,
        f: impl FnOnce(&mut Endpoint, Instant) + 'static,
    ) {
        self.seq += 1;
        self.actions
            .push((self.now + delay, i, self.seq, Box::new(f)));
    }

    pub fn react(
        &mut self,
        i: usize,
        r: impl FnMut(Instant, &Event) -> Vec<(Duration, Action)> + 'static,
    ) {
        self.nodes[i].reactor = Some(Box::new(r));
    }

    fn chance(&mut self, permille: u32) -> bool {
        permille > 0 && self.rng.next_u32() % 1000 < permille
    }

    /// Moves every node's outputs onto the wire / into the logs, until quiet.
    pub fn drain(&mut self) {
        for _round in 0..10_000 {
            let mut any = false;
            for i in 0..self.nodes.len() {
                while let Some(t) = self.nodes[i].ep.poll_transmit() {
                    any = true;
                    let from = self.nodes[i].addr;
                    self.nodes[i].sent.push((self.now, t.clone()));
                    let dropped = match self.drop_if.as_mut() {
                        Some(f) => f(&from, &t),
                        None => false,
                    };
                    if dropped || self.chance(self.loss_permille) {
                        continue;
                    }
                    let copies = if self.chance(self.dup_permille) { 2 } else { 1 };
                    for _ in 0..copies {
                        let jitter = if self.jitter.is_zero() {
                            Duration::ZERO
                        } else {
                            Duration::from_micros(
                                self.rng.next_u64() % self.jitter.as_micros() as u64,
                            )
                        };
                        self.seq += 1;
                        self.flights.push(Flight {
                            at: self.now + self.latency + jitter,
                            seq: self.seq,
                            from,
                            t: t.clone(),
                        });
                    }
                }
                while let Some(e) = self.nodes[i].ep.poll_event() {
                    any = true;
                    let now = self.now;
                    let reactions = match self.nodes[i].reactor.as_mut() {
                        Some(r) => r(now, &e),
                        None => Vec::new(),
                    };
                    self.nodes[i].events.push((now, e));
                    for (d, a) in reactions {
                        self.seq += 1;
                        self.actions.push((now + d, i, self.seq, a));
                    }
                }
            }
            // Zero-delay actions run in the same instant.
            let now = self.now;
            let due: Vec<_> = {
                let (due, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.actions)
                    .into_iter()
                    .partition(|a| a.0 <= now);
                self.actions = keep;
                due
            };
            for (_, i, _, a) in due {
                any = true;
                a(&mut self.nodes[i].ep, now);
            }
            if !any {
                return;
            }
        }
        panic!("endpoints kept producing output without time advancing");
    }

    fn next_deadline(&mut self) -> Option<Instant> {
        let mut next = self.flights.iter().map(|f| f.at).min();
        for a in &self.actions {
            next = Some(next.map_or(a.0, |n| n.min(a.0)));
        }
        for n in &mut self.nodes {
            if let Some(t) = n.ep.poll_timeout() {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        next
    }

    /// Advances simulated time, delivering messages and firing timers, until `limit` or
    /// until nothing is left to do. Returns the number of steps taken.
    pub fn run_until(&mut self, limit: Instant) -> usize {
        self.drain();
        for step in 0..1_000_000 {
            let Some(next) = self.next_deadline() else {
                return step;
            };
            if next > limit {
                self.now = limit;
                return step;
            }
            self.now = self.now.max(next);
            let now = self.now;
            // Deliver in (time, send order) so equal-latency messages keep their order.
            self.flights.sort_by_key(|f| (f.at, f.seq));
            let n_due = self.flights.iter().take_while(|f| f.at <= now).count();
            let due: Vec<Flight> = self.flights.drain(..n_due).collect();
            for f in due {
                match self.nodes.iter().position(|n| n.addr == f.t.destination) {
                    Some(i) => {
                        self.nodes[i]
                            .ep
                            .handle_datagram(now, f.t.transport, f.from, f.t.payload)
                    }
                    None => self.blackholed += 1,
                }
                self.drain();
            }
            for i in 0..self.nodes.len() {
                if self.nodes[i].ep.poll_timeout().is_some_and(|t| t <= now) {
                    self.nodes[i].ep.handle_timeout(now);
                }
            }
            self.drain();
        }
        panic!("simulation did not settle within a million steps");
    }

    pub fn run_for(&mut self, d: Duration) -> usize {
        let limit = self.now + d;
        self.run_until(limit)
    }

    /// Messages node `i` sent whose first line starts with `prefix` (e.g. "INVITE ",
    /// "SIP/2.0 487", "ACK ").
    pub fn sent_lines(&self, i: usize, prefix: &str) -> Vec<(Duration, Bytes)> {
        self.nodes[i]
            .sent
            .iter()
            .filter(|(_, t)| t.payload.starts_with(prefix.as_bytes()))
            .map(|(at, t)| (*at - self.start, t.payload.clone()))
            .collect()
    }

    pub fn events(&self, i: usize) -> impl Iterator<Item = &Event> {
        self.nodes[i].events.iter().map(|(_, e)| e)
    }
}

/// The incoming call on `node`.
pub fn incoming(net: &Net, node: usize) -> CallHandle {
    net.events(node)
        .find_map(|e| match e {
            Event::IncomingCall { call, .. } => Some(*call),
            _ => None,
        })
        .expect("incoming call")
}

pub fn invite_to(dest: SocketAddr, ringing: Duration) -> InviteOptions {
    InviteOptions {
        transport: Transport::Udp,
        destination: dest,
        request_uri: format!("sip:bob@{}", dest),
        from: "\"Alice\" <sip:alice@10.0.0.1>".to_owned(),
        to: format!("<sip:bob@{}>", dest),
        contact: None,
        route: Vec::new(),
        headers: Vec::new(),
        body: Some(sip_core::Body::sdp(&b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"[..])),
        ringing_timeout: ringing,
        credentials: None,
        call_id: None,
    }
}

/// The value of header `name` in a raw message (first occurrence, exact name).
pub fn header(msg: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(msg).ok()?;
    text.split("\r\n")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
}

/// Builds a response to `request` by hand (for scripted peers): copies Via, From, To,
/// Call-ID, CSeq; adds a To tag and Contact when given.
pub fn response_to(
    request: &[u8],
    status: u16,
    to_tag: Option<&str>,
    contact: Option<&str>,
) -> Bytes {
    let text = std::str::from_utf8(request).expect("utf8");
    let mut out = format!("SIP/2.0 {status} {}\r\n", sip_core::reason_phrase(status));
    for line in text.split("\r\n").skip(1).take_while(|l| !l.is_empty()) {
        let name = line
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match name.as_str() {
            "via" | "from" | "call-id" | "cseq" | "record-route" => {
                out.push_str(line);
                out.push_str("\r\n");
            }
            "to" => {
                out.push_str(line);
                if let Some(t) = to_tag {
                    out.push_str(";tag=");
                    out.push_str(t);
                }
                out.push_str("\r\n");
            }
            _ => {}
        }
    }
    if let Some(c) = contact {
        out.push_str(&format!("Contact: <{c}>\r\n"));
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    Bytes::from(out)
}
