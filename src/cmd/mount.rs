//! The `mount` and `unmount` commands: checks the mountpoint and FUSE, resolves the user,
//! mounts the read-only tree, runs the listing / prefetcher / refresh in the background, and
//! unmounts cleanly on SIGINT/SIGTERM (or exits when unmounted from outside).

use crate::cmd::args::{MountArgs, UnmountArgs};
use crate::cmd::bootstrap;
use crate::cmd::mountpoint;
use crate::engine::{self, Engine, SyncError};
use crate::fs::{FlickrFs, FsOptions};
use crate::fuse::FuseAdapter;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Runs `flickrfs mount`; returns the exit code.
pub fn main(args: MountArgs) -> i32 {
    if args.daemon {
        return match daemonize(&args) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("flickrfs: error: {e}");
                1
            }
        };
    }
    crate::cmd::logging::init(args.common.debug, false);
    match run(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("flickrfs: error: {e}");
            1
        }
    }
}

fn run(args: MountArgs) -> Result<(), String> {
    let mnt = mountpoint::check(&args.mountpoint)?;
    bootstrap::check_cache_path(&args.common)?;
    // A person waits on this process's requests: fail them fast while Flickr is down.
    crate::flickr::breaker::serve_foreground();
    let started = std::time::SystemTime::now();
    let rt = bootstrap::runtime(args.workers.map(|n| n as usize))?;
    let api = bootstrap::build_api(&args.common)?;
    let (user, store, index) = rt
        .block_on(engine::open_user(
            &api,
            &args.common.cache_path,
            &args.user,
            args.common.cache_directory_depth as usize,
            false,
        ))
        .map_err(|e| e.to_string())?;
    let mut opts = args.common.sync_options();
    // The tree whole as soon as the rate allows: listing pages go before prefetch work.
    opts.pace_listing = false;
    let engine = Engine::new(api, user, store, index, opts).map_err(|e| e.to_string())?;
    if args.wait_index {
        tracing::info!("Listing the whole photostream before mounting (--wait-index)...");
        rt.block_on(async {
            tokio::select! {
                r = async { engine.restart_listing()?; engine.list_all().await } => r.map_err(|e| e.to_string()),
                _ = bootstrap::shutdown_signal() => Err("interrupted".to_string()),
            }
        })?;
    }
    let fs = Arc::new(FlickrFs::new(
        engine.clone(),
        FsOptions {
            show_images: !args.common.info_only,
            info_level: args.common.info_level(),
            albums_max_age: args.refresh,
        },
    ));
    // Where the index's change log stands before the kernel hears anything from this mount:
    // every later change (by this process or another) is told to the kernel.
    let mark = fs
        .change_mark()
        .map_err(|e| format!("cannot read the index: {e}"))?;
    let adapter = FuseAdapter::new(fs.clone(), rt.handle().clone(), !args.no_xattr)
        .with_wait(args.fuse_wait.max(Duration::from_millis(100)));
    let volatile = adapter
        .volatile_listings()
        .ok_or("the adapter's listings were taken")?;
    let mut config = fuser::Config::default();
    config.mount_options = vec![
        fuser::MountOption::RO,
        fuser::MountOption::FSName(format!("flickrfs:{}", engine.user.username)),
        fuser::MountOption::Subtype("flickrfs".into()),
        fuser::MountOption::DefaultPermissions,
        fuser::MountOption::NoDev,
        fuser::MountOption::NoSuid,
        fuser::MountOption::NoExec,
        fuser::MountOption::NoAtime,
    ];
    if args.allow_other {
        config.acl = fuser::SessionACL::All;
    }
    config.n_threads = Some(args.fuse_threads as usize);
    let session = fuser::spawn_mount(adapter, &mnt, &config)
        .map_err(|e| format!("cannot mount {}: {e}", mnt.display()))?;
    crate::fuse::spawn_invalidator(
        fs,
        session.notifier(),
        mark,
        crate::config::FUSE_INVAL_EVERY,
        volatile,
    )
    .map_err(|e| format!("cannot start the invalidation thread: {e}"))?;
    tracing::info!(
        "Mounted photostream of {} on {}",
        engine.user.username,
        mnt.display()
    );
    if let Ok(path) = std::env::var("FLICKRFS_READY_FILE") {
        let _ = std::fs::write(path, b"ready\n");
    }

    let background = rt.spawn(background(
        engine.clone(),
        started,
        args.no_prefetch,
        args.probe_concurrency as usize,
        args.refresh,
    ));
    let guard = &session.guard;
    let stop = rt.block_on(async {
        tokio::select! {
            _ = bootstrap::shutdown_signal() => "signal",
            _ = async { while !guard.is_finished() { tokio::time::sleep(Duration::from_millis(200)).await } } => "unmounted",
        }
    });
    background.abort();
    engine.flush_call_counts();
    tracing::info!("Unmounting {} ({stop})", mnt.display());
    if stop == "signal" {
        session
            .umount_and_join()
            .map_err(|e| format!("unmount of {} failed: {e}", mnt.display()))?;
    } else {
        // Unmounted from outside (fusermount3 -u): the kernel is done with it. Dropping the
        // session would make fuser unmount again, fail (its "is it mounted" poll answers yes
        // for a device the kernel already let go) and warn "Unmount failed: Invalid argument"
        // on every clean unmount. Its thread has ended: nothing is left to clean but memory
        // and a descriptor, which the exit below returns.
        std::mem::forget(session);
    }
    rt.shutdown_timeout(Duration::from_secs(2));
    // Every task gone (their temp files with them): see `Store::retire` and
    // `Index::checkpoint_at_exit`.
    engine.store.retire();
    engine.index.checkpoint_at_exit();
    Ok(())
}

