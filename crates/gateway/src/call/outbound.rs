//! One outbound call (`CreateSIPParticipant`), from media allocation to cleanup.
//!
//! The call runs in its own task and owns its timers: the ringing timer lives in the SIP
//! dialog (`sip-core`), `max_call_duration` here. The API waiter only observes the call's
//! record; if the waiter goes away the call goes on (DESIGN.md §3). Nothing here retries an
//! INVITE (DESIGN.md §5).

use std::sync::Arc;
use std::time::{Duration, Instant};

use control::service::{CallEnd, CallState, EndCause};
use control::{CallError, Deadline, SipStatus, TimeoutCause, TwirpCode};
use room_link::offer_answer::{LocalEndpoint, NegotiatedMedia, SdpSession, process_answer};
use room_link::{JoinRequest, MediaCapabilities, RoomSession};
use rtp_relay::relay::Rewriter;
use sip_core::{Body, EndReason, Event, InviteOptions};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::Instrument as _;

use super::in_call::{self, Handled, InCall};
use super::media::{self, PhoneControl, PhoneMedia, PumpCommand, PumpEvent, PumpSetup, PumpWishes};
use super::metrics as m;
use super::registry::{CallCommand, CallUpdater, Mailbox};
use super::reoffer::Renegotiation;
use super::ringback::Ringback;
use super::{Gateway, ResolvedTrunk};
use crate::media::MediaPort;

/// What the API waiter learns from the call.
#[derive(Debug)]
pub enum Progress {
    /// The INVITE left and the room leg joined (async creates return here).
    Dialing,
    /// The callee answered (sync creates return here).
    Answered,
    /// The call failed before it was answered.
    Failed(CallError),
}

/// The inputs of one outbound call.
pub struct OutboundCall {
    /// The gateway.
    pub gw: Arc<Gateway>,
    /// The record writer.
    pub updater: CallUpdater,
    /// API commands and transfers.
    pub mailbox: Mailbox,
    /// The trunk.
    pub trunk: ResolvedTrunk,
    /// The validated request.
    pub req: control::CreateCall,
    /// The request's deadline: bounds setup (media, room join).
    pub deadline: Deadline,
    /// Progress for the API waiter (`Dialing` first, then `Answered`/`Failed`).
    pub progress: mpsc::Sender<Progress>,
}

/// Everything a call holds while it lives, released in one place.
struct Resources {
    session: Option<Arc<RoomSession>>,
    pump: Option<tokio::task::JoinHandle<()>>,
}

impl OutboundCall {
    /// Runs the call to its end, in the call's tracing span (instrumented, not entered: a
    /// guard held across `.await` would leak the span into other tasks).
    pub async fn run(self) {
        let call_id = self.updater.snapshot().call_id.clone();
        let span = tracing::info_span!("call", call_id = %call_id, direction = "outbound");
        self.run_in_span().instrument(span).await;
    }

