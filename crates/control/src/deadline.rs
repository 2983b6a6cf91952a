//! One deadline per request, made once at the API edge, that only shrinks.
//!
//! DESIGN.md §"Why timeouts are the heart of this design": a hidden 3 s RPC default
//! once cut every synchronous create short. Here the budget of a request is computed
//! from the request itself ([`ApiTimings::deadline_for_create`]), every hop receives
//! a [`Deadline`] as a required argument, and a hop can only derive a *shorter* child
//! ([`Deadline::child`], [`Deadline::min`]); there is no operation that lengthens one.
//! On the wire it travels as the remaining budget in milliseconds, so clock skew
//! between nodes does not matter.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::error::TwirpCode;

/// The absolute instant by which a request must be answered.
///
/// Deliberately not `Default` and never optional: a hop that has no deadline is a bug.
/// Built from `now` arguments so tests can use explicit instants or tokio's paused
/// clock (`tokio::time::Instant::now().into_std()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Deadline {
    at: Instant,
}

impl Deadline {
    /// The longest budget a deadline can carry (7 days). Longer budgets — e.g. an
    /// absurd `X-Deadline-Ms` — are clamped to it, which keeps `Instant` arithmetic
    /// from overflowing; it is far above any budget the API computes
    /// (`ringing_timeout` is at most 10 minutes).
    pub const MAX_BUDGET: Duration = Duration::from_secs(7 * 24 * 3600);

    /// A deadline `budget` after `now` (clamped to [`Deadline::MAX_BUDGET`]).
    pub fn after(now: Instant, budget: Duration) -> Self {
        let budget = budget.min(Self::MAX_BUDGET);
        // `Instant + 7 days` cannot overflow on any supported platform; fall back to
        // `now` (an already expired deadline) rather than panic if it ever did.
        let at = now.checked_add(budget).unwrap_or(now);
        Self { at }
    }

    /// Decodes the wire form: `ms` milliseconds remaining as of `now` (the receiver's
    /// clock — the sender's clock never crosses the wire).
    pub fn from_wire_ms(now: Instant, ms: u64) -> Self {
        Self::after(now, Duration::from_millis(ms))
    }

    /// The wire form: whole milliseconds remaining as of `now`, rounded down so the
    /// receiver never believes it has more time than the sender did; 0 once expired.
    pub fn to_wire_ms(&self, now: Instant) -> u64 {
        u64::try_from(self.remaining(now).as_millis()).unwrap_or(u64::MAX)
    }

    /// The absolute instant, for `tokio::time::sleep_until` and friends.
    pub fn instant(&self) -> Instant {
        self.at
    }

    /// Time left as of `now`; zero once expired.
    pub fn remaining(&self, now: Instant) -> Duration {
        self.at.saturating_duration_since(now)
    }

    /// Whether the deadline has passed as of `now` (reaching it counts as passed).
    pub fn expired(&self, now: Instant) -> bool {
        now >= self.at
    }

    /// A child deadline for a sub-step that should take at most `max` from `now`:
    /// the earlier of `self` and `now + max`. Never later than `self`.
    #[must_use]
    pub fn child(&self, now: Instant, max: Duration) -> Self {
        (*self).min(Self::after(now, max))
    }

    /// The earlier of two deadlines.
    #[must_use]
    pub fn min(self, other: Self) -> Self {
        if other.at < self.at { other } else { self }
    }
}

/// Why something timed out. Every timeout error carries one (in the Twirp error
/// `meta` as `timeout_cause`, in logs, as a metrics label), which is what lets a
/// caller tell "no answer" from "internal deadline" from "carrier 408".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimeoutCause {
    /// The callee rang for the full `ringing_timeout` without answering; the call's
    /// own ringing timer fired (then CANCEL, RFC 3261 §9.1).
    RingNoAnswer,
    /// The caller's deadline (the request's [`Deadline`], possibly shortened by
    /// `X-Deadline-Ms`) ran out before the operation finished.
    CallerDeadline,
    /// No final response to the INVITE within Timer B (64·T1, RFC 3261 §17.1.1.2).
    SipTimerB,
    /// No response to a request inside the call (e.g. a transfer's REFER) within Timer F
    /// (64·T1, RFC 3261 §17.1.2.2); the dialog ends with it (§12.2.1.2).
    SipTimerF,
    /// No media (RTP) arrived for the configured media timeout.
    MediaTimeout,
    /// The call reached its `max_call_duration`.
    MaxDuration,
    /// The caller's declared budget is shorter than the request itself needs
    /// (e.g. below `ringing_timeout` for a synchronous create); refused before dialing.
    BudgetTooSmall,
    /// No node accepted the call in time (scale-out: bus request without a taker).
    NoNodeAvailable,
}

