//! The gateway's configuration file (TOML).
//!
//! Every key is documented in `configs/sipbridge.toml`, which is also the embedded default.
//! Unknown keys are errors, so a typo never silently falls back to a default; every timer value
//! the gateway uses comes from a named field here (DESIGN.md: "no hidden defaults").

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use control::proto::livekit as pb;
use serde::Deserialize;

/// The embedded default configuration (`configs/sipbridge.toml`).
pub const DEFAULT_CONFIG: &str = include_str!("../../../configs/sipbridge.toml");

/// Shortest API secret accepted: HS256 keys shorter than the hash output are weak (RFC 7518 §3.2).
const MIN_SECRET_LEN: usize = 32;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// SIP signalling.
    pub sip: SipConfig,
    /// RTP media.
    pub rtp: RtpConfig,
    /// The room-server API.
    pub api: ApiConfig,
    /// Health and metrics.
    pub http: HttpConfig,
    /// Outbound trunks (`SIPOutboundTrunkInfo` field names).
    #[serde(default)]
    pub outbound_trunks: Vec<OutboundTrunk>,
    /// How inbound calls are screened and run.
    #[serde(default)]
    pub inbound: InboundConfig,
    /// Where trunks and dispatch rules created through the API are stored.
    #[serde(default)]
    pub data: DataConfig,
    /// Where calls' rooms live.
    #[serde(default)]
    pub rooms: RoomsConfig,
    /// Inbound trunks (`SIPInboundTrunkInfo` field names), read-only through the API.
    #[serde(default)]
    pub inbound_trunks: Vec<InboundTrunk>,
    /// Dispatch rules (`SIPDispatchRuleInfo` field names), read-only through the API.
    #[serde(default)]
    pub dispatch_rules: Vec<DispatchRule>,
}

/// `[rooms]`: the room link every call's room leg uses.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoomsConfig {
    /// `"embedded"` (rooms mixed in this process), `"rtp"` (a room server that takes an SDP
    /// offer by HTTP POST and speaks plain RTP) or `"webrtc"` (WHIP, RFC 9725, with
    /// ICE and DTLS-SRTP).
    pub kind: RoomKind,
    /// Join URL of the room server (`rtp`, `webrtc`), `http://…` with `{room}` replaced by
    /// the room name.
    pub url: String,
    /// Longest a join may take; the call's own deadline still wins when earlier.
    pub join_timeout_ms: u64,
    /// Longest a leave may take; `webrtc`: also bounds the TURN allocation's release (its
    /// Refresh with lifetime 0, retransmitted in the background after the call is gone).
    pub leave_timeout_ms: u64,
    /// `rtp`: bearer token sent with joins (empty: none).
    pub bearer_token: String,
    /// `rtp`: no RTP from the room server for this long ends the call (0: never).
    pub media_timeout_s: u64,
    /// `webrtc`: the API key join tokens are minted with (its secret is `api.keys[key]`);
    /// empty sends no token.
    pub token_key: String,
    /// `webrtc`: lifetime of a minted join token.
    pub token_ttl_s: u64,
    /// `webrtc`: STUN servers (`IP:port`) asked for our public address, offered as a
    /// server-reflexive candidate beside the host one; empty asks none.
    pub stun_servers: Vec<SocketAddr>,
    /// `webrtc`: TURN servers (RFC 8656) a relayed candidate is allocated on, with
    /// long-term credentials; the first that grants an allocation is used. Empty: none.
    pub turn_servers: Vec<TurnServerConfig>,
    /// `webrtc`: longest the TURN allocation may delay a join (the join's deadline still
    /// wins); a server that has not granted one by then is not offered.
    pub turn_timeout_ms: u64,
    /// `webrtc`: which candidates the offer carries.
    pub ice_transport_policy: IcePolicy,
    /// `webrtc`, policy `all`: how long ICE waits for a direct pair before it nominates one
    /// through the TURN relay (RFC 8445 §8.1.1 leaves when to stop checking to the
    /// controlling agent). Policy `relay` nominates at once.
    pub ice_relay_acceptance_wait_ms: u64,
    /// `webrtc`: longest the STUN gathering may delay a join (the join's deadline still
    /// wins); a server that has not answered by then is not offered.
    pub stun_timeout_ms: u64,
    /// `webrtc`: first retransmission timeout of STUN and TURN requests, doubling after
    /// each (RFC 8489 §6.2.1).
    pub stun_rto_ms: u64,
    /// `webrtc`: interval of ICE consent checks and keepalives (RFC 7675 §5.1).
    pub ice_keepalive_ms: u64,
    /// `webrtc`: no ICE response for this long marks the room link disconnected.
    pub ice_disconnected_timeout_ms: u64,
    /// `webrtc`: disconnected for this long more fails the link and ends the call with
    /// cause `room_link_failed` (with 5 s + 25 s, RFC 7675's 30 s consent expiry).
    pub ice_failed_timeout_ms: u64,
}

/// One entry of [`RoomsConfig::turn_servers`].
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TurnServerConfig {
    /// The server's UDP address, `IP:port` (a host name is not resolved). Parsed by
    /// config validation rather than by serde, whose error would quote the whole line,
    /// credential included.
    pub address: String,
    /// Long-term credential username (RFC 8489 §9.2).
    pub username: String,
    /// Long-term credential password; never logged or printed.
    pub credential: String,
}

impl TurnServerConfig {
    /// [`TurnServerConfig::address`] parsed; `None` when it is not a usable `IP:port`.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        self.address
            .parse::<SocketAddr>()
            .ok()
            .filter(|a| !a.ip().is_unspecified() && a.port() != 0)
    }
}

