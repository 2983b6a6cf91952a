//! The [`Endpoint`]: transaction tables, timer heap, and the plumbing between transactions,
//! calls and the output queues. UAC and UAS session logic live in `uac.rs` and `uas.rs`.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

use crate::api::{CallHandle, EndReason, Event};
use crate::config::Config;
use crate::dialog::Dialog;
use crate::echo::{build_non2xx_ack, build_response, make_echo};
use crate::ids::{
    Branch, CallId, DialogId, MAGIC_COOKIE, MethodKey, Side, Tag, TransactionKey, random_token,
};
use crate::method::Method;
use crate::msg::{Inbound, Reject};
use crate::timer::{Owner, Scheduler, Timer, TimerTable};
use crate::transaction::{ClientTx, Purpose, ServerTx, TxOut};
use crate::transport::{Transmit, Transport};

/// The endpoint's hash maps: foldhash keyed from the caller-seeded RNG (peer-chosen keys
/// such as branches must not be predictable hash inputs; SipHash cost a tenth of a call
/// flow).
pub(crate) type Map<K, V> = HashMap<K, V, foldhash::fast::SeedableRandomState>;

fn new_map<K, V>(rng: &mut ChaCha8Rng) -> Map<K, V> {
    use rand_core::RngCore;
    HashMap::with_hasher(foldhash::fast::SeedableRandomState::with_seed(
        rng.next_u64(),
        foldhash::SharedSeed::global_fixed(),
    ))
}

/// §8.2.2.2 merged-request detection key: From tag, Call-ID and CSeq of a request without
/// To tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct MergeKey {
    call_id: Bytes,
    from_tag: Bytes,
    cseq: u32,
    method: Method,
}

/// Which side set up the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Uac,
    Uas,
}

/// UAC CANCEL progress (§9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CancelState {
    None,
    /// Wanted, but no provisional response yet: "the CANCEL request MUST NOT be sent".
    Pending(EndReason),
    /// Sent.
    Sent(EndReason),
}

/// A 2xx to an INVITE that the UAS core retransmits until the ACK (§13.3.1.4).
#[derive(Debug, Clone)]
pub(crate) struct Pending2xx {
    pub bytes: Bytes,
    pub cseq: u32,
    pub interval: std::time::Duration,
    pub target: SocketAddr,
    /// For the initial INVITE (its ACK confirms the call) rather than a re-INVITE.
    pub initial: bool,
}

