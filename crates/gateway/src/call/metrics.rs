//! Call metrics (Prometheus names; histogram buckets are set in [`crate::health`]).
//!
//! What users feel is first-class (DESIGN.md §6): ring duration by outcome and cause, answer
//! delay, post-dial delay, call duration, and every end by cause, SIP code and timeout cause.

use std::time::Duration;

use control::TimeoutCause;
use control::service::EndCause;

/// Calls started, by direction.
pub fn call_started(direction: &'static str) {
    metrics::counter!("sipbridge_calls_started_total", "direction" => direction).increment(1);
    metrics::gauge!("sipbridge_calls_active", "direction" => direction).increment(1.0);
}

/// A call ended.
pub fn call_ended(
    direction: &'static str,
    cause: EndCause,
    sip_code: Option<u16>,
    timeout: Option<TimeoutCause>,
) {
    metrics::counter!(
        "sipbridge_calls_ended_total",
        "direction" => direction,
        "outcome" => cause.as_str(),
        "sip_code" => sip_code.map_or_else(|| "none".to_owned(), |c| c.to_string()),
        "timeout_cause" => timeout.map_or("none", TimeoutCause::as_str),
    )
    .increment(1);
}

/// The call left the active set (after [`call_started`]).
pub fn call_inactive(direction: &'static str) {
    metrics::gauge!("sipbridge_calls_active", "direction" => direction).decrement(1.0);
}

/// How long the callee rang, by how the ringing ended.
pub fn ring_duration(outcome: &'static str, timeout: Option<TimeoutCause>, ring: Duration) {
    metrics::histogram!(
        "sipbridge_ring_duration_seconds",
        "outcome" => outcome,
        "timeout_cause" => timeout.map_or("none", TimeoutCause::as_str),
    )
    .record(ring.as_secs_f64());
}

/// INVITE → 2xx.
pub fn answer_delay(delay: Duration) {
    metrics::histogram!("sipbridge_answer_delay_seconds").record(delay.as_secs_f64());
}

/// INVITE → first 18x.
pub fn post_dial_delay(delay: Duration) {
    metrics::histogram!("sipbridge_post_dial_delay_seconds").record(delay.as_secs_f64());
}

/// Answer → end.
pub fn call_duration(duration: Duration) {
    metrics::histogram!("sipbridge_call_duration_seconds").record(duration.as_secs_f64());
}

/// An inbound call refused, by reason.
pub fn inbound_refused(reason: &'static str) {
    metrics::counter!("sipbridge_inbound_refused_total", "reason" => reason).increment(1);
}

/// A transfer (REFER) ended, by outcome (`succeeded`, `refused`, `failed`,
/// `ring_no_answer`, `sip_timer_f`, `subscription_terminated`, `call_ended`); the duration
/// runs from the REFER to the outcome.
pub fn transfer_ended(outcome: &'static str, took: Duration) {
    metrics::counter!("sipbridge_transfers_total", "outcome" => outcome).increment(1);
    metrics::histogram!("sipbridge_transfer_duration_seconds", "outcome" => outcome)
        .record(took.as_secs_f64());
}
