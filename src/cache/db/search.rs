//! Full-text search over the mirrored texts: owns the FTS5 table `texts` inside the index,
//! keeps it in step with the photos table, and turns a user's query into a safe FTS5 query.
//!
//! One FTS row per text (title, description, each comment), labelled with the locale the
//! sidecar gives it, so `--locale vie` filters the very text that matched. The FTS rowid is
//! `photo rowid << 10 | item` (item 0 title, 1 description, 2.. comments), so a photo's rows
//! are replaced with a rowid-range delete. The tokenizer is `unicode61 remove_diacritics 2`
//! (`Nhà rồng` matches `Nha rong`); `đ`, a letter of its own rather than `d` with a mark, is
//! folded by hand before indexing and querying.

use crate::lang::PhotoLocales;
use crate::photo::{Comment, Photo};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;

/// Bump to rebuild every existing index's text table at the next open.
/// The table's version: its layout, and the language detector that labelled its texts (a new
/// detector re-labels them at the next open).
fn fts_version() -> String {
    format!("1.{}", crate::lang::DETECTOR_VERSION)
}
const ITEM_BITS: u32 = 10;
const MAX_ITEMS: i64 = 1 << ITEM_BITS;

pub const SCHEMA: &str = "CREATE VIRTUAL TABLE IF NOT EXISTS texts USING fts5(
    content, kind UNINDEXED, locale UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
);";

/// Folds what the tokenizer does not: the Vietnamese `đ`/`Đ` to `d`/`D`.
pub fn fold(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'đ' => 'd',
            'Đ' => 'D',
            c => c,
        })
        .collect()
}

/// The texts of a photo as the index holds them: title, description, comments (JSON).
type Texts = (String, String, Option<String>);

/// Language labels of photos' texts, worked out before a write transaction, by photo id, with
/// the texts they were worked out from. Detection is the slow part of indexing a photo (about
/// a quarter of a millisecond): done ahead, it never holds the index's write lock, which every
/// download and every other process waits on. A label serves only the very texts it was
/// worked out from; any other text is labelled in the transaction as before.
#[derive(Default)]
pub struct Prelabeled(HashMap<String, (Texts, PhotoLocales)>);

/// Labels the texts that the next [`super::Index::upsert_listed`] of `photos` will index: those
/// of new photos and of photos whose `lastupdate` changed (with the comments the index holds).
pub fn prelabel(conn: &Connection, photos: &[&Photo]) -> rusqlite::Result<Prelabeled> {
    let mut find =
        conn.prepare_cached("SELECT last_update, comments_json FROM photos WHERE id = ?1")?;
    let mut out = HashMap::new();
    for p in photos {
        let old: Option<(i64, Option<String>)> = find
            .query_row([&p.id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let comments = match old {
            Some((update, _)) if update == p.last_update => continue,
            Some((_, comments)) => comments,
            None => None,
        };
        let locales = labels(&p.title, &p.description, &parse(comments.as_deref()));
        let texts = (p.title.clone(), p.description.clone(), comments);
        out.insert(p.id.clone(), (texts, locales));
    }
    Ok(Prelabeled(out))
}

fn parse(comments: Option<&str>) -> Vec<Comment> {
    comments
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or_default()
}

/// The sidecar's labels, by the same call (so `--locale` finds what the sidecar says).
fn labels(title: &str, description: &str, comments: &[Comment]) -> PhotoLocales {
    let texts: Vec<&str> = comments.iter().map(|c| c.content.as_str()).collect();
    PhotoLocales::detect(title, description, &texts)
}

/// (Re)indexes the texts of the photo with index rowid `rowid` (title, description and the
/// cached comments), inside the caller's transaction.
pub fn reindex_photo(conn: &Connection, rowid: i64) -> rusqlite::Result<()> {
    reindex_photo_with(conn, rowid, None)
}

/// [`reindex_photo`], with the labels worked out ahead where they fit.
pub fn reindex_photo_with(
    conn: &Connection,
    rowid: i64,
    ahead: Option<&Prelabeled>,
) -> rusqlite::Result<()> {
    let row: Option<(String, Texts)> = conn
        .prepare_cached(
            "SELECT id, title, description, comments_json FROM photos WHERE rowid = ?1",
        )?
        .query_row([rowid], |r| {
            Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?)))
        })
        .optional()?;
    let base = rowid << ITEM_BITS;
    conn.prepare_cached("DELETE FROM texts WHERE rowid >= ?1 AND rowid < ?2")?
        .execute([base, base + MAX_ITEMS])?;
    let Some((id, texts)) = row else {
        return Ok(());
    };
    let comments = parse(texts.2.as_deref());
    let known = ahead
        .and_then(|a| a.0.get(&id))
        .filter(|(t, _)| *t == texts)
        .map(|(_, l)| l.clone());
    let (title, description, _) = texts;
    let locales = known.unwrap_or_else(|| labels(&title, &description, &comments));
    let mut insert = conn.prepare_cached(
        "INSERT INTO texts (rowid, content, kind, locale) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let texts: Vec<&str> = comments.iter().map(|c| c.content.as_str()).collect();
    let items = [
        ("title", title.as_str(), locales.title),
        ("description", description.as_str(), locales.description),
    ]
    .into_iter()
    .chain(
        texts
            .iter()
            .zip(locales.comments)
            .map(|(c, l)| ("comment", *c, l)),
    );
    for (i, (kind, text, locale)) in items.enumerate().take(MAX_ITEMS as usize) {
        if text.trim().is_empty() {
            continue;
        }
        insert.execute(params![
            base + i as i64,
            fold(text),
            kind,
            locale.to_string()
        ])?;
    }
    Ok(())
}

