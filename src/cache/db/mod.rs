//! The per-user index: SQLite (bundled, WAL) at `<cache>/<user>/.flickrfs/index.sqlite`.
//!
//! This module owns the connections (one writer, and a few read-only ones opened on demand so
//! that the mount's lookups never queue behind a long write or scan) and the `meta` key/value
//! table (resolved user, sync state). Submodules own the rest: `schema` (tables, version),
//! `photos` (every listed photo with what the listing gave, its image/info state and cached
//! comments), `hashkey` and `tree` (the hashed tree as index queries), `search` (the FTS5
//! table), `changes` (the log of changes a mount tells the kernel about), `synth` (synthetic indexes for benchmarks), `telemetry` (counts, API calls,
//! errors) and `views` (what the albums, dates and tags views read, and the albums cached
//! between looks). The mirror, the mount, `status` and `search` all
//! read it; WAL lets them do so while another process writes. No SQL lives outside this folder.

mod changes;
pub mod hashkey;
mod photos;
mod schema;
pub mod search;
pub mod synth;
mod telemetry;
mod tree;
mod views;

pub use changes::{ChangeBatch, PhotoChange};
pub use photos::Queue;
pub use telemetry::{ErrorEvent, IndexCounts};
pub use tree::TreeFile;
pub use views::AlbumRow;

use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

const BUSY_TIMEOUT: Duration = crate::config::INDEX_BUSY_TIMEOUT;

/// SQLite virtual-machine instructions between two ticks of [`Index::steps`].
const STEP_TICK: i32 = 1000;

/// The SQLite index of one user. Cheap calls; every connection sits behind a mutex that is
/// never held across an `.await`.
pub struct Index {
    conn: Mutex<Connection>,
    /// The database file, for the read-only connections (none for an in-memory index).
    path: Option<PathBuf>,
    /// Read-only connections, opened on first use (WAL lets them read beside the writer).
    readers: Vec<Mutex<Option<Connection>>>,
    /// Work done by every connection, in ticks of [`STEP_TICK`] SQLite instructions.
    steps: Arc<AtomicU64>,
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// True when SQLite says the index file itself is damaged (corrupt, truncated, not a database).
pub fn is_damaged(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}

/// True when SQLite could not write for lack of space (`SQLITE_FULL`).
pub fn is_disk_full(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
}

/// True when another connection held the database past what SQLite's busy handler waits for
/// (some of its `SQLITE_BUSY` answers, such as a journal mode switch or a stale WAL snapshot,
/// never wait at all).
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Runs `f` again while the database is busy, for at most [`crate::config::INDEX_BUSY_WAIT`].
pub(crate) fn retry_busy<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let start = std::time::Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        match f() {
            Err(e) if is_busy(&e) && start.elapsed() < crate::config::INDEX_BUSY_WAIT => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            r => return r,
        }
    }
}

fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let c = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    c.busy_timeout(BUSY_TIMEOUT)?;
    Ok(c)
}

fn count_steps(conn: &Connection, steps: &Arc<AtomicU64>) {
    let steps = steps.clone();
    conn.progress_handler(
        STEP_TICK,
        Some(move || {
            steps.fetch_add(1, Ordering::Relaxed);
            false
        }),
    );
}

/// A small number that differs between threads (which read connection to queue on).
fn thread_slot() -> usize {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::thread::current().id().hash(&mut h);
    h.finish() as usize
}

impl Index {
    /// Opens or creates the index at `path`. Another process opening or writing the same index
    /// at the same moment makes this wait (bounded), never fail.
    pub fn open(path: &Path) -> rusqlite::Result<Index> {
        retry_busy(|| Self::open_once(path))
    }

    fn open_once(path: &Path) -> rusqlite::Result<Index> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Creating and migrating the tables is one IMMEDIATE transaction: two processes
        // opening a fresh or older cache at once (a mount started beside a mirror) take turns,
        // and the second sees the first's columns instead of adding them again.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(schema::SCHEMA)?;
        schema::migrate(&tx)?;
        tx.commit()?;
        search::ensure_built(&mut conn)?;
        Ok(Self::with_conn(conn, path))
    }

    fn with_conn(conn: Connection, path: &Path) -> Index {
        let steps = Arc::new(AtomicU64::new(0));
        count_steps(&conn, &steps);
        Index {
            conn: Mutex::new(conn),
            path: (path.as_os_str() != ":memory:").then(|| path.to_path_buf()),
            readers: (0..crate::config::INDEX_READERS)
                .map(|_| Mutex::new(None))
                .collect(),
            steps,
        }
    }

    /// Opens an existing index read-only (for `status`/`search` beside a running mirror).
    pub fn open_read_only(path: &Path) -> rusqlite::Result<Index> {
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        Ok(Self::with_conn(conn, path))
    }

    /// Runs the read-only query `f` on a read connection (a free one if any, so that lookups
    /// never wait for the writer's mutex), or on the writer's when none can be opened.
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let Some(path) = &self.path else {
            return f(&self.conn());
        };
        let free = self.readers.iter().find_map(|m| m.try_lock().ok());
        let mut slot = match free {
            Some(g) => g,
            None => {
                // All busy: queue on one of them, spread by thread.
                let n = self.readers.len().max(1);
                let i = thread_slot() % n;
                self.readers[i].lock().unwrap_or_else(|e| e.into_inner())
            }
        };
        if slot.is_none() {
            match open_reader(path) {
                Ok(c) => {
                    count_steps(&c, &self.steps);
                    *slot = Some(c);
                }
                Err(e) => {
                    tracing::debug!("no read connection ({e}); reading on the writer's");
                    drop(slot);
                    return f(&self.conn());
                }
            }
        }
        f(slot.as_ref().expect("opened above"))
    }

    /// How much work SQLite has done for this index so far, in ticks of 1,000 virtual-machine
    /// instructions over every connection: a full scan of N photos costs at least N / 100.
    pub fn steps(&self) -> u64 {
        self.steps.load(Ordering::Relaxed)
    }

    /// At a clean exit: copies the write-ahead log into the database and empties it. Left
    /// full (a mirror's commits leave up to a few MB), the next process to open the index
    /// reads all of it to rebuild SQLite's shared-memory index before its first query: a
    /// mount's start-up from a cold disk waited for that. When another process is reading or
    /// writing, nothing waits: that process leaves the log behind it, as this one would have.
    pub fn checkpoint_at_exit(&self) {
        if self.path.is_none() {
            return;
        }
        for slot in &self.readers {
            // Read connections hold the log open too: close them first.
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
        let conn = self.conn();
        let _ = conn.busy_timeout(Duration::ZERO);
        // Busy (another process reads) comes back as a row, not an error: nothing to do then.
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
            tracing::debug!("no checkpoint at exit: {e}");
        }
        let _ = conn.busy_timeout(BUSY_TIMEOUT);
    }

    /// The raw connection, for modules that own their own tables (search).
    pub fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn meta(&self, key: &str) -> rusqlite::Result<Option<String>> {
        self.conn()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
    }

    pub fn set_meta(&self, key: &str, value: &str) -> rusqlite::Result<()> {
        self.conn().execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    pub fn meta_i64(&self, key: &str) -> rusqlite::Result<Option<i64>> {
        Ok(self.meta(key)?.and_then(|v| v.parse().ok()))
    }
}