impl TimeoutCause {
    /// All causes, for tables and metrics pre-registration.
    pub const ALL: [TimeoutCause; 8] = [
        Self::RingNoAnswer,
        Self::CallerDeadline,
        Self::SipTimerB,
        Self::SipTimerF,
        Self::MediaTimeout,
        Self::MaxDuration,
        Self::BudgetTooSmall,
        Self::NoNodeAvailable,
    ];

    /// The snake_case name used in `meta.timeout_cause`, logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RingNoAnswer => "ring_no_answer",
            Self::CallerDeadline => "caller_deadline",
            Self::SipTimerB => "sip_timer_b",
            Self::SipTimerF => "sip_timer_f",
            Self::MediaTimeout => "media_timeout",
            Self::MaxDuration => "max_duration",
            Self::BudgetTooSmall => "budget_too_small",
            Self::NoNodeAvailable => "no_node_available",
        }
    }

    /// The Twirp code an API error with this cause carries.
    ///
    /// `BudgetTooSmall` is the caller's own inconsistency (a 400, never retried as
    /// is); `NoNodeAvailable` is capacity (503, retry elsewhere); every other cause is
    /// a genuine timeout (408) told apart by `meta.timeout_cause`.
    pub fn twirp_code(self) -> TwirpCode {
        match self {
            Self::BudgetTooSmall => TwirpCode::InvalidArgument,
            Self::NoNodeAvailable => TwirpCode::Unavailable,
            Self::RingNoAnswer
            | Self::CallerDeadline
            | Self::SipTimerB
            | Self::SipTimerF
            | Self::MediaTimeout
            | Self::MaxDuration => TwirpCode::DeadlineExceeded,
        }
    }
}

impl fmt::Display for TimeoutCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a [`TimeoutCause`] name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown timeout cause {0:?}")]
pub struct UnknownTimeoutCause(pub String);

impl FromStr for TimeoutCause {
    type Err = UnknownTimeoutCause;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownTimeoutCause(s.to_owned()))
    }
}

/// The allowances the API adds around a request's own timers to build its
/// [`Deadline`]. Both come from the gateway's config (named, documented keys);
/// this crate has no default for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiTimings {
    /// Time to pick a node, allocate media, send the INVITE and join the room leg.
    /// The whole budget of an asynchronous create, hangup, list and get.
    pub setup_allowance: Duration,
    /// Slack after the ringing timer fires for a synchronous create to report the
    /// outcome (the CANCEL handshake itself finishes in the background).
    pub answer_margin: Duration,
}

impl ApiTimings {
    /// The deadline of a `CreateSIPParticipant` (and of a transfer, which also rings):
    /// synchronous (`wait_until_answered`) = `setup_allowance + ringing_timeout +
    /// answer_margin`; asynchronous = `setup_allowance`.
    pub fn deadline_for_create(
        &self,
        now: Instant,
        ringing_timeout: Duration,
        wait_until_answered: bool,
    ) -> Deadline {
        Deadline::after(
            now,
            self.create_budget(ringing_timeout, wait_until_answered),
        )
    }

    /// The budget [`ApiTimings::deadline_for_create`] grants.
    pub fn create_budget(&self, ringing_timeout: Duration, wait_until_answered: bool) -> Duration {
        if wait_until_answered {
            self.setup_allowance
                .saturating_add(ringing_timeout)
                .saturating_add(self.answer_margin)
        } else {
            self.setup_allowance
        }
    }

    /// The smallest caller-declared budget (`X-Deadline-Ms`) a synchronous create can
    /// work with: `setup_allowance + ringing_timeout`. Anything shorter would cut the
    /// ring short, so it is refused up front with [`TimeoutCause::BudgetTooSmall`].
    pub fn min_sync_budget(&self, ringing_timeout: Duration) -> Duration {
        self.setup_allowance.saturating_add(ringing_timeout)
    }

