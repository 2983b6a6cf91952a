//! Starting and stopping the whole gateway: SIP shell, rooms, calls, API, health.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use room_link::RoomLink;
use room_link::embedded::{EmbeddedConfig, EmbeddedRooms};
use room_link::rtp::{RtpLinkConfig, RtpRooms};
use room_link::webrtc::{ApiCredentials, WebRtcLinkConfig, WebRtcRooms};
use tokio::sync::mpsc;

use crate::call::Gateway;
use crate::config::{Config, RoomKind};
use crate::health;
use crate::sip::shell::{self, ShellConfig};

/// Depth of the queue of SIP events from the stack to the call router.
const SIP_EVENT_QUEUE: usize = 16_384;

/// Runs the gateway until `shutdown` resolves.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<()> {
    let config = Arc::new(config);
    let metrics = health::install_metrics()?;
    let readiness = Arc::new(health::Readiness::default());

    let sip_cfg = &config.sip;
    let shell_config = ShellConfig {
        listen: sip_cfg.listen,
        udp_recv_buffer: sip_cfg.udp_recv_buffer,
        tcp_idle_timeout: Duration::from_secs(sip_cfg.tcp_idle_timeout_s),
        tcp_connect_timeout: Duration::from_millis(sip_cfg.t1_ms * 64),
        limits: sip_message::Limits {
            max_message_size: sip_cfg.max_message_size,
            ..sip_message::Limits::default()
        },
    };
    let endpoint_config = {
        let cfg = config.clone();
        move |local: std::net::SocketAddr| {
            let mut ep = sip_core::Config::new(local.ip().to_string(), local.port());
            ep.t1 = Duration::from_millis(cfg.sip.t1_ms);
            ep.t2 = Duration::from_millis(cfg.sip.t2_ms);
            ep.t4 = Duration::from_millis(cfg.sip.t4_ms);
            ep.max_calls = cfg.sip.max_calls;
            sip_core::Endpoint::new(ep, seed())
        }
    };
    let (events_tx, events) = mpsc::channel(SIP_EVENT_QUEUE);
    let sip = shell::start(shell_config, endpoint_config, events_tx).await?;

    let rooms = room_link(&config);
    let catalog = control::Catalog::open(config.data.dir.as_deref(), config.catalog_entries())
        .with_context(|| match &config.data.dir {
            Some(dir) => format!(
                "cannot open the trunk and dispatch-rule catalog in {}",
                dir.display()
            ),
            None => "invalid trunks or dispatch rules".to_owned(),
        })?;
    let gateway = Gateway::new(config.clone(), catalog.clone(), sip.clone(), rooms, seed())?;
    tokio::spawn(gateway.clone().run_events(events));

    let api = &config.api;
    let api_config = control::ApiConfig {
        keys: api.keys.clone(),
        timings: control::ApiTimings {
            setup_allowance: Duration::from_millis(api.setup_allowance_ms),
            answer_margin: Duration::from_millis(api.answer_margin_ms),
        },
        max_body_bytes: api.max_body_bytes,
        idempotency_max_entries: api.idempotency_max_entries,
        idempotency_retention: Duration::from_secs(api.idempotency_retention_s),
    };
    let api_listener = tokio::net::TcpListener::bind(api.listen)
        .await
        .with_context(|| format!("cannot listen for the API on {}", api.listen))?;
    let api_router = control::router(gateway.clone(), catalog, api_config);
    // No timeout layer: a synchronous create legitimately lasts ringing_timeout + setup.
    let api_server = axum::serve(api_listener, api_router);

    let health_listener = health::bind(config.http.listen).await?;
    let health_server = health::serve(health_listener, health::router(metrics, readiness.clone()));
    tracing::info!(
        sip = %sip.local_addr(),
        api = %api.listen,
        http = %config.http.listen,
        "sipbridge started"
    );

    tokio::select! {
        result = api_server => result.context("API server")?,
        result = health_server => result?,
        () = shutdown => {
            readiness.set_draining();
            tracing::info!("shutting down");
        }
    }
    Ok(())
}

/// The room link `[rooms]` names.
fn room_link(config: &Config) -> Arc<dyn RoomLink> {
    let rooms = &config.rooms;
    let join_timeout = Duration::from_millis(rooms.join_timeout_ms);
    let leave_timeout = Duration::from_millis(rooms.leave_timeout_ms);
    match rooms.kind {
        RoomKind::Embedded => Arc::new(EmbeddedRooms::new(EmbeddedConfig {
            seed: seed(),
            ..EmbeddedConfig::default()
        })),
        RoomKind::Rtp => {
            let mut cfg = RtpLinkConfig::new(rooms.url.clone(), config.rtp.address);
            cfg.bearer_token = Some(rooms.bearer_token.clone()).filter(|t| !t.is_empty());
            cfg.join_timeout = join_timeout;
            cfg.leave_timeout = leave_timeout;
            cfg.media_timeout =
                Some(Duration::from_secs(rooms.media_timeout_s)).filter(|d| !d.is_zero());
            cfg.seed = seed();
            Arc::new(RtpRooms::new(cfg))
        }
        RoomKind::Webrtc => {
            let mut cfg = WebRtcLinkConfig::new(rooms.url.clone(), config.rtp.address);
            cfg.credentials = config
                .api
                .keys
                .get(&rooms.token_key)
                .map(|secret| ApiCredentials {
                    key: rooms.token_key.clone(),
                    secret: secret.clone(),
                });
            cfg.token_ttl = Duration::from_secs(rooms.token_ttl_s);
            cfg.stun_servers = rooms.stun_servers.clone();
            // Addresses were checked by `Config::validate`.
            cfg.turn_servers = rooms
                .turn_servers
                .iter()
                .filter_map(|t| {
                    Some(room_link::webrtc::TurnServer {
                        address: t.socket_addr()?,
                        username: t.username.clone(),
                        credential: t.credential.clone(),
                    })
                })
                .collect();
            cfg.turn_timeout = Duration::from_millis(rooms.turn_timeout_ms);
            cfg.stun_timeout = Duration::from_millis(rooms.stun_timeout_ms);
            cfg.stun_rto = Duration::from_millis(rooms.stun_rto_ms);
            cfg.ice_keepalive_interval = Duration::from_millis(rooms.ice_keepalive_ms);
            cfg.ice_disconnected_timeout = Duration::from_millis(rooms.ice_disconnected_timeout_ms);
            cfg.ice_failed_timeout = Duration::from_millis(rooms.ice_failed_timeout_ms);
            cfg.ice_relay_acceptance_wait =
                Duration::from_millis(rooms.ice_relay_acceptance_wait_ms);
            cfg.ice_transport_policy = match rooms.ice_transport_policy {
                crate::config::IcePolicy::All => room_link::webrtc::IceTransportPolicy::All,
                crate::config::IcePolicy::Relay => room_link::webrtc::IceTransportPolicy::Relay,
            };
            cfg.join_timeout = join_timeout;
            cfg.leave_timeout = leave_timeout;
            cfg.seed = seed();
            Arc::new(WebRtcRooms::new(cfg))
        }
    }
}

/// A seed for the sans-IO cores' RNGs, from the OS (through std's randomly keyed hasher).
fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id().into());
    h.finish()
}