/// The mount's background work: crash leftovers, the listing (always, so readdir fills up),
/// the size prober, the prefetcher (unless disabled), and a refresh every `refresh` for new
/// photos.
async fn background(
    engine: Arc<Engine>,
    started: std::time::SystemTime,
    no_prefetch: bool,
    probe_concurrency: usize,
    refresh: Duration,
) {
    // Exact sizes of the images not cached, learned by HEAD requests in the prefetch order
    // while the listing and the prefetcher go on (a cold `ls -l` then finds them known).
    if engine.opts.want_image {
        engine.start_prober(probe_concurrency);
    }
    // The walk of the whole cache for temp files left by a crash, after the mount is up (the
    // walk spares the temp files of reads served meanwhile: written after `started`).
    let cleaner = engine.clone();
    let clean = move || cleaner.store.clean_temp_files_before(Some(started));
    match tokio::task::spawn_blocking(clean).await {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => tracing::info!("Removed {n} temp files left by an interrupted run"),
        Ok(Err(e)) => tracing::warn!("cannot clean the cache: {e}"),
        Err(e) => tracing::warn!("cannot clean the cache: {e}"),
    }
    // Over a complete mirror there is nothing to do until the first refresh: the mount then
    // serves everything without a single request.
    match engine.is_up_to_date(!no_prefetch) {
        Ok(true) => {
            tracing::info!(
                "Index complete and nothing pending: next check in {}s",
                refresh.as_secs()
            );
            idle_until_refresh(&engine, refresh).await;
        }
        Ok(false) => {
            // Calls are coming: the HTTP clients (the CA certificates) now, beside them. Not
            // before: over a complete mirror they are built on first use, if ever, and a
            // start-up from a cold disk does not read the CA store while it answers lookups.
            let warm = engine.clone();
            tokio::task::spawn_blocking(move || warm.warm_up());
        }
        Err(e) => tracing::warn!("cannot read the index: {e}"),
    }
    let mut failures = 0u32;
    loop {
        let result = if no_prefetch {
            if let Err(e) = engine.relabel_if_needed() {
                tracing::warn!("cannot update language labels: {e}");
            }
            match engine.restart_listing() {
                Ok(()) => engine.list_all().await.map_err(|e| engine.explain(e)),
                Err(e) => Err(engine.explain(e)),
            }
        } else {
            engine.run().await.map(|r| {
                tracing::info!(
                    "Prefetch pass done: {} images, {} infos cached, {} errors",
                    r.images_downloaded,
                    r.infos_written,
                    r.errors
                );
            })
        };
        engine.flush_call_counts();
        match result {
            Ok(()) => failures = 0,
            // Freeing space is the user's move: the mount serves what is cached meanwhile,
            // and reads of uncached photos answer ENOSPC.
            Err(e @ SyncError::NoSpace { .. }) => {
                tracing::error!("Prefetch stopped: {e}");
                engine.note_failure(None, &format!("prefetch stopped: {e}"));
                failures = 0;
            }
            Err(e) if failures < crate::config::BACKGROUND_RETRIES => {
                let pause = crate::config::BACKGROUND_RETRY_FIRST
                    .saturating_mul(1 << failures.min(16))
                    .min(crate::config::BACKGROUND_RETRY_MAX);
                failures += 1;
                engine.note_failure(None, &format!("background sync failed: {e}"));
                tracing::warn!(
                    "Background sync failed: {e}; trying again in {}s",
                    pause.as_secs()
                );
                tokio::time::sleep(pause).await;
                continue;
            }
            Err(e) => {
                engine.note_failure(None, &format!("background sync failed: {e}"));
                tracing::error!(
                    "Background sync failed {} times, last: {e}; next try at the next refresh",
                    failures + 1
                );
                failures = 0;
            }
        }
        idle_until_refresh(&engine, refresh).await;
    }
}

