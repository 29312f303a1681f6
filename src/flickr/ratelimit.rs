//! A token bucket for API calls (default 3,600 per hour with a burst), plus a sliding count
//! of the calls made in the last hour. With a shared budget file ([`super::budget`]) the
//! bucket and the count are the key's, across processes; without one (tests, a client with
//! no cache) they are this process's. A wait longer than [`crate::config::RATE_WAIT_NOTICE`]
//! is said in the log (at most every half minute) and shown by [`RateLimiter::waiting_for`].

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
// tokio's clock (the system clock unless a test pauses it), so waits can be tested exactly.
use tokio::time::Instant;

pub struct RateLimiter {
    per_hour: u32,
    burst: u32,
    state: Mutex<State>,
    shared: Option<super::budget::SharedBudget>,
    /// Unix seconds until which a call waits for the rate limit (0: none waits).
    waiting_until: std::sync::atomic::AtomicI64,
    last_notice: Mutex<Option<Instant>>,
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
            shared: None,
            waiting_until: Default::default(),
            last_notice: Mutex::new(None),
        }
    }

    /// The same limits, spent from the key's shared budget file at `path`.
    pub fn shared(per_hour: u32, burst: u32, path: std::path::PathBuf) -> RateLimiter {
        let mut r = RateLimiter::new(per_hour, burst);
        r.shared = Some(super::budget::SharedBudget::new(path, r.per_hour, r.burst));
        r
    }

    /// Takes a token from the shared budget when there is one; `None` when there is none or
    /// its file cannot be used (then this process's bucket decides, and a warning says so once).
    fn try_take_shared(&self) -> Option<Result<(), Duration>> {
        let shared = self.shared.as_ref()?;
        match shared.try_take(super::breaker::is_foreground()) {
            Ok(r) => {
                if r.is_ok() {
                    self.note_call();
                }
                Some(r)
            }
            Err(e) => {
                static WARNED: std::sync::Once = std::sync::Once::new();
                WARNED.call_once(|| {
                    tracing::warn!(
                        "cannot use the shared API budget file ({e}); this process counts its own calls only"
                    )
                });
                None
            }
        }
    }

    /// Remembers a call in this process's sliding count.
    fn note_call(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        s.recent.push_back(now);
        while s
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(3600))
        {
            s.recent.pop_front();
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

    /// Waits until a call may be made, saying why when that takes a while.
    pub async fn acquire(&self) {
        let start = Instant::now();
        loop {
            let r = self.try_take_shared().unwrap_or_else(|| self.try_take());
            let wait = match r {
                Ok(()) => {
                    self.waiting_until
                        .store(0, std::sync::atomic::Ordering::Relaxed);
                    return;
                }
                Err(wait) => wait.max(Duration::from_millis(1)),
            };
            let waited = start.elapsed();
            if waited + wait >= crate::config::RATE_WAIT_NOTICE {
                let until = crate::engine::now_secs() + wait.as_secs() as i64 + 1;
                self.waiting_until
                    .store(until, std::sync::atomic::Ordering::Relaxed);
                self.notice(wait);
            }
            // Another process may return tokens sooner than this one computed: look again
            // within a few seconds.
            tokio::time::sleep(wait.min(Duration::from_secs(5))).await;
        }
    }

    /// The log line of a long wait, at most every [`crate::config::RATE_WAIT_NOTICE_EVERY`].
    fn notice(&self, wait: Duration) {
        let mut last = self.last_notice.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < crate::config::RATE_WAIT_NOTICE_EVERY) {
            return;
        }
        *last = Some(now);
        drop(last);
        let shared = if self.shared.is_some() {
            " (every process using this key counts)"
        } else {
            ""
        };
        tracing::info!(
            "Waiting for the API rate limit: {} calls in the last hour of {} allowed{shared}; next call in {}s",
            self.calls_last_hour(),
            self.per_hour,
            wait.as_secs().max(1)
        );
    }

    /// When calls wait for the rate limit: how long until the next one may go.
    pub fn waiting_for(&self) -> Option<Duration> {
        let until = self
            .waiting_until
            .load(std::sync::atomic::Ordering::Relaxed);
        let now = crate::engine::now_secs();
        (until > now).then(|| Duration::from_secs((until - now) as u64))
    }

    pub fn per_hour(&self) -> u32 {
        self.per_hour
    }

    pub fn calls_last_hour(&self) -> u64 {
        if let Some(n) = self.shared.as_ref().and_then(|b| b.calls_last_hour().ok()) {
            return n;
        }
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
