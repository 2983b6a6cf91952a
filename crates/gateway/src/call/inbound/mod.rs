//! Inbound calls: a phone or carrier calls in through a trunk and joins a room.
//!
//! The screening runs first and costs nothing but a few lookups, so floods and scanners are
//! refused cheaply, each with its own SIP answer and metrics reason:
//!
//! | step | refusal |
//! |---|---|
//! | per-source INVITE rate limit | 503 + `Retry-After` (`rate_limited`) |
//! | node capacity (`sip.max_calls`) | 503 + `Retry-After` (`over_capacity`) |
//! | trunk match (called number) | 404 (`no_trunk`), or no answer at all with `inbound.unknown_trunk = "drop"` |
//! | trunk ACL (source address, caller number) | 403 (`address_not_allowed`, …) |
//! | digest auth (trunk credentials) | 401/407 challenge; a wrong answer gets one fresh challenge, then 403 (`auth_failed`) |
//! | dispatch rule | 404 (`no_rule`) |
//! | SDP offer | 400 (`bad_sdp`), 488 (`no_common_codec`) |
//! | per-trunk cap (`inbound.max_calls_per_trunk`) | 503 + `Retry-After` (`trunk_at_capacity`) |
//!
//! Then the call owns itself (one task): 180 Ringing while the room leg joins (bounded by
//! the trunk's `ringing_timeout`), 200 OK with the SDP answer, media into the room. A rule
//! with a PIN answers first and collects the PIN by DTMF before joining. A caller's CANCEL
//! while ringing is answered 487 by `sip-core` and ends the attempt; BYE from either side,
//! API hangup and `max_call_duration` end the call.

mod guard;
mod pin;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use control::catalog::{Dispatch, InboundCall, RoomTarget, TrunkMatch};
use control::proto::livekit::SipInboundTrunkInfo;
use control::service::{CallDirection, CallEnd, CallInfo, CallState, EndCause};
use control::validate::MediaOptions;
use control::{SipStatus, TimeoutCause};
use rand_core::{RngCore as _, SeedableRng as _};
use room_link::offer_answer::{LocalEndpoint, NegotiatedMedia, SdpSession};
use room_link::{JoinRequest, MediaCapabilities, RoomSession};
use sip_core::{Algorithm, Body, CallHandle, DigestParams, DigestServer, EndReason, Event, Reply};
use sip_message::{NameAddr, Uri};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::Instrument as _;

use super::Gateway;
use super::in_call::{self, Handled, InCall};
use super::media::{self, PhoneMedia, PumpSetup, PumpWishes};
use super::metrics as m;
use super::registry::{CallCommand, Mailbox};
use super::reoffer::Renegotiation;
use crate::config::{AuthChallenge, InboundConfig, UnknownTrunk};
use crate::media::MediaPort;
pub use guard::{AuthFailures, AuthVerdict, SourceLimiter, TrunkCalls, TrunkSlot};
use pin::{PinCollector, PinLimits};

/// How long a digest nonce stays valid (RFC 7616 leaves it to the server; 5 min covers a
/// slow client without keeping replays usable for long).
const NONCE_LIFETIME: Duration = Duration::from_secs(300);
/// Call-IDs whose failed digest attempts are remembered (each for 64·T1, the lifetime of an
/// INVITE transaction, RFC 3261 §17.1.1.2, with T1 from `[sip] t1_ms`).
const AUTH_MEMORY_ENTRIES: usize = 65_536;
/// Sources tracked by the rate limiter before idle ones are pruned.
const LIMITER_SOURCES: usize = 65_536;
/// Default realm when a trunk names none.
const DEFAULT_REALM: &str = "sipbridge";

/// The node-wide inbound state: limiter, per-trunk counters, digest verifiers.
pub struct InboundGuards {
    limiter: SourceLimiter,
    trunk_calls: Arc<TrunkCalls>,
    auth_failures: AuthFailures,
    digest: Mutex<std::collections::HashMap<String, Arc<DigestServer>>>,
    digest_secret: [u8; 32],
    epoch: Instant,
}

