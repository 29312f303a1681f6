//! Open files: handles of cached files (opened at the first read, following a download still
//! under way so that bytes are served as they arrive) and snapshots of virtual files. An
//! uncached image read here is fetched ahead of the prefetcher.

use super::error::{Error, Result};
use super::inode::{node_of, Node};
use super::FlickrFs;
use crate::engine::FetchError;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// An image being downloaded as it is read: where its progress is told, and the image's full
/// length.
#[derive(Clone)]
pub(super) struct Following {
    source: Source,
    len: u64,
}

/// Who downloads an image being read.
#[derive(Clone)]
enum Source {
    /// This process: its download tells how far it has come.
    Stream(tokio::sync::watch::Receiver<crate::engine::stream::Progress>),
    /// Another writer (a mirror beside the mount) holds the partial file: followed by its
    /// length until it is renamed into place at this path. Waiting for its lock instead would
    /// hold a read for the whole download, past the FUSE bound.
    Other(std::path::PathBuf),
}

/// An open file.
pub(super) enum Handle {
    /// A file of the backing cache, opened at the first read (possibly still downloading).
    Backing {
        ino: u64,
        file: Option<Arc<File>>,
        following: Option<Following>,
    },
    /// A snapshot of a virtual file.
    Bytes(Arc<Vec<u8>>),
}

