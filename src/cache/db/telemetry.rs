//! What the index tells about itself: counts for `status` and the mount's status file, the
//! API calls spent (across processes), and the errors met.

use super::{now, Index};
use rusqlite::params;

/// Counts for `status` and the mount's status file.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct IndexCounts {
    pub photos_indexed: u64,
    pub images_cached: u64,
    pub infos_cached: u64,
    pub image_bytes: u64,
    pub pending: u64,
    pub errors: u64,
    /// Photos no longer in the stream (kept in the archive).
    pub deleted: u64,
}

impl Index {
    pub fn counts(&self) -> rusqlite::Result<IndexCounts> {
        self.conn().query_row(
            "SELECT COUNT(*), COALESCE(SUM(image_cached), 0),
                    COALESCE(SUM(info_level >= 0), 0),
                    COALESCE(SUM(CASE WHEN image_cached = 1 THEN image_size ELSE 0 END), 0),
                    COALESCE(SUM(pending AND deleted_at IS NULL), 0),
                    COALESCE(SUM(error IS NOT NULL AND deleted_at IS NULL), 0),
                    COALESCE(SUM(deleted_at IS NOT NULL), 0)
             FROM photos",
            [],
            |r| {
                Ok(IndexCounts {
                    photos_indexed: r.get::<_, i64>(0)? as u64,
                    images_cached: r.get::<_, i64>(1)? as u64,
                    infos_cached: r.get::<_, i64>(2)? as u64,
                    image_bytes: r.get::<_, i64>(3)? as u64,
                    pending: r.get::<_, i64>(4)? as u64,
                    errors: r.get::<_, i64>(5)? as u64,
                    deleted: r.get::<_, i64>(6)? as u64,
                })
            },
        )
    }

    /// How many photos the index holds (deleted ones included): SQLite counts the smallest
    /// index's entries, a few milliseconds at 1M rows, where [`Index::counts`] reads every row.
    pub fn photo_rows(&self) -> rusqlite::Result<u64> {
        self.conn()
            .query_row("SELECT COUNT(*) FROM photos", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
    }

    /// Records API calls spent (for `status`: calls in the last hour across processes).
    pub fn record_api_calls(&self, method: &str, n: u64) -> rusqlite::Result<()> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO api_calls(at, method, n) VALUES (?1, ?2, ?3)",
            params![now(), method, n as i64],
        )?;
        conn.execute("DELETE FROM api_calls WHERE at < ?1", [now() - 7200])?;
        Ok(())
    }

    pub fn api_calls_last_hour(&self) -> rusqlite::Result<u64> {
        self.conn().query_row(
            "SELECT COALESCE(SUM(n), 0) FROM api_calls WHERE at >= ?1",
            [now() - 3600],
            |r| Ok(r.get::<_, i64>(0)? as u64),
        )
    }

    /// The latest `limit` errors, newest first.
    pub fn recent_errors(&self, limit: usize) -> rusqlite::Result<Vec<ErrorEvent>> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT at, photo_id, message FROM errors ORDER BY at DESC, rowid DESC LIMIT ?1",
        )?;
        let rows = st.query_map([limit as i64], |r| {
            Ok(ErrorEvent {
                at: r.get(0)?,
                photo_id: r.get(1)?,
                message: r.get(2)?,
            })
        })?;
        rows.collect()
    }

    /// Records a failure that is not (only) a photo's last attempt: a read answered EIO, a
    /// sync that failed, a full disk. Kept for a week, at most [`MAX_ERRORS_KEPT`] rows.
    /// Best effort: an index that cannot take it (a full disk) loses the record, not the run.
    pub fn record_failure(&self, photo_id: Option<&str>, message: &str) {
        let conn = self.conn();
        let r = conn
            .execute(
                "INSERT INTO errors(at, photo_id, message) VALUES (?1, ?2, ?3)",
                params![now(), photo_id, message],
            )
            .and_then(|_| {
                conn.execute(
                    "DELETE FROM errors WHERE at < ?1 OR rowid <= (SELECT MAX(rowid) FROM errors) - ?2",
                    params![now() - 7 * 86_400, MAX_ERRORS_KEPT],
                )
            });
        if let Err(e) = r {
            tracing::debug!("cannot record an error in the index: {e}");
        }
    }

    /// Errors of every kind recorded since `since` (unix seconds).
    pub fn errors_since(&self, since: i64) -> rusqlite::Result<u64> {
        self.conn()
            .query_row("SELECT COUNT(*) FROM errors WHERE at >= ?1", [since], |r| {
                Ok(r.get::<_, i64>(0)? as u64)
            })
    }
}

/// Rows of the errors table kept at most.
pub const MAX_ERRORS_KEPT: i64 = 1000;

/// One recorded error.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ErrorEvent {
    /// Unix seconds.
    pub at: i64,
    pub photo_id: Option<String>,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_listed_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let idx = Index::open(&dir.path().join("i.sqlite")).unwrap();
        assert_eq!(idx.errors_since(0).unwrap(), 0);
        idx.record_failure(None, "background sync failed: x");
        idx.record_failure(Some("42"), "read failed");
        assert_eq!(idx.errors_since(0).unwrap(), 2);
        assert_eq!(idx.errors_since(now() + 10).unwrap(), 0);
        let r = idx.recent_errors(5).unwrap();
        assert_eq!(r[0].photo_id.as_deref(), Some("42"));
        assert_eq!(r[1].message, "background sync failed: x");
        for i in 0..MAX_ERRORS_KEPT + 50 {
            idx.record_failure(None, &format!("e{i}"));
        }
        assert_eq!(idx.errors_since(0).unwrap(), MAX_ERRORS_KEPT as u64);
        let last = format!("e{}", MAX_ERRORS_KEPT + 49);
        assert_eq!(idx.recent_errors(1).unwrap()[0].message, last);
    }
}
