//! The `mirror` command (and `mirror_flickr`): the sync engine without FUSE, with a progress
//! bar on a terminal, `--watch` to keep going, and a clean stop on SIGINT/SIGTERM.

use crate::cmd::args::MirrorArgs;
use crate::cmd::bootstrap;
use crate::engine::{self, Engine, RunReport, SyncOptions};
use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Runs the command; returns the process exit code (errors already printed as one line).
pub fn main(args: MirrorArgs, prog: &str) -> i32 {
    let progress = std::io::stderr().is_terminal();
    crate::cmd::logging::init(args.common.debug, progress);
    let rt = match bootstrap::runtime(None) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{prog}: error: {e}");
            return 1;
        }
    };
    let mut ends = Ends::default();
    let result = rt.block_on(run(args, progress, &mut ends));
    // Every task gone (their temp files with them): then this process's writer marker can go,
    // and the next start need not walk the tree for leftovers, nor read a full index log.
    rt.shutdown_timeout(Duration::from_secs(2));
    if let Some(store) = ends.store {
        store.retire();
    }
    if let Some(index) = ends.index {
        index.checkpoint_at_exit();
    }
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{prog}: error: {e}");
            1
        }
    }
}

/// What `main` tidies once the runtime has stopped, as far as `run` got.
#[derive(Default)]
struct Ends {
    store: Option<crate::cache::files::Store>,
    index: Option<Arc<crate::cache::db::Index>>,
}

async fn run(args: MirrorArgs, progress: bool, ends: &mut Ends) -> Result<i32, String> {
    bootstrap::check_cache_path(&args.common)?;
    let api = bootstrap::build_api(&args.common)?;
    let (user, store, index) = engine::open_user(
        &api,
        &args.common.cache_path,
        &args.username,
        args.common.cache_directory_depth as usize,
        args.rebuild_index,
    )
    .await
    .map_err(|e| e.to_string())?;
    ends.store = Some(store.clone());
    tracing::info!(
        "Mirroring photostream of {} ({}) into {}",
        user.username,
        user.user_id,
        store.root().display()
    );
    let opts = SyncOptions {
        limit: args.limit,
        recheck_after: Duration::from_secs(args.recheck_after),
        ..args.common.sync_options()
    };
    let engine = Engine::new(api, user, store, index, opts).map_err(|e| e.to_string())?;
    ends.index = Some(engine.index.clone());
    let bar = spawn_progress(engine.clone(), progress);
    let prune = args.prune_deleted;
    let outcome = tokio::select! {
        r = mirror_loop(&engine, args.watch, prune, args.views) => r.map(Some),
        _ = bootstrap::shutdown_signal() => Ok(None),
    };
    engine.flush_call_counts();
    bar.abort();
    match outcome {
        Ok(Some(report)) => {
            summarize(&engine, &report);
            Ok(if report.errors > 0 { 1 } else { 0 })
        }
        Ok(None) => {
            tracing::warn!("Interrupted; the next run resumes where this one stopped");
            Ok(130)
        }
        Err(e) => {
            // Recorded for `status`, here and now: this process ends with it.
            engine
                .index
                .record_failure(None, &format!("mirror failed: {e}"));
            Err(e)
        }
    }
}

async fn mirror_loop(
    engine: &Arc<Engine>,
    watch: Option<Duration>,
    prune: bool,
    views: bool,
) -> Result<RunReport, String> {
    loop {
        let report = engine.run().await.map_err(|e| e.to_string())?;
        if prune {
            let n = engine.prune_deleted().map_err(|e| e.to_string())?;
            if n > 0 {
                tracing::info!("Removed {n} photos deleted from Flickr (--prune-deleted)");
            }
        }
        if views {
            let v = engine.build_views().await.map_err(|e| e.to_string())?;
            tracing::info!(
                "Views rebuilt in {}: {} albums, {} links",
                engine.store.root().display(),
                v.albums,
                v.links
            );
        }
        match watch {
            None => return Ok(report),
            Some(every) => {
                summarize(engine, &report);
                tracing::info!("Next check in {}s", every.as_secs());
                tokio::time::sleep(every).await;
            }
        }
    }
}

fn summarize(engine: &Engine, r: &RunReport) {
    tracing::info!(
        "Done: {} photos in the stream, {} new, {} deleted on Flickr (kept), {} pages listed, {} images and {} infos cached, {} errors, {} API calls",
        r.total,
        r.new_photos,
        r.deleted,
        r.pages_fetched,
        r.images_downloaded,
        r.infos_written,
        r.errors,
        engine.api.total_calls()
    );
}

/// The progress of a run: a bar on a terminal (every 250 ms), else a plain line every
/// [`crate::config::PROGRESS_LINE_EVERY`] (logs and cron mails). Photos still to do are
/// counted in the index at most every few seconds, off the async workers (a full count of a
/// 100k-photo index is tens of milliseconds).
fn spawn_progress(engine: Arc<Engine>, tty: bool) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let bar = tty.then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} photos {per_sec} ETA {eta} {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        let tick = if tty {
            Duration::from_millis(250)
        } else {
            crate::config::PROGRESS_LINE_EVERY
        };
        let mut pending = 0u64;
        let mut counted: Option<tokio::time::Instant> = None;
        let mut last_line = String::new();
        loop {
            tokio::time::sleep(tick).await;
            if counted.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
                let index = engine.index.clone();
                pending = tokio::task::spawn_blocking(move || index.counts())
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .map_or(pending, |c| c.pending);
                counted = Some(tokio::time::Instant::now());
            }
            let done = engine.stats.photos_done.load(Ordering::Relaxed);
            let waiting = match engine.api.rate_wait() {
                Some(w) => format!(
                    "; waiting for the API rate limit ({}/hour), next call in {}s",
                    engine.api.rate_limit_per_hour(),
                    w.as_secs().max(1)
                ),
                None => String::new(),
            };
            let msg = format!(
                "{} MB, {} API calls{waiting}",
                engine.stats.bytes_downloaded.load(Ordering::Relaxed) / 1_000_000,
                engine.api.total_calls()
            );
            match &bar {
                Some(bar) => {
                    bar.set_length(done + pending);
                    bar.set_position(done);
                    bar.set_message(msg);
                }
                None => {
                    // Said when something moved (an idle --watch run stays quiet).
                    let line = format!("{done} photos done, about {pending} to go; {msg}");
                    if line != last_line {
                        tracing::info!("Progress: {line}");
                        last_line = line;
                    }
                }
            }
        }
    })
}
