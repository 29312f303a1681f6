//! The index's tables, their version and the migrations between versions. Every table of the
//! index is created here, except the full-text table, which `search` owns.
//!
//! Version 2 (live streams): `deleted_at` (unix seconds when a sweep first missed the photo;
//! NULL while it is in the stream) and `seen_gen` (the listing sweep that last saw it);
//! photos are ordered by upload date, no longer by rank (the `rank` column stays, unused).

use rusqlite::Connection;

pub(super) const SCHEMA_VERSION: i64 = 2;

pub(super) const SCHEMA: &str = r#"
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

/// Brings an index of an older version up to [`SCHEMA_VERSION`] (idempotent).
pub(super) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('photos')")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let has = |c: &str| columns.iter().any(|x| x == c);
    if !has("deleted_at") {
        conn.execute_batch("ALTER TABLE photos ADD COLUMN deleted_at INTEGER")?;
    }
    if !has("seen_gen") {
        conn.execute_batch("ALTER TABLE photos ADD COLUMN seen_gen INTEGER NOT NULL DEFAULT 0")?;
    }
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS photos_by_date ON photos(pending, date_upload);
         CREATE INDEX IF NOT EXISTS photos_uploaded ON photos(date_upload);",
    )?;
    conn.execute(
        "INSERT INTO meta(key, value) VALUES ('schema_version', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [SCHEMA_VERSION.to_string()],
    )?;
    Ok(())
}
