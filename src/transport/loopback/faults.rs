//! Seeded fault injection: what can go wrong between a device and the loopback server.

use crate::rng::SplitMix64;
use std::time::Duration;

/// Faults a [`LoopbackTransport`](super::LoopbackTransport) injects, drawn from a generator
/// seeded with [`seed`](Self::seed): the same seed and the same sequence of calls and events
/// give the same faults, so a failing run replays.
///
/// Probabilities are per call (or per event) in `0.0..=1.0`; values outside that range act
/// as the nearest bound, and NaN as 0. [`Faults::new`] turns everything off; set what you
/// need with the `with_` methods, or start from [`Faults::chaos`].
///
/// ```
/// use std::time::Duration;
/// use timconv::transport::loopback::Faults;
///
/// let faults = Faults::new(7)
///     .with_drop_response(0.2)
///     .with_max_delay(Duration::from_millis(5));
/// assert_eq!(faults.seed, 7);
/// assert_eq!(faults.drop_request, 0.0);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Faults {
    /// Seeds the generator that decides every fault.
    pub seed: u64,
    /// A call fails with [`TransportError::timeout`](crate::transport::TransportError::timeout)
    /// without reaching the server.
    pub drop_request: f64,
    /// A push or pull reaches the server and is applied, then fails with
    /// [`TransportError::timeout`](crate::transport::TransportError::timeout): the client
    /// retries what was already applied.
    pub drop_response: f64,
    /// The server receives a push or pull twice (the answer is the first one's).
    pub duplicate_request: f64,
    /// Each call waits a random time up to this before it reaches the server
    /// (`tokio::time::sleep`; zero: no wait).
    pub max_delay: Duration,
    /// The connection drops: the event stream ends, and the call fails with
    /// [`TransportError::disconnected`](crate::transport::TransportError::disconnected), as do
    /// up to [`disconnect_calls`](Self::disconnect_calls) following calls.
    pub disconnect: f64,
    /// After a [`disconnect`](Self::disconnect), at most this many following calls (a random
    /// number, possibly none) also fail as disconnected.
    pub disconnect_calls: u32,
    /// An event is not delivered.
    pub drop_event: f64,
    /// An event is delivered twice.
    pub duplicate_event: f64,
    /// An event is held back and delivered after the next one (swapped with it). A held event
    /// is released when the faults change and lost when the stream ends.
    pub reorder_event: f64,
}

impl Faults {
    /// No fault at all (a seed alone).
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            drop_request: 0.0,
            drop_response: 0.0,
            duplicate_request: 0.0,
            max_delay: Duration::ZERO,
            disconnect: 0.0,
            disconnect_calls: 0,
            drop_event: 0.0,
            duplicate_event: 0.0,
            reorder_event: 0.0,
        }
    }

    /// Every fault at a moderate rate, for property tests: 5% dropped requests, dropped
    /// responses, duplicated requests, and dropped, duplicated and reordered events; 2%
    /// disconnects (failing up to 2 more calls); delays up to 2 ms.
    #[must_use]
    pub fn chaos(seed: u64) -> Self {
        Self {
            seed,
            drop_request: 0.05,
            drop_response: 0.05,
            duplicate_request: 0.05,
            max_delay: Duration::from_millis(2),
            disconnect: 0.02,
            disconnect_calls: 2,
            drop_event: 0.05,
            duplicate_event: 0.05,
            reorder_event: 0.05,
        }
    }

    /// Sets [`drop_request`](Self::drop_request).
    #[must_use]
    pub fn with_drop_request(mut self, p: f64) -> Self {
        self.drop_request = p;
        self
    }

    /// Sets [`drop_response`](Self::drop_response).
    #[must_use]
    pub fn with_drop_response(mut self, p: f64) -> Self {
        self.drop_response = p;
        self
    }

    /// Sets [`duplicate_request`](Self::duplicate_request).
    #[must_use]
    pub fn with_duplicate_request(mut self, p: f64) -> Self {
        self.duplicate_request = p;
        self
    }

    /// Sets [`max_delay`](Self::max_delay).
    #[must_use]
    pub fn with_max_delay(mut self, max: Duration) -> Self {
        self.max_delay = max;
        self
    }

    /// Sets [`disconnect`](Self::disconnect) and [`disconnect_calls`](Self::disconnect_calls).
    #[must_use]
    pub fn with_disconnect(mut self, p: f64, following_calls: u32) -> Self {
        self.disconnect = p;
        self.disconnect_calls = following_calls;
        self
    }

    /// Sets [`drop_event`](Self::drop_event).
    #[must_use]
    pub fn with_drop_event(mut self, p: f64) -> Self {
        self.drop_event = p;
        self
    }

    /// Sets [`duplicate_event`](Self::duplicate_event).
    #[must_use]
    pub fn with_duplicate_event(mut self, p: f64) -> Self {
        self.duplicate_event = p;
        self
    }

    /// Sets [`reorder_event`](Self::reorder_event).
    #[must_use]
    pub fn with_reorder_event(mut self, p: f64) -> Self {
        self.reorder_event = p;
        self
    }
}

