//! The B2BUA: calls between SIP trunks and rooms, and the [`control::CallService`] the API
//! drives.

mod in_call;
pub mod inbound;
mod media;
pub mod metrics;
mod outbound;
pub mod registry;
mod reoffer;
mod ringback;
mod transfer;

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use control::service::{CallDirection, CallFilter, CallState, TransferOutcome};
use control::validate::{MediaOptions, SipDest, Transport as ApiTransport, TrunkRef};
use control::{
    CallError, CallId, CallInfo, CallService, Catalog, CreateCall, Deadline, TimeoutCause,
    TransferCall, TwirpCode,
};
use room_link::RoomLink;
use room_link::offer_answer::MediaConfig;
use rtp_relay::codec::{Codec, CodecKind};
use sip_core::{Credentials, Event, Reply, Transport};
use tokio::sync::mpsc;

use crate::config::Config;
use crate::media::{MediaEngine, MediaEvent, MediaEventKind, MediaPort, MediaTag, RtcpPort};
use crate::sip::shell::SipHandle;
use outbound::{OutboundCall, Progress};
use registry::{CallCommand, Registry, TransferRequest};

/// Ended calls stay visible to `GetCall`/`ListCalls` this long ...
const ENDED_RETENTION: Duration = Duration::from_secs(300);
/// ... and at most this many of them (about 1 KiB each): at 1,000 calls/s the retention
/// alone would keep 300,000.
const MAX_ENDED_CALLS: usize = 50_000;

/// Where the events of each call go: the sender of the call's task, by key.
#[derive(Debug)]
pub struct Routes<K, S> {
    routes: Mutex<HashMap<K, S>>,
}

