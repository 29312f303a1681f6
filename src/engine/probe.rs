//! The size prober: exact image sizes learned by HEAD requests on the image host (no API
//! call), remembered in the index, so that `stat` of an uncached image answers without a
//! request and an open goes straight to its GET.
//!
//! Three priorities, one set of probes under way (a photo is never probed twice at once):
//! a lookup that needs a size probes it itself, at once ([`Engine::probe_size`]); a readdir
//! probes the unsized photos under its directory together, beside the background
//! ([`Engine::probe_soon`]; videos too, whose files only `getSizes` names); and background workers ([`Engine::start_prober`]) work through
//! every unsized photo in the prefetch order. Readdir probes and background probes each keep at
//! most `--probe-concurrency` HEADs in flight. Every size learned is announced on
//! [`Engine::size_events`] (for a kernel cache that showed the file before).

use super::{Engine, FetchError};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::{broadcast, watch, Notify, Semaphore};

/// A size learned for a photo (its image may have been shown with no or another size).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SizeLearned {
    pub rowid: i64,
    pub id: String,
    pub size: u64,
}

type Outcome = Option<Result<u64, String>>;

/// A probe queued or under way.
struct Probe {
    running: bool,
    /// Run for a person (a lookup, a listing): fails at once while Flickr is down (see
    /// `flickr::breaker`), so a lookup may wait for it. A background probe keeps its retries:
    /// a lookup never waits for one under way, it probes itself.
    foreground: bool,
    done: Arc<watch::Sender<Outcome>>,
}

#[derive(Default)]
struct Queues {
    /// The background feed, in the prefetch order.
    later: VecDeque<i64>,
    probes: HashMap<i64, Probe>,
}

/// The prober's state (one per engine).
pub struct Prober {
    queues: Mutex<Queues>,
    /// Wakes idle workers (something was queued).
    wake: Notify,
    /// Wakes the feeder (a worker found the background queue short).
    hungry: Notify,
    learned: broadcast::Sender<SizeLearned>,
    /// The runtime the readdir probes run on (set by [`Engine::start_prober`]).
    runtime: OnceLock<tokio::runtime::Handle>,
    /// Readdir probes in flight.
    soon: Arc<Semaphore>,
}

impl Default for Prober {
    fn default() -> Self {
        Prober {
            queues: Mutex::default(),
            wake: Notify::new(),
            hungry: Notify::new(),
            learned: broadcast::channel(1024).0,
            runtime: OnceLock::new(),
            soon: Arc::new(Semaphore::new(
                crate::config::DEFAULT_PROBE_CONCURRENCY as usize,
            )),
        }
    }
}

impl Prober {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next queued probe to run (marked running).
    fn next(&self) -> Option<(i64, Arc<watch::Sender<Outcome>>)> {
        let mut q = self.lock();
        loop {
            let rowid = q.later.pop_front()?;
            if let Some(p) = q.probes.get_mut(&rowid) {
                if !p.running {
                    p.running = true;
                    return Some((rowid, p.done.clone()));
                }
            }
        }
    }

    fn finish(&self, rowid: i64, done: &watch::Sender<Outcome>, outcome: Result<u64, String>) {
        self.lock().probes.remove(&rowid);
        done.send_replace(Some(outcome));
    }

    fn backlog(&self) -> usize {
        self.lock().later.len()
    }
}

/// What a probe must do for one photo.
enum Plan {
    Known(u64),
    Head(String),
    /// Its URL needs `getSizes` (an API call): left to a lookup.
    NeedsApi,
}

impl Engine {
    /// Subscribes to the sizes the prober learns (the hook for a kernel cache to invalidate
    /// what it was told before).
    pub fn size_events(&self) -> broadcast::Receiver<SizeLearned> {
        self.prober.learned.subscribe()
    }

