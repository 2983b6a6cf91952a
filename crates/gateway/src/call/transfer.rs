//! `TransferSIPParticipant`: a blind transfer of the phone by REFER (RFC 3515), the "basic
//! transfer" of RFC 5589 §6.1 with sipbridge as the transferor.
//!
//! The call's task sends REFER (`Refer-To` = the API's `transfer_to`) in the call's dialog.
//! The phone accepts it (2xx, normally 202) and calls the target itself, reporting through
//! the REFER's implicit subscription: NOTIFYs whose `message/sipfrag` body is the status
//! line of its INVITE's latest response (§2.4.5), until a final one. A 2xx there means the
//! phone reached the target: the transfer succeeded and sipbridge leaves the call with BYE
//! (RFC 5589 §6.1). A REFER refused, a final failure in a NOTIFY, or a subscription ending
//! without a final status fails the transfer; the call stays as it was.
//!
//! Timers belong to the call (DESIGN.md §3): the target may ring for the request's
//! `ringing_timeout`, counted from the REFER's acceptance (no ringing can start before);
//! when it runs out the transfer fails with `ring_no_answer` and later NOTIFYs of that
//! subscription are answered 481, which ends it at the phone (RFC 6665 §4.1.3). A REFER
//! without any response ends at Timer F, and sip-core then ends the dialog (RFC 3261
//! §12.2.1.2): that is `sip_timer_f`. The API waiter only observes; its own deadline is
//! the router's.
//!
//! [`Transfers`] is the sans-IO part (time is an argument); [`Transfers::start`] and
//! [`Transfers::on_notify`] are the I/O around it, used through [`super::in_call`].

use std::time::{Duration, Instant};

use control::service::TransferOutcome;
use control::{CallError, SipStatus, TimeoutCause, TransferCall, TwirpCode};
use sip_core::{Method, Reply, RequestId};
use sip_message::Message;
use sip_message::headers::{Event, SubscriptionState};
use tokio::sync::oneshot;

use super::Gateway;
use super::in_call::now;
use super::registry::TransferRequest;

/// The REFER event package (RFC 3515 §2.4.4).
const REFER_EVENT: &str = "refer";

/// REFERs of a call whose subscriptions are remembered after their transfer ended.
const PAST_REFERS: usize = 8;

/// The transfers of one call (at most one running at a time).
#[derive(Debug, Default)]
pub(super) struct Transfers {
    active: Option<Active>,
    /// REFERs sent in this call: a NOTIFY without `id` belongs to the first one (RFC 3515
    /// §2.4.6).
    refers: u32,
    /// CSeqs of earlier REFERs of this call, newest last: their subscriptions may still
    /// notify (a REFER cannot be withdrawn, and its target may answer after sipbridge gave
    /// up waiting). Such NOTIFYs are acknowledged and otherwise ignored: a 481 would make a
    /// phone that follows RFC 3261 §12.2.1.2 end the whole dialog.
    past: std::collections::VecDeque<u32>,
}

/// Which subscription a NOTIFY of the refer package is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subscription {
    /// The running transfer's.
    Running,
    /// An earlier REFER's of this call.
    Past,
    /// None this call ever created.
    Unknown,
}

#[derive(Debug)]
struct Active {
    id: String,
    /// 1 for the call's first REFER.
    ordinal: u32,
    /// The REFER's handle ([`RequestId::get`]); its responses come as `Event::Response`
    /// for it.
    refer: u64,
    /// The REFER's CSeq, learnt from its response: NOTIFYs name it in `Event: refer;id=`
    /// (RFC 3515 §2.4.6).
    refer_cseq: Option<u32>,
    sent: Instant,
    ringing_timeout: Duration,
    /// Armed when the REFER is accepted.
    ring_deadline: Option<Instant>,
    /// The latest ringing/progress status (18x) a NOTIFY reported.
    progress: Option<u16>,
    dialtone: bool,
    reply: oneshot::Sender<Result<TransferOutcome, CallError>>,
}

