//! The UAC side of INVITE sessions: placing calls, the ringing timer, CANCEL (§9.1),
//! 2xx/ACK and forking (§13.2.2.4), digest retries (§22.2), hangup. Requests inside an
//! established dialog are in `in_dialog.rs`.

use std::time::Instant;

use bytes::Bytes;

use crate::api::{CallHandle, EndReason, Event, InviteOptions, TimeoutCause};
use crate::compose::Writer;
use crate::dialog::Dialog;
use crate::digest::DigestParams;
use crate::endpoint::{Call, CancelState, Endpoint, Role, UacState};
use crate::error::Error;
use crate::ids::{CallId, DialogId, Tag};
use crate::method::Method;
use crate::msg::Inbound;
use crate::timer::{Owner, Timer, TimerTable};
use crate::transaction::Purpose;
use crate::transport::Transport;

/// Rejects text that would break the message framing (header injection).
pub(crate) fn check_text(s: &str, what: &'static str) -> Result<(), Error> {
    if s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(Error::InvalidArgument(what));
    }
    Ok(())
}

pub(crate) fn check_headers(headers: &[(String, String)]) -> Result<(), Error> {
    for (n, v) in headers {
        if n.is_empty() || n.contains(':') || n.contains(' ') {
            return Err(Error::InvalidArgument("header name"));
        }
        check_text(n, "header name")?;
        check_text(v, "header value")?;
    }
    Ok(())
}

/// Index of a transport in per-transport tables.
pub(crate) fn transport_index(t: Transport) -> usize {
    match t {
        Transport::Udp => 0,
        Transport::Tcp => 1,
        Transport::Tls => 2,
    }
}

/// Our Contact URI for each transport (`sip:host:port;transport=…`), built once.
pub(crate) fn contacts_for(cfg: &crate::Config) -> [Bytes; 3] {
    let c =
        |port: u16, param: &str| Bytes::from(format!("sip:{}:{}{}", cfg.local_host, port, param));
    [
        c(cfg.udp_port, ""),
        c(cfg.tcp_port, ";transport=tcp"),
        c(cfg.tls_port, ";transport=tls"),
    ]
}

impl Endpoint {
    /// Places a call: sends the INVITE and arms the call's ringing timer
    /// (`opts.ringing_timeout` from `now`). Progress, answer and end are reported as
    /// [`Event::Progress`], [`Event::Answered`] and [`Event::Ended`].
    pub fn invite(&mut self, now: Instant, opts: InviteOptions) -> Result<CallHandle, Error> {
        if opts.request_uri.is_empty() {
            return Err(Error::InvalidArgument("request_uri"));
        }
        check_text(&opts.request_uri, "request_uri")?;
        check_text(&opts.from, "from")?;
        check_text(&opts.to, "to")?;
        for r in &opts.route {
            check_text(r, "route")?;
        }
        if let Some(c) = &opts.contact {
            check_text(c, "contact")?;
        }
        check_headers(&opts.headers)?;
        if let Some(b) = &opts.body {
            check_text(&b.content_type, "content type")?;
        }
        if self.calls.len() >= self.cfg.max_calls || self.at_capacity() {
            return Err(Error::Capacity);
        }
        let call_id = match opts.call_id {
            Some(c) => c,
            None => self.new_call_id(),
        };
        let local_tag = self.new_tag();
        let contact = match &opts.contact {
            Some(c) => Bytes::from(c.clone()),
            None => self.local_contact(opts.transport),
        };
        let from = crate::ids::concat(
            &mut self.ids,
            &[opts.from.as_bytes(), b";tag=", local_tag.as_bytes()],
        );
        let id = self.next_id();
        let call = Call {
            role: Role::Uac,
            call_id,
            local_tag,
            transport: opts.transport,
            peer: opts.destination,
            contact: contact.clone(),
            timers: TimerTable::default(),
            ended: false,
            dialogs: Vec::new(),
            answered: None,
            uac: Some(Box::new(UacState {
                request_uri: Bytes::from(opts.request_uri),
                from,
                to: Bytes::from(opts.to),
                contact,
                routes: opts.route.into_iter().map(Bytes::from).collect(),
                headers: opts.headers,
                body: opts.body,
                cseq: 1,
                credentials: opts.credentials,
                digest: Default::default(),
                auth_tries: 0,
                cancel: CancelState::None,
                got_provisional: false,
                auth: None,
            })),
            uas: None,
            invite_tx: None,
            pending_2xx: None,
            bye_after_ack: false,
            reinvite_out: None,
            reinvite_in: None,
            tx_refs: 0,
        };
        self.calls.insert(id, call);
        self.send_invite(now, id, None);
        // The ringing timer starts when the INVITE is sent (DESIGN.md §3: the call owns its
        // timers); a digest retry does not restart it (one deadline, only shrinks).
        if let Some(c) = self.calls.get_mut(&id) {
            self.sched.arm(
                &mut c.timers,
                Owner::Call(id),
                Timer::Ringing,
                now + opts.ringing_timeout,
            );
        }
        Ok(CallHandle(id))
    }

