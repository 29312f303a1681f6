//! Photo queries: listed photos in, cache state updated, rows out as [`Photo`].
//!
//! Photos are identified by id and ordered by upload date (the `rank` column of version 1 is
//! no longer used). A photo the last sweep did not see carries `deleted_at`: it stays (an
//! archive outlives its source) but is never pending again.

use super::{search, Index};
use crate::photo::{Comment, Photo, Size};
use rusqlite::{params, OptionalExtension};

/// What [`Index::upsert_listed`] found: the (id, upload date) of the new photos, and the (id,
/// old extension) of the photos replaced on Flickr, whose cached files are stale.
pub type Upserted = (Vec<(String, i64)>, Vec<(String, String)>);

/// The queue of one pipeline: pending photos whose image is not cached yet, whose sidecar
/// falls short of a level (or of the row's last update), or whose image the listing may not
/// have named (no best URL, or a video: its file only `getSizes` names; a superset, the
/// namer decides which of them really need `getSizes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queue {
    Images,
    Infos(i32),
    Unnamed,
}

impl Queue {
    /// The condition on a pending row, `:level` being the level (of the sidecar queue only:
    /// a parameter the planner could fold would make SQLite re-prepare at every bind).
    fn filter(self) -> &'static str {
        match self {
            Queue::Images => "image_cached = 0",
            Queue::Infos(_) => "(info_level < :level OR info_last_update IS NOT last_update)",
            Queue::Unnamed => "image_cached = 0 AND (best_url IS NULL OR media = 'video')",
        }
    }

    /// The pending rows of this queue uploaded between `:from` and `:to`.
    fn pending_where(self) -> String {
        format!(
            "pending = 1 AND deleted_at IS NULL AND date_upload BETWEEN :from AND :to AND {}",
            self.filter()
        )
    }

    /// The named parameters of [`Queue::pending_where`]: the level only where it is named.
    fn args<'a>(
        from: &'a i64,
        to: &'a i64,
        level: &'a Option<i64>,
    ) -> Vec<(&'static str, &'a dyn rusqlite::ToSql)> {
        let mut args: Vec<(&'static str, &dyn rusqlite::ToSql)> =
            vec![(":from", from), (":to", to)];
        if let Some(level) = level {
            args.push((":level", level));
        }
        args
    }

    fn level(self) -> Option<i64> {
        match self {
            Queue::Infos(l) => Some(l as i64),
            Queue::Images | Queue::Unnamed => None,
        }
    }
}

