//! Recovering by itself: a killed mount's stale mountpoint, failed runs that leave nothing
//! behind, one cache per Flickr user whatever the spelling, a full disk, a damaged index.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const USER: &str = "manhhai";

fn one_line_error(out: &std::process::Output) -> String {
    assert!(!out.status.success(), "expected failure");
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.contains(" WARN") && !l.contains(" INFO"))
        .collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    lines[0].to_string()
}

/// Entries of the cache root other than the keys file and the probe/temp files of a run.
fn user_dirs(cache: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(cache)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn unknown_users_and_failed_runs_leave_nothing_and_status_lists_only_mirrors() {
    let emu = Emu::start(30, 5);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    let e = one_line_error(
        &mirror_cmd(&emu, &cache, "nosuchuser", &[])
            .output()
            .unwrap(),
    );
    assert!(e.contains("User not found"), "{e}");
    let mut bad_key = mirror_cmd(&emu, &cache, "someoneelse", &[]);
    bad_key.env("FLICKR_API_KEY", "not-a-key");
    one_line_error(&bad_key.output().unwrap());
    let mut down = mirror_cmd(
        &emu,
        &cache,
        "anybody",
        &["--api-url", "http://127.0.0.1:9/services/rest/"],
    );
    one_line_error(&down.output().unwrap());
    assert_eq!(user_dirs(&cache), Vec::<String>::new(), "nothing created");

    // A leftover of an older version's failed run is not a mirror.
    std::fs::create_dir_all(cache.join("ghost/.flickrfs")).unwrap();
    let ghost = rusqlite::Connection::open(cache.join("ghost/.flickrfs/index.sqlite")).unwrap();
    ghost
        .execute_batch("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);")
        .unwrap();
    drop(ghost);
    run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "0"]));
    let out = run_ok({
        let mut c = Command::new(bin("flickrfs"));
        c.arg("status").arg("--cache-path").arg(&cache);
        c
    });
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(USER), "{text}");
    assert!(!text.contains("ghost"), "{text}");
}

#[test]
fn one_user_one_cache_whatever_the_spelling_and_no_second_lookup() {
    let emu = Emu::start(40, 6);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    let exp = emu.expected(USER);
    run_ok(mirror_cmd(&emu, &cache, "ManhHai", &["--info-level", "1"]));
    assert_eq!(user_dirs(&cache), [USER], "named by Flickr's username");
    assert_eq!(emu.calls("flickr.people.findByUsername"), 1);
    emu.e().reset_stats();
    let url = format!("https://www.flickr.com/photos/{}/", exp.user_id);
    for typed in ["manhhai", "MANHHAI", exp.user_id.as_str(), url.as_str()] {
        run_ok(mirror_cmd(&emu, &cache, typed, &["--info-level", "1"]));
    }
    assert_eq!(user_dirs(&cache), [USER]);
    assert_eq!(emu.calls("flickr.people.findByUsername"), 0);
    assert_eq!(
        emu.calls("flickr.urls.lookupUser"),
        0,
        "NSID and URL found on disk"
    );
    assert_eq!(emu.stats().image_gets, 0);
    check_cache(&cache, &exp, 1, 4).assert_complete(40, true, true);
    // A URL naming the user by name is looked up once, then remembered.
    let by_name = "https://www.flickr.com/photos/MANHHAI/";
    run_ok(mirror_cmd(&emu, &cache, by_name, &["--info-level", "1"]));
    run_ok(mirror_cmd(&emu, &cache, by_name, &["--info-level", "1"]));
    assert!(emu.calls("flickr.urls.lookupUser") <= 1);
    assert_eq!(user_dirs(&cache), [USER]);
}

/// True when the mount on `path` lost its process (statfs answers ENOTCONN; a stat may still
/// be answered from the kernel's attribute cache).
fn stale(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    let mut buf = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: a valid path and a buffer of the right type.
    let r = unsafe { libc::statvfs(c.as_ptr(), buf.as_mut_ptr()) };
    r != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOTCONN)
}

