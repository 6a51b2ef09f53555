//! A tiny deterministic generator, shared by the backoff's jitter and the loopback server's
//! fault injector.

/// A splitmix64 generator: tiny, deterministic, good enough for jitter and for deciding faults.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability `p` (NaN: never).
    #[cfg_attr(not(feature = "loopback"), allow(dead_code))]
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        // 53 random bits as a float in [0, 1).
        let x = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        x < p
    }

    /// A number in `0..=max`.
    #[cfg_attr(not(feature = "loopback"), allow(dead_code))]
    pub(crate) fn up_to(&mut self, max: u64) -> u64 {
        let draw = self.next_u64();
        match max.checked_add(1) {
            Some(n) => draw % n,
            None => draw,
        }
    }
}
