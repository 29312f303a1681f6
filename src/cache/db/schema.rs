//! The index's tables, their version and the migrations between versions. Every table of the
//! index is created here, except the full-text table, which `search` owns.
//!
//! Version 2 (live streams): `deleted_at` (unix seconds when a sweep first missed the photo;
//! NULL while it is in the stream) and `seen_gen` (the listing sweep that last saw it);
//! photos are ordered by upload date, no longer by rank (the `rank` column stays, unused).
//!
//! Version 3, two additions from one release: for the views, the date taken (`date_taken`,
//! `taken_granularity`, `taken_unknown`) and `tags` of every photo, from the listing's extras;
//! `albums` (the user's photosets in Flickr's order, with when their photos were last fetched)
//! and `album_photos` (each album's photo ids in the album's order). For a mount ready at once:
//! `hkey`, the photo's hash key (see `hashkey`), indexed, so that a directory of the hashed tree
//! is one range query and a file name one equality query. Filled by the migration for every
//! row that lacks it (about 2 s per million rows, once).
//!
//! Version 4 (a mount the kernel can remember): `photo_changes`, a log of what changed in
//! `photos` that a mount shows (a row added or removed; its name, size, cached state or sidecar
//! inputs changed), written by triggers so that every writer in every process (an older binary
//! included) records its changes, and read by mounts to tell the kernel exactly what to forget
//! (see `changes`). The log keeps its last [`CHANGES_KEPT`] entries.
//!
//! Without a version of its own: `photos_unsized` and `photos_unsized_tree`, partial indexes
//! (by upload date, by hash key) of the photos whose image size is not known yet (what the
//! mount's size prober works through, in the prefetch order and under a directory being
//! listed), created at every open when missing; an older binary simply keeps them up to date.

use rusqlite::Connection;

pub(super) const SCHEMA_VERSION: i64 = 4;

/// Entries of `photo_changes` kept: a mount that polls every second cannot fall this far
/// behind (if it ever does, it sees the gap and forgets everything; see `changes`).
pub(super) const CHANGES_KEPT: i64 = 200_000;

/// Version 4: the change log and its triggers. `old_id`/`old_ext` name the file as it was
/// (the entry the kernel may hold); the row itself tells what it is now.
fn changes_sql() -> String {
    let log = format!(
        "INSERT INTO photo_changes(photo, old_id, old_ext) VALUES ({{row}}, {{id}}, {{ext}});
         DELETE FROM photo_changes WHERE seq <= last_insert_rowid() - {CHANGES_KEPT};"
    );
    let watched = [
        "id",
        "hkey",
        "ext",
        "image_size",
        "image_cached",
        "secret",
        "info_level",
        "info_last_update",
        "deleted_at",
        "title",
        "description",
        "comments_json",
        "last_update",
        "date_upload",
    ]
    .iter()
    .map(|c| format!("OLD.{c} IS NOT NEW.{c}"))
    .collect::<Vec<_>>()
    .join(" OR ");
    let insert = log
        .replace("{row}", "NEW.rowid")
        .replace("{id}", "NULL")
        .replace("{ext}", "NULL");
    let update = log
        .replace("{row}", "NEW.rowid")
        .replace("{id}", "OLD.id")
        .replace("{ext}", "OLD.ext");
    let delete = log
        .replace("{row}", "OLD.rowid")
        .replace("{id}", "OLD.id")
        .replace("{ext}", "OLD.ext");
    format!(
        "CREATE TABLE IF NOT EXISTS photo_changes (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            photo INTEGER NOT NULL,
            old_id TEXT,
            old_ext TEXT
        );
        CREATE TRIGGER IF NOT EXISTS photos_added AFTER INSERT ON photos BEGIN {insert} END;
        CREATE TRIGGER IF NOT EXISTS photos_changed AFTER UPDATE ON photos
            WHEN {watched} BEGIN {update} END;
        CREATE TRIGGER IF NOT EXISTS photos_removed AFTER DELETE ON photos BEGIN {delete} END;"
    )
}

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
    migrate_views(conn, &has)?;
    if !has("hkey") {
        conn.execute_batch("ALTER TABLE photos ADD COLUMN hkey INTEGER")?;
    }
    fill_hash_keys(conn)?;
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS photos_hkey ON photos(hkey);
         CREATE INDEX IF NOT EXISTS photos_by_date ON photos(pending, date_upload);
         CREATE INDEX IF NOT EXISTS photos_uploaded ON photos(date_upload);
         CREATE INDEX IF NOT EXISTS photos_unsized ON photos(date_upload)
            WHERE image_size IS NULL;
         CREATE INDEX IF NOT EXISTS photos_unsized_tree ON photos(hkey)
            WHERE image_size IS NULL;",
    )?;
    conn.execute_batch(&changes_sql())?;
    conn.execute(
        "INSERT INTO meta(key, value) VALUES ('schema_version', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [SCHEMA_VERSION.to_string()],
    )?;
    Ok(())
}

/// Version 3: what the views need (see the module note).
fn migrate_views(conn: &Connection, has: &dyn Fn(&str) -> bool) -> rusqlite::Result<()> {
    for (column, def) in [
        ("date_taken", "TEXT"),
        ("taken_granularity", "INTEGER NOT NULL DEFAULT 0"),
        ("taken_unknown", "INTEGER NOT NULL DEFAULT 0"),
        ("tags", "TEXT NOT NULL DEFAULT ''"),
    ] {
        if !has(column) {
            conn.execute_batch(&format!("ALTER TABLE photos ADD COLUMN {column} {def}"))?;
        }
    }
    if !has("date_taken") {
        // Photos indexed before know no date taken nor tags: the next pass sweeps the stream
        // (ceil(N/500) calls) to learn them, instead of only probing page 1.
        conn.execute_batch("DELETE FROM meta WHERE key = 'last_sweep_at'")?;
    }
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS albums (
            id TEXT PRIMARY KEY,
            pos INTEGER NOT NULL,
            title TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            count INTEGER NOT NULL DEFAULT 0,
            date_update INTEGER NOT NULL DEFAULT 0,
            photos_at INTEGER
        );
        CREATE TABLE IF NOT EXISTS album_photos (
            album_id TEXT NOT NULL,
            pos INTEGER NOT NULL,
            photo_id TEXT NOT NULL,
            PRIMARY KEY (album_id, pos)
        );",
    )
}

/// Gives every photo without a hash key its key (all of them once, after the upgrade to
/// version 3; afterwards only rows an older binary inserted, found through the key's index).
fn fill_hash_keys(conn: &Connection) -> rusqlite::Result<()> {
    let mut select = conn.prepare(
        "SELECT rowid, id FROM photos WHERE hkey IS NULL AND rowid > ?1 ORDER BY rowid LIMIT 10000",
    )?;
    let mut update = conn.prepare("UPDATE photos SET hkey = ?2 WHERE rowid = ?1")?;
    let mut after = i64::MIN;
    loop {
        let batch: Vec<(i64, String)> = select
            .query_map([after], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let Some(&(last, _)) = batch.last() else {
            return Ok(());
        };
        for (rowid, id) in &batch {
            update.execute(rusqlite::params![rowid, super::hashkey::of_id(id)])?;
        }
        after = last;
    }
}
