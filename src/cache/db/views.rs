//! What the views read and keep: every photo as the views see it (title, extension, date
//! taken, tags), the user's albums (photosets) in Flickr's order, and each album's photos in
//! the album's order. Albums are cached here between looks: `albums_at` (meta) says when the
//! list was fetched, `photos_at` when an album's photos were.

use super::{now, Index};
use crate::views::{DatePlace, ViewPhoto};
use rusqlite::params;

/// An album as the index holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlbumRow {
    pub id: String,
    pub title: String,
    pub description: String,
    /// Photos and videos, as the list says.
    pub count: u64,
    pub date_update: i64,
    /// When its photos were last fetched (unix seconds), `None` if never or stale.
    pub photos_at: Option<i64>,
}

fn view_photo(r: &rusqlite::Row<'_>) -> rusqlite::Result<ViewPhoto> {
    let taken: Option<String> = r.get(5)?;
    let tags: String = r.get(8)?;
    Ok(ViewPhoto {
        rowid: r.get(0)?,
        id: r.get(1)?,
        title: r.get(2)?,
        ext: r.get(3)?,
        date: DatePlace::of(
            taken.as_deref(),
            r.get(6)?,
            r.get::<_, i64>(7)? != 0,
            r.get(4)?,
        ),
        tags: tags.split_whitespace().map(str::to_string).collect(),
    })
}

const VIEW_COLS: &str = "p.rowid, p.id, p.title, p.ext, p.date_upload, p.date_taken,
    p.taken_granularity, p.taken_unknown, p.tags";

impl Index {
    /// Every indexed photo, as the views see it.
    pub fn view_photos(&self) -> rusqlite::Result<Vec<ViewPhoto>> {
        let mut out = Vec::new();
        self.for_each_view_photo(|p| out.push(p))?;
        Ok(out)
    }

    /// Every indexed photo, as the views see it, one at a time (nothing held but the row at
    /// hand: what the mount's views are built from at a million photos).
    pub fn for_each_view_photo(&self, mut f: impl FnMut(ViewPhoto)) -> rusqlite::Result<()> {
        self.read(|conn| {
            let mut st = conn.prepare(&format!("SELECT {VIEW_COLS} FROM photos p"))?;
            for row in st.query_map([], view_photo)? {
                f(row?);
            }
            Ok(())
        })
    }

    /// The photos of `rowids`, as the views see them (those still indexed), in no order.
    pub fn view_photos_by_rowid(&self, rowids: &[u32]) -> rusqlite::Result<Vec<ViewPhoto>> {
        self.read(|conn| {
            let mut out = Vec::with_capacity(rowids.len());
            // Bound parameters per statement stay well under SQLite's limit.
            for chunk in rowids.chunks(500) {
                let marks = vec!["?"; chunk.len()].join(",");
                let mut st = conn.prepare(&format!(
                    "SELECT {VIEW_COLS} FROM photos p WHERE p.rowid IN ({marks})"
                ))?;
                let rows = st.query_map(rusqlite::params_from_iter(chunk.iter()), view_photo)?;
                for r in rows {
                    out.push(r?);
                }
            }
            Ok(out)
        })
    }

    /// The photo with id `id`, as the views see it.
    pub fn view_photo_by_id(&self, id: &str) -> rusqlite::Result<Option<ViewPhoto>> {
        use rusqlite::OptionalExtension;
        self.read(|conn| {
            let mut st =
                conn.prepare_cached(&format!("SELECT {VIEW_COLS} FROM photos p WHERE p.id = ?1"))?;
            st.query_row([id], view_photo).optional()
        })
    }

    /// When the album list was last fetched.
    pub fn albums_at(&self) -> rusqlite::Result<Option<i64>> {
        self.meta_i64("albums_at")
    }

