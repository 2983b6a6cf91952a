//! What an established call does besides relaying media, the same for both directions:
//! transfers (`TransferSIPParticipant`, [`super::transfer`]) and the phone's new offers
//! (re-INVITE, UPDATE, [`super::reoffer`]). The call's task hands this its SIP events,
//! transfer requests and the transfer's ring timer; the rest stays the call's.

use std::time::Instant;

use sip_core::{CallHandle, Event, Method};
use tokio::sync::watch;

use super::Gateway;
use super::media::PumpWishes;
use super::registry::TransferRequest;
use super::reoffer::Renegotiation;
use super::transfer::{Ended, Transfers};

/// The established part of one call.
pub(super) struct InCall {
    call: CallHandle,
    transfer: Transfers,
    /// The SIP session, once answered.
    reneg: Option<Renegotiation>,
    /// What the call wants of its pump (a transfer's ringback, the phone's hold).
    pump: watch::Sender<PumpWishes>,
}

/// What became of a SIP event handed to [`InCall::on_event`].
pub(super) enum Handled {
    /// Taken care of.
    Done,
    /// A transfer succeeded: the call is to be left (BYE), end cause `transferred`.
    Transferred,
    /// Not this part's: the call's own.
    NotMine(Event),
}

impl InCall {
    /// The established part of `call`, whose pump takes `pump`'s wishes.
    pub fn new(call: CallHandle, pump: watch::Sender<PumpWishes>) -> Self {
        InCall {
            call,
            transfer: Transfers::default(),
            reneg: None,
            pump,
        }
    }

    /// The call was answered with `reneg` as its session.
    pub fn answered(&mut self, reneg: impl FnOnce(watch::Sender<PumpWishes>) -> Renegotiation) {
        self.reneg = Some(reneg(self.pump.clone()));
    }

    /// Handles the events of a transfer and of the phone's offers; gives back the others.
    pub async fn on_event(&mut self, gw: &Gateway, event: Event) -> Handled {
        let ended = match event {
            Event::Response {
                request,
                status,
                response,
                ..
            } if self.transfer.owns(request) => self.transfer.on_refer_response(
                now(),
                status,
                response.as_deref().map(|r| r.message()),
            ),
            // NOTIFY, INVITE and UPDATE are routed to calls (`Gateway::run_events`).
            Event::Request {
                request, message, ..
            } if message.method() == Method::Notify => {
                self.transfer
                    .on_notify(gw, request, message.message())
                    .await
            }
            Event::Request {
                request, message, ..
            } => {
                match &mut self.reneg {
                    Some(reneg) => reneg.on_request(gw, request, &message).await,
                    None => gw.answer_request(request, &message).await,
                }
                None
            }
            Event::ReinviteAcked { ack, .. } => {
                if let Some(reneg) = &mut self.reneg {
                    reneg.on_ack(&ack).await;
                }
                None
            }
            other => return Handled::NotMine(other),
        };
        match ended {
            Some(end) if self.settle(end) => Handled::Transferred,
            _ => Handled::Done,
        }
    }

    /// Starts a transfer (REFER), with ringback into the room if it asks for it.
    pub async fn transfer(&mut self, gw: &Gateway, request: TransferRequest) {
        if self.transfer.start(gw, self.call, request).await {
            self.pump.send_modify(|w| w.ringback = true);
        }
    }

    /// When the running transfer's target has rung for its `ringing_timeout`.
    pub fn ring_deadline(&self) -> Option<tokio::time::Instant> {
        self.transfer
            .ring_deadline()
            .map(tokio::time::Instant::from_std)
    }

    /// The transfer's ring timer fired.
    pub fn ring_expired(&mut self) {
        if let Some(end) = self.transfer.ring_expired(now()) {
            self.settle(end);
        }
    }

    /// The call ended (`phone_hung_up`: by the phone's BYE): a running transfer fails.
    pub fn ended(&mut self, phone_hung_up: bool) {
        self.transfer.call_ended(now(), phone_hung_up);
    }

    /// Acts on a transfer's end: stops the ringback it started; `true` when the call is to
    /// be left (the transfer succeeded).
    fn settle(&self, end: Ended) -> bool {
        if end.dialtone {
            self.pump.send_modify(|w| w.ringback = false);
        }
        end.succeeded
    }
}

/// The call tasks' clock (tokio's, so paused-time tests control it).
pub(super) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Sleeps until `deadline`, or forever without one (a `select!` branch armed only while a
/// timer runs).
pub(super) async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