impl Index {
    /// Inserts or refreshes listed photos, in one transaction, stamping them as seen by listing
    /// pass `gen` (and in the stream: a photo that comes back is no longer deleted). A photo
    /// whose `lastupdate` changed gets its info redone; a photo whose best URL changed gets its
    /// image redone. Returns the (id, upload date) of the photos that were new, and the (id,
    /// old extension) of every photo whose image was replaced on Flickr: its cached file is
    /// stale. The transaction is IMMEDIATE: it reads before it writes, and a deferred one gets
    /// SQLITE_BUSY at once, without waiting, when another process (a mount beside a mirror)
    /// wrote in between.
    pub fn upsert_listed(&self, photos: &[&Photo], gen: i64) -> rusqlite::Result<Upserted> {
        // Before the write lock (see `search::Prelabeled`).
        let ahead = self.read(|c| search::prelabel(c, photos))?;
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut new = Vec::new();
        let mut replaced = Vec::new();
        {
            let mut find = tx.prepare_cached("SELECT last_update, best_url, secret, ext, image_cached, rowid FROM photos WHERE id = ?1",
            )?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO photos (id, rank, secret, server, title, description, date_upload,
                    last_update, media, original_format, count_comments, best_url, best_label,
                    best_width, best_height, ext, date_taken, taken_granularity, taken_unknown,
                    tags, pending, seen_gen, hkey)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                    ?17, ?18, ?19, ?20, 1, ?21, ?22)",
            )?;
            let mut update = tx.prepare_cached(
                "UPDATE photos SET rank = ?2, secret = ?3, server = ?4, title = ?5,
                    description = ?6, date_upload = ?7, last_update = ?8, media = ?9,
                    original_format = ?10, count_comments = ?11,
                    best_url = CASE WHEN ?23 THEN best_url ELSE ?12 END,
                    best_label = CASE WHEN ?23 THEN best_label ELSE ?13 END,
                    best_width = CASE WHEN ?23 THEN best_width ELSE ?14 END,
                    best_height = CASE WHEN ?23 THEN best_height ELSE ?15 END,
                    ext = CASE WHEN ?23 THEN ext ELSE ?16 END,
                    date_taken = COALESCE(?17, date_taken), taken_granularity = ?18,
                    taken_unknown = ?19, tags = ?20,
                    image_cached = CASE WHEN ?21 THEN 0 ELSE image_cached END,
                    image_size = CASE WHEN ?21 THEN NULL ELSE image_size END,
                    info_level = CASE WHEN ?22 THEN -1 ELSE info_level END,
                    pending = CASE WHEN ?21 OR ?22 OR deleted_at IS NOT NULL THEN 1 ELSE pending END,
                    deleted_at = NULL,
                    seen_gen = MAX(seen_gen, ?24)
                 WHERE id = ?1",
            )?;
            for p in photos {
                let best = p.best.as_ref();
                let ext = &p.ext;
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
                    0i64,
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
                    p.date_taken,
                    p.taken_granularity,
                    p.taken_unknown,
                    p.tags,
                ];
                match old {
                    None => {
                        let mut all: Vec<&dyn rusqlite::ToSql> = values.to_vec();
                        all.push(&gen);
                        let hkey = super::hashkey::of_id(&p.id);
                        all.push(&hkey);
                        insert.execute(all.as_slice())?;
                        search::reindex_photo_with(&tx, tx.last_insert_rowid(), Some(&ahead))?;
                        new.push((p.id.clone(), p.date_upload));
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
                        all.push(&gen);
                        update.execute(all.as_slice())?;
                        if info_changed {
                            search::reindex_photo_with(&tx, rowid, Some(&ahead))?;
                        }
                    }
                }
            }
        }
        tx.commit()?;
        Ok((new, replaced))
    }

    /// Pending photos in processing order (`newest_first` = LIFO) uploaded between `from` and
    /// `to` (inclusive), at most `limit`. Deleted photos are never pending.
    pub fn pending(
        &self,
        newest_first: bool,
        from: i64,
        to: i64,
        limit: usize,
    ) -> rusqlite::Result<Vec<Photo>> {
        let conn = self.conn();
        let dir = if newest_first { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT {COLS} FROM photos
             WHERE pending = 1 AND deleted_at IS NULL AND date_upload BETWEEN ?1 AND ?2
             ORDER BY date_upload {dir}, id {dir} LIMIT ?3"
        );
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st.query_map(params![from, to, limit as i64], row_to_photo)?;
        rows.collect()
    }

    /// Pending photos in `queue`, in processing order (`newest_first` = LIFO), uploaded between
    /// `from` and `to`, after `after` (upload date, id) in that order when given, at most
    /// `limit`. Read in chunks through `after`, a queue costs the rows looked at, never the
    /// whole queue again for each photo handed out.
    pub fn pending_in(
        &self,
        queue: Queue,
        newest_first: bool,
        from: i64,
        to: i64,
        after: Option<(i64, &str)>,
        limit: usize,
    ) -> rusqlite::Result<Vec<Photo>> {
        let (dir, cmp) = if newest_first {
            ("DESC", "<")
        } else {
            ("ASC", ">")
        };
        let after_clause = if after.is_some() {
            format!("AND (date_upload, id) {cmp} (:after_date, :after_id)")
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT {COLS} FROM photos WHERE {} {after_clause}
             ORDER BY date_upload {dir}, id {dir} LIMIT :limit",
            queue.pending_where()
        );
        let limit = limit as i64;
        let level = queue.level();
        let mut args = Queue::args(&from, &to, &level);
        args.push((":limit", &limit));
        if let Some((d, id)) = &after {
            args.push((":after_date", d));
            args.push((":after_id", id));
        }
        self.read(|c| {
            let mut st = c.prepare_cached(&sql)?;
            let rows = st.query_map(args.as_slice(), row_to_photo)?.collect();
            rows
        })
    }

    /// How many photos `queue` holds between `from` and `to`, counted up to `cap` (no row is
    /// read whole: the lister asks this each time a photo is done).
    pub fn count_pending_in(
        &self,
        queue: Queue,
        from: i64,
        to: i64,
        cap: usize,
    ) -> rusqlite::Result<usize> {
        let sql = format!(
            "SELECT count(*) FROM (SELECT 1 FROM photos WHERE {} LIMIT :limit)",
            queue.pending_where()
        );
        let cap = cap as i64;
        let level = queue.level();
        let mut args = Queue::args(&from, &to, &level);
        args.push((":limit", &cap));
        self.read(|c| {
            c.prepare_cached(&sql)?
                .query_row(args.as_slice(), |r| r.get::<_, i64>(0))
                .map(|n| n as usize)
        })
    }

    /// Pending photos that need nothing more of what a run wants (image cached when wanted,
    /// sidecar at `info_level`) are no longer pending, and their old error is cleared.
    pub fn settle_complete(
        &self,
        want_image: bool,
        info_level: Option<i32>,
    ) -> rusqlite::Result<usize> {
        let level = info_level.unwrap_or(-1);
        self.conn().execute(
            "UPDATE photos SET pending = 0, error = NULL WHERE pending = 1 AND (
                (NOT ?1 OR image_cached = 1)
                AND (?2 < 0 OR (info_level >= ?2 AND info_last_update IS last_update)))",
            params![want_image, level],
        )
    }

    /// Photos whose image size is not known and could be learned without an API call (a best
    /// URL from the listing, not cached, not deleted), in processing order after `after`
    /// (upload date, rowid), at most `limit`: (rowid, upload date).
    pub fn unsized_photos(
        &self,
        newest_first: bool,
        after: Option<(i64, i64)>,
        limit: usize,
    ) -> rusqlite::Result<Vec<(i64, i64)>> {
        let (dir, cmp, start) = if newest_first {
            ("DESC", "<", (i64::MAX, i64::MAX))
        } else {
            ("ASC", ">", (i64::MIN, i64::MIN))
        };
        let (d, r) = after.unwrap_or(start);
        let sql = format!(
            "SELECT rowid, date_upload FROM photos
             WHERE image_size IS NULL AND image_cached = 0 AND deleted_at IS NULL
                AND best_url IS NOT NULL AND (date_upload, rowid) {cmp} (?1, ?2)
             ORDER BY date_upload {dir}, rowid {dir} LIMIT ?3"
        );
        self.read(|c| {
            let mut st = c.prepare_cached(&sql)?;
            let rows = st.query_map(params![d, r, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    /// Remembers an image size learned by a HEAD (kept until the photo is replaced).
    pub fn set_image_size_by_rowid(&self, rowid: i64, size: u64) -> rusqlite::Result<()> {
        self.conn().execute(
            "UPDATE photos SET image_size = ?2 WHERE rowid = ?1 AND image_size IS NULL",
            params![rowid, size as i64],
        )?;
        Ok(())
    }

    /// Every photo deleted from the stream.
    pub fn deleted_photos(&self) -> rusqlite::Result<Vec<Photo>> {
        let conn = self.conn();
        let mut st = conn.prepare(&format!(
            "SELECT {COLS} FROM photos WHERE deleted_at IS NOT NULL"
        ))?;
        let rows = st.query_map([], row_to_photo)?;
        rows.collect()
    }

    /// Forgets a photo (its texts leave the search index too).
    pub fn remove_photo(&self, id: &str) -> rusqlite::Result<()> {
        let mut conn = self.conn();
        // IMMEDIATE: it reads before it writes (see `upsert_listed`).
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let rowid: Option<i64> = tx
            .query_row("SELECT rowid FROM photos WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        tx.execute("DELETE FROM photos WHERE id = ?1", [id])?;
        if let Some(r) = rowid {
            search::reindex_photo(&tx, r)?;
        }
        tx.commit()
    }

    /// Upload date of the newest photo still in the stream.
    pub fn newest_live_date(&self) -> rusqlite::Result<Option<i64>> {
        self.conn().query_row(
            "SELECT MAX(date_upload) FROM photos WHERE deleted_at IS NULL",
            [],
            |r| r.get(0),
        )
    }

    /// Marks deleted (at `now`) every photo still thought live that listing pass `gen`, a
    /// complete sweep, did not see. Passes stamp `MAX(seen_gen, gen)`, so a photo seen by a
    /// pass of another process that started later (a mount beside a mirror) counts as seen. Returns the photos newly marked.
    pub fn mark_unseen_deleted(&self, gen: i64, now: i64) -> rusqlite::Result<Vec<Photo>> {
        let mut conn = self.conn();
        // IMMEDIATE: it reads before it writes (see `upsert_listed`). This one runs at the end
        // of a sweep, when a mount beside the mirror is most likely to have written.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let gone: Vec<Photo> = {
            let mut st = tx.prepare(&format!(
                "SELECT {COLS} FROM photos WHERE deleted_at IS NULL AND seen_gen < ?1"
            ))?;
            let rows = st.query_map([gen], row_to_photo)?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        tx.execute(
            "UPDATE photos SET deleted_at = ?2, pending = 0
             WHERE deleted_at IS NULL AND seen_gen < ?1",
            params![gen, now],
        )?;
        tx.commit()?;
        Ok(gone
            .into_iter()
            .map(|p| Photo {
                deleted_at: Some(now),
                ..p
            })
            .collect())
    }

    /// The photo, if it is still pending (a worker may have finished it since it was listed
    /// as pending).
    pub fn pending_photo(&self, id: &str) -> rusqlite::Result<Option<Photo>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(&format!(
            "SELECT {COLS} FROM photos WHERE id = ?1 AND pending = 1"
        ))?;
        st.query_row([id], row_to_photo).optional()
    }

    pub fn photo(&self, id: &str) -> rusqlite::Result<Option<Photo>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(&format!("SELECT {COLS} FROM photos WHERE id = ?1"))?;
        st.query_row([id], row_to_photo).optional()
    }

    /// The photo with index rowid `rowid` (on a read connection: the mount's lookups).
    pub fn photo_by_rowid(&self, rowid: i64) -> rusqlite::Result<Option<Photo>> {
        self.read(|conn| {
            let mut st =
                conn.prepare_cached(&format!("SELECT {COLS} FROM photos WHERE rowid = ?1"))?;
            st.query_row([rowid], row_to_photo).optional()
        })
    }

    /// The image file of a photo, without the rest of the row: (id, extension, cached).
    pub fn image_file(&self, rowid: i64) -> rusqlite::Result<Option<(String, String, bool)>> {
        self.read(|conn| {
            let mut st =
                conn.prepare_cached("SELECT id, ext, image_cached FROM photos WHERE rowid = ?1")?;
            st.query_row([rowid], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? != 0))
            })
            .optional()
        })
    }

    /// What `stat` of an image needs, without the rest of the row: (known byte size, upload
    /// date).
    pub fn image_stat(&self, rowid: i64) -> rusqlite::Result<Option<(Option<u64>, i64)>> {
        self.read(|conn| {
            let mut st =
                conn.prepare_cached("SELECT image_size, date_upload FROM photos WHERE rowid = ?1")?;
            st.query_row([rowid], |r| {
                Ok((
                    r.get::<_, Option<i64>>(0)?.map(|v| v.max(0) as u64),
                    r.get::<_, i64>(1)?,
                ))
            })
            .optional()
        })
    }

    /// What `stat` of a sidecar needs: (id, rendered level, last_update it was rendered at,
    /// the row's last_update, upload date).
    #[allow(clippy::type_complexity)]
    pub fn info_stat(
        &self,
        rowid: i64,
    ) -> rusqlite::Result<Option<(String, i32, Option<i64>, i64, i64)>> {
        self.read(|conn| {
            let mut st = conn.prepare_cached(
                "SELECT id, info_level, info_last_update, last_update, date_upload
                 FROM photos WHERE rowid = ?1",
            )?;
            st.query_row([rowid], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .optional()
        })
    }

    /// Up to `limit` photos with a rowid above `after`, by rowid, with their rowids: a whole
    /// index is scanned in batches, never loaded at once.
    pub fn photos_after(&self, after: i64, limit: usize) -> rusqlite::Result<Vec<(i64, Photo)>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(&format!(
            "SELECT rowid, {COLS} FROM photos WHERE rowid > ?1 ORDER BY rowid LIMIT ?2"
        ))?;
        let rows = st.query_map(params![after, limit as i64], |r| {
            Ok((r.get(0)?, row_to_photo_at(r, 1)?))
        })?;
        rows.collect()
    }

    pub fn set_best(&self, id: &str, best: &Size, ext: &str) -> rusqlite::Result<()> {
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

    /// The cached image is gone or bad: fetch it again.
    pub fn set_image_missing(&self, id: &str) -> rusqlite::Result<()> {
        self.conn().execute(
            "UPDATE photos SET image_cached = 0, pending = 1 WHERE id = ?1",
            [id],
        )?;
        Ok(())
    }

    pub fn set_comments(&self, id: &str, comments: &[Comment]) -> rusqlite::Result<()> {
        let json = serde_json::to_string(comments).unwrap_or_else(|_| "[]".into());
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE photos SET comments_json = ?2 WHERE id = ?1",
            params![id, json],
        )?;
        let rowid: Option<i64> = tx
            .query_row("SELECT rowid FROM photos WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        if let Some(rowid) = rowid {
            search::reindex_photo(&tx, rowid)?;
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
        self.conn().execute(
            "UPDATE photos SET pending = 0, error = ?2 WHERE id = ?1",
            params![id, error],
        )?;
        if let Some(msg) = error {
            self.record_failure(Some(id), msg);
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
            "UPDATE photos SET pending = 1 WHERE pending = 0 AND deleted_at IS NULL AND (
                error IS NOT NULL
                OR (?1 AND image_cached = 0)
                OR (?2 >= 0 AND (info_level < ?2 OR info_last_update IS NOT last_update)))",
            params![want_image, level],
        )
    }
}