    /// The exact size of photo `rowid`'s image, probed now if the index does not know it (ahead
    /// of every queued probe; a probe of it already under way is waited for).
    pub async fn probe_size(self: &Arc<Self>, rowid: i64) -> Result<u64, FetchError> {
        let joined = {
            let mut q = self.prober.lock();
            match q.probes.get_mut(&rowid) {
                Some(p) if p.running && p.foreground => Some((None, p.done.subscribe())),
                Some(p) if p.running => None,
                Some(p) => {
                    p.running = true;
                    p.foreground = true;
                    Some((Some(p.done.clone()), p.done.subscribe()))
                }
                None => {
                    let done = Arc::new(watch::channel(None).0);
                    let rx = done.subscribe();
                    q.probes.insert(
                        rowid,
                        Probe {
                            running: true,
                            foreground: true,
                            done: done.clone(),
                        },
                    );
                    Some((Some(done), rx))
                }
            }
        };
        let Some((mine, mut rx)) = joined else {
            // A background probe is under way: not waited for (it keeps its retries).
            return self.probe_one(rowid, true).await;
        };
        if let Some(done) = mine {
            let r = self.probe_one(rowid, true).await;
            self.prober
                .finish(rowid, &done, r.clone().map_err(|e| e.to_string()));
            return r;
        }
        let outcome = rx
            .wait_for(|o| o.is_some())
            .await
            .map(|o| o.clone())
            .ok()
            .flatten();
        match outcome {
            Some(Ok(size)) => Ok(size),
            // The other probe was a queued one that stops short of an API call, or failed:
            // try once more at top priority.
            _ => self.probe_one(rowid, true).await,
        }
    }

    /// Probes the unsized photos `rowids` (under a directory just listed) together, at most
    /// `--probe-concurrency` at once, ahead of the background feed; a video's `getSizes` call
    /// included (the stats that follow a listing need it). Does nothing before
    /// [`Engine::start_prober`].
    pub fn probe_soon(self: &Arc<Self>, rowids: impl IntoIterator<Item = i64>) {
        let Some(rt) = self.prober.runtime.get() else {
            return;
        };
        let mut mine = Vec::new();
        {
            let mut q = self.prober.lock();
            for rowid in rowids {
                match q.probes.entry(rowid) {
                    Entry::Vacant(v) => {
                        let done = Arc::new(watch::channel(None).0);
                        v.insert(Probe {
                            running: true,
                            foreground: true,
                            done: done.clone(),
                        });
                        mine.push((rowid, done));
                    }
                    // Queued in the background: taken over here.
                    Entry::Occupied(mut o) if !o.get().running => {
                        o.get_mut().running = true;
                        o.get_mut().foreground = true;
                        mine.push((rowid, o.get().done.clone()));
                    }
                    Entry::Occupied(_) => {}
                }
            }
        }
        for (rowid, done) in mine {
            let me = self.clone();
            let sem = self.prober.soon.clone();
            // A person waits for the stats that follow the listing.
            rt.spawn(crate::flickr::breaker::foreground(async move {
                let _permit = sem.acquire_owned().await;
                // Its stat follows: a video's file (named by getSizes only) is asked for now.
                let r = me.probe_one(rowid, true).await;
                me.prober.finish(rowid, &done, r.map_err(|e| e.to_string()));
            }));
        }
    }