/// UAC-only call state.
#[derive(Debug)]
pub(crate) struct UacState {
    pub request_uri: Bytes,
    pub from: Bytes,
    pub to: Bytes,
    pub contact: Bytes,
    pub routes: Vec<Bytes>,
    pub headers: Vec<(String, String)>,
    pub body: Option<crate::api::Body>,
    pub cseq: u32,
    pub credentials: Option<crate::digest::Credentials>,
    pub digest: crate::digest::DigestClient,
    pub auth_tries: u8,
    pub cancel: CancelState,
    pub got_provisional: bool,
    /// The credentials header of the last INVITE; the ACK for its 2xx repeats it
    /// (§13.2.2.4: "the ACK MUST contain the same credentials as the INVITE").
    pub auth: Option<(&'static str, String)>,
}

/// UAS-only call state: what the INVITE said, for building the dialog on 1xx/2xx.
#[derive(Debug)]
pub(crate) struct UasState {
    pub remote_header: Bytes,
    pub local_header: Bytes,
    pub remote_target: Bytes,
    pub record_routes: Vec<Bytes>,
    pub cseq: u32,
}

/// What an ended UAC call leaves with its INVITE transaction, which lingers in Accepted
/// until Timer M (RFC 6026 §8.4): enough to ACK a retransmitted 2xx once more
/// (§13.2.2.4), and to bring the call back, ended, for a fork that answers late (to be ACKed
/// and BYEd like any extra 2xx). The call itself — its dialogs, the INVITE's options, its map
/// entries — is freed at once instead of 64·T1 later.
#[derive(Debug)]
pub(crate) struct Afterlife {
    pub call_id: CallId,
    pub local_tag: Tag,
    pub transport: Transport,
    pub peer: SocketAddr,
    pub contact: Bytes,
    pub request_uri: Bytes,
    pub from: Bytes,
    pub to: Bytes,
    pub cseq: u32,
    pub auth: Option<(&'static str, String)>,
    /// The ACK sent in each answered dialog: remote tag, CSeq of the 2xx, the ACK, where.
    pub acks: Vec<(Tag, u32, Bytes, SocketAddr)>,
}

/// One INVITE session.
#[derive(Debug)]
pub(crate) struct Call {
    pub role: Role,
    pub call_id: CallId,
    pub local_tag: Tag,
    pub transport: Transport,
    /// UAC: the first hop; UAS: where the INVITE came from (the flow).
    pub peer: SocketAddr,
    pub contact: Bytes,
    pub timers: TimerTable,
    pub ended: bool,
    pub dialogs: Vec<Dialog>,
    pub answered: Option<usize>,
    pub uac: Option<Box<UacState>>,
    pub uas: Option<Box<UasState>>,
    /// The INVITE client (UAC) or server (UAS) transaction.
    pub invite_tx: Option<u64>,
    pub pending_2xx: Option<Pending2xx>,
    /// UAS: TU hung up before the ACK arrived; BYE once it does (§15).
    pub bye_after_ack: bool,
    pub reinvite_out: Option<u64>,
    pub reinvite_in: Option<u64>,
    /// Live client transactions that need this call (all but BYE and CANCEL); once ended
    /// it is reaped at zero ([`Endpoint::maybe_reap`]).
    pub tx_refs: u32,
}

/// A sans-IO SIP user agent: transactions, dialogs and INVITE sessions for any number of
/// calls. See the crate documentation for the drain contract.
#[derive(Debug)]
pub struct Endpoint {
    pub(crate) cfg: Config,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) sched: Scheduler,
    next_id: u64,
    pub(crate) clients: Map<u64, ClientTx>,
    client_index: Map<(Branch, Method), u64>,
    pub(crate) servers: Map<u64, ServerTx>,
    server_index: Map<TransactionKey, u64>,
    merged: Map<MergeKey, u64>,
    pub(crate) calls: Map<u64, Call>,
    pub(crate) dialogs: Map<DialogId, u64>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    pub(crate) buf: BytesMut,
    /// Arena for identifiers and short header values (see `ids::random_token`).
    pub(crate) ids: BytesMut,
    pub(crate) contacts: [Bytes; 3],
}

impl Endpoint {
    /// An endpoint with `config`; all identifiers (Call-IDs, tags, branches, cnonces) come
    /// from a ChaCha8 RNG seeded with `seed`, so a run is reproducible.
    pub fn new(config: Config, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Self {
            contacts: crate::uac::contacts_for(&config),
            cfg: config,
            sched: Scheduler::default(),
            next_id: 1,
            clients: new_map(&mut rng),
            client_index: new_map(&mut rng),
            servers: new_map(&mut rng),
            server_index: new_map(&mut rng),
            merged: new_map(&mut rng),
            calls: new_map(&mut rng),
            dialogs: new_map(&mut rng),
            rng,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            buf: BytesMut::with_capacity(8192),
            ids: BytesMut::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Feeds one datagram (UDP) or one framed message (TCP/TLS, see
    /// [`sip_message::frame`]) received from `from`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        transport: Transport,
        from: SocketAddr,
        data: Bytes,
    ) {
        match Inbound::parse(data) {
            Ok(m) if m.is_request() => self.on_request(now, transport, from, m),
            Ok(m) => self.on_response(now, m),
            Err((Reject::Respond(code), Some(m))) => {
                // §17.1.1.3 / §8.2: ACKs never get responses.
                if m.method() != Method::Ack {
                    self.respond_stateless(transport, from, &m, code, &[]);
                }
            }
            Err(_) => {}
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        // Each iteration pops one heap entry; firing can only push entries due later, so
        // this bound is never reached in practice but keeps the loop provably finite.
        let mut budget = self.sched.len() + 64;
        while budget > 0 {
            budget -= 1;
            let Some((at, owner, timer)) = self.sched.pop_due(now) else {
                break;
            };
            match owner {
                Owner::Client(id) => {
                    let Some(tx) = self.clients.get_mut(&id) else {
                        continue;
                    };
                    if !tx.timers.take_if(timer, at) {
                        continue;
                    }
                    let out = tx.on_timer(now, &self.cfg, &mut self.sched, id, timer);
                    self.after_client(now, id, out, None);
                }
                Owner::Server(id) => {
                    let Some(tx) = self.servers.get_mut(&id) else {
                        continue;
                    };
                    if !tx.timers.take_if(timer, at) {
                        continue;
                    }
                    let (cfg, sched, buf) = (&self.cfg, &mut self.sched, &mut self.buf);
                    let echo = tx.echo.clone();
                    let out = tx.on_timer(now, cfg, sched, id, timer, || {
                        build_response(buf, cfg, &echo, 100, None, false, None, &[], None)
                    });
                    self.after_server(id, out);
                }
                Owner::Call(id) => {
                    let Some(call) = self.calls.get_mut(&id) else {
                        continue;
                    };
                    if !call.timers.take_if(timer, at) {
                        continue;
                    }
                    self.on_call_timer(now, id, timer);
                }
            }
        }
        self.compact_timers();
    }

    /// Drops stale heap entries when they dominate (e.g. many 10-minute ringing timers of
    /// calls answered long ago), so memory stays proportional to live state.
    fn compact_timers(&mut self) {
        let live_owners = self.clients.len() + self.servers.len() + self.calls.len();
        if self.sched.len() <= 256 + 8 * live_owners {
            return;
        }
        let (clients, servers, calls) = (&self.clients, &self.servers, &self.calls);
        self.sched.retain(|owner, timer, at| {
            match owner {
                Owner::Client(id) => clients.get(&id).map(|t| &t.timers),
                Owner::Server(id) => servers.get(&id).map(|t| &t.timers),
                Owner::Call(id) => calls.get(&id).map(|c| &c.timers),
            }
            .is_some_and(|t| t.get(timer) == Some(at))
        });
    }

    /// The shell could not deliver to `destination` over `transport` (TCP/TLS connect
    /// refused or reset, ICMP unreachable). Per §17.1.1.2 / §17.1.2.2 the client
    /// transactions using it terminate and the TU is told (§8.1.3.1: as if a 503 arrived);
    /// server transactions that can no longer answer are dropped.
    pub fn handle_transport_error(
        &mut self,
        now: Instant,
        transport: Transport,
        destination: SocketAddr,
    ) {
        let _ = now;
        let failed: Vec<u64> = self
            .clients
            .iter()
            .filter(|(_, t)| {
                t.transport == transport && t.destination == destination && t.is_pending()
            })
            .map(|(id, _)| *id)
            .collect();
        for id in failed {
            let Some(tx) = self.clients.get(&id) else {
                continue;
            };
            let (call, purpose, method) = (tx.call, tx.purpose, tx.method);
            match purpose {
                Purpose::Invite => {
                    if self
                        .calls
                        .get(&call)
                        .is_some_and(|c| c.invite_tx == Some(id))
                    {
                        self.end_call(call, EndReason::Rejected { status: 503 });
                    }
                }
                Purpose::InDialog(rid) => {
                    self.emit(Event::Response {
                        call: CallHandle(call),
                        request: crate::api::RequestId(rid),
                        method,
                        status: 503,
                        response: None,
                    });
                    self.end_call(call, EndReason::Rejected { status: 503 });
                }
                Purpose::Standalone(rid) => self.emit(Event::StandaloneResponse {
                    request: crate::api::RequestId(rid),
                    method,
                    status: 503,
                    response: None,
                }),
                Purpose::Cancel | Purpose::Bye => {}
            }
            self.remove_client(id);
        }
        let dead: Vec<u64> = self
            .servers
            .iter()
            .filter(|(_, t)| t.transport == transport && t.target == destination)
            .map(|(id, _)| *id)
            .collect();
        for id in dead {
            let call = self.servers.get(&id).and_then(|t| t.call);
            if let Some(call) = call {
                if self
                    .calls
                    .get(&call)
                    .is_some_and(|c| c.invite_tx == Some(id) && c.answered.is_none())
                {
                    self.end_call(call, EndReason::Rejected { status: 503 });
                }
            }
            self.remove_server(id);
        }
    }

    /// The next datagram to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the TU, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called; `None` when no
    /// timer is armed.
    #[must_use]
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some((at, owner, timer)) = self.sched.peek() {
            let live = match owner {
                Owner::Client(id) => self.clients.get(&id).map(|t| &t.timers),
                Owner::Server(id) => self.servers.get(&id).map(|t| &t.timers),
                Owner::Call(id) => self.calls.get(&id).map(|c| &c.timers),
            }
            .is_some_and(|t| t.get(timer) == Some(at));
            if live {
                return Some(at);
            }
            self.sched.pop();
        }
        None
    }

    /// Number of live calls (including ended calls still absorbing retransmissions).
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// Number of live client and server transactions.
    pub fn transaction_count(&self) -> usize {
        self.clients.len() + self.servers.len()
    }

    // ---- internal plumbing ----

    pub(crate) fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub(crate) fn new_branch(&mut self) -> Branch {
        Branch::new(random_token(&mut self.rng, &mut self.ids, MAGIC_COOKIE, 10))
    }

    pub(crate) fn new_tag(&mut self) -> Tag {
        Tag::new(random_token(&mut self.rng, &mut self.ids, "", 6))
    }

    pub(crate) fn new_call_id(&mut self) -> CallId {
        CallId::new(random_token(&mut self.rng, &mut self.ids, "", 12))
    }

    pub(crate) fn transmit(
        &mut self,
        transport: Transport,
        destination: SocketAddr,
        payload: Bytes,
    ) {
        self.transmits.push_back(Transmit {
            transport,
            destination,
            payload,
        });
    }

    pub(crate) fn emit(&mut self, event: Event) {
        self.events.push_back(event);
    }

    pub(crate) fn at_capacity(&self) -> bool {
        self.clients.len() + self.servers.len() >= self.cfg.max_transactions
    }

    /// Starts a client transaction for `request` and sends it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start_client(
        &mut self,
        now: Instant,
        method: Method,
        branch: Branch,
        request: Bytes,
        transport: Transport,
        destination: SocketAddr,
        call: u64,
        purpose: Purpose,
    ) -> u64 {
        let id = self.next_id();
        self.transmit(transport, destination, request.clone());
        let tx = ClientTx::start(
            now,
            &self.cfg,
            &mut self.sched,
            id,
            method,
            branch.clone(),
            request,
            transport,
            destination,
            call,
            purpose,
        );
        self.clients.insert(id, tx);
        self.client_index.insert((branch, method), id);
        if ClientTx::holds_call(purpose) {
            if let Some(c) = self.calls.get_mut(&call) {
                c.tx_refs += 1;
            }
        }
        id
    }

    pub(crate) fn remove_client(&mut self, id: u64) {
        if let Some(tx) = self.clients.remove(&id) {
            self.client_index.remove(&(tx.branch, tx.method));
            if let Some(c) = self.calls.get_mut(&tx.call) {
                if ClientTx::holds_call(tx.purpose) {
                    c.tx_refs = c.tx_refs.saturating_sub(1);
                }
                if c.invite_tx == Some(id) {
                    c.invite_tx = None;
                }
                if c.reinvite_out == Some(id) {
                    c.reinvite_out = None;
                }
            }
            self.maybe_reap(tx.call);
        }
    }

    pub(crate) fn remove_server(&mut self, id: u64) {
        if let Some(tx) = self.servers.remove(&id) {
            self.server_index.remove(&tx.key);
            if let Some(k) = tx.merge_key {
                if self.merged.get(&k) == Some(&id) {
                    self.merged.remove(&k);
                }
            }
            if let Some(call) = tx.call {
                if let Some(c) = self.calls.get_mut(&call) {
                    if c.invite_tx == Some(id) {
                        c.invite_tx = None;
                    }
                    if c.reinvite_in == Some(id) {
                        c.reinvite_in = None;
                    }
                }
                self.maybe_reap(call);
            }
        }
    }

    /// Removes an ended call once nothing needs it any more.
    ///
    /// What keeps a call is counted once, where transactions start and end (`tx_refs`):
    /// client transactions whose answers need the call's dialogs — a 2xx retransmitted (or
    /// forked) to an INVITE or re-INVITE must still be ACKed (and BYEd) from them
    /// (§13.2.2.4, RFC 6026 §8.4) — but not a BYE's or CANCEL's, and no server transaction:
    /// what those still do after the call ended — absorb a retransmitted INVITE in Accepted
    /// (RFC 6026 §8.7), answer a retransmitted BYE or ACK a non-2xx (§17.2) — needs no
    /// call, and a new request in the gone dialog gets 481 (§12.2.2). A UAS call also waits
    /// for the ACK of its 2xx (`pending_2xx`). Not keeping calls for the 64·T1 their server
    /// transactions linger takes a sixth of the memory of a loaded endpoint.
    pub(crate) fn maybe_reap(&mut self, call: u64) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if !c.ended || c.pending_2xx.is_some() {
            return;
        }
        if c.tx_refs == 0 || (c.tx_refs == 1 && self.hand_off(call)) {
            if let Some(c) = self.calls.remove(&call) {
                for d in &c.dialogs {
                    if self.dialogs.get(&d.id) == Some(&call) {
                        self.dialogs.remove(&d.id);
                    }
                }
            }
        }
    }