/// Builds the text table of an index that predates it (or an older version of it).
pub fn ensure_built(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)?;
    let version: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'fts_version'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if version.as_deref() == Some(fts_version().as_str()) {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // Another process may have rebuilt it while this one waited for the write lock.
    let version: Option<String> = tx
        .query_row(
            "SELECT value FROM meta WHERE key = 'fts_version'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if version.as_deref() == Some(fts_version().as_str()) {
        return Ok(());
    }
    tx.execute("DELETE FROM texts", [])?;
    let rowids: Vec<i64> = tx
        .prepare("SELECT rowid FROM photos")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for r in rowids {
        reindex_photo(&tx, r)?;
    }
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('fts_version', ?1)",
        [fts_version()],
    )?;
    tx.commit()
}

/// Turns what a person typed into an FTS5 query that means "all these words": each word is
/// quoted (FTS syntax such as `AND`, `(`, `"`, `NEAR` or `col:` is searched literally), a
/// trailing `*` keeps its prefix meaning. A query without any word is an error.
pub fn fts_query(query: &str) -> Result<String, String> {
    let mut parts = Vec::new();
    for word in query.split_whitespace() {
        let (word, prefix) = match word.strip_suffix('*') {
            Some(w) => (w, true),
            None => (word, false),
        };
        let word = fold(word);
        // Only letters and digits reach the index; a word without any matches nothing and
        // would make FTS5 complain.
        if !word.chars().any(char::is_alphanumeric) {
            continue;
        }
        let quoted = format!("\"{}\"", word.replace('"', "\"\""));
        parts.push(if prefix {
            format!("{quoted} *")
        } else {
            quoted
        });
    }
    if parts.is_empty() {
        return Err(format!(
            "nothing to search for in {query:?}: give at least one word"
        ));
    }
    Ok(parts.join(" "))
}

/// A text of a photo that matched.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Match {
    pub kind: String,
    pub locale: String,
}

/// A photo that matched, best first.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Hit {
    pub rowid: i64,
    pub id: String,
    pub title: String,
    pub ext: String,
    pub image_cached: bool,
    pub info_cached: bool,
    /// Deleted from Flickr (kept in the archive).
    pub deleted: bool,
    pub score: f64,
    pub matches: Vec<Match>,
}

