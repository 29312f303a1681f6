//! The `mount` and `unmount` commands: checks the mountpoint and FUSE, resolves the user,
//! mounts the read-only tree, runs the listing / prefetcher / refresh in the background, and
//! unmounts cleanly on SIGINT/SIGTERM (or exits when unmounted from outside).

use crate::app;
use crate::cli::{MountArgs, UnmountArgs};
use crate::fs::{FlickrFs, FsOptions};
use crate::fuse::FuseAdapter;
use crate::sync::{self, Engine};
use std::path::{Path, PathBuf};
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
    crate::logging::init(args.common.debug, false);
    match run(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("flickrfs: error: {e}");
            1
        }
    }
}

/// Fails with one line when the mountpoint or FUSE cannot be used.
pub fn check_mountpoint(mnt: &Path) -> Result<PathBuf, String> {
    let meta = std::fs::metadata(mnt).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("mountpoint {} does not exist", mnt.display()),
        _ => format!("cannot use mountpoint {}: {e}", mnt.display()),
    })?;
    if !meta.is_dir() {
        return Err(format!("mountpoint {} is not a directory", mnt.display()));
    }
    let abs = std::fs::canonicalize(mnt)
        .map_err(|e| format!("cannot use mountpoint {}: {e}", mnt.display()))?;
    if is_mounted(&abs) {
        return Err(format!(
            "{} is already a mountpoint (unmount it with: flickrfs unmount {})",
            abs.display(),
            abs.display()
        ));
    }
    let mut entries = std::fs::read_dir(&abs)
        .map_err(|e| format!("cannot read mountpoint {}: {e}", abs.display()))?;
    if entries.next().is_some() {
        return Err(format!("mountpoint {} is not empty", abs.display()));
    }
    if !Path::new("/dev/fuse").exists() {
        return Err("/dev/fuse is missing: load the fuse kernel module (modprobe fuse)".into());
    }
    if find_in_path("fusermount3").is_none() && find_in_path("fusermount").is_none() {
        return Err("fusermount3 not found: install FUSE 3 (apt-get install fuse3)".into());
    }
    Ok(abs)
}

fn find_in_path(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(bin))
            .find(|c| c.is_file())
    })
}

/// True when `path` (canonical) is a mountpoint per /proc/self/mountinfo.
pub fn is_mounted(path: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = path.to_string_lossy();
    info.lines().any(|l| {
        l.split(' ')
            .nth(4)
            .map(unescape_mountinfo)
            .is_some_and(|m| m == want)
    })
}

fn unescape_mountinfo(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

fn run(args: MountArgs) -> Result<(), String> {
    let mnt = check_mountpoint(&args.mountpoint)?;
    app::check_cache_path(&args.common)?;
    let rt = app::runtime()?;
    let api = app::build_api(&args.common)?;
    let (user, store, index) = rt
        .block_on(sync::open_user(
            &api,
            &args.common.cache_path,
            &args.user,
            args.common.cache_directory_depth as usize,
        ))
        .map_err(|e| e.to_string())?;
    let opts = args.common.sync_options();
    let engine = Engine::new(api, user, store, index, opts).map_err(|e| e.to_string())?;
    let removed = engine
        .store
        .clean_temp_files()
        .map_err(|e| format!("cannot clean the cache: {e}"))?;
    if removed > 0 {
        tracing::info!("Removed {removed} temp files left by an interrupted run");
    }
    if args.wait_index {
        tracing::info!("Listing the whole photostream before mounting (--wait-index)...");
        rt.block_on(async {
            tokio::select! {
                r = engine.list_all() => r.map_err(|e| e.to_string()),
                _ = crate::mirror::shutdown_signal() => Err("interrupted".to_string()),
            }
        })?;
    }
    let fs = Arc::new(FlickrFs::new(
        engine.clone(),
        FsOptions {
            show_images: !args.common.info_only,
            info_level: args.common.info_level(),
        },
    ));
    let adapter = FuseAdapter::new(fs, rt.handle().clone());
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
    config.n_threads = Some(4);
    let session = fuser::spawn_mount(adapter, &mnt, &config)
        .map_err(|e| format!("cannot mount {}: {e}", mnt.display()))?;
    tracing::info!(
        "Mounted photostream of {} on {}",
        engine.user.username,
        mnt.display()
    );
    if let Ok(path) = std::env::var("FLICKRFS_READY_FILE") {
        let _ = std::fs::write(path, b"ready\n");
    }

    let background = rt.spawn(background(engine.clone(), args.no_prefetch, args.refresh));
    let guard = &session.guard;
    let stop = rt.block_on(async {
        tokio::select! {
            _ = crate::mirror::shutdown_signal() => "signal",
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
        let _ = session.join();
    }
    rt.shutdown_timeout(Duration::from_secs(2));
    Ok(())
}

/// The mount's background work: the listing (always, so readdir fills up), the prefetcher
/// (unless disabled), and a refresh every `refresh` for new photos.
async fn background(engine: Arc<Engine>, no_prefetch: bool, refresh: Duration) {
    // Over a complete mirror there is nothing to do until the first refresh: the mount then
    // serves everything without a single request.
    match engine.is_up_to_date(!no_prefetch) {
        Ok(true) => {
            tracing::info!(
                "Index complete and nothing pending: next check in {}s",
                refresh.as_secs()
            );
            tokio::time::sleep(refresh).await;
        }
        Ok(false) => {}
        Err(e) => tracing::warn!("cannot read the index: {e}"),
    }
    loop {
        let result = if no_prefetch {
            engine.restart_listing();
            engine.list_all().await.map(|_| ())
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
        if let Err(e) = result {
            tracing::warn!("Background sync failed: {e}; retrying at the next refresh");
        }
        engine.flush_call_counts();
        tokio::time::sleep(refresh).await;
    }
}

/// `--daemon`: starts the same mount in a new session in the background, logging to
/// `<cache>/<user>/.flickrfs/mount.log` ... and returns once it is mounted.
fn daemonize(args: &MountArgs) -> Result<(), String> {
    let mnt = check_mountpoint(&args.mountpoint)?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find my own executable: {e}"))?;
    let argv: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--daemon")
        .collect();
    app::check_cache_path(&args.common)?;
    let log_path = args.common.cache_path.join("mount.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
    let ready = args.common.cache_path.join(format!(
        ".mount-ready.{}{}",
        std::process::id(),
        crate::store::TEMP_SUFFIX
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

/// `flickrfs unmount MOUNTPOINT`.
pub fn unmount(args: UnmountArgs) -> i32 {
    let mnt = std::fs::canonicalize(&args.mountpoint).unwrap_or(args.mountpoint.clone());
    if !is_mounted(&mnt) {
        eprintln!("flickrfs: error: {} is not mounted", mnt.display());
        return 1;
    }
    let tool = if find_in_path("fusermount3").is_some() {
        "fusermount3"
    } else {
        "fusermount"
    };
    match std::process::Command::new(tool)
        .arg("-u")
        .arg(&mnt)
        .status()
    {
        Ok(s) if s.success() => 0,
        Ok(_) => {
            eprintln!(
                "flickrfs: error: cannot unmount {} (is it busy?)",
                mnt.display()
            );
            1
        }
        Err(e) => {
            eprintln!("flickrfs: error: cannot run {tool}: {e}");
            1
        }
    }
}
