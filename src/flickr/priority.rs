//! Who an API call is for, and how long it may wait for the rate limit. Carried by the task
//! (tokio task-locals), so the engine's call sites say it once around their work and the
//! client never takes an extra argument: [`with_priority`] names the work (listing pages,
//! the sizes an image download waits for, prefetched comments), [`crate::flickr::breaker::foreground`] makes it a
//! person's request (the highest), and [`with_patience`] bounds the wait (a FUSE request:
//! the mount's `--fuse-wait`). The queue that orders calls by priority is
//! [`super::RateLimiter`]'s.
//!
//! Work done for a key (the prefetcher's work on one photo: [`boostable`]) is promoted to a
//! person's priority when a person comes to wait for that key ([`boost`]): a reader of a
//! video whose `getSizes` the prefetcher queued behind other background calls waits for one
//! call, not for the whole queue.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// The order in which waiting calls get the next token: lower first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// A request a person waits for (a FUSE lookup, stat or read).
    Fuse = 0,
    /// Listing pages (and anything not named otherwise: resolving the user, albums).
    Listing = 1,
    /// `getSizes` asked by the prefetcher for a file only it names (a video's): an image
    /// download waits for it, so it goes before the comments (images never wait for them).
    Sizes = 2,
    /// Comments fetched by the prefetcher.
    Comments = 3,
}

tokio::task_local! {
    static PRIORITY: Priority;
    static PATIENCE: Duration;
    static BOOST: Arc<Boost>;
}

/// The promotion of the work done for one key.
#[derive(Default)]
pub struct Boost {
    on: AtomicBool,
    changed: tokio::sync::Notify,
}

/// The work under way for each key (several pieces may be: a photo's image and sidecar).
type Boosts = Mutex<HashMap<String, Vec<Weak<Boost>>>>;

fn boosts() -> std::sync::MutexGuard<'static, HashMap<String, Vec<Weak<Boost>>>> {
    static B: std::sync::OnceLock<Boosts> = std::sync::OnceLock::new();
    B.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Forgets `b` from the work on `key` when dropped (when the work ends or is cancelled).
struct Registered<'a> {
    key: &'a str,
    b: Weak<Boost>,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        let mut map = boosts();
        if let Some(v) = map.get_mut(self.key) {
            v.retain(|w| !w.ptr_eq(&self.b) && w.strong_count() > 0);
            if v.is_empty() {
                map.remove(self.key);
            }
        }
    }
}

/// Runs `f` (work done for `key`) so that [`boost`] of `key` promotes its calls.
pub async fn boostable<F: Future>(key: &str, f: F) -> F::Output {
    let b = Arc::new(Boost::default());
    boosts()
        .entry(key.to_string())
        .or_default()
        .push(Arc::downgrade(&b));
    let _registered = Registered {
        key,
        b: Arc::downgrade(&b),
    };
    BOOST.scope(b, f).await
}

/// A person waits for the work on `key`: its calls go at a person's priority from now on.
pub fn boost(key: &str) {
    let live: Vec<Arc<Boost>> = boosts()
        .get(key)
        .map(|v| v.iter().filter_map(Weak::upgrade).collect())
        .unwrap_or_default();
    for b in live {
        if !b.on.swap(true, Ordering::SeqCst) {
            b.changed.notify_waiters();
        }
    }
}

/// True while work for `key` runs [`boostable`] (the prefetcher's, which may be waiting for
/// the rate limit).
pub fn is_boostable(key: &str) -> bool {
    boosts()
        .get(key)
        .is_some_and(|v| v.iter().any(|w| w.strong_count() > 0))
}

/// Completes when this task's work is promoted (never, outside [`boostable`] or once it is).
pub(super) async fn promoted() {
    let b = BOOST.try_with(|b| b.clone()).ok();
    match b {
        Some(b) if !b.on.load(Ordering::SeqCst) => {
            let n = b.changed.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if !b.on.load(Ordering::SeqCst) {
                n.await;
            }
        }
        _ => std::future::pending().await,
    }
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

tokio::task_local! {
    static OPPORTUNISTIC: ();
}

/// Runs `f` with its API calls made only if they are cheap now: never taking the reserve of
/// the burst that background work leaves to a person's calls (a sidecar's comments, which can
/// be served pending instead, must not use up what a `stat` that has no other answer needs).
pub async fn opportunistic<F: Future>(f: F) -> F::Output {
    OPPORTUNISTIC.scope((), f).await
}

/// True inside [`opportunistic`].
pub fn is_opportunistic() -> bool {
    OPPORTUNISTIC.try_with(|_| ()).is_ok()
}

/// The priority of a call made now, by this task.
pub fn current() -> Priority {
    if super::breaker::is_foreground()
        || BOOST.try_with(|b| b.on.load(Ordering::SeqCst)) == Ok(true)
    {
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

    #[tokio::test]
    async fn a_boost_promotes_the_work_on_its_key() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let work = tokio::spawn(with_priority(
            Priority::Sizes,
            boostable("42", async move {
                let before = current();
                promoted().await;
                rx.await.unwrap();
                (before, current())
            }),
        ));
        tokio::task::yield_now().await;
        boost("41"); // another key: nothing
        assert!(is_boostable("42") && !is_boostable("41"));
        boost("42");
        tx.send(()).unwrap();
        assert_eq!(work.await.unwrap(), (Priority::Sizes, Priority::Fuse));
        assert!(boosts().get("42").is_none(), "forgotten when the work ends");
    }

    #[tokio::test]
    async fn a_boost_promotes_every_piece_of_work_on_its_key() {
        // A photo's image (its getSizes, asked ahead) and its sidecar, both under way.
        let piece = || {
            tokio::spawn(with_priority(
                Priority::Comments,
                boostable("7", async {
                    promoted().await;
                    current()
                }),
            ))
        };
        let (a, b) = (piece(), piece());
        tokio::task::yield_now().await;
        while boosts().get("7").map_or(0, Vec::len) < 2 {
            tokio::task::yield_now().await;
        }
        boost("7");
        assert_eq!(a.await.unwrap(), Priority::Fuse);
        assert_eq!(b.await.unwrap(), Priority::Fuse);
        assert!(!is_boostable("7") && boosts().get("7").is_none());
    }
}
