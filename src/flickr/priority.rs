//! Who an API call is for, and how long it may wait for the rate limit. Carried by the task
//! (tokio task-locals), so the engine's call sites say it once around their work and the
//! client never takes an extra argument: [`with_priority`] names the work (listing pages,
//! prefetched comments, prefetched sizes), [`crate::flickr::breaker::foreground`] makes it a
//! person's request (the highest), and [`with_patience`] bounds the wait (a FUSE request:
//! the mount's `--fuse-wait`). The queue that orders calls by priority is
//! [`super::RateLimiter`]'s.

use std::future::Future;
use std::time::Duration;

/// The order in which waiting calls get the next token: lower first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// A request a person waits for (a FUSE lookup, stat or read).
    Fuse = 0,
    /// Listing pages (and anything not named otherwise: resolving the user, albums).
    Listing = 1,
    /// Comments fetched by the prefetcher.
    Comments = 2,
    /// `getSizes` asked by the prefetcher.
    Sizes = 3,
}

tokio::task_local! {
    static PRIORITY: Priority;
    static PATIENCE: Duration;
}

/// Runs `f` with its API calls at `p` (a person's request stays [`Priority::Fuse`]).
pub async fn with_priority<F: Future>(p: Priority, f: F) -> F::Output {
    PRIORITY.scope(p, f).await
}

/// Runs `f` with its API calls waiting at most `d` for the rate limit: a call that would wait
/// longer fails at once with [`super::FlickrError::RateLimited`].
pub async fn with_patience<F: Future>(d: Duration, f: F) -> F::Output {
    PATIENCE.scope(d, f).await
}

/// The priority of a call made now, by this task.
pub fn current() -> Priority {
    if super::breaker::is_foreground() {
        return Priority::Fuse;
    }
    PRIORITY.try_with(|p| *p).unwrap_or(Priority::Listing)
}

/// How long a call made now may wait for the rate limit (`None`: as long as it takes).
pub fn patience() -> Option<Duration> {
    PATIENCE.try_with(|d| *d).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn scopes_nest_and_a_person_comes_first() {
        assert_eq!(current(), Priority::Listing);
        assert_eq!(patience(), None);
        with_priority(Priority::Comments, async {
            assert_eq!(current(), Priority::Comments);
            crate::flickr::breaker::foreground(async {
                assert_eq!(current(), Priority::Fuse);
            })
            .await;
            with_patience(Duration::from_secs(2), async {
                assert_eq!(patience(), Some(Duration::from_secs(2)));
            })
            .await;
        })
        .await;
    }
}
