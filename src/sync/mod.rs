//! The engine shared by `mirror` and `mount`: resolves the user, lists the stream in planner
//! order, and caches every photo's best image and info sidecar into the store, recording
//! progress in the index so that any run can be interrupted and resumed.

pub mod download;
pub mod planner;
pub mod stream;
mod worker;

pub use planner::{Order, Planner};

use crate::flickr::{is_nsid, FlickrApi, FlickrError, FlickrUser, LISTING_EXTRAS};
use crate::index::Index;
use crate::store::Store;
use download::DownloadPolicy;
use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, Semaphore};

/// What a run does.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    pub order: Order,
    /// Download images (false with `--info-only`).
    pub want_image: bool,
    /// Info sidecar level (0..=2), `None` with `--image-only`.
    pub info_level: Option<i32>,
    /// Concurrent photo workers (image connections).
    pub concurrency: usize,
    pub verify_image: bool,
    /// Process at most this many photos in this run.
    pub limit: Option<usize>,
    pub per_page: u32,
    pub download: DownloadPolicy,
    /// After the work is done, look at page 1 again when the last listing is older than this:
    /// photos added during a long run are then mirrored by the same run.
    pub recheck_after: std::time::Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            order: Order::Lifo,
            want_image: true,
            info_level: Some(2),
            concurrency: 8,
            verify_image: false,
            limit: None,
            per_page: 500,
            download: DownloadPolicy::default(),
            recheck_after: std::time::Duration::from_secs(60),
        }
    }
}

/// A fatal engine error, one line for the user.
#[derive(Debug)]
pub enum SyncError {
    Flickr(FlickrError),
    Index(rusqlite::Error),
    Io(String),
}

impl std::fmt::Display for SyncError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyncError::Flickr(e) => write!(f, "{e}"),
            SyncError::Index(e) => write!(f, "index error: {e}"),
            SyncError::Io(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for SyncError {}

impl From<FlickrError> for SyncError {
    fn from(e: FlickrError) -> Self {
        SyncError::Flickr(e)
    }
}

impl From<rusqlite::Error> for SyncError {
    fn from(e: rusqlite::Error) -> Self {
        SyncError::Index(e)
    }
}

/// Live counters of the engine (for logs, progress and the mount's status file).
#[derive(Debug, Default)]
pub struct SyncStats {
    pub pages_fetched: AtomicU64,
    pub images_downloaded: AtomicU64,
    pub images_reused: AtomicU64,
    pub bytes_downloaded: AtomicU64,
    pub infos_written: AtomicU64,
    pub photos_done: AtomicU64,
    pub errors: AtomicU64,
    pub new_photos: AtomicU64,
}

/// What one run did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct RunReport {
    pub total: u64,
    pub new_photos: u64,
    pub pages_fetched: u64,
    pub photos_processed: u64,
    pub images_downloaded: u64,
    pub infos_written: u64,
    pub errors: u64,
    pub listing_complete: bool,
}

/// Resolves `user` (a username, an NSID or a photostream URL) and opens its store and index.
/// A plain username resolved before is not looked up again (the NSID is cached in the index).
pub async fn open_user(
    api: &FlickrApi,
    cache_path: &Path,
    user: &str,
    depth: usize,
) -> Result<(FlickrUser, Store, Index), SyncError> {
    let looks_plain = !user.contains('/') && !is_nsid(user);
    let io = |e: std::io::Error| {
        SyncError::Io(format!(
            "cannot use cache directory {}: {e}",
            cache_path.display()
        ))
    };
    if looks_plain {
        let store = Store::open(cache_path, user, depth).map_err(io)?;
        let index = Index::open(&store.meta_dir().join("index.sqlite"))?;
        check_depth(&index, depth)?;
        if let (Some(id), Some(name)) = (index.meta("user_id")?, index.meta("username")?) {
            return Ok((
                FlickrUser {
                    user_id: id,
                    username: name,
                },
                store,
                index,
            ));
        }
        let u = api.find_user(user).await?;
        index.set_meta("user_id", &u.user_id)?;
        index.set_meta("username", &u.username)?;
        return Ok((u, store, index));
    }
    let u = api.find_user(user).await?;
    let store = Store::open(cache_path, &dir_name(&u.username), depth).map_err(io)?;
    let index = Index::open(&store.meta_dir().join("index.sqlite"))?;
    check_depth(&index, depth)?;
    index.set_meta("user_id", &u.user_id)?;
    index.set_meta("username", &u.username)?;
    Ok((u, store, index))
}

