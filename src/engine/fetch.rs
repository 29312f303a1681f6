//! The work on one photo, one part per pipeline: its best image into the store (the image
//! pipeline), its info sidecar (the API pipeline), each recorded in the index as it lands.
//! Also the on-access image and sidecar fetches the mount uses.

use super::download::{self, DownloadError};
use super::scheduler::{DownloadSlot, Lane};
use super::{Engine, FetchError};

use crate::photo::{best_size, image_ext, Photo};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Checks a cached image file against its index row.
pub(crate) fn verify_file(path: &Path, row: &Photo) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("missing: {e}"))?;
    if let Some(size) = row.image_size {
        if meta.len() != size {
            return Err(format!("{} bytes where {size} were expected", meta.len()));
        }
    }
    let head = read_head(path).map_err(|e| e.to_string())?;
    super::imageinfo::check(&head, &row.ext, expected_dims(row))
}

/// The dimensions an image file must declare: its best size's (videos are not checked).
fn expected_dims(row: &Photo) -> Option<(u32, u32)> {
    row.best
        .as_ref()
        .filter(|b| row.ext != "mp4" && b.width > 0 && b.height > 0)
        .map(|b| (b.width, b.height))
}

fn read_head(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::new();
    std::fs::File::open(path)?
        .take(256 * 1024)
        .read_to_end(&mut buf)?;
    Ok(buf)
}

impl Engine {
    /// True when the row's best size is not known well enough to fetch its file: no URL came
    /// with the listing, or a video whose listing named only a still.
    pub(crate) fn needs_sizes(&self, row: &Photo) -> bool {
        let is_video_file = row.ext == "mp4"
            && row
                .best
                .as_ref()
                .is_some_and(|b| b.label.contains("Video") || b.label.contains("MP4"));
        !(row.best.is_some() && (row.media != "video" || is_video_file))
    }

    /// Makes sure the row knows its best size, asking `getSizes` only when the listing gave no
    /// usable URL (or for videos, whose files only `getSizes` names). Both pipelines (and the
    /// namer, ahead of them) may want it for the same photo: one call serves them all.
    pub(crate) async fn ensure_best(&self, row: &Photo) -> Result<Photo, FetchError> {
        if !self.needs_sizes(row) {
            return Ok(row.clone());
        }
        let lock = self
            .best_locks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(row.id.clone())
            .or_default()
            .clone();
        let r = {
            let _one = match lock.try_lock() {
                Ok(one) => one,
                Err(_) => {
                    // Asked by another task (the namer, a pipeline): a person waiting for
                    // this photo promotes that call.
                    if crate::flickr::priority::current() == crate::flickr::priority::Priority::Fuse
                    {
                        crate::flickr::priority::boost(&row.id);
                    }
                    lock.lock().await
                }
            };
            self.ensure_best_now(row).await
        };
        let mut locks = self.best_locks.lock().unwrap_or_else(|e| e.into_inner());
        if locks
            .get(&row.id)
            .is_some_and(|l| Arc::strong_count(l) <= 2)
        {
            locks.remove(&row.id);
        }
        r
    }

    async fn ensure_best_now(&self, row: &Photo) -> Result<Photo, FetchError> {
        // Another pipeline may have asked while this one waited.
        if let Some(fresh) = self.index.photo(&row.id).map_err(FetchError::db)? {
            if !self.needs_sizes(&fresh) {
                let mut r = row.clone();
                r.best = fresh.best;
                r.ext = fresh.ext;
                return Ok(r);
            }
        }
        let sizes = self
            .api
            .get_photo_sizes(&row.id)
            .await
            .map_err(|e| format!("getSizes: {e}"))?;
        self.flush_call_counts();
        let best = best_size(&sizes).ok_or_else(|| "Flickr lists no size for it".to_string())?;
        let ext = image_ext(&row.media, Some(best), row.original_format.as_deref());
        self.index
            .set_best(&row.id, best, &ext)
            .map_err(FetchError::db)?;
        let mut r = row.clone();
        r.best = Some(best.clone());
        r.ext = ext;
        Ok(r)
    }

