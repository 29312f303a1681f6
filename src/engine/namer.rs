//! The namer: the image pipeline's `getSizes` calls, asked as soon as the listing brings the
//! photos that need them (videos, whose files only `getSizes` names, and photos listed without
//! a URL) instead of at their download's turn. Their calls go before every comments call
//! ([`Priority::Sizes`]), and comments calls not yet waiting hold back while one is under way,
//! so a level-2 mirror's last images never wait for tokens the comments calls took: the calls
//! are made while the burst lasts, or one refill each while the downloads are still far behind.
//!
//! A look-ahead only: a photo it misses (or whose call fails) is named at its download's turn
//! by the scheduler, as before, and one call serves both (see `ensure_best`).

use super::Engine;
use crate::cache::db::Queue;
use crate::flickr::priority::{boostable, with_priority, Priority};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Rows read per look at the index.
const BATCH: usize = 64;

/// Counts a `getSizes` an image waits for while alive (see `Engine::sizes_wanted`): comments
/// calls not yet waiting let it go first. A guard, so that a cancelled call does not hold the
/// comments back for ever.
pub(crate) struct SizesWanted<'a>(&'a Engine);

impl<'a> SizesWanted<'a> {
    pub(crate) fn new(engine: &'a Engine) -> Self {
        engine.sizes_wanted.fetch_add(1, Ordering::SeqCst);
        SizesWanted(engine)
    }
}

impl Drop for SizesWanted<'_> {
    fn drop(&mut self) {
        self.0.sizes_wanted.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.notify_waiters();
    }
}

impl Engine {
    /// Names the files of the pending photos that need `getSizes`, in processing order, as the
    /// listing brings them, at most `API_WORKERS` calls at once, until `stop` (the pass is
    /// over) or nothing is left once the listing is complete. Does nothing when the images are
    /// not wanted or the run is limited to some photos (whose choice is the dispatcher's).
    pub(super) async fn name_ahead(self: &Arc<Self>, lister_done: &AtomicBool, stop: &AtomicBool) {
        if !self.opts.want_image || self.opts.limit.is_some() {
            return;
        }
        let gate = Arc::new(Semaphore::new(crate::config::API_WORKERS));
        let newest_first = self.opts.order == super::Order::Lifo;
        let mut cursor: Option<(i64, String)> = None;
        let mut tasks = tokio::task::JoinSet::new();
        // What the listing looked like at the last look that found nothing more.
        let mut seen = None;
        loop {
            if stop.load(Ordering::SeqCst) || self.is_halted() {
                break;
            }
            // Reap finished calls without waiting.
            while tasks.try_join_next().is_some() {}
            let notified = self.changed.notified();
            let listing_finished = lister_done.load(Ordering::SeqCst);
            let range = self.planner().processable();
            let now = (
                self.stats.pages_fetched.load(Ordering::Relaxed),
                range,
                listing_finished,
            );
            let mut batch = Vec::new();
            // Look again only when the listing brought more (or the last look was full).
            if let Some((lo, hi)) = range.filter(|_| seen != Some(now)) {
                let after = cursor.as_ref().map(|(d, id)| (*d, id.as_str()));
                match self
                    .index
                    .pending_in(Queue::Unnamed, newest_first, lo, hi, after, BATCH)
                {
                    Ok(rows) => batch = rows,
                    Err(e) => tracing::debug!("namer: cannot read the index: {e}"),
                }
            }
            let full = batch.len() == BATCH;
            // Comments calls not yet waiting hold back while this batch is handed out.
            let busy = batch
                .iter()
                .any(|r| self.needs_sizes(r))
                .then(|| SizesWanted::new(self));
            for row in batch {
                cursor = Some((row.date_upload, row.id.clone()));
                if !self.needs_sizes(&row) {
                    continue;
                }
                let permit = loop {
                    tokio::select! {
                        p = gate.clone().acquire_owned() => break p.ok(),
                        _ = tokio::time::sleep(Duration::from_millis(100)) => {
                            if stop.load(Ordering::SeqCst) || self.is_halted() {
                                break None;
                            }
                        }
                    }
                };
                let Some(permit) = permit else {
                    break;
                };
                let me = self.clone();
                tasks.spawn(async move {
                    let _wanted = SizesWanted::new(&me);
                    let id = row.id.clone();
                    // One call serves the download too (it waits for this one, see
                    // `ensure_best`), and a reader who comes for the photo promotes it.
                    let named =
                        boostable(&id, with_priority(Priority::Sizes, me.ensure_best(&row)));
                    if let Err(e) = named.await {
                        // Its download asks again, and says what went wrong.
                        tracing::debug!("Photo {}: {e}", crate::photo::hash(&id));
                    }
                    drop(permit);
                });
            }
            drop(busy);
            if full {
                seen = None; // more rows after the cursor: look again at once
                continue;
            }
            seen = Some(now);
            if listing_finished && range.is_some() {
                break; // every listed photo was looked at
            }
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
        // Calls under way end with the pass (their photos' downloads ask again if need be);
        // left on their own, they finish.
        if stop.load(Ordering::SeqCst) || self.is_halted() {
            tasks.abort_all();
        }
        while tasks.join_next().await.is_some() {}
    }
}
