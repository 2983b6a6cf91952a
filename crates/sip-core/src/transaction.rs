//! The four transaction state machines of RFC 3261 §17, with the RFC 6026 corrections.
//!
//! Each machine owns its state, its retransmission interval and its timer table; the endpoint
//! feeds it responses, requests and timer expiries and acts on the returned [`TxOut`]. Which
//! messages reach which transaction (matching, §17.1.3/§17.2.3) is the endpoint's job.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::config::Config;
use crate::ids::{Branch, TransactionKey};
use crate::method::Method;
use crate::timer::{Owner, Scheduler, Timer, TimerTable};
use crate::transport::Transport;

/// INVITE client transaction states (§17.1.1, RFC 6026 §8.4).
///
/// ```text
///                    |INVITE from TU
///  Timer A fires     |INVITE sent          Timer B fires
///  Reset A,          V                     or Transport Err.
///  INVITE sent +-----------+               inform TU
///    +---------|  Calling  |----------------------------+
///    |         +-----------+ 2xx                        |
///    +-------->  |  |        2xx to TU                  |
///                |  |1xx     --------------+            |
///  300-699       |  |1xx to TU             |            |
///  ACK sent      |  V                      V            |
///  resp. to TU   |+-----------+  2xx  +----------+      |
///                ||Proceeding |------>| Accepted |<-+   |
///                |+-----------+to TU  +----------+  |   |
///                |  |300-699          |  |  2xx to TU   |
///                |  |ACK sent         |  +------+       |
///                V  V resp. to TU     |Timer M fires    |
///            +-----------+            |                 |
///   300-699  | Completed |            |                 |
///   ACK sent +-----------+            |                 |
///                |Timer D fires       |                 |
///                V                    V                 |
///            +-------------------------------+          |
///            |          Terminated           |<---------+
///            +-------------------------------+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteClientState {
    /// INVITE sent, no response yet; Timer A retransmits (unreliable), Timer B times out.
    Calling,
    /// A provisional response arrived; no more retransmissions.
    Proceeding,
    /// A 2xx arrived (RFC 6026): further 2xx go to the TU; Timer M bounds the wait.
    Accepted,
    /// A final non-2xx arrived and was ACKed; retransmissions are re-ACKed until Timer D.
    Completed,
    /// Done; the transaction is removed.
    Terminated,
}

/// Non-INVITE client transaction states (§17.1.2.2).
///
/// ```text
///          Timer E: send request     Timer F or transport error: inform TU
///   [Trying] --1xx--> [Proceeding] --200-699--> [Completed] --Timer K--> [Terminated]
///      |                                            ^
///      +-------------------200-699------------------+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonInviteClientState {
    /// Request sent; Timer E retransmits (doubling up to T2), Timer F times out.
    Trying,
    /// A provisional arrived; retransmissions continue at T2.
    Proceeding,
    /// A final response arrived; retransmissions of it are absorbed until Timer K.
    Completed,
    /// Done.
    Terminated,
}

/// INVITE server transaction states (§17.2.1, RFC 6026 §8.7).
///
/// ```text
///                         |INVITE: pass to TU; 100 if TU silent for 200 ms
///      INVITE             V
///      send response+-----------+ 2xx from TU  +----------+
///             +------|Proceeding|------------->| Accepted |--+ INVITE: absorb
///             +----->+-----------+  send 2xx   +----------+<-+ 2xx from TU: send
///                  300-699 |  1xx from TU: send      |ACK: to TU
///                  send    V                          |Timer L fires
///    INVITE        +-----------+                      |
///    send resp +---| Completed |--Timer H--+          |
///              +-->+-----------+           |          |
///            Timer G: resend |ACK          |          |
///                    V                     V          V
///              +-----------+ Timer I  +-------------------+
///              | Confirmed |--------->|    Terminated     |
///              +-----------+          +-------------------+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteServerState {
    /// Waiting for the TU; retransmitted INVITEs get the last provisional again.
    Proceeding,
    /// A final non-2xx was sent; Timer G retransmits it, Timer H waits for the ACK.
    Completed,
    /// The ACK arrived; ACK retransmissions are absorbed until Timer I.
    Confirmed,
    /// A 2xx was sent (RFC 6026); INVITE retransmissions are absorbed until Timer L.
    Accepted,
    /// Done.
    Terminated,
}

