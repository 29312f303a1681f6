//! The per-user index: SQLite (bundled, WAL) at `<cache>/<user>/.flickrfs/index.sqlite`.
//!
//! Holds the resolved user, every listed photo with what the listing gave, the per-photo
//! image/info state, cached comments, the sync state and errors. The mirror, the mount, `status`
//! and `search` all read it; WAL lets them do so while another process writes.
//!
//! A photo's `rank` is its position counted from the oldest photo (0 = oldest). The stream is
//! newest first and photos are only ever added at its head, so a rank never changes while page
//! numbers do: the planner works in ranks.

use crate::flickr::{Comment, FlickrPhotoSize, ListedPhoto};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS photos (
    id TEXT PRIMARY KEY,
    rank INTEGER NOT NULL,
    secret TEXT NOT NULL DEFAULT '',
    server TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    date_upload INTEGER NOT NULL DEFAULT 0,
    last_update INTEGER NOT NULL DEFAULT 0,
    media TEXT NOT NULL DEFAULT 'photo',
    original_format TEXT,
    count_comments INTEGER NOT NULL DEFAULT 0,
    best_url TEXT,
    best_label TEXT,
    best_width INTEGER,
    best_height INTEGER,
    ext TEXT NOT NULL DEFAULT 'jpg',
    image_size INTEGER,
    image_cached INTEGER NOT NULL DEFAULT 0,
    info_level INTEGER NOT NULL DEFAULT -1,
    info_last_update INTEGER,
    comments_json TEXT,
    error TEXT,
    pending INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS photos_rank ON photos(rank);
CREATE INDEX IF NOT EXISTS photos_pending ON photos(pending, rank);
CREATE TABLE IF NOT EXISTS api_calls (at INTEGER NOT NULL, method TEXT NOT NULL, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS errors (at INTEGER NOT NULL, photo_id TEXT, message TEXT NOT NULL);
"#;

/// One photo as the index holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct PhotoRow {
    pub id: String,
    pub rank: i64,
    pub secret: String,
    pub server: String,
    pub title: String,
    pub description: String,
    pub date_upload: i64,
    pub last_update: i64,
    pub media: String,
    pub original_format: Option<String>,
    pub count_comments: u32,
    pub best_url: Option<String>,
    pub best_label: Option<String>,
    pub best_width: Option<u32>,
    pub best_height: Option<u32>,
    pub ext: String,
    /// Exact byte size of the image, once known (download or HEAD).
    pub image_size: Option<u64>,
    pub image_cached: bool,
    /// Info level of the sidecar on disk, -1 when none.
    pub info_level: i32,
    pub info_last_update: Option<i64>,
    /// Comments as fetched (JSON array of [`StoredComment`]), once fetched.
    pub comments: Option<Vec<StoredComment>>,
    pub error: Option<String>,
}

/// A comment as cached in the index.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredComment {
    pub id: String,
    pub author: String,
    pub author_name: String,
    pub date_create: i64,
    pub content: String,
}

impl From<&Comment> for StoredComment {
    fn from(c: &Comment) -> Self {
        StoredComment {
            id: c.id.clone(),
            author: c.author.clone(),
            author_name: c.author_name.clone(),
            date_create: c.date_create,
            content: c.content.clone(),
        }
    }
}

/// Counts for `status` and the mount's status file.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct IndexCounts {
    pub photos_indexed: u64,
    pub images_cached: u64,
    pub infos_cached: u64,
    pub image_bytes: u64,
    pub pending: u64,
    pub errors: u64,
}

/// The extension a photo's image file gets: the real format of the best size.
pub fn image_ext(
    media: &str,
    best: Option<&FlickrPhotoSize>,
    original_format: Option<&str>,
) -> String {
    if media == "video" || best.is_some_and(|b| b.media == "video") {
        return "mp4".into();
    }
    if let Some(b) = best {
        let path = b.url.split(['?', '#']).next().unwrap_or("");
        if let Some((_, ext)) = path.rsplit_once('.') {
            let ext = ext.to_ascii_lowercase();
            if matches!(
                ext.as_str(),
                "jpg" | "jpeg" | "png" | "gif" | "mp4" | "webp"
            ) {
                return if ext == "jpeg" { "jpg".into() } else { ext };
            }
        }
        if b.label == "Original" {
            if let Some(f) = original_format {
                return f.to_ascii_lowercase();
            }
        }
    }
    "jpg".into()
}

