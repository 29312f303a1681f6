//! The scheduler of a run: the lister and the dispatcher side by side, photos handed to
//! workers in planner order within `--concurrency`, claims so that no photo is worked on twice
//! at once, and the foreground guard through which on-access fetches pause the prefetcher.

use super::{now_secs, Engine, Order, RunReport, SyncError};
use crate::flickr::priority::{with_priority, Priority};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::Semaphore;

impl Engine {
    /// One mirror pass: lists what is unseen and processes every pending photo in order. A full
    /// disk stops it (after the photos under way) with [`SyncError::NoSpace`]; a damaged index
    /// with [`SyncError::Damaged`].
    pub async fn run(self: &Arc<Self>) -> Result<RunReport, SyncError> {
        self.take_halt();
        let r = self.run_once().await;
        self.take_halt();
        r.map_err(|e| self.explain(e))
    }

    async fn run_once(self: &Arc<Self>) -> Result<RunReport, SyncError> {
        let removed = self
            .store
            .clean_temp_files()
            .map_err(|e| SyncError::Io(format!("cannot clean the cache: {e}")))?;
        if removed > 0 {
            tracing::info!("Removed {removed} temp files left by an interrupted run");
        }
        self.relabel_if_needed()?;
        if self.opts.verify_image && self.opts.want_image {
            self.verify_cached_images()?;
        }
        self.index
            .mark_pending(self.opts.want_image, self.opts.info_level)?;
        let before_pages = self.stats.pages_fetched.load(Ordering::Relaxed);
        let before_new = self.stats.new_photos.load(Ordering::Relaxed);
        let before_img = self.stats.images_downloaded.load(Ordering::Relaxed);
        let before_info = self.stats.infos_written.load(Ordering::Relaxed);
        let before_err = self.stats.errors.load(Ordering::Relaxed);
        let before_done = self.stats.photos_done.load(Ordering::Relaxed);
        let before_deleted = self.stats.deleted.load(Ordering::Relaxed);

        let mut first = true;
        let mut sweeps_asked = 0;
        loop {
            let before_pass = self.stats.new_photos.load(Ordering::Relaxed);
            self.restart_listing()?;
            let dispatched = self.run_pass().await?;
            if self.opts.limit.is_some_and(|l| dispatched >= l) {
                break;
            }
            if self.rescan_requested.load(Ordering::SeqCst) && sweeps_asked < 2 {
                // An image URL was gone (deleted or replaced on Flickr): find out which in this
                // run rather than report success over a stale photo.
                sweeps_asked += 1;
                tracing::info!("Some image URLs are gone: sweeping the photostream again...");
                continue;
            }
            let grew = self.stats.new_photos.load(Ordering::Relaxed) > before_pass;
            if !first && !grew {
                break; // a re-check found nothing new (anything it re-queued is now done)
            }
            let fresh = self
                .last_listed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some_and(|t| t.elapsed() < self.opts.recheck_after);
            if fresh {
                break;
            }
            first = false;
            tracing::info!("Checking for photos added during the run...");
        }
        self.index.set_meta("last_sync", &now_secs().to_string())?;
        let (total, complete) = self.listing_state();
        Ok(RunReport {
            total: total.unwrap_or(0),
            new_photos: self.stats.new_photos.load(Ordering::Relaxed) - before_new,
            pages_fetched: self.stats.pages_fetched.load(Ordering::Relaxed) - before_pages,
            photos_processed: self.stats.photos_done.load(Ordering::Relaxed) - before_done,
            images_downloaded: self.stats.images_downloaded.load(Ordering::Relaxed) - before_img,
            infos_written: self.stats.infos_written.load(Ordering::Relaxed) - before_info,
            // What is still wrong at the end, not what went wrong on the way: a photo whose
            // URL was gone and that a later pass of this run fetched is not an error.
            errors: (self.stats.errors.load(Ordering::Relaxed) - before_err)
                .min(self.index.counts()?.errors),
            deleted: self.stats.deleted.load(Ordering::Relaxed) - before_deleted,
            listing_complete: complete,
        })
    }

    /// Lists and processes concurrently until the listing is complete and nothing is pending.
    /// Returns how many photos were dispatched.
    async fn run_pass(self: &Arc<Self>) -> Result<usize, SyncError> {
        let lister_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop_listing = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let lister = {
            let me = self.clone();
            let done = lister_done.clone();
            let stop = stop_listing.clone();
            async move {
                let r: Result<(), SyncError> = async {
                    loop {
                        if stop.load(Ordering::Relaxed) {
                            return Ok(());
                        }
                        // Stay at most a page or two ahead of the workers (a mirror).
                        while me.opts.pace_listing
                            && !stop.load(Ordering::Relaxed)
                            && me.queued_ahead()? > 2 * me.opts.per_page as u64
                        {
                            let notified = me.changed.notified();
                            tokio::select! {
                                _ = notified => {}
                                _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                            }
                        }
                        // Listing pages before the prefetcher's comments and sizes.
                        if !with_priority(Priority::Listing, me.list_next_page()).await? {
                            return Ok(());
                        }
                    }
                }
                .await;
                done.store(true, Ordering::SeqCst);
                me.changed.notify_waiters();
                r
            }
        };
        let dispatcher = {
            let me = self.clone();
            let done = lister_done.clone();
            let stop = stop_listing.clone();
            async move {
                let r = me.dispatch(&done).await;
                stop.store(true, Ordering::SeqCst);
                me.changed.notify_waiters();
                r
            }
        };
        let (lr, dr) = tokio::join!(lister, dispatcher);
        self.flush_call_counts();
        lr?;
        dr
    }

