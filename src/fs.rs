//! FlickrFs: the mounted tree as plain functions returning plain structs, testable without a
//! kernel. Owns the inode scheme, the in-memory hashed tree, open-file handles and the
//! virtual `.flickrfs/status` file; fetches through the sync engine on a miss.
//!
//! Inodes: 1 root, 2 `.flickrfs`, 3 `.flickrfs/status`, 4 `.flickrfs/search`; a search
//! directory `.flickrfs/search/<query>` is `SEARCH_TAG | q`, its links `LINK_TAG | q << 32 |
//! hit << 1 | json`; a hashed directory with prefix `p`
//! (L hex chars) is `DIR_TAG | L << 32 | value(p)`; a photo with index rowid `r` has image
//! `PHOTO_TAG | r << 1` and sidecar `PHOTO_TAG | r << 1 | 1`. Rowids never change, so inodes
//! are stable across remounts.

use crate::index::PhotoRow;
use crate::store::photo_hash;
use crate::sync::Engine;
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

pub const ROOT_INO: u64 = 1;
pub const META_INO: u64 = 2;
pub const STATUS_INO: u64 = 3;
pub const SEARCH_INO: u64 = 4;
const DIR_TAG: u64 = 1 << 56;
const PHOTO_TAG: u64 = 2 << 56;
const SEARCH_TAG: u64 = 3 << 56;
const LINK_TAG: u64 = 4 << 56;
pub const META_NAME: &str = ".flickrfs";
pub const STATUS_NAME: &str = "status";
pub const SEARCH_NAME: &str = "search";
/// Hits per search directory.
const SEARCH_LIMIT: usize = 1000;
/// Distinct queries a mount remembers (their inodes must stay valid).
const MAX_QUERIES: usize = 1 << 20;
/// A search directory is run again when looked up after this long (new photos, comments).
const SEARCH_TTL: std::time::Duration = std::time::Duration::from_secs(10);

/// A file system error, as an errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsError(pub i32);

impl FsError {
    pub const NOENT: FsError = FsError(libc::ENOENT);
    pub const IO: FsError = FsError(libc::EIO);
    pub const ROFS: FsError = FsError(libc::EROFS);
    pub const NOTDIR: FsError = FsError(libc::ENOTDIR);
    pub const ISDIR: FsError = FsError(libc::EISDIR);
    pub const BADF: FsError = FsError(libc::EBADF);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Symlink,
}

/// What `stat` shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attr {
    pub ino: u64,
    pub kind: Kind,
    pub size: u64,
    /// Unix seconds.
    pub mtime: i64,
    pub perm: u16,
    /// True when the attributes can never change (exact size of an immutable file).
    pub stable: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub ino: u64,
    pub kind: Kind,
    pub name: String,
}

/// What the mount shows.
#[derive(Clone, Debug)]
pub struct FsOptions {
    pub show_images: bool,
    /// Sidecar level, `None` for no sidecars.
    pub info_level: Option<i32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    Root,
    Meta,
    Status,
    Dir { len: u32, value: u32 },
    Image(i64),
    Info(i64),
    SearchRoot,
    Search(u32),
    Link { query: u32, hit: u32, json: bool },
}

fn node_of(ino: u64) -> Option<Node> {
    match ino {
        ROOT_INO => Some(Node::Root),
        META_INO => Some(Node::Meta),
        STATUS_INO => Some(Node::Status),
        SEARCH_INO => Some(Node::SearchRoot),
        _ if ino & (0xff << 56) == SEARCH_TAG => Some(Node::Search(ino as u32)),
        _ if ino & (0xff << 56) == LINK_TAG => Some(Node::Link {
            query: ((ino >> 32) & 0xff_ffff) as u32,
            hit: (ino as u32) >> 1,
            json: ino & 1 == 1,
        }),
        _ if ino & (0xff << 56) == DIR_TAG => Some(Node::Dir {
            len: ((ino >> 32) & 0xff) as u32,
            value: ino as u32,
        }),
        _ if ino & (0xff << 56) == PHOTO_TAG => {
            let r = ((ino & !(0xff << 56)) >> 1) as i64;
            Some(if ino & 1 == 0 {
                Node::Image(r)
            } else {
                Node::Info(r)
            })
        }
        _ => None,
    }
}

