//! The engine shared by `mirror` and `mount`: resolves the user, lists the stream in planner
//! order, and caches every photo's best image and info sidecar into the store, recording
//! progress in the index so that any run can be interrupted and resumed.
//!
//! This module owns the [`Engine`] (one user's API client, index, store and run state), its
//! options, errors and counters. Submodules: `albums` (photosets, fetched lazily), `open` (which cache directory a typed user
//! means; index set aside for a rebuild), `listing` (pages in, index updated), `planner`
//! (which page next, which photos may run), `scheduler` (lister + the image and API
//! pipelines + claims), `namer` (the image pipeline's `getSizes` calls, asked ahead), `fetch` (one photo's image, its sidecar), `probe` (exact image sizes
//! by HEAD in the background), `download` (HTTP GET/HEAD of image files),
//! `stream` (downloads followed by readers), `failures` (errors met outside a photo's fetch,
//! recorded for `status`), `sidecar` (the JSON file), `relabel` (sidecars
//! again after the language detector changed), `imageinfo` and `verify` (checking images), `views`
//! (the views as symlink trees in the cache).

mod albums;
pub mod download;
mod failures;
mod fetch;
pub mod imageinfo;
mod listing;
mod namer;
mod open;
pub mod planner;
pub mod probe;
mod relabel;
mod scheduler;
pub mod sidecar;
pub mod stream;
mod verify;
mod views;

pub use scheduler::ForegroundGuard;
pub use views::ViewsReport;

pub use open::open_user;
use planner::Known;
pub use planner::{Order, Planner};

use crate::cache::db::Index;
use crate::cache::files::Store;
use crate::flickr::{FlickrApi, FlickrError, FlickrUser};
use download::DownloadPolicy;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

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
    /// Sweep the whole stream in this run (deletions, insertions, edits), whatever page 1 says.
    pub rescan: bool,
    /// Sweep the whole stream when the last sweep is older than this.
    pub rescan_after: std::time::Duration,
    /// The lister stays at most a page or two ahead of the workers (a mirror). A mount lists
    /// to the end at once, so that its tree is whole before the prefetcher is done.
    pub pace_listing: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            order: Order::Lifo,
            want_image: true,
            info_level: Some(crate::config::DEFAULT_INFO_LEVEL),
            concurrency: crate::config::DEFAULT_CONCURRENCY as usize,
            verify_image: false,
            limit: None,
            per_page: crate::config::PER_PAGE,
            download: DownloadPolicy::default(),
            recheck_after: crate::config::RECHECK_AFTER,
            rescan: false,
            rescan_after: crate::config::RESCAN_AFTER,
            pace_listing: true,
        }
    }
}

/// A fatal engine error, one line for the user.
#[derive(Debug)]
pub enum SyncError {
    Flickr(FlickrError),
    Index(rusqlite::Error),
    Io(String),
    /// The index file is damaged: `--rebuild-index` makes a new one from the files on disk.
    Damaged {
        user: String,
        path: PathBuf,
        message: String,
    },
    /// The disk of the cache is full (`ENOSPC`, or SQLite's "database or disk is full").
    NoSpace {
        path: PathBuf,
        /// What the write that failed needed, when known (an image's length).
        needed: Option<u64>,
    },
}

impl std::fmt::Display for SyncError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyncError::Flickr(e) => write!(f, "{e}"),
            SyncError::Index(e) => write!(f, "index error: {e}"),
            SyncError::Io(m) => write!(f, "{m}"),
            SyncError::Damaged {
                user,
                path,
                message,
            } => write!(
                f,
                "the index of {user} at {} is damaged ({message}); run flickrfs mirror --username {user} --rebuild-index to rebuild it from the files on disk (no image is downloaded again)",
                path.display()
            ),
            SyncError::NoSpace { path, needed } => {
                write!(f, "no space left on device in {}", path.display())?;
                if let Some(n) = needed {
                    write!(f, " (the next image needs about {})", human_bytes(*n))?;
                }
                write!(f, "; free some space and run again")
            }
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