    /// Pending photos the workers may take now (bounded count, for the lister's pacing).
    fn queued_ahead(&self) -> Result<u64, SyncError> {
        let range = self.planner().processable();
        match range {
            None => Ok(0),
            Some((lo, hi)) => Ok(self
                .index
                .pending(
                    self.opts.order == Order::Lifo,
                    lo,
                    hi,
                    4 * self.opts.per_page as usize,
                )?
                .len() as u64),
        }
    }

    /// Hands pending photos to workers in planner order until nothing is left.
    async fn dispatch(
        self: &Arc<Self>,
        lister_done: &std::sync::atomic::AtomicBool,
    ) -> Result<usize, SyncError> {
        let sem = Arc::new(Semaphore::new(self.opts.concurrency.max(1)));
        let mut dispatched = 0usize;
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            if self.opts.limit.is_some_and(|l| dispatched >= l) || self.is_halted() {
                break;
            }
            let notified = self.changed.notified();
            let listing_finished = lister_done.load(Ordering::SeqCst);
            let range = self.planner().processable();
            let batch = match range {
                Some((lo, hi)) => self.index.pending(
                    self.opts.order == Order::Lifo,
                    lo,
                    hi,
                    self.opts.concurrency.max(1) * 4 + 64,
                )?,
                None => vec![],
            };
            let batch: Vec<_> = {
                let inflight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
                batch
                    .into_iter()
                    .filter(|p| !inflight.contains(&p.id))
                    .collect()
            };
            if batch.is_empty() {
                if listing_finished && tasks.is_empty() && self.in_flight_count() == 0 {
                    break;
                }
                tokio::select! {
                    _ = notified => {}
                    Some(r) = tasks.join_next(), if !tasks.is_empty() => { r.map_err(|e| SyncError::Io(format!("worker failed: {e}")))?; }
                    _ = tokio::time::sleep(std::time::Duration::from_millis(250)) => {}
                }
                continue;
            }
            // Take just the head of the batch so newly listed photos can jump the queue.
            for photo in batch.into_iter().take(self.opts.concurrency.max(1)) {
                if self.opts.limit.is_some_and(|l| dispatched >= l) || self.is_halted() {
                    break;
                }
                // Yield to on-access reads.
                while self.foreground.load(Ordering::SeqCst) > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                let permit = sem
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| SyncError::Io("worker pool closed".into()))?;
                if !self.claim(&photo.id) {
                    continue;
                }
                // The batch is a snapshot: a worker may have finished this photo since. Work
                // from the current row, or not at all (else comments would be fetched twice).
                let photo = match self.index.pending_photo(&photo.id)? {
                    Some(current) => current,
                    None => {
                        self.release(&photo.id);
                        continue;
                    }
                };
                dispatched += 1;
                let me = self.clone();
                tasks.spawn(async move {
                    let id = photo.id.clone();
                    me.process(photo).await;
                    me.release(&id);
                    drop(permit);
                    me.changed.notify_waiters();
                });
                // Reap finished workers without waiting.
                while let Some(r) = tasks.try_join_next() {
                    r.map_err(|e| SyncError::Io(format!("worker failed: {e}")))?;
                }
            }
        }
        while let Some(r) = tasks.join_next().await {
            r.map_err(|e| SyncError::Io(format!("worker failed: {e}")))?;
        }
        if let Some(e) = self.take_halt() {
            return Err(e);
        }
        Ok(dispatched)
    }

    pub(super) fn claim(&self, id: &str) -> bool {
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string())
    }

    pub(super) fn release(&self, id: &str) {
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    pub(super) fn in_flight_count(&self) -> usize {
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Marks the start of an on-access fetch: the prefetcher pauses until it ends.
    pub fn foreground_guard(self: &Arc<Self>) -> ForegroundGuard {
        self.foreground.fetch_add(1, Ordering::SeqCst);
        ForegroundGuard {
            engine: self.clone(),
        }
    }
}

/// While alive, the prefetcher does not start new work.
pub struct ForegroundGuard {
    engine: Arc<Engine>,
}

impl Drop for ForegroundGuard {
    fn drop(&mut self) {
        self.engine.foreground.fetch_sub(1, Ordering::SeqCst);
    }
}