/// How a transfer ended, for the call to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Ended {
    /// The phone reached the target: the call is to be left (BYE).
    pub succeeded: bool,
    /// A ringback was playing into the room for it: stop it.
    pub dialtone: bool,
}

impl Transfers {
    /// Whether a transfer is running.
    pub fn busy(&self) -> bool {
        self.active.is_some()
    }

    /// When the running transfer's target has rung for its `ringing_timeout`.
    pub fn ring_deadline(&self) -> Option<Instant> {
        self.active.as_ref().and_then(|a| a.ring_deadline)
    }

    /// Records a REFER that just left.
    pub fn begin(
        &mut self,
        now: Instant,
        id: String,
        req: &TransferCall,
        refer: u64,
        reply: oneshot::Sender<Result<TransferOutcome, CallError>>,
    ) {
        self.refers += 1;
        self.active = Some(Active {
            id,
            ordinal: self.refers,
            refer,
            refer_cseq: None,
            sent: now,
            ringing_timeout: req.ringing_timeout,
            ring_deadline: None,
            progress: None,
            dialtone: req.play_dialtone,
            reply,
        });
    }

    /// Whether `request` is the running transfer's REFER.
    pub fn owns(&self, request: RequestId) -> bool {
        self.active
            .as_ref()
            .is_some_and(|a| a.refer == request.get())
    }

    /// A response to the REFER (`response` is `None` when sip-core synthesized a 408 at
    /// Timer F).
    pub fn on_refer_response(
        &mut self,
        now: Instant,
        status: u16,
        response: Option<&Message>,
    ) -> Option<Ended> {
        let active = self.active.as_mut()?;
        match status {
            100..=199 => None,
            200..=299 => {
                // RFC 3515 §2.4.2: 202 Accepted (a 200 from older phones means the same).
                active.refer_cseq = response.and_then(|r| r.cseq()).map(|c| c.seq);
                if active.ring_deadline.is_none() {
                    active.ring_deadline = Some(now + active.ringing_timeout);
                }
                tracing::info!(transfer_id = %active.id, status, "REFER accepted");
                None
            }
            _ if response.is_none() => Some(
                self.fail(
                    now,
                    CallError::timeout(
                        TimeoutCause::SipTimerF,
                        "the phone did not answer the REFER (Timer F); the call ends",
                    )
                    .with_sip_status(status_of(408, sip_core::reason_phrase(408).as_bytes())),
                    "sip_timer_f",
                ),
            ),
            _ => {
                let reason = response.and_then(|r| r.reason()).unwrap_or_default();
                let sip = status_of(status, reason.as_bytes());
                let mut error = CallError::sip(sip);
                error.message = format!("the phone refused the transfer: {status} {reason}");
                Some(self.fail(now, error, "refused"))
            }
        }
    }

