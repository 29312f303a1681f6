//! FlickrFs: the mounted tree as plain functions returning plain structs, testable without a
//! kernel. It answers from the index (the hashed tree is a few indexed queries per directory,
//! see `cache::db::tree`: nothing is loaded at start and nothing per photo is held in memory,
//! so the mount is ready at once over any stream size and shows what another process indexes)
//! and reaches through the engine only for what is not cached yet. This module owns the
//! [`FlickrFs`] state; submodules own the rest: `inode` (numbers and what they name), `attr`
//! (what `stat` shows), `dir` (lookup and readdir), `handles` (open files and reads), `meta`
//! (`.flickrfs/status` and search directories), `views` (albums, dates, tags and README.txt),
//! `xattr` (extended attributes), `notify` (what the kernel must forget when the index
//! changes) and `error` (errno with cause). It never calls the FUSE adapter; the adapter calls
//! it.

mod attr;
mod dir;
mod error;
mod handles;
mod inode;
mod meta;
mod notify;
mod views;
mod xattr;

pub use attr::{Attr, DirEntry, Kind};
pub use error::{Error, Result};
pub use inode::{META_NAME, README_NAME, ROOT_INO, SEARCH_NAME, STATUS_NAME};
pub use notify::{ChangeMark, Inval};

use crate::engine::Engine;
use crate::photo::Photo;
use handles::Handle;
use meta::SearchDir;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

/// What the mount shows.
#[derive(Clone, Debug)]
pub struct FsOptions {
    pub show_images: bool,
    /// Sidecar level, `None` for no sidecars.
    pub info_level: Option<i32>,
    /// Fetch the album list and an album's photos again once they are this old.
    pub albums_max_age: std::time::Duration,
}

pub struct FlickrFs {
    pub engine: Arc<Engine>,
    opts: FsOptions,
    handles: Mutex<HashMap<u64, Handle>>,
    next_fh: AtomicU64,
    started: i64,
    /// Search directories by query id (index + 1 is the id, so 0 is never one).
    searches: Mutex<Vec<SearchDir>>,
    views: views::ViewState,
    /// How far in the index's change log the kernel has been told (see `notify`).
    told: std::sync::atomic::AtomicI64,
}

impl FlickrFs {
    /// The file system over `engine`'s cache. Reads nothing yet: it is ready at once.
    pub fn new(engine: Arc<Engine>, opts: FsOptions) -> FlickrFs {
        FlickrFs {
            engine,
            opts,
            handles: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            started: crate::engine::now_secs(),
            searches: Mutex::new(Vec::new()),
            views: views::ViewState::default(),
            told: std::sync::atomic::AtomicI64::new(0),
        }
    }

    fn depth(&self) -> u32 {
        self.engine.store.depth() as u32
    }

    /// True when some indexed photo's hash starts with `prefix` (the directory exists).
    fn holds(&self, prefix: &str) -> Result<bool> {
        Ok(self.engine.index.tree_holds(prefix)?)
    }

    fn row(&self, rowid: i64) -> Result<Photo> {
        self.engine
            .index
            .photo_by_rowid(rowid)?
            .ok_or_else(Error::not_found)
    }

    /// Makes sure the sidecar of photo `rowid` is on disk at `level` (rendering it into the
    /// backing cache, fetching comments when the level wants them).
    async fn ensure_sidecar(&self, rowid: i64, level: i32) -> Result<Photo> {
        let row = self.row(rowid)?;
        let fresh = row.info_level >= level && row.info_last_update == Some(row.last_update);
        if fresh && self.engine.store.info_path(&row.id).exists() {
            return Ok(row);
        }
        self.engine
            .fetch_info_now(&row.id, level)
            .await
            .map_err(|e| Error::fetch(format!("info of photo {}", row.hash()), e))
    }
}

#[cfg(test)]
mod tests;