impl std::fmt::Debug for TurnServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnServerConfig")
            .field("address", &self.address)
            .field("username", &self.username)
            .field("credential", &"<redacted>")
            .finish()
    }
}

/// [`RoomsConfig::ice_transport_policy`] (W3C WebRTC `iceTransportPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IcePolicy {
    /// Host, server-reflexive and relayed candidates.
    #[default]
    All,
    /// Only the TURN-relayed candidate; a join without an allocation fails.
    Relay,
}

impl Default for RoomsConfig {
    fn default() -> Self {
        RoomsConfig {
            kind: RoomKind::Embedded,
            url: String::new(),
            join_timeout_ms: 5000,
            leave_timeout_ms: 2000,
            bearer_token: String::new(),
            media_timeout_s: 0,
            token_key: String::new(),
            token_ttl_s: 600,
            stun_servers: Vec::new(),
            turn_servers: Vec::new(),
            turn_timeout_ms: 1000,
            ice_transport_policy: IcePolicy::All,
            ice_relay_acceptance_wait_ms: 2000,
            stun_timeout_ms: 500,
            stun_rto_ms: 100,
            ice_keepalive_ms: 2000,
            ice_disconnected_timeout_ms: 5000,
            ice_failed_timeout_ms: 25_000,
        }
    }
}

/// [`RoomsConfig::kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoomKind {
    /// Rooms mixed in this process.
    Embedded,
    /// A plain-RTP room server.
    Rtp,
    /// A WebRTC room server (WHIP).
    Webrtc,
}

/// `[data]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Directory of `catalog.redb`; `None` keeps API-created entries in memory only.
    pub dir: Option<PathBuf>,
}

/// `[sip]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipConfig {
    /// UDP and TCP listen address.
    pub listen: SocketAddr,
    /// RFC 3261 T1 in milliseconds.
    pub t1_ms: u64,
    /// RFC 3261 T2 in milliseconds.
    pub t2_ms: u64,
    /// RFC 3261 T4 in milliseconds.
    pub t4_ms: u64,
    /// UDP socket receive buffer in bytes.
    pub udp_recv_buffer: usize,
    /// Largest accepted SIP message in bytes.
    pub max_message_size: usize,
    /// Idle TCP connections are closed after this many seconds.
    pub tcp_idle_timeout_s: u64,
    /// Most calls (being set up or established) at once; more INVITEs get 503.
    pub max_calls: usize,
}

/// `[rtp]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RtpConfig {
    /// Bind and advertise address.
    pub address: IpAddr,
    /// Inclusive UDP port range.
    pub port_range: [u16; 2],
    /// Seconds a released port stays out of reuse.
    pub port_drain_s: u64,
    /// Receive buffer per RTP socket in bytes.
    pub udp_recv_buffer: usize,
    /// Seconds to wait for the first RTP packet after answer.
    pub first_packet_timeout_s: u64,
    /// Seconds of silence (after media flowed) that end a call.
    pub silence_timeout_s: u64,
    /// Media worker threads (each one poll loop over its share of RTP sockets); 0 = one per
    /// core.
    pub workers: usize,
    /// 0: the media workers run under the normal scheduler. 1..=99: they run under
    /// `SCHED_FIFO` with this priority, so kernel threads and other processes wait for a
    /// worker instead of preempting it for milliseconds (needs `CAP_SYS_NICE` or an
    /// `RLIMIT_RTPRIO`; refused, a worker logs a warning and runs normally).
    #[serde(default)]
    pub worker_priority: u8,
    /// The ringback tone a room hears while a call rings (`play_dialtone`) or is being
    /// transferred: `"us"` (440 + 480 Hz, 2 s on, 4 s off) or `"eu"` (425 Hz, 1 s on, 4 s
    /// off, ITU-T E.180).
    #[serde(default)]
    pub ringback: RingbackTone,
}

/// `[rtp] ringback`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RingbackTone {
    /// North American ringback.
    #[default]
    Us,
    /// European ringback (CEPT / ITU-T E.180).
    Eu,
}

impl RingbackTone {
    /// The tone to generate.
    pub fn spec(self) -> rtp_relay::tone::ToneSpec {
        match self {
            Self::Us => rtp_relay::tone::ToneSpec::ringback_us(),
            Self::Eu => rtp_relay::tone::ToneSpec::ringback_eu(),
        }
    }
}

/// `[api]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Listen address of the Twirp API.
    pub listen: SocketAddr,
    /// Milliseconds from API request to INVITE on the wire, part of every Deadline.
    pub setup_allowance_ms: u64,
    /// Milliseconds added after `ringing_timeout` for a synchronous create.
    pub answer_margin_ms: u64,
    /// Largest accepted API request body in bytes.
    pub max_body_bytes: usize,
    /// Most `X-Livekit-Request-Id` idempotency keys remembered at once.
    pub idempotency_max_entries: usize,
    /// Seconds a create is remembered for repeats with the same request id.
    pub idempotency_retention_s: u64,
    /// API key → HS256 secret.
    pub keys: BTreeMap<String, String>,
}

/// `[http]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Listen address for `/healthz`, `/readyz` and `/metrics`.
    pub listen: SocketAddr,
}