impl InboundGuards {
    /// Guards for `cfg` with the transport's timer `t1`; `seed` keys the digest nonces (a
    /// fresh one per process).
    pub fn new(cfg: &InboundConfig, t1: Duration, seed: u64) -> Self {
        let mut digest_secret = [0u8; 32];
        rand_chacha::ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut digest_secret);
        Self {
            limiter: SourceLimiter::new(
                cfg.invites_per_source_per_s,
                cfg.invite_burst_per_source,
                LIMITER_SOURCES,
            ),
            trunk_calls: Arc::new(TrunkCalls::default()),
            auth_failures: AuthFailures::new(AUTH_MEMORY_ENTRIES, 64 * t1, 1),
            digest: Mutex::new(std::collections::HashMap::new()),
            digest_secret,
            epoch: Instant::now(),
        }
    }

    fn digest_for(&self, realm: &str) -> Option<Arc<DigestServer>> {
        let mut servers = self.digest.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = servers.get(realm) {
            return Some(s.clone());
        }
        let server = DigestServer::new(
            realm,
            &self.digest_secret,
            self.epoch,
            NONCE_LIFETIME,
            Algorithm::Md5,
        )
        .ok()?;
        let server = Arc::new(server);
        // Realms come from trunks (configuration), not from peers: the map stays small.
        servers.insert(realm.to_owned(), server.clone());
        Some(server)
    }
}

/// What screening decided.
enum Screened {
    /// Answer with this final response.
    Refuse(Reply, &'static str),
    /// Say nothing at all (unknown trunk with `drop`).
    Drop,
    /// Go on with the call.
    Accept(Box<Accepted>),
}

/// A call that passed screening.
struct Accepted {
    trunk: Arc<SipInboundTrunkInfo>,
    slot: TrunkSlot,
    call_id: control::CallId,
    caller: String,
    called: String,
    target: Option<RoomTarget>,
    pin_digits: usize,
    answer: bytes::Bytes,
    negotiated: NegotiatedMedia,
    /// The session the answer was written in (later answers continue its `o=` version).
    sdp: SdpSession,
    /// The RTP port in the answer (back to the pool when dropped unused).
    rtp: MediaPort,
}

impl Gateway {
    /// Takes an incoming INVITE that no call owns. Registers the call's event route at once
    /// (a CANCEL may follow immediately), then screens and runs it on its own task.
    pub(super) fn incoming(
        self: &Arc<Self>,
        call: CallHandle,
        request: Box<sip_core::Inbound>,
        source: SocketAddr,
    ) {
        let (tx, events) = mpsc::unbounded_channel();
        self.routes.insert(call, tx);
        let gw = self.clone();
        tokio::spawn(async move {
            let screened = gw.screen(call, &request, source).await;
            match screened {
                Screened::Refuse(reply, reason) => {
                    m::inbound_refused(reason);
                    tracing::info!(%source, status = reply.status, reason, "inbound call refused");
                    gw.routes.remove(call);
                    let _ = gw
                        .sip
                        .with(move |ep, now| ep.respond(now, call, reply))
                        .await;
                }
                Screened::Drop => {
                    m::inbound_refused("no_trunk");
                    tracing::debug!(%source, "inbound call dropped: no trunk");
                    gw.routes.remove(call);
                    let _ = gw.sip.with(move |ep, _now| ep.discard(call)).await;
                }
                Screened::Accept(accepted) => {
                    let span = tracing::info_span!(
                        "call",
                        call_id = %accepted.call_id,
                        direction = "inbound"
                    );
                    gw.run_inbound(call, *accepted, events)
                        .instrument(span)
                        .await;
                }
            }
        });
    }