    /// Starts the prober on the current runtime: readdir probes from now on, and `workers`
    /// background probes at once (0: none), fed with every unsized photo in the prefetch order,
    /// again as the listing adds photos, for as long as the runtime runs (they hold the
    /// engine). `workers` also bounds the readdir probes (the default when 0).
    pub fn start_prober(self: &Arc<Self>, workers: usize) {
        if self
            .prober
            .runtime
            .set(tokio::runtime::Handle::current())
            .is_err()
        {
            return; // started already
        }
        let default = crate::config::DEFAULT_PROBE_CONCURRENCY as usize;
        match workers {
            0 => {}
            n if n > default => self.prober.soon.add_permits(n - default),
            n => {
                self.prober.soon.forget_permits(default - n);
            }
        }
        if workers == 0 {
            return;
        }
        for _ in 0..workers {
            let engine = self.clone();
            tokio::spawn(async move {
                loop {
                    let notified = engine.prober.wake.notified();
                    tokio::pin!(notified);
                    notified.as_mut().enable();
                    match engine.prober.next() {
                        Some((rowid, done)) => {
                            if engine.prober.backlog() < workers {
                                engine.prober.hungry.notify_one();
                            }
                            let r = engine.probe_one(rowid, false).await;
                            engine
                                .prober
                                .finish(rowid, &done, r.map_err(|e| e.to_string()));
                        }
                        None => notified.await,
                    }
                }
            });
        }
        tokio::spawn(self.clone().feed_prober(workers));
    }

    /// Keeps the background queue a little ahead of the workers, in the prefetch order.
    async fn feed_prober(self: Arc<Self>, workers: usize) {
        let newest_first = self.opts.order == super::Order::Lifo;
        let mut cursor: Option<(i64, i64)> = None;
        let mut since_restart = std::time::Instant::now();
        loop {
            let notified = self.changed.notified();
            if self.prober.backlog() < 2 * workers {
                let batch = match self.index.unsized_photos(newest_first, cursor, 4 * workers) {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!("size prober: cannot read the index: {e}");
                        vec![]
                    }
                };
                if let Some(&(rowid, date)) = batch.last() {
                    cursor = Some((date, rowid));
                    let mut q = self.prober.lock();
                    for (rowid, _) in batch {
                        if let Entry::Vacant(v) = q.probes.entry(rowid) {
                            v.insert(Probe {
                                running: false,
                                foreground: false,
                                done: Arc::new(watch::channel(None).0),
                            });
                            q.later.push_back(rowid);
                        }
                    }
                    drop(q);
                    self.prober.wake.notify_waiters();
                    continue;
                }
                // Caught up: photos listed later in this order come after the cursor; new
                // ones at the head of the stream before it, found by starting over now and
                // then.
                if since_restart.elapsed() > crate::config::PROBE_RESTART_EVERY {
                    cursor = None;
                    since_restart = std::time::Instant::now();
                    continue;
                }
            }
            tokio::select! {
                _ = notified => {}
                _ = self.prober.hungry.notified() => {}
                _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
            }
        }
    }

    /// One probe: the size the index knows, else a HEAD of the image URL (after `getSizes`
    /// when the listing gave none, only if `may_call_api`), remembered and announced.
    async fn probe_one(
        self: &Arc<Self>,
        rowid: i64,
        may_call_api: bool,
    ) -> Result<u64, FetchError> {
        let row = self
            .index
            .photo_by_rowid(rowid)
            .map_err(FetchError::db)?
            .ok_or_else(|| "unknown photo".to_string())?;
        let plan = match row.image_size {
            Some(s) => Plan::Known(s),
            None if !self.needs_sizes(&row) => {
                Plan::Head(row.best.as_ref().map(|b| b.url.clone()).unwrap_or_default())
            }
            None => Plan::NeedsApi,
        };
        let url = match plan {
            Plan::Known(s) => return Ok(s),
            Plan::Head(url) => url,
            Plan::NeedsApi if may_call_api => {
                let row = self.ensure_best(&row).await?;
                row.best.as_ref().map(|b| b.url.clone()).unwrap_or_default()
            }
            Plan::NeedsApi => return Err("its URL needs an API call".to_string().into()),
        };
        let size = super::download::head_size(self.http(), &url, &self.opts.download)
            .await
            .map_err(|e| {
                self.note_gone(&e);
                e.to_string()
            })?;
        self.index
            .set_image_size_by_rowid(rowid, size)
            .map_err(FetchError::db)?;
        let _ = self.prober.learned.send(SizeLearned {
            rowid,
            id: row.id,
            size,
        });
        Ok(size)
    }
}