    /// A NOTIFY of the call's dialog: the status to answer it with, and the transfer's end
    /// when it reported one.
    pub fn notify(&mut self, now: Instant, notify: &Message) -> (u16, Option<Ended>) {
        let event = notify.typed::<Event<'_>>();
        let event = match event {
            Some(Ok(e)) if e.package.eq_ignore_ascii_case(REFER_EVENT) => e,
            // Not about a REFER (PBXs send unsolicited NOTIFYs such as `check-sync`):
            // acknowledged, as before there were transfers.
            Some(Ok(_)) => return (200, None),
            // RFC 6665 §8.2.1: a NOTIFY must name its event package.
            None | Some(Err(_)) => return (400, None),
        };
        let id = event.id().map(|id| id.trim().parse::<u32>().ok());
        match self.subscription(id) {
            Subscription::Running => {}
            Subscription::Past => {
                let status = sip_message::sipfrag_status(notify.body_bytes()).map(|s| s.code);
                tracing::info!(
                    ?status,
                    "NOTIFY for an earlier transfer of this call; ignored"
                );
                return (200, None);
            }
            // RFC 6665 §4.1.3: no such subscription.
            Subscription::Unknown => return (481, None),
        }
        let Some(active) = self.active.as_mut() else {
            return (481, None);
        };
        let terminated = match notify.typed::<SubscriptionState<'_>>() {
            Some(Ok(s)) => s.is_terminated(),
            // RFC 6665 §8.2.3: required in every NOTIFY.
            _ => return (400, None),
        };
        let status = sip_message::sipfrag_status(notify.body_bytes());
        let (code, reason) = match &status {
            Ok(s) => (s.code, s.reason),
            Err(err) => {
                tracing::info!(%err, transfer_id = %active.id, "NOTIFY without a sipfrag status line");
                if terminated {
                    let error = CallError::new(
                        TwirpCode::Aborted,
                        "the transfer's subscription ended without a status",
                    );
                    return (400, Some(self.fail(now, error, "subscription_terminated")));
                }
                return (400, None);
            }
        };
        match code {
            100..=199 => {
                if code >= 180 {
                    active.progress = Some(code);
                }
                tracing::info!(transfer_id = %active.id, code, "transfer progress");
                if !terminated {
                    return (200, None);
                }
                let error = CallError::new(
                    TwirpCode::Aborted,
                    format!("the transfer's subscription ended at {code}, before a final status"),
                );
                (200, Some(self.fail(now, error, "subscription_terminated")))
            }
            200..=299 => {
                let Some(active) = self.take() else {
                    return (200, None);
                };
                let outcome = TransferOutcome {
                    transfer_id: active.id.clone(),
                    sip_status: Some(status_of(code, reason)),
                };
                tracing::info!(transfer_id = %active.id, code, after_ms = now.saturating_duration_since(active.sent).as_millis() as u64, "transfer succeeded");
                super::metrics::transfer_ended(
                    "succeeded",
                    now.saturating_duration_since(active.sent),
                );
                let _ = active.reply.send(Ok(outcome));
                (
                    200,
                    Some(Ended {
                        succeeded: true,
                        dialtone: active.dialtone,
                    }),
                )
            }
            _ => {
                let sip = status_of(code, reason);
                let mut error = CallError::sip(sip);
                error.message = format!(
                    "the transfer target answered {code} {}",
                    String::from_utf8_lossy(reason)
                );
                (200, Some(self.fail(now, error, "failed")))
            }
        }
    }

    /// The target rang for the whole `ringing_timeout`.
    pub fn ring_expired(&mut self, now: Instant) -> Option<Ended> {
        let active = self.active.as_ref()?;
        if active.ring_deadline.is_none_or(|d| now < d) {
            return None;
        }
        let mut error = CallError::timeout(
            TimeoutCause::RingNoAnswer,
            format!(
                "the transfer target did not answer within {:?}; the call stays",
                active.ringing_timeout
            ),
        );
        if let Some(code) = active.progress {
            error =
                error.with_sip_status(status_of(code, sip_core::reason_phrase(code).as_bytes()));
        }
        Some(self.fail(now, error, "ring_no_answer"))
    }

    /// The call ended while a transfer ran; `phone_hung_up`: by the phone's BYE.
    pub fn call_ended(&mut self, now: Instant, phone_hung_up: bool) {
        if self.active.is_some() {
            let message = if phone_hung_up {
                // Some phones leave with BYE once connected to the target, before (or
                // instead of) the final NOTIFY: the transfer may well have succeeded.
                "the phone hung up before reporting the transfer's outcome (it may have reached the target)"
            } else {
                "the call ended before the transfer reported its outcome"
            };
            self.fail(
                now,
                CallError::new(TwirpCode::Aborted, message),
                "call_ended",
            );
        }
    }

    /// Ends the running transfer, remembering its subscription.
    fn take(&mut self) -> Option<Active> {
        let active = self.active.take()?;
        if let Some(cseq) = active.refer_cseq {
            if self.past.len() == PAST_REFERS {
                self.past.pop_front();
            }
            self.past.push_back(cseq);
        }
        Some(active)
    }

    /// Whose NOTIFY this is, by its `Event` header's `id` (`None`: absent; `Some(None)`:
    /// not a number).
    fn subscription(&self, id: Option<Option<u32>>) -> Subscription {
        let running = self.active.as_ref().is_some_and(|a| match id {
            // Only the first REFER of a dialog may be notified without an id.
            None => a.ordinal == 1,
            Some(Some(n)) => match a.refer_cseq {
                Some(cseq) => cseq == n,
                // A NOTIFY may overtake the 202 (RFC 3515 §2.4.4): any id that is not an
                // earlier REFER's.
                None => !self.past.contains(&n),
            },
            Some(None) => false,
        });
        match (running, self.refers) {
            (true, _) => Subscription::Running,
            (false, 0) => Subscription::Unknown,
            (false, _) => Subscription::Past,
        }
    }

    fn fail(&mut self, now: Instant, error: CallError, outcome: &'static str) -> Ended {
        let Some(active) = self.take() else {
            return Ended {
                succeeded: false,
                dialtone: false,
            };
        };
        tracing::info!(transfer_id = %active.id, outcome, %error, "transfer failed");
        super::metrics::transfer_ended(outcome, now.saturating_duration_since(active.sent));
        let _ = active.reply.send(Err(error));
        Ended {
            succeeded: false,
            dialtone: active.dialtone,
        }
    }

    /// Starts `transfer` on the answered call `call`: sends the REFER, or answers the
    /// waiter at once when it cannot (another transfer running, the SIP stack refusing).
    /// Returns whether the room is to hear ringback now (a REFER left with
    /// `play_dialtone`); [`Ended::dialtone`] says when to stop it.
    pub async fn start(
        &mut self,
        gw: &Gateway,
        call: sip_core::CallHandle,
        transfer: TransferRequest,
    ) -> bool {
        let TransferRequest { req, reply } = transfer;
        if self.busy() {
            let _ = reply.send(Err(CallError::new(
                TwirpCode::Aborted,
                "a transfer of this participant is already in progress",
            )));
            return false;
        }
        let headers = refer_headers(&req);
        let sent = gw
            .sip
            .with(move |ep, now| ep.request(now, call, Method::Refer, headers, None))
            .await;
        let refer = match sent {
            Ok(Ok(refer)) => refer,
            Ok(Err(err)) => {
                let code = match err {
                    sip_core::Error::Capacity => TwirpCode::ResourceExhausted,
                    _ => TwirpCode::FailedPrecondition,
                };
                let _ = reply.send(Err(CallError::new(
                    code,
                    format!("cannot send REFER: {err}"),
                )));
                return false;
            }
            Err(err) => {
                let _ = reply.send(Err(CallError::new(
                    TwirpCode::Unavailable,
                    format!("SIP stack: {err}"),
                )));
                return false;
            }
        };
        let id = gw.new_transfer_id();
        tracing::info!(transfer_id = %id, to = %req.transfer_to, ringing_timeout_ms = req.ringing_timeout.as_millis() as u64, "REFER sent");
        self.begin(now(), id, &req, refer.get(), reply);
        req.play_dialtone
    }

    /// Answers a NOTIFY routed to the call (`request` is its handle).
    pub async fn on_notify(
        &mut self,
        gw: &Gateway,
        request: RequestId,
        notify: &Message,
    ) -> Option<Ended> {
        let (status, ended) = self.notify(now(), notify);
        let _ = gw
            .sip
            .with(move |ep, now| ep.reply(now, request, Reply::status(status)))
            .await;
        ended
    }
}