/// A cache keeps the directory depth it was built with: files under another depth would be
/// invisible, and everything would be downloaded again.
fn check_depth(index: &Index, depth: usize) -> Result<(), SyncError> {
    match index.meta_i64("depth")? {
        Some(d) if d as usize != depth => Err(SyncError::Io(format!(
            "this cache was built with --cache-directory-depth {d}; use that (or another --cache-path)"
        ))),
        Some(_) => Ok(()),
        None => Ok(index.set_meta("depth", &depth.to_string())?),
    }
}

fn dir_name(username: &str) -> String {
    username.replace('/', "_")
}

/// The engine of one user. Cheap to share (`Arc`).
pub struct Engine {
    pub api: FlickrApi,
    pub index: Arc<Index>,
    pub store: Store,
    pub http: reqwest::Client,
    pub user: FlickrUser,
    pub opts: SyncOptions,
    pub stats: SyncStats,
    planner: Mutex<Planner>,
    /// Photos being worked on (by the prefetcher or on access).
    in_flight: Mutex<HashSet<String>>,
    /// Signalled when a page is listed or a photo finishes.
    changed: Notify,
    /// On-access fetches waiting or running: the prefetcher yields while this is non-zero.
    foreground: AtomicUsize,
    calls_recorded: Mutex<std::collections::BTreeMap<String, u64>>,
    last_listed: Mutex<Option<std::time::Instant>>,
    /// Image downloads in progress, for readers that want the bytes as they arrive.
    pub streams: stream::Streams,
}

impl Engine {
    pub fn new(
        api: FlickrApi,
        user: FlickrUser,
        store: Store,
        index: Index,
        opts: SyncOptions,
    ) -> Result<Arc<Engine>, SyncError> {
        let known = index.known_ranks()?;
        let planner = Planner::new(opts.order, opts.per_page, &known);
        Ok(Arc::new(Engine {
            api,
            index: Arc::new(index),
            store,
            http: download::http_client(),
            user,
            planner: Mutex::new(planner),
            opts,
            stats: SyncStats::default(),
            in_flight: Mutex::new(HashSet::new()),
            changed: Notify::new(),
            foreground: AtomicUsize::new(0),
            calls_recorded: Mutex::new(Default::default()),
            last_listed: Mutex::new(None),
            streams: stream::Streams::default(),
        }))
    }

    /// The stream's owner as it appears in photo page URLs.
    pub fn owner(&self) -> &str {
        if self.user.username.is_empty() {
            &self.user.user_id
        } else {
            &self.user.username
        }
    }

    fn planner(&self) -> std::sync::MutexGuard<'_, Planner> {
        self.planner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Snapshot of (total, known, listing complete) for status.
    pub fn listing_state(&self) -> (Option<u64>, u64, bool) {
        let p = self.planner();
        (p.total(), p.known_count(), p.listing_complete())
    }

    /// Saves API call counts spent since the last flush into the index (for `status`).
    pub fn flush_call_counts(&self) {
        let now = self.api.call_counts();
        let mut seen = self
            .calls_recorded
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for (method, n) in &now {
            let before = seen.get(method).copied().unwrap_or(0);
            if *n > before {
                let _ = self.index.record_api_calls(method, n - before);
            }
        }
        *seen = now;
    }

    /// Fetches one listing page and indexes it. Returns false when the listing is complete.
    async fn list_next_page(&self) -> Result<bool, SyncError> {
        let (page, wanted) = {
            let p = self.planner();
            match p.next_page() {
                None => return Ok(false),
                Some(page) => (page, p.next_unknown()),
            }
        };
        let per_page = self.opts.per_page;
        let pages_hint = self
            .planner()
            .total()
            .map(|t| t.div_ceil(per_page as u64).max(1))
            .map(|n| n.to_string())
            .unwrap_or_else(|| "?".into());
        tracing::info!("Scanning page {page}/{pages_hint}...");
        let result = self
            .api
            .get_photos(&self.user.user_id, page, per_page, LISTING_EXTRAS)
            .await?;
        self.stats.pages_fetched.fetch_add(1, Ordering::Relaxed);
        *self.last_listed.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(std::time::Instant::now());
        let total = result.photo_count;
        let ranked: Vec<(i64, &crate::flickr::ListedPhoto)> = result
            .photos
            .iter()
            .enumerate()
            .map(|(j, p)| (Planner::rank_of(total, per_page, page, j), p))
            .filter(|(r, _)| *r >= 0)
            .collect();
        let (new, replaced) = self.index.upsert_listed(&ranked)?;
        for (id, ext) in replaced {
            // Replaced on Flickr: the cached file must not be adopted as the new image.
            tracing::info!(
                "Photo {} was replaced on Flickr",
                crate::store::photo_hash(&id)
            );
            let path = self.store.image_path(&id, &ext);
            let _ = std::fs::remove_file(crate::store::part_path(&path));
            let _ = std::fs::remove_file(path);
        }
        self.stats
            .new_photos
            .fetch_add(new as u64, Ordering::Relaxed);
        self.index.set_meta("total", &total.to_string())?;
        let ranks: Vec<i64> = ranked.iter().map(|(r, _)| *r).collect();
        let complete = {
            let mut p = self.planner();
            p.apply_page(total, &ranks, wanted);
            p.listing_complete()
        };
        if complete {
            self.index
                .set_meta("listing_complete_at", &now_secs().to_string())?;
        }
        self.flush_call_counts();
        self.changed.notify_waiters();
        Ok(!complete)
    }