/// Stops a mount with SIGKILL, like the OOM killer.
fn kill9(m: &mut Mount) {
    let mut child = m.child.take().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn unmount_refuses_what_is_not_a_flickrfs_mount() {
    let dir = tempfile::tempdir().unwrap();
    let t = Tmpfs::mount(&dir.path().join("t"), "1m");
    std::fs::write(t.0.join("keep"), b"precious").unwrap();
    for target in [t.0.as_path(), Path::new("/proc")] {
        let out = Command::new(bin("flickrfs"))
            .arg("unmount")
            .arg(target)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not a flickrfs mount"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    assert_eq!(std::fs::read(t.0.join("keep")).unwrap(), b"precious");
    assert!(Path::new("/proc/self/mountinfo").exists());
}

#[test]
fn a_killed_mount_is_mounted_again_at_the_same_place_and_unmounts_quietly() {
    if !fuse_available() {
        return;
    }
    let emu = Emu::start(20, 8);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let mnt = dir.path().join("mnt");
    let exp = emu.expected(USER);
    // (Each killed `Mount` is kept alive until the end: its drop would clean up the stale
    // mount itself, and the point is that flickrfs does.)
    let mut killed = Mount::start(&emu, &cache, &mnt, USER, &["--no-prefetch", "--wait-index"]);
    kill9(&mut killed);
    assert!(stale(&mnt), "kill -9 leaves a stale mount");
    // `mount` again at the same place: cleaned up, mounted, serving the right bytes.
    let mut m = Mount::start(&emu, &cache, &mnt, USER, &["--no-prefetch"]);
    assert!(
        m.log().contains("stale flickrfs mount"),
        "the stale mount was cleaned by the mount: {}",
        m.log()
    );
    let p = &exp.photos[0];
    let bytes = std::fs::read(photo_path(&mnt, "", &p.id, &p.ext, 4)).unwrap();
    assert_eq!(md5_hex(&bytes), p.best_md5);
    // `unmount` of a stale mount works too.
    kill9(&mut m);
    assert!(stale(&mnt));
    let out = Command::new(bin("flickrfs"))
        .arg("unmount")
        .arg(&mnt)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!is_mounted(&mnt));
    // A clean unmount from outside is silent at the default level, and the mount exits 0.
    let mut quiet = Mount::start(&emu, &cache, &mnt, USER, &["--no-prefetch"]);
    let out = Command::new("fusermount3")
        .arg("-u")
        .arg(&mnt)
        .output()
        .unwrap();
    assert!(out.status.success());
    let status = quiet.child.as_mut().unwrap().wait().unwrap();
    quiet.child = None;
    assert!(status.success(), "{status}: {}", quiet.log());
    let log = quiet.log();
    assert!(
        !log.contains("WARN") && !log.contains("ERROR"),
        "clean unmount must be silent: {log}"
    );
    drop((killed, m));
}

/// A tmpfs mounted for the test, unmounted on drop (even when the test fails).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "cannot mount a tmpfs (this test needs root)");
        Tmpfs(dir.to_path_buf())
    }

    fn resize(&self, size: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn can_mount_tmpfs() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("disk-full test skipped: it mounts a tmpfs, which needs root");
    }
    root
}

#[test]
fn a_full_disk_stops_the_mirror_with_one_line_and_the_next_run_finishes() {
    if !can_mount_tmpfs() {
        return;
    }
    // 60 photos of about 80 KiB: some 4.8 MB of images, on a 2 MiB disk. (On 1 MiB the
    // index's write-ahead log, up to 1,000 pages before a checkpoint, could fill the disk
    // before the first image: a full disk all the same, but not the one this test is about.)
    let emu = Emu::start_with(flickr_emulator::EmulatorConfig {
        photos: 60,
        seed: 9,
        image_kb: 80,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let disk = Tmpfs::mount(&dir.path().join("disk"), "2m");
    let cache = disk.0.join("cache");
    let exp = emu.expected(USER);
    let out = mirror_cmd(&emu, &cache, USER, &["--info-level", "1"])
        .output()
        .unwrap();
    let e = one_line_error(&out);
    assert!(
        e.contains("no space left on device in")
            && e.contains(&cache.join(USER).display().to_string())
            && e.contains("free some space and run again"),
        "{e}"
    );
    assert!(
        temp_files(&cache.join(USER)).is_empty(),
        "no temp or partial file"
    );
    // What is there is whole.
    let c = check_cache(&cache, &exp, 1, 4);
    assert!(c.images_bad.is_empty() && c.infos_bad.is_empty(), "{c:?}");
    assert!(c.images_ok > 0 && c.images_ok < 60, "{}", c.images_ok);
    let cached_before = c.images_ok as u64;
    disk.resize("64m");
    emu.e().reset_stats();
    run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "1"]));
    check_cache(&cache, &exp, 1, 4).assert_complete(60, true, true);
    assert!(temp_files(&cache.join(USER)).is_empty());
    assert_eq!(
        emu.stats().image_gets,
        60 - cached_before,
        "only what was missing is fetched"
    );
}