const COLS: &str = "id, rank, secret, server, title, description, date_upload, last_update, media,
    original_format, count_comments, best_url, best_label, best_width, best_height, ext,
    image_size, image_cached, info_level, info_last_update, comments_json, error, deleted_at,
    date_taken, taken_granularity, taken_unknown, tags";

fn row_to_photo(r: &rusqlite::Row<'_>) -> rusqlite::Result<Photo> {
    row_to_photo_at(r, 0)
}

/// A photo from the columns [`COLS`] starting at column `o`.
fn row_to_photo_at(r: &rusqlite::Row<'_>, o: usize) -> rusqlite::Result<Photo> {
    let comments: Option<String> = r.get(o + 20)?;
    let best_url: Option<String> = r.get(o + 11)?;
    let label: Option<String> = r.get(o + 12)?;
    let ext: String = r.get(o + 15)?;
    let width = r.get::<_, Option<i64>>(o + 13)?.unwrap_or(0).max(0) as u32;
    let height = r.get::<_, Option<i64>>(o + 14)?.unwrap_or(0).max(0) as u32;
    Ok(Photo {
        id: r.get(o)?,
        rank: r.get(o + 1)?,
        secret: r.get(o + 2)?,
        server: r.get(o + 3)?,
        title: r.get(o + 4)?,
        description: r.get(o + 5)?,
        date_upload: r.get(o + 6)?,
        last_update: r.get(o + 7)?,
        media: r.get(o + 8)?,
        original_format: r.get(o + 9)?,
        count_comments: r.get::<_, i64>(o + 10)?.max(0) as u32,
        best: best_url.map(|url| Size {
            label: label.unwrap_or_default(),
            width,
            height,
            media: if ext == "mp4" { "video" } else { "photo" }.into(),
            url,
        }),
        ext,
        image_size: r.get::<_, Option<i64>>(o + 16)?.map(|v| v.max(0) as u64),
        image_cached: r.get::<_, i64>(o + 17)? != 0,
        info_level: r.get(o + 18)?,
        info_last_update: r.get(o + 19)?,
        comments: comments.and_then(|s| serde_json::from_str(&s).ok()),
        error: r.get(o + 21)?,
        deleted_at: r.get(o + 22)?,
        date_taken: r.get(o + 23)?,
        taken_granularity: r.get(o + 24)?,
        taken_unknown: r.get::<_, i64>(o + 25)? != 0,
        tags: r.get(o + 26)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo(id: &str, date: i64, best: bool, comments: u32) -> Photo {
        Photo {
            date_upload: date,
            count_comments: comments,
            best: best.then(|| Size {
                label: "Large".into(),
                width: 1024,
                height: 768,
                url: format!("http://img/{id}.jpg"),
                media: "photo".into(),
            }),
            ..Photo::listed(id.into())
        }
    }

    #[test]
    fn a_queue_read_in_chunks_is_the_queue_read_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let idx = Index::open(&dir.path().join("index.sqlite")).unwrap();
        // Ten photos, some uploaded in the same second (the id decides between them).
        let rows: Vec<Photo> = (0..10)
            .map(|i| photo(&format!("{}", 100 + i), 100 + i / 3, true, i as u32 % 2))
            .collect();
        idx.upsert_listed(&rows.iter().collect::<Vec<_>>(), 1)
            .unwrap();
        idx.set_image_cached("104", 10).unwrap();
        idx.set_info_cached("107", 2, 0).unwrap();
        let ids = |v: &[Photo]| v.iter().map(|p| p.id.clone()).collect::<Vec<_>>();
        for queue in [Queue::Images, Queue::Infos(2)] {
            for newest_first in [true, false] {
                let whole = idx
                    .pending_in(queue, newest_first, 0, 999, None, 100)
                    .unwrap();
                assert_eq!(whole.len(), 9, "{queue:?}");
                let mut read = vec![];
                let mut after: Option<(i64, String)> = None;
                loop {
                    let at = after.as_ref().map(|(d, id)| (*d, id.as_str()));
                    let chunk = idx.pending_in(queue, newest_first, 0, 999, at, 4).unwrap();
                    let Some(last) = chunk.last() else { break };
                    after = Some((last.date_upload, last.id.clone()));
                    read.extend(ids(&chunk));
                }
                assert_eq!(read, ids(&whole), "{queue:?} newest first: {newest_first}");
                // Within the upload dates asked for only.
                let mid = idx
                    .pending_in(queue, newest_first, 101, 102, None, 100)
                    .unwrap();
                assert!(mid.iter().all(|p| (101..=102).contains(&p.date_upload)));
            }
            assert_eq!(idx.count_pending_in(queue, 0, 999, 100).unwrap(), 9);
            assert_eq!(idx.count_pending_in(queue, 0, 999, 4).unwrap(), 4);
            assert_eq!(idx.count_pending_in(queue, 100, 100, 100).unwrap(), 3);
        }
    }

    #[test]
    fn each_pipeline_sees_its_own_queue_and_the_prober_the_unsized_photos() {
        let dir = tempfile::tempdir().unwrap();
        let idx = Index::open(&dir.path().join("index.sqlite")).unwrap();
        let rows = [
            photo("1", 100, true, 0),
            photo("2", 200, true, 3),
            photo("3", 300, false, 0),
        ];
        idx.upsert_listed(&rows.iter().collect::<Vec<_>>(), 1)
            .unwrap();
        let ids = |v: Vec<Photo>| v.into_iter().map(|p| p.id).collect::<Vec<_>>();
        assert_eq!(
            ids(idx
                .pending_in(Queue::Images, true, 0, 999, None, 10)
                .unwrap()),
            ["3", "2", "1"]
        );
        // Photo 2's image lands first: the image queue no longer holds it, the API one does.
        idx.set_image_cached("2", 10).unwrap();
        assert_eq!(
            ids(idx
                .pending_in(Queue::Images, true, 0, 999, None, 10)
                .unwrap()),
            ["3", "1"]
        );
        assert_eq!(
            ids(idx
                .pending_in(Queue::Infos(2), false, 0, 999, None, 10)
                .unwrap()),
            ["1", "2", "3"]
        );
        idx.set_info_cached("2", 2, 0).unwrap();
        assert_eq!(
            ids(idx
                .pending_in(Queue::Infos(2), false, 0, 999, None, 10)
                .unwrap()),
            ["1", "3"]
        );
        // Complete photos are settled; the others stay pending.
        assert_eq!(idx.settle_complete(true, Some(2)).unwrap(), 1);
        assert!(idx.pending_photo("2").unwrap().is_none());
        assert!(idx.pending_photo("1").unwrap().is_some());
        // Unsized: not cached, with a URL from the listing (photo 3 has none), newest first.
        let left = idx.unsized_photos(true, None, 10).unwrap();
        assert_eq!(left.len(), 1);
        let (rowid, date) = left[0];
        assert_eq!(date, 100);
        assert!(idx
            .unsized_photos(true, Some((date, rowid)), 10)
            .unwrap()
            .is_empty());
        assert_eq!(
            idx.tree_unsized("", 10).unwrap().len(),
            2,
            "by hash: 1 and 3"
        );
        idx.set_image_size_by_rowid(rowid, 42).unwrap();
        assert!(idx.unsized_photos(true, None, 10).unwrap().is_empty());
        assert_eq!(idx.photo("1").unwrap().unwrap().image_size, Some(42));
        assert_eq!(idx.tree_unsized("", 10).unwrap().len(), 1);
    }

    #[test]
    fn the_unnamed_queue_walks_on_from_a_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let idx = Index::open(&dir.path().join("index.sqlite")).unwrap();
        let video = |id: &str, date: i64| Photo {
            media: "video".into(),
            ..photo(id, date, true, 0)
        };
        let rows = [
            photo("1", 100, false, 0),
            photo("2", 200, true, 0),
            video("3", 300),
            photo("4", 400, false, 0),
            video("5", 500),
        ];
        idx.upsert_listed(&rows.iter().collect::<Vec<_>>(), 1)
            .unwrap();
        let ids = |v: Vec<Photo>| v.into_iter().map(|p| p.id).collect::<Vec<_>>();
        // No URL, or a video: newest first, photo 2 (named by the listing) left out.
        assert_eq!(
            ids(idx
                .pending_in(Queue::Unnamed, true, 0, 999, None, 10)
                .unwrap()),
            ["5", "4", "3", "1"]
        );
        assert_eq!(
            ids(idx
                .pending_in(Queue::Unnamed, true, 0, 999, None, 2)
                .unwrap()),
            ["5", "4"]
        );
        assert_eq!(
            ids(idx
                .pending_in(Queue::Unnamed, true, 0, 999, Some((400, "4")), 10)
                .unwrap()),
            ["3", "1"]
        );
        assert_eq!(
            ids(idx
                .pending_in(Queue::Unnamed, false, 150, 999, Some((300, "3")), 10)
                .unwrap()),
            ["4", "5"]
        );
        // A cached image needs no name.
        idx.set_image_cached("4", 10).unwrap();
        assert_eq!(
            ids(idx
                .pending_in(Queue::Unnamed, false, 0, 999, None, 10)
                .unwrap()),
            ["1", "3", "5"]
        );
    }
}
