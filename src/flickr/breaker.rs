//! Is Flickr answering? A circuit breaker over this process's requests to Flickr (the API and
//! the image hosts alike): after [`OPEN_AFTER`] connection failures (or 5xx) in a row, with no
//! answer at all for [`QUIET_BEFORE_OPEN`] (so that a flaky Flickr, failing one request in
//! three, never trips it), it opens for a back-off period (5 s, doubling to a minute while failures go on), and any answer closes
//! it. While it is open, requests made on behalf of a person ([`foreground`], the mount's
//! on-access work) fail at once instead of spending 10-35 s in retries each, so that `ls -l`
//! or `du` of an uncached tree ends in seconds; cached files never ask. Background work (the
//! listing, the prefetcher) keeps its own retries, and its first answer closes the breaker:
//! the mount recovers by itself. When the period is over, one foreground request is let
//! through to try again.

use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Connection failures in a row that open the breaker.
pub const OPEN_AFTER: u32 = 3;
/// How long Flickr must have given no answer at all before the breaker opens.
pub const QUIET_BEFORE_OPEN: Duration = Duration::from_secs(1);
/// How long it stays open the first time; doubled each time it opens again without an answer
/// in between, up to [`MAX_OPEN`].
pub const FIRST_OPEN: Duration = Duration::from_secs(5);
pub const MAX_OPEN: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct State {
    failures: u32,
    last_answer: Option<Instant>,
    open_until: Option<Instant>,
    period: Duration,
}

/// The breaker's state; one per process ([`breaker`]).
#[derive(Debug)]
pub struct Breaker {
    state: Mutex<State>,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker {
            state: Mutex::new(State {
                failures: 0,
                last_answer: None,
                open_until: None,
                period: FIRST_OPEN,
            }),
        }
    }
}

impl Breaker {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Flickr answered (any HTTP answer but a 5xx): closed.
    pub fn success(&self) {
        let mut s = self.state();
        if s.open_until.is_some() {
            tracing::info!("Flickr answers again");
        }
        s.failures = 0;
        s.last_answer = Some(Instant::now());
        s.open_until = None;
        s.period = FIRST_OPEN;
    }

    /// A connection failure, a timeout or a 5xx. Returns true when this opened the breaker.
    /// Does nothing in a process that serves no foreground work (see [`serve_foreground`]).
    pub fn failure(&self) -> bool {
        if !SERVES_FOREGROUND.load(std::sync::atomic::Ordering::Relaxed) && !cfg!(test) {
            return false;
        }
        let mut s = self.state();
        s.failures = s.failures.saturating_add(1);
        let now = Instant::now();
        let open = s.open_until.is_some_and(|u| now < u);
        let quiet = s
            .last_answer
            .is_none_or(|a| now.duration_since(a) >= QUIET_BEFORE_OPEN);
        if s.failures < OPEN_AFTER || open || !quiet {
            return false;
        }
        let period = s.period;
        s.open_until = Some(now + period);
        s.period = (period * 2).min(MAX_OPEN);
        tracing::warn!(
            "Flickr is not answering ({} failures in a row): uncached files fail at once for {}s, cached ones keep working",
            s.failures,
            period.as_secs()
        );
        true
    }

    /// How much longer it stays open, if it is.
    pub fn open_for(&self) -> Option<Duration> {
        let s = self.state();
        let now = Instant::now();
        s.open_until.filter(|u| now < *u).map(|u| u - now)
    }

    /// False from the moment it opens until Flickr answers again (its open period may be
    /// over meanwhile: that only lets one request try).
    pub fn answering(&self) -> bool {
        self.state().open_until.is_none()
    }

    /// For a foreground request: an error to fail with at once while the breaker is open.
    pub fn check(&self) -> Result<(), String> {
        if !is_foreground() {
            return Ok(());
        }
        match self.open_for() {
            Some(left) => Err(format!(
                "Flickr is not answering; not trying again for {}s",
                left.as_secs().max(1)
            )),
            None => Ok(()),
        }
    }
}

static SERVES_FOREGROUND: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Turns the breaker on: this process (a mount) serves requests a person waits for. A mirror
/// never does, and keeps its plain retries (and quiet logs) when Flickr is down.
pub fn serve_foreground() {
    SERVES_FOREGROUND.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// This process's breaker.
pub fn breaker() -> &'static Breaker {
    static B: std::sync::OnceLock<Breaker> = std::sync::OnceLock::new();
    B.get_or_init(Breaker::default)
}

tokio::task_local! {
    static FOREGROUND: ();
}

/// Runs `f` as work a person waits for: its requests fail at once while the breaker is open.
pub async fn foreground<F: std::future::Future>(f: F) -> F::Output {
    FOREGROUND.scope((), f).await
}

/// The longest pause between two tries of a foreground request: a person waits, so it tries
/// again soon and learns within a second or two that Flickr is down (the breaker then ends
/// the tries), instead of backing off for half a minute.
pub const FOREGROUND_MAX_PAUSE: Duration = Duration::from_millis(300);

/// The back-off `d` a retry would wait, shortened for a foreground request.
pub fn pace(d: Duration) -> Duration {
    if is_foreground() {
        d.min(FOREGROUND_MAX_PAUSE)
    } else {
        d
    }
}

/// True inside [`foreground`].
pub fn is_foreground() -> bool {
    FOREGROUND.try_with(|_| ()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn opens_after_failures_in_a_row_and_closes_on_an_answer() {
        let b = Breaker::default();
        assert!(!b.failure());
        b.success();
        assert!(!b.failure());
        assert!(!b.failure());
        assert!(!b.failure(), "an answer came just now");
        tokio::time::advance(QUIET_BEFORE_OPEN).await;
        assert!(
            b.failure(),
            "failures in a row and no answer for a while: open"
        );
        assert_eq!(b.open_for(), Some(FIRST_OPEN));
        // Only work a person waits for fails fast.
        assert!(b.check().is_ok());
        assert!(foreground(async { b.check() }).await.is_err());
        assert!(!b.failure(), "already open");
        tokio::time::advance(FIRST_OPEN).await;
        assert_eq!(b.open_for(), None, "over: one request may try");
        assert!(!b.answering(), "still not known to answer");
        assert!(foreground(async { b.check() }).await.is_ok());
        assert!(b.failure(), "it failed: open again, for twice as long");
        assert_eq!(b.open_for(), Some(FIRST_OPEN * 2));
        b.success();
        assert_eq!(b.open_for(), None);
        assert!(b.answering());
        tokio::time::advance(QUIET_BEFORE_OPEN).await;
        for _ in 0..OPEN_AFTER {
            b.failure();
        }
        assert_eq!(
            b.open_for(),
            Some(FIRST_OPEN),
            "an answer resets the period"
        );
    }
}
