//! The views for people in the mount: `albums/`, `dates/`, `tags/` (directories of relative
//! symlinks into the hashed tree, named by `crate::views`) and the virtual `README.txt`.
//!
//! This module owns the mount's state of the views: the table of view directory paths (a
//! directory's inode is its number there, so it stays the same for the life of the mount),
//! the groups of dates and tags (photo numbers only, rebuilt from the index when new photos
//! arrive or after [`config::VIEWS_TTL`]; names are read from the index when a directory is
//! listed, so a million photos cost a few MiB), the album list and the albums' photos. `dates/` and `tags/` never
//! reach the network; `albums/` and an album do on their first look (see `engine::albums`):
//! [`FlickrFs::view_needs_network`] tells the callers which path to take.

use super::attr::{DirEntry, Kind};
use super::error::{Error, Result};
use super::inode::{node_of, view_dir_ino, view_link_ino, Node};
use super::FlickrFs;
use crate::cache::db::AlbumRow;
use crate::config;
use crate::views::{self, Groups, ViewPhoto};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub(super) const README: &str = "\
This is a Flickr photostream, mounted read-only by flickrfs.

0/ .. f/     The photos themselves, in a hashed tree: <md5 of the photo id>.<ext> (the best
             image) and <md5>.json (its title, description and comments) beside it. The only
             real files: everything else here points into this tree.
albums/      The user's albums (Flickr photosets), each photo prefixed by its position.
dates/       Photos by date taken: YYYY/MM/, YYYY/ when Flickr knows only the year,
             unknown/ when it does not know it (by upload date when none was listed).
tags/        Photos by tag.
.flickrfs/   status (what the mount knows and has spent) and search/<words>/.

Entries of albums/, dates/ and tags/ are relative symlinks named
\"<title> (<photo id>).<ext>\": backup tools (rsync -a, tar) copy them as links, not as
second copies. Images and sidecars carry extended attributes (getfattr -d FILE):
user.xdg.origin.url (the photo page), user.xdg.comment, user.xdg.tags, user.flickr.id and
user.flickr.title.
";

/// The album list as the mount shows it: (directory name, album), in Flickr's order.
struct AlbumList {
    at: Instant,
    dirs: Vec<(String, AlbumRow)>,
}

/// An album's photos in its order, with a way back from a photo id.
struct Members {
    at: Instant,
    photos: Vec<ViewPhoto>,
    by_id: HashMap<String, usize>,
}

#[derive(Default)]
pub(super) struct ViewState {
    /// View directory paths by number - 1 (1, 2, 3: `albums`, `dates`, `tags`).
    paths: Mutex<(Vec<String>, HashMap<String, u32>)>,
    /// The groups of dates and tags, and the count of new photos they were built after.
    catalog: Mutex<Option<(Arc<Groups>, u64, Instant)>>,
    albums: Mutex<Option<Arc<AlbumList>>>,
    members: Mutex<HashMap<String, Arc<Members>>>,
}

/// What a view directory is.
enum Place {
    Albums,
    Album(String),
    /// `dates`, `tags` and below.
    Catalog(String),
}

impl FlickrFs {
    /// The number of view directory `path` (interned on first use).
    fn view_dir_number(&self, path: &str) -> u32 {
        let mut t = self.views.paths.lock().unwrap_or_else(|e| e.into_inner());
        if t.0.is_empty() {
            for root in views::ROOTS {
                t.0.push(root.to_string());
                let n = t.0.len() as u32;
                t.1.insert(root.to_string(), n);
            }
        }
        if let Some(&n) = t.1.get(path) {
            return n;
        }
        t.0.push(path.to_string());
        let n = t.0.len() as u32;
        t.1.insert(path.to_string(), n);
        n
    }

    fn view_path(&self, d: u32) -> Result<String> {
        if (1..=3).contains(&d) {
            return Ok(views::ROOTS[d as usize - 1].to_string());
        }
        let t = self.views.paths.lock().unwrap_or_else(|e| e.into_inner());
        t.0.get((d as usize).wrapping_sub(1))
            .cloned()
            .ok_or_else(Error::not_found)
    }

    fn place(&self, d: u32) -> Result<Place> {
        let path = self.view_path(d)?;
        Ok(match path.split_once('/') {
            None if path == views::ALBUMS => Place::Albums,
            Some((views::ALBUMS, name)) => Place::Album(name.to_string()),
            _ => Place::Catalog(path),
        })
    }