/// Sleeps until the next refresh, saying so in the status file meanwhile.
async fn idle_until_refresh(engine: &Engine, refresh: Duration) {
    engine.stats.idle.store(true, Ordering::SeqCst);
    tokio::time::sleep(refresh).await;
    engine.stats.idle.store(false, Ordering::SeqCst);
}

/// `--daemon`: starts the same mount in a new session in the background, logging to
/// `<cache>/<user>/.flickrfs/mount.log` ... and returns once it is mounted.
fn daemonize(args: &MountArgs) -> Result<(), String> {
    let mnt = mountpoint::check(&args.mountpoint)?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find my own executable: {e}"))?;
    let argv: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--daemon")
        .collect();
    bootstrap::check_cache_path(&args.common)?;
    let log_path = args.common.cache_path.join("mount.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
    let ready = args.common.cache_path.join(format!(
        ".mount-ready.{}{}",
        std::process::id(),
        crate::cache::files::TEMP_SUFFIX
    ));
    let _ = std::fs::remove_file(&ready);
    let mut cmd = std::process::Command::new(exe);
    cmd.args(&argv)
        .env("FLICKRFS_READY_FILE", &ready)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log);
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid is async-signal-safe and only detaches the child from our terminal.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start the mount: {e}"))?;
    let start = std::time::Instant::now();
    loop {
        if ready.exists() {
            let _ = std::fs::remove_file(&ready);
            println!(
                "Mounted on {} (pid {}, log {})",
                mnt.display(),
                child.id(),
                log_path.display()
            );
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
            let last = tail
                .lines()
                .rev()
                .find(|l| l.contains("error"))
                .unwrap_or("see the log");
            return Err(format!(
                "the mount exited ({status}): {}",
                last.trim().trim_start_matches("flickrfs: error: ")
            ));
        }
        if start.elapsed() > Duration::from_secs(600) {
            return Err(format!(
                "the mount did not come up in time; see {}",
                log_path.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `flickrfs unmount MOUNTPOINT`: a live or stale (crashed) flickrfs mount.
pub fn unmount(args: UnmountArgs) -> i32 {
    match mountpoint::unmount(&args.mountpoint) {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("flickrfs: error: {e}");
            1
        }
    }
}
