//! Attributes: what `stat` shows of every inode. One path decides them: [`FlickrFs::attr_now`]
//! answers from memory and the index (directories, images of known size) without leaving the
//! calling thread, and [`FlickrFs::getattr`] answers everything, reaching the network only for
//! what the index does not know yet (an image's size: a HEAD; a sidecar not yet rendered).

use super::error::{Error, Result};
use super::inode::{dir_prefix, node_of, Node};
use super::FlickrFs;

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
    /// True when the attributes (and bytes) change only with the index, whose changes are told
    /// to the kernel (`notify`): directories of the hashed tree, images of exact size,
    /// sidecars rendered from the row as it is. The kernel may keep them long.
    pub stable: bool,
}

/// One entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub ino: u64,
    pub kind: Kind,
    pub name: String,
}

impl FlickrFs {
    pub fn dir_attr(&self, ino: u64) -> Attr {
        Attr {
            ino,
            kind: Kind::Dir,
            size: 0,
            mtime: self.started,
            perm: 0o555,
            // Photos are kept when deleted (and a pruned one's directories are told to the
            // kernel): a directory that exists stays, with these attributes. Search
            // directories come and go (see `searches`): the kernel asks again by name.
            stable: !matches!(node_of(ino), Some(Node::Search(_))),
        }
    }

    fn file_attr(&self, ino: u64, size: u64, mtime: i64, stable: bool) -> Attr {
        Attr {
            ino,
            kind: Kind::File,
            size,
            mtime,
            perm: 0o444,
            stable,
        }
    }

    /// Attributes known without the network or a render, for the adapter to answer on the
    /// FUSE thread; `None` when only [`FlickrFs::getattr`] can tell.
    pub fn attr_now(&self, ino: u64) -> Option<Result<Attr>> {
        match node_of(ino)? {
            Node::Root | Node::Meta | Node::SearchRoot => Some(Ok(self.dir_attr(ino))),
            Node::Readme => Some(Ok(self.file_attr(
                ino,
                super::views::README.len() as u64,
                self.started,
                true,
            ))),
            Node::ViewDir(d) => Some(match self.view_dir_exists(d)? {
                Ok(true) => Ok(Attr {
                    stable: false,
                    ..self.dir_attr(ino)
                }),
                Ok(false) => Err(Error::not_found()),
                Err(e) => Err(e),
            }),
            Node::ViewLink { .. } => Some(self.readlink(ino).map(|target| Attr {
                ino,
                kind: Kind::Symlink,
                size: target.len() as u64,
                mtime: self.started,
                perm: 0o777,
                stable: false,
            })),
            Node::Dir { len, value } => {
                let prefix = dir_prefix(len, value);
                if len == 0 || len > self.depth() {
                    return Some(Err(Error::not_found()));
                }
                match self.holds(&prefix) {
                    Ok(true) => Some(Ok(self.dir_attr(ino))),
                    Ok(false) => Some(Err(Error::not_found())),
                    Err(e) => Some(Err(e)),
                }
            }
            Node::Image(r) => {
                if !self.opts.show_images {
                    return Some(Err(Error::not_found()));
                }
                let (size, mtime) = match self.engine.index.image_stat(r) {
                    Ok(Some(v)) => v,
                    Ok(None) => return Some(Err(Error::not_found())),
                    Err(e) => return Some(Err(e.into())),
                };
                Some(Ok(self.file_attr(ino, size?, mtime, true)))
            }
            Node::Info(r) => {
                let Some(level) = self.opts.info_level else {
                    return Some(Err(Error::not_found()));
                };
                let (id, at, rendered, last_update, mtime) = match self.engine.index.info_stat(r) {
                    Ok(Some(v)) => v,
                    Ok(None) => return Some(Err(Error::not_found())),
                    Err(e) => return Some(Err(e.into())),
                };
                // Rendered at this level from the row as it is: final until the row changes
                // (which the change log tells the kernel). Else only `getattr` can tell.
                if at < level || rendered != Some(last_update) {
                    return None;
                }
                let size = std::fs::metadata(self.engine.store.info_path(&id))
                    .ok()?
                    .len();
                // The kernel now holds the file's size: a read must serve the file, not bytes
                // held for an earlier `stat` (a stand-in shorter than the file).
                self.forget_held_sidecar(ino);
                Some(Ok(self.file_attr(ino, size, mtime, true)))
            }
            _ => None,
        }
    }

    /// Attributes of any inode. May reach the network: a HEAD for an image size not yet
    /// known, comments for a sidecar not yet rendered.
    pub async fn getattr(&self, ino: u64) -> Result<Attr> {
        if let Some(r) = self.attr_now(ino) {
            return r;
        }
        match node_of(ino).ok_or_else(Error::not_found)? {
            Node::Search(q) => {
                self.with_search(q, |_| ())?;
                Ok(self.dir_attr(ino))
            }
            Node::ViewDir(_) => {
                // An album, before the album list was fetched.
                self.prepare_view(super::inode::ALBUMS_INO).await?;
                self.attr_now(ino)
                    .unwrap_or_else(|| Err(Error::not_found()))
            }
            Node::Link { .. } => Ok(Attr {
                ino,
                kind: Kind::Symlink,
                size: self.readlink(ino)?.len() as u64,
                mtime: self.started,
                perm: 0o777,
                stable: false,
            }),
            Node::Status => Ok(self.file_attr(
                ino,
                self.status_bytes().len() as u64,
                crate::engine::now_secs(),
                false,
            )),
            Node::Image(r) => {
                // Not cached and its size not known yet (else attr_now answered).
                let row = self.row(r)?;
                let size = self.engine.probe_size(r).await.map_err(|e| {
                    Error::fetch(format!("size of photo {}", crate::photo::hash(&row.id)), e)
                })?;
                Ok(self.file_attr(ino, size, row.date_upload, true))
            }
            Node::Info(r) => {
                let level = self.opts.info_level.ok_or_else(Error::not_found)?;
                let (size, mtime, stable) = match self.sidecar(ino, r, level).await? {
                    super::SidecarView::File(row) => {
                        let path = self.engine.store.info_path(&row.id);
                        let size = std::fs::metadata(&path)
                            .map_err(|e| Error::io(format!("cannot stat {}", path.display()), e))?
                            .len();
                        // Rendered from the row: final until the row changes (see `notify`).
                        (size, row.date_upload, true)
                    }
                    // Served from memory (a stand-in while comments are pending, or a sidecar
                    // not yet on disk): it may change soon.
                    super::SidecarView::Bytes(b) => {
                        (b.len() as u64, self.row(r)?.date_upload, false)
                    }
                };
                Ok(self.file_attr(ino, size, mtime, stable))
            }
            // Answered by attr_now.
            Node::Root
            | Node::Meta
            | Node::SearchRoot
            | Node::Dir { .. }
            | Node::Readme
            | Node::ViewLink { .. } => Err(Error::not_found()),
        }
    }

    /// Attributes of a listed entry when they cost nothing (directories, images of known
    /// size), for READDIRPLUS; `None` leaves the entry to a later lookup.
    pub fn entry_attr_now(&self, e: &DirEntry) -> Option<Attr> {
        match e.kind {
            // A view directory may go (an album deleted on Flickr): never cached for long.
            Kind::Dir => Some(Attr {
                stable: !matches!(node_of(e.ino), Some(Node::ViewDir(_))),
                ..self.dir_attr(e.ino)
            }),
            Kind::File => self.attr_now(e.ino)?.ok(),
            Kind::Symlink => self.attr_now(e.ino)?.ok(),
        }
    }
}