    async fn run_in_span(self) {
        let OutboundCall {
            gw,
            updater,
            mailbox:
                Mailbox {
                    mut commands,
                    mut transfers,
                },
            trunk,
            req,
            deadline,
            progress,
        } = self;
        let created = Instant::now();
        let mut res = Resources {
            session: None,
            pump: None,
        };

        // A failure before the INVITE left: report, end the record (the RTP port goes back
        // to the pool when dropped).
        let setup_failed = |error: CallError| {
            finish(
                &updater,
                &progress,
                EndCause::Error,
                None,
                None,
                Some(error),
                created,
                false,
            );
        };

        // 1. Media for the SIP leg.
        let rtp = match gw.allocate_rtp() {
            Ok(rtp) => rtp,
            Err(err) => {
                tracing::warn!(%err, "no RTP port");
                let error = CallError::new(TwirpCode::ResourceExhausted, "no RTP port available");
                setup_failed(error);
                return;
            }
        };
        let port = rtp.port();
        let media_cfg = gw.media_config(&req.media);
        let mut sdp = SdpSession::new(gw.next_seed());
        let offer = match sdp.offer(
            &media_cfg,
            LocalEndpoint {
                address: gw.config.rtp.address,
                rtp_port: port,
            },
        ) {
            Ok(o) => o,
            Err(err) => {
                let error = CallError::new(
                    TwirpCode::Internal,
                    format!("cannot build SDP offer: {err}"),
                );
                setup_failed(error);
                return;
            }
        };

        // 2. The INVITE; the ringing timer starts as it leaves (sip-core arms it).
        let opts = InviteOptions {
            transport: trunk.transport,
            destination: trunk.destination,
            request_uri: trunk.request_uri.clone(),
            from: trunk.from.clone(),
            to: trunk.to.clone(),
            contact: None,
            route: Vec::new(),
            headers: trunk.headers.clone(),
            body: Some(Body::sdp(offer)),
            ringing_timeout: req.ringing_timeout,
            credentials: trunk.credentials.clone(),
            call_id: None,
        };
        let (sip_tx, mut sip_events) = mpsc::unbounded_channel();
        let routes = gw.routes.clone();
        let invited = gw
            .sip
            .with(move |ep, now| {
                let handle = ep.invite(now, opts)?;
                // Registered before any response can be processed: events of this call are
                // routed to it from the first one on.
                routes.insert(handle, sip_tx);
                Ok::<_, sip_core::Error>(handle)
            })
            .await;
        let sip_call = match invited {
            Ok(Ok(h)) => h,
            Ok(Err(err)) => {
                let error =
                    CallError::new(TwirpCode::InvalidArgument, format!("cannot dial: {err}"));
                setup_failed(error);
                return;
            }
            Err(err) => {
                let error = CallError::new(TwirpCode::Unavailable, format!("SIP stack: {err}"));
                setup_failed(error);
                return;
            }
        };
        let invite_sent = Instant::now();
        m::call_started("outbound");
        tracing::info!(to = %trunk.request_uri, ringing_timeout_ms = req.ringing_timeout.as_millis() as u64, "INVITE sent");

        // 3. The room leg joins in parallel with the ringing (never before the INVITE).
        let join = JoinRequest {
            room: req.room_name.clone(),
            identity: req.participant_identity.clone(),
            name: req.participant_name.clone(),
            attributes: req
                .participant_attributes
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            media: MediaCapabilities {
                codecs: media_cfg.codecs.clone(),
                telephone_event: media_cfg.telephone_event,
                ptime: media_cfg.ptime.unwrap_or(Duration::from_millis(20)),
            },
        };
        let rooms = gw.rooms.clone();
        let join_deadline = deadline.instant();
        let (join_tx, mut join_rx) = oneshot::channel();
        tokio::spawn(async move {
            let _ = join_tx.send(rooms.join(join, join_deadline).await);
        });

        let mut room_joined = false;
        let mut dialing_reported = false;
        let mut answered_at: Option<Instant> = None;
        let mut first_provisional: Option<Instant> = None;
        let (pump_tx, mut pump_events) = mpsc::channel(4);
        let (pump_cmd_tx, pump_cmd_rx) = mpsc::channel(4);
        let mut pump_cmd_rx = Some(pump_cmd_rx);
        // What the call wants of its pump (a transfer's ringback, the phone's hold).
        let (wishes_tx, wishes_rx) = watch::channel(PumpWishes::default());
        let mut rtp = Some(rtp);
        let mut phone: Option<PhoneMedia> = None;
        let mut negotiated = None;
        // Armed on answer (reset below); disabled until then by the select guard.
        let max_duration = tokio::time::sleep(req.max_call_duration);
        tokio::pin!(max_duration);
        let mut local_end: Option<(EndCause, Option<TimeoutCause>)> = None;
        // `play_dialtone`: the room hears ringback from the room join until the answer.
        let mut ringback: Option<Ringback> = None;
        // The stream toward the room as the ringback left it, for the phone's audio.
        let mut room_stream: Option<Rewriter> = None;
        // Set when the phone's media started from a provisional response (early media).
        let mut early_media: Option<PhoneControl> = None;
        let mut in_call = InCall::new(sip_call, wishes_tx);
        // The phone's media endpoint, once it runs.
        let mut phone_control: Option<PhoneControl> = None;

        let (cause, sip_status, timeout) = loop {
            let transfer_ring = in_call.ring_deadline();
            tokio::select! {
                joined = &mut join_rx, if !room_joined => {
                    room_joined = true;
                    match joined {
                        Ok(Ok(session)) => {
                            let session = Arc::new(session);
                            // Not once the phone's media runs (answered, or early media).
                            if req.play_dialtone && negotiated.is_none() {
                                ringback = Some(Ringback::start(&session, gw.next_seed(), gw.config.rtp.ringback.spec()));
                            }
                            res.session = Some(session);
                            if !dialing_reported {
                                dialing_reported = true;
                                let _ = progress.try_send(Progress::Dialing);
                            }
                            maybe_start_pump(&gw, &mut res, &mut phone, &negotiated, &mut room_stream, &pump_tx, (&mut pump_cmd_rx, &wishes_rx));
                        }
                        _ => {
                            tracing::warn!("room leg failed to join");
                            local_end = Some((EndCause::Error, None));
                            hangup_sip(&gw, sip_call).await;
                        }
                    }
                }
                event = sip_events.recv() => {
                    let Some(event) = event else { break (EndCause::Error, None, None) };
                    let event = match in_call.on_event(&gw, event).await {
                        Handled::Done => continue,
                        Handled::Transferred => {
                            local_end.get_or_insert((EndCause::Transferred, None));
                            hangup_sip(&gw, sip_call).await;
                            continue;
                        }
                        Handled::NotMine(event) => event,
                    };
                    match event {
                        Event::Progress { status, response, .. } if status > 100 => {
                            if first_provisional.is_none() {
                                first_provisional = Some(Instant::now());
                                m::post_dial_delay(invite_sent.elapsed());
                            }
                            updater.set_state(CallState::Ringing);
                            // Early media (RFC 3960 §3.1, the gateway model): a provisional
                            // response with an SDP answer starts the phone's media before the
                            // answer, so the room hears the network's ringback or
                            // announcements. The media timeouts stay off until the answer.
                            if negotiated.is_some() || !response.has_sdp() {
                                continue;
                            }
                            let neg = match process_answer(&media_cfg, &response.body()) {
                                Ok(neg) => neg,
                                Err(err) => {
                                    tracing::info!(%err, status, "provisional SDP unusable: no early media");
                                    continue;
                                }
                            };
                            let Some(port) = rtp.take() else { continue };
                            let Some(p) = phone_media_or_hang_up(&gw, sip_call, port, &neg, true, &mut local_end).await else { continue };
                            tracing::info!(status, "early media");
                            early_media = Some(p.control());
                            phone = Some(p);
                            negotiated = Some(neg);
                            if let Some(tone) = ringback.take() {
                                room_stream = Some(tone.stop().await);
                            }
                            maybe_start_pump(&gw, &mut res, &mut phone, &negotiated, &mut room_stream, &pump_tx, (&mut pump_cmd_rx, &wishes_rx));
                        }
                        Event::Answered { response, .. } => {
                            answered_at = Some(Instant::now());
                            m::ring_duration("answered", None, invite_sent.elapsed());
                            m::answer_delay(invite_sent.elapsed());
                            match (process_answer(&media_cfg, &response.body()), &early_media, &negotiated) {
                                (Ok(neg), Some(control), Some(early)) => {
                                    // Without reliable provisionals (RFC 3262) the 2xx repeats
                                    // the early answer; a new address is followed, a new codec
                                    // would need a new pump and is not taken.
                                    if neg.codec != early.codec {
                                        tracing::warn!(early = ?early.codec, answer = ?neg.codec, "the answer changed the early media's codec; keeping the early one");
                                    } else if (neg.remote_rtp, neg.remote_rtcp) != (early.remote_rtp, early.remote_rtcp) {
                                        if let Err(err) = control.set_remote(&neg).await {
                                            tracing::warn!(%err, "cannot move the phone's media to the answer's address");
                                        }
                                    }
                                }
                                (Ok(neg), _, _) => negotiated = Some(neg),
                                // The early answer stands when the 2xx carries none.
                                (Err(_), Some(_), _) if !response.has_sdp() => {}
                                (Err(err), _, _) => {
                                    tracing::warn!(%err, "unusable SDP answer; hanging up");
                                    local_end = Some((EndCause::Error, None));
                                    hangup_sip(&gw, sip_call).await;
                                    continue;
                                }
                            }
                            updater.set_state(CallState::Active);
                            tracing::info!(after_ms = invite_sent.elapsed().as_millis() as u64, "answered");
                            max_duration.as_mut().reset(tokio::time::Instant::now() + req.max_call_duration);
                            if room_joined && !dialing_reported {
                                dialing_reported = true;
                                let _ = progress.try_send(Progress::Dialing);
                            }
                            // The waiter hears of the answer first; the media starts right
                            // after (a round trip to a media worker).
                            let _ = progress.try_send(Progress::Answered);
                            if let Some(tone) = ringback.take() {
                                room_stream = Some(tone.stop().await);
                            }
                            if let Some(control) = &early_media {
                                if let Err(err) = control.answered().await {
                                    tracing::warn!(%err, "cannot arm the media timeouts");
                                }
                            } else if let (Some(port), Some(neg)) = (rtp.take(), &negotiated) {
                                let Some(p) = phone_media_or_hang_up(&gw, sip_call, port, neg, false, &mut local_end).await else { continue };
                                phone_control = Some(p.control());
                                phone = Some(p);
                            }
                            if let Some(neg) = negotiated {
                                let local = LocalEndpoint { address: gw.config.rtp.address, rtp_port: port };
                                let control = early_media.clone().or_else(|| phone_control.clone());
                                in_call.answered(|pump| Renegotiation::new(sdp.clone(), &media_cfg, local, neg, control, pump));
                            }
                            maybe_start_pump(&gw, &mut res, &mut phone, &negotiated, &mut room_stream, &pump_tx, (&mut pump_cmd_rx, &wishes_rx));
                            if !req.dtmf.is_empty() {
                                let _ = pump_cmd_tx.try_send(PumpCommand::SendDigits(req.dtmf.clone()));
                            }
                        }
                        Event::RingTimeout { .. } => {
                            // The dialog's ringing timer fired: tell the waiter now; the
                            // CANCEL handshake finishes in the background (a racing 2xx is
                            // ACKed and BYEd by sip-core).
                            tracing::info!(rang_ms = invite_sent.elapsed().as_millis() as u64, "ring no answer; cancelling");
                            let error = failure(
                                EndCause::Timeout,
                                Some(&SipStatus { code: 408, reason: sip_core::reason_phrase(408).to_owned() }),
                                Some(TimeoutCause::RingNoAnswer),
                            );
                            let _ = progress.try_send(Progress::Failed(error));
                        }
                        Event::Ended { reason, .. } => {
                            break map_end(reason, local_end, answered_at.is_some());
                        }
                        _ => {}
                    }
                }
                Some(command) = commands.recv() => match command {
                    CallCommand::Hangup => {
                        local_end.get_or_insert((EndCause::ApiHangup, None));
                        hangup_sip(&gw, sip_call).await;
                    }
                },
                Some(request) = transfers.recv(), if answered_at.is_some() && local_end.is_none() => {
                    in_call.transfer(&gw, request).await;
                }
                () = in_call::sleep_until(transfer_ring), if transfer_ring.is_some() => in_call.ring_expired(),
                Some(event) = pump_events.recv() => {
                    tracing::info!(?event, "room side ended");
                    local_end.get_or_insert((event.end_cause(), event.timeout_cause()));
                    hangup_sip(&gw, sip_call).await;
                }
                () = &mut max_duration, if answered_at.is_some() => {
                    tracing::info!("max_call_duration reached");
                    local_end.get_or_insert((EndCause::Timeout, Some(TimeoutCause::MaxDuration)));
                    hangup_sip(&gw, sip_call).await;
                }
            }
        };
        gw.routes.remove(sip_call);
        in_call.ended(cause == EndCause::RemoteHangup);
        if answered_at.is_none() {
            let outcome = match timeout {
                Some(c) => c.as_str(),
                None => cause.as_str(),
            };
            m::ring_duration(outcome, timeout, invite_sent.elapsed());
        }
        if let Some(at) = answered_at {
            m::call_duration(at.elapsed());
        }
        // Teardown: media first, then the room leg (awaited, bounded by the link itself).
        drop(ringback);
        if let Some(pump) = res.pump.take() {
            pump.abort();
            let _ = pump.await;
        }
        drop(phone);
        drop(rtp);
        if let Some(session) = res.session.take() {
            if let Ok(session) = Arc::try_unwrap(session) {
                let _ = session.leave().await;
            }
        } else if !room_joined {
            // The join is still running: let it finish and leave in the background.
            tokio::spawn(async move {
                if let Ok(Ok(session)) = join_rx.await {
                    let _ = session.leave().await;
                }
            });
        }
        let error = if answered_at.is_none() {
            Some(failure(cause, sip_status.as_ref(), timeout))
        } else {
            None
        };
        finish(
            &updater, &progress, cause, sip_status, timeout, error, created, true,
        );
    }
}