    pub(crate) fn local_contact(&self, transport: Transport) -> Bytes {
        self.contacts[transport_index(transport)].clone()
    }

    pub(crate) fn via_port(&self, transport: Transport) -> u16 {
        match transport {
            Transport::Udp => self.cfg.udp_port,
            Transport::Tcp => self.cfg.tcp_port,
            Transport::Tls => self.cfg.tls_port,
        }
    }

    /// Writes and sends the call's INVITE (initial or digest retry).
    fn send_invite(&mut self, now: Instant, call: u64, auth: Option<(&'static str, String)>) {
        let branch = self.new_branch();
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let Some(u) = c.uac.as_deref() else { return };
        let port = self.via_port(c.transport);
        let mut w = Writer::request(&mut self.buf, "INVITE", &u.request_uri);
        w.via(
            c.transport.token(),
            &self.cfg.local_host,
            port,
            branch.as_bytes(),
        );
        w.header("Max-Forwards", b"70");
        w.header("From", &u.from);
        w.header("To", &u.to);
        w.header("Call-ID", c.call_id.as_bytes());
        w.cseq(u.cseq, "INVITE");
        w.header_parts("Contact", &[b"<", &u.contact, b">"]);
        for r in &u.routes {
            w.header("Route", r);
        }
        if let Some((name, value)) = &auth {
            w.header(name, value.as_bytes());
        }
        if let Some(ua) = &self.cfg.user_agent {
            w.header("User-Agent", ua.as_bytes());
        }
        w.header("Allow", self.cfg.allow.as_bytes());
        for (n, v) in &u.headers {
            w.header(n, v.as_bytes());
        }
        let bytes = match &u.body {
            Some(b) => w.finish(Some(&b.content_type), &b.data),
            None => w.finish(None, &[]),
        };
        let (transport, dest) = (c.transport, c.peer);
        let tx = self.start_client(
            now,
            Method::Invite,
            branch,
            bytes,
            transport,
            dest,
            call,
            Purpose::Invite,
        );
        if let Some(c) = self.calls.get_mut(&call) {
            c.invite_tx = Some(tx);
        }
    }

    /// The INVITE client transaction passed a response up (§17.1.1.2, RFC 6026).
    pub(crate) fn uac_invite_response(&mut self, now: Instant, call: u64, tx: u64, m: Inbound) {
        let Some(status) = m.status() else { return };
        let Some(c) = self.calls.get(&call) else {
            if (200..300).contains(&status) {
                self.afterlife_2xx(now, call, tx, m);
            }
            return;
        };
        if c.ended {
            // A zombie call still ACKs and BYEs late 2xx (forks, races).
            if (200..300).contains(&status) {
                self.uac_2xx(now, call, m);
            }
            return;
        }
        if c.invite_tx != Some(tx) {
            // A response to a superseded INVITE (before a digest retry): only 2xx matter.
            if (200..300).contains(&status) {
                self.uac_2xx(now, call, m);
            }
            return;
        }
        match status {
            100..=199 => {
                let dialog = if status > 100 {
                    self.uac_dialog(call, &m, false)
                        .and_then(|i| self.calls.get(&call).map(|c| c.dialogs[i].id.clone()))
                } else {
                    None
                };
                let Some(u) = self.calls.get_mut(&call).and_then(|c| c.uac.as_deref_mut()) else {
                    return;
                };
                u.got_provisional = true;
                let pending = match u.cancel {
                    CancelState::Pending(r) => Some(r),
                    _ => None,
                };
                self.emit(Event::Progress {
                    call: CallHandle(call),
                    status,
                    dialog,
                    response: Box::new(m),
                });
                // §9.1: a CANCEL deferred for want of a provisional response goes now.
                if let Some(reason) = pending {
                    self.send_cancel(now, call, reason);
                }
            }
            200..=299 => self.uac_2xx(now, call, m),
            _ => self.uac_final_failure(now, call, status, m),
        }
    }

    fn uac_final_failure(&mut self, now: Instant, call: u64, status: u16, m: Inbound) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(u) = c.uac.as_deref_mut() else {
            return;
        };
        let cancel = u.cancel;
        if matches!(status, 401 | 407) && cancel == CancelState::None {
            let header = if status == 401 {
                "WWW-Authenticate"
            } else {
                "Proxy-Authenticate"
            };
            let answer = if u.auth_tries < self.cfg.max_auth_attempts {
                match (
                    &u.credentials,
                    m.header(header).and_then(DigestParams::parse),
                ) {
                    (Some(creds), Some(challenge)) => {
                        let uri = String::from_utf8_lossy(&u.request_uri).into_owned();
                        u.digest
                            .authorize(&challenge, creds, "INVITE", &uri, &mut self.rng)
                            .ok()
                    }
                    _ => None,
                }
            } else {
                None
            };
            let Some(value) = answer else {
                self.end_call(call, EndReason::AuthFailed { status });
                return;
            };
            // §22.2: re-send with credentials, a new CSeq, same Call-ID and From tag.
            u.auth_tries += 1;
            u.cseq += 1;
            u.got_provisional = false;
            let stale: Vec<DialogId> = c.dialogs.drain(..).map(|d| d.id).collect();
            for id in stale {
                self.dialogs.remove(&id);
            }
            let name = if status == 401 {
                "Authorization"
            } else {
                "Proxy-Authorization"
            };
            u.auth = Some((name, value.clone()));
            self.send_invite(now, call, Some((name, value)));
            return;
        }
        let reason = match cancel {
            CancelState::Pending(r) | CancelState::Sent(r) => r,
            CancelState::None => EndReason::Rejected { status },
        };
        self.end_call(call, reason);
    }