#[test]
fn a_truncated_index_is_reported_and_rebuilt_without_downloading_an_image() {
    let emu = Emu::start(120, 10);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    let exp = emu.expected(USER);
    run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "2"]));
    let index = cache.join(USER).join(".flickrfs/index.sqlite");
    let len = std::fs::metadata(&index).unwrap().len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&index)
        .unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);
    let e = one_line_error(&mirror_cmd(&emu, &cache, USER, &[]).output().unwrap());
    assert!(
        e.contains(&format!("the index of {USER} at {}", index.display()))
            && e.contains("is damaged")
            && e.contains(&format!(
                "flickrfs mirror --username {USER} --rebuild-index"
            )),
        "{e}"
    );
    emu.e().reset_stats();
    run_ok(mirror_cmd(
        &emu,
        &cache,
        USER,
        &["--info-level", "2", "--rebuild-index"],
    ));
    check_cache(&cache, &exp, 2, 4).assert_complete(120, true, true);
    let s = emu.stats();
    assert_eq!(s.image_gets, 0, "no image downloaded again");
    assert_eq!(s.range_gets, 0);
    let aside: Vec<String> = std::fs::read_dir(cache.join(USER).join(".flickrfs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.starts_with("index.sqlite.corrupt-") && !n.ends_with("-wal") && !n.ends_with("-shm")
        })
        .collect();
    assert_eq!(aside.len(), 1, "the damaged index is kept aside");
    // The rebuilt index is a complete one: the next run has nothing to do.
    emu.e().reset_stats();
    run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "2"]));
    assert_eq!(emu.stats().image_gets, 0);
    assert_eq!(emu.calls("flickr.photos.comments.getList"), 0);
}

