//! The virtual files under `.flickrfs/`: the `status` document, and the search directories
//! `.flickrfs/search/<query>/` whose entries are relative symlinks into the hashed tree.

use super::error::{Error, Result};
use super::inode::{node_of, Node};
use super::FlickrFs;
use crate::config;
use std::sync::atomic::Ordering;

/// A search directory: a query and its hits (photo hash, image extension), best first.
pub(super) struct SearchDir {
    pub(super) query: String,
    pub(super) hits: Vec<(String, String)>,
    pub(super) at: std::time::Instant,
}

impl FlickrFs {
    /// The id of the search directory for `query`, running the search when it is new or
    /// stale. A query without any word has no directory.
    pub(super) fn search_dir(&self, query: &str) -> Result<u32> {
        let existing = {
            let searches = self.searches.lock().unwrap_or_else(|e| e.into_inner());
            searches.iter().position(|d| d.query == query)
        };
        if let Some(i) = existing {
            self.with_search(i as u32 + 1, |_| ())?;
            return Ok(i as u32 + 1);
        }
        let hits = self.run_search(query)?;
        let mut searches = self.searches.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = searches.iter().position(|d| d.query == query) {
            return Ok(i as u32 + 1);
        }
        if searches.len() >= config::SEARCH_MAX_QUERIES {
            return Err(Error::answer(libc::ENOSPC));
        }
        searches.push(SearchDir {
            query: query.to_string(),
            hits,
            at: std::time::Instant::now(),
        });
        Ok(searches.len() as u32)
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

    /// Calls `f` with search directory `q`, refreshed first when stale.
    pub(super) fn with_search<T>(&self, q: u32, f: impl FnOnce(&SearchDir) -> T) -> Result<T> {
        let i = (q as usize).checked_sub(1).ok_or_else(Error::not_found)?;
        let stale = {
            let searches = self.searches.lock().unwrap_or_else(|e| e.into_inner());
            let d = searches.get(i).ok_or_else(Error::not_found)?;
            (d.at.elapsed() > config::SEARCH_TTL).then(|| d.query.clone())
        };
        if let Some(query) = stale {
            let hits = self.run_search(&query).unwrap_or_default();
            let mut searches = self.searches.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(d) = searches.get_mut(i) {
                d.hits = hits;
                d.at = std::time::Instant::now();
            }
        }
        let searches = self.searches.lock().unwrap_or_else(|e| e.into_inner());
        searches.get(i).map(f).ok_or_else(Error::not_found)
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
        let searches = self.searches.lock().unwrap_or_else(|e| e.into_inner());
        let d = searches
            .get(
                (query as usize)
                    .checked_sub(1)
                    .ok_or_else(Error::not_found)?,
            )
            .ok_or_else(Error::not_found)?;
        let (hash, ext) = d.hits.get(hit as usize).ok_or_else(Error::not_found)?;
        let ext = if json { "json" } else { ext.as_str() };
        let path = crate::photo::hashed_path(hash, self.depth() as usize, ext);
        Ok(format!("../../../{path}"))
    }

    /// The `.flickrfs/status` document.
    pub fn status_bytes(&self) -> Vec<u8> {
        let (total, complete) = self.engine.listing_state();
        let counts = self.engine.index.counts().unwrap_or_default();
        let stats = &self.engine.stats;
        let (told, logged) = self.changes_told();
        let doc = serde_json::json!({
            "user": self.engine.user.username,
            "user_id": self.engine.user.user_id,
            "photos_total": total.or_else(|| self.engine.index.meta_i64("total").ok().flatten().map(|t| t as u64)),
            "photos_known": counts.photos_indexed - counts.deleted,
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