    /// Finds or creates the dialog a response to our INVITE establishes (§12.1.2).
    fn uac_dialog(&mut self, call: u64, m: &Inbound, confirmed: bool) -> Option<usize> {
        // A 2xx without To tag (RFC 2543 peers) still establishes a dialog, with an empty
        // remote tag; a provisional without one establishes none (§12.1.2).
        let remote_tag = match &m.to_tag {
            Some(tt) => Tag::new(m.slice(tt)),
            None if confirmed => Tag::new(Bytes::new()),
            None => return None,
        };
        let c = self.calls.get_mut(&call)?;
        let u = c.uac.as_deref()?;
        let id = DialogId {
            call_id: c.call_id.clone(),
            local_tag: c.local_tag.clone(),
            remote_tag,
        };
        // §12.1.2: route set = Record-Route in reverse; remote target = Contact.
        let route_set: Vec<Bytes> = m.record_routes().rev().map(|r| m.slice(&r)).collect();
        let target = m.contact_range().map(|r| m.slice(&r));
        if let Some(i) = c.dialogs.iter().position(|d| d.id == id) {
            let d = &mut c.dialogs[i];
            if confirmed && !d.confirmed {
                // §13.2.2.4: the 2xx recomputes the route set and target of an early dialog.
                d.confirmed = true;
                d.route_set = route_set;
                if let Some(t) = target {
                    d.remote_target = t;
                }
            }
            return Some(i);
        }
        let d = Dialog {
            id: id.clone(),
            confirmed,
            remote_target: target.unwrap_or_else(|| u.request_uri.clone()),
            route_set,
            local_seq: u.cseq,
            remote_seq: None,
            local_header: u.from.clone(),
            remote_header: m.slice(&m.to),
            ack: None,
        };
        c.dialogs.push(d);
        self.dialogs.insert(id, call);
        Some(c.dialogs.len() - 1)
    }