    async fn screen(
        &self,
        call: CallHandle,
        request: &sip_core::Inbound,
        source: SocketAddr,
    ) -> Screened {
        let cfg = &self.config.inbound;
        let retry_after = cfg.retry_after_s.to_string();
        let busy = |reason| {
            Screened::Refuse(
                Reply::status(503).header("Retry-After", retry_after.clone()),
                reason,
            )
        };
        let ip = source.ip();
        if !self.inbound.limiter.allow(ip) {
            return busy("rate_limited");
        }
        let max_calls = self.config.sip.max_calls;
        if max_calls != 0 && self.registry.active() >= max_calls {
            return busy("over_capacity");
        }

        let called = request
            .request_uri()
            .and_then(uri_user)
            .or_else(|| name_addr_user(request.to()))
            .unwrap_or_default();
        let caller = name_addr_user(request.from()).unwrap_or_default();
        let call_id = self.new_call_id();
        let ic = InboundCall {
            call_id: &call_id.0,
            called: &called,
            caller: &caller,
            source: ip,
        };
        let trunk = match self.catalog.match_inbound(&ic) {
            TrunkMatch::Trunk(t) => t,
            TrunkMatch::NoTrunk => {
                return match cfg.unknown_trunk {
                    UnknownTrunk::Reject => Screened::Refuse(Reply::status(404), "no_trunk"),
                    UnknownTrunk::Drop => Screened::Drop,
                };
            }
            TrunkMatch::NotAllowed(refusal) => {
                return Screened::Refuse(Reply::status(403), refusal.reason);
            }
        };
        // RFC 3261 §17.2.1: a 100 stops the caller's INVITE retransmissions while we work.
        let _ = self
            .sip
            .with(move |ep, now| ep.respond(now, call, Reply::status(100)))
            .await;

        if !trunk.auth_username.is_empty()
            && let Some(refusal) = self.check_auth(&trunk, request)
        {
            return refusal;
        }

        let (target, pin_digits) = match self.catalog.dispatch(Some(&trunk), &ic, None) {
            Dispatch::Room(target) => (Some(*target), 0),
            Dispatch::NeedPin { digits_max } => (None, digits_max),
            Dispatch::WrongPin | Dispatch::NoRule => {
                return Screened::Refuse(Reply::status(404), "no_rule");
            }
        };

        let offer = request.body();
        if offer.is_empty() {
            // An INVITE without an offer would make our 200 the offer and the ACK carry the
            // answer (RFC 3264 §4); trunks send offers, so this gateway asks for one.
            return Screened::Refuse(
                Reply::status(488).header("Warning", "399 sipbridge \"SDP offer required\""),
                "no_offer",
            );
        }
        let Ok(rtp) = self.allocate_rtp() else {
            return busy("no_rtp_port");
        };
        let port = rtp.port();
        let media_cfg = self.media_config(&MediaOptions::default());
        let mut sdp = SdpSession::new(self.next_seed());
        let local = LocalEndpoint {
            address: self.config.rtp.address,
            rtp_port: port,
        };
        let (answer, negotiated) = match sdp.answer(&offer, &media_cfg, local) {
            Ok(a) => a,
            Err(room_link::Error::NotAcceptable { reason }) => {
                let warning = format!("304 sipbridge \"{reason}\"");
                return Screened::Refuse(
                    Reply::status(488).header("Warning", warning),
                    "no_common_codec",
                );
            }
            Err(_) => {
                return Screened::Refuse(Reply::status(400), "bad_sdp");
            }
        };
        let Some(slot) = self
            .inbound
            .trunk_calls
            .acquire(&trunk.sip_trunk_id, cfg.max_calls_per_trunk)
        else {
            return busy("trunk_at_capacity");
        };
        Screened::Accept(Box::new(Accepted {
            trunk,
            slot,
            call_id,
            caller,
            called,
            target,
            pin_digits,
            answer,
            negotiated,
            sdp,
            rtp,
        }))
    }

