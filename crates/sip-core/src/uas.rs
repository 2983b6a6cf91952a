//! The UAS side: incoming requests (§8.2 checks, §17.2.3 matching), new calls, CANCEL
//! (§9.2), ACK, in-dialog requests (§12.2.2) with glare (§14.2), the TU's responses, and the
//! call timers (2xx retransmission §13.3.1.4, ringing, CANCEL guard).

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

use crate::api::{CallHandle, EndReason, Event, Reply, RequestId, TimeoutCause};
use crate::dialog::Dialog;
use crate::endpoint::{Call, Endpoint, Pending2xx, Role, UasState};
use crate::error::Error;
use crate::ids::{CallId, DialogId, Tag};
use crate::method::Method;
use crate::msg::Inbound;
use crate::timer::{Owner, Scheduler, Timer, TimerTable};
use crate::transport::Transport;
use crate::uac::{check_headers, check_text};

impl Endpoint {
    pub(crate) fn on_request(
        &mut self,
        now: Instant,
        transport: Transport,
        from: SocketAddr,
        m: Inbound,
    ) {
        let method = m.method();
        if method == Method::Ack {
            self.on_ack(now, m);
            return;
        }
        let key = Self::server_key(&m, method);
        if let Some(id) = self.find_server(&key) {
            // A retransmission: the transaction answers it (or absorbs it).
            if let Some(tx) = self.servers.get(&id) {
                if let Some(resp) = tx.on_retransmission() {
                    let (t, d) = (tx.transport, tx.target);
                    self.transmit(t, d, resp);
                }
            }
            return;
        }
        if method == Method::Cancel {
            self.on_cancel(now, transport, from, m);
            return;
        }
        // §8.2.2.1 / §8.2.1: Request-URI scheme we do not understand → 416.
        let scheme_ok = m.request_uri().is_some_and(|u| {
            let scheme = u.split(':').next().unwrap_or("");
            ["sip", "sips", "tel"]
                .iter()
                .any(|s| s.eq_ignore_ascii_case(scheme))
        });
        if !scheme_ok {
            self.reject(now, transport, from, &m, 416, &[]);
            return;
        }
        // A B2BUA re-originates requests, so like a proxy (§16.3 step 3) it refuses to
        // take one that has no hops left; OPTIONS may be answered (§11).
        if m.max_forwards == Some(0) && method != Method::Options {
            self.reject(now, transport, from, &m, 483, &[]);
            return;
        }
        // §8.2.2.2: same From tag, Call-ID and CSeq as a request in progress, but another
        // transaction: the request was merged (looped / forked back) → 482.
        if m.to_tag.is_none() && self.merge_conflict(&m, &key) {
            self.reject(now, transport, from, &m, 482, &[]);
            return;
        }
        // §8.2.2.3: Require with option tags we do not support → 420 + Unsupported.
        let unsupported: Vec<&str> = m
            .require()
            .filter(|t| !self.cfg.supported.iter().any(|s| s.eq_ignore_ascii_case(t)))
            .collect();
        if !unsupported.is_empty() {
            let h = vec![("Unsupported".to_owned(), unsupported.join(", "))];
            self.reject(now, transport, from, &m, 420, &h);
            return;
        }
        if m.to_tag.is_some() {
            self.in_dialog_request(now, transport, from, m);
        } else if method == Method::Invite {
            self.new_incoming_call(now, transport, from, m);
        } else {
            let Some(id) = self.new_server_tx(now, transport, from, &m, None, None) else {
                self.respond_stateless(transport, from, &m, 503, &[]);
                return;
            };
            self.emit(Event::Request {
                call: None,
                request: RequestId(id),
                message: Box::new(m),
                source: from,
            });
        }
    }

