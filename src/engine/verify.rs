//! Whole-cache checks: `--verify-image` (cached images against the index: length, header,
//! dimensions; bad ones are fetched again) and `--prune-deleted` (files of photos deleted
//! from Flickr removed, with their rows).

use super::{fetch, Engine, SyncError};

impl Engine {
    /// Checks every cached image against the index (length, header, dimensions) and marks the
    /// bad ones for download again.
    pub fn verify_cached_images(&self) -> Result<usize, SyncError> {
        let mut bad = 0;
        let mut after = 0;
        loop {
            let batch = self.index.photos_after(after, 1000)?;
            let Some((last, _)) = batch.last() else {
                break;
            };
            after = *last;
            for (_, row) in batch.iter().filter(|(_, r)| r.image_cached) {
                bad += self.verify_one(row)?;
            }
        }
        Ok(bad)
    }

    /// 1 when the cached image of `row` was bad (and is now marked for download), else 0.
    fn verify_one(&self, row: &crate::photo::Photo) -> Result<usize, SyncError> {
        let path = self.store.image_path(&row.id, &row.ext);
        let Err(why) = fetch::verify_file(&path, row) else {
            return Ok(0);
        };
        tracing::warn!(
            "Cached image of photo {} is bad ({why}): fetching it again",
            row.hash()
        );
        let _ = std::fs::remove_file(&path);
        self.index.set_image_missing(&row.id)?;
        Ok(1)
    }

    /// Removes the files and index rows of the photos deleted from Flickr. Returns how many.
    pub fn prune_deleted(&self) -> Result<usize, SyncError> {
        let gone = self.index.deleted_photos()?;
        for row in &gone {
            for path in [
                self.store.image_path(&row.id, &row.ext),
                self.store.info_path(&row.id),
            ] {
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(SyncError::Io(format!(
                            "cannot remove {}: {e}",
                            path.display()
                        )))
                    }
                }
            }
            self.index.remove_photo(&row.id)?;
        }
        Ok(gone.len())
    }
}