    /// Verifies the request's digest credentials against the trunk's (RFC 3261 §22.2 as a
    /// UAS with 401/WWW-Authenticate, §22.3 as a proxy with 407/Proxy-Authenticate); the
    /// refusal to send, or `None` when they are good.
    fn check_auth(
        &self,
        trunk: &SipInboundTrunkInfo,
        request: &sip_core::Inbound,
    ) -> Option<Screened> {
        let realm = if trunk.auth_realm.is_empty() {
            DEFAULT_REALM
        } else {
            &trunk.auth_realm
        };
        let Some(server) = self.inbound.digest_for(realm) else {
            return Some(Screened::Refuse(Reply::status(500), "auth_unavailable"));
        };
        let (status, challenge_header, credentials_header) =
            match self.config.inbound.auth_challenge {
                AuthChallenge::Www => (401, "WWW-Authenticate", "Authorization"),
                AuthChallenge::Proxy => (407, "Proxy-Authenticate", "Proxy-Authorization"),
            };
        let now = Instant::now();
        let challenge = |stale: bool| {
            Screened::Refuse(
                Reply::status(status).header(challenge_header, server.challenge(now, stale)),
                "auth_challenge",
            )
        };
        let Some(value) = request.header(credentials_header) else {
            return Some(challenge(false));
        };
        let verdict = match DigestParams::parse(value) {
            Some(params) if params.username.as_deref() == Some(trunk.auth_username.as_str()) => {
                server.verify(now, &params, "INVITE", &trunk.auth_password)
            }
            _ => Err(sip_core::Error::AuthWrongResponse),
        };
        match verdict {
            Ok(()) => {
                self.inbound.auth_failures.succeeded(request.call_id());
                None
            }
            Err(sip_core::Error::AuthStale) => Some(challenge(true)),
            Err(_) => match self.inbound.auth_failures.failed(request.call_id(), now) {
                AuthVerdict::Challenge => Some(challenge(false)),
                AuthVerdict::Forbid => Some(Screened::Refuse(Reply::status(403), "auth_failed")),
            },
        }
    }