/// The SQLite index of one user. Cheap calls; the connection sits behind a mutex that is never
/// held across an `.await`.
pub struct Index {
    conn: Mutex<Connection>,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Index {
    /// Opens or creates the index at `path`.
    pub fn open(path: &Path) -> rusqlite::Result<Index> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(SCHEMA)?;
        let mut conn = conn;
        crate::search::ensure_built(&mut conn)?;
        let idx = Index {
            conn: Mutex::new(conn),
        };
        if idx.meta("schema_version")?.is_none() {
            idx.set_meta("schema_version", &SCHEMA_VERSION.to_string())?;
        }
        Ok(idx)
    }

    /// Opens an existing index read-only (for `status`/`search` beside a running mirror).
    pub fn open_read_only(path: &Path) -> rusqlite::Result<Index> {
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(30))?;
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

    /// Inserts or refreshes listed photos with their ranks, in one transaction. A photo whose
    /// `lastupdate` changed gets its info redone; a photo whose best URL changed gets its image
    /// redone. Returns how many photos were new.
    /// Returns how many photos were new, and the (id, old extension) of every photo whose
    /// image was replaced on Flickr: its cached file is stale.
    pub fn upsert_listed(
        &self,
        photos: &[(i64, &ListedPhoto)],
    ) -> rusqlite::Result<(usize, Vec<(String, String)>)> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut new = 0;
        let mut replaced = Vec::new();
        {
            let mut find = tx.prepare_cached("SELECT last_update, best_url, secret, ext, image_cached, rowid FROM photos WHERE id = ?1",
            )?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO photos (id, rank, secret, server, title, description, date_upload,
                    last_update, media, original_format, count_comments, best_url, best_label,
                    best_width, best_height, ext, pending)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, 1)",
            )?;
            let mut update = tx.prepare_cached(
                "UPDATE photos SET rank = ?2, secret = ?3, server = ?4, title = ?5,
                    description = ?6, date_upload = ?7, last_update = ?8, media = ?9,
                    original_format = ?10, count_comments = ?11,
                    best_url = CASE WHEN ?19 THEN best_url ELSE ?12 END,
                    best_label = CASE WHEN ?19 THEN best_label ELSE ?13 END,
                    best_width = CASE WHEN ?19 THEN best_width ELSE ?14 END,
                    best_height = CASE WHEN ?19 THEN best_height ELSE ?15 END,
                    ext = CASE WHEN ?19 THEN ext ELSE ?16 END,
                    image_cached = CASE WHEN ?17 THEN 0 ELSE image_cached END,
                    image_size = CASE WHEN ?17 THEN NULL ELSE image_size END,
                    info_level = CASE WHEN ?18 THEN -1 ELSE info_level END,
                    pending = CASE WHEN ?17 OR ?18 THEN 1 ELSE pending END
                 WHERE id = ?1",
            )?;
            for (rank, p) in photos {
                let best = p.best_size();
                let ext = image_ext(&p.media, best, p.original_format.as_deref());
                #[allow(clippy::type_complexity)]
                let old: Option<(i64, Option<String>, String, String, bool, i64)> = find
                    .query_row([&p.id], |r| {
                        Ok((
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                        ))
                    })
                    .optional()?;
                let values = params![
                    p.id,
                    rank,
                    p.secret,
                    p.server,
                    p.title,
                    p.description,
                    p.date_upload,
                    p.last_update,
                    p.media,
                    p.original_format,
                    p.count_comments,
                    best.map(|b| b.url.clone()),
                    best.map(|b| b.label.clone()),
                    best.map(|b| b.width),
                    best.map(|b| b.height),
                    ext,
                ];
                match old {
                    None => {
                        insert.execute(values)?;
                        crate::search::reindex_photo(&tx, tx.last_insert_rowid())?;
                        new += 1;
                    }
                    Some((old_update, old_url, old_secret, old_ext, cached, rowid)) => {
                        // The best size of a video, or of a photo whose listing named no
                        // URL, came from getSizes: a listing cannot improve on it, and only a
                        // new secret (a replaced photo) makes it stale.
                        let keep_best = old_url.is_some() && (best.is_none() || p.media == "video");
                        let url_changed = if keep_best {
                            old_secret != p.secret
                        } else {
                            best.is_some() && old_url.as_deref() != best.map(|b| b.url.as_str())
                        };
                        let keep_best = keep_best && !url_changed;
                        if url_changed && cached {
                            replaced.push((p.id.clone(), old_ext));
                        }
                        let info_changed = old_update != p.last_update;
                        let mut all: Vec<&dyn rusqlite::ToSql> = values.to_vec();
                        all.push(&url_changed);
                        all.push(&info_changed);
                        all.push(&keep_best);
                        update.execute(all.as_slice())?;
                        if info_changed {
                            crate::search::reindex_photo(&tx, rowid)?;
                        }
                    }
                }
            }
        }
        tx.commit()?;
        Ok((new, replaced))
    }

    /// Every known rank (for the planner's bitmap), ascending.
    pub fn known_ranks(&self) -> rusqlite::Result<Vec<i64>> {
        let conn = self.conn();
        let mut st = conn.prepare("SELECT rank FROM photos ORDER BY rank")?;
        let rows = st.query_map([], |r| r.get(0))?;
        rows.collect()
    }

    /// Pending photos in processing order (`newest_first` = LIFO), restricted to ranks in
    /// `[min_rank, max_rank]`, skipping `exclude`, at most `limit`.
    pub fn pending(
        &self,
        newest_first: bool,
        min_rank: i64,
        max_rank: i64,
        limit: usize,
    ) -> rusqlite::Result<Vec<PhotoRow>> {
        let conn = self.conn();
        let sql = format!(
            "SELECT {COLS} FROM photos WHERE pending = 1 AND rank BETWEEN ?1 AND ?2
             ORDER BY rank {} LIMIT ?3",
            if newest_first { "DESC" } else { "ASC" }
        );
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st.query_map(params![min_rank, max_rank, limit as i64], row_to_photo)?;
        rows.collect()
    }

    /// The photo, if it is still pending (a worker may have finished it since it was listed
    /// as pending).
    pub fn pending_photo(&self, id: &str) -> rusqlite::Result<Option<PhotoRow>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(&format!(
            "SELECT {COLS} FROM photos WHERE id = ?1 AND pending = 1"
        ))?;
        st.query_row([id], row_to_photo).optional()
    }

    pub fn photo(&self, id: &str) -> rusqlite::Result<Option<PhotoRow>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(&format!("SELECT {COLS} FROM photos WHERE id = ?1"))?;
        st.query_row([id], row_to_photo).optional()
    }

    /// (rowid, id) of every photo indexed after `rowid` (rowids only grow: photos are never
    /// deleted), for the mount's in-memory tree.
    pub fn rows_since(&self, rowid: i64) -> rusqlite::Result<Vec<(i64, String)>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached("SELECT rowid, id FROM photos WHERE rowid > ?1")?;
        let rows = st.query_map([rowid], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    }

    pub fn photo_by_rowid(&self, rowid: i64) -> rusqlite::Result<Option<PhotoRow>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(&format!("SELECT {COLS} FROM photos WHERE rowid = ?1"))?;
        st.query_row([rowid], row_to_photo).optional()
    }

    /// Image extensions of the given photos (for directory listings).
    pub fn exts_by_rowid(
        &self,
        rowids: &[i64],
    ) -> rusqlite::Result<std::collections::HashMap<i64, String>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached("SELECT ext FROM photos WHERE rowid = ?1")?;
        let mut out = std::collections::HashMap::with_capacity(rowids.len());
        for &r in rowids {
            if let Some(ext) = st
                .query_row([r], |row| row.get::<_, String>(0))
                .optional()?
            {
                out.insert(r, ext);
            }
        }
        Ok(out)
    }

    /// The image file of a photo, without the rest of the row: (id, extension, cached).
    pub fn image_file(&self, rowid: i64) -> rusqlite::Result<Option<(String, String, bool)>> {
        let conn = self.conn();
        let mut st =
            conn.prepare_cached("SELECT id, ext, image_cached FROM photos WHERE rowid = ?1")?;
        st.query_row([rowid], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? != 0))
        })
        .optional()
    }

    /// What `stat` of an image needs, without the rest of the row: (known byte size, upload
    /// date).
    pub fn image_stat(&self, rowid: i64) -> rusqlite::Result<Option<(Option<u64>, i64)>> {
        let conn = self.conn();
        let mut st =
            conn.prepare_cached("SELECT image_size, date_upload FROM photos WHERE rowid = ?1")?;
        st.query_row([rowid], |r| {
            Ok((
                r.get::<_, Option<i64>>(0)?.map(|v| v.max(0) as u64),
                r.get::<_, i64>(1)?,
            ))
        })
        .optional()
    }

    /// All photos, newest first.
    pub fn all_photos(&self) -> rusqlite::Result<Vec<PhotoRow>> {
        let conn = self.conn();
        let mut st = conn.prepare(&format!("SELECT {COLS} FROM photos ORDER BY rank DESC"))?;
        let rows = st.query_map([], row_to_photo)?;
        rows.collect()
    }

    pub fn set_best(&self, id: &str, best: &FlickrPhotoSize, ext: &str) -> rusqlite::Result<()> {
        self.conn().execute(
            "UPDATE photos SET best_url = ?2, best_label = ?3, best_width = ?4, best_height = ?5,
                ext = ?6 WHERE id = ?1",
            params![id, best.url, best.label, best.width, best.height, ext],
        )?;
        Ok(())
    }

    pub fn set_image_size(&self, id: &str, size: u64) -> rusqlite::Result<()> {
        self.conn().execute(
            "UPDATE photos SET image_size = ?2 WHERE id = ?1",
            params![id, size as i64],
        )?;
        Ok(())
    }

    pub fn set_image_cached(&self, id: &str, size: u64) -> rusqlite::Result<()> {
        self.conn().execute(
            "UPDATE photos SET image_cached = 1, image_size = ?2, error = NULL WHERE id = ?1",
            params![id, size as i64],
        )?;
        Ok(())
    }

    pub fn set_comments(&self, id: &str, comments: &[StoredComment]) -> rusqlite::Result<()> {
        let json = serde_json::to_string(comments).unwrap_or_else(|_| "[]".into());
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE photos SET comments_json = ?2 WHERE id = ?1",
            params![id, json],
        )?;
        let rowid: Option<i64> = tx
            .query_row("SELECT rowid FROM photos WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        if let Some(rowid) = rowid {
            crate::search::reindex_photo(&tx, rowid)?;
        }
        tx.commit()
    }

    pub fn set_info_cached(&self, id: &str, level: i32, last_update: i64) -> rusqlite::Result<()> {
        self.conn().execute(
            "UPDATE photos SET info_level = ?2, info_last_update = ?3 WHERE id = ?1",
            params![id, level, last_update],
        )?;
        Ok(())
    }

    /// Marks a photo's work finished for this run (with an error, or none).
    pub fn finish(&self, id: &str, error: Option<&str>) -> rusqlite::Result<()> {
        let conn = self.conn();
        conn.execute(
            "UPDATE photos SET pending = 0, error = ?2 WHERE id = ?1",
            params![id, error],
        )?;
        if let Some(msg) = error {
            conn.execute(
                "INSERT INTO errors(at, photo_id, message) VALUES (?1, ?2, ?3)",
                params![now(), id, msg],
            )?;
        }
        Ok(())
    }

    /// Marks for (re)processing every photo whose state falls short of what this run wants.
    pub fn mark_pending(
        &self,
        want_image: bool,
        info_level: Option<i32>,
    ) -> rusqlite::Result<usize> {
        let level = info_level.unwrap_or(-1);
        self.conn().execute(
            "UPDATE photos SET pending = 1 WHERE pending = 0 AND (
                error IS NOT NULL
                OR (?1 AND image_cached = 0)
                OR (?2 >= 0 AND (info_level < ?2 OR info_last_update IS NOT last_update)))",
            params![want_image, level],
        )
    }

    pub fn counts(&self) -> rusqlite::Result<IndexCounts> {
        self.conn().query_row(
            "SELECT COUNT(*), COALESCE(SUM(image_cached), 0),
                    COALESCE(SUM(info_level >= 0), 0),
                    COALESCE(SUM(CASE WHEN image_cached = 1 THEN image_size ELSE 0 END), 0),
                    COALESCE(SUM(pending), 0), COALESCE(SUM(error IS NOT NULL), 0)
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
}

const COLS: &str = "id, rank, secret, server, title, description, date_upload, last_update, media,
    original_format, count_comments, best_url, best_label, best_width, best_height, ext,
    image_size, image_cached, info_level, info_last_update, comments_json, error";

fn row_to_photo(r: &rusqlite::Row<'_>) -> rusqlite::Result<PhotoRow> {
    let comments: Option<String> = r.get(20)?;
    Ok(PhotoRow {
        id: r.get(0)?,
        rank: r.get(1)?,
        secret: r.get(2)?,
        server: r.get(3)?,
        title: r.get(4)?,
        description: r.get(5)?,
        date_upload: r.get(6)?,
        last_update: r.get(7)?,
        media: r.get(8)?,
        original_format: r.get(9)?,
        count_comments: r.get::<_, i64>(10)?.max(0) as u32,
        best_url: r.get(11)?,
        best_label: r.get(12)?,
        best_width: r.get::<_, Option<i64>>(13)?.map(|v| v.max(0) as u32),
        best_height: r.get::<_, Option<i64>>(14)?.map(|v| v.max(0) as u32),
        ext: r.get(15)?,
        image_size: r.get::<_, Option<i64>>(16)?.map(|v| v.max(0) as u64),
        image_cached: r.get::<_, i64>(17)? != 0,
        info_level: r.get(18)?,
        info_last_update: r.get(19)?,
        comments: comments.and_then(|s| serde_json::from_str(&s).ok()),
        error: r.get(21)?,
    })
}