fn maybe_start_pump(
    gw: &Arc<Gateway>,
    res: &mut Resources,
    phone: &mut Option<PhoneMedia>,
    negotiated: &Option<NegotiatedMedia>,
    room_stream: &mut Option<Rewriter>,
    events: &mpsc::Sender<PumpEvent>,
    (commands, wishes): (
        &mut Option<mpsc::Receiver<PumpCommand>>,
        &watch::Receiver<PumpWishes>,
    ),
) {
    let (Some(session), Some(neg)) = (&res.session, negotiated) else {
        return;
    };
    if phone.is_none() || commands.is_none() {
        return;
    }
    let (Some(phone), Some(commands)) = (phone.take(), commands.take()) else {
        return;
    };
    let setup = PumpSetup {
        phone,
        negotiated: *neg,
        session: session.clone(),
        seed: gw.next_seed(),
        room_stream: room_stream.take(),
        ringback: gw.config.rtp.ringback.spec(),
        wishes: wishes.clone(),
    };
    res.pump = Some(tokio::spawn(media::run(setup, commands, events.clone())));
}

/// The phone's media on the call's RTP port for `neg` (`ringing`: early media, the media
/// timeouts off until the answer). When the engine refuses it the call is hung up with
/// cause `error`.
async fn phone_media_or_hang_up(
    gw: &Gateway,
    call: sip_core::CallHandle,
    port: MediaPort,
    neg: &NegotiatedMedia,
    ringing: bool,
    local_end: &mut Option<(EndCause, Option<TimeoutCause>)>,
) -> Option<PhoneMedia> {
    match gw.start_phone_media(port, neg, ringing).await {
        Ok(p) => Some(p),
        Err(err) => {
            tracing::warn!(%err, "cannot start the phone's media; hanging up");
            *local_end = Some((EndCause::Error, None));
            hangup_sip(gw, call).await;
            None
        }
    }
}

