//! How long the sync task waits before trying again: exponential, capped, with jitter.

use std::time::Duration;

use crate::rng::SplitMix64;

/// Exponential backoff with "equal jitter": the n-th wait in a row is drawn from
/// `[d/2, d]` where `d = initial × 2ⁿ`, capped at `max`. Jitter spreads the retries of many
/// devices that failed together (a server restart) instead of having them retry in step.
/// It is drawn from a seeded generator, or turned off, so a run can be replayed.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
    jitter: Option<SplitMix64>,
}

impl Backoff {
    /// Waits from `initial` doubling up to `max`; jittered from `seed` when given.
    pub(crate) fn new(initial: Duration, max: Duration, seed: Option<u64>) -> Self {
        Self {
            initial,
            max: max.max(initial),
            next: initial,
            jitter: seed.map(SplitMix64),
        }
    }

    /// The wait before the next attempt; the one after it doubles.
    pub(crate) fn next_wait(&mut self) -> Duration {
        let full = self.next;
        self.next = full.saturating_mul(2).min(self.max);
        match &mut self.jitter {
            None => full,
            Some(rng) => {
                let half = full / 2;
                let spread = u64::try_from((full - half).as_nanos()).unwrap_or(u64::MAX);
                let extra = if spread == 0 {
                    0
                } else {
                    rng.next_u64() % (spread + 1)
                };
                half + Duration::from_nanos(extra)
            }
        }
    }

    /// After a success: the next failure waits `initial` again.
    pub(crate) fn reset(&mut self) {
        self.next = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(10 * MS, 45 * MS, None);
        let waits: Vec<Duration> = (0..5).map(|_| b.next_wait()).collect();
        assert_eq!(waits, [10 * MS, 20 * MS, 40 * MS, 45 * MS, 45 * MS]);
        b.reset();
        assert_eq!(b.next_wait(), 10 * MS);
    }

    #[test]
    fn jitter_stays_in_the_upper_half_and_replays_from_its_seed() {
        let draw = |seed| {
            let mut b = Backoff::new(100 * MS, 10_000 * MS, Some(seed));
            (0..8).map(|_| b.next_wait()).collect::<Vec<_>>()
        };
        let a = draw(7);
        assert_eq!(a, draw(7));
        assert_ne!(a, draw(8));
        let mut full = 100 * MS;
        for wait in a {
            assert!(
                wait >= full / 2 && wait <= full,
                "{wait:?} outside [{:?}, {full:?}]",
                full / 2
            );
            full = (full * 2).min(10_000 * MS);
        }
    }
}
