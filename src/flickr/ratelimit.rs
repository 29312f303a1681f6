//! A token bucket for API calls (default 3,600 per hour with a burst), plus a sliding count
//! of the calls made in the last hour. With a shared budget file ([`super::budget`]) the
//! bucket and the count are the key's, across processes; without one (tests, a client with
//! no cache) they are this process's. A wait longer than [`crate::config::RATE_WAIT_NOTICE`]
//! is said in the log (at most every half minute) and shown by [`RateLimiter::waiting_for`].
//!
//! In front of the bucket, one wait queue ordered by [`Priority`] (a person's request, then
//! listing pages, then the sizes image downloads wait for, then prefetched comments), first
//! come first served within a priority: only the head of the queue takes tokens, so a lookup
//! waits at most for the calls ahead of it at its own priority, never behind the
//! prefetcher's. Background calls also leave [`super::budget::RESERVE`] of the burst to a
//! person's (in the shared budget, across processes, and in this process's own bucket
//! alike). A call with a patience ([`super::priority::with_patience`]) that would wait longer
//! is refused at once.

use super::priority::{self, Priority};
use std::collections::{BTreeSet, VecDeque};
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
    /// Calls waiting for a token, by (priority, arrival).
    queue: Mutex<Queue>,
    /// Signalled when the queue's head leaves (served or gone).
    turn: tokio::sync::Notify,
}

#[derive(Default)]
struct Queue {
    next: u64,
    waiting: BTreeSet<(Priority, u64)>,
}

/// A place in the queue; leaving it (served, refused or cancelled) wakes the others.
struct Ticket<'a> {
    limiter: &'a RateLimiter,
    key: (Priority, u64),
}

