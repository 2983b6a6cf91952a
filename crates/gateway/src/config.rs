//! The gateway's configuration file (TOML).
//!
//! Every key is documented in `configs/sipbridge.toml`, which is also the embedded default.
//! Unknown keys are errors, so a typo never silently falls back to a default; every timer value
//! the gateway uses comes from a named field here (DESIGN.md: "no hidden defaults").

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
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

        let mut seen = std::collections::BTreeSet::new();
        for trunk in &self.outbound_trunks {
            let id = &trunk.sip_trunk_id;
            ensure!(
                !id.is_empty(),
                "outbound_trunks: sip_trunk_id must not be empty"
            );
            if !seen.insert(id.as_str()) {
                bail!("outbound_trunks: duplicate sip_trunk_id {id:?}");
            }
            ensure!(
                !trunk.address.is_empty(),
                "outbound_trunks.{id}: address must not be empty"
            );
            ensure!(
                trunk.auth_password.is_empty() || !trunk.auth_username.is_empty(),
                "outbound_trunks.{id}: auth_password is set but auth_username is empty"
            );
        }
        Ok(())
    }

    /// RFC 3261 timer T1.
    pub fn t1(&self) -> Duration {
        Duration::from_millis(self.sip.t1_ms)
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

    #[test]
    fn bad_port_range_and_duplicate_trunks_are_refused() {
        let text = DEFAULT_CONFIG.replace("[10000, 20000]", "[20000, 10000]");
        assert!(Config::from_toml(&text, "test").is_err());

        let dup = format!(
            "{DEFAULT_CONFIG}\n[[outbound_trunks]]\nsip_trunk_id = \"ST_local\"\naddress = \"127.0.0.1:5090\"\n"
        );
        let err = format!("{:#}", Config::from_toml(&dup, "test").unwrap_err());
        assert!(err.contains("duplicate sip_trunk_id"), "{err}");
    }
}