    /// Leaves an ended UAC call's [`Afterlife`] with its INVITE transaction when that is
    /// the only one left and in Accepted; `false` (keep the call) otherwise.
    fn hand_off(&mut self, call: u64) -> bool {
        let Some(c) = self.calls.get(&call) else {
            return false;
        };
        let Some(t) = c.invite_tx else {
            return false;
        };
        let (Some(u), true) = (
            c.uac.as_deref(),
            self.clients.get(&t).is_some_and(ClientTx::is_accepted),
        ) else {
            return false;
        };
        let acks = c
            .dialogs
            .iter()
            .filter_map(|d| {
                let (seq, ack) = d.ack.as_ref()?;
                let dest = self.in_dialog_destination(call, &d.id);
                Some((d.id.remote_tag.clone(), *seq, ack.clone(), dest))
            })
            .collect();
        let life = Afterlife {
            call_id: c.call_id.clone(),
            local_tag: c.local_tag.clone(),
            transport: c.transport,
            peer: c.peer,
            contact: c.contact.clone(),
            request_uri: u.request_uri.clone(),
            from: u.from.clone(),
            to: u.to.clone(),
            cseq: u.cseq,
            auth: u.auth.clone(),
            acks,
        };
        if let Some(tx) = self.clients.get_mut(&t) {
            tx.afterlife = Some(Box::new(life));
        }
        true
    }