    /// A 2xx to our INVITE: ACK it end to end (§13.2.2.4); keep the first, BYE the others
    /// and any that raced our CANCEL.
    fn uac_2xx(&mut self, now: Instant, call: u64, m: Inbound) {
        let Some(idx) = self.uac_dialog(call, &m, true) else {
            return;
        };
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if let Some((seq, ack)) = &c.dialogs[idx].ack {
            if *seq == m.cseq {
                // Retransmitted 2xx: the same ACK again.
                let dest = self.in_dialog_destination(call, &c.dialogs[idx].id);
                let (t, a) = (c.transport, ack.clone());
                self.transmit(t, dest, a);
                return;
            }
        }
        self.send_ack_2xx(call, idx, m.cseq);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let cancel = c.uac.as_deref().map_or(CancelState::None, |u| u.cancel);
        if c.ended || c.answered.is_some() || cancel != CancelState::None {
            self.send_bye(now, call, idx);
            if let CancelState::Pending(r) | CancelState::Sent(r) = cancel {
                self.end_call(call, r);
            }
            return;
        }
        c.answered = Some(idx);
        c.timers.cancel(Timer::Ringing);
        let dialog = c.dialogs[idx].id.clone();
        self.emit(Event::Answered {
            call: CallHandle(call),
            dialog,
            response: Box::new(m),
        });
    }

    /// A 2xx reached the INVITE transaction of a call already reaped (see `Afterlife`): a
    /// retransmission gets the dialog's ACK again; a new dialog (a fork answering late)
    /// brings the call back, ended, whose zombie path ACKs and BYEs it (§13.2.2.4).
    fn afterlife_2xx(&mut self, now: Instant, call: u64, tx: u64, m: Inbound) {
        let Some(life) = self.clients.get(&tx).and_then(|t| t.afterlife.as_deref()) else {
            return;
        };
        let tag = m.to_tag.as_ref().map_or(&b""[..], |r| m.bytes(r));
        if let Some((_, _, ack, dest)) = life
            .acks
            .iter()
            .find(|(t, seq, _, _)| t.as_bytes() == tag && *seq == m.cseq)
        {
            let (transport, ack, dest) = (life.transport, ack.clone(), *dest);
            self.transmit(transport, dest, ack);
            return;
        }
        let Some(life) = self.clients.get_mut(&tx).and_then(|t| t.afterlife.take()) else {
            return;
        };
        let life = *life;
        self.calls.insert(
            call,
            Call {
                role: Role::Uac,
                call_id: life.call_id,
                local_tag: life.local_tag,
                transport: life.transport,
                peer: life.peer,
                contact: life.contact.clone(),
                timers: TimerTable::default(),
                ended: true,
                dialogs: Vec::new(),
                answered: None,
                uac: Some(Box::new(UacState {
                    request_uri: life.request_uri,
                    from: life.from,
                    to: life.to,
                    contact: life.contact,
                    routes: Vec::new(),
                    headers: Vec::new(),
                    body: None,
                    cseq: life.cseq,
                    credentials: None,
                    digest: Default::default(),
                    auth_tries: 0,
                    cancel: CancelState::None,
                    got_provisional: true,
                    auth: life.auth,
                })),
                uas: None,
                invite_tx: Some(tx),
                pending_2xx: None,
                bye_after_ack: false,
                reinvite_out: None,
                reinvite_in: None,
                tx_refs: 1,
            },
        );
        self.uac_2xx(now, call, m);
        self.maybe_reap(call);
        // The ACKs of the dialogs answered before stay with the transaction.
        let revived = self
            .clients
            .get_mut(&tx)
            .and_then(|t| t.afterlife.as_deref_mut());
        if let Some(l) = revived {
            l.acks.extend(life.acks);
        }
    }

    /// Timer B fired for the INVITE (§17.1.1.2): no response at all.
    pub(crate) fn uac_invite_timeout(&mut self, call: u64, tx: u64) {
        if self
            .calls
            .get(&call)
            .is_some_and(|c| c.invite_tx == Some(tx))
        {
            self.end_call(call, EndReason::Timeout(TimeoutCause::SipTimerB));
        }
    }

    /// The ringing timer fired: CANCEL now, or as soon as a provisional arrives (§9.1).
    pub(crate) fn ring_timeout(&mut self, now: Instant, call: u64) {
        let ringing = self
            .calls
            .get(&call)
            .is_some_and(|c| !c.ended && c.answered.is_none() && c.uac.is_some());
        if ringing {
            self.emit(Event::RingTimeout {
                call: CallHandle(call),
            });
        }
        self.cancel_call(now, call, EndReason::Timeout(TimeoutCause::RingNoAnswer));
    }

