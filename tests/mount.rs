//! Real FUSE mounts against the emulator: tree, exact sizes, bytes, sidecars, read-only,
//! cp/rsync, concurrency, growth, signals, zero-request mounts, prefetch order, bad input.

mod common;

use common::*;
use flickr_emulator::Faults;
use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const USER: &str = "manhhai";

fn expected_names(exp: &flickr_emulator::Expected, json: bool) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    for p in &exp.photos {
        let h = hashed(&p.id);
        let dir: PathBuf = h.chars().take(4).map(String::from).collect();
        out.insert(dir.join(format!("{h}.{}", p.ext)));
        if json {
            out.insert(dir.join(format!("{h}.json")));
        }
    }
    out
}

fn mount_files(mnt: &Path) -> BTreeSet<PathBuf> {
    tree_files(mnt).into_iter().collect()
}

#[test]
fn mounted_tree_has_exact_sizes_bytes_and_sidecars() {
    if !fuse_available() {
        return;
    }
    let emu = Emu::start(300, 41);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let mnt = dir.path().join("mnt");
    let mut m = Mount::start(&emu, &cache, &mnt, USER, &["--no-prefetch", "--wait-index"]);
    let exp = emu.expected(USER);
    // The tree lists exactly the photos (plus the status dir), and nothing was downloaded.
    assert_eq!(mount_files(&mnt), expected_names(&exp, true));
    let root: BTreeSet<String> = std::fs::read_dir(&mnt)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(root.contains(".flickrfs"));
    // Sizes are exact before any read: HEAD requests only.
    for p in &exp.photos {
        let path = photo_path(&mnt, "", &p.id, &p.ext, 4);
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.len(), p.best_bytes, "size of {}", p.id);
        assert_eq!(meta.mtime(), p.date_upload, "mtime of {}", p.id);
        assert_eq!(meta.mode() & 0o777, 0o444);
    }
    assert_eq!(emu.stats().image_gets, 0, "stat must not download");
    // Bytes and sidecars.
    for p in &exp.photos {
        let bytes = std::fs::read(photo_path(&mnt, "", &p.id, &p.ext, 4)).unwrap();
        assert_eq!(md5_hex(&bytes), p.best_md5, "md5 of {}", p.id);
        let json_path = photo_path(&mnt, "", &p.id, "json", 4);
        let json = read_whole_sidecar(&json_path);
        assert_eq!(
            std::fs::metadata(&json_path).unwrap().len(),
            json.len() as u64,
            "json size exact"
        );
    }
    // The backing cache now holds what was read (a sidecar rendered on access is written
    // behind the answer: a moment later); check it like a mirror.
    let start = Instant::now();
    while check_cache(&cache, &exp, 2, 4).infos_ok < 300
        && start.elapsed() < Duration::from_secs(30)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    check_cache(&cache, &exp, 2, 4).assert_complete(300, true, true);
    // Reading again is served from disk.
    emu.e().reset_stats();
    for p in exp.photos.iter().take(50) {
        let bytes = std::fs::read(photo_path(&mnt, "", &p.id, &p.ext, 4)).unwrap();
        assert_eq!(md5_hex(&bytes), p.best_md5);
    }
    assert_eq!(emu.stats().image_gets, 0);
    // Status file.
    let status: serde_json::Value =
        serde_json::from_slice(&std::fs::read(mnt.join(".flickrfs/status")).unwrap()).unwrap();
    assert_eq!(status["photos_total"], 300);
    assert_eq!(status["photos_known"], 300);
    assert_eq!(status["images_cached"], 300);
    // 300 photos are one listing page; the calls by method add up to the total.
    let calls = status["api_calls"].as_u64().unwrap();
    let by_method = status["api_calls_by_method"].as_object().unwrap();
    assert_eq!(by_method["flickr.people.getPhotos"], 1, "{status}");
    assert_eq!(
        by_method.values().map(|v| v.as_u64().unwrap()).sum::<u64>(),
        calls,
        "{status}"
    );
    assert_eq!(status["api_calls_this_hour"], calls);
    assert_eq!(
        status["api_calls_left_this_hour"].as_u64().unwrap(),
        100_000_000 - calls,
        "the allowance of --rate-limit less what was spent"
    );
    let s = m.stop();
    assert!(s.success(), "clean exit on SIGTERM: {s:?}\n{}", m.log());
    assert!(!is_mounted(&mnt), "SIGTERM unmounts");
}

