//! The hashed tree as index queries: which child directories a directory has, which photos a
//! leaf directory holds, and which photo a file name names, each one indexed range or equality
//! query on the hash key (see `hashkey`), on a read connection. Nothing is held in memory, so
//! the mount answers at once over any stream size, and photos another process indexes appear
//! at the next query.

use super::{hashkey, Index};
use rusqlite::{Connection, OptionalExtension};

/// A photo in a leaf directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeFile {
    pub rowid: i64,
    /// Lowercase hex MD5 of the photo id (the file stem).
    pub hash: String,
    /// Extension of the image file.
    pub ext: String,
    /// Its image's size is known (cached, or learned by a probe).
    pub sized: bool,
}

/// The first key in `lo..hi` (`hi` `None`: to the end).
fn first_key(conn: &Connection, lo: i64, hi: Option<i64>) -> rusqlite::Result<Option<i64>> {
    match hi {
        Some(hi) => conn
            .prepare_cached(
                "SELECT hkey FROM photos WHERE hkey >= ?1 AND hkey < ?2 ORDER BY hkey LIMIT 1",
            )?
            .query_row([lo, hi], |r| r.get(0))
            .optional(),
        None => conn
            .prepare_cached("SELECT hkey FROM photos WHERE hkey >= ?1 ORDER BY hkey LIMIT 1")?
            .query_row([lo], |r| r.get(0))
            .optional(),
    }
}

fn hex_at(key: i64, at: usize) -> u8 {
    let v = ((key as u64) ^ (1 << 63)) >> (60 - 4 * at as u32) & 0xf;
    b"0123456789abcdef"[v as usize]
}

impl Index {
    /// True when some indexed photo's hash starts with `prefix` (that directory exists).
    pub fn tree_holds(&self, prefix: &str) -> rusqlite::Result<bool> {
        let Some((lo, hi)) = hashkey::range(prefix) else {
            return Ok(false);
        };
        self.read(|c| Ok(first_key(c, lo, hi)?.is_some()))
    }

    /// The hex characters that continue `prefix` (shorter than 16) in some photo's hash, in
    /// order: the subdirectories of directory `prefix`. One indexed query per child, plus one.
    pub fn tree_children(&self, prefix: &str) -> rusqlite::Result<Vec<u8>> {
        let at = prefix.len();
        let Some((mut lo, hi)) = hashkey::range(prefix).filter(|_| at < 16) else {
            return Ok(Vec::new());
        };
        self.read(|c| {
            let mut out = Vec::new();
            while let Some(k) = first_key(c, lo, hi)? {
                let ch = hex_at(k, at);
                out.push(ch);
                let mut child = prefix.to_string();
                child.push(ch as char);
                match hashkey::range(&child).and_then(|(_, h)| h) {
                    Some(next) if hi.is_none_or(|hi| next < hi) => lo = next,
                    _ => break,
                }
            }
            Ok(out)
        })
    }

    /// The photos whose hash starts with `prefix`, sorted by hash.
    pub fn tree_files(&self, prefix: &str) -> rusqlite::Result<Vec<TreeFile>> {
        let Some((lo, hi)) = hashkey::range(&prefix[..prefix.len().min(16)]) else {
            return Ok(Vec::new());
        };
        let mut out: Vec<TreeFile> = self.read(|c| {
            let map = |r: &rusqlite::Row| {
                let id: String = r.get(1)?;
                Ok(TreeFile {
                    rowid: r.get(0)?,
                    hash: crate::photo::hash(&id),
                    ext: r.get(2)?,
                    sized: r.get(3)?,
                })
            };
            match hi {
                Some(hi) => c
                    .prepare_cached(
                        "SELECT rowid, id, ext, image_size IS NOT NULL FROM photos
                         WHERE hkey >= ?1 AND hkey < ?2",
                    )?
                    .query_map([lo, hi], map)?
                    .collect(),
                None => c
                    .prepare_cached(
                        "SELECT rowid, id, ext, image_size IS NOT NULL FROM photos WHERE hkey >= ?1",
                    )?
                    .query_map([lo], map)?
                    .collect(),
            }
        })?;
        out.retain(|f| f.hash.starts_with(prefix));
        out.sort_by(|a, b| a.hash.cmp(&b.hash));
        Ok(out)
    }

    /// Up to `limit` photos under directory `prefix` whose image size is not known yet (not
    /// cached, not deleted), by hash key: what a listing of that directory will want to stat.
    /// One range of a partial index (empty once every size is known).
    pub fn tree_unsized(&self, prefix: &str, limit: usize) -> rusqlite::Result<Vec<i64>> {
        let Some((lo, hi)) = hashkey::range(&prefix[..prefix.len().min(16)]) else {
            return Ok(Vec::new());
        };
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT rowid FROM photos
                 WHERE image_size IS NULL AND hkey >= ?1 AND hkey <= ?2
                    AND image_cached = 0 AND deleted_at IS NULL
                 ORDER BY hkey LIMIT ?3",
            )?;
            let rows = st.query_map(
                rusqlite::params![lo, hi.map_or(i64::MAX, |h| h - 1), limit as i64],
                |r| r.get(0),
            )?;
            rows.collect()
        })
    }

    /// The photo whose hash is `hash` (32 lowercase hex characters): (rowid, image extension).
    pub fn tree_find(&self, hash: &str) -> rusqlite::Result<Option<(i64, String)>> {
        let Some(key) = hashkey::of_hex(hash).filter(|_| hash.len() == 32) else {
            return Ok(None);
        };
        let rows: Vec<(i64, String, String)> = self.read(|c| {
            c.prepare_cached("SELECT rowid, id, ext FROM photos WHERE hkey = ?1")?
                .query_map([key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })?;
        Ok(rows
            .into_iter()
            .find(|(_, id, _)| crate::photo::hash(id) == hash)
            .map(|(r, _, e)| (r, e)))
    }
}