    /// Ends a call: one `Ended` event, call timers stopped, the call kept (as a zombie that
    /// absorbs retransmissions) until its transactions finish.
    pub(crate) fn end_call(&mut self, call: u64, reason: EndReason) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.ended {
            return;
        }
        c.ended = true;
        for t in [Timer::Ringing, Timer::CancelGuard] {
            c.timers.cancel(t);
        }
        self.emit(Event::Ended {
            call: CallHandle(call),
            reason,
        });
        self.maybe_reap(call);
    }

    /// Acts on a client transaction's output; `response` is the message that caused it.
    fn after_client(&mut self, now: Instant, id: u64, out: TxOut, response: Option<Inbound>) {
        let Some(tx) = self.clients.get(&id) else {
            return;
        };
        let (call, purpose, transport, dest, method) =
            (tx.call, tx.purpose, tx.transport, tx.destination, tx.method);
        if let Some(bytes) = out.send {
            self.transmit(transport, dest, bytes);
        }
        if out.pass {
            if let Some(m) = response {
                match purpose {
                    Purpose::Invite => self.uac_invite_response(now, call, id, m),
                    Purpose::InDialog(_) => self.in_dialog_response(now, call, id, method, m),
                    Purpose::Standalone(rid) => {
                        let status = m.status().unwrap_or(0);
                        self.emit(Event::StandaloneResponse {
                            request: crate::api::RequestId(rid),
                            method,
                            status,
                            response: Some(Box::new(m)),
                        });
                    }
                    Purpose::Cancel | Purpose::Bye => {}
                }
            }
        }
        if out.timeout {
            match purpose {
                Purpose::Invite => self.uac_invite_timeout(call, id),
                Purpose::InDialog(rid) => self.in_dialog_timeout(call, rid, method),
                Purpose::Standalone(rid) => self.emit(Event::StandaloneResponse {
                    request: crate::api::RequestId(rid),
                    method,
                    status: 408,
                    response: None,
                }),
                Purpose::Cancel | Purpose::Bye => {}
            }
        }
        if out.terminated {
            self.remove_client(id);
        }
    }

