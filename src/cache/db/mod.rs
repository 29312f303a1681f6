//! The per-user index: SQLite (bundled, WAL) at `<cache>/<user>/.flickrfs/index.sqlite`.
//!
//! This module owns the connection and the `meta` key/value table (resolved user, sync state).
//! Submodules own the rest: `schema` (tables, version), `photos` (every listed photo with what
//! the listing gave, its image/info state and cached comments), `search` (the FTS5 table),
//! `telemetry` (counts, API calls, errors) and `views` (what the albums, dates and tags views
//! read, and the albums cached between looks). The mirror, the mount, `status` and `search` all
//! read it; WAL lets them do so while another process writes. No SQL lives outside this folder.

mod photos;
mod schema;
pub mod search;
mod telemetry;
mod views;

pub use telemetry::{ErrorEvent, IndexCounts};
pub use views::AlbumRow;

use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

const BUSY_TIMEOUT: Duration = crate::config::INDEX_BUSY_TIMEOUT;

/// The SQLite index of one user. Cheap calls; the connection sits behind a mutex that is never
/// held across an `.await`.
pub struct Index {
    conn: Mutex<Connection>,
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
        let idx = Index {
            conn: Mutex::new(conn),
        };
        Ok(idx)
    }

    /// Opens an existing index read-only (for `status`/`search` beside a running mirror).
    pub fn open_read_only(path: &Path) -> rusqlite::Result<Index> {
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        Ok(Index {
            conn: Mutex::new(conn),
        })
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