    /// Downloads the best image into the store (or adopts a complete file a crash left
    /// unrecorded). Returns the updated row.
    pub(crate) async fn cache_image(
        &self,
        row: &Photo,
        slot: Option<DownloadSlot>,
    ) -> Result<Photo, FetchError> {
        let mut row = self.ensure_best(row).await?;
        let hash = crate::photo::hash(&row.id);
        let path = self.store.image_path(&row.id, &row.ext);
        // A file under its final name is complete by construction (atomic rename): a crash
        // between the rename and the index update must not cost a second download.
        if let Ok(meta) = std::fs::metadata(&path) {
            if !self.opts.verify_image || verify_file(&path, &row).is_ok() {
                self.index
                    .set_image_cached(&row.id, meta.len())
                    .map_err(FetchError::db)?;
                self.stats.images_reused.fetch_add(1, Ordering::Relaxed);
                row.image_cached = true;
                row.image_size = Some(meta.len());
                return Ok(row);
            }
        }
        tracing::info!("Caching image of photo {hash}...");
        let url = row.best.as_ref().map(|b| b.url.clone()).unwrap_or_default();
        let size = self.download_file(&url, &path, &row, slot).await?;
        self.index
            .set_image_cached(&row.id, size)
            .map_err(FetchError::db)?;
        self.stats.images_downloaded.fetch_add(1, Ordering::Relaxed);
        self.stats
            .bytes_downloaded
            .fetch_add(size, Ordering::Relaxed);
        row.image_cached = true;
        row.image_size = Some(size);
        Ok(row)
    }

