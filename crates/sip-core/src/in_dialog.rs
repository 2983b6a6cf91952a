//! Requests inside a dialog (§12.2.1.1): the TU's re-INVITE/UPDATE/INFO/REFER/NOTIFY, the
//! endpoint's own BYE and ACK for 2xx, their responses (§12.2.1.2), and out-of-dialog
//! requests the TU sends (OPTIONS pings).

use std::time::Instant;

use bytes::Bytes;

use crate::api::{Body, CallHandle, EndReason, Event, RequestId, RequestOptions, TimeoutCause};
use crate::compose::Writer;
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::ids::Branch;
use crate::method::Method;
use crate::msg::Inbound;
use crate::transaction::Purpose;
use crate::transport::Transport;
use crate::uac::{check_headers, check_text};

impl Endpoint {
    /// Sends (and remembers) the ACK for a 2xx with CSeq `cseq` in dialog `idx`.
    pub(crate) fn send_ack_2xx(&mut self, call: u64, idx: usize, cseq: u32) {
        let branch = self.new_branch();
        let Some((bytes, dest, t)) =
            self.build_in_dialog(call, idx, Method::Ack, cseq, &branch, &[], None)
        else {
            return;
        };
        self.transmit(t, dest, bytes.clone());
        if let Some(d) = self
            .calls
            .get_mut(&call)
            .and_then(|c| c.dialogs.get_mut(idx))
        {
            d.ack = Some((cseq, bytes));
        }
    }