/// Non-INVITE server transaction states (§17.2.2).
///
/// ```text
///   [Trying] --1xx from TU--> [Proceeding] --200-699 from TU--> [Completed] --Timer J--> [Terminated]
///      |  request: absorb          | request: resend 1xx            | request: resend final
///      +-------------200-699 from TU------------------------------->+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonInviteServerState {
    /// Request received, nothing sent; retransmissions are absorbed.
    Trying,
    /// A provisional was sent.
    Proceeding,
    /// A final response was sent; Timer J absorbs retransmissions.
    Completed,
    /// Done.
    Terminated,
}

/// What a transaction asks the endpoint to do after an input.
#[derive(Debug, Default)]
pub(crate) struct TxOut {
    /// Send this (retransmission, ACK, 100 Trying, …) to the transaction's peer.
    pub send: Option<Bytes>,
    /// Hand the response (client) or request (server) to the TU.
    pub pass: bool,
    /// The transaction timed out (Timer B/F): tell the TU.
    pub timeout: bool,
    /// The transaction reached Terminated: remove it.
    pub terminated: bool,
}

/// Client transaction state, per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientState {
    Invite(InviteClientState),
    NonInvite(NonInviteClientState),
}

/// Who a client transaction works for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// The call's initial INVITE.
    Invite,
    /// CANCEL of the call's INVITE.
    Cancel,
    /// BYE ending the call (or an extra forked dialog); responses only close it.
    Bye,
    /// A request the TU sent in the dialog (re-INVITE, INFO, …).
    InDialog(u64),
    /// An out-of-dialog request the TU sent (OPTIONS ping, MESSAGE, …); no call.
    Standalone(u64),
}

/// A client transaction (§17.1).
#[derive(Debug)]
pub(crate) struct ClientTx {
    pub state: ClientState,
    pub method: Method,
    pub branch: Branch,
    pub request: Bytes,
    pub transport: Transport,
    pub destination: SocketAddr,
    pub interval: Duration,
    pub timers: TimerTable,
    pub call: u64,
    pub purpose: Purpose,
    /// The ACK for a non-2xx final response, built once and resent on retransmissions.
    pub ack: Option<Bytes>,
    /// An INVITE in Accepted whose call ended and was reaped: what it takes to answer
    /// the 2xx that may still arrive until Timer M (see `Afterlife`).
    pub afterlife: Option<Box<crate::endpoint::Afterlife>>,
}

impl ClientTx {
    /// An INVITE transaction in Accepted (RFC 6026 §8.4): answered, waiting out Timer M.
    pub(crate) fn is_accepted(&self) -> bool {
        self.state == ClientState::Invite(InviteClientState::Accepted)
    }

    /// Whether this transaction needs its call while it lives: a BYE's or a CANCEL's
    /// responses only close the transaction, so those do not keep an ended call.
    pub(crate) fn holds_call(purpose: Purpose) -> bool {
        !matches!(purpose, Purpose::Bye | Purpose::Cancel)
    }