fn dir_ino(prefix: &str) -> u64 {
    let value = u32::from_str_radix(prefix, 16).unwrap_or(0);
    DIR_TAG | ((prefix.len() as u64) << 32) | value as u64
}

fn dir_prefix(len: u32, value: u32) -> String {
    if len == 0 {
        String::new()
    } else {
        format!("{value:0width$x}", width = len as usize)
    }
}

fn image_ino(rowid: i64) -> u64 {
    PHOTO_TAG | ((rowid as u64) << 1)
}

fn info_ino(rowid: i64) -> u64 {
    PHOTO_TAG | ((rowid as u64) << 1) | 1
}

fn search_ino(query: u32) -> u64 {
    SEARCH_TAG | query as u64
}

fn link_ino(query: u32, hit: u32, json: bool) -> u64 {
    LINK_TAG | (query as u64) << 32 | (hit as u64) << 1 | json as u64
}

/// A search directory: a query and its hits (photo hash, image extension), best first.
struct SearchDir {
    query: String,
    hits: Vec<(String, String)>,
    at: std::time::Instant,
}

/// The hashed tree in memory: every indexed photo's hash and rowid, sorted by hash.
#[derive(Default)]
struct Tree {
    entries: Vec<(String, i64)>,
    max_rowid: i64,
}

impl Tree {
    /// Entries whose hash starts with `prefix`.
    fn range(&self, prefix: &str) -> &[(String, i64)] {
        let lo = self.entries.partition_point(|(h, _)| h.as_str() < prefix);
        let hi = lo + self.entries[lo..].partition_point(|(h, _)| h.starts_with(prefix));
        &self.entries[lo..hi]
    }
}

/// An image being downloaded as it is read: the partial file, how much of it is written, and
/// the image's full length.
#[derive(Clone)]
struct Following {
    progress: tokio::sync::watch::Receiver<crate::sync::stream::Progress>,
    len: u64,
}

/// An open file.
enum Handle {
    /// A file of the backing cache, opened at the first read (possibly still downloading).
    Backing {
        ino: u64,
        file: Option<Arc<File>>,
        following: Option<Following>,
    },
    /// A snapshot of a virtual file.
    Bytes(Arc<Vec<u8>>),
}

pub struct FlickrFs {
    pub engine: Arc<Engine>,
    opts: FsOptions,
    tree: RwLock<Tree>,
    tree_seen: AtomicU64,
    handles: Mutex<HashMap<u64, Handle>>,
    next_fh: AtomicU64,
    started: i64,
    /// Search directories by query id (index + 1 is the id, so 0 is never one).
    searches: Mutex<Vec<SearchDir>>,
}

impl FlickrFs {
    pub fn new(engine: Arc<Engine>, opts: FsOptions) -> FlickrFs {
        let fs = FlickrFs {
            engine,
            opts,
            tree: RwLock::new(Tree::default()),
            tree_seen: AtomicU64::new(u64::MAX),
            handles: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            started: crate::sync::now_secs(),
            searches: Mutex::new(Vec::new()),
        };
        fs.refresh_tree();
        fs
    }

    fn depth(&self) -> u32 {
        self.engine.store.depth() as u32
    }