/// `[inbound]`: screening and limits of inbound calls. Every key has the default written in
/// `configs/sipbridge.toml`, so a config may omit the section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InboundConfig {
    /// What an INVITE for no known trunk gets: `"reject"` (404) or `"drop"` (no answer at
    /// all, which tells a scanner nothing).
    pub unknown_trunk: UnknownTrunk,
    /// Digest challenge for trunks with credentials: `"www"` (401, as a UAS, RFC 3261 §22.2)
    /// or `"proxy"` (407, as a proxy, §22.3).
    pub auth_challenge: AuthChallenge,
    /// INVITEs per second accepted from one source IP (0 = no limit); beyond it, 503.
    pub invites_per_source_per_s: u32,
    /// Burst of INVITEs one source may send at once.
    pub invite_burst_per_source: u32,
    /// Most concurrent calls per inbound trunk (0 = no limit); beyond it, 503.
    pub max_calls_per_trunk: usize,
    /// `Retry-After` seconds on 503 answers.
    pub retry_after_s: u32,
    /// Ringing timeout (joining the room) of trunks that set none, in seconds.
    pub ringing_timeout_s: u64,
    /// Maximum call duration of trunks that set none, in seconds.
    pub max_call_duration_s: u64,
    /// Most digits of a PIN.
    pub pin_max_digits: usize,
    /// PIN attempts before the call is hung up.
    pub pin_tries: u32,
    /// Seconds to wait for the first PIN digit.
    pub pin_first_digit_s: u64,
    /// Seconds to wait between PIN digits.
    pub pin_between_digits_s: u64,
}

impl Default for InboundConfig {
    fn default() -> Self {
        Self {
            unknown_trunk: UnknownTrunk::Reject,
            auth_challenge: AuthChallenge::Www,
            invites_per_source_per_s: 200,
            invite_burst_per_source: 400,
            max_calls_per_trunk: 0,
            retry_after_s: 5,
            // The one documented ringing default (API_COMPAT.md), and a day for duration.
            ringing_timeout_s: 30,
            max_call_duration_s: 86_400,
            pin_max_digits: 12,
            pin_tries: 3,
            pin_first_digit_s: 15,
            pin_between_digits_s: 5,
        }
    }
}

impl InboundConfig {
    /// [`InboundConfig::ringing_timeout_s`] as a duration.
    pub fn ringing_timeout(&self) -> Duration {
        Duration::from_secs(self.ringing_timeout_s)
    }

    /// [`InboundConfig::max_call_duration_s`] as a duration.
    pub fn max_call_duration(&self) -> Duration {
        Duration::from_secs(self.max_call_duration_s)
    }
}

/// `inbound.unknown_trunk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownTrunk {
    /// Answer 404.
    Reject,
    /// Do not answer.
    Drop,
}

/// `inbound.auth_challenge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthChallenge {
    /// 401 with `WWW-Authenticate`.
    Www,
    /// 407 with `Proxy-Authenticate`.
    Proxy,
}

/// SIP transport of a trunk (`SIPTransport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TrunkTransport {
    /// UDP unless the message is too large (RFC 3261 §18.1.1).
    #[default]
    Auto,
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
}

/// `[[outbound_trunks]]`: a trunk that sipbridge calls out through.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundTrunk {
    /// Unique id, referenced by `CreateSIPParticipantRequest.sip_trunk_id`.
    pub sip_trunk_id: String,
    /// Human-readable name.
    #[serde(default)]
    pub name: String,
    /// Opaque metadata.
    #[serde(default)]
    pub metadata: String,
    /// `host[:port]` of the trunk.
    pub address: String,
    /// Transport toward the trunk.
    #[serde(default)]
    pub transport: TrunkTransport,
    /// Caller numbers this trunk may present.
    #[serde(default)]
    pub numbers: Vec<String>,
    /// Digest username.
    #[serde(default)]
    pub auth_username: String,
    /// Digest password.
    #[serde(default)]
    pub auth_password: String,
    /// Extra SIP headers on every INVITE.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Host for the From header (default: the SIP listen address).
    #[serde(default)]
    pub from_host: String,
}

/// `[[inbound_trunks]]`: a trunk phones call in through. Durations are whole seconds
/// (`*_s`); unset means the API's default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundTrunk {
    /// Unique id (shared namespace with outbound trunks), referenced by rules' `trunk_ids`.
    pub sip_trunk_id: String,
    /// Human-readable name.
    #[serde(default)]
    pub name: String,
    /// Opaque metadata.
    #[serde(default)]
    pub metadata: String,
    /// Called numbers this trunk serves; empty = the default trunk.
    #[serde(default)]
    pub numbers: Vec<String>,
    /// Source IPs or CIDR blocks allowed to call in; empty = any.
    #[serde(default)]
    pub allowed_addresses: Vec<String>,
    /// Caller numbers allowed; empty = any.
    #[serde(default)]
    pub allowed_numbers: Vec<String>,
    /// Digest username callers must authenticate with (empty: no digest auth).
    #[serde(default)]
    pub auth_username: String,
    /// Digest password.
    #[serde(default)]
    pub auth_password: String,
    /// Digest realm.
    #[serde(default)]
    pub auth_realm: String,
    /// Extra SIP headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// SIP header → participant attribute.
    #[serde(default)]
    pub headers_to_attributes: BTreeMap<String, String>,
    /// Participant attribute → SIP header.
    #[serde(default)]
    pub attributes_to_headers: BTreeMap<String, String>,
    /// Seconds the room leg may take to join while the caller hears ringing.
    #[serde(default)]
    pub ringing_timeout_s: Option<u64>,
    /// Hard cap on a call's length in seconds.
    #[serde(default)]
    pub max_call_duration_s: Option<u64>,
    /// Codec preferences.
    #[serde(default)]
    pub media: Option<Media>,
}