    fn cancel_call(&mut self, now: Instant, call: u64, reason: EndReason) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.ended || c.answered.is_some() {
            return;
        }
        let Some(u) = c.uac.as_deref_mut() else {
            return;
        };
        if u.cancel != CancelState::None {
            return;
        }
        if c.invite_tx.is_none() {
            // The INVITE transaction is already gone (e.g. it ended in Accepted without a
            // usable 2xx): nothing left to cancel, so the call ends now.
            self.end_call(call, reason);
            return;
        }
        if u.got_provisional {
            self.send_cancel(now, call, reason);
        } else {
            // §9.1: "If no provisional response has been received, the CANCEL request MUST
            // NOT be sent; rather, the client MUST wait for the arrival of a provisional
            // response before sending the request."
            u.cancel = CancelState::Pending(reason);
        }
    }

    /// Sends CANCEL for the call's INVITE (§9.1): same Request-URI, Call-ID, To, From, CSeq
    /// number and top Via (so the same branch) as the INVITE; method CANCEL.
    pub(crate) fn send_cancel(&mut self, now: Instant, call: u64, reason: EndReason) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let Some(tx) = c.invite_tx.and_then(|t| self.clients.get(&t)) else {
            return;
        };
        if !tx.is_proceeding() {
            return;
        }
        let (transport, dest, branch) = (tx.transport, tx.destination, tx.branch.clone());
        let Ok(req) = Inbound::parse(tx.request.clone()) else {
            return;
        };
        let mut w = Writer::request(&mut self.buf, "CANCEL", req.bytes(&req.request_uri_range()));
        w.header("Via", req.bytes(&req.top_via().value));
        w.header("Max-Forwards", b"70");
        w.header("From", req.bytes(&req.from));
        w.header("To", req.bytes(&req.to));
        w.header("Call-ID", req.bytes(&req.call_id));
        w.cseq(req.cseq, "CANCEL");
        for r in req.message().header_all(sip_message::HeaderName::Route) {
            w.header("Route", r.as_bytes());
        }
        let bytes = w.finish(None, &[]);
        self.start_client(
            now,
            Method::Cancel,
            branch,
            bytes,
            transport,
            dest,
            call,
            Purpose::Cancel,
        );
        let guard = now + self.cfg.t1x64();
        if let Some(c) = self.calls.get_mut(&call) {
            if let Some(u) = c.uac.as_deref_mut() {
                u.cancel = CancelState::Sent(reason);
            }
            self.sched
                .arm(&mut c.timers, Owner::Call(call), Timer::CancelGuard, guard);
        }
    }

    /// §9.1: no final response 64·T1 after the CANCEL: consider the INVITE cancelled.
    pub(crate) fn cancel_guard(&mut self, call: u64) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let reason = match c.uac.as_deref().map(|u| u.cancel) {
            Some(CancelState::Sent(r)) => r,
            _ => return,
        };
        if let Some(tx) = c.invite_tx {
            if self.clients.get(&tx).is_some_and(|t| t.is_proceeding()) {
                self.remove_client(tx);
            }
        }
        self.end_call(call, reason);
    }

    /// Ends a call from the TU's side: CANCEL (unanswered UAC), BYE (established), or a
    /// 480 final response (unanswered UAS). The `Ended` event follows (for a CANCEL, once the
    /// INVITE's final response arrives).
    pub fn hangup(&mut self, now: Instant, call: CallHandle) -> Result<(), Error> {
        let id = call.0;
        let c = self.calls.get(&id).ok_or(Error::UnknownCall)?;
        if c.ended {
            return Err(Error::InvalidState("call already ended"));
        }
        match (c.role, c.answered) {
            (Role::Uac, Some(idx)) => {
                self.send_bye(now, id, idx);
                self.end_call(id, EndReason::LocalBye);
            }
            (Role::Uac, None) => self.cancel_call(now, id, EndReason::LocalCancel),
            (Role::Uas, Some(idx)) => {
                if c.pending_2xx.as_ref().is_some_and(|p| p.initial) {
                    // §15: the callee MUST NOT send BYE before the ACK (or its timeout).
                    if let Some(c) = self.calls.get_mut(&id) {
                        c.bye_after_ack = true;
                    }
                } else {
                    self.send_bye(now, id, idx);
                }
                self.end_call(id, EndReason::LocalBye);
            }
            (Role::Uas, None) => {
                let Some(tx) = c.invite_tx else {
                    return Err(Error::InvalidState("call already ended"));
                };
                self.server_respond(now, tx, 480, None, None, &[], None)?;
                self.end_call(id, EndReason::LocalReject { status: 480 });
            }
        }
        Ok(())
    }

    /// The Call-ID of a live call.
    pub fn call_id(&self, call: CallHandle) -> Option<&CallId> {
        self.calls.get(&call.0).map(|c| &c.call_id)
    }
}