    pub(crate) fn after_server(&mut self, id: u64, out: TxOut) {
        let Some(tx) = self.servers.get(&id) else {
            return;
        };
        if let Some(bytes) = out.send {
            let (t, d) = (tx.transport, tx.target);
            self.transmit(t, d, bytes);
        }
        if out.terminated {
            self.remove_server(id);
        }
    }

    fn on_response(&mut self, now: Instant, m: Inbound) {
        // §18.1.2: a response with more than one Via is not for us.
        if m.via_count != 1 {
            return;
        }
        let Some(status) = m.status() else { return };
        let Some(branch) = m.top_via().branch.clone() else {
            return;
        };
        let key = (Branch::new(m.slice(&branch)), m.cseq_method);
        let Some(&id) = self.client_index.get(&key) else {
            self.stray_response(now, &m);
            return;
        };
        let Some(tx) = self.clients.get_mut(&id) else {
            return;
        };
        let (cfg, sched, buf) = (&self.cfg, &mut self.sched, &mut self.buf);
        let request = tx.request.clone();
        let out = tx.on_response(now, cfg, sched, id, status, || {
            build_non2xx_ack(buf, &request, &m)
        });
        self.after_client(now, id, out, Some(m));
    }

    /// A 2xx to an INVITE after its transaction is gone: re-send the ACK the dialog sent
    /// (§13.2.2.4: "the UAC core MUST … pass the ACK … for each retransmission").
    fn stray_response(&mut self, _now: Instant, m: &Inbound) {
        if m.cseq_method != Method::Invite || !matches!(m.status(), Some(200..=299)) {
            return;
        }
        let (Some(ft), Some(tt)) = (&m.from_tag, &m.to_tag) else {
            return;
        };
        let id = DialogId {
            call_id: CallId::new(m.slice(&m.call_id)),
            local_tag: Tag::new(m.slice(ft)),
            remote_tag: Tag::new(m.slice(tt)),
        };
        let Some(&call) = self.dialogs.get(&id) else {
            return;
        };
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let ack = c
            .dialogs
            .iter()
            .find(|d| d.id == id)
            .and_then(|d| d.ack.as_ref())
            .filter(|(seq, _)| *seq == m.cseq)
            .map(|(_, a)| a.clone());
        if let Some(ack) = ack {
            let dest = self.in_dialog_destination(call, &id);
            let transport = c.transport;
            self.transmit(transport, dest, ack);
        }
    }

