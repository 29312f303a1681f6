//! Exponential back-off with full jitter, shared by the REST client and the image downloads:
//! attempt `n` waits a random time in `[0, min(base * 2^n, max)]`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Back-off settings: the first delay's cap and the largest cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    pub const fn new(base: Duration, max: Duration) -> Backoff {
        Backoff { base, max }
    }

    /// The cap of attempt `attempt` (0-based): `base * 2^attempt`, at most `max`.
    pub fn cap(&self, attempt: u32) -> Duration {
        self.base
            .saturating_mul(1u32 << attempt.min(20))
            .min(self.max)
    }

    /// How long to wait before retry number `attempt + 1`.
    pub fn delay(&self, attempt: u32) -> Duration {
        jitter(self.cap(attempt))
    }
}

/// A uniformly random duration in `[0, max]` (xorshift64*, seeded from the clock: enough to
/// spread retries, no PRNG crate needed).
pub fn jitter(max: Duration) -> Duration {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        x = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15)
            | 1;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    STATE.store(x, Ordering::Relaxed);
    let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
    let ms = max.as_millis() as u64;
    Duration::from_millis(if ms == 0 { 0 } else { r % (ms + 1) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_capped() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(b.cap(0), Duration::from_millis(100));
        assert_eq!(b.cap(3), Duration::from_millis(800));
        assert_eq!(b.cap(10), Duration::from_secs(1));
        for attempt in 0..12 {
            let d = b.delay(attempt);
            assert!(d <= b.cap(attempt), "{d:?}");
        }
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }
}