    /// Runs an accepted call to its end.
    async fn run_inbound(
        self: Arc<Self>,
        call: CallHandle,
        accepted: Accepted,
        mut sip_events: mpsc::UnboundedReceiver<Event>,
    ) {
        let Accepted {
            trunk,
            slot,
            call_id,
            caller,
            called,
            mut target,
            pin_digits,
            answer,
            negotiated,
            sdp,
            rtp,
        } = accepted;
        let local = LocalEndpoint {
            address: self.config.rtp.address,
            rtp_port: rtp.port(),
        };
        let mut rtp = Some(rtp);
        // The phone's media endpoint once it runs (it stays reachable after the pump takes
        // the media), for re-offers.
        let mut phone_control = None;
        let mut phone: Option<PhoneMedia> = None;
        let created = Instant::now();
        let cfg = self.config.inbound.clone();
        let ringing_timeout = duration_or(trunk.ringing_timeout.as_ref(), cfg.ringing_timeout());
        let max_duration = duration_or(trunk.max_call_duration.as_ref(), cfg.max_call_duration());
        let info = CallInfo {
            call_id: call_id.clone(),
            participant_id: String::new(),
            participant_identity: target
                .as_ref()
                .map(|t| t.participant_identity.clone())
                .unwrap_or_default(),
            room_name: target
                .as_ref()
                .map(|t| t.room_name.clone())
                .unwrap_or_default(),
            state: CallState::Ringing,
            direction: CallDirection::Inbound,
            trunk_id: trunk.sip_trunk_id.clone(),
            from_number: caller.clone(),
            to_number: called.clone(),
            created_at: SystemTime::now(),
            answered_at: None,
            ended_at: None,
            end: None,
        };
        let (
            updater,
            Mailbox {
                mut commands,
                mut transfers,
            },
        ) = self.registry.insert(info, created);
        m::call_started("inbound");
        tracing::info!(trunk = %trunk.sip_trunk_id, pin = target.is_none(), "inbound call accepted");

        let answer_body = Body::sdp(answer);
        let mut answered_at: Option<Instant> = None;
        let mut local_end: Option<(EndCause, Option<TimeoutCause>)> = None;
        let mut session: Option<Arc<RoomSession>> = None;
        let mut pump: Option<tokio::task::JoinHandle<()>> = None;
        let (pump_tx, mut pump_events) = mpsc::channel(4);
        // What the call wants of its pump (a transfer's ringback, the phone's hold).
        let (wishes_tx, wishes_rx) = watch::channel(PumpWishes::default());
        let mut ended: Option<EndReason> = None;
        // A final non-2xx this side sent (a failed room join), for the call record.
        let mut sent_status: Option<u16> = None;

        // 1. A PIN rule: answer, prompt, collect, and find the rule the PIN opens.
        if target.is_none() {
            phone = self.answer_media(&mut rtp, &negotiated).await;
            phone_control = phone.as_ref().map(PhoneMedia::control);
            let body = answer_body.clone();
            let _ = self
                .sip
                .with(move |ep, now| ep.respond(now, call, Reply::with_body(200, body)))
                .await;
            answered_at = Some(Instant::now());
            updater.set_state(CallState::Active);
            let ic = InboundCall {
                call_id: &call_id.0,
                called: &called,
                caller: &caller,
                source: IpAddr::from([0, 0, 0, 0]),
            };
            let outcome = tokio::select! {
                r = self.collect_pin(phone.as_mut(), &negotiated, &trunk, &ic, pin_digits, &cfg) => Some(r),
                e = next_end(&self, &mut sip_events) => { ended = Some(e); None }
                Some(CallCommand::Hangup) = commands.recv() => {
                    local_end = Some((EndCause::ApiHangup, None));
                    None
                }
            };
            match outcome {
                Some(Some(t)) => {
                    updater.update(|i| {
                        i.participant_identity = t.participant_identity.clone();
                        i.room_name = t.room_name.clone();
                    });
                    target = Some(t);
                }
                Some(None) => {
                    tracing::info!("no valid PIN; hanging up");
                    m::inbound_refused("wrong_pin");
                    local_end = Some((EndCause::Rejected, None));
                }
                None => {}
            }
            if target.is_none() && ended.is_none() {
                hangup(&self, call).await;
            }
        }

        // 2. The room leg, while ringing (or, after a PIN, on the answered call).
        if let (Some(t), None) = (&target, ended) {
            let ringing = answered_at.is_none();
            if ringing {
                let _ = self
                    .sip
                    .with(move |ep, now| ep.respond(now, call, Reply::status(180)))
                    .await;
            }
            let ring_start = Instant::now();
            let join = JoinRequest {
                room: t.room_name.clone(),
                identity: t.participant_identity.clone(),
                name: t.participant_name.clone(),
                attributes: t
                    .attributes
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                media: MediaCapabilities {
                    codecs: vec![negotiated.codec],
                    telephone_event: negotiated.telephone_event,
                    ptime: negotiated.ptime,
                },
            };
            let rooms = self.rooms.clone();
            let join_deadline = Instant::now() + ringing_timeout;
            let (join_tx, join_rx) = oneshot::channel();
            tokio::spawn(async move {
                let joined = rooms.join(join, join_deadline).await;
                // The caller gave up (CANCEL, API hangup) while the room leg joined: leave
                // again, or the room would keep a participant nobody hears.
                if let Err(Ok(orphan)) = join_tx.send(joined) {
                    let _ = orphan.leave().await;
                }
            });
            let joined = tokio::select! {
                j = join_rx => Some(j),
                e = next_end(&self, &mut sip_events) => { ended = Some(e); None }
                Some(CallCommand::Hangup) = commands.recv() => {
                    local_end = Some((EndCause::ApiHangup, None));
                    hangup(&self, call).await;
                    None
                }
            };
            match joined {
                Some(Ok(Ok(s))) => {
                    let s = Arc::new(s);
                    if answered_at.is_none() {
                        phone = self.answer_media(&mut rtp, &negotiated).await;
                        phone_control = phone.as_ref().map(PhoneMedia::control);
                        let body = answer_body.clone();
                        let _ = self
                            .sip
                            .with(move |ep, now| ep.respond(now, call, Reply::with_body(200, body)))
                            .await;
                        answered_at = Some(Instant::now());
                        updater.set_state(CallState::Active);
                        m::answer_delay(created.elapsed());
                    }
                    if let Some(p) = phone.take() {
                        let (_cmd_tx, cmd_rx) = mpsc::channel(4);
                        pump = Some(tokio::spawn(media::run(
                            PumpSetup {
                                phone: p,
                                negotiated,
                                session: s.clone(),
                                seed: self.next_seed(),
                                room_stream: None,
                                ringback: self.config.rtp.ringback.spec(),
                                wishes: wishes_rx.clone(),
                            },
                            cmd_rx,
                            pump_tx.clone(),
                        )));
                    }
                    session = Some(s);
                }
                Some(failed) => {
                    let error = failed.unwrap_or(Err(room_link::Error::Closed)).err();
                    // The room not joining within the trunk's ringing_timeout is the inbound
                    // "no answer": 480 (RFC 3261 §21.4.18), cause ring_no_answer. Any other
                    // room-link failure keeps its own status (503 for the room server).
                    let (status, end, reason) = match &error {
                        Some(room_link::Error::Timeout { .. }) => (
                            480,
                            (EndCause::Timeout, Some(TimeoutCause::RingNoAnswer)),
                            "room_join_timeout",
                        ),
                        Some(e) => (e.sip_status(), (EndCause::Error, None), "room_join_failed"),
                        None => (503, (EndCause::Error, None), "room_join_failed"),
                    };
                    tracing::warn!(error = ?error, status, "room leg failed to join");
                    local_end = Some(end);
                    m::inbound_refused(reason);
                    if answered_at.is_some() {
                        hangup(&self, call).await;
                    } else {
                        sent_status = Some(status);
                        let _ = self
                            .sip
                            .with(move |ep, now| ep.respond(now, call, Reply::status(status)))
                            .await;
                    }
                }
                None => {}
            }
            // How long the caller heard ringing, by how it ended (the outbound calls'
            // metric: a slow room shows here, not only in failures).
            if ringing {
                let outcome = match (&local_end, answered_at, ended) {
                    (_, Some(_), _) => "answered",
                    (Some((_, Some(timeout))), ..) => timeout.as_str(),
                    (Some((cause, None)), ..) => cause.as_str(),
                    (None, None, _) => EndCause::RemoteHangup.as_str(),
                };
                let timeout = local_end.and_then(|(_, t)| t);
                m::ring_duration(outcome, timeout, ring_start.elapsed());
            }
        }

        // 3. The call, until either side ends it.
        let deadline = tokio::time::sleep(max_duration);
        tokio::pin!(deadline);
        let mut in_call = InCall::new(call, wishes_tx);
        if answered_at.is_some() {
            let cfg = self.media_config(&MediaOptions::default());
            in_call.answered(|pump| {
                Renegotiation::new(sdp, &cfg, local, negotiated, phone_control, pump)
            });
        }
        let reason = match ended {
            Some(reason) => reason,
            None => loop {
                let transfer_ring = in_call.ring_deadline();
                tokio::select! {
                    event = sip_events.recv() => {
                        // The SIP stack went away: treat it as the end of the call.
                        let Some(event) = event else {
                            break EndReason::Timeout(sip_core::TimeoutCause::AckTimeout);
                        };
                        match in_call.on_event(&self, event).await {
                            Handled::NotMine(Event::Ended { reason, .. }) => break reason,
                            Handled::Transferred => {
                                local_end.get_or_insert((EndCause::Transferred, None));
                                hangup(&self, call).await;
                            }
                            Handled::Done | Handled::NotMine(_) => {}
                        }
                    }
                    Some(request) = transfers.recv(), if answered_at.is_some() && local_end.is_none() => {
                        in_call.transfer(&self, request).await;
                    }
                    () = in_call::sleep_until(transfer_ring), if transfer_ring.is_some() => in_call.ring_expired(),
                    Some(CallCommand::Hangup) = commands.recv() => {
                        local_end.get_or_insert((EndCause::ApiHangup, None));
                        hangup(&self, call).await;
                    }
                    Some(event) = pump_events.recv() => {
                        tracing::info!(?event, "room side ended");
                        local_end.get_or_insert((event.end_cause(), event.timeout_cause()));
                        hangup(&self, call).await;
                    }
                    () = &mut deadline, if answered_at.is_some() => {
                        tracing::info!("max_call_duration reached");
                        local_end.get_or_insert((EndCause::Timeout, Some(TimeoutCause::MaxDuration)));
                        hangup(&self, call).await;
                    }
                }
            },
        };

        // 4. Teardown: media, room leg, port, trunk slot, record.
        self.routes.remove(call);
        in_call.ended(local_end.is_none() && reason == EndReason::RemoteBye);
        if let Some(p) = pump.take() {
            p.abort();
            let _ = p.await;
        }
        drop(phone);
        drop(rtp);
        if let Some(s) = session.take() {
            if let Ok(s) = Arc::try_unwrap(s) {
                let _ = s.leave().await;
            }
        }
        drop(slot);
        let (cause, sip_status, timeout) = match (local_end, reason) {
            (Some((cause, timeout)), _) => {
                finish(&updater, cause, sent_status, timeout, created, answered_at);
                return;
            }
            (None, EndReason::RemoteBye) => (EndCause::RemoteHangup, None, None),
            (None, EndReason::RemoteCancel) => {
                m::inbound_refused("caller_cancel");
                (EndCause::RemoteHangup, Some(487), None)
            }
            // An in-dialog request (a transfer's REFER) went unanswered (§12.2.1.2).
            (None, EndReason::Timeout(sip_core::TimeoutCause::SipTimerF)) => {
                (EndCause::Timeout, Some(408), Some(TimeoutCause::SipTimerF))
            }
            (None, _) => (EndCause::Error, None, None),
        };
        finish(&updater, cause, sip_status, timeout, created, answered_at);
    }