async fn hangup_sip(gw: &Gateway, call: sip_core::CallHandle) {
    // An error means the call is already over; its Ended event is on the way.
    let _ = gw.sip.with(move |ep, now| ep.hangup(now, call)).await;
}

/// Maps how the SIP side ended to (cause, SIP status, timeout cause). A local decision
/// (API hangup, room gone, max duration) takes precedence over the BYE/CANCEL it caused.
fn map_end(
    reason: EndReason,
    local: Option<(EndCause, Option<TimeoutCause>)>,
    answered: bool,
) -> (EndCause, Option<SipStatus>, Option<TimeoutCause>) {
    let status = |code: u16| {
        Some(SipStatus {
            code,
            reason: sip_core::reason_phrase(code).to_owned(),
        })
    };
    match reason {
        EndReason::Timeout(sip_core::TimeoutCause::RingNoAnswer) => (
            EndCause::Timeout,
            status(408),
            Some(TimeoutCause::RingNoAnswer),
        ),
        EndReason::Timeout(sip_core::TimeoutCause::SipTimerB) => (
            EndCause::Timeout,
            status(408),
            Some(TimeoutCause::SipTimerB),
        ),
        EndReason::Timeout(sip_core::TimeoutCause::SipTimerF) if answered => (
            EndCause::Timeout,
            status(408),
            Some(TimeoutCause::SipTimerF),
        ),
        EndReason::Timeout(_) if !answered => (
            EndCause::Timeout,
            status(408),
            Some(TimeoutCause::SipTimerB),
        ),
        _ if local.is_some() => {
            let (cause, timeout) = local.unwrap_or((EndCause::Error, None));
            (cause, None, timeout)
        }
        EndReason::Rejected { status: code } => (EndCause::Rejected, status(code), None),
        EndReason::AuthFailed { status: code } => (EndCause::Rejected, status(code), None),
        EndReason::RemoteBye => (EndCause::RemoteHangup, None, None),
        EndReason::LocalBye | EndReason::LocalCancel => (EndCause::ApiHangup, None, None),
        EndReason::Timeout(_) => (EndCause::Error, None, None),
        EndReason::RemoteCancel | EndReason::LocalReject { .. } => (EndCause::Error, None, None),
    }
}