    /// Starts the transaction: the request has just been handed to the transport.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start(
        now: Instant,
        cfg: &Config,
        sched: &mut Scheduler,
        id: u64,
        method: Method,
        branch: Branch,
        request: Bytes,
        transport: Transport,
        destination: SocketAddr,
        call: u64,
        purpose: Purpose,
    ) -> Self {
        let invite = method == Method::Invite;
        let mut tx = Self {
            state: if invite {
                ClientState::Invite(InviteClientState::Calling)
            } else {
                ClientState::NonInvite(NonInviteClientState::Trying)
            },
            method,
            branch,
            request,
            transport,
            destination,
            interval: cfg.t1,
            timers: TimerTable::default(),
            call,
            purpose,
            ack: None,
            afterlife: None,
        };
        let owner = Owner::Client(id);
        // §17.1.1.2 / §17.1.2.2: retransmit only over unreliable transports; the timeout
        // (B or F) runs in any case.
        let timeout = if invite { Timer::B } else { Timer::F };
        if transport.is_reliable() {
            sched.arm(&mut tx.timers, owner, timeout, now + cfg.t1x64());
        } else {
            // The retransmissions (A or E) fire before the timeout and schedule it when it
            // comes before their next firing (see `Scheduler::defer`).
            let t = if invite { Timer::A } else { Timer::E };
            sched.arm(&mut tx.timers, owner, t, now + cfg.t1);
            Scheduler::defer(&mut tx.timers, timeout, now + cfg.t1x64());
        }
        tx
    }

    /// A response matched this transaction. `ack` builds the ACK for a non-2xx final
    /// response (only called when one is needed).
    pub(crate) fn on_response(
        &mut self,
        now: Instant,
        cfg: &Config,
        sched: &mut Scheduler,
        id: u64,
        status: u16,
        ack: impl FnOnce() -> Bytes,
    ) -> TxOut {
        let owner = Owner::Client(id);
        let mut out = TxOut::default();
        let reliable = self.transport.is_reliable();
        match self.state {
            ClientState::Invite(s) => {
                use InviteClientState::*;
                match (s, status) {
                    (Calling | Proceeding, 100..=199) => {
                        // §17.1.1.2: no more retransmissions; Timer B only guards Calling.
                        self.timers.cancel(Timer::A);
                        self.timers.cancel(Timer::B);
                        self.state = ClientState::Invite(Proceeding);
                        out.pass = true;
                    }
                    (Calling | Proceeding, 200..=299) => {
                        // RFC 6026 §8.4: 2xx moves to Accepted, Timer M = 64·T1.
                        self.timers.cancel_all();
                        self.state = ClientState::Invite(Accepted);
                        sched.arm(&mut self.timers, owner, Timer::M, now + cfg.t1x64());
                        out.pass = true;
                    }
                    (Accepted, 200..=299) => out.pass = true,
                    (Calling | Proceeding, _) if status >= 300 => {
                        // §17.1.1.3: the transaction itself ACKs non-2xx finals.
                        self.timers.cancel_all();
                        let a = ack();
                        self.ack = Some(a.clone());
                        out.send = Some(a);
                        out.pass = true;
                        self.state = ClientState::Invite(Completed);
                        if reliable {
                            self.state = ClientState::Invite(Terminated);
                            out.terminated = true;
                        } else {
                            // Timer D: "at least 32 seconds" for unreliable transports.
                            let d = Duration::from_secs(32).max(cfg.t1x64());
                            sched.arm(&mut self.timers, owner, Timer::D, now + d);
                        }
                    }
                    (Completed, _) if status >= 300 => out.send = self.ack.clone(),
                    _ => {}
                }
            }
            ClientState::NonInvite(s) => {
                use NonInviteClientState::*;
                match (s, status) {
                    (Trying | Proceeding, 100..=199) => {
                        self.state = ClientState::NonInvite(Proceeding);
                        out.pass = true;
                    }
                    (Trying | Proceeding, _) if status >= 200 => {
                        self.timers.cancel_all();
                        out.pass = true;
                        if reliable {
                            self.state = ClientState::NonInvite(Terminated);
                            out.terminated = true;
                        } else {
                            self.state = ClientState::NonInvite(Completed);
                            sched.arm(&mut self.timers, owner, Timer::K, now + cfg.t4);
                        }
                    }
                    _ => {}
                }
            }
        }
        out
    }

    /// One of this transaction's timers fired.
    pub(crate) fn on_timer(
        &mut self,
        now: Instant,
        cfg: &Config,
        sched: &mut Scheduler,
        id: u64,
        timer: Timer,
    ) -> TxOut {
        let owner = Owner::Client(id);
        let mut out = TxOut::default();
        match (self.state, timer) {
            (ClientState::Invite(InviteClientState::Calling), Timer::A) => {
                // §17.1.1.2: intervals double after each transmission (no T2 cap for
                // INVITE; Timer B ends the sequence).
                out.send = Some(self.request.clone());
                self.interval *= 2;
                sched.rearm_carrying(
                    &mut self.timers,
                    owner,
                    Timer::A,
                    now + self.interval,
                    Timer::B,
                );
            }
            (ClientState::Invite(InviteClientState::Calling), Timer::B) => {
                self.timers.cancel_all();
                self.state = ClientState::Invite(InviteClientState::Terminated);
                out.timeout = true;
                out.terminated = true;
            }
            (ClientState::Invite(InviteClientState::Completed), Timer::D)
            | (ClientState::Invite(InviteClientState::Accepted), Timer::M) => {
                self.timers.cancel_all();
                self.state = ClientState::Invite(InviteClientState::Terminated);
                out.terminated = true;
            }
            (ClientState::NonInvite(s), Timer::E)
                if matches!(
                    s,
                    NonInviteClientState::Trying | NonInviteClientState::Proceeding
                ) =>
            {
                // §17.1.2.2: double up to T2 in Trying; T2 in Proceeding.
                out.send = Some(self.request.clone());
                self.interval = if s == NonInviteClientState::Trying {
                    (self.interval * 2).min(cfg.t2)
                } else {
                    cfg.t2
                };
                sched.rearm_carrying(
                    &mut self.timers,
                    owner,
                    Timer::E,
                    now + self.interval,
                    Timer::F,
                );
            }
            (
                ClientState::NonInvite(
                    NonInviteClientState::Trying | NonInviteClientState::Proceeding,
                ),
                Timer::F,
            ) => {
                self.timers.cancel_all();
                self.state = ClientState::NonInvite(NonInviteClientState::Terminated);
                out.timeout = true;
                out.terminated = true;
            }
            (ClientState::NonInvite(NonInviteClientState::Completed), Timer::K) => {
                self.state = ClientState::NonInvite(NonInviteClientState::Terminated);
                out.terminated = true;
            }
            _ => {}
        }
        out
    }

    /// Whether no final response has arrived yet.
    pub(crate) fn is_pending(&self) -> bool {
        matches!(
            self.state,
            ClientState::Invite(InviteClientState::Calling | InviteClientState::Proceeding)
                | ClientState::NonInvite(
                    NonInviteClientState::Trying | NonInviteClientState::Proceeding
                )
        )
    }

    /// Whether a provisional response has been received (CANCEL may be sent, §9.1).
    pub(crate) fn is_proceeding(&self) -> bool {
        matches!(
            self.state,
            ClientState::Invite(InviteClientState::Proceeding)
                | ClientState::NonInvite(NonInviteClientState::Proceeding)
        )
    }
}