    /// The phone's media from the answer on (the port moves into the engine). `None` when
    /// the engine refuses it: the call goes on without media toward the phone, and a PIN
    /// cannot be collected.
    async fn answer_media(
        &self,
        rtp: &mut Option<MediaPort>,
        negotiated: &NegotiatedMedia,
    ) -> Option<PhoneMedia> {
        let port = rtp.take()?;
        match self.start_phone_media(port, negotiated, false).await {
            Ok(p) => Some(p),
            Err(err) => {
                tracing::warn!(%err, "cannot start the phone's media");
                None
            }
        }
    }

    /// Prompts for a PIN up to `cfg.pin_tries` times; the target of the rule it opens.
    async fn collect_pin(
        &self,
        phone: Option<&mut PhoneMedia>,
        negotiated: &NegotiatedMedia,
        trunk: &SipInboundTrunkInfo,
        ic: &InboundCall<'_>,
        digits_max: usize,
        cfg: &InboundConfig,
    ) -> Option<RoomTarget> {
        let mut collector = PinCollector::new(phone?, negotiated, self.next_seed()).ok()?;
        let limits = PinLimits {
            max_digits: digits_max.min(cfg.pin_max_digits),
            first_digit: Duration::from_secs(cfg.pin_first_digit_s),
            between_digits: Duration::from_secs(cfg.pin_between_digits_s),
        };
        for _ in 0..cfg.pin_tries {
            let pin = collector.collect(limits).await.ok()?;
            match self.catalog.dispatch(Some(trunk), ic, Some(&pin)) {
                Dispatch::Room(target) => return Some(*target),
                Dispatch::WrongPin | Dispatch::NeedPin { .. } => {
                    tracing::info!("wrong PIN");
                    collector.play_error().await.ok()?;
                }
                Dispatch::NoRule => return None,
            }
        }
        None
    }
}

/// Waits for the call's `Ended` event (other events of an inbound call need no action
/// here: the ACK is absorbed by `sip-core`).
async fn next_end(gw: &Gateway, events: &mut mpsc::UnboundedReceiver<Event>) -> EndReason {
    while let Some(event) = events.recv().await {
        match event {
            Event::Ended { reason, .. } => return reason,
            // A NOTIFY routed to the call before a transfer can exist. Answered from a
            // task of its own: this future may be dropped by the `select!` it runs in.
            Event::Request {
                request, message, ..
            } => {
                let gw = gw.arc();
                tokio::spawn(async move { gw.answer_request(request, &message).await });
            }
            _ => {}
        }
    }
    // The SIP stack went away: treat it as the end of the call.
    EndReason::Timeout(sip_core::TimeoutCause::AckTimeout)
}

async fn hangup(gw: &Gateway, call: CallHandle) {
    // An error means the call already ended; its Ended event is on the way.
    let _ = gw.sip.with(move |ep, now| ep.hangup(now, call)).await;
}

fn finish(
    updater: &super::registry::CallUpdater,
    cause: EndCause,
    sip_code: Option<u16>,
    timeout: Option<TimeoutCause>,
    created: Instant,
    answered_at: Option<Instant>,
) {
    if let Some(at) = answered_at {
        m::call_duration(at.elapsed());
    }
    tracing::info!(
        cause = cause.as_str(),
        sip_status = sip_code,
        lifetime_ms = created.elapsed().as_millis() as u64,
        "call ended"
    );
    m::call_ended("inbound", cause, sip_code, timeout);
    m::call_inactive("inbound");
    updater.end(
        CallEnd {
            cause,
            sip_status: sip_code.map(|code| SipStatus {
                code,
                reason: sip_core::reason_phrase(code).to_owned(),
            }),
            timeout_cause: timeout,
        },
        Instant::now(),
    );
}

/// A protobuf duration, or `default` when absent or zero.
fn duration_or(d: Option<&pbjson_types::Duration>, default: Duration) -> Duration {
    match d {
        Some(d) if d.seconds > 0 || d.nanos > 0 => Duration::new(
            u64::try_from(d.seconds).unwrap_or(0),
            u32::try_from(d.nanos).unwrap_or(0),
        ),
        _ => default,
    }
}

/// The user part of a SIP URI, or the number of a `tel:` URI.
fn uri_user(uri: &str) -> Option<String> {
    match Uri::parse(uri).ok()? {
        Uri::Sip(sip) => sip.user_unescaped().map(|u| u.into_owned()),
        Uri::Tel(tel) => Some(tel.number.to_owned()),
        Uri::Other { .. } => None,
    }
}

/// The user part of a name-addr header value (From, To).
fn name_addr_user(value: &str) -> Option<String> {
    let addr = NameAddr::parse(value).ok()?;
    match addr.uri {
        Uri::Sip(sip) => sip.user_unescaped().map(|u| u.into_owned()),
        Uri::Tel(tel) => Some(tel.number.to_owned()),
        Uri::Other { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_of_uris_and_name_addrs() {
        assert_eq!(
            uri_user("sip:+15551234567@10.0.0.1:5060;user=phone").as_deref(),
            Some("+15551234567")
        );
        assert_eq!(uri_user("sip:%2B1555@host").as_deref(), Some("+1555"));
        assert_eq!(
            uri_user("tel:+1-212-555-0101").as_deref(),
            Some("+1-212-555-0101")
        );
        assert_eq!(uri_user("sip:host.example"), None);
        assert_eq!(
            name_addr_user("\"Alice\" <sip:alice@example.com>;tag=1").as_deref(),
            Some("alice")
        );
        assert_eq!(
            name_addr_user("sip:bob@example.com;tag=2").as_deref(),
            Some("bob")
        );
        assert_eq!(name_addr_user("<mailto:x@y>"), None);
    }

    #[test]
    fn durations_default_when_absent_or_zero() {
        let d = Duration::from_secs(30);
        assert_eq!(duration_or(None, d), d);
        let zero = pbjson_types::Duration {
            seconds: 0,
            nanos: 0,
        };
        assert_eq!(duration_or(Some(&zero), d), d);
        let five = pbjson_types::Duration {
            seconds: 5,
            nanos: 0,
        };
        assert_eq!(duration_or(Some(&five), d), Duration::from_secs(5));
    }
}
