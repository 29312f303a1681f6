//! The listing: fetches `flickr.people.getPhotos` pages as the planner asks, indexes what they
//! hold (new, edited, replaced and returning photos), and at the end of a pass records what it
//! learned: the stream's total, deletions after a complete sweep, and when the sweep ran.

use super::planner::{Known, PageSummary, Planner, Request};
use super::{now_secs, sidecar, Engine, SyncError};
use crate::flickr::LISTING_EXTRAS;
use std::sync::atomic::Ordering;

impl Engine {
    /// What the index knows for planning a new pass.
    fn known(&self) -> Result<Known, SyncError> {
        // The total at the start of the last complete pass (an index of version 1, or one
        // whose every pass was interrupted, has none: its first pass is a sweep).
        let total = self.index.meta_i64("pass_total")?.map(|t| t.max(0) as u64);
        let last_sweep = self.index.meta_i64("last_sweep_at")?;
        let sweep_due = self.rescan_requested.swap(false, Ordering::SeqCst)
            || last_sweep.is_none_or(|t| now_secs() - t >= self.opts.rescan_after.as_secs() as i64);
        Ok(Known {
            total,
            newest: self.index.newest_live_date()?,
            sweep_due,
        })
    }

    /// Starts a new listing pass (page 1 first).
    pub fn restart_listing(&self) -> Result<(), SyncError> {
        let known = self.known()?;
        let gen = self.index.meta_i64("listing_gen")?.unwrap_or(0) + 1;
        self.index.set_meta("listing_gen", &gen.to_string())?;
        self.listing_gen.store(gen, Ordering::SeqCst);
        self.index.set_meta("listing_done", "0")?;
        *self.planner() = Planner::new(self.opts.order, known);
        Ok(())
    }

    /// Fetches one listing page and indexes it. Returns false when the pass is complete.
    pub(super) async fn list_next_page(&self) -> Result<bool, SyncError> {
        let Some(req) = self.planner().next_request() else {
            return Ok(false);
        };
        let per_page = self.opts.per_page;
        // The classic progress line: the n-th page of this pass, of the pages the stream fills.
        let (n, pages_hint) = {
            let p = self.planner();
            let hint = p
                .total()
                .map(|t| t.div_ceil(per_page as u64).max(1).to_string())
                .unwrap_or_else(|| "?".into());
            (p.requests_made() + 1, hint)
        };
        match (req.min_upload_date, req.max_upload_date) {
            (Some(d), _) => tracing::info!(
                "Scanning page {n}/{pages_hint} (uploaded since {})...",
                crate::timefmt::datetime(d)
            ),
            (_, Some(d)) => tracing::info!(
                "Scanning page {n}/{pages_hint} (uploaded up to {})...",
                crate::timefmt::datetime(d)
            ),
            _ => tracing::info!("Scanning page {n}/{pages_hint}..."),
        }
        let mut result = self
            .api
            .get_photos_uploaded(
                &self.user.user_id,
                req.page,
                per_page,
                LISTING_EXTRAS,
                req.min_upload_date,
                req.max_upload_date,
            )
            .await?;
        self.stats.pages_fetched.fetch_add(1, Ordering::Relaxed);
        *self.last_listed.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(std::time::Instant::now());
        let gen = self.listing_gen.load(Ordering::SeqCst);
        // Off the async workers: indexing a page (its texts' languages above all) takes a
        // tenth of a second or more, which the downloads under way must not wait out.
        let index = self.index.clone();
        let listed = std::mem::take(&mut result.photos);
        let (listed, upserted) = tokio::task::spawn_blocking(move || {
            let photos: Vec<&crate::photo::Photo> = listed.iter().collect();
            let r = index.upsert_listed(&photos, gen);
            (listed, r)
        })
        .await
        .map_err(|e| SyncError::Io(format!("indexing a listing page failed: {e}")))?;
        let (new, replaced) = upserted?;
        let photos: Vec<&crate::photo::Photo> = listed.iter().collect();
        for (id, ext) in replaced {
            // Replaced on Flickr: the cached file must not be adopted as the new image.
            tracing::info!("Photo {} was replaced on Flickr", crate::photo::hash(&id));
            let path = self.store.image_path(&id, &ext);
            let _ = std::fs::remove_file(crate::cache::files::part_path(&path));
            let _ = std::fs::remove_file(path);
        }
        self.stats
            .new_photos
            .fetch_add(new.len() as u64, Ordering::Relaxed);
        if req == Request::first() {
            // What `status` shows as the stream's size, from the newest look at it.
            self.index
                .set_meta("total", &result.photo_count.to_string())?;
        }
        let (complete, swept, total) = {
            let mut p = self.planner();
            let newest = p.known().newest;
            p.apply(&PageSummary {
                page: req.page,
                pages: result.page_count,
                total: result.photo_count,
                listed: photos.len(),
                new: new.len(),
                new_all_newer: new.iter().all(|(_, d)| newest.is_none_or(|n| *d > n)),
                oldest: photos.iter().map(|p| p.date_upload).min(),
                newest: photos.iter().map(|p| p.date_upload).max(),
            });
            (p.listing_complete(), p.swept(), p.total())
        };
        if complete {
            self.finish_pass(swept, total, gen)?;
        }
        self.flush_call_counts();
        self.changed.notify_waiters();
        Ok(!complete)
    }

