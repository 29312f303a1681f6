//! The scheduler of a run: the lister and the dispatcher side by side, and two pipelines fed
//! in planner order that never wait on each other: images (within `--concurrency`) and API
//! work (sidecars and their comments, paced by the rate limit), joined per photo only to
//! finish it; claims per pipeline so that no part is worked on twice at once, and the
//! foreground guard through which on-access fetches pause the prefetcher.

use super::{now_secs, Engine, FetchError, Order, RunReport, SyncError};
use crate::cache::db::Queue;
use crate::flickr::priority::{boostable, with_priority, Priority};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The two pipelines a photo's work is split into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Lane {
    /// The image file: downloads, bounded by `--concurrency`.
    Image,
    /// The sidecar: its API calls, paced by the rate limit.
    Api,
}

/// A download slot of the image pipeline (one of `--concurrency`), lent to one photo's
/// download. Once the bytes are in, the download trades it for a place among the images being
/// saved (fsync, rename, index: as many as downloads), so that the next download starts while
/// this one is written out.
pub(crate) struct DownloadSlot {
    download: OwnedSemaphorePermit,
    writing: Arc<Semaphore>,
}

impl DownloadSlot {
    fn new(download: OwnedSemaphorePermit, writing: Arc<Semaphore>) -> DownloadSlot {
        DownloadSlot { download, writing }
    }

    /// Frees the download slot once a place to save is had; the place is held until dropped.
    pub(crate) async fn hand_over(self) -> Option<OwnedSemaphorePermit> {
        let place = self.writing.acquire_owned().await.ok();
        drop(self.download);
        place
    }
}

/// What one pass did to each photo so far.
#[derive(Default)]
pub(crate) struct Pass {
    inner: Mutex<PassState>,
}

#[derive(Default)]
pub(crate) struct PassState {
    /// Photos whose part was attempted in this pass (not offered again until the next).
    tried_image: HashSet<String>,
    tried_info: HashSet<String>,
    /// The first error of each photo not finished yet.
    errors: HashMap<String, String>,
    /// Photos started (for `--limit`) and finished in this pass.
    started: HashSet<String>,
    finished: HashSet<String>,
}

