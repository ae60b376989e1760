//! A circuit breaker on ZITADEL's reachability. While it is open, inline syncs (an API write
//! waiting for ZITADEL) fail at once instead of each waiting out the client's timeouts and
//! retries, and the background loop only probes until ZITADEL answers again.
//!
//! Reachability is all it tracks: any answer from ZITADEL (even a 4xx) proves it is reachable;
//! only connection failures, timeouts and gateway errors count against it.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Closed,
    /// Calls fail fast until `until`; then one probe may go through.
    Open {
        until: Instant,
        cooldown: Duration,
    },
    /// One probe is in flight since `since`.
    HalfOpen {
        since: Instant,
        cooldown: Duration,
    },
}

/// What a call may do right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// ZITADEL is believed reachable.
    Go,
    /// The breaker was open long enough: this call is the probe.
    Probe,
    /// Fail fast.
    Refuse,
}

#[derive(Debug)]
pub struct Breaker {
    state: Mutex<State>,
    min_cooldown: Duration,
    max_cooldown: Duration,
}

impl Breaker {
    pub fn new(min_cooldown: Duration, max_cooldown: Duration) -> Self {
        Self {
            state: Mutex::new(State::Closed),
            min_cooldown,
            max_cooldown: max_cooldown.max(min_cooldown),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a plain value: a panic elsewhere cannot leave it half-written.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn admit(&self) -> Admission {
        self.admit_at(Instant::now())
    }

    fn admit_at(&self, now: Instant) -> Admission {
        let mut state = self.lock();
        match *state {
            State::Closed => Admission::Go,
            State::Open { until, cooldown } if now >= until => {
                *state = State::HalfOpen {
                    since: now,
                    cooldown,
                };
                Admission::Probe
            }
            State::Open { .. } => Admission::Refuse,
            // A probe that never reported (its task ended without touching ZITADEL) must not
            // keep the breaker shut forever.
            State::HalfOpen { since, cooldown }
                if now.duration_since(since) >= self.max_cooldown =>
            {
                *state = State::HalfOpen {
                    since: now,
                    cooldown,
                };
                Admission::Probe
            }
            State::HalfOpen { .. } => Admission::Refuse,
        }
    }

    pub fn is_open(&self) -> bool {
        !matches!(*self.lock(), State::Closed)
    }

    /// ZITADEL answered. Returns `true` if this closed an open breaker (sync can resume).
    pub fn reachable(&self) -> bool {
        let mut state = self.lock();
        let was_open = !matches!(*state, State::Closed);
        *state = State::Closed;
        was_open
    }

    /// ZITADEL could not be reached (after the client's own retries). Opens the breaker, or
    /// keeps it open for twice as long after a failed probe.
    pub fn unreachable(&self) {
        self.unreachable_at(Instant::now());
    }

    fn unreachable_at(&self, now: Instant) {
        let mut state = self.lock();
        let cooldown = match *state {
            State::Closed => self.min_cooldown,
            State::HalfOpen { cooldown, .. } => (cooldown * 2).min(self.max_cooldown),
            // Concurrent failures while open do not extend the wait.
            State::Open { .. } => return,
        };
        *state = State::Open {
            until: now + cooldown,
            cooldown,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(1);
    const MAX: Duration = Duration::from_secs(8);

    #[test]
    fn opens_on_failure_probes_after_the_cooldown_and_backs_off() {
        let breaker = Breaker::new(MIN, MAX);
        let t0 = Instant::now();
        assert_eq!(breaker.admit_at(t0), Admission::Go);
        assert!(!breaker.is_open());

        breaker.unreachable_at(t0);
        assert!(breaker.is_open());
        assert_eq!(breaker.admit_at(t0), Admission::Refuse);
        // A second failure reported while open does not push the probe back.
        breaker.unreachable_at(t0 + Duration::from_millis(500));
        assert_eq!(breaker.admit_at(t0 + MIN), Admission::Probe);
        // Only one probe at a time.
        assert_eq!(breaker.admit_at(t0 + MIN), Admission::Refuse);

        // The probe failed: twice the cooldown.
        let t1 = t0 + MIN;
        breaker.unreachable_at(t1);
        assert_eq!(breaker.admit_at(t1 + MIN), Admission::Refuse);
        assert_eq!(breaker.admit_at(t1 + 2 * MIN), Admission::Probe);
        // Capped at the maximum.
        let mut t = t1 + 2 * MIN;
        for _ in 0..10 {
            breaker.unreachable_at(t);
            t += MAX;
            assert_eq!(breaker.admit_at(t), Admission::Probe);
        }

        // Success closes it and says so once.
        assert!(breaker.reachable());
        assert!(!breaker.reachable());
        assert_eq!(breaker.admit_at(t), Admission::Go);
        // After closing, the cooldown starts small again.
        breaker.unreachable_at(t);
        assert_eq!(breaker.admit_at(t + MIN), Admission::Probe);
    }

    #[test]
    fn a_silent_probe_does_not_keep_the_breaker_shut() {
        let breaker = Breaker::new(MIN, MAX);
        let t0 = Instant::now();
        breaker.unreachable_at(t0);
        assert_eq!(breaker.admit_at(t0 + MIN), Admission::Probe);
        assert_eq!(breaker.admit_at(t0 + MIN + MAX - MIN), Admission::Refuse);
        assert_eq!(breaker.admit_at(t0 + MIN + MAX), Admission::Probe);
    }
}