    /// Runs the listing to its end (the mount's `--wait-index` and the background refresh).
    pub async fn list_all(&self) -> Result<(), SyncError> {
        while self.list_next_page().await? {}
        Ok(())
    }

    /// True when an earlier listing completed and (when `with_work`) no photo is pending for
    /// this engine's options: a run now would only probe for new photos.
    pub fn is_up_to_date(&self, with_work: bool) -> Result<bool, SyncError> {
        if self.index.meta("listing_complete_at")?.is_none() {
            return Ok(false);
        }
        if with_work {
            self.index
                .mark_pending(self.opts.want_image, self.opts.info_level)?;
            if self.index.counts()?.pending > 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Forgets the listing's total so the next run starts from page 1 again.
    pub fn restart_listing(&self) {
        self.planner().restart();
    }

    /// One mirror pass: lists what is unseen and processes every pending photo in order.
    pub async fn run(self: &Arc<Self>) -> Result<RunReport, SyncError> {
        let removed = self
            .store
            .clean_temp_files()
            .map_err(|e| SyncError::Io(format!("cannot clean the cache: {e}")))?;
        if removed > 0 {
            tracing::info!("Removed {removed} temp files left by an interrupted run");
        }
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

        let mut first = true;
        loop {
            let before_pass = self.stats.new_photos.load(Ordering::Relaxed);
            self.restart_listing();
            let dispatched = self.run_pass().await?;
            if self.opts.limit.is_some_and(|l| dispatched >= l) {
                break;
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
        let (total, _, complete) = self.listing_state();
        Ok(RunReport {
            total: total.unwrap_or(0),
            new_photos: self.stats.new_photos.load(Ordering::Relaxed) - before_new,
            pages_fetched: self.stats.pages_fetched.load(Ordering::Relaxed) - before_pages,
            photos_processed: self.stats.photos_done.load(Ordering::Relaxed) - before_done,
            images_downloaded: self.stats.images_downloaded.load(Ordering::Relaxed) - before_img,
            infos_written: self.stats.infos_written.load(Ordering::Relaxed) - before_info,
            errors: self.stats.errors.load(Ordering::Relaxed) - before_err,
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
                        // Stay at most a page or two ahead of the workers.
                        while !stop.load(Ordering::Relaxed)
                            && me.queued_ahead()? > 2 * me.opts.per_page as u64
                        {
                            let notified = me.changed.notified();
                            tokio::select! {
                                _ = notified => {}
                                _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                            }
                        }
                        if !me.list_next_page().await? {
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
            if self.opts.limit.is_some_and(|l| dispatched >= l) {
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
                if self.opts.limit.is_some_and(|l| dispatched >= l) {
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
        Ok(dispatched)
    }

    fn claim(&self, id: &str) -> bool {
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string())
    }

    fn release(&self, id: &str) {
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    fn in_flight_count(&self) -> usize {
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Checks every cached image against the index (length, header, dimensions) and marks the
    /// bad ones for download again.
    pub fn verify_cached_images(&self) -> Result<usize, SyncError> {
        let mut bad = 0;
        for row in self.index.all_photos()? {
            if !row.image_cached {
                continue;
            }
            let path = self.store.image_path(&row.id, &row.ext);
            if let Err(why) = worker::verify_file(&path, &row) {
                tracing::warn!(
                    "Cached image of photo {} is bad ({why}): fetching it again",
                    crate::store::photo_hash(&row.id)
                );
                let _ = std::fs::remove_file(&path);
                self.index.conn().execute(
                    "UPDATE photos SET image_cached = 0, pending = 1 WHERE id = ?1",
                    [&row.id],
                )?;
                bad += 1;
            }
        }
        Ok(bad)
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

pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