#[test]
fn a_mount_on_a_full_disk_serves_what_is_cached_and_answers_enospc() {
    if !fuse_available() || !can_mount_tmpfs() {
        return;
    }
    let emu = Emu::start_with(flickr_emulator::EmulatorConfig {
        photos: 60,
        seed: 12,
        image_kb: 200,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    // Room for the index, its write-ahead log (the size prober and the change log write a
    // few pages per photo) and some images, not for 12 MB of them.
    let disk = Tmpfs::mount(&dir.path().join("disk"), "4m");
    let cache = disk.0.join("cache");
    let mnt = dir.path().join("mnt");
    let exp = emu.expected(USER);
    let _m = Mount::start(&emu, &cache, &mnt, USER, &["--no-prefetch", "--wait-index"]);
    let mut served = vec![];
    let mut full = None;
    for p in &exp.photos {
        match std::fs::read(photo_path(&mnt, "", &p.id, &p.ext, 4)) {
            Ok(bytes) => {
                assert_eq!(md5_hex(&bytes), p.best_md5, "{}", p.id);
                served.push(p);
            }
            Err(e) => {
                full = Some(e);
                break;
            }
        }
    }
    let e = full.expect("a 4 MiB disk cannot hold 12 MB of images");
    assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
    assert!(!served.is_empty());
    // What is cached is still served, byte for byte, without a request.
    emu.e().reset_stats();
    for p in &served {
        let bytes = std::fs::read(photo_path(&mnt, "", &p.id, &p.ext, 4)).unwrap();
        assert_eq!(md5_hex(&bytes), p.best_md5);
    }
    assert_eq!(emu.stats().image_gets, 0);
    assert!(
        temp_files(&cache.join(USER)).is_empty(),
        "no partial file left"
    );
}

#[test]
fn a_mount_and_a_mirror_started_together_share_the_index() {
    if !fuse_available() {
        return;
    }
    let emu = Emu::start(1500, 13);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let mnt = dir.path().join("mnt");
    let exp = emu.expected(USER);
    // Both start on a fresh cache at once: both create the index and list the same pages.
    let child = mirror_cmd(&emu, &cache, USER, &["--info-level", "1"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut m = Mount::start(&emu, &cache, &mnt, USER, &["--info-level", "1"]);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check_cache(&cache, &exp, 1, 4).assert_complete(1500, true, true);
    m.stop();
    let log = m.log();
    // A busy index may be met under load: it must be waited out and retried in the run (the
    // cache check above shows it was), never skipped until the next refresh or fatal.
    let given_up = log
        .lines()
        .filter(|l| l.contains("locked") || l.contains("busy"))
        .filter(|l| !l.contains("trying again"))
        .count();
    assert_eq!(given_up, 0, "{log}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("locked"), "{err}");
}

/// Waits until `path` exists (the listing reached its photo), at most a minute.
fn wait_for(path: &Path) {
    let start = std::time::Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// One cache, three processes, under faults (503s, error 105, image bodies cut): two mounts of
/// the same user (one prefetching, one not) and a level-2 mirror. Readers on both mounts get
/// every image byte-exact and every sidecar right, the mirror finishes, both mounts stop
/// cleanly, and the cache is complete with no temp file left.
#[test]
fn two_mounts_and_a_mirror_share_one_cache_under_faults() {
    if !fuse_available() {
        return;
    }
    let emu = Emu::start(600, 17);
    emu.set_faults(flickr_emulator::Faults {
        rate_5xx: 0.03,
        rate_105: 0.03,
        drop_rate: 0.03,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let (mnt_a, mnt_b) = (dir.path().join("a"), dir.path().join("b"));
    let exp = emu.expected(USER);
    let mut a = Mount::start(&emu, &cache, &mnt_a, USER, &[]);
    let mut b = Mount::start(&emu, &cache, &mnt_b, USER, &["--no-prefetch"]);
    // Its log goes to a file: a pipe nobody reads until the end would fill up and stop it
    // mid-download, with its partial files locked.
    let mirror_log = dir.path().join("mirror.log");
    let mut mirror = mirror_cmd(&emu, &cache, USER, &["--info-level", "2"])
        .stderr(std::fs::File::create(&mirror_log).unwrap())
        .spawn()
        .unwrap();
    // A sidecar whose comments are still on their way (slow under faults) is served at once as
    // an honest stand-in: level-1 content, `"comments_pending": true` and no `comments` key
    // (issue 19). Those are read again once the mirror has finished, and must be whole then.
    let check_sidecar =
        |info: &Path, p: &flickr_emulator::ExpectedPhoto, pending_ok: bool| -> bool {
            let doc: serde_json::Value =
                serde_json::from_slice(&std::fs::read(info).unwrap()).unwrap();
            assert_eq!(doc["title"]["content"], p.title.as_str());
            if doc["comments_pending"] == true {
                assert!(pending_ok, "{} still pending: {doc}", info.display());
                assert!(doc.get("comments").is_none(), "{doc}");
                return false;
            }
            let comments: Vec<&str> = doc["comments"]
                .as_array()
                .unwrap_or_else(|| panic!("{}: {doc}", info.display()))
                .iter()
                .map(|c| c["content"].as_str().unwrap())
                .collect();
            assert_eq!(comments, p.comments, "{}", info.display());
            true
        };
    let pending: Vec<(PathBuf, &flickr_emulator::ExpectedPhoto)> = std::thread::scope(|s| {
        let readers: Vec<_> = [(0, &mnt_a), (1, &mnt_b)]
            .into_iter()
            .map(|(k, mnt)| {
                let (exp, check_sidecar) = (&exp, &check_sidecar);
                s.spawn(move || {
                    let mut pending = Vec::new();
                    for p in exp.photos.iter().skip(k).step_by(2) {
                        let image = photo_path(mnt, "", &p.id, &p.ext, 4);
                        wait_for(&image);
                        let bytes = std::fs::read(&image)
                            .unwrap_or_else(|e| panic!("{}: {e}", image.display()));
                        assert_eq!(md5_hex(&bytes), p.best_md5, "{}", image.display());
                        let info = photo_path(mnt, "", &p.id, "json", 4);
                        if !check_sidecar(&info, p, true) {
                            pending.push((info, p));
                        }
                    }
                    pending
                })
            })
            .collect();
        readers
            .into_iter()
            .flat_map(|r| r.join().unwrap())
            .collect()
    });
    let status = mirror.wait().unwrap();
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(&mirror_log).unwrap_or_default()
    );
    eprintln!("{} sidecars were stand-ins at first read", pending.len());
    // The mirror's complete sidecars reach the mount's readers (the kernel is told; allow it a
    // moment under load, then insist).
    for (info, p) in &pending {
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_secs(30) {
            let doc: Option<serde_json::Value> = std::fs::read(info)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            if doc.is_some_and(|d| d.get("comments").is_some()) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        check_sidecar(info, p, false);
    }
    assert!(a.stop().success(), "{}", a.log());
    assert!(b.stop().success(), "{}", b.log());
    assert!(emu.stats().faults_injected > 0);
    check_cache(&cache, &exp, 2, 4).assert_complete(600, true, true);
    assert_eq!(temp_files(&cache.join(USER)), Vec::<PathBuf>::new());
}

/// A read through a mount of an image that a mirror is downloading follows the mirror's partial
/// file instead of waiting for its lock: it gets the whole image although the download outlasts
/// the mount's FUSE bound (1 s here) several times over, and the mount downloads nothing itself.
#[test]
fn a_mount_reads_an_image_while_a_mirror_downloads_it() {
    if !fuse_available() {
        return;
    }
    // Some 2.5 s an image, a read's 128 KiB well within the bound.
    let emu = slow_images_emu(3);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let mnt = dir.path().join("m");
    let exp = emu.expected(USER);
    let mut mount = Mount::start(
        &emu,
        &cache,
        &mnt,
        USER,
        &["--no-prefetch", "--image-only", "--fuse-wait", "1s"],
    );
    let mirror_log = dir.path().join("mirror.log");
    let mut mirror = mirror_cmd(&emu, &cache, USER, &["--image-only", "--concurrency", "1"])
        .stderr(std::fs::File::create(&mirror_log).unwrap())
        .spawn()
        .unwrap();
    let (_, p) = first_partial(&cache.join(USER), &exp, &mirror_log);
    let image = photo_path(&mnt, "", &p.id, &p.ext, 4);
    let bytes = std::fs::read(&image).unwrap_or_else(|e| panic!("{}: {e}", image.display()));
    assert_eq!(md5_hex(&bytes), p.best_md5, "{}", image.display());
    assert!(
        mirror.wait().unwrap().success(),
        "{}",
        std::fs::read_to_string(&mirror_log).unwrap_or_default()
    );
    assert_eq!(
        emu.stats().image_gets_by_photo.get(&p.id),
        Some(&1),
        "the mirror's download only"
    );
    assert!(mount.stop().success(), "{}", mount.log());
    check_cache(&cache, &exp, 0, 4).assert_complete(3, true, false);
}

/// A start walks the tree for crash leftovers only after a writer died (a walk reads tens of
/// thousands of directories at 100k photos): a clean run leaves no marker of its own, a killed
/// one leaves its marker, and the next run sweeps what it left, marker included.
#[test]
fn a_killed_writer_is_swept_after_and_a_clean_one_leaves_no_marker() {
    let emu = Emu::start_with(flickr_emulator::EmulatorConfig {
        photos: 3,
        seed: 8,
        image_kb: 640,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let writers = cache.join(USER).join(".flickrfs/writers");
    let markers = || -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&writers)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "1"]));
    assert_eq!(markers(), vec!["swept".to_string()], "a clean run retires");

    // Three more photos, downloaded slowly; the mirror is killed once it writes.
    emu.grow(USER, 3);
    emu.set_faults(flickr_emulator::Faults {
        trickle_ms: 250,
        ..Default::default()
    });
    let log = dir.path().join("killed.log");
    let mut killed = mirror_cmd(
        &emu,
        &cache,
        USER,
        &["--info-level", "1", "--concurrency", "1"],
    )
    .stderr(std::fs::File::create(&log).unwrap())
    .spawn()
    .unwrap();
    let pid = killed.id();
    let start = std::time::Instant::now();
    while !markers().iter().any(|m| m.starts_with(&format!("{pid}-"))) {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "no marker of the writer: {:?}\n{}",
            markers(),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    killed.kill().unwrap();
    killed.wait().unwrap();
    assert_eq!(
        markers().len(),
        2,
        "the dead writer's marker stays: {:?}",
        markers()
    );
    // What a crash mid-write leaves beside a photo.
    let exp = emu.expected(USER);
    let p = &exp.photos[0];
    let image = photo_path(&cache, USER, &p.id, &p.ext, 4);
    std::fs::create_dir_all(image.parent().unwrap()).unwrap();
    let name = image.file_name().unwrap().to_string_lossy().into_owned();
    let leftover = image.with_file_name(format!(".{name}.{pid}.0.flickrfs-tmp"));
    std::fs::write(&leftover, b"half").unwrap();

    emu.set_faults(flickr_emulator::Faults::default());
    run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "1"]));
    assert!(!leftover.exists(), "the dead writer's temp file is swept");
    assert_eq!(
        markers(),
        vec!["swept".to_string()],
        "and its marker with it"
    );
    assert_eq!(temp_files(&cache.join(USER)), Vec::<PathBuf>::new());
    check_cache(&cache, &exp, 1, 4).assert_complete(6, true, true);
}

/// A download cut by a kill leaves its partial file to be resumed. When the photo then leaves
/// the stream (deleted, or made private), nothing will ever resume it: the run that finds the
/// photo gone removes the partial, and the cache ends with no partial file.
#[test]
fn the_partial_download_of_a_photo_deleted_after_a_kill_is_removed() {
    let emu = slow_images_emu(6);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let log = dir.path().join("mirror.log");
    let mut mirror = mirror_cmd(&emu, &cache, USER, &["--image-only", "--concurrency", "1"])
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let root = cache.join(USER);
    let exp = emu.expected(USER);
    let (part, p) = first_partial(&root, &exp, &log);
    mirror.kill().unwrap();
    mirror.wait().unwrap();
    assert!(
        root.join(&part).exists(),
        "a kill keeps the partial to resume"
    );
    let gone = p.id.clone();
    let deleted = emu.control(&format!("/_delete?user={USER}&ids={gone}"));
    assert_eq!(deleted["deleted"], serde_json::json!([gone]), "{deleted}");
    emu.set_faults(flickr_emulator::Faults::default());
    run_ok(mirror_cmd(&emu, &cache, USER, &["--image-only"]));
    assert_eq!(temp_files(&root), Vec::<PathBuf>::new());
    check_cache(&cache, &emu.expected(USER), 0, 4).assert_complete(5, true, false);
}

/// An emulator of `photos` 640 KiB images sent 64 KiB every 250 ms: a download lasts some
/// 2.5 s, long enough to be read while it runs or cut by a kill.
fn slow_images_emu(photos: usize) -> Emu {
    let emu = Emu::start_with(flickr_emulator::EmulatorConfig {
        photos,
        seed: 5,
        image_kb: 640,
        ..Default::default()
    });
    emu.set_faults(flickr_emulator::Faults {
        trickle_ms: 250,
        ..Default::default()
    });
    emu
}

/// The first partial download under `root` that holds some bytes (its path under `root`) and
/// the photo it is of. Fails after 60 s with the writer's log.
fn first_partial<'a>(
    root: &Path,
    exp: &'a flickr_emulator::Expected,
    log: &Path,
) -> (PathBuf, &'a flickr_emulator::ExpectedPhoto) {
    let start = std::time::Instant::now();
    let part = loop {
        let found = temp_files(root).into_iter().find(|p| {
            p.to_string_lossy().ends_with(".flickrfs-part")
                && std::fs::metadata(root.join(p)).is_ok_and(|m| m.len() > 0)
        });
        if let Some(p) = found {
            break p;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "no partial download: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let name = part.file_name().unwrap().to_string_lossy().into_owned();
    let photo = exp
        .photos
        .iter()
        .find(|p| name.starts_with(&format!(".{}.", md5_hex(p.id.as_bytes()))))
        .expect("the partial file is one of the photos'");
    (part, photo)
}