impl Pass {
    fn lock(&self) -> std::sync::MutexGuard<'_, PassState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tried(&self, lane: Lane) -> usize {
        let p = self.lock();
        match lane {
            Lane::Image => p.tried_image.len(),
            Lane::Api => p.tried_info.len(),
        }
    }

    fn was_tried(&self, id: &str, lane: Lane) -> bool {
        let p = self.lock();
        match lane {
            Lane::Image => p.tried_image.contains(id),
            Lane::Api => p.tried_info.contains(id),
        }
    }

    /// A photo may be started when it already was, or while `limit` allows more.
    fn may_start(&self, id: &str, limit: Option<usize>) -> bool {
        let p = self.lock();
        p.started.contains(id) || limit.is_none_or(|l| p.started.len() < l)
    }

    fn start(&self, id: &str) {
        self.lock().started.insert(id.to_string());
    }

    fn started(&self) -> usize {
        self.lock().started.len()
    }
}

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
        // The files only getSizes names, asked for as the listing brings them (see `namer`).
        let namer = self.name_ahead(&lister_done, &stop_listing);
        let (lr, dr, ()) = tokio::join!(lister, dispatcher, namer);
        self.flush_call_counts();
        lr?;
        dr
    }

    /// Pending photos the faster pipeline may take now (bounded count, for the lister's
    /// pacing): the images when they are wanted, so that photos waiting only for their comments
    /// never hold the listing, and with it the image downloads, back.
    fn queued_ahead(&self) -> Result<u64, SyncError> {
        let range = self.planner().processable();
        let Some((lo, hi)) = range else {
            return Ok(0);
        };
        let queue = match (self.opts.want_image, self.opts.info_level) {
            (true, _) | (false, None) => Queue::Images,
            (false, Some(level)) => Queue::Infos(level),
        };
        let n = self
            .index
            .count_pending_in(queue, lo, hi, 2 * self.opts.per_page as usize + 1)?;
        Ok(n as u64)
    }

    /// Hands pending photos to the two pipelines in planner order until nothing is left: the
    /// image pipeline (`--concurrency` downloads, no API call but `getSizes` where the listing
    /// named no file) and the API pipeline (sidecars, with their comments calls paced by the
    /// rate limit). Neither waits for the other: a photo's image lands as soon as a download
    /// slot is free, its sidecar when its calls are allowed, and the photo is finished when
    /// both are. Returns how many photos were started.
    async fn dispatch(
        self: &Arc<Self>,
        lister_done: &std::sync::atomic::AtomicBool,
    ) -> Result<usize, SyncError> {
        let want_image = self.opts.want_image;
        let level = self.opts.info_level;
        let images = Arc::new(Semaphore::new(self.opts.concurrency.max(1)));
        // Downloaded images being saved (fsync, rename, index), as many as downloads.
        let writing = Arc::new(Semaphore::new(self.opts.concurrency.max(1)));
        let apis = Arc::new(Semaphore::new(crate::config::API_WORKERS));
        let sizes = Arc::new(Semaphore::new(crate::config::API_WORKERS));
        let pass = Arc::new(Pass::default());
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            if self.is_halted() {
                break;
            }
            // Yield to on-access reads.
            if self.foreground.load(Ordering::SeqCst) > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
            let notified = self.changed.notified();
            let listing_finished = lister_done.load(Ordering::SeqCst);
            let range = self.planner().processable();
            let newest_first = self.opts.order == Order::Lifo;
            let mut started_any = false;
            let mut work_left = false;
            for lane in [Lane::Image, Lane::Api] {
                let (sem, queue) = match (lane, level) {
                    (Lane::Image, _) if want_image => (&images, Queue::Images),
                    (Lane::Api, Some(l)) => (&apis, Queue::Infos(l)),
                    _ => continue,
                };
                let Some((lo, hi)) = range else {
                    continue;
                };
                // The queue is read in chunks, from its head, until the permits run out:
                // photos tried in this pass (failed, to be retried by the next one) and
                // photos under way are passed over, at most all of them.
                let chunk = sem.available_permits().max(1) * 4 + 64;
                let mut budget = chunk + pass.tried(lane) + self.in_flight_count();
                let mut after: Option<(i64, String)> = None;
                'chunks: while budget > 0 {
                    let want = chunk.min(budget);
                    let batch = self.index.pending_in(
                        queue,
                        newest_first,
                        lo,
                        hi,
                        after.as_ref().map(|(d, id)| (*d, id.as_str())),
                        want,
                    )?;
                    budget -= want;
                    if batch.len() < want {
                        budget = 0;
                    }
                    after = batch.last().map(|p| (p.date_upload, p.id.clone()));
                    for photo in batch {
                        if pass.was_tried(&photo.id, lane) || self.is_claimed(&photo.id, lane) {
                            continue;
                        }
                        if !pass.may_start(&photo.id, self.opts.limit) {
                            continue;
                        }
                        work_left = true;
                        // A photo whose file only `getSizes` names waits for that call without
                        // holding a download slot.
                        let sized_first = lane == Lane::Image && self.needs_sizes(&photo);
                        let gate = if sized_first { &sizes } else { sem };
                        let Ok(permit) = gate.clone().try_acquire_owned() else {
                            if sized_first {
                                continue;
                            }
                            break 'chunks;
                        };
                        if !self.claim(&photo.id, lane) {
                            continue;
                        }
                        // The batch is a snapshot: a worker may have finished this photo since.
                        // Work from the current row, or not at all (else comments would be fetched
                        // twice).
                        let photo = match self.index.pending_photo(&photo.id)? {
                            Some(current) => current,
                            None => {
                                self.release(&photo.id, lane);
                                continue;
                            }
                        };
                        pass.start(&photo.id);
                        started_any = true;
                        let me = self.clone();
                        let pass = pass.clone();
                        let images = images.clone();
                        let writing = writing.clone();
                        tasks.spawn(async move {
                            let id = photo.id.clone();
                            let mut permit = Some(permit);
                            let r = if sized_first {
                                let best = {
                                    let _wanted = super::namer::SizesWanted::new(&me);
                                    boostable(
                                        &id,
                                        with_priority(Priority::Sizes, me.ensure_best(&photo)),
                                    )
                                    .await
                                };
                                match best {
                                    Ok(row) => {
                                        // The `getSizes` permit is held until a download slot
                                        // is free: few photos wait for one.
                                        let slot = images.acquire_owned().await.ok();
                                        permit = None;
                                        let slot = slot.map(|p| DownloadSlot::new(p, writing));
                                        me.run_part(row, lane, slot).await
                                    }
                                    Err(e) => Err(e),
                                }
                            } else if lane == Lane::Image {
                                let slot = permit.take().map(|p| DownloadSlot::new(p, writing));
                                me.run_part(photo, lane, slot).await
                            } else {
                                me.run_part(photo, lane, None).await
                            };
                            me.release(&id, lane);
                            drop(permit);
                            me.settle(&pass, &id, lane, r);
                            me.changed.notify_waiters();
                        });
                    }
                }
            }
            // Reap finished workers without waiting.
            while let Some(r) = tasks.try_join_next() {
                r.map_err(|e| SyncError::Io(format!("worker failed: {e}")))?;
            }
            if started_any {
                continue;
            }
            // With --limit reached the listing may never finish: a paced lister waits for the
            // pending photos this pass will not start. Nothing more is to be done.
            let capped = self.opts.limit.is_some_and(|l| pass.started() >= l);
            if !work_left
                && (listing_finished || capped)
                && tasks.is_empty()
                && self.in_flight_count() == 0
            {
                break;
            }
            tokio::select! {
                _ = notified => {}
                Some(r) = tasks.join_next(), if !tasks.is_empty() => { r.map_err(|e| SyncError::Io(format!("worker failed: {e}")))?; }
                _ = tokio::time::sleep(std::time::Duration::from_millis(250)) => {}
            }
        }
        while let Some(r) = tasks.join_next().await {
            r.map_err(|e| SyncError::Io(format!("worker failed: {e}")))?;
        }
        if let Some(e) = self.take_halt() {
            return Err(e);
        }
        // Pending photos that had nothing left to do (a crash between their last write and
        // their end, an old error since repaired) are done.
        self.index.settle_complete(want_image, level)?;
        Ok(pass.started())
    }

    /// One pipeline's part of a photo (`slot`: the image pipeline's download slot).
    async fn run_part(
        self: &Arc<Self>,
        row: crate::photo::Photo,
        lane: Lane,
        slot: Option<DownloadSlot>,
    ) -> Result<(), FetchError> {
        // A person who comes to wait for this photo promotes its calls (see `priority`).
        let id = row.id.clone();
        boostable(&id, self.run_part_now(row, lane, slot)).await
    }

    async fn run_part_now(
        self: &Arc<Self>,
        row: crate::photo::Photo,
        lane: Lane,
        slot: Option<DownloadSlot>,
    ) -> Result<(), FetchError> {
        match lane {
            // A `getSizes` here is one an image waits for: before the comments.
            Lane::Image => with_priority(Priority::Sizes, self.cache_image(&row, slot))
                .await
                .map(|_| ()),
            Lane::Api => {
                let level = self.opts.info_level.unwrap_or(0);
                // The sidecar names the image file: learn it first when the listing did not
                // (the image pipeline may be asking too: one call serves both). A failure
                // is the image's to report; the sidecar is written all the same.
                let row = if self.opts.want_image {
                    with_priority(Priority::Sizes, self.ensure_best(&row))
                        .await
                        .unwrap_or(row)
                } else {
                    row
                };
                // Comments are what the API pipeline waits for most: the calls that let an
                // image download start (getSizes of the image pipeline and of the namer) go
                // first, in the limiter's queue and here, before they queue.
                if level >= 2 && row.count_comments > 0 {
                    while self.sizes_wanted.load(Ordering::SeqCst) > 0 {
                        let notified = self.changed.notified();
                        tokio::select! {
                            _ = notified => {}
                            _ = tokio::time::sleep(std::time::Duration::from_millis(50)) => {}
                        }
                    }
                }
                with_priority(Priority::Comments, self.cache_info(&row, level)).await
            }
        }
    }

    /// Records how one pipeline's part of a photo ended. A full disk halts the run (the photo
    /// stays pending for the next one); once neither pipeline has anything left for the photo
    /// in this pass, it is finished with its first error, if any.
    fn settle(&self, pass: &Pass, id: &str, lane: Lane, r: Result<(), FetchError>) {
        if let Err(FetchError::NoSpace { needed }) = r {
            self.halt(self.no_space(needed));
            return;
        }
        let mut p = pass.lock();
        match lane {
            Lane::Image => p.tried_image.insert(id.to_string()),
            Lane::Api => p.tried_info.insert(id.to_string()),
        };
        if let Err(e) = r {
            p.errors
                .entry(id.to_string())
                .or_insert_with(|| e.to_string());
        }
        let other = match lane {
            Lane::Image => Lane::Api,
            Lane::Api => Lane::Image,
        };
        if p.finished.contains(id) || self.is_claimed(id, other) {
            return;
        }
        let row = match self.index.photo(id) {
            Ok(Some(row)) => row,
            Ok(None) => return,
            Err(e) => {
                if crate::cache::db::is_disk_full(&e) {
                    self.halt(self.no_space(None));
                }
                return;
            }
        };
        let other_left = match other {
            Lane::Image => self.opts.want_image && !row.image_cached && !p.tried_image.contains(id),
            Lane::Api => {
                self.opts.info_level.is_some_and(|l| {
                    row.info_level < l || row.info_last_update != Some(row.last_update)
                }) && !p.tried_info.contains(id)
            }
        };
        if other_left {
            return;
        }
        p.finished.insert(id.to_string());
        let error = p.errors.remove(id);
        drop(p);
        let hash = crate::photo::hash(id);
        if let Some(e) = &error {
            tracing::warn!("Photo {hash}: {e}");
            self.stats.errors.fetch_add(1, Ordering::Relaxed);
        }
        if let Err(e) = self.index.finish(id, error.as_deref()) {
            if crate::cache::db::is_disk_full(&e) {
                self.halt(self.no_space(None));
                return;
            }
            tracing::error!("Photo {hash}: cannot record progress: {e}");
        }
        self.stats.photos_done.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn claim(&self, id: &str, lane: Lane) -> bool {
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((id.to_string(), lane))
    }

    pub(super) fn release(&self, id: &str, lane: Lane) {
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(id.to_string(), lane));
    }

    fn is_claimed(&self, id: &str, lane: Lane) -> bool {
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&(id.to_string(), lane))
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