    /// Records a complete pass: the total it started from and, after a complete sweep, the
    /// photos it did not see, which are deleted (their files stay; their sidecars say so; a
    /// partial download a kill left of one goes, since nothing will resume it).
    fn finish_pass(&self, swept: bool, total: Option<u64>, gen: i64) -> Result<(), SyncError> {
        let now = now_secs();
        if swept {
            let gone = self.index.mark_unseen_deleted(gen, now)?;
            if !gone.is_empty() {
                tracing::info!(
                    "{} photos are no longer in the photostream: kept, marked deleted",
                    gone.len()
                );
                self.stats
                    .deleted
                    .fetch_add(gone.len() as u64, Ordering::Relaxed);
            }
            let mut partials = 0;
            for row in &gone {
                let image = self.store.image_path(&row.id, &row.ext);
                match self.store.remove_abandoned_partial(&image) {
                    Ok(removed) => partials += usize::from(removed),
                    Err(e) => tracing::warn!(
                        "cannot remove the partial download of deleted photo {}: {e}",
                        crate::photo::hash(&row.id)
                    ),
                }
            }
            if partials > 0 {
                tracing::info!(
                    "Removed {partials} partial downloads of photos no longer in the photostream"
                );
            }
            let mut rewritten = Vec::new();
            for row in gone.iter().filter(|r| r.info_level >= 0) {
                let path = self.store.info_path(&row.id);
                if path.exists() {
                    rewritten.push(row.id.as_str());
                    let bytes = sidecar::render(row, row.info_level, self.owner());
                    self.store
                        .write_atomic(&path, &bytes, Some(row.date_upload))
                        .map_err(|e| {
                            SyncError::Io(format!("cannot write {}: {e}", path.display()))
                        })?;
                }
            }
            // Mounts read the index's change as the rows were marked, maybe before these
            // files were rewritten: they must read them again.
            self.index.note_rewritten(&rewritten)?;
            self.index.set_meta("last_sweep_at", &now.to_string())?;
        }
        if let Some(t) = total {
            self.index.set_meta("pass_total", &t.to_string())?;
        }
        self.index.set_meta("listing_done", "1")?;
        self.index
            .set_meta("listing_complete_at", &now.to_string())?;
        Ok(())
    }

    /// Runs the listing to its end (the mount's `--wait-index` and the background refresh).
    pub async fn list_all(&self) -> Result<(), SyncError> {
        while self.list_next_page().await? {}
        Ok(())
    }

    /// True when an earlier listing completed and (when `with_work`) no photo is pending for
    /// this engine's options: a run now would only probe for new photos.
    pub fn is_up_to_date(&self, with_work: bool) -> Result<bool, SyncError> {
        if self.index.meta("listing_complete_at")?.is_none() {
            return Ok(false);
        }
        if with_work {
            self.index
                .mark_pending(self.opts.want_image, self.opts.info_level)?;
            if self.index.counts()?.pending > 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