impl Ticket<'_> {
    /// Calls ahead of this one.
    fn ahead(&self) -> usize {
        let q = self.limiter.queue();
        q.waiting.range(..self.key).count()
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.limiter.queue().waiting.remove(&self.key);
        self.limiter.turn.notify_waiters();
    }
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
            queue: Mutex::new(Queue::default()),
            turn: tokio::sync::Notify::new(),
        }
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn enqueue(&self, p: Priority) -> Ticket<'_> {
        let mut q = self.queue();
        let key = (p, q.next);
        q.next += 1;
        q.waiting.insert(key);
        Ticket { limiter: self, key }
    }

    /// Calls waiting for a token now, at each priority (for tests and the status).
    pub fn waiting(&self) -> Vec<(Priority, usize)> {
        let q = self.queue();
        let mut out: Vec<(Priority, usize)> = Vec::new();
        for (p, _) in &q.waiting {
            match out.last_mut() {
                Some((last, n)) if last == p => *n += 1,
                _ => out.push((*p, 1)),
            }
        }
        out
    }

    /// The same limits, spent from the key's shared budget file at `path`.
    pub fn shared(per_hour: u32, burst: u32, path: std::path::PathBuf) -> RateLimiter {
        let mut r = RateLimiter::new(per_hour, burst);
        r.shared = Some(super::budget::SharedBudget::new(path, r.per_hour, r.burst));
        r
    }

    /// Takes a token from the shared budget when there is one; `None` when there is none or
    /// its file cannot be used (then this process's bucket decides, and a warning says so once).
    fn try_take_shared(&self, foreground: bool) -> Option<Result<(), Duration>> {
        let shared = self.shared.as_ref()?;
        match shared.try_take(foreground) {
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

    /// Takes a token, or says how long to wait for one. `foreground`: may take the reserve.
    fn try_take(&self, foreground: bool) -> Result<(), Duration> {
        let reserve = if foreground {
            0.0
        } else {
            (self.burst as f64 * super::budget::RESERVE).floor()
        };
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let elapsed = now.duration_since(s.last).as_secs_f64();
        s.tokens = (s.tokens + elapsed * self.rate_per_sec()).min(self.burst as f64);
        s.last = now;
        if s.tokens >= 1.0 + reserve {
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
                (1.0 + reserve - s.tokens) / self.rate_per_sec(),
            ))
        }
    }

    /// Waits until a call may be made, at the task's [`priority::current`], saying why when
    /// that takes a while. With a [`priority::patience`], a call that would wait longer is
    /// refused at once: `Err` says how long it would have waited.
    pub async fn acquire(&self) -> Result<(), Duration> {
        let mut prio = priority::current();
        let patience = priority::patience();
        let start = Instant::now();
        let mut ticket = self.enqueue(prio);
        loop {
            // Promoted meanwhile (a person waits for this work): to the front.
            if priority::current() != prio {
                prio = priority::current();
                ticket = self.enqueue(prio);
            }
            let foreground = prio == Priority::Fuse && !priority::is_opportunistic();
            let turn = self.turn.notified();
            tokio::pin!(turn);
            turn.as_mut().enable();
            let ahead = ticket.ahead();
            let wait = if ahead == 0 {
                let r = self
                    .try_take_shared(foreground)
                    .unwrap_or_else(|| self.try_take(foreground));
                match r {
                    Ok(()) => {
                        self.waiting_until
                            .store(0, std::sync::atomic::Ordering::Relaxed);
                        return Ok(());
                    }
                    Err(wait) => wait.max(Duration::from_millis(1)),
                }
            } else {
                // At best, each call ahead takes one refill.
                Duration::from_secs_f64(ahead as f64 / self.rate_per_sec())
            };
            let waited = start.elapsed();
            if let Some(p) = patience {
                if waited + wait > p {
                    return Err(wait);
                }
            }
            // Said by the head only: the others' wait is an estimate, and their turn may come
            // from the burst.
            if ahead == 0 && waited + wait >= crate::config::RATE_WAIT_NOTICE {
                let until = crate::engine::now_secs() + wait.as_secs() as i64 + 1;
                self.waiting_until
                    .store(until, std::sync::atomic::Ordering::Relaxed);
                self.notice(wait);
            }
            if ahead == 0 {
                // Another process may return tokens sooner than this one computed: look
                // again within a few seconds; a call of higher priority arriving meanwhile
                // becomes the head and is served first.
                tokio::select! {
                    _ = tokio::time::sleep(wait.min(Duration::from_secs(5))) => {}
                    _ = priority::promoted() => {}
                }
            } else {
                // Woken when the head leaves; a patience runs out on its own.
                let limit = patience
                    .map(|p| p.saturating_sub(waited))
                    .unwrap_or(Duration::from_secs(5))
                    .max(Duration::from_millis(1));
                tokio::select! {
                    _ = &mut turn => {}
                    _ = priority::promoted() => {}
                    _ = tokio::time::sleep(limit) => {
                        if patience.is_some_and(|p| start.elapsed() >= p) {
                            return Err(wait);
                        }
                    }
                }
            }
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
        assert!(r.try_take(true).is_ok());
        assert!(r.try_take(true).is_ok());
        assert!(r.try_take(true).is_ok());
        let wait = r.try_take(true).unwrap_err();
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
        r.acquire().await.unwrap();
        let t = Instant::now();
        r.acquire().await.unwrap();
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
        r.acquire().await.unwrap();
        assert_eq!(t.elapsed(), Duration::ZERO);
    }

    /// Takes a token at `p` and says in which order the calls got theirs.
    async fn call(
        r: Arc<RateLimiter>,
        p: Priority,
        name: &'static str,
        log: Arc<Mutex<Vec<&'static str>>>,
    ) {
        let go = async {
            r.acquire().await.unwrap();
            log.lock().unwrap().push(name);
        };
        if p == Priority::Fuse {
            crate::flickr::breaker::foreground(go).await
        } else {
            priority::with_priority(p, go).await
        }
    }

    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn a_person_then_listing_then_prefetch_whatever_came_first() {
        // One call a second, burst 1, spent: every call below waits.
        let r = Arc::new(RateLimiter::new(3600, 1));
        r.acquire().await.unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (p, name) in [
            (Priority::Sizes, "sizes"),
            (Priority::Comments, "comments1"),
            (Priority::Comments, "comments2"),
            (Priority::Listing, "page"),
        ] {
            tasks.push(tokio::spawn(call(r.clone(), p, name, log.clone())));
            tokio::task::yield_now().await;
        }
        // The prefetcher's calls queue; then a person's lookup arrives.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            r.waiting(),
            vec![
                (Priority::Listing, 1),
                (Priority::Sizes, 1),
                (Priority::Comments, 2)
            ]
        );
        let t = Instant::now();
        call(r.clone(), Priority::Fuse, "lookup", log.clone()).await;
        assert!(t.elapsed() <= Duration::from_secs(1), "{:?}", t.elapsed());
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(
            *log.lock().unwrap(),
            vec!["lookup", "page", "sizes", "comments1", "comments2"]
        );
        assert!(r.waiting().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_with_patience_is_refused_at_once_when_it_would_wait_longer() {
        let r = Arc::new(RateLimiter::new(3600, 1));
        r.acquire().await.unwrap();
        let t = Instant::now();
        let refused = crate::flickr::breaker::foreground(priority::with_patience(
            Duration::from_millis(500),
            r.acquire(),
        ))
        .await;
        assert!(refused.unwrap_err() > Duration::from_millis(500));
        assert_eq!(t.elapsed(), Duration::ZERO, "refused without waiting");
        // Patience enough: it waits for the refill.
        let ok = crate::flickr::breaker::foreground(priority::with_patience(
            Duration::from_secs(2),
            r.acquire(),
        ))
        .await;
        assert!(ok.is_ok());
        assert!(r.waiting().is_empty(), "no ticket left behind");
    }

    #[tokio::test(start_paused = true)]
    async fn an_opportunistic_call_leaves_the_reserve_too() {
        let r = RateLimiter::new(3600, 8);
        for _ in 0..6 {
            assert!(r.try_take(false).is_ok());
        }
        let sidecar = crate::flickr::breaker::foreground(priority::opportunistic(
            priority::with_patience(Duration::ZERO, r.acquire()),
        ));
        assert!(sidecar.await.is_err(), "the reserve is not for it");
        let stat = crate::flickr::breaker::foreground(priority::with_patience(
            Duration::ZERO,
            r.acquire(),
        ));
        assert!(stat.await.is_ok(), "but for a stat that needs it");
    }

    #[tokio::test(start_paused = true)]
    async fn background_leaves_the_reserve_to_a_person() {
        // Burst 8: background stops at 2 tokens left; a person takes them at once.
        let r = RateLimiter::new(3600, 8);
        for _ in 0..6 {
            assert!(r.try_take(false).is_ok());
        }
        assert!(r.try_take(false).is_err());
        let t = Instant::now();
        crate::flickr::breaker::foreground(async {
            r.acquire().await.unwrap();
            r.acquire().await.unwrap();
        })
        .await;
        assert_eq!(t.elapsed(), Duration::ZERO);
    }
}
