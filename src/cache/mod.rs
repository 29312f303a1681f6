//! The on-disk cache: `files` owns a user's hashed tree (atomic writes, partial downloads,
//! crash leftovers), `db` owns the per-user SQLite index, `users` knows which directories of
//! the cache root are mirrors and which one a typed name means, `viewtree` writes the views as
//! symlink trees (`mirror --views`), `writers` knows which processes write temp files there
//! (so that a start walks the tree for crash leftovers only after a crash). This module owns
//! where each
//! user's index lives.

pub mod db;
pub mod files;
pub mod users;
pub mod viewtree;
pub mod writers;

use std::path::{Path, PathBuf};

/// The index of the user whose directory is `user_dir`.
pub fn index_path(user_dir: &Path) -> PathBuf {
    user_dir.join(files::META_DIR).join("index.sqlite")
}

/// The directories of the users mirrored under `cache` (see [`users::mirrors`]), sorted.
pub fn mirrored_users(cache: &Path) -> Vec<String> {
    users::mirrors(cache).into_iter().map(|m| m.dir).collect()
}

/// Opens the index of `user` (any name [`users::find`] accepts) under `cache` (read-only unless
/// `write`) with its directory, or says clearly that there is none.
pub fn open_index(cache: &Path, user: &str, write: bool) -> Result<(PathBuf, db::Index), String> {
    let Some(mirror) = users::find(cache, user) else {
        return Err(format!(
            "no mirror of {user:?} in {} (run `flickrfs mirror --username {user}` first)",
            cache.display()
        ));
    };
    let dir = cache.join(&mirror.dir);
    let path = index_path(&dir);
    let r = if write {
        db::Index::open(&path)
    } else {
        db::Index::open_read_only(&path)
    };
    r.map(|index| (dir, index))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}