/// The API error for a call that ended before it was answered.
fn failure(cause: EndCause, sip: Option<&SipStatus>, timeout: Option<TimeoutCause>) -> CallError {
    match (timeout, sip) {
        (Some(TimeoutCause::RingNoAnswer), Some(s)) => CallError::timeout(
            TimeoutCause::RingNoAnswer,
            "the callee did not answer within ringing_timeout",
        )
        .with_sip_status(s.clone()),
        (Some(t), Some(s)) => CallError::timeout(t, format!("call timed out ({})", t.as_str()))
            .with_sip_status(s.clone()),
        (Some(t), None) => CallError::timeout(t, format!("call timed out ({})", t.as_str())),
        (None, Some(s)) => CallError::sip(s.clone()),
        (None, None) => match cause {
            EndCause::ApiHangup => {
                CallError::new(TwirpCode::Canceled, "call hung up before answer")
            }
            EndCause::RoomHangup => CallError::new(TwirpCode::Aborted, "room left before answer"),
            _ => CallError::new(TwirpCode::Unavailable, "call failed before answer"),
        },
    }
}

#[allow(clippy::too_many_arguments)]
fn finish(
    updater: &CallUpdater,
    progress: &mpsc::Sender<Progress>,
    cause: EndCause,
    sip_status: Option<SipStatus>,
    timeout: Option<TimeoutCause>,
    error: Option<CallError>,
    created: Instant,
    started: bool,
) {
    let code = sip_status.as_ref().map(|s| s.code);
    tracing::info!(
        cause = cause.as_str(),
        sip_status = code,
        timeout_cause = timeout.map(TimeoutCause::as_str),
        lifetime_ms = created.elapsed().as_millis() as u64,
        "call ended"
    );
    m::call_ended("outbound", cause, code, timeout);
    if started {
        m::call_inactive("outbound");
    }
    updater.end(
        CallEnd {
            cause,
            sip_status,
            timeout_cause: timeout,
        },
        Instant::now(),
    );
    if let Some(error) = error {
        let _ = progress.try_send(Progress::Failed(error));
    }
}