/// Server transaction state, per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerState {
    Invite(InviteServerState),
    NonInvite(NonInviteServerState),
}

/// A server transaction (§17.2).
#[derive(Debug)]
pub(crate) struct ServerTx {
    pub state: ServerState,
    pub method: Method,
    /// The request's CSeq number.
    pub cseq: u32,
    pub key: TransactionKey,
    /// §8.2.2.2 merge key registered for this transaction, removed with it.
    pub merge_key: Option<crate::endpoint::MergeKey>,
    pub transport: Transport,
    /// Where responses go (§18.2.2 with RFC 3581).
    pub target: SocketAddr,
    pub echo: crate::echo::Echo,
    pub last_response: Option<Bytes>,
    pub last_status: u16,
    pub interval: Duration,
    pub timers: TimerTable,
    pub call: Option<u64>,
}

impl ServerTx {
    /// Whether a final response has been sent.
    pub(crate) fn is_final(&self) -> bool {
        self.last_status >= 200
    }

    /// The request was retransmitted (§17.2.1, §17.2.2): answer with the last response, or
    /// absorb it.
    pub(crate) fn on_retransmission(&self) -> Option<Bytes> {
        match self.state {
            ServerState::Invite(InviteServerState::Proceeding | InviteServerState::Completed)
            | ServerState::NonInvite(
                NonInviteServerState::Proceeding | NonInviteServerState::Completed,
            ) => self.last_response.clone(),
            // RFC 6026 §8.7: in Accepted the INVITE is absorbed; the TU retransmits 2xx.
            _ => None,
        }
    }