/// Sidecar contents through the mount equal /_expected.
#[test]
fn sidecars_through_the_mount_match_expected() {
    if !fuse_available() {
        return;
    }
    let emu = Emu::start(120, 43);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let mnt = dir.path().join("mnt");
    let _m = Mount::start(
        &emu,
        &cache,
        &mnt,
        USER,
        &["--no-prefetch", "--wait-index", "--info-only"],
    );
    let exp = emu.expected(USER);
    // Reading through the mount: compare as if the mount were a cache of user "".
    let view = dir.path().join("view");
    std::fs::create_dir_all(&view).unwrap();
    std::os::unix::fs::symlink(&mnt, view.join(USER)).unwrap();
    for p in &exp.photos {
        read_whole_sidecar(&photo_path(&mnt, "", &p.id, "json", 4));
    }
    let c = check_cache(&view, &exp, 2, 4);
    c.assert_complete(120, false, true);
    assert_eq!(c.images_ok, 0, "--info-only shows no images");
    assert_eq!(emu.stats().image_gets, 0);
}

#[test]
fn writes_fail_with_erofs() {
    if !fuse_available() {
        return;
    }
    let emu = Emu::start(20, 47);
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    let _m = Mount::start(
        &emu,
        &dir.path().join("cache"),
        &mnt,
        USER,
        &["--no-prefetch", "--wait-index"],
    );
    let exp = emu.expected(USER);
    let existing = photo_path(&mnt, "", &exp.photos[0].id, &exp.photos[0].ext, 4);
    let erofs = |r: std::io::Result<()>| {
        let e = r.expect_err("write must fail");
        assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{e}");
    };
    erofs(std::fs::write(mnt.join("new.txt"), b"x"));
    erofs(
        std::fs::OpenOptions::new()
            .write(true)
            .open(&existing)
            .map(|_| ()),
    );
    erofs(std::fs::create_dir(mnt.join("d")));
    erofs(std::fs::remove_file(&existing));
    erofs(std::fs::rename(&existing, mnt.join("x")));
    erofs(std::fs::set_permissions(
        &existing,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    ));
}