    /// Loads photos indexed since the last look into the in-memory tree.
    pub fn refresh_tree(&self) {
        let seen = self.engine.stats.new_photos.load(Ordering::Relaxed);
        if self.tree_seen.swap(seen, Ordering::SeqCst) == seen {
            return;
        }
        let since = self
            .tree
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .max_rowid;
        let new = match self.engine.index.rows_since(since) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("cannot read the index: {e}");
                self.tree_seen.store(u64::MAX, Ordering::SeqCst);
                return;
            }
        };
        if new.is_empty() {
            return;
        }
        let mut add: Vec<(String, i64)> = new.iter().map(|(r, id)| (photo_hash(id), *r)).collect();
        add.sort();
        let mut tree = self.tree.write().unwrap_or_else(|e| e.into_inner());
        tree.max_rowid = tree
            .max_rowid
            .max(new.iter().map(|(r, _)| *r).max().unwrap_or(0));
        let old = std::mem::take(&mut tree.entries);
        let mut merged = Vec::with_capacity(old.len() + add.len());
        let (mut a, mut b) = (old.into_iter().peekable(), add.into_iter().peekable());
        loop {
            let take_a = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => x <= y,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let next = if take_a { a.next() } else { b.next() };
            if let Some(n) = next {
                if merged.last() != Some(&n) {
                    merged.push(n);
                }
            }
        }
        tree.entries = merged;
    }

    /// True when some indexed photo's hash starts with `prefix` (the directory exists).
    fn holds(&self, prefix: &str) -> bool {
        !self
            .tree
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .range(prefix)
            .is_empty()
    }

    pub fn dir_attr(&self, ino: u64) -> Attr {
        Attr {
            ino,
            kind: Kind::Dir,
            size: 0,
            mtime: self.started,
            perm: 0o555,
            // Photos are never deleted: a directory that exists stays, with these attributes.
            stable: true,
        }
    }

    fn row(&self, rowid: i64) -> Result<PhotoRow, FsError> {
        self.engine
            .index
            .photo_by_rowid(rowid)
            .map_err(|_| FsError::IO)?
            .ok_or(FsError::NOENT)
    }

    fn sidecar_ok(&self, row: &PhotoRow, level: i32) -> bool {
        row.info_level >= level && row.info_last_update == Some(row.last_update)
    }

    /// Attributes of any inode. May reach the network: a HEAD for an image size not yet
    /// known, comments for a sidecar not yet rendered.
    pub async fn getattr(&self, ino: u64) -> Result<Attr, FsError> {
        match node_of(ino).ok_or(FsError::NOENT)? {
            Node::Root | Node::Meta | Node::SearchRoot => Ok(self.dir_attr(ino)),
            Node::Search(q) => {
                self.with_search(q, |_| ())?;
                Ok(self.dir_attr(ino))
            }
            Node::Link { .. } => Ok(Attr {
                ino,
                kind: Kind::Symlink,
                size: self.readlink(ino)?.len() as u64,
                mtime: self.started,
                perm: 0o777,
                stable: false,
            }),
            Node::Dir { len, value } => {
                self.refresh_tree();
                let prefix = dir_prefix(len, value);
                if len == 0 || len > self.depth() || !self.holds(&prefix) {
                    return Err(FsError::NOENT);
                }
                Ok(self.dir_attr(ino))
            }
            Node::Status => Ok(Attr {
                ino,
                kind: Kind::File,
                size: self.status_bytes().len() as u64,
                mtime: crate::sync::now_secs(),
                perm: 0o444,
                stable: false,
            }),
            Node::Image(r) => {
                if !self.opts.show_images {
                    return Err(FsError::NOENT);
                }
                let row = self.row(r)?;
                let size = if row.image_cached {
                    row.image_size.unwrap_or(0)
                } else {
                    self.engine.image_size(&row).await.map_err(|e| {
                        tracing::warn!("size of photo {}: {e}", photo_hash(&row.id));
                        FsError::IO
                    })?
                };
                Ok(Attr {
                    ino,
                    kind: Kind::File,
                    size,
                    mtime: row.date_upload,
                    perm: 0o444,
                    stable: true,
                })
            }
            Node::Info(r) => {
                let level = self.opts.info_level.ok_or(FsError::NOENT)?;
                let row = self.ensure_sidecar(r, level).await?;
                let size = std::fs::metadata(self.engine.store.info_path(&row.id))
                    .map_err(|_| FsError::IO)?
                    .len();
                Ok(Attr {
                    ino,
                    kind: Kind::File,
                    size,
                    mtime: row.date_upload,
                    perm: 0o444,
                    stable: false,
                })
            }
        }
    }

    /// Makes sure the sidecar of photo `rowid` is on disk at `level` (rendering it into the
    /// backing cache, fetching comments when the level wants them).
    async fn ensure_sidecar(&self, rowid: i64, level: i32) -> Result<PhotoRow, FsError> {
        let row = self.row(rowid)?;
        let path = self.engine.store.info_path(&row.id);
        if self.sidecar_ok(&row, level) && path.exists() {
            return Ok(row);
        }
        self.engine.cache_info(&row, level).await.map_err(|e| {
            tracing::warn!("info of photo {}: {e}", photo_hash(&row.id));
            FsError::IO
        })?;
        self.row(rowid)
    }

    /// Attributes answered from the index alone (an image whose size is known), for the
    /// adapter to reply without a trip through the async runtime; `None` when the full
    /// [`FlickrFs::getattr`] is needed.
    pub fn getattr_now(&self, ino: u64) -> Option<Result<Attr, FsError>> {
        match node_of(ino)? {
            Node::Root | Node::Meta | Node::SearchRoot => Some(Ok(self.dir_attr(ino))),
            Node::Dir { len, value } => {
                let prefix = dir_prefix(len, value);
                if len == 0 || len > self.depth() || !self.holds(&prefix) {
                    return None; // perhaps new since the last refresh: the full path looks
                }
                Some(Ok(self.dir_attr(ino)))
            }
            Node::Image(r) => {
                if !self.opts.show_images {
                    return Some(Err(FsError::NOENT));
                }
                let (size, mtime) = match self.engine.index.image_stat(r) {
                    Ok(Some(v)) => v,
                    Ok(None) => return Some(Err(FsError::NOENT)),
                    Err(_) => return Some(Err(FsError::IO)),
                };
                Some(Ok(Attr {
                    ino,
                    kind: Kind::File,
                    size: size?,
                    mtime,
                    perm: 0o444,
                    stable: true,
                }))
            }
            _ => None,
        }
    }

    /// Attributes of a listed entry when they cost nothing (directories, images of known
    /// size), for READDIRPLUS; `None` leaves the entry to a later lookup.
    pub fn entry_attr_now(&self, e: &DirEntry) -> Option<Attr> {
        match e.kind {
            Kind::Dir => Some(self.dir_attr(e.ino)),
            Kind::File => self.getattr_now(e.ino)?.ok(),
            Kind::Symlink => None,
        }
    }

    /// [`FlickrFs::lookup`] when it needs neither the network nor rendering.
    pub fn lookup_now(&self, parent: u64, name: &str) -> Option<Result<Attr, FsError>> {
        match self.child_ino(parent, name) {
            Err(e) => Some(Err(e)),
            Ok(ino) => self.getattr_now(ino),
        }
    }

    /// Finds `name` in directory `parent`.
    pub async fn lookup(&self, parent: u64, name: &str) -> Result<Attr, FsError> {
        let ino = self.child_ino(parent, name)?;
        self.getattr(ino).await
    }

    fn child_ino(&self, parent: u64, name: &str) -> Result<u64, FsError> {
        self.refresh_tree();
        let depth = self.depth();
        let prefix = match node_of(parent).ok_or(FsError::NOENT)? {
            Node::Root => {
                if name == META_NAME {
                    return Ok(META_INO);
                }
                String::new()
            }
            Node::Meta => {
                return match name {
                    STATUS_NAME => Ok(STATUS_INO),
                    SEARCH_NAME => Ok(SEARCH_INO),
                    _ => Err(FsError::NOENT),
                };
            }
            Node::SearchRoot => return self.search_dir(name).map(search_ino),
            Node::Search(q) => {
                return self
                    .with_search(q, |d| {
                        d.hits.iter().enumerate().find_map(|(i, (hash, ext))| {
                            let (h, e) = name.split_once('.')?;
                            (h == hash).then_some(())?;
                            if e == "json" && self.opts.info_level.is_some() {
                                Some(link_ino(q, i as u32, true))
                            } else if e == ext && self.opts.show_images {
                                Some(link_ino(q, i as u32, false))
                            } else {
                                None
                            }
                        })
                    })?
                    .ok_or(FsError::NOENT);
            }
            Node::Dir { len, value } => dir_prefix(len, value),
            _ => return Err(FsError::NOTDIR),
        };
        if (prefix.len() as u32) < depth {
            if name.len() != 1
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            {
                return Err(FsError::NOENT);
            }
            let child = format!("{prefix}{name}");
            if !self.holds(&child) {
                return Err(FsError::NOENT);
            }
            return Ok(dir_ino(&child));
        }
        let (hash, ext) = name.split_once('.').ok_or(FsError::NOENT)?;
        if hash.len() != 32 || !hash.starts_with(&prefix) {
            return Err(FsError::NOENT);
        }
        let rowid = {
            let tree = self.tree.read().unwrap_or_else(|e| e.into_inner());
            let r = tree.range(hash);
            r.first()
                .filter(|(h, _)| h == hash)
                .map(|(_, r)| *r)
                .ok_or(FsError::NOENT)?
        };
        if ext == "json" {
            return if self.opts.info_level.is_some() {
                Ok(info_ino(rowid))
            } else {
                Err(FsError::NOENT)
            };
        }
        let (_, row_ext, _) = self
            .engine
            .index
            .image_file(rowid)
            .map_err(|_| FsError::IO)?
            .ok_or(FsError::NOENT)?;
        if self.opts.show_images && row_ext == ext {
            Ok(image_ino(rowid))
        } else {
            Err(FsError::NOENT)
        }
    }

    /// The whole listing of a directory (without `.` and `..`). Never reaches the network.
    pub fn readdir(&self, ino: u64) -> Result<Vec<DirEntry>, FsError> {
        self.refresh_tree();
        let depth = self.depth();
        let prefix = match node_of(ino).ok_or(FsError::NOENT)? {
            Node::Root => String::new(),
            Node::Meta => {
                return Ok(vec![
                    DirEntry {
                        ino: STATUS_INO,
                        kind: Kind::File,
                        name: STATUS_NAME.into(),
                    },
                    DirEntry {
                        ino: SEARCH_INO,
                        kind: Kind::Dir,
                        name: SEARCH_NAME.into(),
                    },
                ])
            }
            Node::SearchRoot => {
                let searches = self.searches.lock().unwrap_or_else(|e| e.into_inner());
                return Ok(searches
                    .iter()
                    .enumerate()
                    .map(|(i, d)| DirEntry {
                        ino: search_ino(i as u32 + 1),
                        kind: Kind::Dir,
                        name: d.query.clone(),
                    })
                    .collect());
            }
            Node::Search(q) => {
                return self.with_search(q, |d| {
                    let mut out = Vec::new();
                    for (i, (hash, ext)) in d.hits.iter().enumerate() {
                        if self.opts.show_images {
                            out.push(DirEntry {
                                ino: link_ino(q, i as u32, false),
                                kind: Kind::Symlink,
                                name: format!("{hash}.{ext}"),
                            });
                        }
                        if self.opts.info_level.is_some() {
                            out.push(DirEntry {
                                ino: link_ino(q, i as u32, true),
                                kind: Kind::Symlink,
                                name: format!("{hash}.json"),
                            });
                        }
                    }
                    out
                });
            }
            Node::Dir { len, value } => dir_prefix(len, value),
            _ => return Err(FsError::NOTDIR),
        };
        let mut out = Vec::new();
        if ino == ROOT_INO {
            out.push(DirEntry {
                ino: META_INO,
                kind: Kind::Dir,
                name: META_NAME.into(),
            });
        }
        let tree = self.tree.read().unwrap_or_else(|e| e.into_inner());
        let range = tree.range(&prefix);
        if (prefix.len() as u32) < depth {
            let at = prefix.len();
            let mut last: Option<u8> = None;
            for (h, _) in range {
                let c = h.as_bytes()[at];
                if last != Some(c) {
                    last = Some(c);
                    let child = format!("{prefix}{}", c as char);
                    out.push(DirEntry {
                        ino: dir_ino(&child),
                        kind: Kind::Dir,
                        name: (c as char).to_string(),
                    });
                }
            }
            if ino != ROOT_INO && out.is_empty() {
                return Err(FsError::NOENT);
            }
            return Ok(out);
        }
        let ids: Vec<(String, i64)> = range.to_vec();
        drop(tree);
        let exts = self
            .engine
            .index
            .exts_by_rowid(&ids.iter().map(|(_, r)| *r).collect::<Vec<_>>())
            .map_err(|_| FsError::IO)?;
        for (hash, rowid) in ids {
            if self.opts.show_images {
                if let Some(ext) = exts.get(&rowid) {
                    out.push(DirEntry {
                        ino: image_ino(rowid),
                        kind: Kind::File,
                        name: format!("{hash}.{ext}"),
                    });
                }
            }
            if self.opts.info_level.is_some() {
                out.push(DirEntry {
                    ino: info_ino(rowid),
                    kind: Kind::File,
                    name: format!("{hash}.json"),
                });
            }
        }
        Ok(out)
    }

    /// Opens a file for reading; returns the handle and whether the kernel may keep its cache.
    pub fn open(&self, ino: u64, write: bool) -> Result<(u64, bool), FsError> {
        if write {
            return Err(FsError::ROFS);
        }
        let (handle, keep) = match node_of(ino).ok_or(FsError::NOENT)? {
            Node::Root | Node::Meta | Node::Dir { .. } | Node::SearchRoot | Node::Search(_) => {
                return Err(FsError::ISDIR)
            }
            Node::Link { .. } => return Err(FsError(libc::ELOOP)),
            Node::Status => (Handle::Bytes(Arc::new(self.status_bytes())), false),
            Node::Image(_) => (
                Handle::Backing {
                    ino,
                    file: None,
                    following: None,
                },
                true,
            ),
            Node::Info(_) => (
                Handle::Backing {
                    ino,
                    file: None,
                    following: None,
                },
                false,
            ),
        };
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        self.handles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(fh, handle);
        Ok((fh, keep))
    }

    pub fn release(&self, fh: u64) {
        self.handles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&fh);
    }

    /// Reads from an open file. An uncached image is fetched into the backing cache ahead of
    /// the prefetcher, and its bytes are served as they arrive.
    pub async fn read(&self, fh: u64, offset: u64, size: u32) -> Result<Vec<u8>, FsError> {
        let (ino, file, following) = {
            let handles = self.handles.lock().unwrap_or_else(|e| e.into_inner());
            match handles.get(&fh).ok_or(FsError::BADF)? {
                Handle::Bytes(b) => {
                    let start = (offset as usize).min(b.len());
                    let end = (start + size as usize).min(b.len());
                    return Ok(b[start..end].to_vec());
                }
                Handle::Backing {
                    ino,
                    file,
                    following,
                } => (*ino, file.clone(), following.clone()),
            }
        };
        let (file, following) = match file {
            Some(f) => (f, following),
            None => {
                let (f, following) = self.open_backing(ino).await?;
                let f = Arc::new(f);
                if let Some(Handle::Backing {
                    file,
                    following: fl,
                    ..
                }) = self
                    .handles
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_mut(&fh)
                {
                    *file = Some(f.clone());
                    *fl = following.clone();
                }
                (f, following)
            }
        };
        if let Some(mut fl) = following {
            // Wait for the bytes asked for (or the end of the download).
            let want = (offset + size as u64).min(fl.len);
            let ended = fl
                .progress
                .wait_for(|p| p.written >= want || p.finished.is_some())
                .await
                .map(|p| p.finished.clone())
                .unwrap_or(Some(Err("the download went away".into())));
            match ended {
                None | Some(Ok(())) => {
                    if matches!(ended, Some(Ok(()))) {
                        self.stop_following(fh);
                    }
                }
                Some(Err(e)) => {
                    tracing::warn!("read of inode {ino}: {e}");
                    return Err(FsError::IO);
                }
            }
        }
        read_at(&file, offset, size)
    }

    fn stop_following(&self, fh: u64) {
        if let Some(Handle::Backing { following, .. }) = self
            .handles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&fh)
        {
            *following = None;
        }
    }

    async fn open_backing(&self, ino: u64) -> Result<(File, Option<Following>), FsError> {
        match node_of(ino).ok_or(FsError::NOENT)? {
            Node::Image(r) => {
                let row = self.row(r)?;
                let path = self.engine.store.image_path(&row.id, &row.ext);
                if row.image_cached {
                    if let Ok(f) = File::open(&path) {
                        return Ok((f, None));
                    }
                }
                // Fetch it with top priority, and follow the download as soon as it starts.
                let engine = self.engine.clone();
                let id = row.id.clone();
                let mut fetch = tokio::spawn(async move { engine.fetch_image_now(&id).await });
                loop {
                    let started = self.engine.streams.changed();
                    if let Some(stream) = self.engine.streams.get(&row.id) {
                        if let Ok(f) = File::open(&stream.part) {
                            let len = match row.image_size {
                                Some(n) => n,
                                None => self.engine.image_size(&row).await.map_err(|e| {
                                    tracing::warn!("size of photo {}: {e}", photo_hash(&row.id));
                                    FsError::IO
                                })?,
                            };
                            let following = Following {
                                progress: stream.progress,
                                len,
                            };
                            return Ok((f, Some(following)));
                        }
                    }
                    tokio::select! {
                        done = &mut fetch => {
                            let row = done
                                .map_err(|_| FsError::IO)?
                                .map_err(|e| {
                                    tracing::warn!("fetch of photo {}: {e}", photo_hash(&row.id));
                                    FsError::IO
                                })?;
                            let path = self.engine.store.image_path(&row.id, &row.ext);
                            return Ok((File::open(path).map_err(|_| FsError::IO)?, None));
                        }
                        _ = started => {}
                    }
                }
            }
            Node::Info(r) => {
                let level = self.opts.info_level.ok_or(FsError::NOENT)?;
                let row = self.ensure_sidecar(r, level).await?;
                let f =
                    File::open(self.engine.store.info_path(&row.id)).map_err(|_| FsError::IO)?;
                Ok((f, None))
            }
            _ => Err(FsError::BADF),
        }
    }

    /// The backing file of an image that is already cached (for kernel passthrough reads);
    /// `None` for anything else. Local only: an index lookup and an open.
    pub fn cached_image_file(&self, ino: u64) -> Option<File> {
        let Some(Node::Image(r)) = node_of(ino) else {
            return None;
        };
        let (id, ext, cached) = self.engine.index.image_file(r).ok()??;
        if !cached || !self.opts.show_images {
            return None;
        }
        File::open(self.engine.store.image_path(&id, &ext)).ok()
    }

    /// The id of the search directory for `query`, running the search when it is new or
    /// stale. A query without any word has no directory.
    fn search_dir(&self, query: &str) -> Result<u32, FsError> {
        let existing = {
            let searches = self.searches.lock().unwrap_or_else(|e| e.into_inner());
            searches.iter().position(|d| d.query == query)
        };
        if let Some(i) = existing {
            self.with_search(i as u32 + 1, |_| ())?;
            return Ok(i as u32 + 1);
        }
        let hits = self.run_search(query)?;
        let mut searches = self.searches.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = searches.iter().position(|d| d.query == query) {
            return Ok(i as u32 + 1);
        }
        if searches.len() >= MAX_QUERIES {
            return Err(FsError(libc::ENOSPC));
        }
        searches.push(SearchDir {
            query: query.to_string(),
            hits,
            at: std::time::Instant::now(),
        });
        Ok(searches.len() as u32)
    }

    fn run_search(&self, query: &str) -> Result<Vec<(String, String)>, FsError> {
        let conn = self.engine.index.conn();
        let hits = crate::search::search(&conn, query, None, SEARCH_LIMIT).map_err(|e| {
            tracing::debug!("search {query:?}: {e}");
            FsError::NOENT
        })?;
        Ok(hits
            .into_iter()
            .map(|h| (photo_hash(&h.id), h.ext))
            .collect())
    }

    /// Calls `f` with search directory `q`, refreshed first when stale.
    fn with_search<T>(&self, q: u32, f: impl FnOnce(&SearchDir) -> T) -> Result<T, FsError> {
        let i = (q as usize).checked_sub(1).ok_or(FsError::NOENT)?;
        let stale = {
            let searches = self.searches.lock().unwrap_or_else(|e| e.into_inner());
            let d = searches.get(i).ok_or(FsError::NOENT)?;
            (d.at.elapsed() > SEARCH_TTL).then(|| d.query.clone())
        };
        if let Some(query) = stale {
            let hits = self.run_search(&query).unwrap_or_default();
            let mut searches = self.searches.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(d) = searches.get_mut(i) {
                d.hits = hits;
                d.at = std::time::Instant::now();
            }
        }
        let searches = self.searches.lock().unwrap_or_else(|e| e.into_inner());
        searches.get(i).map(f).ok_or(FsError::NOENT)
    }

    /// The target of a search link: relative, from `.flickrfs/search/<query>/` to the file in
    /// the hashed tree.
    pub fn readlink(&self, ino: u64) -> Result<String, FsError> {
        let Some(Node::Link { query, hit, json }) = node_of(ino) else {
            return Err(FsError(libc::EINVAL));
        };
        let searches = self.searches.lock().unwrap_or_else(|e| e.into_inner());
        let d = searches
            .get((query as usize).checked_sub(1).ok_or(FsError::NOENT)?)
            .ok_or(FsError::NOENT)?;
        let (hash, ext) = d.hits.get(hit as usize).ok_or(FsError::NOENT)?;
        let dirs: String = hash
            .chars()
            .take(self.depth() as usize)
            .map(|c| format!("{c}/"))
            .collect();
        let ext = if json { "json" } else { ext.as_str() };
        Ok(format!("../../../{dirs}{hash}.{ext}"))
    }

    /// The `.flickrfs/status` document.
    pub fn status_bytes(&self) -> Vec<u8> {
        let (total, known, complete) = self.engine.listing_state();
        let counts = self.engine.index.counts().unwrap_or_default();
        let stats = &self.engine.stats;
        let doc = serde_json::json!({
            "user": self.engine.user.username,
            "user_id": self.engine.user.user_id,
            "photos_total": total.or_else(|| self.engine.index.meta_i64("total").ok().flatten().map(|t| t as u64)),
            "photos_known": known.max(counts.photos_indexed),
            "listing_complete": complete,
            "images_cached": counts.images_cached,
            "infos_cached": counts.infos_cached,
            "bytes_cached": counts.image_bytes,
            "pages_done": stats.pages_fetched.load(Ordering::Relaxed),
            "api_calls": self.engine.api.total_calls(),
            "api_calls_this_hour": self.engine.api.calls_last_hour(),
            "api_calls_left_this_hour": self.engine.api.calls_left_this_hour(),
            "api_calls_by_method": self.engine.api.call_counts(),
            "images_downloaded": stats.images_downloaded.load(Ordering::Relaxed),
            "errors": counts.errors,
            "order": format!("{:?}", self.engine.opts.order).to_lowercase(),
        });
        let mut out = serde_json::to_vec_pretty(&doc).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

fn read_at(file: &File, offset: u64, size: u32) -> Result<Vec<u8>, FsError> {
    let mut buf = vec![0u8; size as usize];
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(FsError::IO),
        }
    }
    buf.truncate(done);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inodes_round_trip() {
        assert_eq!(
            node_of(dir_ino("f")),
            Some(Node::Dir { len: 1, value: 0xf })
        );
        assert_eq!(
            node_of(dir_ino("0a3f")),
            Some(Node::Dir {
                len: 4,
                value: 0x0a3f
            })
        );
        assert_eq!(dir_prefix(4, 0x0a3f), "0a3f");
        assert_eq!(node_of(image_ino(12345)), Some(Node::Image(12345)));
        assert_eq!(node_of(info_ino(12345)), Some(Node::Info(12345)));
        assert_eq!(node_of(ROOT_INO), Some(Node::Root));
        assert_eq!(node_of(999), None);
    }

    #[test]
    fn tree_ranges() {
        let t = Tree {
            entries: vec![("a1".into(), 1), ("a2".into(), 2), ("b1".into(), 3)],
            max_rowid: 3,
        };
        assert_eq!(t.range("a").len(), 2);
        assert_eq!(t.range("b1").len(), 1);
        assert_eq!(t.range("c").len(), 0);
        assert_eq!(t.range("").len(), 3);
    }
}