/// The REFER's headers: the target (RFC 3515 §2.1, in angle brackets so that its own
/// parameters stay the URI's, RFC 3261 §20.10), then the request's own.
fn refer_headers(req: &TransferCall) -> Vec<(String, String)> {
    let mut headers = vec![("Refer-To".to_owned(), format!("<{}>", req.transfer_to))];
    headers.extend(req.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
    headers
}

fn status_of(code: u16, reason: &[u8]) -> SipStatus {
    SipStatus {
        code,
        reason: String::from_utf8_lossy(reason).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use bytes::Bytes;

    use super::*;

    fn req(ringing_s: u64, dialtone: bool) -> TransferCall {
        TransferCall {
            participant_identity: "p".into(),
            room_name: "r".into(),
            transfer_to: "sip:+15550100@example.com".into(),
            play_dialtone: dialtone,
            headers: BTreeMap::new(),
            ringing_timeout: Duration::from_secs(ringing_s),
        }
    }

    type Waiter = oneshot::Receiver<Result<TransferOutcome, CallError>>;

    fn running(t0: Instant, ringing_s: u64) -> (Transfers, Waiter) {
        let mut t = Transfers::default();
        let (tx, rx) = oneshot::channel();
        t.begin(t0, "TR_1".into(), &req(ringing_s, true), 7, tx);
        (t, rx)
    }

    fn response(status: u16, reason: &str, cseq: u32) -> Message {
        let raw = format!(
            "SIP/2.0 {status} {reason}\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n\
             From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\nCall-ID: c1\r\n\
             CSeq: {cseq} REFER\r\nContent-Length: 0\r\n\r\n"
        );
        Message::parse(Bytes::from(raw)).expect("response parses")
    }

    fn notify(event: &str, state: &str, body: &str) -> Message {
        let mut raw = String::from(
            "NOTIFY sip:gw@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK2\r\n\
             From: <sip:b@y>;tag=2\r\nTo: <sip:a@x>;tag=1\r\nCall-ID: c1\r\nCSeq: 5 NOTIFY\r\n",
        );
        if !event.is_empty() {
            raw.push_str(&format!("Event: {event}\r\n"));
        }
        if !state.is_empty() {
            raw.push_str(&format!("Subscription-State: {state}\r\n"));
        }
        raw.push_str(&format!(
            "Content-Type: message/sipfrag\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
        Message::parse(Bytes::from(raw)).expect("notify parses")
    }

    fn outcome(rx: &mut Waiter) -> Result<TransferOutcome, CallError> {
        rx.try_recv().expect("the waiter was answered")
    }

    #[test]
    fn accepted_then_ringing_then_answered_succeeds_once() {
        let t0 = Instant::now();
        let (mut t, mut rx) = running(t0, 30);
        assert_eq!(
            t.ring_deadline(),
            None,
            "no ringing before the REFER is accepted"
        );
        let ok = response(202, "Accepted", 11);
        assert_eq!(t.on_refer_response(t0, 202, Some(&ok)), None);
        assert_eq!(t.ring_deadline(), Some(t0 + Duration::from_secs(30)));
        let trying = notify("refer;id=11", "active;expires=60", "SIP/2.0 100 Trying\r\n");
        assert_eq!(t.notify(t0, &trying), (200, None));
        let ringing = notify("refer", "active", "SIP/2.0 180 Ringing\r\n");
        assert_eq!(t.notify(t0, &ringing), (200, None));
        assert!(rx.try_recv().is_err(), "nothing final yet");
        let answered = notify(
            "refer;id=11",
            "terminated;reason=noresource",
            "SIP/2.0 200 OK\r\n",
        );
        let (status, ended) = t.notify(t0 + Duration::from_secs(5), &answered);
        assert_eq!(status, 200);
        assert_eq!(
            ended,
            Some(Ended {
                succeeded: true,
                dialtone: true
            })
        );
        let out = outcome(&mut rx).expect("success");
        assert_eq!(out.transfer_id, "TR_1");
        assert_eq!(out.sip_status.map(|s| s.code), Some(200));
        assert!(!t.busy());
        // A repeat of the final NOTIFY is acknowledged and changes nothing.
        assert_eq!(t.notify(t0, &answered), (200, None));
    }

    #[test]
    fn a_final_failure_in_a_notify_fails_with_its_status_and_keeps_the_call() {
        let t0 = Instant::now();
        let (mut t, mut rx) = running(t0, 30);
        t.on_refer_response(t0, 202, Some(&response(202, "Accepted", 3)));
        let busy = notify(
            "refer",
            "terminated;reason=noresource",
            "SIP/2.0 486 Busy Here",
        );
        let (status, ended) = t.notify(t0, &busy);
        assert_eq!(status, 200);
        assert_eq!(ended.map(|e| e.succeeded), Some(false));
        let err = outcome(&mut rx).expect_err("failed");
        assert_eq!(err.code, TwirpCode::ResourceExhausted, "{err:?}");
        assert_eq!(
            err.sip_status.map(|s| (s.code, s.reason)),
            Some((486, "Busy Here".into()))
        );
    }

    #[test]
    fn a_refused_refer_fails_with_its_status() {
        let t0 = Instant::now();
        let (mut t, mut rx) = running(t0, 30);
        assert_eq!(
            t.on_refer_response(t0, 100, None),
            None,
            "provisional ignored"
        );
        let ended = t.on_refer_response(t0, 603, Some(&response(603, "Declined", 3)));
        assert_eq!(ended.map(|e| e.succeeded), Some(false));
        let err = outcome(&mut rx).expect_err("refused");
        assert_eq!(err.code, TwirpCode::PermissionDenied, "{err:?}");
        assert_eq!(err.sip_status.as_ref().map(|s| s.code), Some(603));
        assert!(err.message.contains("refused the transfer"), "{err:?}");
    }

    #[test]
    fn no_response_to_the_refer_is_timer_f() {
        let t0 = Instant::now();
        let (mut t, mut rx) = running(t0, 30);
        assert!(t.on_refer_response(t0, 408, None).is_some());
        let err = outcome(&mut rx).expect_err("timed out");
        assert_eq!(err.timeout_cause, Some(TimeoutCause::SipTimerF));
        assert_eq!(err.code, TwirpCode::DeadlineExceeded);
    }

    #[test]
    fn the_ring_timer_runs_from_acceptance_and_names_ring_no_answer() {
        let t0 = Instant::now();
        let (mut t, mut rx) = running(t0, 10);
        // Not accepted yet: no ring timer to expire.
        assert_eq!(t.ring_expired(t0 + Duration::from_secs(60)), None);
        let accepted_at = t0 + Duration::from_secs(1);
        t.on_refer_response(accepted_at, 202, Some(&response(202, "Accepted", 3)));
        t.notify(
            accepted_at,
            &notify("refer", "active", "SIP/2.0 180 Ringing"),
        );
        assert_eq!(
            t.ring_expired(accepted_at + Duration::from_millis(9_999)),
            None
        );
        assert!(rx.try_recv().is_err());
        let ended = t.ring_expired(accepted_at + Duration::from_secs(10));
        assert_eq!(ended.map(|e| e.succeeded), Some(false));
        let err = outcome(&mut rx).expect_err("no answer");
        assert_eq!(err.timeout_cause, Some(TimeoutCause::RingNoAnswer));
        assert_eq!(
            err.sip_status.map(|s| s.code),
            Some(180),
            "last progress kept"
        );
        // The subscription's later NOTIFYs are acknowledged (a 481 could end the dialog,
        // RFC 3261 §12.2.1.2) and change nothing: the call stays.
        let late = notify("refer", "terminated", "SIP/2.0 200 OK");
        assert_eq!(t.notify(accepted_at, &late), (200, None));
        assert!(!t.busy());
    }

    #[test]
    fn a_subscription_ending_without_a_final_status_fails() {
        let t0 = Instant::now();
        let (mut t, mut rx) = running(t0, 30);
        let gone = notify(
            "refer",
            "terminated;reason=timeout",
            "SIP/2.0 183 Session Progress",
        );
        let (status, ended) = t.notify(t0, &gone);
        assert_eq!((status, ended.map(|e| e.succeeded)), (200, Some(false)));
        let err = outcome(&mut rx).expect_err("ended");
        assert_eq!(err.code, TwirpCode::Aborted);
    }

    #[test]
    fn notifies_not_about_this_refer() {
        let t0 = Instant::now();
        let (mut t, mut rx) = running(t0, 30);
        t.on_refer_response(t0, 202, Some(&response(202, "Accepted", 11)));
        // Another event package: acknowledged, the transfer untouched.
        assert_eq!(
            t.notify(t0, &notify("check-sync", "active", "")),
            (200, None)
        );
        // Another REFER's subscription (its id is that REFER's CSeq): not this transfer's.
        let other = notify("refer;id=12", "terminated", "SIP/2.0 200 OK");
        assert_eq!(t.notify(t0, &other), (200, None));
        // Malformed: no Event, no Subscription-State, no sipfrag.
        assert_eq!(
            t.notify(t0, &notify("", "active", "SIP/2.0 200 OK")),
            (400, None)
        );
        assert_eq!(
            t.notify(t0, &notify("refer", "", "SIP/2.0 200 OK")),
            (400, None)
        );
        assert_eq!(
            t.notify(t0, &notify("refer", "active", "hello")),
            (400, None)
        );
        assert!(t.busy());
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn a_refer_notify_in_a_call_that_never_referred_is_481() {
        let mut t = Transfers::default();
        let n = notify("refer", "active", "SIP/2.0 100 Trying");
        assert_eq!(t.notify(Instant::now(), &n), (481, None));
    }

    /// RFC 3515 §2.4.6: a NOTIFY without `id` is about the first REFER; once that transfer
    /// was given up, its late success must not complete a second transfer.
    #[test]
    fn a_late_notify_of_the_first_refer_does_not_complete_the_second() {
        let t0 = Instant::now();
        let (mut t, mut first) = running(t0, 10);
        t.on_refer_response(t0, 202, Some(&response(202, "Accepted", 5)));
        assert!(t.ring_expired(t0 + Duration::from_secs(10)).is_some());
        assert!(outcome(&mut first).is_err());
        let (tx, mut second) = oneshot::channel();
        t.begin(t0, "TR_2".into(), &req(30, false), 8, tx);
        // Before the second REFER's 202: its id is not yet known.
        let late = notify("refer", "terminated", "SIP/2.0 200 OK");
        assert_eq!(t.notify(t0, &late), (200, None));
        let late_with_id = notify("refer;id=5", "terminated", "SIP/2.0 200 OK");
        assert_eq!(t.notify(t0, &late_with_id), (200, None));
        assert!(t.busy() && second.try_recv().is_err());
        // A NOTIFY that overtakes the 202 with the new REFER's id is the second's.
        let ringing = notify("refer;id=6", "active", "SIP/2.0 180 Ringing");
        assert_eq!(t.notify(t0, &ringing), (200, None));
        t.on_refer_response(t0, 202, Some(&response(202, "Accepted", 6)));
        let answered = notify("refer;id=6", "terminated", "SIP/2.0 200 OK");
        let (_, ended) = t.notify(t0, &answered);
        assert_eq!(ended.map(|e| e.succeeded), Some(true));
        assert_eq!(
            outcome(&mut second).expect("second succeeded").transfer_id,
            "TR_2"
        );
    }

    #[test]
    fn the_call_ending_answers_the_waiter() {
        let t0 = Instant::now();
        let (mut t, mut rx) = running(t0, 30);
        t.call_ended(t0, true);
        let err = outcome(&mut rx).expect_err("aborted");
        assert_eq!(err.code, TwirpCode::Aborted);
        assert!(
            err.message.contains("may have reached the target"),
            "{err:?}"
        );
        assert!(!t.busy());
    }

    #[test]
    fn refer_to_is_bracketed_and_the_requests_headers_follow() {
        let mut r = req(30, false);
        r.transfer_to = "tel:+15550100".into();
        r.headers.insert("X-Transfer".into(), "1".into());
        assert_eq!(
            refer_headers(&r),
            vec![
                ("Refer-To".to_owned(), "<tel:+15550100>".to_owned()),
                ("X-Transfer".to_owned(), "1".to_owned()),
            ]
        );
    }
}
