//! Albums (photosets), fetched lazily and cached in the index: the list with
//! `flickr.photosets.getList` (ceil(albums/500) calls) on the first look, an album's photos
//! with `flickr.photosets.getPhotos` (ceil(size/500) calls) on its first listing; both again
//! once older than the caller's refresh interval. Calls go through the shared client (rate
//! budget, counters, `status`). One fetch at a time: two looks at once cost one fetch.

use super::{now_secs, Engine, SyncError};
use crate::cache::db::AlbumRow;
use std::time::Duration;

const PER_PAGE: u32 = crate::config::PER_PAGE;

impl Engine {
    /// The albums, fetched first when never fetched or older than `max_age`.
    pub async fn albums(&self, max_age: Duration) -> Result<Vec<AlbumRow>, SyncError> {
        if !self.albums_stale(max_age)? {
            return Ok(self.index.albums()?);
        }
        let _one = self.albums_lock.lock().await;
        if self.albums_stale(max_age)? {
            self.fetch_albums().await?;
        }
        Ok(self.index.albums()?)
    }

    /// True when the album list is older than `max_age` (or was never fetched).
    pub fn albums_stale(&self, max_age: Duration) -> Result<bool, SyncError> {
        Ok(self
            .index
            .albums_at()?
            .is_none_or(|t| now_secs() - t >= max_age.as_secs() as i64))
    }

    /// True when the photos of `album` are older than `max_age` (or were never fetched).
    pub fn album_stale(album: &AlbumRow, max_age: Duration) -> bool {
        album
            .photos_at
            .is_none_or(|t| now_secs() - t >= max_age.as_secs() as i64)
    }

    /// Fetches the album list into the index.
    pub async fn fetch_albums(&self) -> Result<(), SyncError> {
        let mut all = Vec::new();
        let mut page = 1;
        loop {
            let (sets, pages) = self
                .api
                .get_photosets(&self.user.user_id, page, PER_PAGE)
                .await?;
            all.extend(sets.into_iter().map(|s| AlbumRow {
                id: s.id,
                title: s.title,
                description: s.description,
                count: s.count,
                date_update: s.date_update,
                photos_at: None,
            }));
            if page >= pages {
                break;
            }
            page += 1;
        }
        self.flush_call_counts();
        self.index.set_albums(&all)?;
        tracing::info!("Listed {} albums", all.len());
        Ok(())
    }

    /// Makes sure the photos of album `id` are in the index and younger than `max_age`.
    pub async fn ensure_album_photos(&self, id: &str, max_age: Duration) -> Result<(), SyncError> {
        let fresh = |e: &Engine| -> Result<bool, SyncError> {
            Ok(e.index
                .albums()?
                .iter()
                .find(|a| a.id == id)
                .is_some_and(|a| !Self::album_stale(a, max_age)))
        };
        if fresh(self)? {
            return Ok(());
        }
        let _one = self.albums_lock.lock().await;
        if fresh(self)? {
            return Ok(());
        }
        self.fetch_album_photos(id).await
    }

    /// Fetches the photos of album `id` into the index.
    pub async fn fetch_album_photos(&self, id: &str) -> Result<(), SyncError> {
        let mut ids = Vec::new();
        let mut page = 1;
        loop {
            let (more, pages) = self
                .api
                .get_photoset_photos(id, &self.user.user_id, page, PER_PAGE)
                .await?;
            ids.extend(more);
            if page >= pages {
                break;
            }
            page += 1;
        }
        self.flush_call_counts();
        self.index.set_album_photos(id, &ids)?;
        Ok(())
    }
}