    /// The TU (or the transaction itself, for 100 Trying) sends a response. Returns what to
    /// transmit, or `None` if the state forbids it.
    pub(crate) fn send_response(
        &mut self,
        now: Instant,
        cfg: &Config,
        sched: &mut Scheduler,
        id: u64,
        status: u16,
        bytes: Bytes,
    ) -> Option<TxOut> {
        let owner = Owner::Server(id);
        let reliable = self.transport.is_reliable();
        let mut out = TxOut {
            send: Some(bytes.clone()),
            ..TxOut::default()
        };
        match self.state {
            ServerState::Invite(InviteServerState::Proceeding) => {
                self.timers.cancel(Timer::Trying);
                match status {
                    100..=199 => {}
                    200..=299 => {
                        // RFC 6026 §8.7: Accepted, Timer L = 64·T1.
                        self.state = ServerState::Invite(InviteServerState::Accepted);
                        sched.arm(&mut self.timers, owner, Timer::L, now + cfg.t1x64());
                    }
                    _ => {
                        self.state = ServerState::Invite(InviteServerState::Completed);
                        if !reliable {
                            sched.arm(&mut self.timers, owner, Timer::G, now + cfg.t1);
                        }
                        sched.arm(&mut self.timers, owner, Timer::H, now + cfg.t1x64());
                    }
                }
            }
            // RFC 6026 §8.7: 2xx retransmissions from the TU pass through in Accepted.
            ServerState::Invite(InviteServerState::Accepted) if (200..300).contains(&status) => {
                return Some(out);
            }
            ServerState::NonInvite(
                NonInviteServerState::Trying | NonInviteServerState::Proceeding,
            ) => {
                if status < 200 {
                    self.state = ServerState::NonInvite(NonInviteServerState::Proceeding);
                } else if reliable {
                    self.state = ServerState::NonInvite(NonInviteServerState::Terminated);
                    out.terminated = true;
                } else {
                    self.state = ServerState::NonInvite(NonInviteServerState::Completed);
                    sched.arm(&mut self.timers, owner, Timer::J, now + cfg.t1x64());
                }
            }
            _ => return None,
        }
        self.last_response = Some(bytes);
        self.last_status = status;
        Some(out)
    }

    /// An ACK matched this INVITE server transaction (ACK for a non-2xx, §17.2.1).
    pub(crate) fn on_ack(
        &mut self,
        now: Instant,
        cfg: &Config,
        sched: &mut Scheduler,
        id: u64,
    ) -> TxOut {
        let mut out = TxOut::default();
        match self.state {
            ServerState::Invite(InviteServerState::Completed) => {
                self.timers.cancel_all();
                if self.transport.is_reliable() {
                    self.state = ServerState::Invite(InviteServerState::Terminated);
                    out.terminated = true;
                } else {
                    self.state = ServerState::Invite(InviteServerState::Confirmed);
                    sched.arm(&mut self.timers, Owner::Server(id), Timer::I, now + cfg.t4);
                }
            }
            // RFC 6026 §8.7: an ACK matching an Accepted transaction goes to the TU.
            ServerState::Invite(InviteServerState::Accepted) => out.pass = true,
            _ => {}
        }
        out
    }

    /// One of this transaction's timers fired. `trying` builds the 100 Trying.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_timer(
        &mut self,
        now: Instant,
        cfg: &Config,
        sched: &mut Scheduler,
        id: u64,
        timer: Timer,
        trying: impl FnOnce() -> Bytes,
    ) -> TxOut {
        let owner = Owner::Server(id);
        let mut out = TxOut::default();
        match (self.state, timer) {
            // §17.2.1: the TU was silent for 200 ms, so the transaction sends 100.
            (ServerState::Invite(InviteServerState::Proceeding), Timer::Trying)
                if self.last_response.is_none() =>
            {
                let t = trying();
                self.last_response = Some(t.clone());
                self.last_status = 100;
                out.send = Some(t);
            }
            (ServerState::Invite(InviteServerState::Completed), Timer::G) => {
                out.send = self.last_response.clone();
                self.interval = (self.interval * 2).min(cfg.t2);
                sched.arm(&mut self.timers, owner, Timer::G, now + self.interval);
            }
            (ServerState::Invite(InviteServerState::Completed), Timer::H)
            | (ServerState::Invite(InviteServerState::Confirmed), Timer::I)
            | (ServerState::Invite(InviteServerState::Accepted), Timer::L) => {
                self.timers.cancel_all();
                self.state = ServerState::Invite(InviteServerState::Terminated);
                out.terminated = true;
                out.timeout = timer == Timer::H;
            }
            (ServerState::NonInvite(NonInviteServerState::Completed), Timer::J) => {
                self.state = ServerState::NonInvite(NonInviteServerState::Terminated);
                out.terminated = true;
            }
            _ => {}
        }
        out
    }
}