    /// The transport address for requests in dialog `id` of `call`.
    pub(crate) fn in_dialog_destination(&self, call: u64, id: &DialogId) -> SocketAddr {
        let Some(c) = self.calls.get(&call) else {
            // Callers hold a live call; fall back to an unroutable address rather than panic.
            return SocketAddr::from(([0, 0, 0, 0], 0));
        };
        if self.cfg.in_dialog_to_flow {
            return c.peer;
        }
        c.dialogs
            .iter()
            .find(|d| &d.id == id)
            .and_then(|d| d.next_hop(c.transport).destination)
            .unwrap_or(c.peer)
    }

    /// Server transaction lookup (§17.2.3), ACK folded into INVITE.
    pub(crate) fn server_key(m: &Inbound, source_method: Method) -> TransactionKey {
        let method = match source_method {
            Method::Ack => Method::Invite,
            other => other,
        };
        let method_key = if method == Method::Other {
            MethodKey::Other(Bytes::copy_from_slice(m.method_name().as_bytes()))
        } else {
            MethodKey::Known(method)
        };
        let via = m.top_via();
        match m.branch() {
            Some(b) if b.starts_with(MAGIC_COOKIE.as_bytes()) => {
                // Host names compare case-insensitively; copy only when there is case
                // to fold.
                let raw = m.bytes(&via.sent_by);
                let sent_by = if raw.iter().any(u8::is_ascii_uppercase) {
                    Bytes::from(raw.to_ascii_lowercase())
                } else {
                    m.slice(&via.sent_by)
                };
                TransactionKey::Rfc3261 {
                    side: Side::Server,
                    branch: Branch::new(m.slice(via.branch.as_ref().unwrap_or(&(0..0)))),
                    sent_by,
                    method: method_key,
                }
            }
            _ => TransactionKey::Rfc2543 {
                request_uri: m.slice(&m.request_uri_range()),
                call_id: CallId::new(m.slice(&m.call_id)),
                from_tag: m.from_tag.as_ref().map(|r| m.slice(r)).unwrap_or_default(),
                cseq: m.cseq,
                via: m.slice(&via.value),
                method: method_key,
            },
        }
    }

    pub(crate) fn find_server(&self, key: &TransactionKey) -> Option<u64> {
        self.server_index.get(key).copied()
    }

    pub(crate) fn merge_conflict(&self, m: &Inbound, key: &TransactionKey) -> bool {
        let Some(mk) = merge_key(m) else { return false };
        self.merged
            .get(&mk)
            .and_then(|id| self.servers.get(id))
            .is_some_and(|tx| &tx.key != key)
    }