fn run(cmd: &mut std::process::Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn cp_and_rsync_copy_identical_trees_and_16_readers_see_no_error() {
    if !fuse_available() {
        return;
    }
    let emu = Emu::start(200, 53);
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    let m = Mount::start(
        &emu,
        &dir.path().join("cache"),
        &mnt,
        USER,
        &["--no-prefetch", "--wait-index", "--info-level", "1"],
    );
    let exp = emu.expected(USER);
    // 16 concurrent readers over random files (cold: they race to fetch the same photos).
    let paths: Vec<(PathBuf, String)> = exp
        .photos
        .iter()
        .map(|p| (photo_path(&mnt, "", &p.id, &p.ext, 4), p.best_md5.clone()))
        .collect();
    let errors = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..16u64 {
            let paths = &paths;
            let errors = &errors;
            s.spawn(move || {
                let mut x = t.wrapping_mul(0x9E3779B97F4A7C15) | 1;
                for _ in 0..60 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let (p, md5) = &paths[(x % paths.len() as u64) as usize];
                    match std::fs::read(p) {
                        Ok(b) if md5_hex(&b) == *md5 => {}
                        other => {
                            let what = match other {
                                Ok(b) => format!("{} bytes, wrong md5", b.len()),
                                Err(e) => e.to_string(),
                            };
                            eprintln!("reader {t}: {}: {what}", p.display());
                            errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    assert_eq!(errors.into_inner(), 0, "mount log:\n{}", m.log());
    let twice: Vec<_> = emu
        .stats()
        .image_gets_by_photo
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .collect();
    assert!(
        twice.is_empty(),
        "concurrent readers fetched a photo twice: {twice:?}"
    );
    // cp -r and rsync -a give identical trees.
    let cp_dst = dir.path().join("cp");
    run(std::process::Command::new("cp")
        .arg("-r")
        .arg(&mnt)
        .arg(&cp_dst));
    let rs_dst = dir.path().join("rsync");
    run(std::process::Command::new("rsync")
        .arg("-a")
        .arg(format!("{}/", mnt.display()))
        .arg(&rs_dst));
    let want = expected_names(&exp, true);
    for dst in [&cp_dst, &rs_dst] {
        let got: BTreeSet<PathBuf> = tree_files(dst)
            .into_iter()
            .filter(|p| !p.starts_with(".flickrfs"))
            .collect();
        assert_eq!(got, want, "{}", dst.display());
        for f in &want {
            assert_eq!(
                std::fs::read(dst.join(f)).unwrap(),
                std::fs::read(mnt.join(f)).unwrap(),
                "{}",
                f.display()
            );
        }
    }
    // rsync -a keeps mtimes = upload dates.
    let p = &exp.photos[0];
    assert_eq!(
        std::fs::metadata(photo_path(&rs_dst, "", &p.id, &p.ext, 4))
            .unwrap()
            .mtime(),
        p.date_upload
    );
}

#[test]
fn new_photos_appear_without_remount() {
    if !fuse_available() {
        return;
    }
    let emu = Emu::start(50, 59);
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    let _m = Mount::start(
        &emu,
        &dir.path().join("cache"),
        &mnt,
        USER,
        &["--no-prefetch", "--wait-index", "--refresh", "1s"],
    );
    assert_eq!(mount_files(&mnt).len(), 100);
    emu.grow(USER, 5);
    let exp = emu.expected(USER);
    let start = Instant::now();
    loop {
        let files = mount_files(&mnt);
        if files == expected_names(&exp, true) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "new photos did not appear: {} files",
            files.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let newest = &exp.photos[0];
    let bytes = std::fs::read(photo_path(&mnt, "", &newest.id, &newest.ext, 4)).unwrap();
    assert_eq!(md5_hex(&bytes), newest.best_md5);
}

#[test]
fn a_mount_over_a_complete_mirror_makes_zero_requests() {
    if !fuse_available() {
        return;
    }
    let emu = Emu::start(150, 61);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "2"]));
    emu.e().reset_stats();
    let mnt = dir.path().join("mnt");
    let mut m = Mount::start(&emu, &cache, &mnt, USER, &[]);
    let exp = emu.expected(USER);
    assert_eq!(mount_files(&mnt), expected_names(&exp, true));
    for p in &exp.photos {
        assert_eq!(
            md5_hex(&std::fs::read(photo_path(&mnt, "", &p.id, &p.ext, 4)).unwrap()),
            p.best_md5
        );
        std::fs::read(photo_path(&mnt, "", &p.id, "json", 4)).unwrap();
    }
    // The background sync has looked at the index and gone to sleep until the next refresh:
    // whatever it was going to ask, it has asked by now.
    wait_for_idle(&mnt);
    let s = emu.stats();
    assert_eq!(s.total_calls, 0, "API calls: {:?}", s.calls);
    assert_eq!(s.image_gets + s.image_heads, 0, "image requests");
    let stopped = m.stop();
    assert!(stopped.success(), "{stopped:?}\n{}", m.log());
}

fn cached_ids(cache: &Path, exp: &flickr_emulator::Expected) -> Vec<usize> {
    exp.photos
        .iter()
        .enumerate()
        .filter(|(_, p)| photo_path(cache, USER, &p.id, &p.ext, 4).exists())
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn the_prefetcher_fills_the_cache_in_lifo_and_fifo_order() {
    if !fuse_available() {
        return;
    }
    for order in ["--lifo", "--fifo"] {
        let emu = Emu::start(1000, 67);
        emu.set_faults(Faults {
            latency_ms: 15,
            ..Faults::default()
        });
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let mnt = dir.path().join("mnt");
        let _m = Mount::start(
            &emu,
            &cache,
            &mnt,
            USER,
            &[order, "--image-only", "--concurrency", "4"],
        );
        let exp = emu.expected(USER);
        let start = Instant::now();
        let got = loop {
            let c = cached_ids(&cache, &exp);
            if c.len() >= 60 {
                break c;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "prefetcher made no progress"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        // Positions are newest-first indexes: LIFO takes the smallest, FIFO the largest.
        let in_order = got
            .iter()
            .filter(|&&i| if order == "--lifo" { i < 100 } else { i >= 900 })
            .count();
        assert!(
            in_order * 10 >= got.len() * 9,
            "{order}: {in_order} of {} in order: {got:?}",
            got.len()
        );
    }
}

fn mount_err(emu: &Emu, cache: &Path, mnt: &Path, user: &str) -> String {
    let out = std::process::Command::new(bin("flickrfs"))
        .arg("mount")
        .arg(user)
        .arg(mnt)
        .arg("--cache-path")
        .arg(cache)
        .arg("--api-url")
        .arg(emu.api_url())
        .env("FLICKR_API_KEY", KEY)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.contains(" WARN ") && !l.contains(" INFO "))
        .collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    lines[0].to_string()
}

#[test]
fn bad_mount_input_gets_one_clear_line() {
    if !fuse_available() {
        return;
    }
    let emu = Emu::start(10, 71);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    assert!(mount_err(&emu, &cache, &dir.path().join("missing"), USER).contains("does not exist"));
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    assert!(mount_err(&emu, &cache, &file, USER).contains("not a directory"));
    let full = dir.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("x"), b"x").unwrap();
    assert!(mount_err(&emu, &cache, &full, USER).contains("not empty"));
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    assert!(mount_err(&emu, &cache, &mnt, "nosuchuser").contains("User not found"));
    let _m = Mount::start(&emu, &cache, &mnt, USER, &["--no-prefetch"]);
    assert!(mount_err(&emu, &cache, &mnt, USER).contains("already"));
}

/// Waits until the mount's background sync says (in `.flickrfs/status`) that it sleeps until
/// the next refresh.
fn wait_for_idle(mnt: &Path) {
    wait_for_status(mnt, "the background sync went idle", |s| {
        s["sync"] == "idle"
    });
}

/// Waits until the mount's `.flickrfs/status` document satisfies `done` (`what` names it in the
/// failure).
fn wait_for_status(mnt: &Path, what: &str, done: impl Fn(&serde_json::Value) -> bool) {
    let start = std::time::Instant::now();
    loop {
        let status: serde_json::Value =
            serde_json::from_slice(&std::fs::read(mnt.join(".flickrfs/status")).unwrap()).unwrap();
        if done(&status) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "never {what}: {status}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn with_flickr_down_uncached_files_fail_at_once_and_the_mount_recovers() {
    if !fuse_available() {
        return;
    }
    let cfg = flickr_emulator::EmulatorConfig {
        photos: 300,
        seed: 71,
        ..Default::default()
    };
    let mut emu = Emu::start_with(cfg.clone());
    let port: u16 = emu
        .api_url()
        .rsplit(':')
        .next()
        .and_then(|p| p.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let mnt = dir.path().join("mnt");
    let exp = emu.expected(USER);
    let mut m = Mount::start(
        &emu,
        &cache,
        &mnt,
        USER,
        // Images only: the walk below then measures failing fast, not rendering sidecars.
        &["--no-prefetch", "--wait-index", "--image-only"],
    );
    let read =
        |p: &flickr_emulator::ExpectedPhoto| std::fs::read(photo_path(&mnt, "", &p.id, &p.ext, 4));
    let (cached, uncached) = exp.photos.split_at(5);
    for p in cached {
        assert_eq!(md5_hex(&read(p).unwrap()), p.best_md5);
    }

    // Flickr goes away: every connection is refused.
    let e = emu.emu.take().unwrap();
    emu.rt.block_on(e.shutdown());
    // A walk that needs every uncached image's size (a HEAD each, retried for half a minute
    // each without the breaker: hours for 295 files) ends in seconds, with errors for those
    // files. About 1.5 s here; 10 s is the promise of issue 19.
    let start = Instant::now();
    let du = std::process::Command::new("du")
        .arg("-ab")
        .arg(&mnt)
        .output()
        .unwrap();
    let took = start.elapsed();
    eprintln!(
        "du of {} photos with Flickr down: {took:?}",
        exp.photos.len()
    );
    assert!(took < Duration::from_secs(10), "du took {took:?}");
    assert!(!du.status.success(), "uncached files fail");
    // Cached files still read, byte for byte.
    for p in cached {
        assert_eq!(md5_hex(&read(p).unwrap()), p.best_md5);
    }
    let e = read(&uncached[0]).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EIO), "{e}");
    let status: serde_json::Value =
        serde_json::from_slice(&std::fs::read(mnt.join(".flickrfs/status")).unwrap()).unwrap();
    assert_eq!(status["flickr_answering"], false, "{status}");

    // Flickr is back (same address): the mount serves uncached files again by itself.
    let back = emu.rt.block_on(flickr_emulator::Emulator::start(
        flickr_emulator::EmulatorConfig { port, ..cfg },
    ));
    emu.emu = Some(back.expect("the emulator restarts on its port"));
    let deadline = Instant::now() + Duration::from_secs(90);
    let bytes = loop {
        match read(&uncached[0]) {
            Ok(b) => break b,
            Err(e) if Instant::now() < deadline => {
                assert_eq!(e.raw_os_error(), Some(libc::EIO), "{e}");
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(e) => panic!("the mount did not recover: {e}"),
        }
    };
    assert_eq!(md5_hex(&bytes), uncached[0].best_md5);
    m.stop();
    let log = m.log();
    let said = log.matches("Flickr is not answering").count();
    assert!(
        (1..=6).contains(&said),
        "said once per open period, not per file: {said}: {log}"
    );
    assert!(log.contains("Flickr answers again"), "{log}");
    assert!(
        log.lines()
            .filter(|l| l.contains(" WARN ") || l.contains("ERROR"))
            .count()
            < 10,
        "no warning per file: {log}"
    );
}

#[test]
fn a_sidecar_read_while_the_prefetcher_runs_costs_one_comments_call() {
    if !fuse_available() {
        return;
    }
    let emu = Emu::start(240, 73);
    emu.set_faults(Faults {
        latency_ms: 20,
        ..Faults::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let mnt = dir.path().join("mnt");
    let exp = emu.expected(USER);
    let with_comments = exp.photos.iter().filter(|p| !p.comments.is_empty()).count() as u64;
    let _m = Mount::start(
        &emu,
        &cache,
        &mnt,
        USER,
        &["--info-level", "2", "--concurrency", "4", "--wait-index"],
    );
    // Readers go through the sidecars in the prefetcher's own (newest-first) order, so that
    // they meet photos it is working on.
    std::thread::scope(|s| {
        for t in 0..3 {
            let (mnt, exp) = (&mnt, &exp);
            s.spawn(move || {
                for p in exp.photos.iter().skip(t).step_by(2).take(80) {
                    let bytes = std::fs::read(photo_path(mnt, "", &p.id, "json", 4)).unwrap();
                    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                    // Complete, or (the prefetcher held the photo over a second on a loaded
                    // machine) the stand-in flagged pending, never a wrong list.
                    if v["comments_pending"] != true {
                        let n = v["comments"].as_array().map_or(0, |c| c.len());
                        assert_eq!(n, p.comments.len(), "{}", p.id);
                    }
                }
            });
        }
    });
    wait_for_idle(&mnt);
    assert_eq!(
        emu.calls("flickr.photos.comments.getList"),
        with_comments,
        "each photo's comments fetched once"
    );
}

/// A mount over a big index (200,000 photos, written in seconds by the hidden `synth-index`)
/// answers `stat` of a known photo, and shows a photo that another process indexes while it
/// runs at the next lookup (no refresh, no request: the tree is index queries). That no full
/// scan of the index comes before the answer is counted in src/fs/tests.rs.
#[test]
fn a_mount_over_a_big_index_answers_and_sees_another_writer() {
    if !fuse_available() {
        return;
    }
    use flickrfs::cache::db::{synth, Index};
    const N: u64 = 200_000;
    let emu = Emu::start(1, 61);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let mut synth_cmd = std::process::Command::new(bin("flickrfs"));
    synth_cmd
        .args([
            "synth-index",
            "--username",
            USER,
            "--photos",
            &N.to_string(),
        ])
        .arg("--cache-path")
        .arg(&cache);
    run_ok(synth_cmd);
    let mnt = dir.path().join("mnt");
    let _m = Mount::start(&emu, &cache, &mnt, USER, &["--no-prefetch", "--image-only"]);
    let known = photo_path(&mnt, "", &synth::photo_id(N / 3), "jpg", 4);
    let meta = std::fs::metadata(&known).unwrap();
    assert_eq!(meta.len(), synth::IMAGE_SIZE);
    assert_eq!(meta.mtime(), 1_262_304_000 + (N / 3) as i64);
    let newcomer = photo_path(&mnt, "", &synth::photo_id(N + 1), "jpg", 4);
    assert_eq!(
        std::fs::metadata(&newcomer).unwrap_err().kind(),
        std::io::ErrorKind::NotFound
    );
    // Another process (a mirror, here the index itself) indexes two more photos.
    let index = Index::open(&cache.join(USER).join(".flickrfs/index.sqlite")).unwrap();
    index.insert_synthetic(N + 2, "99999999@N00", USER).unwrap();
    assert_eq!(
        std::fs::metadata(&newcomer).unwrap().len(),
        synth::IMAGE_SIZE
    );
    let leaf = newcomer.parent().unwrap();
    let names: Vec<String> = std::fs::read_dir(leaf)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&format!("{}.jpg", hashed(&synth::photo_id(N + 1)))));
    assert_eq!(emu.stats().total_calls, 0, "answered from the index alone");
}

#[test]
fn a_cold_listing_probes_its_sizes_together_and_the_next_mount_knows_them() {
    if !fuse_available() {
        return;
    }
    let emu = Emu::start(300, 83);
    // Every request takes a while: HEADs sent one by one would never overlap.
    emu.set_faults(Faults {
        latency_ms: 40,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let mnt = dir.path().join("mnt");
    let exp = emu.expected(USER);
    // No background prober: what is probed here is probed by the listing and the lookups.
    let args = [
        "--no-prefetch",
        "--wait-index",
        "--image-only",
        "--cache-directory-depth",
        "1",
        "--probe-concurrency",
        "0",
    ];
    let mut m = Mount::start(&emu, &cache, &mnt, USER, &args);
    // The directory holding the most photos.
    let mut by_dir: std::collections::BTreeMap<char, Vec<&flickr_emulator::ExpectedPhoto>> =
        Default::default();
    for p in &exp.photos {
        by_dir
            .entry(hashed(&p.id).chars().next().unwrap())
            .or_default()
            .push(p);
    }
    let (d, photos) = by_dir.iter().max_by_key(|(_, v)| v.len()).unwrap();
    assert!(photos.len() > 10, "{} photos", photos.len());
    let before = emu.stats();
    assert_eq!(before.image_heads, 0, "nothing probed before the listing");
    // `ls -l`: one listing, then a stat per entry, each exact.
    let mut seen = 0;
    for e in std::fs::read_dir(mnt.join(d.to_string())).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let p = photos
            .iter()
            .find(|p| name == format!("{}.{}", hashed(&p.id), p.ext))
            .unwrap_or_else(|| panic!("unexpected {name}"));
        assert_eq!(e.metadata().unwrap().len(), p.best_bytes, "size of {name}");
        seen += 1;
    }
    assert_eq!(seen, photos.len());
    let s = emu.stats();
    assert!(
        s.image_heads_max_overlap > 1,
        "the listing's sizes were probed one at a time ({} HEADs)",
        s.image_heads
    );
    assert!(
        s.image_heads <= photos.len() as u64,
        "each size probed once: {} HEADs for {} photos",
        s.image_heads,
        photos.len()
    );
    assert_eq!(s.image_gets, 0, "a stat downloads nothing");
    let stopped = m.stop();
    assert!(stopped.success(), "{stopped:?}\n{}", m.log());

    // The next mount knows the sizes from the index: not a single HEAD.
    emu.e().reset_stats();
    let mut m = Mount::start(&emu, &cache, &mnt, USER, &args);
    for p in photos {
        let path = mnt
            .join(d.to_string())
            .join(format!("{}.{}", hashed(&p.id), p.ext));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), p.best_bytes);
    }
    assert_eq!(emu.stats().image_heads, 0);
    let stopped = m.stop();
    assert!(stopped.success(), "{stopped:?}\n{}", m.log());
}

/// The kernel keeps one io mode per inode: an image opened again once cached, while an open
/// made before (served through the page cache) lasts, must not be put in passthrough, or the
/// kernel answers the reader EIO.
#[test]
fn an_image_opened_again_while_its_first_open_lasts_reads_whole() {
    use std::io::Read;
    if !fuse_available() {
        return;
    }
    let emu = Emu::start(5, 61);
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    let m = Mount::start(
        &emu,
        &dir.path().join("cache"),
        &mnt,
        USER,
        &["--no-prefetch", "--wait-index", "--image-only"],
    );
    let exp = emu.expected(USER);
    let p = &exp.photos[0];
    let path = photo_path(&mnt, "", &p.id, &p.ext, 4);
    // Opened uncached and read whole: the download is done, the handle still open.
    let mut first = std::fs::File::open(&path).unwrap();
    let mut bytes = Vec::new();
    first.read_to_end(&mut bytes).unwrap();
    assert_eq!(md5_hex(&bytes), p.best_md5);
    // Until the index says it is cached (what passthrough needs).
    wait_for_status(&mnt, "cached", |s| s["images_cached"] == 1);
    let again = std::fs::read(&path).unwrap_or_else(|e| panic!("second open: {e}\n{}", m.log()));
    assert_eq!(md5_hex(&again), p.best_md5);
    drop(first);
    // And once the first is closed (passthrough allowed again).
    assert_eq!(md5_hex(&std::fs::read(&path).unwrap()), p.best_md5);
}
