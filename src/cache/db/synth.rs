//! Synthetic indexes for benchmarks and tests of big streams: N listed photos written in one
//! transaction (about 10 s per million), as a complete listing with every image cached, so a
//! mount over it starts idle. No texts are indexed for search and no sidecars are rendered.
//! Dates taken and tags are spread like an archive's (a month of 150 years, two tags of 2,000),
//! so that the views (`dates/`, `tags/`) of a big stream have realistic shapes.
//! Mirroring a million photos from the emulator would take most of an hour; this takes
//! seconds, and what a mount reads of it (keys, rows, sizes) is what a mirror writes.

use super::{hashkey, Index};
use rusqlite::params;

/// Photo ids of a synthetic stream: `FIRST_ID + i`, like Flickr's 11-digit ids.
pub const FIRST_ID: u64 = 50_000_000_000;

/// Image size every synthetic photo is indexed with.
pub const IMAGE_SIZE: u64 = 1;

/// The id of synthetic photo `i`.
pub fn photo_id(i: u64) -> String {
    (FIRST_ID + i).to_string()
}

impl Index {
    /// Appends synthetic photos `0..n` (ids from [`photo_id`]), cached and not pending, and
    /// marks the listing complete. Returns how many rows were written.
    pub fn insert_synthetic(&self, n: u64, user_id: &str, username: &str) -> rusqlite::Result<u64> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let now = super::now();
        {
            let mut insert = tx.prepare(
                "INSERT OR IGNORE INTO photos (id, rank, secret, server, title, date_upload,
                    last_update, best_url, best_label, best_width, best_height, ext,
                    image_size, image_cached, pending, seen_gen, hkey, date_taken,
                    taken_granularity, taken_unknown, tags)
                 VALUES (?1, 0, 'abcdef0123', '65535', ?2, ?3, ?3, ?4, 'Original', 1, 1, 'jpg',
                    ?5, 1, 0, 1, ?6, ?7, 0, 0, ?8)",
            )?;
            for i in 0..n {
                let id = photo_id(i);
                let date = 1_262_304_000 + i as i64;
                insert.execute(params![
                    id,
                    format!("Photo {i}"),
                    date,
                    format!("http://127.0.0.1:9/img/{id}_o.jpg"),
                    IMAGE_SIZE as i64,
                    hashkey::of_id(&id),
                    format!("{}-{:02}-01 00:00:00", 1870 + (i / 12) % 150, 1 + i % 12),
                    format!("tag{} theme{}", i % 2000, (i * 7) % 1999),
                ])?;
            }
            let set = "INSERT INTO meta(key, value) VALUES (?1, ?2)
                       ON CONFLICT(key) DO UPDATE SET value = excluded.value";
            for (k, v) in [
                ("user_id", user_id.to_string()),
                ("username", username.to_string()),
                ("total", n.to_string()),
                ("pass_total", n.to_string()),
                ("listing_gen", "1".to_string()),
                ("listing_done", "1".to_string()),
                ("listing_complete_at", now.to_string()),
                ("last_sweep_at", now.to_string()),
            ] {
                tx.execute(set, params![k, v])?;
            }
        }
        tx.commit()?;
        Ok(n)
    }
}
