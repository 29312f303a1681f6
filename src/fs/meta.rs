//! The virtual files under `.flickrfs/`: the `status` document, and the search directories
//! `.flickrfs/search/<query>/` whose entries are relative symlinks into the hashed tree (the
//! bounded registry of those directories is `searches`).

use super::error::{Error, Result};
use super::inode::{node_of, Node};
use super::searches::{Hits, Searches};
use super::FlickrFs;
use crate::config;
use std::sync::atomic::Ordering;

impl FlickrFs {
    /// The id of the search directory for `query`, running the search when it is new or
    /// stale. A query without any word has no directory.
    pub(super) fn search_dir(&self, query: &str) -> Result<u32> {
        let existing = self.searches().id_of(query);
        if let Some(id) = existing {
            self.with_search(id, |_| ())?;
            return Ok(id);
        }
        let hits = self.run_search(query)?;
        Ok(self.searches().insert(query, hits))
    }

    fn searches(&self) -> std::sync::MutexGuard<'_, Searches> {
        self.searches.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn run_search(&self, query: &str) -> Result<Vec<(String, String)>> {
        let hits = self
            .engine
            .index
            .search(query, None, config::SEARCH_DIR_LIMIT)
            .map_err(|e| {
                tracing::debug!("search {query:?}: {e}");
                Error::not_found()
            })?;
        Ok(hits
            .into_iter()
            .map(|h| (crate::photo::hash(&h.id), h.ext))
            .collect())
    }

    /// Calls `f` with the hits of search directory `q`, searched again first when they are
    /// stale or were evicted. Not found when the directory's name was dropped (see `searches`).
    pub(super) fn with_search<T>(&self, q: u32, f: impl FnOnce(&Hits) -> T) -> Result<T> {
        let query = {
            let mut searches = self.searches();
            let query = searches.query_of(q).ok_or_else(Error::not_found)?;
            if let Some(h) = searches.fresh_hits(q, config::SEARCH_TTL) {
                return Ok(f(h));
            }
            query
        };
        let hits = self.run_search(&query).unwrap_or_default();
        let mut searches = self.searches();
        searches.set_hits(q, hits);
        searches
            .fresh_hits(q, std::time::Duration::MAX)
            .map(f)
            .ok_or_else(Error::not_found)
    }

    /// The directories of `.flickrfs/search/` (id, query).
    pub(super) fn search_dirs(&self) -> Vec<(u32, String)> {
        self.searches().list()
    }

    /// The target of a search or view link: relative, from its directory
    /// (`.flickrfs/search/<query>/`, `dates/1965/03/`...) to the file in the hashed tree.
    pub fn readlink(&self, ino: u64) -> Result<String> {
        let (query, hit, json) = match node_of(ino) {
            Some(Node::Link { query, hit, json }) => (query, hit, json),
            Some(Node::ViewLink { dir, rowid, json }) => {
                return self.view_readlink(dir, rowid, json)
            }
            _ => return Err(Error::answer(libc::EINVAL)),
        };
        let (hash, ext) = self
            .with_search(query, |d| d.hits.get(hit as usize).cloned())?
            .ok_or_else(Error::not_found)?;
        let ext = if json { "json" } else { ext.as_str() };
        let path = crate::photo::hashed_path(&hash, self.depth() as usize, ext);
        Ok(format!("../../../{path}"))
    }

    /// True when the tree holds every photo of the stream as last listed: this pass's listing
    /// is done, or an earlier one was (a refresh only adds what is new).
    pub(super) fn listing_complete(&self) -> bool {
        self.engine.listing_state().1
            || self
                .engine
                .index
                .meta("listing_complete_at")
                .ok()
                .flatten()
                .is_some()
    }

    /// Says in the log (at most every half minute) that a walk of the tree sees only part of
    /// the stream, while the listing is not complete: the status document says it too.
    pub(super) fn note_walk_before_listing(&self) {
        if self.listing_complete() {
            return;
        }
        static LAST: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);
        let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| t.elapsed() < config::RATE_WAIT_NOTICE_EVERY) {
            return;
        }
        *last = Some(std::time::Instant::now());
        drop(last);
        let known = {
            let c = self.counts();
            c.photos_indexed - c.deleted
        };
        let total = self.engine.listing_state().0;
        tracing::info!(
            "The listing is not complete yet ({known} of {} photos known): a walk of the tree now sees only those; .flickrfs/status says \"listing_complete\": true once it is",
            total.map(|t| t.to_string()).unwrap_or_else(|| "?".into())
        );
    }

    /// The `.flickrfs/status` document.
    pub fn status_bytes(&self) -> Vec<u8> {
        let total = self.engine.listing_state().0;
        let complete = self.listing_complete();
        let counts = self.counts();
        let stats = &self.engine.stats;
        let (told, logged) = self.changes_told();
        let doc = serde_json::json!({
            "user": self.engine.user.username,
            "user_id": self.engine.user.user_id,
            "photos_total": total.or_else(|| self.engine.index.meta_i64("total").ok().flatten().map(|t| t as u64)),
            // Exact (a cheap count), so that it agrees with `listing_complete`; the other
            // figures may be up to `COUNTS_MAX_AGE` old.
            "photos_known": self.engine.index.photo_rows().unwrap_or(counts.photos_indexed).saturating_sub(counts.deleted),
            "photos_deleted": counts.deleted,
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
            "photos_in_error": counts.errors,
            "errors": self.engine.index.errors_since(crate::engine::now_secs() - 86_400).unwrap_or(0),
            "recent_errors": self.engine.index.recent_errors(5).unwrap_or_default().iter()
                .map(crate::cmd::status::error_line).collect::<Vec<_>>(),
            "order": format!("{:?}", self.engine.opts.order).to_lowercase(),
            "flickr_answering": crate::flickr::breaker::breaker().answering(),
            "rate_limit_per_hour": self.engine.api.rate_limit_per_hour(),
            "waiting_for_rate_limit_s": self.engine.api.rate_wait().map(|w| w.as_secs().max(1)),
            // The index's change log: its end, and how far the kernel was told of it.
            "changes_logged": logged,
            "changes_told": told,
            "sync": if stats.idle.load(Ordering::SeqCst) { "idle" } else { "syncing" },
        });
        let mut out = serde_json::to_vec_pretty(&doc).unwrap_or_default();
        out.push(b'\n');
        out
    }
}
