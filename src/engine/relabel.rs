//! New language labels for an existing cache, without an API call: when the detector changed
//! since the sidecars were written (`lang::DETECTOR_VERSION` against the index's
//! `labels_version`), every sidecar on disk is rendered again from the index, cached comments
//! included, and rewritten (atomically) where its bytes changed. The search index follows on
//! its own: its version includes the detector's, so it re-labels its texts when opened.

use super::{sidecar, Engine, SyncError};

/// Photos read from the index per batch.
const BATCH: usize = 500;

impl Engine {
    /// Re-renders the sidecars whose labels changed, once per detector version. Returns how
    /// many files were rewritten.
    pub fn relabel_if_needed(&self) -> Result<usize, SyncError> {
        let want = crate::lang::DETECTOR_VERSION.to_string();
        if self.index.meta("labels_version")?.as_deref() == Some(want.as_str()) {
            return Ok(0);
        }
        let mut rewritten = 0;
        let mut after = 0;
        loop {
            let batch = self.index.photos_after(after, BATCH)?;
            let Some((last, _)) = batch.last() else {
                break;
            };
            after = *last;
            let mut ids = Vec::new();
            for (_, row) in batch.iter().filter(|(_, r)| r.info_level >= 0) {
                let path = self.store.info_path(&row.id);
                let Ok(old) = std::fs::read(&path) else {
                    continue; // not on disk: it will be rendered with the new labels anyway
                };
                let new = sidecar::render(row, row.info_level, self.owner());
                if new != old {
                    self.store
                        .write_atomic(&path, &new, Some(row.date_upload))
                        .map_err(|e| {
                            SyncError::Io(format!("cannot rewrite {}: {e}", path.display()))
                        })?;
                    rewritten += 1;
                    ids.push(row.id.as_str());
                }
            }
            // Mounts that read the old labels read the files again.
            self.index.note_rewritten(&ids)?;
        }
        if rewritten > 0 {
            tracing::info!("Language labels updated in {rewritten} sidecars (no API call)");
        }
        self.index.set_meta("labels_version", &want)?;
        Ok(rewritten)
    }
}