/// `media` of a trunk or rule (`SIPMediaConfig`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Media {
    /// Codec names in preference order (`PCMU`, `PCMA`, `G722`, `opus`).
    #[serde(default)]
    pub codecs: Vec<String>,
    /// Offer/accept only the listed codecs.
    #[serde(default)]
    pub only_listed_codecs: bool,
    /// Seconds without media that end the call.
    #[serde(default)]
    pub media_timeout_s: Option<u64>,
}

/// `[[dispatch_rules]]`: which room an inbound call joins.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatchRule {
    /// Unique id.
    pub sip_dispatch_rule_id: String,
    /// The room rule, as in the API:
    /// `rule = { dispatch_rule_direct = { room_name = "lobby" } }`.
    pub rule: RuleKind,
    /// Human-readable name.
    #[serde(default)]
    pub name: String,
    /// Participant metadata.
    #[serde(default)]
    pub metadata: String,
    /// Inbound trunks the rule applies to; empty = all.
    #[serde(default)]
    pub trunk_ids: Vec<String>,
    /// Called numbers the rule applies to; empty = all.
    #[serde(default)]
    pub numbers: Vec<String>,
    /// Caller numbers the rule applies to; empty = all.
    #[serde(default)]
    pub inbound_numbers: Vec<String>,
    /// Keep the caller's number out of the room.
    #[serde(default)]
    pub hide_phone_number: bool,
    /// Extra participant attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Codec preferences (over the trunk's).
    #[serde(default)]
    pub media: Option<Media>,
}

/// The `SIPDispatchRule` oneof.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleKind {
    /// Everybody into one room.
    DispatchRuleDirect {
        /// The room.
        room_name: String,
        /// DTMF PIN (digits), empty for none.
        #[serde(default)]
        pin: String,
    },
    /// A room per caller: `room_prefix_<caller>` plus a random suffix unless `no_randomness`.
    DispatchRuleIndividual {
        /// Room-name prefix.
        #[serde(default)]
        room_prefix: String,
        /// DTMF PIN, empty for none.
        #[serde(default)]
        pin: String,
        /// No random suffix.
        #[serde(default)]
        no_randomness: bool,
    },
    /// A room per called number: `room_prefix_<called>`, a random suffix only if `randomize`.
    DispatchRuleCallee {
        /// Room-name prefix.
        #[serde(default)]
        room_prefix: String,
        /// DTMF PIN, empty for none.
        #[serde(default)]
        pin: String,
        /// Add a random suffix.
        #[serde(default)]
        randomize: bool,
    },
}