impl FlickrFs {
    /// Opens a file for reading; returns the handle and whether the kernel may keep its cache.
    pub fn open(&self, ino: u64, write: bool) -> Result<(u64, bool)> {
        if write {
            return Err(Error::answer(libc::EROFS));
        }
        let (handle, keep) = match node_of(ino).ok_or_else(Error::not_found)? {
            Node::Root | Node::Meta | Node::Dir { .. } | Node::SearchRoot | Node::Search(_) => {
                return Err(Error::answer(libc::EISDIR))
            }
            Node::ViewDir(_) => return Err(Error::answer(libc::EISDIR)),
            Node::Link { .. } | Node::ViewLink { .. } => return Err(Error::answer(libc::ELOOP)),
            Node::Readme => (Handle::Bytes(Arc::new(super::views::README.into())), true),
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
    pub async fn read(&self, fh: u64, offset: u64, size: u32) -> Result<Vec<u8>> {
        let (ino, file, following) = {
            let handles = self.handles.lock().unwrap_or_else(|e| e.into_inner());
            match handles.get(&fh).ok_or_else(|| Error::answer(libc::EBADF))? {
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
            None if matches!(node_of(ino), Some(Node::Info(_))) => {
                let Some(Node::Info(r)) = node_of(ino) else {
                    return Err(Error::answer(libc::EBADF));
                };
                let level = self.opts.info_level.ok_or_else(Error::not_found)?;
                let f = match self.sidecar_for_read(ino, r, level).await? {
                    super::SidecarView::File(row) => {
                        Arc::new(open(&self.engine.store.info_path(&row.id))?)
                    }
                    super::SidecarView::Bytes(b) => {
                        // The stand-in: this handle serves it to the end.
                        let start = (offset as usize).min(b.len());
                        let end = (start + size as usize).min(b.len());
                        let out = b[start..end].to_vec();
                        if let Some(h) = self
                            .handles
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .get_mut(&fh)
                        {
                            *h = Handle::Bytes(b);
                        }
                        return Ok(out);
                    }
                };
                if let Some(Handle::Backing { file, .. }) = self
                    .handles
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_mut(&fh)
                {
                    *file = Some(f.clone());
                }
                (f, None)
            }
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
        let Some(fl) = following else {
            return read_at(&file, offset, size);
        };
        let want = (offset + size as u64).min(fl.len);
        let mut progress = match fl.source {
            Source::Stream(p) => p,
            Source::Other(final_path) => {
                return self
                    .read_other(fh, ino, &file, &final_path, offset, size, want)
                    .await
            }
        };
        // Wait for the bytes asked for (or the end of the download), read them, and read again
        // if the download restarted meanwhile (the file was cut under the read): a read never
        // returns fewer bytes than the file will have, except at its end.
        loop {
            let seen = progress
                .wait_for(|p| p.written >= want || p.finished.is_some())
                .await
                .map(|p| (p.finished.clone(), p.restarts))
                .unwrap_or((
                    Some(Err(FetchError::Failed("the download went away".into()))),
                    0,
                ));
            let (ended, restarts) = seen;
            if let Some(Err(e)) = ended {
                return Err(Error::fetch(format!("read of inode {ino}"), e));
            }
            let data = read_at(&file, offset, size)?;
            if ended.is_some() {
                self.stop_following(fh);
                return Ok(data);
            }
            if progress.borrow().restarts == restarts {
                return Ok(data);
            }
        }
    }

    /// A read of an image another writer is downloading (see `Source::Other`): the bytes
    /// asked for once the partial file holds them, or the whole file once it is renamed into
    /// place; never fewer bytes than asked for short of the end. If the writer goes away
    /// without finishing, the image is fetched here.
    #[allow(clippy::too_many_arguments)]
    async fn read_other(
        &self,
        fh: u64,
        ino: u64,
        file: &File,
        final_path: &Path,
        offset: u64,
        size: u32,
        want: u64,
    ) -> Result<Vec<u8>> {
        use crate::cache::files::{is_held, is_now};
        loop {
            let have = file.metadata().map(|m| m.len()).unwrap_or(0);
            let done = is_now(file, final_path);
            if have >= want || done {
                let data = read_at(file, offset, size)?;
                if done {
                    self.stop_following(fh);
                    return Ok(data);
                }
                if offset + data.len() as u64 >= want {
                    return Ok(data);
                }
                // Cut under the read (the writer starts over): wait for the bytes again.
                continue;
            }
            // In this order: a writer that renames and then lets go is not taken for gone.
            if !is_held(file) && !is_now(file, final_path) {
                let Some(Node::Image(r)) = node_of(ino) else {
                    return Err(Error::answer(libc::EBADF));
                };
                let id = self.row(r)?.id;
                let row =
                    self.engine.fetch_image_now(&id).await.map_err(|e| {
                        Error::fetch(format!("fetch of photo {}", row_hash(&id)), e)
                    })?;
                let f = Arc::new(open(&self.engine.store.image_path(&row.id, &row.ext))?);
                if let Some(Handle::Backing {
                    file, following, ..
                }) = self
                    .handles
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_mut(&fh)
                {
                    *file = Some(f.clone());
                    *following = None;
                }
                return read_at(&f, offset, size);
            }
            tokio::time::sleep(crate::config::FOLLOW_POLL).await;
        }
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

    async fn open_backing(&self, ino: u64) -> Result<(File, Option<Following>)> {
        match node_of(ino).ok_or_else(Error::not_found)? {
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
                        // A new descriptor of the download's own file (never its name: see
                        // `Stream::part`), so that this handle outlives the stream.
                        if let Ok(f) = stream.part.try_clone() {
                            let len = match row.image_size {
                                Some(n) => n,
                                None => self.engine.probe_size(r).await.map_err(|e| {
                                    Error::fetch(format!("size of photo {}", row.hash()), e)
                                })?,
                            };
                            let following = Following {
                                source: Source::Stream(stream.progress),
                                len,
                            };
                            return Ok((f, Some(following)));
                        }
                    }
                    if let Some(f) = self.engine.store.partial_in_progress(&path) {
                        let len = match row.image_size {
                            Some(n) => n,
                            None => self.engine.probe_size(r).await.map_err(|e| {
                                Error::fetch(format!("size of photo {}", row.hash()), e)
                            })?,
                        };
                        let following = Following {
                            source: Source::Other(path.clone()),
                            len,
                        };
                        return Ok((f, Some(following)));
                    }
                    tokio::select! {
                        done = &mut fetch => {
                            let row = done
                                .map_err(|e| Error::io(format!("fetch of photo {}", row.hash()), e))?
                                .map_err(|e| Error::fetch(format!("fetch of photo {}", row.hash()), e))?;
                            let path = self.engine.store.image_path(&row.id, &row.ext);
                            return Ok((open(&path)?, None));
                        }
                        _ = started => {}
                        // Another process may start downloading it meanwhile: look again.
                        _ = tokio::time::sleep(crate::config::FOLLOW_POLL) => {}
                    }
                }
            }
            // Sidecars are opened by `read` itself (a stand-in has no file).
            Node::Info(_) => Err(Error::answer(libc::EBADF)),
            _ => Err(Error::answer(libc::EBADF)),
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
}

fn row_hash(id: &str) -> String {
    crate::photo::hash(id)
}

fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| Error::io(format!("cannot open {}", path.display()), e))
}

fn read_at(file: &File, offset: u64, size: u32) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; size as usize];
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("cannot read the cached file", e)),
        }
    }
    buf.truncate(done);
    Ok(buf)
}