    /// Downloads `url` to `path` through a partial file; `slot` (the image pipeline's) is
    /// handed over once the bytes are in, before they are checked and saved.
    async fn download_file(
        &self,
        url: &str,
        path: &Path,
        row: &Photo,
        slot: Option<DownloadSlot>,
    ) -> Result<u64, FetchError> {
        let store = self.store.clone();
        let final_path = path.to_path_buf();
        let context = format!("cannot write {}", path.display());
        if let Ok(meta) = std::fs::metadata(path) {
            // Already there (fetched by another process since this photo was planned): no
            // partial file to open, nor to leave behind if this task is cancelled.
            return Ok(meta.len());
        }
        // Waits (off the async workers) while another process downloads the same photo.
        let mut tmp = tokio::task::spawn_blocking(move || store.partial_file(&final_path))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| FetchError::io(&context, &e, row.image_size))?;
        if let Ok(meta) = std::fs::metadata(path) {
            // Someone else (a mount beside this mirror) finished it while we waited.
            tmp.discard();
            return Ok(meta.len());
        }
        if tmp.len().unwrap_or(0) > 0 {
            tracing::debug!(
                "Resuming the download of photo {} at byte {}",
                crate::photo::hash(&row.id),
                tmp.len().unwrap_or(0)
            );
        }
        // Readers of this image (the mount) follow the download instead of waiting for it,
        // through a descriptor of this very file: its name may hold another file later (see
        // `Stream::part`). We hold its lock, so the name is still ours while we open it.
        let reader = std::fs::File::open(tmp.path())
            .map_err(|e| FetchError::io(&context, &e, row.image_size))?;
        let publisher = self.streams.publish(&row.id, reader);
        let size =
            match download::download_to(self.http(), url, &mut tmp, &self.opts.download, |n| {
                publisher.written(n)
            })
            .await
            {
                Ok(size) => size,
                Err(download::DownloadError::NoSpace { needed }) => {
                    // Nothing partial stays on a full disk: the space is wanted back.
                    tmp.discard();
                    let e = FetchError::NoSpace {
                        needed: needed.or(row.image_size),
                    };
                    publisher.finish(Err(e.clone()));
                    return Err(e);
                }
                Err(e) => {
                    // Keep a prefix to resume; an empty partial is just clutter.
                    if tmp.is_empty().unwrap_or(true) || matches!(e, DownloadError::Gone) {
                        tmp.discard();
                    }
                    self.note_gone(&e);
                    return Err(FetchError::Failed(e.to_string()));
                }
            };
        let _saving = match slot {
            Some(slot) => slot.hand_over().await,
            None => None,
        };
        if self.opts.verify_image {
            let head = read_head(tmp.path()).map_err(|e| e.to_string())?;
            if let Err(e) = super::imageinfo::check(&head, &row.ext, expected_dims(row)) {
                tmp.discard();
                return Err(FetchError::Failed(format!("downloaded image is bad: {e}")));
            }
        }
        let mtime = row.date_upload;
        let committed = tokio::task::spawn_blocking(move || tmp.commit(Some(mtime)))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| FetchError::io("cannot save image", &e, Some(size)));
        if let Err(e) = committed {
            publisher.finish(Err(e.clone()));
            return Err(e);
        }
        publisher.finish(Ok(()));
        Ok(size)
    }

    /// A URL found gone means the listing is stale for that photo (deleted, made private or
    /// replaced on Flickr): the next listing pass sweeps the stream to find out which.
    pub(super) fn note_gone(&self, e: &DownloadError) {
        if matches!(e, DownloadError::Gone) {
            self.request_rescan();
        }
    }

    /// Fetches comments when the level wants them and writes the sidecar.
    pub(crate) async fn cache_info(&self, row: &Photo, level: i32) -> Result<(), FetchError> {
        let mut row = row.clone();
        let comments_stale =
            row.comments.is_none() || row.info_last_update != Some(row.last_update);
        if level >= 2 && comments_stale {
            if row.count_comments > 0 {
                let comments = self
                    .api
                    .get_photo_comments(&row.id)
                    .await
                    .map_err(|e| format!("comments: {e}"))?;
                self.flush_call_counts();
                self.index
                    .set_comments(&row.id, &comments)
                    .map_err(FetchError::db)?;
                row.comments = Some(comments);
            } else {
                self.index
                    .set_comments(&row.id, &[])
                    .map_err(FetchError::db)?;
                row.comments = Some(vec![]);
            }
        }
        let hash = crate::photo::hash(&row.id);
        tracing::info!("Caching info of photo {hash}...");
        let bytes = crate::engine::sidecar::render(&row, level, self.owner());
        let path = self.store.info_path(&row.id);
        let store = self.store.clone();
        let mtime = row.date_upload;
        let needed = Some(bytes.len() as u64);
        tokio::task::spawn_blocking(move || store.write_atomic(&path, &bytes, Some(mtime)))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| FetchError::io("cannot save info", &e, needed))?;
        self.index
            .set_info_cached(&row.id, level, row.last_update)
            .map_err(FetchError::db)?;
        self.stats.infos_written.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// On-access fetch of one photo's image (the mount's `read` of an uncached file), ahead of
    /// the prefetcher. Waits for a fetch of the same photo already under way instead of
    /// downloading it twice. Returns the row with its cached state.
    pub async fn fetch_image_now(self: &Arc<Self>, id: &str) -> Result<Photo, FetchError> {
        let _fg = self.foreground_guard();
        loop {
            let row = self
                .index
                .photo(id)
                .map_err(FetchError::db)?
                .ok_or_else(|| "unknown photo".to_string())?;
            if row.image_cached && self.store.image_path(&row.id, &row.ext).exists() {
                return Ok(row);
            }
            if self.claim(id, Lane::Image) {
                let r = self.cache_image(&row, None).await;
                self.release(id, Lane::Image);
                self.changed.notify_waiters();
                return r;
            }
            // Someone else is fetching it (the prefetcher): wait for them, their calls now
            // at this reader's priority.
            crate::flickr::priority::boost(id);
            let notified = self.changed.notified();
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => {}
            }
        }
    }
}