    fn on_cancel(&mut self, now: Instant, transport: Transport, from: SocketAddr, m: Inbound) {
        // §9.2: the CANCEL matches the INVITE transaction it cancels (same branch and
        // sent-by, method INVITE).
        let invite_key = Self::server_key(&m, Method::Invite);
        let Some(inv) = self.find_server(&invite_key) else {
            self.reject(now, transport, from, &m, 481, &[]);
            return;
        };
        let (tag, call, is_final) = match self.servers.get(&inv) {
            Some(t) => (t.echo.to_tag.clone(), t.call, t.is_final()),
            None => return,
        };
        // §9.2: the To tag of the 200 and of the 487 SHOULD be the same.
        match self.new_server_tx(now, transport, from, &m, None, Some(tag)) {
            Some(id) => {
                let _ = self.server_respond(now, id, 200, None, None, &[], None);
            }
            None => self.respond_stateless(transport, from, &m, 200, &[]),
        }
        if is_final {
            return;
        }
        let _ = self.server_respond(now, inv, 487, None, None, &[], None);
        if let Some(call) = call {
            let initial = self
                .calls
                .get(&call)
                .is_some_and(|c| c.invite_tx == Some(inv));
            if initial {
                self.end_call(call, EndReason::RemoteCancel);
            } else {
                let req = self.calls.get_mut(&call);
                if let Some(c) = req {
                    if c.reinvite_in == Some(inv) {
                        c.reinvite_in = None;
                    }
                }
            }
        }
    }