impl Config {
    /// Parses and validates a configuration text; `origin` names it in error messages.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let config: Config =
            toml::from_str(text).with_context(|| format!("{origin}: invalid configuration"))?;
        config
            .validate()
            .with_context(|| format!("{origin}: invalid configuration"))?;
        Ok(config)
    }

    /// Reads, parses and validates a configuration file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// The embedded default.
    pub fn embedded_default() -> Result<Self> {
        Self::from_toml(DEFAULT_CONFIG, "embedded configs/sipbridge.toml")
    }

    fn validate(&self) -> Result<()> {
        let sip = &self.sip;
        ensure!(sip.t1_ms > 0, "sip.t1_ms must be positive");
        ensure!(
            sip.t2_ms >= sip.t1_ms,
            "sip.t2_ms must be at least sip.t1_ms"
        );
        ensure!(sip.t4_ms > 0, "sip.t4_ms must be positive");
        ensure!(
            (1024..=1 << 20).contains(&sip.max_message_size),
            "sip.max_message_size must be between 1024 and 1048576 bytes"
        );
        ensure!(
            sip.tcp_idle_timeout_s > 0,
            "sip.tcp_idle_timeout_s must be positive"
        );

        let inbound = &self.inbound;
        ensure!(
            inbound.ringing_timeout_s > 0 && inbound.max_call_duration_s > 0,
            "inbound.ringing_timeout_s and inbound.max_call_duration_s must be positive"
        );
        ensure!(
            inbound.pin_tries > 0
                && inbound.pin_max_digits > 0
                && inbound.pin_first_digit_s > 0
                && inbound.pin_between_digits_s > 0,
            "inbound.pin_* values must be positive"
        );

        let [lo, hi] = self.rtp.port_range;
        ensure!(
            lo >= 1024 && lo < hi,
            "rtp.port_range must be [low, high] with 1024 <= low < high"
        );
        ensure!(
            self.rtp.first_packet_timeout_s > 0 && self.rtp.silence_timeout_s > 0,
            "rtp media timeouts must be positive"
        );
        ensure!(
            self.rtp.worker_priority <= 99,
            "rtp.worker_priority must be 0 (normal scheduling) or a SCHED_FIFO priority 1..=99"
        );

        ensure!(
            !self.api.keys.is_empty(),
            "api.keys must hold at least one key"
        );
        for (key, secret) in &self.api.keys {
            // Never print the secret itself.
            ensure!(
                secret.len() >= MIN_SECRET_LEN,
                "api.keys.{key}: the secret must have at least {MIN_SECRET_LEN} characters"
            );
        }

        let rooms = &self.rooms;
        if rooms.kind != RoomKind::Embedded {
            ensure!(
                rooms.url.starts_with("http://") || rooms.url.starts_with("https://"),
                "rooms.url must be an http:// or https:// URL for kind {:?}",
                rooms.kind
            );
            ensure!(
                rooms.join_timeout_ms > 0 && rooms.leave_timeout_ms > 0,
                "rooms.join_timeout_ms and rooms.leave_timeout_ms must be positive"
            );
        }
        for (i, turn) in rooms.turn_servers.iter().enumerate() {
            ensure!(
                turn.socket_addr().is_some(),
                "rooms.turn_servers[{i}].address must be an IP:port with a specified IP and \
                 a non-zero port, not {:?}",
                turn.address
            );
            ensure!(
                !turn.username.is_empty(),
                "rooms.turn_servers[{i}].username must not be empty"
            );
            // Never print the credential itself.
            ensure!(
                !turn.credential.is_empty(),
                "rooms.turn_servers[{i}].credential must not be empty"
            );
        }
        ensure!(
            rooms.stun_servers.is_empty() || rooms.stun_timeout_ms > 0,
            "rooms.stun_timeout_ms must be positive when rooms.stun_servers is set"
        );
        for (name, ms) in [
            ("stun_rto_ms", rooms.stun_rto_ms),
            ("ice_keepalive_ms", rooms.ice_keepalive_ms),
            (
                "ice_disconnected_timeout_ms",
                rooms.ice_disconnected_timeout_ms,
            ),
            ("ice_failed_timeout_ms", rooms.ice_failed_timeout_ms),
            (
                "ice_relay_acceptance_wait_ms",
                rooms.ice_relay_acceptance_wait_ms,
            ),
        ] {
            ensure!(ms > 0, "rooms.{name} must be positive");
        }
        ensure!(
            rooms.ice_keepalive_ms < rooms.ice_disconnected_timeout_ms,
            "rooms.ice_keepalive_ms must be below rooms.ice_disconnected_timeout_ms (a \
             quiet but healthy link would be declared disconnected)"
        );
        ensure!(
            rooms.turn_servers.is_empty() || rooms.turn_timeout_ms > 0,
            "rooms.turn_timeout_ms must be positive when rooms.turn_servers is set"
        );
        ensure!(
            rooms.ice_transport_policy == IcePolicy::All || !rooms.turn_servers.is_empty(),
            "rooms.ice_transport_policy = \"relay\" needs at least one rooms.turn_servers entry"
        );
        ensure!(
            rooms.token_key.is_empty() || self.api.keys.contains_key(&rooms.token_key),
            "rooms.token_key {:?} is not one of api.keys",
            rooms.token_key
        );

        // Trunks and rules are checked by the catalog itself (fields, ids, conflicts), so
        // `check-config` reports exactly what `run` would refuse.
        control::Catalog::open(None, self.catalog_entries())?;
        Ok(())
    }

    /// RFC 3261 timer T1.
    pub fn t1(&self) -> Duration {
        Duration::from_millis(self.sip.t1_ms)
    }

    /// The config file's trunks and dispatch rules, in the API's types, for the catalog.
    pub fn catalog_entries(&self) -> control::FileEntries {
        control::FileEntries {
            inbound: self
                .inbound_trunks
                .iter()
                .map(InboundTrunk::to_proto)
                .collect(),
            outbound: self
                .outbound_trunks
                .iter()
                .map(OutboundTrunk::to_proto)
                .collect(),
            rules: self
                .dispatch_rules
                .iter()
                .map(DispatchRule::to_proto)
                .collect(),
        }
    }
}

impl OutboundTrunk {
    fn to_proto(&self) -> pb::SipOutboundTrunkInfo {
        pb::SipOutboundTrunkInfo {
            sip_trunk_id: self.sip_trunk_id.clone(),
            name: self.name.clone(),
            metadata: self.metadata.clone(),
            address: self.address.clone(),
            transport: match self.transport {
                TrunkTransport::Auto => pb::SipTransport::Auto,
                TrunkTransport::Udp => pb::SipTransport::Udp,
                TrunkTransport::Tcp => pb::SipTransport::Tcp,
            } as i32,
            numbers: self.numbers.clone(),
            auth_username: self.auth_username.clone(),
            auth_password: self.auth_password.clone(),
            headers: self.headers.clone().into_iter().collect(),
            from_host: self.from_host.clone(),
            ..Default::default()
        }
    }
}

impl InboundTrunk {
    fn to_proto(&self) -> pb::SipInboundTrunkInfo {
        pb::SipInboundTrunkInfo {
            sip_trunk_id: self.sip_trunk_id.clone(),
            name: self.name.clone(),
            metadata: self.metadata.clone(),
            numbers: self.numbers.clone(),
            allowed_addresses: self.allowed_addresses.clone(),
            allowed_numbers: self.allowed_numbers.clone(),
            auth_username: self.auth_username.clone(),
            auth_password: self.auth_password.clone(),
            auth_realm: self.auth_realm.clone(),
            headers: self.headers.clone().into_iter().collect(),
            headers_to_attributes: self.headers_to_attributes.clone().into_iter().collect(),
            attributes_to_headers: self.attributes_to_headers.clone().into_iter().collect(),
            ringing_timeout: self.ringing_timeout_s.map(control::catalog::proto_seconds),
            max_call_duration: self
                .max_call_duration_s
                .map(control::catalog::proto_seconds),
            media: self.media.as_ref().map(Media::to_proto),
            ..Default::default()
        }
    }
}

impl Media {
    fn to_proto(&self) -> pb::SipMediaConfig {
        pb::SipMediaConfig {
            only_listed_codecs: self.only_listed_codecs,
            codecs: self
                .codecs
                .iter()
                .map(|name| pb::SipCodec {
                    name: name.clone(),
                    rate: 0,
                })
                .collect(),
            encryption: None,
            media_timeout: self.media_timeout_s.map(control::catalog::proto_seconds),
        }
    }
}

