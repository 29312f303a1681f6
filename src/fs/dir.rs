//! Directories: finding a name in a directory (`lookup`) and listing one (`readdir`), for the
//! root, the hashed levels, `.flickrfs/` and its search directories, and the views (see
//! `views`). Names come from the index (one indexed query per name, per child directory or per
//! leaf directory), never from the network (a lookup's attributes may need it: see `attr`),
//! except that an album list or an album's photos are fetched on their first look
//! ([`FlickrFs::readdir_async`], [`FlickrFs::lookup`]). Listing a directory of the hashed tree
//! starts, without waiting for them, the size probes of the unsized photos below it (see
//! `engine::probe`): the stats of a walk then find their sizes known or on their way.

use super::attr::{Attr, DirEntry, Kind};
use super::error::{Error, Result};
use super::inode::*;
use super::FlickrFs;

impl FlickrFs {
    /// [`FlickrFs::lookup`] when it needs neither the network nor rendering.
    pub fn lookup_now(&self, parent: u64, name: &str) -> Option<Result<Attr>> {
        if self.view_needs_network(parent) {
            return None;
        }
        match self.child_ino(parent, name) {
            Err(e) => Some(Err(e)),
            Ok(ino) => self.attr_now(ino),
        }
    }

    /// Finds `name` in directory `parent`.
    pub async fn lookup(&self, parent: u64, name: &str) -> Result<Attr> {
        self.prepare_view(parent).await?;
        let ino = self.child_ino(parent, name)?;
        self.getattr(ino).await
    }

    fn child_ino(&self, parent: u64, name: &str) -> Result<u64> {
        let depth = self.depth();
        let prefix = match node_of(parent).ok_or_else(Error::not_found)? {
            Node::Root => {
                match name {
                    META_NAME => return Ok(META_INO),
                    README_NAME => return Ok(README_INO),
                    crate::views::ALBUMS => return Ok(ALBUMS_INO),
                    crate::views::DATES => return Ok(DATES_INO),
                    crate::views::TAGS => return Ok(TAGS_INO),
                    _ => {}
                }
                String::new()
            }
            Node::ViewDir(d) => return self.view_child(d, name),
            Node::Meta => {
                return match name {
                    STATUS_NAME => Ok(STATUS_INO),
                    SEARCH_NAME => Ok(SEARCH_INO),
                    _ => Err(Error::not_found()),
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
                    .ok_or_else(Error::not_found);
            }
            Node::Dir { len, value } => dir_prefix(len, value),
            _ => return Err(Error::answer(libc::ENOTDIR)),
        };
        if (prefix.len() as u32) < depth {
            if name.len() != 1
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            {
                return Err(Error::not_found());
            }
            let child = format!("{prefix}{name}");
            if !self.holds(&child)? {
                return Err(Error::not_found());
            }
            return Ok(dir_ino(&child));
        }
        let (hash, ext) = name.split_once('.').ok_or_else(Error::not_found)?;
        if hash.len() != 32 || !hash.starts_with(&prefix) {
            return Err(Error::not_found());
        }
        let (rowid, row_ext) = self
            .engine
            .index
            .tree_find(hash)?
            .ok_or_else(Error::not_found)?;
        if ext == "json" {
            return if self.opts.info_level.is_some() {
                Ok(info_ino(rowid))
            } else {
                Err(Error::not_found())
            };
        }
        if self.opts.show_images && row_ext == ext {
            Ok(image_ino(rowid))
        } else {
            Err(Error::not_found())
        }
    }

    /// True when the kernel may keep the listing of directory `ino` between opens: the root,
    /// `.flickrfs` and the hashed levels change only with the index, whose changes are told to
    /// the kernel (see `notify`). Searches and views are listed afresh at every open.
    pub fn listing_cacheable(&self, ino: u64) -> bool {
        matches!(
            node_of(ino),
            Some(Node::Root | Node::Meta | Node::Dir { .. })
        )
    }

    /// True when listing directory `ino` needs the network first ([`FlickrFs::readdir_async`]).
    pub fn readdir_needs_network(&self, ino: u64) -> bool {
        self.view_needs_network(ino)
    }

    /// The whole listing of a directory, fetching first what an album view needs.
    pub async fn readdir_async(&self, ino: u64) -> Result<Vec<DirEntry>> {
        self.prepare_view(ino).await?;
        self.readdir(ino)
    }

    /// The whole listing of a directory (without `.` and `..`). Never reaches the network:
    /// an album view not fetched yet is not found (see [`FlickrFs::readdir_needs_network`]).
    pub fn readdir(&self, ino: u64) -> Result<Vec<DirEntry>> {
        let depth = self.depth();
        let prefix = match node_of(ino).ok_or_else(Error::not_found)? {
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
                return Ok(self
                    .search_dirs()
                    .into_iter()
                    .map(|(id, query)| DirEntry {
                        ino: search_ino(id),
                        kind: Kind::Dir,
                        name: query,
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
            Node::ViewDir(d) => return self.view_readdir(d),
            Node::Dir { len, value } => dir_prefix(len, value),
            _ => return Err(Error::answer(libc::ENOTDIR)),
        };
        let mut out = Vec::new();
        if ino == ROOT_INO {
            self.note_walk_before_listing();
            out.push(DirEntry {
                ino: META_INO,
                kind: Kind::Dir,
                name: META_NAME.into(),
            });
            out.push(DirEntry {
                ino: README_INO,
                kind: Kind::File,
                name: README_NAME.into(),
            });
            for (ino, name) in [
                (ALBUMS_INO, crate::views::ALBUMS),
                (DATES_INO, crate::views::DATES),
                (TAGS_INO, crate::views::TAGS),
            ] {
                out.push(DirEntry {
                    ino,
                    kind: Kind::Dir,
                    name: name.into(),
                });
            }
        }
        if (prefix.len() as u32) < depth {
            if self.opts.show_images {
                // A walk of the tree stats what is below: the sizes not known yet there are
                // probed now, together, while it goes down (the first ones by hash, as it goes).
                let below = self
                    .engine
                    .index
                    .tree_unsized(&prefix, crate::config::PROBE_BELOW_DIR)?;
                self.engine.probe_soon(below);
            }
            for c in self.engine.index.tree_children(&prefix)? {
                let child = format!("{prefix}{}", c as char);
                out.push(DirEntry {
                    ino: dir_ino(&child),
                    kind: Kind::Dir,
                    name: (c as char).to_string(),
                });
            }
            if ino != ROOT_INO && out.is_empty() {
                return Err(Error::not_found());
            }
            return Ok(out);
        }
        let files = self.engine.index.tree_files(&prefix)?;
        if self.opts.show_images {
            // The sizes a listing's `stat`s will ask for, probed together, not one by one.
            self.engine.probe_soon(
                files
                    .iter()
                    .filter(|f| !f.sized)
                    .map(|f| f.rowid)
                    .collect::<Vec<_>>(),
            );
        }
        for f in files {
            if self.opts.show_images {
                out.push(DirEntry {
                    ino: image_ino(f.rowid),
                    kind: Kind::File,
                    name: format!("{}.{}", f.hash, f.ext),
                });
            }
            if self.opts.info_level.is_some() {
                out.push(DirEntry {
                    ino: info_ino(f.rowid),
                    kind: Kind::File,
                    name: format!("{}.json", f.hash),
                });
            }
        }
        Ok(out)
    }
}