    fn on_ack(&mut self, now: Instant, m: Inbound) {
        let key = Self::server_key(&m, Method::Ack);
        if let Some(id) = self.find_server(&key) {
            let Some(tx) = self.servers.get_mut(&id) else {
                return;
            };
            let out = tx.on_ack(now, &self.cfg, &mut self.sched, id);
            let pass = out.pass;
            self.after_server(id, out);
            if !pass {
                // ACK for a non-2xx: absorbed by the transaction.
                return;
            }
        }
        // ACK for a 2xx: end to end, matched to the dialog (§13.3.1.4).
        let (Some(tt), Some(ft)) = (&m.to_tag, &m.from_tag) else {
            return;
        };
        let id = DialogId {
            call_id: CallId::new(m.slice(&m.call_id)),
            local_tag: Tag::new(m.slice(tt)),
            remote_tag: Tag::new(m.slice(ft)),
        };
        let Some(&call) = self.dialogs.get(&id) else {
            return;
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(p) = c.pending_2xx.take_if(|p| p.cseq == m.cseq) else {
            return;
        };
        c.timers.cancel(Timer::Retransmit2xx);
        c.timers.cancel(Timer::AckTimeout);
        if p.initial {
            if c.bye_after_ack {
                c.bye_after_ack = false;
                if let Some(idx) = c.answered {
                    self.send_bye(now, call, idx);
                }
            } else if !c.ended {
                self.emit(Event::Confirmed {
                    call: CallHandle(call),
                    ack: Box::new(m),
                });
            }
        } else if !c.ended {
            self.emit(Event::ReinviteAcked {
                call: CallHandle(call),
                ack: Box::new(m),
            });
        }
        self.maybe_reap(call);
    }

    fn new_incoming_call(
        &mut self,
        now: Instant,
        transport: Transport,
        from: SocketAddr,
        m: Inbound,
    ) {
        if self.calls.len() >= self.cfg.max_calls {
            self.reject(now, transport, from, &m, 503, &[]);
            return;
        }
        let id = self.next_id();
        let tag = self.new_tag();
        let contact = self.local_contact(transport);
        let local_header =
            crate::ids::concat(&mut self.ids, &[m.bytes(&m.to), b";tag=", tag.as_bytes()]);
        let remote_target = match m.contact_range() {
            Some(r) => m.slice(&r),
            None => m.slice(&crate::msg::addr_uri(m.raw(), m.from.clone())),
        };
        let call = Call {
            role: Role::Uas,
            call_id: CallId::new(m.slice(&m.call_id)),
            local_tag: tag.clone(),
            transport,
            peer: from,
            contact,
            timers: TimerTable::default(),
            ended: false,
            dialogs: Vec::new(),
            answered: None,
            uac: None,
            uas: Some(Box::new(UasState {
                remote_header: m.slice(&m.from),
                local_header,
                remote_target,
                record_routes: m.record_routes().map(|r| m.slice(&r)).collect(),
                cseq: m.cseq,
            })),
            invite_tx: None,
            pending_2xx: None,
            bye_after_ack: false,
            reinvite_out: None,
            reinvite_in: None,
            tx_refs: 0,
        };
        self.calls.insert(id, call);
        let Some(tx) = self.new_server_tx(now, transport, from, &m, Some(id), Some(tag)) else {
            self.calls.remove(&id);
            self.respond_stateless(transport, from, &m, 503, &[]);
            return;
        };
        if let Some(c) = self.calls.get_mut(&id) {
            c.invite_tx = Some(tx);
        }
        self.emit(Event::IncomingCall {
            call: CallHandle(id),
            request: Box::new(m),
            source: from,
            transport,
        });
    }

    fn in_dialog_request(
        &mut self,
        now: Instant,
        transport: Transport,
        from: SocketAddr,
        m: Inbound,
    ) {
        let id = DialogId {
            call_id: CallId::new(m.slice(&m.call_id)),
            local_tag: Tag::new(m.to_tag.as_ref().map(|r| m.slice(r)).unwrap_or_default()),
            remote_tag: Tag::new(m.from_tag.as_ref().map(|r| m.slice(r)).unwrap_or_default()),
        };
        let found = self.dialogs.get(&id).copied().and_then(|call| {
            let c = self.calls.get(&call)?;
            let idx = c.dialogs.iter().position(|d| d.id == id)?;
            (!c.ended).then_some((call, idx))
        });
        let Some((call, idx)) = found else {
            // §12.2.2: no matching dialog → 481.
            self.reject(now, transport, from, &m, 481, &[]);
            return;
        };
        let method = m.method();
        {
            let Some(c) = self.calls.get_mut(&call) else {
                return;
            };
            let d = &mut c.dialogs[idx];
            // §12.2.2: lower CSeq than the last one seen is out of order → 500.
            if d.remote_seq.is_some_and(|rs| m.cseq < rs) {
                self.reject(now, transport, from, &m, 500, &[]);
                return;
            }
            d.remote_seq = Some(m.cseq);
            // §12.2.2: a target refresh replaces the remote target (taken on receipt; a
            // rejected refresh leaves the peer reachable at its new Contact anyway).
            if matches!(method, Method::Invite | Method::Update) {
                if let Some(r) = m.contact_range() {
                    d.remote_target = m.slice(&r);
                }
            }
            if method == Method::Invite {
                if c.reinvite_out.is_some() {
                    // §14.2: our own re-INVITE is pending → 491 Request Pending.
                    self.reject(now, transport, from, &m, 491, &[]);
                    return;
                }
                if c.reinvite_in.is_some() {
                    // §14.2: a second INVITE before we answered the first → 500 with a
                    // Retry-After between 0 and 10 s.
                    let secs = rand_core::RngCore::next_u32(&mut self.rng) % 11;
                    let h = vec![("Retry-After".to_owned(), secs.to_string())];
                    self.reject(now, transport, from, &m, 500, &h);
                    return;
                }
            }
        }
        let Some(tx) = self.new_server_tx(now, transport, from, &m, Some(call), None) else {
            self.respond_stateless(transport, from, &m, 503, &[]);
            return;
        };
        match method {
            Method::Bye => {
                let _ = self.server_respond(now, tx, 200, None, None, &[], None);
                // A BYE on an early dialog also ends the INVITE we had not answered (§15.1.2).
                let pending_invite = self
                    .calls
                    .get(&call)
                    .and_then(|c| (c.role == Role::Uas).then_some(c.invite_tx).flatten());
                if let Some(inv) = pending_invite {
                    if self.servers.get(&inv).is_some_and(|t| !t.is_final()) {
                        let _ = self.server_respond(now, inv, 487, None, None, &[], None);
                    }
                }
                if let Some(c) = self.calls.get_mut(&call) {
                    // Nothing will ACK a 2xx after BYE; stop retransmitting it.
                    c.pending_2xx = None;
                    c.timers.cancel(Timer::Retransmit2xx);
                    c.timers.cancel(Timer::AckTimeout);
                }
                self.end_call(call, EndReason::RemoteBye);
            }
            _ => {
                if let Some(c) = self.calls.get_mut(&call) {
                    if method == Method::Invite {
                        c.reinvite_in = Some(tx);
                    }
                }
                self.emit(Event::Request {
                    call: Some(CallHandle(call)),
                    request: RequestId(tx),
                    message: Box::new(m),
                    source: from,
                });
            }
        }
    }

    /// Answers an incoming call ([`Event::IncomingCall`]): 1xx any number of times, then one
    /// final response. A 2xx is retransmitted until the ACK arrives (§13.3.1.4).
    pub fn respond(&mut self, now: Instant, call: CallHandle, reply: Reply) -> Result<(), Error> {
        let id = call.0;
        if !(100..700).contains(&reply.status) {
            return Err(Error::InvalidStatus(reply.status));
        }
        if let Some(r) = &reply.reason {
            check_text(r, "reason")?;
        }
        check_headers(&reply.headers)?;
        if let Some(b) = &reply.body {
            check_text(&b.content_type, "content type")?;
        }
        let c = self.calls.get(&id).ok_or(Error::UnknownCall)?;
        if c.role != Role::Uas {
            return Err(Error::InvalidState("respond() answers incoming calls"));
        }
        if c.ended {
            return Err(Error::InvalidState("call already ended"));
        }
        let tx = c
            .invite_tx
            .ok_or(Error::InvalidState("call already answered"))?;
        let target = self
            .servers
            .get(&tx)
            .map(|t| t.target)
            .ok_or(Error::UnknownCall)?;
        let status = reply.status;
        let contact = (101..300).contains(&status).then(|| c.contact.clone());
        let bytes = self.server_respond(
            now,
            tx,
            status,
            reply.reason.as_deref(),
            contact,
            &reply.headers,
            reply.body.as_ref(),
        )?;
        if (101..300).contains(&status) {
            let idx = self.uas_dialog(id, status >= 200);
            if status >= 200 {
                let Some(c) = self.calls.get_mut(&id) else {
                    return Ok(());
                };
                c.answered = idx;
                let cseq = c.uas.as_deref().map_or(0, |u| u.cseq);
                self.start_2xx_retransmission(now, id, bytes, cseq, target, true);
            }
        } else if status >= 300 {
            self.end_call(id, EndReason::LocalReject { status });
        }
        Ok(())
    }

    /// Creates (or confirms) the UAS dialog (§12.1.1).
    fn uas_dialog(&mut self, call: u64, confirmed: bool) -> Option<usize> {
        let c = self.calls.get_mut(&call)?;
        if let Some(i) = c.dialogs.first_mut() {
            i.confirmed |= confirmed;
            return Some(0);
        }
        let u = c.uas.as_deref()?;
        let remote_tag = crate::msg::param(&u.remote_header, 0..u.remote_header.len(), b"tag")
            .map(|r| u.remote_header.slice(r))
            .unwrap_or_default();
        let id = DialogId {
            call_id: c.call_id.clone(),
            local_tag: c.local_tag.clone(),
            remote_tag: Tag::new(remote_tag),
        };
        c.dialogs.push(Dialog {
            id: id.clone(),
            confirmed,
            remote_target: u.remote_target.clone(),
            // §12.1.1: the UAS keeps Record-Route in order.
            route_set: u.record_routes.clone(),
            local_seq: 0,
            remote_seq: Some(u.cseq),
            local_header: u.local_header.clone(),
            remote_header: u.remote_header.clone(),
            ack: None,
        });
        self.dialogs.insert(id, call);
        Some(0)
    }

    fn start_2xx_retransmission(
        &mut self,
        now: Instant,
        call: u64,
        bytes: Bytes,
        cseq: u32,
        target: SocketAddr,
        initial: bool,
    ) {
        let (t1, t64) = (self.cfg.t1, self.cfg.t1x64());
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.pending_2xx = Some(Pending2xx {
            bytes,
            cseq,
            interval: t1,
            target,
            initial,
        });
        // §13.3.1.4: retransmit at T1 doubling to T2 (only needed on unreliable transports;
        // a reliable hop does not lose it), give up after 64·T1.
        if c.transport.is_reliable() {
            self.sched.arm(
                &mut c.timers,
                Owner::Call(call),
                Timer::AckTimeout,
                now + t64,
            );
        } else {
            self.sched.arm(
                &mut c.timers,
                Owner::Call(call),
                Timer::Retransmit2xx,
                now + t1,
            );
            // Scheduled by the retransmissions when due (see `Scheduler::defer`).
            Scheduler::defer(&mut c.timers, Timer::AckTimeout, now + t64);
        }
    }

    /// Forgets an unanswered incoming call without sending anything: the silent drop an edge
    /// gateway may apply to requests for no known trunk, which tells a scanner nothing. No
    /// `Ended` event follows. Retransmissions of the INVITE arrive as new calls (there is no
    /// transaction left to absorb them), each to be dropped again.
    pub fn discard(&mut self, call: CallHandle) -> Result<(), Error> {
        let c = self.calls.get_mut(&call.0).ok_or(Error::UnknownCall)?;
        if c.role != Role::Uas || c.answered.is_some() || c.ended {
            return Err(Error::InvalidState(
                "discard() drops unanswered incoming calls only",
            ));
        }
        c.ended = true;
        for t in [Timer::Ringing, Timer::CancelGuard] {
            c.timers.cancel(t);
        }
        if let Some(tx) = c.invite_tx {
            self.remove_server(tx);
        }
        self.maybe_reap(call.0);
        Ok(())
    }

    /// Answers a request from [`Event::Request`] (in-dialog or out-of-dialog). A 2xx to a
    /// re-INVITE is retransmitted until its ACK.
    pub fn reply(&mut self, now: Instant, request: RequestId, reply: Reply) -> Result<(), Error> {
        if !(100..700).contains(&reply.status) {
            return Err(Error::InvalidStatus(reply.status));
        }
        if let Some(r) = &reply.reason {
            check_text(r, "reason")?;
        }
        check_headers(&reply.headers)?;
        if let Some(b) = &reply.body {
            check_text(&b.content_type, "content type")?;
        }
        let tx = self.servers.get(&request.0).ok_or(Error::UnknownRequest)?;
        let (method, call, target, cseq) = (tx.method, tx.call, tx.target, tx.cseq);
        if call.is_some_and(|c| {
            self.calls
                .get(&c)
                .is_some_and(|c| c.invite_tx == Some(request.0))
        }) {
            return Err(Error::InvalidState("use respond() for the call's INVITE"));
        }
        let status = reply.status;
        let contact = match call.and_then(|c| self.calls.get(&c)) {
            Some(c)
                if (200..300).contains(&status)
                    && matches!(method, Method::Invite | Method::Update) =>
            {
                Some(c.contact.clone())
            }
            _ => None,
        };
        let bytes = self.server_respond(
            now,
            request.0,
            status,
            reply.reason.as_deref(),
            contact,
            &reply.headers,
            reply.body.as_ref(),
        )?;
        if let (Method::Invite, Some(call), true) = (method, call, status >= 200) {
            if let Some(c) = self.calls.get_mut(&call) {
                if c.reinvite_in == Some(request.0) {
                    c.reinvite_in = None;
                }
            }
            if (200..300).contains(&status) {
                self.start_2xx_retransmission(now, call, bytes, cseq, target, false);
            }
        }
        Ok(())
    }

    /// A call-level timer fired.
    pub(crate) fn on_call_timer(&mut self, now: Instant, call: u64, timer: Timer) {
        match timer {
            Timer::Ringing => self.ring_timeout(now, call),
            Timer::CancelGuard => self.cancel_guard(call),
            Timer::Retransmit2xx => {
                let t2 = self.cfg.t2;
                let Some(c) = self.calls.get_mut(&call) else {
                    return;
                };
                let Some(p) = c.pending_2xx.as_mut() else {
                    return;
                };
                p.interval = (p.interval * 2).min(t2);
                let (bytes, target, next) = (p.bytes.clone(), p.target, now + p.interval);
                let transport = c.transport;
                self.sched.rearm_carrying(
                    &mut c.timers,
                    Owner::Call(call),
                    Timer::Retransmit2xx,
                    next,
                    Timer::AckTimeout,
                );
                self.transmit(transport, target, bytes);
            }
            Timer::AckTimeout => {
                let Some(c) = self.calls.get_mut(&call) else {
                    return;
                };
                c.timers.cancel(Timer::Retransmit2xx);
                if c.pending_2xx.take().is_none() {
                    return;
                }
                // §13.3.1.4: no ACK within 64·T1 → the dialog is confirmed but SHOULD be
                // terminated with BYE.
                let (ended, bye_pending, idx) = (c.ended, c.bye_after_ack, c.answered);
                c.bye_after_ack = false;
                // An ended call already sent its BYE, unless it waited for this ACK (a
                // re-INVITE's 2xx can be pending on a call hung up since).
                if let Some(idx) = idx.filter(|_| !ended || bye_pending) {
                    self.send_bye(now, call, idx);
                }
                if !ended && !bye_pending {
                    self.end_call(call, EndReason::Timeout(TimeoutCause::AckTimeout));
                }
                self.maybe_reap(call);
            }
            _ => {}
        }
    }
}