    /// The groups of dates and tags, rebuilt when photos were indexed since or they are old.
    fn catalog(&self) -> Result<Arc<Groups>> {
        let seen = self.engine.stats.new_photos.load(Ordering::Relaxed);
        let mut c = self.views.catalog.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((cat, s, at)) = c.as_ref() {
            if *s == seen && at.elapsed() < config::VIEWS_TTL {
                return Ok(cat.clone());
            }
        }
        let mut groups = Groups::default();
        self.engine.index.for_each_view_photo(|p| {
            // Rowids fit in 31 bits (see `view_link_ino`).
            if let Ok(n) = u32::try_from(p.rowid) {
                groups.add(n, &p.date, &p.tags);
            }
        })?;
        let cat = Arc::new(groups.finish());
        *c = Some((cat.clone(), seen, Instant::now()));
        Ok(cat)
    }

    fn album_list(&self) -> Option<Arc<AlbumList>> {
        let a = self.views.albums.lock().unwrap_or_else(|e| e.into_inner());
        a.as_ref()
            .filter(|l| l.at.elapsed() < config::VIEWS_TTL)
            .cloned()
    }

    fn album(&self, name: &str) -> Result<AlbumRow> {
        let list = self.album_list().ok_or_else(Error::not_found)?;
        list.dirs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| a.clone())
            .ok_or_else(Error::not_found)
    }

    fn members(&self, album: &AlbumRow) -> Option<Arc<Members>> {
        let m = self.views.members.lock().unwrap_or_else(|e| e.into_inner());
        m.get(&album.id)
            .filter(|m| m.at.elapsed() < config::VIEWS_TTL)
            .cloned()
    }

    /// True when listing or looking into view directory `ino` first needs what only the
    /// network (or a fetch in the index's stead) can tell: the album list, an album's photos.
    pub fn view_needs_network(&self, ino: u64) -> bool {
        let Some(Node::ViewDir(d)) = node_of(ino) else {
            return false;
        };
        match self.place(d) {
            Ok(Place::Albums) => self.album_list().is_none(),
            Ok(Place::Album(name)) => match self.album(&name) {
                Ok(a) => self.members(&a).is_none(),
                Err(_) => self.album_list().is_none(),
            },
            _ => false,
        }
    }

    /// Fetches (or reads from the index) what view directory `ino` needs: the album list for
    /// `albums/`, and an album's photos for the album.
    pub async fn prepare_view(&self, ino: u64) -> Result<()> {
        let Some(Node::ViewDir(d)) = node_of(ino) else {
            return Ok(());
        };
        let album = match self.place(d)? {
            Place::Catalog(_) => return Ok(()),
            Place::Albums => None,
            Place::Album(name) => Some(name),
        };
        if self.album_list().is_none() {
            let rows = self
                .engine
                .albums(self.opts.albums_max_age)
                .await
                .map_err(|e| Error::io("the album list", e))?;
            let names = views::album_dirs(
                &rows
                    .iter()
                    .map(|a| (a.id.clone(), a.title.clone()))
                    .collect::<Vec<_>>(),
            );
            *self.views.albums.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(Arc::new(AlbumList {
                    at: Instant::now(),
                    dirs: names.into_iter().zip(rows).collect(),
                }));
        }
        let Some(name) = album else {
            return Ok(());
        };
        let a = self.album(&name)?;
        if self.members(&a).is_some() {
            return Ok(());
        }
        self.engine
            .ensure_album_photos(&a.id, self.opts.albums_max_age)
            .await
            .map_err(|e| Error::io(format!("the photos of album {}", a.id), e))?;
        let photos = self.engine.index.album_photos(&a.id)?;
        let by_id = photos
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.clone(), i))
            .collect();
        self.views
            .members
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                a.id.clone(),
                Arc::new(Members {
                    at: Instant::now(),
                    photos,
                    by_id,
                }),
            );
        Ok(())
    }

    /// The extensions a photo shows in the views: its image's, and `json` for the sidecar.
    fn view_exts<'a>(&self, p: &'a ViewPhoto) -> Vec<(&'a str, bool)> {
        let mut out = Vec::new();
        if self.opts.show_images {
            out.push((p.ext.as_str(), false));
        }
        if self.opts.info_level.is_some() {
            out.push(("json", true));
        }
        out
    }

    fn view_entries(&self, d: u32, prefix: &str, p: &ViewPhoto, out: &mut Vec<DirEntry>) {
        for (ext, json) in self.view_exts(p) {
            out.push(DirEntry {
                ino: view_link_ino(d, p.rowid, json),
                kind: Kind::Symlink,
                name: views::entry_name(prefix, &p.title, &p.id, ext),
            });
        }
    }

    /// The listing of view directory `d` (what it needs already prepared).
    pub(super) fn view_readdir(&self, d: u32) -> Result<Vec<DirEntry>> {
        let mut out = Vec::new();
        match self.place(d)? {
            Place::Albums => {
                let list = self.album_list().ok_or_else(Error::not_found)?;
                for (name, _) in &list.dirs {
                    out.push(DirEntry {
                        ino: view_dir_ino(
                            self.view_dir_number(&format!("{}/{name}", views::ALBUMS)),
                        ),
                        kind: Kind::Dir,
                        name: name.clone(),
                    });
                }
            }
            Place::Album(name) => {
                let a = self.album(&name)?;
                let m = self.members(&a).ok_or_else(Error::not_found)?;
                for (i, p) in m.photos.iter().enumerate() {
                    self.view_entries(d, &views::album_prefix(i, m.photos.len()), p, &mut out);
                }
            }
            Place::Catalog(path) => {
                let cat = self.catalog()?;
                if !cat.is_dir(&path) {
                    return Err(Error::not_found());
                }
                for sub in cat.subdirs(&path) {
                    out.push(DirEntry {
                        ino: view_dir_ino(self.view_dir_number(&format!("{path}/{sub}"))),
                        kind: Kind::Dir,
                        name: sub.clone(),
                    });
                }
                let mut photos = self.engine.index.view_photos_by_rowid(cat.members(&path))?;
                photos.sort_by_cached_key(|p| (views::stem("", &p.title, &p.id), p.rowid));
                for p in &photos {
                    self.view_entries(d, "", p, &mut out);
                }
            }
        }
        Ok(out)
    }

    /// `name` in view directory `d` (what it needs already prepared).
    pub(super) fn view_child(&self, d: u32, name: &str) -> Result<u64> {
        let find = |prefix: &str, p: &ViewPhoto| {
            self.view_exts(p).into_iter().find_map(|(ext, json)| {
                (views::entry_name(prefix, &p.title, &p.id, ext) == name)
                    .then(|| view_link_ino(d, p.rowid, json))
            })
        };
        match self.place(d)? {
            Place::Albums => {
                let list = self.album_list().ok_or_else(Error::not_found)?;
                if list.dirs.iter().any(|(n, _)| n == name) {
                    let path = format!("{}/{name}", views::ALBUMS);
                    return Ok(view_dir_ino(self.view_dir_number(&path)));
                }
                Err(Error::not_found())
            }
            Place::Album(album) => {
                let a = self.album(&album)?;
                let m = self.members(&a).ok_or_else(Error::not_found)?;
                let (id, _) = views::parse_entry(name).ok_or_else(Error::not_found)?;
                let &i = m.by_id.get(id).ok_or_else(Error::not_found)?;
                find(&views::album_prefix(i, m.photos.len()), &m.photos[i])
                    .ok_or_else(Error::not_found)
            }
            Place::Catalog(path) => {
                let cat = self.catalog()?;
                let sub = format!("{path}/{name}");
                if cat.is_dir(&sub) {
                    return Ok(view_dir_ino(self.view_dir_number(&sub)));
                }
                let (id, _) = views::parse_entry(name).ok_or_else(Error::not_found)?;
                let p = self
                    .engine
                    .index
                    .view_photo_by_id(id)?
                    .filter(|p| u32::try_from(p.rowid).is_ok_and(|n| cat.contains(&path, n)))
                    .ok_or_else(Error::not_found)?;
                find("", &p).ok_or_else(Error::not_found)
            }
        }
    }

    /// True when view directory `d` exists, if that is known without the network.
    pub(super) fn view_dir_exists(&self, d: u32) -> Option<Result<bool>> {
        Some(match self.place(d) {
            Err(e) => Err(e),
            Ok(Place::Albums) => Ok(true),
            Ok(Place::Album(name)) => {
                self.album_list()?;
                Ok(self.album(&name).is_ok())
            }
            Ok(Place::Catalog(path)) => self.catalog().map(|c| c.is_dir(&path)),
        })
    }

    /// The target of a view link: relative, from its directory to the file in the hashed tree.
    pub(super) fn view_readlink(&self, dir: u32, rowid: i64, json: bool) -> Result<String> {
        let path = self.view_path(dir)?;
        let (id, ext, _) = self
            .engine
            .index
            .image_file(rowid)?
            .ok_or_else(Error::not_found)?;
        let ext = if json { "json" } else { ext.as_str() };
        let file = crate::photo::hashed_path(&crate::photo::hash(&id), self.depth() as usize, ext);
        Ok(views::link_target(&path, &file))
    }
}