impl super::Index {
    /// Searches the texts; `locale` keeps only texts of that language (ISO 639-3, or a locale
    /// whose language it is). At most `limit` photos, best first.
    pub fn search(
        &self,
        query: &str,
        locale: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Hit>, String> {
        search(&self.conn(), query, locale, limit)
    }
}

/// [`Index::search`](super::Index::search) on a connection.
fn search(
    conn: &Connection,
    query: &str,
    locale: Option<&str>,
    limit: usize,
) -> Result<Vec<Hit>, String> {
    let fts = fts_query(query)?;
    let run = || -> rusqlite::Result<Vec<Hit>> {
        // Scored, grouped by photo and cut to `limit` inside SQLite: a common word matches
        // most of a big stream, and only the best `limit` photos ever reach memory. A photo's
        // score adds up every matching text (a title and a comment hit beat a title hit).
        let mut stmt = conn.prepare_cached(
            "WITH m AS MATERIALIZED (
                 SELECT rowid >> 10 AS p, kind, locale, bm25(texts) AS s FROM texts
                 WHERE texts MATCH ?1 AND (?2 IS NULL OR locale = ?2 OR locale LIKE ?2 || '-%')),
             top AS (SELECT p, SUM(s) AS score, MIN(s) AS best FROM m
                     GROUP BY p ORDER BY score, best, p LIMIT ?3)
             SELECT top.p, top.score, m.kind, m.locale FROM top JOIN m ON m.p = top.p
             ORDER BY top.score, top.best, top.p, m.s",
        )?;
        let mut order: Vec<(i64, f64, Vec<Match>)> = Vec::new();
        let rows = stmt.query_map(params![fts, locale, limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, f64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        for row in rows {
            let (prow, score, kind, locale) = row?;
            match order.last_mut() {
                Some((p, _, matches)) if *p == prow => matches.push(Match { kind, locale }),
                _ => order.push((prow, score, vec![Match { kind, locale }])),
            }
        }
        let mut photo = conn.prepare_cached(
            "SELECT id, title, ext, image_cached, info_level, deleted_at IS NOT NULL FROM photos
             WHERE rowid = ?1",
        )?;
        let mut hits = Vec::new();
        for (prow, score, matches) in order {
            let found = photo
                .query_row([prow], |r| {
                    Ok(Hit {
                        rowid: prow,
                        id: r.get(0)?,
                        title: r.get(1)?,
                        ext: r.get(2)?,
                        image_cached: r.get(3)?,
                        info_cached: r.get::<_, i32>(4)? >= 0,
                        deleted: r.get(5)?,
                        score: -score,
                        matches,
                    })
                })
                .optional()?;
            hits.extend(found);
        }
        Ok(hits)
    };
    run().map_err(|e| format!("search failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE photos (id TEXT PRIMARY KEY, title TEXT, description TEXT,
                comments_json TEXT, ext TEXT, image_cached INTEGER, info_level INTEGER,
                deleted_at INTEGER);",
        )
        .unwrap();
        c.execute_batch(SCHEMA).unwrap();
        let photos = [
            ("1", "SAIGON 1938 - Nhà rồng", "Bến Nhà Rồng, Sài Gòn", "[]"),
            (
                "2",
                "Paris 1900 - La tour Eiffel",
                "Une belle vue de la ville de Paris",
                "[]",
            ),
            (
                "3",
                "Đà Lạt 1950",
                "",
                r#"[{"id":"c","author":"a","author_name":"n","date_create":0,"content":"Thank you for sharing this wonderful old photo"}]"#,
            ),
        ];
        for (id, t, d, comments) in photos {
            c_insert(&c, id, t, d, comments);
        }
        c
    }

    fn c_insert(c: &Connection, id: &str, t: &str, d: &str, comments: &str) {
        c.execute(
            "INSERT INTO photos VALUES (?1, ?2, ?3, ?4, 'jpg', 1, 2, NULL)",
            params![id, t, d, comments],
        )
        .unwrap();
        let rowid = c.last_insert_rowid();
        reindex_photo(c, rowid).unwrap();
    }

    fn ids(hits: &[Hit]) -> Vec<&str> {
        hits.iter().map(|h| h.id.as_str()).collect()
    }

    #[test]
    fn accents_and_d_bar_are_folded() {
        let c = db();
        assert_eq!(ids(&search(&c, "Nha rong", None, 10).unwrap()), ["1"]);
        assert_eq!(ids(&search(&c, "nhà RỒNG", None, 10).unwrap()), ["1"]);
        assert_eq!(ids(&search(&c, "da lat", None, 10).unwrap()), ["3"]);
        assert_eq!(ids(&search(&c, "Đà Lạt", None, 10).unwrap()), ["3"]);
        assert_eq!(ids(&search(&c, "sai*", None, 10).unwrap()), ["1"]);
    }

    #[test]
    fn locale_filter_applies_to_the_matching_text() {
        let c = db();
        assert_eq!(ids(&search(&c, "paris", Some("fra"), 10).unwrap()), ["2"]);
        assert!(search(&c, "paris", Some("vie"), 10).unwrap().is_empty());
        let hits = search(&c, "wonderful", Some("eng"), 10).unwrap();
        assert_eq!(ids(&hits), ["3"]);
        assert_eq!(hits[0].matches[0].kind, "comment");
    }

    #[test]
    fn fts_syntax_is_searched_literally() {
        let c = db();
        for q in [
            "\"",
            "AND(",
            "(",
            "*",
            "NEAR(a b)",
            "title:paris",
            "a OR",
            "-",
            "^",
        ] {
            let r = search(&c, q, None, 10);
            assert!(
                r.is_ok() || r.as_ref().unwrap_err().contains("nothing to search"),
                "{q}: {r:?}"
            );
        }
        assert!(search(&c, "\"", None, 10)
            .unwrap_err()
            .contains("nothing to search"));
        assert!(search(&c, "AND(", None, 10).unwrap().is_empty());
        assert_eq!(fts_query("a\"b OR").unwrap(), "\"a\"\"b\" \"OR\"");
    }

    #[test]
    fn labels_worked_out_ahead_serve_only_the_texts_they_were_worked_out_from() {
        let c = db();
        let rowid: i64 = c
            .query_row("SELECT rowid FROM photos WHERE id = '1'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ids(&search(&c, "rong", Some("vie"), 10).unwrap()), ["1"]);
        // Labels said to be worked out from photo 1's texts as they are (French, which they
        // are not, to tell them from a detection): used as they are.
        let fra = labels("La tour Eiffel", "Une belle vue de la ville de Paris", &[]);
        assert_eq!(fra.title.to_string(), "fra");
        let texts = (
            "SAIGON 1938 - Nhà rồng".to_string(),
            "Bến Nhà Rồng, Sài Gòn".to_string(),
            Some("[]".to_string()),
        );
        let mut ahead = Prelabeled::default();
        ahead.0.insert("1".into(), (texts, fra));
        reindex_photo_with(&c, rowid, Some(&ahead)).unwrap();
        assert_eq!(ids(&search(&c, "rong", Some("fra"), 10).unwrap()), ["1"]);
        // The title changed since: the labels no longer fit, and the texts are detected.
        c.execute(
            "UPDATE photos SET title = 'Hà Nội 1920 - Nhà rồng' WHERE id = '1'",
            [],
        )
        .unwrap();
        reindex_photo_with(&c, rowid, Some(&ahead)).unwrap();
        assert!(search(&c, "rong", Some("fra"), 10).unwrap().is_empty());
        assert_eq!(ids(&search(&c, "rong", Some("vie"), 10).unwrap()), ["1"]);
    }

    #[test]
    fn reindex_replaces_a_photos_rows() {
        let c = db();
        c.execute("UPDATE photos SET title = 'Hà Nội 1920' WHERE id = '1'", [])
            .unwrap();
        let rowid: i64 = c
            .query_row("SELECT rowid FROM photos WHERE id = '1'", [], |r| r.get(0))
            .unwrap();
        reindex_photo(&c, rowid).unwrap();
        assert!(search(&c, "saigon", None, 10).unwrap().is_empty());
        assert_eq!(ids(&search(&c, "ha noi", None, 10).unwrap()), ["1"]);
    }

    /// The limit is applied inside SQLite, after scoring: the best `limit` photos, in the same
    /// order as the head of the full answer, a photo with more matching texts first.
    #[test]
    fn the_limit_keeps_the_best_photos_in_order() {
        let c = db();
        for i in 0..40 {
            let comments = if i % 7 == 0 {
                r#"[{"id":"c","author":"a","author_name":"n","date_create":0,"content":"Hue citadel, Hue"}]"#
            } else {
                "[]"
            };
            c_insert(
                &c,
                &format!("h{i}"),
                &format!("Hue {i}"),
                "old photo",
                comments,
            );
        }
        let all = search(&c, "hue", None, usize::MAX).unwrap();
        assert_eq!(all.len(), 40);
        // Photos whose comment matches too come first.
        assert!(all[..6].iter().all(|h| h.matches.len() == 2), "{all:?}");
        for limit in [1, 3, 6, 17] {
            let some = search(&c, "hue", None, limit).unwrap();
            assert_eq!(ids(&some), ids(&all[..limit]), "limit {limit}");
        }
    }
}