impl DispatchRule {
    fn to_proto(&self) -> pb::SipDispatchRuleInfo {
        use pb::sip_dispatch_rule::Rule;
        let rule = match &self.rule {
            RuleKind::DispatchRuleDirect { room_name, pin } => {
                Rule::DispatchRuleDirect(pb::SipDispatchRuleDirect {
                    room_name: room_name.clone(),
                    pin: pin.clone(),
                })
            }
            RuleKind::DispatchRuleIndividual {
                room_prefix,
                pin,
                no_randomness,
            } => Rule::DispatchRuleIndividual(pb::SipDispatchRuleIndividual {
                room_prefix: room_prefix.clone(),
                pin: pin.clone(),
                no_randomness: *no_randomness,
            }),
            RuleKind::DispatchRuleCallee {
                room_prefix,
                pin,
                randomize,
            } => Rule::DispatchRuleCallee(pb::SipDispatchRuleCallee {
                room_prefix: room_prefix.clone(),
                pin: pin.clone(),
                randomize: *randomize,
            }),
        };
        pb::SipDispatchRuleInfo {
            sip_dispatch_rule_id: self.sip_dispatch_rule_id.clone(),
            rule: Some(pb::SipDispatchRule { rule: Some(rule) }),
            trunk_ids: self.trunk_ids.clone(),
            hide_phone_number: self.hide_phone_number,
            inbound_numbers: self.inbound_numbers.clone(),
            numbers: self.numbers.clone(),
            name: self.name.clone(),
            metadata: self.metadata.clone(),
            attributes: self.attributes.clone().into_iter().collect(),
            media: self.media.as_ref().map(Media::to_proto),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid() {
        let config = Config::embedded_default().expect("default config");
        assert_eq!(config.sip.listen.ip().to_string(), "127.0.0.1");
        assert_eq!(config.outbound_trunks.len(), 1);
        assert_eq!(
            config.data.dir.as_deref(),
            Some(Path::new("sipbridge-data"))
        );
    }

    /// The embedded default lets any softphone on this machine call into room "lobby".
    #[test]
    fn embedded_default_takes_loopback_calls_into_the_lobby() {
        let config = Config::embedded_default().expect("default config");
        let catalog =
            control::Catalog::open(None, config.catalog_entries()).expect("default catalog");
        for source in ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"] {
            let call = control::InboundCall {
                call_id: "SCL_test",
                called: "lobby",
                caller: "1001",
                source: source.parse().expect("ip"),
            };
            let control::TrunkMatch::Trunk(trunk) = catalog.match_inbound(&call) else {
                panic!("no trunk for a loopback call from {source}");
            };
            assert_eq!(trunk.sip_trunk_id, "ST_loopback");
            let control::Dispatch::Room(target) = catalog.dispatch(Some(&trunk), &call, None)
            else {
                panic!("no room for a loopback call from {source}");
            };
            assert_eq!(target.room_name, "lobby");
            assert_eq!(target.rule_id, "SDR_lobby");
            assert_eq!(target.participant_identity, "sip_1001");
        }
        let outside = control::InboundCall {
            call_id: "SCL_test",
            called: "lobby",
            caller: "1001",
            source: "192.0.2.7".parse().expect("ip"),
        };
        assert_eq!(
            catalog.match_inbound(&outside),
            control::TrunkMatch::NotAllowed(control::Refusal::ADDRESS)
        );
    }

    #[test]
    fn inbound_trunks_and_rules_use_the_api_field_names() {
        let text = format!(
            r#"{DEFAULT_CONFIG}
[[inbound_trunks]]
sip_trunk_id = "ST_carrier"
numbers = ["+15550100001"]
allowed_addresses = ["192.0.2.0/24"]
auth_username = "carrier"
auth_password = "pw"
ringing_timeout_s = 20
media = {{ codecs = ["PCMA"], only_listed_codecs = true }}

[[dispatch_rules]]
sip_dispatch_rule_id = "SDR_support"
trunk_ids = ["ST_carrier"]
hide_phone_number = true
attributes = {{ team = "support" }}
rule = {{ dispatch_rule_individual = {{ room_prefix = "support", pin = "1234" }} }}
"#
        );
        let config = Config::from_toml(&text, "test").expect("valid");
        let entries = config.catalog_entries();
        let trunk = entries
            .inbound
            .iter()
            .find(|t| t.sip_trunk_id == "ST_carrier")
            .expect("trunk");
        assert_eq!(trunk.ringing_timeout.map(|d| d.seconds), Some(20));
        assert_eq!(trunk.media.as_ref().map(|m| m.codecs.len()), Some(1));
        let rule = entries
            .rules
            .iter()
            .find(|r| r.sip_dispatch_rule_id == "SDR_support")
            .expect("rule");
        assert!(rule.hide_phone_number);
        assert!(matches!(
            rule.rule.as_ref().and_then(|r| r.rule.as_ref()),
            Some(pb::sip_dispatch_rule::Rule::DispatchRuleIndividual(i)) if i.pin == "1234"
        ));
    }

    #[test]
    fn catalog_errors_are_config_errors() {
        let cases = [
            // A second default trunk for loopback takes the same calls as ST_loopback.
            (
                "[[inbound_trunks]]\nsip_trunk_id = \"ST_other\"\nallowed_addresses = [\"127.0.0.1\"]\n",
                "\"ST_loopback\" and \"ST_other\" conflict",
            ),
            (
                "[[inbound_trunks]]\nsip_trunk_id = \"ST_bad\"\nnumbers = [\"1\"]\nallowed_addresses = [\"300.1.1.1\"]\n",
                "allowed_addresses[0]",
            ),
            (
                "[[dispatch_rules]]\nsip_dispatch_rule_id = \"SDR_pin\"\nrule = { dispatch_rule_direct = { room_name = \"x\", pin = \"12a\" } }\n",
                "rule.dispatch_rule_direct.pin",
            ),
            (
                "[[dispatch_rules]]\nsip_dispatch_rule_id = \"SDR_two\"\nrule = { dispatch_rule_direct = { room_name = \"x\" } }\n",
                "\"SDR_lobby\" and \"SDR_two\" conflict",
            ),
        ];
        for (extra, expected) in cases {
            let text = format!("{DEFAULT_CONFIG}\n{extra}");
            let err = format!("{:#}", Config::from_toml(&text, "test").unwrap_err());
            assert!(err.contains(expected), "{extra}: {err}");
        }
        let typo = DEFAULT_CONFIG.replace("dir = \"sipbridge-data\"", "directory = \"x\"");
        let err = format!("{:#}", Config::from_toml(&typo, "test").unwrap_err());
        assert!(err.contains("directory"), "{err}");
    }

    #[test]
    fn room_servers_need_a_url_and_a_known_token_key() {
        let with = |kind: &str, url: &str, key: &str| {
            DEFAULT_CONFIG
                .replacen("kind = \"embedded\"", &format!("kind = \"{kind}\""), 1)
                .replacen("url = \"\"", &format!("url = \"{url}\""), 1)
                .replacen("token_key = \"\"", &format!("token_key = \"{key}\""), 1)
        };
        let cases = [
            (with("rtp", "", ""), "rooms.url must be"),
            (with("webrtc", "ftp://x/{room}", ""), "rooms.url must be"),
            (with("sfu", "", ""), "unknown variant"),
            (with("embedded", "", "nokey"), "not one of api.keys"),
        ];
        for (text, expected) in cases {
            let err = format!("{:#}", Config::from_toml(&text, "test").unwrap_err());
            assert!(err.contains(expected), "{expected}: {err}");
        }
        let ok = with("webrtc", "http://127.0.0.1:1/whip/{room}", "devkey");
        let config = Config::from_toml(&ok, "test").expect("webrtc rooms");
        assert_eq!(config.rooms.kind, RoomKind::Webrtc);
        assert_eq!(config.rooms.token_key, "devkey");
    }

    #[test]
    fn turn_servers_and_the_relay_policy_are_checked_without_printing_the_credential() {
        let with = |rooms: &str| {
            DEFAULT_CONFIG
                .replacen("turn_servers = []", rooms, 1)
                .replacen("kind = \"embedded\"", "kind = \"webrtc\"", 1)
                .replacen("url = \"\"", "url = \"http://127.0.0.1:1/whip/{room}\"", 1)
        };
        let entry = |address: &str, username: &str, credential: &str| {
            format!(
                "turn_servers = [{{ address = \"{address}\", username = \"{username}\", credential = \"{credential}\" }}]"
            )
        };
        let cases = [
            (
                with(&entry("0.0.0.0:3478", "u", "pw-1")),
                "rooms.turn_servers[0].address",
            ),
            (
                with(&entry("192.0.2.1:3478", "", "pw-1")),
                "rooms.turn_servers[0].username",
            ),
            (
                with(&entry("192.0.2.1:3478", "u", "")),
                "rooms.turn_servers[0].credential",
            ),
            (
                with(&entry("192.0.2.1:3478", "u", "pw-1")).replacen(
                    "turn_timeout_ms = 1000",
                    "turn_timeout_ms = 0",
                    1,
                ),
                "rooms.turn_timeout_ms",
            ),
            (
                with(&entry("turn.example.com:3478", "u", "pw-1")),
                "rooms.turn_servers[0].address",
            ),
            (
                with("turn_servers = []").replacen(
                    "ice_transport_policy = \"all\"",
                    "ice_transport_policy = \"relay\"",
                    1,
                ),
                "needs at least one rooms.turn_servers",
            ),
            (
                with("turn_servers = []").replacen(
                    "ice_transport_policy = \"all\"",
                    "ice_transport_policy = \"relayed\"",
                    1,
                ),
                "unknown variant",
            ),
        ];
        for (text, expected) in cases {
            let err = format!("{:#}", Config::from_toml(&text, "test").unwrap_err());
            assert!(err.contains(expected), "{expected}: {err}");
            assert!(!err.contains("pw-1"), "credential printed: {err}");
        }
        let ok = with(&entry("192.0.2.1:3478", "u", "pw-1")).replacen(
            "ice_transport_policy = \"all\"",
            "ice_transport_policy = \"relay\"",
            1,
        );
        let config = Config::from_toml(&ok, "test").expect("relay config");
        assert_eq!(config.rooms.ice_transport_policy, IcePolicy::Relay);
        assert_eq!(config.rooms.turn_servers.len(), 1);
        let debug = format!("{:?}", config.rooms);
        assert!(!debug.contains("pw-1"), "credential in Debug: {debug}");
    }

    #[test]
    fn webrtc_ice_and_stun_timers_come_from_the_config_and_are_checked() {
        let config = Config::embedded_default().expect("default config");
        let rooms = &config.rooms;
        assert_eq!(
            (
                rooms.stun_timeout_ms,
                rooms.ice_keepalive_ms,
                rooms.ice_disconnected_timeout_ms,
                rooms.ice_failed_timeout_ms
            ),
            (500, 2000, 5000, 25_000)
        );
        assert_eq!(rooms.ice_relay_acceptance_wait_ms, 2000);
        let set = |from: &str, to: &str| DEFAULT_CONFIG.replacen(from, to, 1);
        let cases = [
            (
                set("stun_servers = []", "stun_servers = [\"192.0.2.1:3478\"]").replacen(
                    "stun_timeout_ms = 500",
                    "stun_timeout_ms = 0",
                    1,
                ),
                "rooms.stun_timeout_ms",
            ),
            (
                set("stun_rto_ms = 100", "stun_rto_ms = 0"),
                "rooms.stun_rto_ms must be positive",
            ),
            (
                set("ice_keepalive_ms = 2000", "ice_keepalive_ms = 0"),
                "rooms.ice_keepalive_ms must be positive",
            ),
            (
                set("ice_failed_timeout_ms = 25000", "ice_failed_timeout_ms = 0"),
                "rooms.ice_failed_timeout_ms must be positive",
            ),
            (
                set("ice_keepalive_ms = 2000", "ice_keepalive_ms = 5000"),
                "rooms.ice_keepalive_ms must be below",
            ),
            (
                set(
                    "ice_relay_acceptance_wait_ms = 2000",
                    "ice_relay_acceptance_wait_ms = 0",
                ),
                "rooms.ice_relay_acceptance_wait_ms must be positive",
            ),
        ];
        for (text, expected) in cases {
            let err = format!("{:#}", Config::from_toml(&text, "test").unwrap_err());
            assert!(err.contains(expected), "{expected}: {err}");
        }
    }

    #[test]
    fn unknown_keys_are_errors() {
        let text = DEFAULT_CONFIG.replace("t1_ms = 500", "t1_msec = 500");
        let err = Config::from_toml(&text, "test").unwrap_err();
        assert!(format!("{err:#}").contains("t1_msec"), "{err:#}");
    }

    #[test]
    fn short_secret_is_refused_without_printing_it() {
        let text = DEFAULT_CONFIG.replace(
            "devkey = \"devsecret-devsecret-devsecret-devsecret\"",
            "devkey = \"short-secret\"",
        );
        let err = format!("{:#}", Config::from_toml(&text, "test").unwrap_err());
        assert!(err.contains("api.keys.devkey"), "{err}");
        assert!(!err.contains("short-secret"), "{err}");
    }

    /// `[rooms]` keys left out take `RoomsConfig::default()`: the same values as the
    /// documented embedded configuration, so the two cannot drift apart.
    #[test]
    fn rooms_defaults_are_the_embedded_configs_values() {
        let embedded = Config::embedded_default().expect("default config").rooms;
        assert_eq!(
            format!("{:?}", RoomsConfig::default()),
            format!("{embedded:?}")
        );
    }

    #[test]
    fn worker_priority_is_a_sched_fifo_priority_or_zero() {
        let priority = |text: &str| {
            Config::from_toml(text, "test")
                .expect("valid")
                .rtp
                .worker_priority
        };
        let ok = DEFAULT_CONFIG.replace("worker_priority = 0", "worker_priority = 99");
        assert_eq!(priority(&ok), 99);
        let bad = DEFAULT_CONFIG.replace("worker_priority = 0", "worker_priority = 100");
        let err = format!("{:#}", Config::from_toml(&bad, "test").unwrap_err());
        assert!(err.contains("rtp.worker_priority"), "{err}");
        // Left out, it is 0 (older configs stay valid).
        let old = DEFAULT_CONFIG.replace("worker_priority = 0\n", "");
        assert_ne!(old, DEFAULT_CONFIG);
        assert_eq!(priority(&old), 0);
    }

    #[test]
    fn ringback_is_us_or_eu() {
        let tone = |text: &str| Config::from_toml(text, "test").map(|c| c.rtp.ringback);
        assert_eq!(tone(DEFAULT_CONFIG).expect("default"), RingbackTone::Us);
        let eu = DEFAULT_CONFIG.replace("ringback = \"us\"", "ringback = \"eu\"");
        assert_ne!(eu, DEFAULT_CONFIG);
        assert_eq!(tone(&eu).expect("eu"), RingbackTone::Eu);
        assert_eq!(
            RingbackTone::Eu.spec(),
            rtp_relay::tone::ToneSpec::ringback_eu()
        );
        let uk = DEFAULT_CONFIG.replace("ringback = \"us\"", "ringback = \"uk\"");
        let err = format!("{:#}", tone(&uk).expect_err("unknown tone"));
        assert!(err.contains("uk"), "{err}");
        // Left out, it is the US tone (older configs stay valid).
        let old = DEFAULT_CONFIG.replace("ringback = \"us\"\n", "");
        assert_ne!(old, DEFAULT_CONFIG);
        assert_eq!(tone(&old).expect("old"), RingbackTone::Us);
    }

    #[test]
    fn bad_port_range_and_duplicate_trunks_are_refused() {
        let text = DEFAULT_CONFIG.replace("[10000, 20000]", "[20000, 10000]");
        assert!(Config::from_toml(&text, "test").is_err());

        let dup = format!(
            "{DEFAULT_CONFIG}\n[[outbound_trunks]]\nsip_trunk_id = \"ST_local\"\naddress = \"127.0.0.1:5090\"\n"
        );
        let err = format!("{:#}", Config::from_toml(&dup, "test").unwrap_err());
        assert!(
            err.contains("\"ST_local\" and \"ST_local\" conflict"),
            "{err}"
        );
    }
}
