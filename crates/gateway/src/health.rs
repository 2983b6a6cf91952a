//! `/healthz`, `/readyz` and `/metrics` on the `[http] listen` address.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Histogram buckets in seconds for ring, answer, post-dial and setup durations: fine below
/// one second, then up to the longest ringing timeouts seen in practice (10 min).
const RING_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 45.0, 60.0, 90.0,
    120.0, 180.0, 300.0, 600.0,
];
/// Buckets in seconds for call durations (up to the 24 h default cap).
const CALL_BUCKETS: &[f64] = &[
    1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0,
];

/// Readiness as seen by `/readyz`.
#[derive(Debug, Default)]
pub struct Readiness {
    draining: AtomicBool,
}

impl Readiness {
    /// Marks the node as draining: `/readyz` answers 503 from now on.
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    fn ready(&self) -> bool {
        !self.draining.load(Ordering::Relaxed)
    }
}

/// Installs the global Prometheus recorder with explicit buckets.
pub fn install_metrics() -> Result<PrometheusHandle> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_duration_seconds".into()), CALL_BUCKETS)?
        .set_buckets_for_metric(
            Matcher::Full("sipbridge_ring_duration_seconds".into()),
            RING_BUCKETS,
        )?
        .set_buckets_for_metric(
            Matcher::Full("sipbridge_answer_delay_seconds".into()),
            RING_BUCKETS,
        )?
        .set_buckets_for_metric(
            Matcher::Full("sipbridge_post_dial_delay_seconds".into()),
            RING_BUCKETS,
        )?
        // A transfer lasts about as long as its target rings.
        .set_buckets_for_metric(
            Matcher::Full("sipbridge_transfer_duration_seconds".into()),
            RING_BUCKETS,
        )?
        .install_recorder()
        .context("installing the Prometheus recorder")
}

/// The health and metrics router.
pub fn router(metrics: PrometheusHandle, readiness: Arc<Readiness>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(|State(r): State<Arc<Readiness>>| async move {
                if r.ready() {
                    (StatusCode::OK, "ready\n")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "draining\n")
                }
            }),
        )
        .with_state(readiness)
        .route(
            "/metrics",
            get(move || std::future::ready(metrics.render())),
        )
}

/// Binds the health listener; serving happens in [`serve`].
pub async fn bind(listen: SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen for /healthz and /metrics on {listen}"))
}

/// Serves the router until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> Result<()> {
    axum::serve(listener, router).await.context("health server")
}
