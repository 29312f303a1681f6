//! The index's counts (photos, cached images and bytes, errors) for `statfs` and the
//! `.flickrfs/status` document, answered from memory. Counting is a pass over every row
//! (0.3 s at 1M photos), so it runs once on the first question and then at most once per
//! `max_age`, on a thread of its own: a FUSE thread never waits for a count it has already
//! answered once, and `df` or a script polling the status file cost nothing per call.

use crate::cache::db::{Index, IndexCounts};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(super) struct CountsCache {
    max_age: Duration,
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    last: Mutex<Option<(IndexCounts, Instant)>>,
    refreshing: AtomicBool,
}

impl CountsCache {
    pub(super) fn new(max_age: Duration) -> CountsCache {
        CountsCache {
            max_age,
            inner: Arc::default(),
        }
    }

    /// The counts, at most `max_age` old, or older while a recount runs in the background.
    pub(super) fn get(&self, index: &Arc<Index>) -> IndexCounts {
        let last = self
            .inner
            .last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some((counts, at)) = last else {
            let counts = index.counts().unwrap_or_default();
            self.inner.store(counts.clone());
            return counts;
        };
        if at.elapsed() >= self.max_age && !self.inner.refreshing.swap(true, Ordering::AcqRel) {
            let (inner, index) = (self.inner.clone(), index.clone());
            let spawned = std::thread::Builder::new()
                .name("flickrfs-counts".into())
                .spawn(move || {
                    if let Ok(c) = index.counts() {
                        inner.store(c);
                    }
                    inner.refreshing.store(false, Ordering::Release);
                });
            if spawned.is_err() {
                self.inner.refreshing.store(false, Ordering::Release);
            }
        }
        counts
    }
}

impl Inner {
    fn store(&self, counts: IndexCounts) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some((counts, Instant::now()));
    }
}

/// What `statfs` reports: the cached images' size in 4 KiB blocks, and a file count (an image
/// and a sidecar a photo).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsStats {
    pub blocks: u64,
    pub files: u64,
}

impl super::FlickrFs {
    /// `statfs`: from the counts in memory (see [`CountsCache`]).
    pub fn statfs(&self) -> FsStats {
        let c = self.counts.get(&self.engine.index);
        FsStats {
            blocks: c.image_bytes.div_ceil(4096),
            files: c.photos_indexed * 2,
        }
    }

    /// The index's counts, at most [`crate::config::COUNTS_MAX_AGE`] old.
    pub(super) fn counts(&self) -> IndexCounts {
        self.counts.get(&self.engine.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_of(n: u64) -> (tempfile::TempDir, Arc<Index>) {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::open(&dir.path().join("index.sqlite")).unwrap();
        index.insert_synthetic(n, "1@N01", "someone").unwrap();
        (dir, Arc::new(index))
    }

    /// Asked again, the counts cost SQLite no work at all (counted in its own instructions,
    /// not timed), where the first answer was a pass over every row.
    #[test]
    fn a_second_question_is_answered_from_memory() {
        let (_dir, index) = index_of(20_000);
        let cache = CountsCache::new(Duration::from_secs(3600));
        let before = index.steps();
        assert_eq!(cache.get(&index).photos_indexed, 20_000);
        let scan = index.steps() - before;
        assert!(scan > 100, "a count of 20,000 rows took {scan} ticks");
        let before = index.steps();
        for _ in 0..1000 {
            assert_eq!(cache.get(&index).photos_indexed, 20_000);
        }
        assert_eq!(index.steps(), before);
    }

    /// Once older than its age, the old answer is given at once and a recount runs aside; its
    /// result is the next answer.
    #[test]
    fn stale_counts_are_recounted_in_the_background() {
        let (_dir, index) = index_of(10);
        let cache = CountsCache::new(Duration::ZERO);
        assert_eq!(cache.get(&index).photos_indexed, 10);
        index.insert_synthetic(15, "1@N01", "someone").unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        loop {
            let n = cache.get(&index).photos_indexed;
            seen.push(n);
            if n == 15 {
                break;
            }
            assert!(Instant::now() < deadline, "never recounted: {seen:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
        // The first answer after the change was the stale one: nobody waited for the count.
        assert_eq!(seen[0], 10, "{seen:?}");
    }
}
