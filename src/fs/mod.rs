//! FlickrFs: the mounted tree as plain functions returning plain structs, testable without a
//! kernel. It answers from the index (the hashed tree is a few indexed queries per directory,
//! see `cache::db::tree`: nothing is loaded at start and nothing per photo is held in memory,
//! so the mount is ready at once over any stream size and shows what another process indexes)
//! and reaches through the engine only for what is not cached yet. This module owns the
//! [`FlickrFs`] state; submodules own the rest: `inode` (numbers and what they name), `attr`
//! (what `stat` shows), `dir` (lookup and readdir), `handles` (open files and reads), `meta`
//! (`.flickrfs/status` and search directories), `searches` (which search directories exist),
//! `counts` (index counts from memory), `views` (albums, dates, tags and README.txt),
//! `xattr` (extended attributes), `notify` (what the kernel must forget when the index
//! changes) and `error` (errno with cause). It never calls the FUSE adapter; the adapter calls
//! it.

mod attr;
mod counts;
mod dir;
mod error;
mod handles;
mod inode;
mod meta;
mod notify;
mod searches;
mod views;
mod xattr;

pub use attr::{Attr, DirEntry, Kind};
pub use counts::FsStats;
pub use error::{Error, Result};
pub use inode::{META_NAME, README_NAME, ROOT_INO, SEARCH_NAME, STATUS_NAME};
pub use notify::{ChangeMark, Inval};

use crate::engine::sidecar::SidecarNow;
use crate::engine::Engine;
use crate::photo::Photo;
use handles::Handle;
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
    /// Search directories (a bounded registry, see `searches`).
    searches: Mutex<searches::Searches>,
    views: views::ViewState,
    /// Index counts for `statfs` and the status file (see `counts`).
    counts: counts::CountsCache,
    /// Sidecar bytes given lately (see [`FlickrFs::sidecar`]).
    pending: Mutex<PendingSidecars>,
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
            searches: Mutex::new(searches::Searches::default()),
            views: views::ViewState::default(),
            counts: counts::CountsCache::new(crate::config::COUNTS_MAX_AGE),
            pending: Mutex::new(HashMap::new()),
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

    /// The sidecar of photo `rowid` (inode `ino`) as the mount shows it now, never waiting on
    /// the API rate: the complete file, or complete bytes rendered now (when it needs no call
    /// or its comments call can go at once; written to the backing cache behind the answer),
    /// else the level-1 stand-in flagged `comments_pending` (see `engine::sidecar`). Bytes are
    /// remembered a moment so that a read after a `stat` gets those whose size it gave.
    async fn sidecar(&self, ino: u64, rowid: i64, level: i32) -> Result<SidecarView> {
        let row = self.row(rowid)?;
        let got = self
            .engine
            .sidecar_now(&row.id, level)
            .await
            .map_err(|e| Error::fetch(format!("info of photo {}", row.hash()), e))?;
        let is_pending = matches!(got, SidecarNow::Pending(_));
        match got {
            SidecarNow::Complete(row) => {
                self.pending_lock().remove(&ino);
                Ok(SidecarView::File(row))
            }
            SidecarNow::Pending(bytes) | SidecarNow::Rendered(bytes) => {
                let bytes = Arc::new(bytes);
                let mut pending = self.pending_lock();
                if pending.len() >= PENDING_MAX {
                    pending.retain(|_, (_, at, _)| at.elapsed() < PENDING_HOLD);
                }
                let at = std::time::Instant::now();
                pending.insert(ino, (bytes.clone(), at, is_pending));
                Ok(SidecarView::Bytes(bytes))
            }
        }
    }

    /// The sidecar for a read: the stand-in a `stat` just gave, else as [`FlickrFs::sidecar`].
    async fn sidecar_for_read(&self, ino: u64, rowid: i64, level: i32) -> Result<SidecarView> {
        if let Some((bytes, at, _)) = self.pending_lock().get(&ino) {
            if at.elapsed() < PENDING_HOLD {
                return Ok(SidecarView::Bytes(bytes.clone()));
            }
        }
        self.sidecar(ino, rowid, level).await
    }

    /// Drops the bytes held for sidecar `ino` (its size was just given from the file).
    fn forget_held_sidecar(&self, ino: u64) {
        let mut pending = self.pending_lock();
        if !pending.is_empty() {
            pending.remove(&ino);
        }
    }

    fn pending_lock(&self) -> std::sync::MutexGuard<'_, PendingSidecars> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sidecars shown as pending stand-ins lately (inodes). The kernel keeps no attributes of
    /// a stand-in (see the adapter's `ttl`), so none go stale when the comments arrive.
    pub fn pending_sidecars(&self) -> Vec<u64> {
        let pending = self.pending_lock();
        pending
            .iter()
            .filter(|(_, (_, _, p))| *p)
            .map(|(ino, _)| *ino)
            .collect()
    }
}

/// A sidecar as the mount shows it now.
enum SidecarView {
    File(Box<Photo>),
    Bytes(Arc<Vec<u8>>),
}

/// Sidecar bytes given lately (stand-ins, or complete ones not yet on disk), by inode, with
/// when, and whether a stand-in.
type PendingSidecars = HashMap<u64, (Arc<Vec<u8>>, std::time::Instant, bool)>;
/// How long a stand-in given by a `stat` is what a read gets (longer than the kernel keeps
/// the attributes it came with).
const PENDING_HOLD: std::time::Duration = std::time::Duration::from_secs(5);
/// Stand-ins remembered at once before old ones are let go.
const PENDING_MAX: usize = 4096;

#[cfg(test)]
mod tests;
