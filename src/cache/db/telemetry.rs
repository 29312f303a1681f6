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

    /// The latest `limit` errors, newest first: (photo id, message).
    pub fn recent_errors(&self, limit: usize) -> rusqlite::Result<Vec<(Option<String>, String)>> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT photo_id, message FROM errors ORDER BY at DESC, rowid DESC LIMIT ?1",
        )?;
        let rows = st.query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    }
}
