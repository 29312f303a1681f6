//! Every default and tunable in one place: listing page size, concurrency, rate limit, retries
//! and back-off, timeouts, FUSE TTLs and threads, search limits. The command-line defaults
//! (`cmd::args`) and every layer's options read their values from here, so a number is never
//! written twice. Plain constants: no I/O, no other module of the crate.

use crate::retry::Backoff;
use std::time::Duration;

/// Photos per `flickr.people.getPhotos` page: Flickr's maximum.
pub const PER_PAGE: u32 = 500;

/// Default directory levels of the hashed tree.
pub const DEFAULT_DEPTH: u8 = 4;
/// Default info sidecar level (0 title, 1 + description, 2 + comments).
pub const DEFAULT_INFO_LEVEL: i32 = 2;
/// Default concurrent image downloads.
pub const DEFAULT_CONCURRENCY: u16 = 8;
/// Default HEAD requests the mount's size prober keeps in flight (`--probe-concurrency`).
pub const DEFAULT_PROBE_CONCURRENCY: u16 = 32;
/// Unsized photos below a directory of the hashed tree probed when it is listed (by hash).
pub const PROBE_BELOW_DIR: usize = 1024;
/// How often the size prober looks again from the head of the stream for unsized photos.
pub const PROBE_RESTART_EVERY: Duration = Duration::from_secs(30);
/// Photos whose sidecars are made at once by the API pipeline (the rate limit paces the calls).
pub const API_WORKERS: usize = 8;
/// Default API calls per hour (Flickr allows about 3,600 per key).
pub const DEFAULT_RATE_LIMIT: u32 = 3600;
/// Calls that may go out at once before the hourly pace applies.
pub const RATE_BURST: u32 = 60;
/// A wait for the API rate limit longer than this is said in the log and in the status.
pub const RATE_WAIT_NOTICE: Duration = Duration::from_secs(3);
/// How often a run without a terminal logs its progress.
pub const PROGRESS_LINE_EVERY: Duration = Duration::from_secs(30);
/// How often a long wait is said again.
pub const RATE_WAIT_NOTICE_EVERY: Duration = Duration::from_secs(30);

/// REST calls: retries of a transient failure, their back-off, and the request timeout.
pub const API_RETRIES: u32 = 6;
pub const API_BACKOFF: Backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(60));
pub const API_TIMEOUT: Duration = Duration::from_secs(60);

/// Image downloads: attempts (with `Range` resume) and their back-off; HTTP timeouts.
pub const DOWNLOAD_ATTEMPTS: u32 = 8;
pub const DOWNLOAD_BACKOFF: Backoff =
    Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
pub const HTTP_CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
pub const HTTP_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Idle keep-alive connections kept to the image host.
pub const HTTP_IDLE_PER_HOST: usize = 32;

/// How long a query waits for another process's write lock on the index.
pub const INDEX_BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an index open or transaction is tried again when SQLite answers "busy" without
/// waiting (a journal mode switch, a stale WAL snapshot): then the run fails, with that error.
pub const INDEX_BUSY_WAIT: Duration = Duration::from_secs(60);
/// The mount's background sync, after a failed pass: tries again after these pauses (doubling
/// from the first, at most the second) before it waits for the next refresh.
pub const BACKGROUND_RETRY_FIRST: Duration = Duration::from_secs(1);
pub const BACKGROUND_RETRY_MAX: Duration = Duration::from_secs(60);
pub const BACKGROUND_RETRIES: u32 = 8;

/// A mirror run looks at page 1 again after its work when the last listing is older than this.
pub const RECHECK_AFTER: Duration = Duration::from_secs(60);
/// A full sweep of the stream (deletions, insertions, edits) when the last one is older.
pub const RESCAN_AFTER: Duration = Duration::from_secs(86_400);
pub const DEFAULT_RESCAN_AFTER: &str = "1d";
/// The mount's default interval between looks for new photos.
pub const DEFAULT_REFRESH: &str = "10m";

/// FUSE: attribute and entry TTL of directories and links that can change without the index
/// telling (views, searches). Files that can (a sidecar's stand-in, the status file) get none.
pub const FUSE_SHORT_TTL: Duration = Duration::from_secs(1);
/// FUSE: attribute and entry TTL of what cannot change unless the index says so (hashed
/// directories, images of exact size, rendered sidecars): every change is told to the kernel
/// (see `fs::notify`), so this only bounds what an unnoticed change could cost.
pub const FUSE_LONG_TTL: Duration = Duration::from_secs(3600);
/// FUSE: how often the mount reads the index's change log to tell the kernel what to forget.
pub const FUSE_INVAL_EVERY: Duration = Duration::from_millis(200);
/// FUSE: the longest a request a person waits for is held (waiting for the API rate limit,
/// a HEAD, an image's first bytes): past it the request is answered from what is known or
/// with `EIO`, never held for minutes. `mount --fuse-wait` changes it.
pub const FUSE_WAIT: Duration = Duration::from_secs(5);
pub const DEFAULT_FUSE_WAIT: &str = "5s";
/// FUSE: threads reading requests from the kernel.
pub const FUSE_THREADS: usize = 4;
/// Read-only index connections (opened on demand), one per FUSE thread.
pub const INDEX_READERS: usize = FUSE_THREADS;
/// FUSE: largest read request and readahead asked of the kernel.
pub const FUSE_MAX_READ: u32 = 1 << 20;

/// How old the index counts behind `statfs` and `.flickrfs/status` may be before a recount
/// (in the background; a count is a pass over every row).
pub const COUNTS_MAX_AGE: Duration = Duration::from_secs(2);

/// Mount search directories: hits per directory, search names remembered (least recently used
/// dropped first), directories whose hits are held, and how long a directory's hits are
/// reused before the query runs again.
pub const SEARCH_DIR_LIMIT: usize = 1000;
pub const SEARCH_MAX_QUERIES: usize = 4096;
pub const SEARCH_DIRS_CACHED: usize = 32;
pub const SEARCH_TTL: Duration = Duration::from_secs(10);
/// How long the mount keeps its views (the catalog of dates and tags, the album list and
/// albums read from the index) before it reads them again.
pub const VIEWS_TTL: Duration = Duration::from_secs(30);
/// `flickrfs search`: default hits.
pub const SEARCH_DEFAULT_LIMIT: u32 = 50;

/// How often a read following another process's download looks at the partial file (its
/// length, its rename into place), and how often a read waiting for a download to start looks
/// for one.
pub const FOLLOW_POLL: Duration = Duration::from_millis(20);