/// Why the work on one photo failed: a full disk stops the run (it is not the photo's fault,
/// and every other photo would fail the same way); anything else is recorded against the photo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchError {
    Failed(String),
    /// `ENOSPC` (or SQLite's `SQLITE_FULL`); `needed` is what the write wanted, when known.
    NoSpace {
        needed: Option<u64>,
    },
}

impl FetchError {
    /// An index error: a full disk is [`FetchError::NoSpace`].
    pub fn db(e: rusqlite::Error) -> FetchError {
        if crate::cache::db::is_disk_full(&e) {
            FetchError::NoSpace { needed: None }
        } else {
            FetchError::Failed(e.to_string())
        }
    }

    /// A file error, `context` saying what was written: `ENOSPC` is [`FetchError::NoSpace`].
    pub fn io(context: &str, e: &std::io::Error, needed: Option<u64>) -> FetchError {
        if e.raw_os_error() == Some(libc::ENOSPC) {
            FetchError::NoSpace { needed }
        } else {
            FetchError::Failed(format!("{context}: {e}"))
        }
    }

    pub fn is_no_space(&self) -> bool {
        matches!(self, FetchError::NoSpace { .. })
    }
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Failed(m) => write!(f, "{m}"),
            FetchError::NoSpace { .. } => write!(f, "no space left on device"),
        }
    }
}

impl std::error::Error for FetchError {}

impl From<String> for FetchError {
    fn from(m: String) -> Self {
        FetchError::Failed(m)
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
    /// Photos found deleted from the stream.
    pub deleted: AtomicU64,
    /// True while the owner (the mount's background sync) sleeps until its next look.
    pub idle: std::sync::atomic::AtomicBool,
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
    /// Photos found deleted from the stream by this run.
    pub deleted: u64,
    pub listing_complete: bool,
}

/// The engine of one user. Cheap to share (`Arc`).
pub struct Engine {
    pub api: FlickrApi,
    pub index: Arc<Index>,
    pub store: Store,
    /// The image host's client, built on first use (see [`Engine::http`]).
    http: std::sync::OnceLock<reqwest::Client>,
    pub user: FlickrUser,
    pub opts: SyncOptions,
    pub stats: SyncStats,
    planner: Mutex<Planner>,
    /// The listing pass under way (stamped on every photo it lists).
    listing_gen: std::sync::atomic::AtomicI64,
    /// The next pass sweeps the whole stream (`--rescan`, or a URL found gone).
    rescan_requested: std::sync::atomic::AtomicBool,
    /// Photos being worked on (by the prefetcher or on access), per pipeline.
    in_flight: Mutex<HashSet<(String, scheduler::Lane)>>,
    /// One `getSizes` at a time per photo (both pipelines may want its best size).
    best_locks: Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// `getSizes` calls the image pipeline waits for (see `namer::SizesWanted`): comments
    /// calls let them go first.
    sizes_wanted: AtomicUsize,
    /// The size prober's queues and the sizes it announces.
    prober: probe::Prober,
    /// Signalled when a page is listed or a photo finishes.
    changed: Notify,
    /// On-access fetches waiting or running: the prefetcher yields while this is non-zero.
    foreground: AtomicUsize,
    calls_recorded: Mutex<std::collections::BTreeMap<String, u64>>,
    last_listed: Mutex<Option<std::time::Instant>>,
    /// Image downloads in progress, for readers that want the bytes as they arrive.
    pub streams: stream::Streams,
    /// Set by a worker that met a fault every photo would meet (a full disk): the dispatcher
    /// starts nothing more, and the run ends with this error.
    halted: Mutex<Option<SyncError>>,
    /// Failure records being written (see `failures`).
    failures_in_flight: AtomicUsize,
    /// Held while albums are fetched (one fetch at a time).
    albums_lock: tokio::sync::Mutex<()>,
}

impl Engine {
    pub fn new(
        api: FlickrApi,
        user: FlickrUser,
        store: Store,
        index: Index,
        opts: SyncOptions,
    ) -> Result<Arc<Engine>, SyncError> {
        let planner = Planner::new(opts.order, Known::default());
        let rescan = opts.rescan;
        Ok(Arc::new(Engine {
            api,
            index: Arc::new(index),
            store,
            http: std::sync::OnceLock::new(),
            user,
            planner: Mutex::new(planner),
            listing_gen: Default::default(),
            rescan_requested: std::sync::atomic::AtomicBool::new(rescan),
            opts,
            stats: SyncStats::default(),
            in_flight: Mutex::new(HashSet::new()),
            best_locks: Mutex::default(),
            sizes_wanted: AtomicUsize::new(0),
            prober: probe::Prober::default(),
            changed: Notify::new(),
            foreground: AtomicUsize::new(0),
            calls_recorded: Mutex::new(Default::default()),
            last_listed: Mutex::new(None),
            streams: stream::Streams::default(),
            halted: Mutex::new(None),
            failures_in_flight: AtomicUsize::new(0),
            albums_lock: tokio::sync::Mutex::new(()),
        }))
    }