    /// Replaces the album list (in Flickr's order). An album whose `date_update` or count
    /// changed has its photos fetched again on the next look; albums gone are forgotten.
    pub fn set_albums(&self, albums: &[AlbumRow]) -> rusqlite::Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "CREATE TEMP TABLE IF NOT EXISTS listed_albums (id TEXT PRIMARY KEY)",
            [],
        )?;
        tx.execute("DELETE FROM temp.listed_albums", [])?;
        for (pos, a) in albums.iter().enumerate() {
            tx.execute(
                "INSERT INTO albums (id, pos, title, description, count, date_update)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(id) DO UPDATE SET pos = ?2, title = ?3, description = ?4,
                    photos_at = CASE WHEN count = ?5 AND date_update = ?6 THEN photos_at END,
                    count = ?5, date_update = ?6",
                params![
                    a.id,
                    pos as i64,
                    a.title,
                    a.description,
                    a.count as i64,
                    a.date_update
                ],
            )?;
            tx.execute(
                "INSERT OR IGNORE INTO temp.listed_albums (id) VALUES (?1)",
                [&a.id],
            )?;
        }
        tx.execute(
            "DELETE FROM album_photos WHERE album_id NOT IN (SELECT id FROM temp.listed_albums)",
            [],
        )?;
        tx.execute(
            "DELETE FROM albums WHERE id NOT IN (SELECT id FROM temp.listed_albums)",
            [],
        )?;
        tx.execute(
            "INSERT INTO meta(key, value) VALUES ('albums_at', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [now().to_string()],
        )?;
        tx.commit()
    }

    /// The albums, in Flickr's order.
    pub fn albums(&self) -> rusqlite::Result<Vec<AlbumRow>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT id, title, description, count, date_update, photos_at FROM albums
             ORDER BY pos",
        )?;
        let rows = st.query_map([], |r| {
            Ok(AlbumRow {
                id: r.get(0)?,
                title: r.get(1)?,
                description: r.get(2)?,
                count: r.get::<_, i64>(3)?.max(0) as u64,
                date_update: r.get(4)?,
                photos_at: r.get(5)?,
            })
        })?;
        rows.collect()
    }

    /// Replaces the photos of album `id` (ids in the album's order).
    pub fn set_album_photos(&self, id: &str, photo_ids: &[String]) -> rusqlite::Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM album_photos WHERE album_id = ?1", [id])?;
        {
            let mut ins = tx.prepare_cached(
                "INSERT OR IGNORE INTO album_photos (album_id, pos, photo_id) VALUES (?1, ?2, ?3)",
            )?;
            for (pos, p) in photo_ids.iter().enumerate() {
                ins.execute(params![id, pos as i64, p])?;
            }
        }
        tx.execute(
            "UPDATE albums SET photos_at = ?2 WHERE id = ?1",
            params![id, now()],
        )?;
        tx.commit()
    }

    /// The indexed photos of album `id`, in the album's order (photos not indexed yet are left
    /// out).
    pub fn album_photos(&self, id: &str) -> rusqlite::Result<Vec<ViewPhoto>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(&format!(
            "SELECT {VIEW_COLS} FROM album_photos a JOIN photos p ON p.id = a.photo_id
             WHERE a.album_id = ?1 ORDER BY a.pos"
        ))?;
        let rows = st.query_map([id], view_photo)?;
        rows.collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::photo::Photo;

    #[test]
    fn a_version_2_index_gains_the_views_and_sweeps_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite");
        {
            // A version 2 index: the tables as they were, a photo, a recent sweep.
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(super::super::schema::SCHEMA).unwrap();
            conn.execute_batch(
                "ALTER TABLE photos ADD COLUMN deleted_at INTEGER;
                 ALTER TABLE photos ADD COLUMN seen_gen INTEGER NOT NULL DEFAULT 0;
                 INSERT INTO photos (id, rank, title, date_upload) VALUES ('7', 0, 'x', 1262304000);
                 INSERT INTO meta VALUES ('schema_version', '2'), ('last_sweep_at', '1');",
            )
            .unwrap();
        }
        let idx = Index::open(&path).unwrap();
        assert_eq!(
            idx.meta("schema_version").unwrap().as_deref(),
            Some(super::super::schema::SCHEMA_VERSION.to_string().as_str())
        );
        assert_eq!(
            idx.meta("last_sweep_at").unwrap(),
            None,
            "the next pass sweeps"
        );
        // Dates taken unknown yet: by upload date.
        let v = idx.view_photos().unwrap();
        assert_eq!(v[0].date, DatePlace::Month(2010, 1));
        idx.set_meta("last_sweep_at", "2").unwrap();
        drop(idx);
        let idx = Index::open(&path).unwrap();
        assert_eq!(idx.meta_i64("last_sweep_at").unwrap(), Some(2), "only once");
        // A listing with the extras fills them in.
        let p = Photo {
            title: "x".into(),
            date_upload: 1_262_304_000,
            date_taken: Some("1965-03-01 00:00:00".into()),
            taken_granularity: 4,
            tags: "saigon hue".into(),
            ..Photo::listed("7".into())
        };
        idx.upsert_listed(&[&p], 1).unwrap();
        let v = idx.view_photos().unwrap();
        assert_eq!(v[0].date, DatePlace::Month(1965, 3));
        assert_eq!(v[0].tags, ["saigon", "hue"]);
    }

    #[test]
    fn albums_keep_their_photos_until_they_change() {
        let dir = tempfile::tempdir().unwrap();
        let idx = Index::open(&dir.path().join("index.sqlite")).unwrap();
        let album = |id: &str, count: u64, date_update: i64| AlbumRow {
            id: id.into(),
            title: format!("album {id}"),
            description: String::new(),
            count,
            date_update,
            photos_at: None,
        };
        let photos: Vec<Photo> = ["1", "2", "3"]
            .iter()
            .map(|id| Photo::listed(id.to_string()))
            .collect();
        idx.upsert_listed(&photos.iter().collect::<Vec<_>>(), 1)
            .unwrap();
        idx.set_albums(&[album("a", 2, 10), album("b", 1, 10)])
            .unwrap();
        assert!(idx.albums_at().unwrap().is_some());
        idx.set_album_photos("a", &["3".into(), "1".into(), "9".into()])
            .unwrap();
        let ids = |a: &str| -> Vec<String> {
            idx.album_photos(a)
                .unwrap()
                .into_iter()
                .map(|p| p.id)
                .collect()
        };
        assert_eq!(
            ids("a"),
            ["3", "1"],
            "album order; photos not indexed left out"
        );
        let at = |a: &str| {
            idx.albums()
                .unwrap()
                .into_iter()
                .find(|x| x.id == a)
                .unwrap()
                .photos_at
        };
        assert!(at("a").is_some());
        // The same list again: kept. A changed album: fetched again. A gone album: forgotten.
        idx.set_albums(&[album("a", 2, 10), album("b", 1, 10)])
            .unwrap();
        assert!(at("a").is_some());
        idx.set_albums(&[album("b", 1, 10), album("a", 3, 11)])
            .unwrap();
        assert!(at("a").is_none());
        assert_eq!(idx.albums().unwrap()[0].id, "b", "Flickr's order");
        idx.set_albums(&[album("b", 1, 10)]).unwrap();
        assert_eq!(idx.albums().unwrap().len(), 1);
        assert!(ids("a").is_empty());
    }
}