    /// Creates a server transaction for request `m`. Returns `None` at capacity.
    pub(crate) fn new_server_tx(
        &mut self,
        now: Instant,
        transport: Transport,
        from: SocketAddr,
        m: &Inbound,
        call: Option<u64>,
        to_tag: Option<Tag>,
    ) -> Option<u64> {
        if self.at_capacity() {
            return None;
        }
        let id = self.next_id();
        let key = Self::server_key(m, m.method());
        let to_tag = match (to_tag, &m.to_tag) {
            (Some(t), _) => t,
            (None, Some(r)) => Tag::new(m.slice(r)),
            (None, None) => self.new_tag(),
        };
        let (echo, target) = make_echo(m, transport, from, to_tag);
        let merge_key = if m.to_tag.is_none() {
            merge_key(m)
        } else {
            None
        };
        let invite = m.method() == Method::Invite;
        let mut tx = ServerTx {
            state: if invite {
                crate::transaction::ServerState::Invite(crate::InviteServerState::Proceeding)
            } else {
                crate::transaction::ServerState::NonInvite(crate::NonInviteServerState::Trying)
            },
            method: m.method(),
            cseq: m.cseq,
            key: key.clone(),
            merge_key: merge_key.clone(),
            transport,
            target,
            echo,
            last_response: None,
            last_status: 0,
            interval: self.cfg.t1,
            timers: TimerTable::default(),
            call,
        };
        if invite {
            self.sched.arm(
                &mut tx.timers,
                Owner::Server(id),
                Timer::Trying,
                now + self.cfg.trying_delay,
            );
        }
        self.servers.insert(id, tx);
        self.server_index.insert(key, id);
        if let Some(k) = merge_key {
            self.merged.insert(k, id);
        }
        Some(id)
    }

    /// Sends a response through server transaction `id`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn server_respond(
        &mut self,
        now: Instant,
        id: u64,
        status: u16,
        reason: Option<&str>,
        contact: Option<Bytes>,
        headers: &[(String, String)],
        body: Option<&crate::api::Body>,
    ) -> Result<Bytes, crate::Error> {
        let Some(tx) = self.servers.get_mut(&id) else {
            return Err(crate::Error::UnknownRequest);
        };
        let with_rr = tx.method == Method::Invite && (101..300).contains(&status);
        let bytes = build_response(
            &mut self.buf,
            &self.cfg,
            &tx.echo,
            status,
            reason,
            with_rr,
            contact.as_deref(),
            headers,
            body,
        );
        let Some(out) =
            tx.send_response(now, &self.cfg, &mut self.sched, id, status, bytes.clone())
        else {
            return Err(crate::Error::InvalidState(
                "a final response was already sent",
            ));
        };
        self.after_server(id, out);
        Ok(bytes)
    }

    /// Creates a server transaction just to answer `m` with a final `status` (so that
    /// retransmissions are answered and, for INVITE, the ACK absorbed), or answers
    /// statelessly at capacity.
    pub(crate) fn reject(
        &mut self,
        now: Instant,
        transport: Transport,
        from: SocketAddr,
        m: &Inbound,
        status: u16,
        headers: &[(String, String)],
    ) {
        match self.new_server_tx(now, transport, from, m, None, None) {
            Some(id) => {
                let _ = self.server_respond(now, id, status, None, None, headers, None);
            }
            None => self.respond_stateless(transport, from, m, status, headers),
        }
    }

    pub(crate) fn respond_stateless(
        &mut self,
        transport: Transport,
        from: SocketAddr,
        m: &Inbound,
        status: u16,
        headers: &[(String, String)],
    ) {
        let tag = self.new_tag();
        let (echo, target) = make_echo(m, transport, from, tag);
        let bytes = build_response(
            &mut self.buf,
            &self.cfg,
            &echo,
            status,
            None,
            false,
            None,
            headers,
            None,
        );
        self.transmit(transport, target, bytes);
    }
}

fn merge_key(m: &Inbound) -> Option<MergeKey> {
    if m.method() == Method::Ack {
        return None;
    }
    Some(MergeKey {
        call_id: m.slice(&m.call_id),
        from_tag: m.from_tag.as_ref().map(|r| m.slice(r))?,
        cseq: m.cseq,
        method: m.method(),
    })
}