    /// The image host's HTTP client, built on first use: loading the CA certificates costs
    /// about 0.1 s from a cold disk, which a mount that serves from its cache need not wait for.
    pub fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(download::http_client)
    }

    /// Builds the HTTP clients now, for a caller that will not wait for them.
    pub fn warm_up(&self) {
        self.http();
        self.api.warm_up();
    }

    /// Stops the run at the next photo with `e` (the first such error wins).
    pub(crate) fn halt(&self, e: SyncError) {
        let mut h = self.halted.lock().unwrap_or_else(|e| e.into_inner());
        if h.is_none() {
            *h = Some(e);
        }
        drop(h);
        self.changed.notify_waiters();
    }

    pub(crate) fn is_halted(&self) -> bool {
        self.halted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    pub(crate) fn take_halt(&self) -> Option<SyncError> {
        self.halted.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// The error of a full disk, naming this user's cache.
    pub(crate) fn no_space(&self, needed: Option<u64>) -> SyncError {
        SyncError::NoSpace {
            path: self.store.root().to_path_buf(),
            needed,
        }
    }

    /// Says what an index error means for the user: a damaged index (with the command that
    /// rebuilds it), a full disk, or the error itself.
    pub fn explain(&self, e: SyncError) -> SyncError {
        match e {
            SyncError::Index(e) if crate::cache::db::is_disk_full(&e) => self.no_space(None),
            SyncError::Index(e) => {
                open::damaged(self.owner(), &self.store.meta_dir().join("index.sqlite"), e)
            }
            e => e,
        }
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

    /// Snapshot of (the stream's total as this pass saw it, listing pass complete).
    pub fn listing_state(&self) -> (Option<u64>, bool) {
        let p = self.planner();
        (p.total(), p.listing_complete())
    }

    /// The next listing pass sweeps the whole stream.
    pub fn request_rescan(&self) {
        self.rescan_requested
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Saves API call counts spent since the last flush into the index (for `status`).
    pub fn flush_call_counts(&self) {
        let mut seen = self
            .calls_recorded
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Read under the lock: the pipelines flush concurrently, and a snapshot read before
        // another flush took the lock would be older than what that flush recorded, so
        // storing it would record the calls between the two a second time.
        let now = self.api.call_counts();
        for (method, n) in &now {
            let before = seen.get(method).copied().unwrap_or(0);
            if *n > before {
                let _ = self.index.record_api_calls(method, n - before);
            }
        }
        *seen = now;
    }
}

/// `1234567` -> `1.2 MB` (decimal units, as `df -H` shows them), `512` -> `512 bytes`.
pub fn human_bytes(n: u64) -> String {
    if n < 1000 {
        return format!("{n} bytes");
    }
    let mut v = n as f64;
    for unit in ["kB", "MB", "GB", "TB"] {
        v /= 1000.0;
        if v < 1000.0 {
            return format!("{v:.1} {unit}");
        }
    }
    format!("{v:.1} PB")
}

pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