impl<K, S> Default for Routes<K, S> {
    fn default() -> Self {
        Routes {
            routes: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, S> Routes<K, S> {
    fn insert(&self, key: K, to: S) {
        self.lock().insert(key, to);
    }

    fn remove(&self, key: K) {
        self.lock().remove(&key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, S>> {
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Routes `sip-core` events to the task of the call they belong to.
pub type SipRoutes = Routes<sip_core::CallHandle, mpsc::UnboundedSender<Event>>;

impl SipRoutes {
    /// Hands `event` to its call; returns it when no call claims it.
    fn route(&self, call: sip_core::CallHandle, event: Event) -> Option<Event> {
        match self.lock().get(&call) {
            // Unbounded is safe here: sip-core emits a handful of events per call, plus
            // one per in-dialog NOTIFY, each a server transaction that sip-core's own
            // capacity bounds.
            Some(tx) => tx.send(event).err().map(|e| e.0),
            None => Some(event),
        }
    }
}

/// Routes the media engine's events to the pump of the call they belong to (by the
/// [`MediaTag`] the pump gave its endpoint).
pub type MediaRoutes = Routes<MediaTag, mpsc::Sender<MediaEventKind>>;

impl MediaRoutes {
    /// Hands every event to its call until the engine stops. A full queue drops the event:
    /// a pump acts on the first media timeout and ignores the rest.
    async fn run(self: Arc<Self>, mut events: mpsc::Receiver<MediaEvent>) {
        while let Some(event) = events.recv().await {
            if let Some(tx) = self.lock().get(&event.tag) {
                let _ = tx.try_send(event.kind);
            }
        }
    }
}

/// A trunk resolved for one call: where and how to send the INVITE.
#[derive(Debug, Clone)]
pub struct ResolvedTrunk {
    /// Trunk id (empty for an inline trunk).
    pub id: String,
    /// First hop.
    pub destination: SocketAddr,
    /// Transport to it.
    pub transport: Transport,
    /// Request-URI.
    pub request_uri: String,
    /// From header value without tag.
    pub from: String,
    /// To header value.
    pub to: String,
    /// Extra headers (trunk's, then the request's).
    pub headers: Vec<(String, String)>,
    /// Digest credentials.
    pub credentials: Option<Credentials>,
    /// Calling number.
    pub from_number: String,
    /// Called number.
    pub to_number: String,
}

/// The running gateway: SIP stack, media ports, rooms and the calls between them.
pub struct Gateway {
    me: std::sync::Weak<Gateway>,
    config: Arc<Config>,
    catalog: Catalog,
    inbound: inbound::InboundGuards,
    sip: SipHandle,
    routes: Arc<SipRoutes>,
    registry: Registry,
    rooms: Arc<dyn RoomLink>,
    media: MediaEngine,
    media_routes: Arc<MediaRoutes>,
    seed: AtomicU64,
}

impl Gateway {
    /// A gateway over a started SIP shell; `seed` feeds call ids and RTP randomness. Starts
    /// the media engine of `[rtp]` (its workers stop when the gateway is dropped); call it
    /// within a tokio runtime, after the metrics recorder is installed.
    ///
    /// # Errors
    /// When the media engine cannot start (empty port range, no poll).
    pub fn new(
        config: Arc<Config>,
        catalog: Catalog,
        sip: SipHandle,
        rooms: Arc<dyn RoomLink>,
        seed: u64,
    ) -> Result<Arc<Self>> {
        let (media, media_events) =
            MediaEngine::start(&config.rtp).context("cannot start the media engine")?;
        let media_routes = Arc::new(MediaRoutes::default());
        tokio::spawn(media_routes.clone().run(media_events));
        let guards = inbound::InboundGuards::new(&config.inbound, config.t1(), seed ^ 0xD16E_57A1);
        Ok(Arc::new_cyclic(|me| Self {
            me: me.clone(),
            config,
            catalog,
            inbound: guards,
            sip,
            routes: Arc::new(SipRoutes::default()),
            registry: Registry::new(ENDED_RETENTION, MAX_ENDED_CALLS),
            rooms,
            media,
            media_routes,
            seed: AtomicU64::new(seed),
        }))
    }

    /// Consumes the SIP stack's events: routes call events to their calls and answers what
    /// no call owns. Runs until the SIP stack stops.
    pub async fn run_events(self: Arc<Self>, mut events: mpsc::Receiver<Event>) {
        while let Some(event) = events.recv().await {
            let unclaimed = match &event {
                Event::Progress { call, .. }
                | Event::Answered { call, .. }
                | Event::Confirmed { call, .. }
                | Event::ReinviteAcked { call, .. }
                | Event::Ended { call, .. }
                | Event::RingTimeout { call, .. }
                | Event::Response { call, .. } => self.routes.route(*call, event),
                // The call answers NOTIFYs (a transfer's progress, RFC 3515 §2.4.4) and
                // new offers (re-INVITE, UPDATE: session refresh, hold, a moved address).
                Event::Request {
                    call: Some(call),
                    message,
                    ..
                } if matches!(
                    message.method(),
                    sip_core::Method::Notify | sip_core::Method::Invite | sip_core::Method::Update
                ) =>
                {
                    self.routes.route(*call, event)
                }
                _ => Some(event),
            };
            if let Some(event) = unclaimed {
                self.unclaimed(event).await;
            }
        }
    }

    async fn unclaimed(&self, event: Event) {
        match event {
            Event::IncomingCall {
                call,
                request,
                source,
                ..
            } => self.arc().incoming(call, request, source),
            Event::Request {
                request, message, ..
            } => self.answer_request(request, &message).await,
            _ => {}
        }
    }

    /// Answers a request no call handles itself: OPTIONS (keep-alive pings), INFO and
    /// NOTIFY are acknowledged; session changes (re-INVITE, UPDATE with SDP) before a call
    /// is established are refused with 488 so the session stays as it is (RFC 3261 §14.2);
    /// anything else is not implemented.
    async fn answer_request(&self, request: sip_core::RequestId, message: &sip_core::Inbound) {
        let status = match message.method() {
            sip_core::Method::Options | sip_core::Method::Info | sip_core::Method::Notify => 200,
            sip_core::Method::Update if message.body().is_empty() => 200,
            sip_core::Method::Invite | sip_core::Method::Update => 488,
            _ => 501,
        };
        let _ = self
            .sip
            .with(move |ep, now| ep.reply(now, request, Reply::status(status)))
            .await;
    }

    fn arc(&self) -> Arc<Self> {
        // `self` is only ever reached through the Arc made in `new`, so it is alive.
        self.me.upgrade().expect("gateway is alive while borrowed")
    }

    fn next_seed(&self) -> u64 {
        // SplitMix64 over a counter: cheap, distinct per use.
        let n = self
            .seed
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
        let mut z = n;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn new_call_id(&self) -> CallId {
        CallId(self.new_id("SCL_"))
    }

    fn new_transfer_id(&self) -> String {
        self.new_id("STR_")
    }

    /// `prefix` and 12 characters drawn from the seed.
    fn new_id(&self, prefix: &str) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
        let mut n = self.next_seed();
        let suffix: String = (0..12)
            .map(|_| {
                let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
                n /= ALPHABET.len() as u64;
                c
            })
            .collect();
        format!("{prefix}{suffix}")
    }

    /// A free even RTP port of the engine's pool, bound (rtcp-mux unless the peer's SDP
    /// asks for `port + 1`). Dropped unused, it goes back to the pool.
    fn allocate_rtp(&self) -> Result<MediaPort> {
        Ok(self.media.allocate(RtcpPort::Mux)?)
    }

    /// The phone's media for the negotiated SDP, on the call's allocated port.
    async fn start_phone_media(
        &self,
        port: MediaPort,
        negotiated: &room_link::offer_answer::NegotiatedMedia,
        ringing: bool,
    ) -> Result<media::PhoneMedia, crate::media::MediaError> {
        let tag = MediaTag(self.next_seed());
        media::PhoneMedia::start(
            &self.media,
            &self.media_routes,
            port,
            negotiated,
            tag,
            ringing,
        )
        .await
    }

    fn media_config(&self, media: &MediaOptions) -> MediaConfig {
        let defaults = [
            CodecKind::Pcmu,
            CodecKind::Pcma,
            CodecKind::G722,
            CodecKind::Opus,
        ];
        let mut kinds: Vec<CodecKind> = media.codecs.iter().filter_map(api_codec_kind).collect();
        if !media.only_listed_codecs {
            for kind in defaults {
                if !kinds.contains(&kind) {
                    kinds.push(kind);
                }
            }
        }
        MediaConfig::new(kinds.into_iter().map(Codec::with_default_pt).collect())
    }

    fn resolve_trunk(&self, req: &CreateCall) -> Result<ResolvedTrunk, CallError> {
        let (id, address, transport, username, password, mut headers, numbers, from_host) =
            match &req.trunk {
                TrunkRef::Id(id) => {
                    let trunk = self.catalog.outbound_trunk(id).ok_or_else(|| {
                        CallError::new(TwirpCode::NotFound, format!("no outbound trunk {id:?}"))
                    })?;
                    let transport =
                        match control::proto::livekit::SipTransport::try_from(trunk.transport) {
                            Ok(control::proto::livekit::SipTransport::Tcp) => Transport::Tcp,
                            Ok(control::proto::livekit::SipTransport::Tls) => {
                                return Err(CallError::new(
                                    TwirpCode::Unimplemented,
                                    "TLS transport is not supported yet",
                                ));
                            }
                            _ => Transport::Udp,
                        };
                    // Sorted, so the INVITE's header order does not depend on a hash seed.
                    let mut headers: Vec<(String, String)> = trunk.headers.into_iter().collect();
                    headers.sort();
                    (
                        id.clone(),
                        trunk.address,
                        transport,
                        trunk.auth_username,
                        trunk.auth_password,
                        headers,
                        trunk.numbers,
                        trunk.from_host,
                    )
                }
                TrunkRef::Inline(t) => {
                    let transport = match t.transport {
                        ApiTransport::Tcp => Transport::Tcp,
                        ApiTransport::Tls => {
                            return Err(CallError::new(
                                TwirpCode::Unimplemented,
                                "TLS transport is not supported yet",
                            ));
                        }
                        _ => Transport::Udp,
                    };
                    (
                        String::new(),
                        t.hostname.clone(),
                        transport,
                        t.auth_username.clone(),
                        t.auth_password.0.clone(),
                        Vec::new(),
                        Vec::new(),
                        t.from_host.clone(),
                    )
                }
            };
        let destination = resolve_address(&address).ok_or_else(|| {
            CallError::new(
                TwirpCode::FailedPrecondition,
                format!("trunk address {address:?} is not IP:port"),
            )
        })?;
        headers.extend(req.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
        let from_number = if req.sip_number.is_empty() {
            numbers.first().cloned().unwrap_or_default()
        } else {
            req.sip_number.clone()
        };
        let to_user = req
            .to_user_override
            .clone()
            .unwrap_or_else(|| req.call_to.clone());
        let host = if from_host.is_empty() {
            self.sip.local_addr().to_string()
        } else {
            from_host
        };
        let request_uri = match &req.request_uri {
            Some(dest) => dest_uri(dest, &address),
            None => format!("sip:{to_user}@{address}"),
        };
        let to = match &req.to_header {
            Some(named) => {
                let uri = named
                    .uri
                    .as_ref()
                    .map_or_else(|| request_uri.clone(), |d| dest_uri(d, &address));
                format!("{}<{uri}>", display(&named.display_name))
            }
            None => format!("<{request_uri}>"),
        };
        let from_user = if from_number.is_empty() {
            "sipbridge"
        } else {
            &from_number
        };
        let from = match &req.from_header {
            Some(named) => {
                let uri = named
                    .uri
                    .as_ref()
                    .map_or_else(|| format!("sip:{from_user}@{host}"), |d| dest_uri(d, &host));
                format!("{}<{uri}>", display(&named.display_name))
            }
            None => {
                let name = match &req.display_name {
                    Some(name) => name.as_str(),
                    None => from_number.as_str(),
                };
                format!("{}<sip:{from_user}@{host}>", display(name))
            }
        };
        let credentials = (!username.is_empty()).then_some(Credentials { username, password });
        Ok(ResolvedTrunk {
            id,
            destination,
            transport,
            request_uri,
            from,
            to,
            headers,
            credentials,
            to_number: to_user,
            from_number,
        })
    }
}

/// The codec of an API codec name (`telephone-event` is not an audio codec: it is always
/// offered through [`MediaConfig`]).
fn api_codec_kind(codec: &control::validate::Codec) -> Option<CodecKind> {
    match codec.name {
        "PCMU" => Some(CodecKind::Pcmu),
        "PCMA" => Some(CodecKind::Pcma),
        "G722" => Some(CodecKind::G722),
        "opus" => Some(CodecKind::Opus),
        _ => None,
    }
}

/// The URI of an API destination.
fn dest_uri(dest: &SipDest, default_host: &str) -> String {
    match dest {
        SipDest::Raw(uri) => uri.clone(),
        SipDest::Parts(p) => {
            let host = match (&p.ip, p.host.is_empty()) {
                (Some(IpAddr::V6(ip)), true) => format!("[{ip}]"),
                (Some(ip), true) => ip.to_string(),
                _ if p.host.is_empty() => default_host.to_owned(),
                _ => p.host.clone(),
            };
            let user = if p.user.is_empty() {
                String::new()
            } else {
                format!("{}@", p.user)
            };
            let port = p.port.map(|port| format!(":{port}")).unwrap_or_default();
            let transport = match p.transport {
                ApiTransport::Tcp => ";transport=tcp",
                ApiTransport::Udp => ";transport=udp",
                ApiTransport::Tls => ";transport=tls",
                ApiTransport::Auto => "",
            };
            format!("sip:{user}{host}{port}{transport}")
        }
    }
}

/// A quoted display name (RFC 3261 §25.1 quoted-string) followed by a space, or nothing.
fn display(name: &str) -> String {
    if name.is_empty() {
        return String::new();
    }
    let escaped: String = name
        .chars()
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\" ")
}

/// `IP:port`, or a bare IP with the SIP default port 5060 (RFC 3261 §19.1.2).
fn resolve_address(address: &str) -> Option<SocketAddr> {
    address.parse::<SocketAddr>().ok().or_else(|| {
        address
            .parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, 5060))
    })
}

impl CallService for Gateway {
    async fn create_call(
        &self,
        req: CreateCall,
        deadline: Deadline,
        _idempotency_key: Option<String>,
    ) -> Result<CallInfo, CallError> {
        let trunk = self.resolve_trunk(&req)?;
        let now = Instant::now();
        let info = CallInfo {
            call_id: self.new_call_id(),
            participant_id: String::new(),
            participant_identity: req.participant_identity.clone(),
            room_name: req.room_name.clone(),
            state: CallState::Dialing,
            direction: CallDirection::Outbound,
            trunk_id: trunk.id.clone(),
            from_number: trunk.from_number.clone(),
            to_number: trunk.to_number.clone(),
            created_at: SystemTime::now(),
            answered_at: None,
            ended_at: None,
            end: None,
        };
        let (updater, mailbox) = self.registry.insert(info, now);
        let record = self
            .registry
            .get(&updater.snapshot().call_id)
            .ok_or_else(|| CallError::new(TwirpCode::Internal, "call record vanished"))?;
        let wait = req.wait_until_answered;
        let (progress_tx, mut progress) = mpsc::channel(4);
        let call = OutboundCall {
            gw: self.arc(),
            updater,
            mailbox,
            trunk,
            req,
            deadline,
            progress: progress_tx,
        };
        // The call owns itself from here on; this future only observes it.
        tokio::spawn(call.run());
        let outcome =
            tokio::time::timeout_at(tokio::time::Instant::from_std(deadline.instant()), async {
                while let Some(p) = progress.recv().await {
                    match p {
                        Progress::Dialing if !wait => return Ok(()),
                        Progress::Answered => return Ok(()),
                        Progress::Failed(err) => return Err(err),
                        Progress::Dialing => {}
                    }
                }
                Err(CallError::new(
                    TwirpCode::Internal,
                    "call ended without an outcome",
                ))
            })
            .await;
        match outcome {
            Ok(Ok(())) => Ok(record.snapshot()),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(CallError::timeout(
                TimeoutCause::CallerDeadline,
                "the request's deadline ran out; the call goes on",
            )),
        }
    }

    async fn list_calls(
        &self,
        filter: CallFilter,
        _deadline: Deadline,
    ) -> Result<Vec<CallInfo>, CallError> {
        Ok(self.registry.list(&filter, Instant::now()))
    }

    async fn get_call(&self, call_id: CallId, _deadline: Deadline) -> Result<CallInfo, CallError> {
        self.registry
            .get(&call_id)
            .map(|r| r.snapshot())
            .ok_or_else(|| CallError::new(TwirpCode::NotFound, format!("no call {call_id}")))
    }

    async fn hangup_call(
        &self,
        call_id: CallId,
        deadline: Deadline,
    ) -> Result<CallInfo, CallError> {
        let record = self
            .registry
            .get(&call_id)
            .ok_or_else(|| CallError::new(TwirpCode::NotFound, format!("no call {call_id}")))?;
        let mut updates = record.subscribe();
        if record.snapshot().state == CallState::Ended || !record.command(CallCommand::Hangup) {
            return Ok(record.snapshot());
        }
        // Wait for the end within the request's deadline; past it the BYE/CANCEL handshake
        // goes on in the background and the caller gets the snapshot as it stands.
        let _ = tokio::time::timeout_at(
            tokio::time::Instant::from_std(deadline.instant()),
            updates.wait_for(|info| info.state == CallState::Ended),
        )
        .await;
        Ok(record.snapshot())
    }

    async fn transfer(
        &self,
        req: TransferCall,
        deadline: Deadline,
    ) -> Result<TransferOutcome, CallError> {
        let record = self
            .registry
            .find_participant(&req.room_name, &req.participant_identity)
            .ok_or_else(|| {
                CallError::new(
                    TwirpCode::NotFound,
                    format!(
                        "no call of participant {:?} in room {:?}",
                        req.participant_identity, req.room_name
                    ),
                )
            })?;
        if record.snapshot().state != CallState::Active {
            return Err(CallError::new(
                TwirpCode::FailedPrecondition,
                "the call is not answered yet: only an answered call can be transferred",
            ));
        }
        let (reply, outcome) = tokio::sync::oneshot::channel();
        if !record.transfer(TransferRequest { req, reply }) {
            let message = if record.snapshot().state == CallState::Ended {
                "the call ended"
            } else {
                "a transfer of this participant is already in progress"
            };
            return Err(CallError::new(TwirpCode::Aborted, message));
        }
        // The call runs the transfer and its ring timer; this only waits for the outcome.
        match tokio::time::timeout_at(tokio::time::Instant::from_std(deadline.instant()), outcome)
            .await
        {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(CallError::new(
                TwirpCode::Aborted,
                "the call ended before the transfer reported its outcome",
            )),
            Err(_) => Err(CallError::timeout(
                TimeoutCause::CallerDeadline,
                "the request's deadline ran out; the transfer goes on",
            )),
        }
    }
}