    /// The deadline of a short operation (list, get, hangup): `setup_allowance`.
    pub fn deadline_for_short_op(&self, now: Instant) -> Deadline {
        Deadline::after(now, self.setup_allowance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timings() -> ApiTimings {
        ApiTimings {
            setup_allowance: Duration::from_secs(5),
            answer_margin: Duration::from_secs(1),
        }
    }

    #[test]
    fn sync_create_budget_covers_setup_ring_and_margin() {
        let now = Instant::now();
        let d = timings().deadline_for_create(now, Duration::from_secs(30), true);
        assert_eq!(d.remaining(now), Duration::from_secs(36));
        let d = timings().deadline_for_create(now, Duration::from_secs(600), true);
        assert_eq!(d.remaining(now), Duration::from_secs(606));
    }

    #[test]
    fn async_create_budget_is_setup_only() {
        let now = Instant::now();
        let d = timings().deadline_for_create(now, Duration::from_secs(30), false);
        assert_eq!(d.remaining(now), Duration::from_secs(5));
    }

    #[test]
    fn children_only_shrink() {
        let now = Instant::now();
        let parent = Deadline::after(now, Duration::from_secs(10));
        let longer = parent.child(now, Duration::from_secs(60));
        assert_eq!(longer, parent, "a child asking for more gets the parent");
        let shorter = parent.child(now, Duration::from_secs(2));
        assert_eq!(shorter.remaining(now), Duration::from_secs(2));
        assert_eq!(parent.min(shorter), shorter);
        assert_eq!(shorter.min(parent), shorter);
        // Later children, made further along, still cannot outlive the parent.
        let later = now + Duration::from_secs(9);
        assert_eq!(parent.child(later, Duration::from_secs(5)), parent);
    }

    #[test]
    fn remaining_and_expiry() {
        let now = Instant::now();
        let d = Deadline::after(now, Duration::from_millis(1500));
        assert!(!d.expired(now));
        assert_eq!(
            d.remaining(now + Duration::from_millis(500)),
            Duration::from_secs(1)
        );
        assert!(d.expired(now + Duration::from_millis(1500)));
        assert_eq!(d.remaining(now + Duration::from_secs(2)), Duration::ZERO);
    }

    #[test]
    fn wire_form_is_remaining_milliseconds_and_round_trips() {
        let sender_now = Instant::now();
        let d = Deadline::after(sender_now, Duration::from_millis(36_000));
        let later = sender_now + Duration::from_micros(2_500_700);
        let ms = d.to_wire_ms(later);
        assert_eq!(ms, 33_499, "rounded down");
        // The receiver's clock may be anywhere: only the remaining budget matters.
        let receiver_now = Instant::now() + Duration::from_secs(1000);
        let r = Deadline::from_wire_ms(receiver_now, ms);
        assert_eq!(r.remaining(receiver_now), Duration::from_millis(33_499));
        assert_eq!(d.to_wire_ms(sender_now + Duration::from_secs(40)), 0);
    }

    #[test]
    fn absurd_budgets_are_clamped() {
        let now = Instant::now();
        let d = Deadline::from_wire_ms(now, u64::MAX);
        assert_eq!(d.remaining(now), Deadline::MAX_BUDGET);
    }

    #[test]
    fn min_sync_budget_is_setup_plus_ring() {
        assert_eq!(
            timings().min_sync_budget(Duration::from_secs(30)),
            Duration::from_secs(35)
        );
    }

    #[test]
    fn timeout_cause_names_round_trip() {
        let names: Vec<_> = TimeoutCause::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            names,
            [
                "ring_no_answer",
                "caller_deadline",
                "sip_timer_b",
                "sip_timer_f",
                "media_timeout",
                "max_duration",
                "budget_too_small",
                "no_node_available"
            ]
        );
        for c in TimeoutCause::ALL {
            assert_eq!(c.as_str().parse::<TimeoutCause>(), Ok(c));
            assert_eq!(c.to_string(), c.as_str());
        }
        assert!("ring".parse::<TimeoutCause>().is_err());
    }

    #[test]
    fn timeout_cause_codes() {
        assert_eq!(
            TimeoutCause::RingNoAnswer.twirp_code(),
            TwirpCode::DeadlineExceeded
        );
        assert_eq!(
            TimeoutCause::BudgetTooSmall.twirp_code(),
            TwirpCode::InvalidArgument
        );
        assert_eq!(
            TimeoutCause::NoNodeAvailable.twirp_code(),
            TwirpCode::Unavailable
        );
    }
}