/// What happens to one call. Every call draws the same number of values whatever happens
/// to it, so that one fault does not shift the ones after it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct CallPlan {
    /// Drop the connection; `Some(n)`: n following calls fail too.
    pub(super) disconnect: Option<u32>,
    pub(super) drop_request: bool,
    pub(super) delay: Duration,
    pub(super) duplicate: bool,
    pub(super) drop_response: bool,
}

/// What happens to one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct EventPlan {
    pub(super) drop: bool,
    pub(super) duplicate: bool,
    pub(super) reorder: bool,
}

/// Faults in force on one device, with their generators: one for calls and one for events,
/// so that events (which other devices' activity causes) do not shift the faults of calls.
#[derive(Debug, Clone)]
pub(super) struct FaultState {
    faults: Faults,
    calls: SplitMix64,
    events: SplitMix64,
}

impl FaultState {
    pub(super) fn new(faults: Faults) -> Self {
        let mut seeder = SplitMix64(faults.seed);
        let calls = SplitMix64(seeder.next_u64());
        let events = SplitMix64(seeder.next_u64());
        Self {
            faults,
            calls,
            events,
        }
    }

    pub(super) fn plan_call(&mut self) -> CallPlan {
        let f = &self.faults;
        let rng = &mut self.calls;
        let disconnect = rng.chance(f.disconnect);
        let following = rng.up_to(u64::from(f.disconnect_calls));
        let drop_request = rng.chance(f.drop_request);
        let max_nanos = u64::try_from(f.max_delay.as_nanos()).unwrap_or(u64::MAX);
        let delay = rng.up_to(max_nanos);
        let duplicate = rng.chance(f.duplicate_request);
        let drop_response = rng.chance(f.drop_response);
        CallPlan {
            disconnect: disconnect.then(|| u32::try_from(following).unwrap_or(u32::MAX)),
            drop_request,
            delay: Duration::from_nanos(delay),
            duplicate,
            drop_response,
        }
    }

    pub(super) fn plan_event(&mut self) -> EventPlan {
        let f = &self.faults;
        let rng = &mut self.events;
        EventPlan {
            drop: rng.chance(f.drop_event),
            duplicate: rng.chance(f.duplicate_event),
            reorder: rng.chance(f.reorder_event),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_plans() {
        let mut a = FaultState::new(Faults::chaos(42));
        let mut b = FaultState::new(Faults::chaos(42));
        for _ in 0..1000 {
            assert_eq!(a.plan_call(), b.plan_call());
            assert_eq!(a.plan_event(), b.plan_event());
        }
    }

    #[test]
    fn nothing_without_faults_everything_at_one() {
        let mut none = FaultState::new(Faults::new(1).with_max_delay(Duration::ZERO));
        let mut all = FaultState::new(
            Faults::new(1)
                .with_drop_request(1.0)
                .with_drop_response(2.0)
                .with_duplicate_request(1.0)
                .with_disconnect(1.0, 3)
                .with_drop_event(1.0)
                .with_duplicate_event(1.0)
                .with_reorder_event(1.0),
        );
        for _ in 0..100 {
            assert_eq!(none.plan_call(), CallPlan::default());
            let nothing = EventPlan {
                drop: false,
                duplicate: false,
                reorder: false,
            };
            assert_eq!(none.plan_event(), nothing);
            let call = all.plan_call();
            assert!(call.disconnect.is_some_and(|n| n <= 3));
            assert!(call.drop_request && call.duplicate && call.drop_response);
            let event = all.plan_event();
            assert!(event.drop && event.duplicate && event.reorder);
        }
    }

    #[test]
    fn delays_stay_under_the_bound() {
        let max = Duration::from_millis(3);
        let mut s = FaultState::new(Faults::new(9).with_max_delay(max));
        let delays: Vec<_> = (0..200).map(|_| s.plan_call().delay).collect();
        assert!(delays.iter().all(|d| *d <= max));
        assert!(delays.iter().any(|d| !d.is_zero()));
    }
}
