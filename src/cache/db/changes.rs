//! The change log (`photo_changes`, filled by triggers, see `schema`): where it ends, and what
//! changed after a given point, with the file's name before (`old_id`, `old_ext`) and now (the
//! row, if it still exists). Mounts read it on a read connection to tell the kernel exactly
//! which names, attributes and bytes to forget, whichever process made the change.

use super::Index;
use rusqlite::OptionalExtension;

/// One change of a photo row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhotoChange {
    pub seq: i64,
    pub rowid: i64,
    /// (id, image extension) before the change; `None` for a new row.
    pub before: Option<(String, String)>,
    /// (id, image extension) now; `None` for a removed row.
    pub now: Option<(String, String)>,
}

/// What changed after a point of the log.
#[derive(Debug, Default)]
pub struct ChangeBatch {
    pub changes: Vec<PhotoChange>,
    /// Entries after the point were dropped from the log before they were read (the reader
    /// fell too far behind): anything may have changed.
    pub gap: bool,
    /// Where the next read starts.
    pub next: i64,
}

impl Index {
    /// The last entry of the change log (0 when empty).
    pub fn change_mark(&self) -> rusqlite::Result<i64> {
        self.read(|c| {
            c.prepare_cached("SELECT coalesce(max(seq), 0) FROM photo_changes")?
                .query_row([], |r| r.get(0))
        })
    }

    /// Logs photos whose files were rewritten without a change of their row (a sidecar
    /// rendered again after the row changed: a deletion noted, new language labels), once
    /// the new files are in place, so that mounts drop what they read in between.
    pub fn note_rewritten(&self, ids: &[&str]) -> rusqlite::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO photo_changes(photo, old_id, old_ext)
                 SELECT rowid, id, ext FROM photos WHERE id = ?1",
            )?;
            for id in ids {
                st.execute([id])?;
            }
        }
        tx.commit()
    }

    /// At most `limit` changes after entry `after`, oldest first.
    pub fn changes_since(&self, after: i64, limit: usize) -> rusqlite::Result<ChangeBatch> {
        self.read(|c| {
            let first: Option<i64> = c
                .prepare_cached("SELECT min(seq) FROM photo_changes")?
                .query_row([], |r| r.get(0))
                .optional()?
                .flatten();
            let changes: Vec<PhotoChange> = c
                .prepare_cached(
                    "SELECT c.seq, c.photo, c.old_id, c.old_ext, p.id, p.ext
                     FROM photo_changes c LEFT JOIN photos p ON p.rowid = c.photo
                     WHERE c.seq > ?1 ORDER BY c.seq LIMIT ?2",
                )?
                .query_map([after, limit as i64], |r| {
                    let pair = |a: Option<String>, b: Option<String>| a.zip(b);
                    Ok(PhotoChange {
                        seq: r.get(0)?,
                        rowid: r.get(1)?,
                        before: pair(r.get(2)?, r.get(3)?),
                        now: pair(r.get(4)?, r.get(5)?),
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let gap = first.is_some_and(|f| f > after + 1) && after > 0;
            let next = changes.last().map_or(after, |ch| ch.seq);
            Ok(ChangeBatch { changes, gap, next })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_writer_change_is_logged_with_the_old_name() {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::open(&dir.path().join("i.sqlite")).unwrap();
        let start = index.change_mark().unwrap();
        let c = index.conn();
        c.execute_batch(
            "INSERT INTO photos(id, rank, ext) VALUES ('7', 1, 'jpg');
             INSERT INTO photos(id, rank, ext) VALUES ('8', 2, 'jpg');
             UPDATE photos SET pending = 0 WHERE id = '7';
             UPDATE photos SET ext = 'png', image_size = 5 WHERE id = '7';
             DELETE FROM photos WHERE id = '8';",
        )
        .unwrap();
        drop(c);
        let b = index.changes_since(start, 100).unwrap();
        assert!(!b.gap);
        let kinds: Vec<_> = b
            .changes
            .iter()
            .map(|ch| (ch.before.clone(), ch.now.clone()))
            .collect();
        let p = |id: &str, ext: &str| Some((id.to_string(), ext.to_string()));
        // '8' is gone by now, so its insertion shows no name; its removal keeps the old one.
        // The pending update changed nothing a mount shows: not logged.
        assert_eq!(
            kinds,
            vec![
                (None, p("7", "png")),
                (None, None),
                (p("7", "jpg"), p("7", "png")),
                (p("8", "jpg"), None),
            ]
        );
        assert_eq!(b.next, index.change_mark().unwrap());
        assert!(index.changes_since(b.next, 100).unwrap().changes.is_empty());
        index.note_rewritten(&["7", "gone"]).unwrap();
        let b2 = index.changes_since(b.next, 100).unwrap();
        assert_eq!(b2.changes.len(), 1);
        assert_eq!(
            b2.changes[0].before, b2.changes[0].now,
            "same name: the files only"
        );
    }
}