    /// Writes a request inside dialog `idx` of `call` (§12.2.1.1).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn build_in_dialog(
        &mut self,
        call: u64,
        idx: usize,
        method: Method,
        cseq: u32,
        branch: &Branch,
        headers: &[(String, String)],
        body: Option<&Body>,
    ) -> Option<(Bytes, std::net::SocketAddr, Transport)> {
        let c = self.calls.get(&call)?;
        let d = c.dialogs.get(idx)?;
        let hop = d.next_hop(c.transport);
        let dest = if self.cfg.in_dialog_to_flow {
            c.peer
        } else {
            hop.destination.unwrap_or(c.peer)
        };
        let port = self.via_port(c.transport);
        let mut w = Writer::request(
            &mut self.buf,
            crate::method::token(method),
            &hop.request_uri,
        );
        w.via(
            c.transport.token(),
            &self.cfg.local_host,
            port,
            branch.as_bytes(),
        );
        w.header("Max-Forwards", b"70");
        w.header("From", &d.local_header);
        w.header("To", &d.remote_header);
        w.header("Call-ID", c.call_id.as_bytes());
        w.cseq(cseq, crate::method::token(method));
        for r in &hop.routes {
            w.header("Route", r);
        }
        if matches!(method, Method::Invite | Method::Update | Method::Refer) {
            // Target-refresh requests carry our Contact (§12.2.1.1); so does REFER, which
            // creates a dialog usage (the implicit subscription, RFC 3515 §2: "MUST contain
            // a single Contact header field value").
            w.header_parts("Contact", &[b"<", &c.contact, b">"]);
        }
        if method != Method::Ack {
            if let Some(ua) = &self.cfg.user_agent {
                w.header("User-Agent", ua.as_bytes());
            }
        }
        if method == Method::Ack {
            if let Some((name, value)) = c.uac.as_deref().and_then(|u| u.auth.as_ref()) {
                w.header(name, value.as_bytes());
            }
        }
        for (n, v) in headers {
            w.header(n, v.as_bytes());
        }
        let bytes = match body {
            Some(b) => w.finish(Some(&b.content_type), &b.data),
            None => w.finish(None, &[]),
        };
        Some((bytes, dest, c.transport))
    }

    /// Sends BYE in dialog `idx`; its response only closes the transaction.
    pub(crate) fn send_bye(&mut self, now: Instant, call: u64, idx: usize) {
        let branch = self.new_branch();
        let Some(seq) = self
            .calls
            .get_mut(&call)
            .and_then(|c| c.dialogs.get_mut(idx))
            .map(|d| {
                d.local_seq += 1;
                d.local_seq
            })
        else {
            return;
        };
        let Some((bytes, dest, t)) =
            self.build_in_dialog(call, idx, Method::Bye, seq, &branch, &[], None)
        else {
            return;
        };
        self.start_client(now, Method::Bye, branch, bytes, t, dest, call, Purpose::Bye);
    }

    /// Sends a request inside the call's confirmed dialog: re-INVITE (with a new offer),
    /// UPDATE, INFO, REFER, NOTIFY, OPTIONS, MESSAGE. BYE goes through
    /// [`hangup`](Self::hangup); ACK and CANCEL are the endpoint's own business. The answer
    /// arrives as [`Event::Response`].
    pub fn request(
        &mut self,
        now: Instant,
        call: CallHandle,
        method: Method,
        headers: Vec<(String, String)>,
        body: Option<Body>,
    ) -> Result<RequestId, Error> {
        if matches!(
            method,
            Method::Ack | Method::Cancel | Method::Bye | Method::Other
        ) {
            return Err(Error::InvalidArgument("method not allowed in request()"));
        }
        check_headers(&headers)?;
        if let Some(b) = &body {
            check_text(&b.content_type, "content type")?;
        }
        if self.at_capacity() {
            return Err(Error::Capacity);
        }
        let id = call.0;
        let c = self.calls.get_mut(&id).ok_or(Error::UnknownCall)?;
        if c.ended {
            return Err(Error::InvalidState("call already ended"));
        }
        let idx = c
            .answered
            .ok_or(Error::InvalidState("no confirmed dialog"))?;
        if method == Method::Invite && (c.reinvite_out.is_some() || c.reinvite_in.is_some()) {
            // §14.1: no new re-INVITE while one is in progress in either direction.
            return Err(Error::Glare);
        }
        let d = &mut c.dialogs[idx];
        d.local_seq += 1;
        let seq = d.local_seq;
        let branch = self.new_branch();
        let (bytes, dest, t) = self
            .build_in_dialog(id, idx, method, seq, &branch, &headers, body.as_ref())
            .ok_or(Error::UnknownCall)?;
        let rid = self.next_id();
        let tx = self.start_client(
            now,
            method,
            branch,
            bytes,
            t,
            dest,
            id,
            Purpose::InDialog(rid),
        );
        if method == Method::Invite {
            if let Some(c) = self.calls.get_mut(&id) {
                c.reinvite_out = Some(tx);
            }
        }
        Ok(RequestId(rid))
    }

    /// A response to a request the TU sent in the dialog.
    pub(crate) fn in_dialog_response(
        &mut self,
        _now: Instant,
        call: u64,
        tx: u64,
        method: Method,
        m: Inbound,
    ) {
        let Some(status) = m.status() else { return };
        let rid = match self.clients.get(&tx).map(|t| t.purpose) {
            Some(Purpose::InDialog(r)) => r,
            _ => return,
        };
        if method == Method::Invite && (200..300).contains(&status) {
            let Some(c) = self.calls.get(&call) else {
                return;
            };
            let Some(idx) = c.answered else { return };
            let d = &c.dialogs[idx];
            if let Some((seq, ack)) = &d.ack {
                if *seq == m.cseq {
                    // Retransmitted 2xx to the re-INVITE: the same ACK again.
                    let (t, a) = (c.transport, ack.clone());
                    let dest = self.in_dialog_destination(call, &d.id);
                    self.transmit(t, dest, a);
                    return;
                }
            }
            // A 2xx to a re-INVITE refreshes the remote target (§12.2.1.2).
            if let Some(r) = m.contact_range() {
                let target = m.slice(&r);
                if let Some(d) = self
                    .calls
                    .get_mut(&call)
                    .and_then(|c| c.dialogs.get_mut(idx))
                {
                    d.remote_target = target;
                }
            }
            self.send_ack_2xx(call, idx, m.cseq);
        }
        if status >= 200 {
            if let Some(c) = self.calls.get_mut(&call) {
                if c.reinvite_out == Some(tx) {
                    c.reinvite_out = None;
                }
            }
        }
        self.emit(Event::Response {
            call: CallHandle(call),
            request: RequestId(rid),
            method,
            status,
            response: Some(Box::new(m)),
        });
        // §12.2.1.2: a 481 means the dialog is gone on the other side.
        if status == 481 {
            self.end_call(call, EndReason::Rejected { status });
        }
    }

    /// Timer B/F fired for a request the TU sent in the dialog (§12.2.1.2: treat as 408 and
    /// terminate the dialog).
    pub(crate) fn in_dialog_timeout(&mut self, call: u64, rid: u64, method: Method) {
        self.emit(Event::Response {
            call: CallHandle(call),
            request: RequestId(rid),
            method,
            status: 408,
            response: None,
        });
        let cause = if method == Method::Invite {
            TimeoutCause::SipTimerB
        } else {
            TimeoutCause::SipTimerF
        };
        self.end_call(call, EndReason::Timeout(cause));
    }

    /// Sends an out-of-dialog request (a non-INVITE client transaction, §17.1.2). Its
    /// response arrives as [`Event::StandaloneResponse`] (408 after Timer F).
    pub fn send_request(&mut self, now: Instant, opts: RequestOptions) -> Result<RequestId, Error> {
        if matches!(
            opts.method,
            Method::Invite | Method::Ack | Method::Cancel | Method::Bye | Method::Other
        ) {
            return Err(Error::InvalidArgument(
                "method not allowed in send_request()",
            ));
        }
        if opts.request_uri.is_empty() {
            return Err(Error::InvalidArgument("request_uri"));
        }
        check_text(&opts.request_uri, "request_uri")?;
        check_text(&opts.from, "from")?;
        check_text(&opts.to, "to")?;
        check_headers(&opts.headers)?;
        if let Some(b) = &opts.body {
            check_text(&b.content_type, "content type")?;
        }
        if self.at_capacity() {
            return Err(Error::Capacity);
        }
        let (branch, tag, call_id) = (self.new_branch(), self.new_tag(), self.new_call_id());
        let port = self.via_port(opts.transport);
        let token = crate::method::token(opts.method);
        let contact = self.local_contact(opts.transport);
        let mut w = Writer::request(&mut self.buf, token, opts.request_uri.as_bytes());
        w.via(
            opts.transport.token(),
            &self.cfg.local_host,
            port,
            branch.as_bytes(),
        );
        w.header("Max-Forwards", b"70");
        w.header_parts("From", &[opts.from.as_bytes(), b";tag=", tag.as_bytes()]);
        w.header("To", opts.to.as_bytes());
        w.header("Call-ID", call_id.as_bytes());
        w.cseq(1, token);
        w.header_parts("Contact", &[b"<", &contact, b">"]);
        if let Some(ua) = &self.cfg.user_agent {
            w.header("User-Agent", ua.as_bytes());
        }
        for (n, v) in &opts.headers {
            w.header(n, v.as_bytes());
        }
        let bytes = match &opts.body {
            Some(b) => w.finish(Some(&b.content_type), &b.data),
            None => w.finish(None, &[]),
        };
        let rid = self.next_id();
        // Call id 0 is never allocated: the transaction belongs to no call.
        self.start_client(
            now,
            opts.method,
            branch,
            bytes,
            opts.transport,
            opts.destination,
            0,
            Purpose::Standalone(rid),
        );
        Ok(RequestId(rid))
    }
}
