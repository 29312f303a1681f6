//! A token bucket for API calls (default 3,600 per hour with a burst), plus a sliding count
//! of the calls made in the last hour.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
// tokio's clock (the system clock unless a test pauses it), so waits can be tested exactly.
use tokio::time::Instant;

pub struct RateLimiter {
    per_hour: u32,
    burst: u32,
    state: Mutex<State>,
}

struct State {
    tokens: f64,
    last: Instant,
    recent: VecDeque<Instant>,
}

impl RateLimiter {
    pub fn new(per_hour: u32, burst: u32) -> RateLimiter {
        let per_hour = per_hour.max(1);
        let burst = burst.clamp(1, per_hour);
        RateLimiter {
            per_hour,
            burst,
            state: Mutex::new(State {
                tokens: burst as f64,
                last: Instant::now(),
                recent: VecDeque::new(),
            }),
        }
    }

    fn rate_per_sec(&self) -> f64 {
        self.per_hour as f64 / 3600.0
    }

    /// Takes a token, or says how long to wait for one.
    fn try_take(&self) -> Result<(), Duration> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let elapsed = now.duration_since(s.last).as_secs_f64();
        s.tokens = (s.tokens + elapsed * self.rate_per_sec()).min(self.burst as f64);
        s.last = now;
        if s.tokens >= 1.0 {
            s.tokens -= 1.0;
            s.recent.push_back(now);
            while s
                .recent
                .front()
                .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(3600))
            {
                s.recent.pop_front();
            }
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - s.tokens) / self.rate_per_sec(),
            ))
        }
    }

    /// Waits until a call may be made.
    pub async fn acquire(&self) {
        loop {
            match self.try_take() {
                Ok(()) => return,
                Err(wait) => tokio::time::sleep(wait.max(Duration::from_millis(1))).await,
            }
        }
    }

    pub fn calls_last_hour(&self) -> u64 {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        while s
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(3600))
        {
            s.recent.pop_front();
        }
        s.recent.len() as u64
    }

    /// Calls still allowed this hour under the configured budget.
    pub fn calls_left_this_hour(&self) -> u64 {
        (self.per_hour as u64).saturating_sub(self.calls_last_hour())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill_rate() {
        let r = RateLimiter::new(3600, 3);
        assert!(r.try_take().is_ok());
        assert!(r.try_take().is_ok());
        assert!(r.try_take().is_ok());
        let wait = r.try_take().unwrap_err();
        assert!(
            wait <= Duration::from_millis(1000) && wait > Duration::from_millis(900),
            "{wait:?}"
        );
        assert_eq!(r.calls_last_hour(), 3);
        assert_eq!(r.calls_left_this_hour(), 3597);
    }

    #[tokio::test(start_paused = true)]
    async fn acquire_waits_for_a_token() {
        let r = RateLimiter::new(36_000, 1); // 10 per second
        r.acquire().await;
        let t = Instant::now();
        r.acquire().await;
        let waited = t.elapsed();
        assert!(
            (Duration::from_millis(100)..Duration::from_millis(102)).contains(&waited),
            "{waited:?}"
        );
        assert_eq!(r.calls_last_hour(), 2);
        // An hour later the calls are forgotten and the burst is back.
        tokio::time::advance(Duration::from_secs(3601)).await;
        assert_eq!(r.calls_last_hour(), 0);
        let t = Instant::now();
        r.acquire().await;
        assert_eq!(t.elapsed(), Duration::ZERO);
    }
}
