//! The mirror against the built-in emulator: bytes, sidecars, order, budget, resume, faults.

mod common;

use common::*;
use flickr_emulator::Faults;
use std::time::{Duration, Instant};

const USER: &str = "manhhai";

fn pages(n: usize) -> u64 {
    n.div_ceil(500) as u64
}

fn videos(exp: &flickr_emulator::Expected) -> u64 {
    exp.photos.iter().filter(|p| p.media == "video").count() as u64
}

#[test]
fn full_mirror_matches_expected_within_the_call_budget() {
    let emu = Emu::start(1200, 7);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "2"]));
    let exp = emu.expected(USER);
    assert_eq!(exp.photos.len(), 1200);
    check_cache(&cache, &exp, 2, 4).assert_complete(1200, true, true);
    assert!(temp_files(&cache.join(USER)).is_empty());
    let with_comments = exp.photos.iter().filter(|p| !p.comments.is_empty()).count() as u64;
    let s = emu.stats();
    eprintln!("calls: {:?}", s.calls);
    assert_eq!(emu.calls("flickr.people.findByUsername"), 1);
    assert!(emu.calls("flickr.people.getPhotos") <= pages(1200) + 1);
    assert_eq!(
        emu.calls("flickr.photos.getSizes"),
        videos(&exp),
        "getSizes only for videos"
    );
    assert_eq!(emu.calls("flickr.photos.comments.getList"), with_comments);
    assert_eq!(emu.calls("flickr.photos.getInfo"), 0);
    // Every image downloaded exactly once.
    assert!(
        s.image_gets_by_photo.values().all(|&n| n == 1),
        "{:?}",
        s.image_gets_by_photo.values().max()
    );
    // Cache dir 0700.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
        0o700
    );
}

#[test]
fn info_levels_0_and_1_cost_only_the_listing() {
    for level in [0, 1] {
        let emu = Emu::start(700, 3);
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("c");
        let lvl = level.to_string();
        run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", &lvl]));
        let exp = emu.expected(USER);
        check_cache(&cache, &exp, level, 4).assert_complete(700, true, true);
        let total = emu.stats().total_calls;
        assert!(
            total <= pages(700) + 2 + videos(&exp),
            "level {level}: {total} calls: {:?}",
            emu.stats().calls
        );
        assert_eq!(emu.calls("flickr.photos.comments.getList"), 0);
    }
}

#[test]
fn image_only_and_info_only() {
    let emu = Emu::start(300, 5);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    run_ok(mirror_cmd(&emu, &cache, USER, &["--image-only"]));
    let exp = emu.expected(USER);
    let c = check_cache(&cache, &exp, 2, 4);
    c.assert_complete(300, true, false);
    assert_eq!(c.infos_ok, 0, "--image-only writes no sidecar");
    assert_eq!(emu.calls("flickr.photos.comments.getList"), 0);
    assert_eq!(emu.calls("flickr.photos.getInfo"), 0);

    let emu = Emu::start(300, 5);
    let cache = dir.path().join("d");
    run_ok(mirror_cmd(
        &emu,
        &cache,
        USER,
        &["--info-only", "--info-level", "2"],
    ));
    let c = check_cache(&cache, &exp, 2, 4);
    c.assert_complete(300, false, true);
    assert_eq!(c.images_ok, 0, "--info-only downloads no image");
    assert_eq!(emu.stats().image_gets, 0);
    assert_eq!(emu.calls("flickr.photos.getSizes"), 0, "no image, no sizes");
}

#[test]
fn lifo_caches_newest_first_and_fifo_oldest_first() {
    let emu = Emu::start(1200, 11);
    let exp = emu.expected(USER);
    let dir = tempfile::tempdir().unwrap();
    for (flag, want) in [
        ("--lifo", &exp.photos[..50]),
        ("--fifo", &exp.photos[1150..]),
    ] {
        let cache = dir.path().join(flag.trim_start_matches('-'));
        run_ok(mirror_cmd(
            &emu,
            &cache,
            USER,
            &[flag, "--limit", "50", "--image-only"],
        ));
        let files = tree_files(&cache.join(USER));
        assert_eq!(files.len(), 50, "{flag}: {files:?}");
        for p in want {
            let path = photo_path(&cache, USER, &p.id, &p.ext, 4);
            assert!(
                path.exists(),
                "{flag}: photo {} (rank from newest) missing",
                p.id
            );
        }
    }
}

#[test]
fn a_limit_smaller_than_the_listing_ahead_ends_the_run() {
    // 3,000 photos: the lister, paced to two pages ahead of the workers, waits for pending
    // photos that a run capped at 50 never starts. The run used to wait forever.
    let emu = Emu::start(3000, 17);
    let exp = emu.expected(USER);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    let mut child = mirror_cmd(&emu, &cache, USER, &["--limit", "50", "--image-only"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The run takes about a second; the limit only guards against the hang.
    let status = wait_or_kill(&mut child, std::time::Duration::from_secs(180))
        .expect("mirror --limit 50 of 3,000 photos did not end");
    assert!(status.success(), "exit {status:?}");
    let files = tree_files(&cache.join(USER));
    assert_eq!(files.len(), 50, "{files:?}");
    for p in &exp.photos[..50] {
        assert!(
            photo_path(&cache, USER, &p.id, &p.ext, 4).exists(),
            "{}",
            p.id
        );
    }
}

#[test]
fn a_clean_exit_leaves_the_index_log_empty() {
    // A whole mirror of 2,000 photos used to leave about 4 MB of write-ahead log, which the
    // next process (a mount starting from a cold disk) read whole before its first query.
    let emu = Emu::start(2000, 19);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    run_ok(mirror_cmd(&emu, &cache, USER, &["--image-only"]));
    assert_eq!(tree_files(&cache.join(USER)).len(), 2000);
    let wal = cache.join(USER).join(".flickrfs/index.sqlite-wal");
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(wal_len, 0, "the index log was left with {wal_len} bytes");
}

#[test]
fn growth_between_runs_costs_only_the_new_pages() {
    let emu = Emu::start(1200, 13);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "1"]));
    // No growth: one call.
    emu.e().reset_stats();
    run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "1"]));
    assert_eq!(emu.stats().total_calls, 1, "{:?}", emu.stats().calls);
    assert_eq!(emu.stats().image_gets, 0);
    // Growth by K = 700.
    let before = emu.expected(USER);
    emu.grow(USER, 700);
    emu.e().reset_stats();
    run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "1"]));
    let exp = emu.expected(USER);
    assert_eq!(exp.photos.len(), 1900);
    check_cache(&cache, &exp, 1, 4).assert_complete(1900, true, true);
    let new_videos = videos(&exp) - videos(&before);
    let listing = emu.calls("flickr.people.getPhotos") + emu.calls("flickr.people.findByUsername");
    assert!(listing <= pages(700) + 2, "{:?}", emu.stats().calls);
    assert_eq!(emu.calls("flickr.photos.getSizes"), new_videos);
    assert_eq!(
        emu.stats().image_gets,
        700,
        "only the new images are fetched"
    );
}

#[test]
fn growth_during_a_run_is_mirrored() {
    let emu = Emu::start(1000, 17);
    emu.set_faults(Faults {
        latency_ms: 4,
        ..Faults::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    let mut cmd = mirror_cmd(
        &emu,
        &cache,
        USER,
        &[
            "--info-level",
            "1",
            "--concurrency",
            "4",
            "--recheck-after",
            "0",
        ],
    );
    let mut child = cmd.stderr(std::process::Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    while tree_files(&cache.join(USER)).len() < 200 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "mirror made no progress"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    emu.grow(USER, 300);
    let status = child.wait().unwrap();
    assert!(status.success());
    let exp = emu.expected(USER);
    assert_eq!(exp.photos.len(), 1300);
    check_cache(&cache, &exp, 1, 4).assert_complete(1300, true, true);
}

#[test]
fn sigkill_then_rerun_completes_without_partial_files_or_double_downloads() {
    let emu = Emu::start(1200, 19);
    emu.set_faults(Faults {
        latency_ms: 3,
        ..Faults::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    let root = cache.join(USER);
    // Photo id -> full GETs served when its image was found complete at a kill.
    let mut complete_at_a_kill = std::collections::HashMap::new();
    for round in 0..2 {
        let mut child = mirror_cmd(&emu, &cache, USER, &["--info-level", "2"])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let target = 500 + round * 600;
        let start = Instant::now();
        while tree_files(&root).len() < target {
            assert!(start.elapsed() < Duration::from_secs(90), "no progress");
            std::thread::sleep(Duration::from_millis(10));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Whatever is under a final name is complete and right.
        let exp = emu.expected(USER);
        let c = check_cache(&cache, &exp, 2, 4);
        assert!(c.images_bad.is_empty(), "{:?}", c.images_bad);
        assert!(c.infos_bad.is_empty(), "{:?}", c.infos_bad);
        let gets = emu.stats().image_gets_by_photo;
        for p in &exp.photos {
            if photo_path(&cache, USER, &p.id, &p.ext, 4).exists() {
                let n = gets.get(&p.id).copied().unwrap_or(0);
                complete_at_a_kill.entry(p.id.clone()).or_insert(n);
            }
        }
    }
    assert!(complete_at_a_kill.len() >= 250);
    emu.set_faults(Faults::default());
    run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "2"]));
    let exp = emu.expected(USER);
    check_cache(&cache, &exp, 2, 4).assert_complete(1200, true, true);
    assert!(
        temp_files(&root).is_empty(),
        "temp or partial files left: {:?}",
        temp_files(&root)
    );
    let s = emu.stats();
    // An image on disk at a kill is never fetched again; a partial one is resumed with Range.
    // What SIGKILL can still cost: a response the server sent whose first byte had not reached
    // the disk yet, at most one per download slot (8) per kill.
    for (id, n) in &complete_at_a_kill {
        assert_eq!(s.image_gets_by_photo.get(id), Some(n), "photo {id}");
    }
    assert!(s.image_gets_by_photo.values().all(|&n| n <= 2));
    let twice = s.image_gets_by_photo.values().filter(|&&n| n > 1).count();
    eprintln!(
        "downloaded twice: {twice}, resumed with Range: {}",
        s.range_gets
    );
    assert!(twice <= 2 * 8, "downloaded twice: {twice}");
}

#[test]
fn five_percent_faults_still_give_every_md5_right() {
    let emu = Emu::start(600, 23);
    emu.set_faults(Faults {
        rate_5xx: 0.02,
        rate_105: 0.02,
        rate_429: 0.01,
        retry_after_secs: 1,
        drop_rate: 0.05,
        latency_ms: 0,
        ..Faults::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "2"]));
    assert!(emu.stats().faults_injected > 0);
    emu.set_faults(Faults::default());
    let exp = emu.expected(USER);
    check_cache(&cache, &exp, 2, 4).assert_complete(600, true, true);
    assert!(temp_files(&cache.join(USER)).is_empty());
}

#[test]
fn mirror_flickr_classic_flags_and_saved_keys() {
    let emu = Emu::start(60, 29);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    let out = std::process::Command::new(bin("mirror_flickr"))
        .args(["--username", "commonsarchive", "--cache-path"])
        .arg(&cache)
        .args([
            "--api-url",
            &emu.api_url(),
            "--consumer-key",
            KEY,
            "--consumer-secret",
            SECRET,
            "--save-api-keys",
            "--debug",
            "4",
            "--fifo",
            "--info-level",
            "1",
        ])
        .env_remove("FLICKR_API_KEY")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("Scanning page 1/"), "classic log lines: {log}");
    assert!(
        log.contains("visible to other users in `ps`"),
        "flag warning"
    );
    assert!(
        !log.contains(KEY) && !log.contains(SECRET),
        "a key leaked into the log"
    );
    use std::os::unix::fs::PermissionsExt;
    let keys = cache.join("flickr_keys");
    assert_eq!(
        std::fs::metadata(&keys).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&keys).unwrap()).unwrap();
    assert_eq!(saved["consumer_key"], KEY);
    let exp = emu.expected("commonsarchive");
    check_cache(&cache, &exp, 1, 4).assert_complete(60, true, true);
    // A second run finds the keys in the file alone.
    let out = std::process::Command::new(bin("mirror_flickr"))
        .args(["--username", "commonsarchive", "--cache-path"])
        .arg(&cache)
        .args(["--api-url", &emu.api_url()])
        .env_remove("FLICKR_API_KEY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A keys file others can read is refused, with the fix.
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = std::process::Command::new(bin("mirror_flickr"))
        .args(["--username", "commonsarchive", "--cache-path"])
        .arg(&cache)
        .args(["--api-url", &emu.api_url()])
        .env_remove("FLICKR_API_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("chmod 600"), "{err}");
}

fn one_line_error(out: &std::process::Output) -> String {
    assert!(!out.status.success(), "expected failure");
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    let lines: Vec<&str> = err.lines().filter(|l| !l.contains(" WARN ")).collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
    lines[0].to_string()
}

#[test]
fn bad_input_gets_one_clear_line_and_nothing_is_damaged() {
    let emu = Emu::start(50, 31);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "1"]));
    let exp = emu.expected(USER);
    let snapshot: Vec<_> = tree_files(&cache.join(USER));

    let out = mirror_cmd(&emu, &cache, "nosuchuser", &[])
        .output()
        .unwrap();
    let e = one_line_error(&out);
    assert!(e.contains("User not found"), "{e}");

    let mut c = mirror_cmd(&emu, &cache, "nosuchuser2", &[]);
    c.env("FLICKR_API_KEY", "not-a-key");
    let e = one_line_error(&c.output().unwrap());
    assert!(e.contains("Invalid API Key"), "{e}");

    // A Flickr that cannot be reached is named with its cause, the key never.
    let unreachable = |url: &str| {
        let mut c = std::process::Command::new(bin("flickrfs"));
        c.args(["mirror", "--username", "commonsarchive", "--api-url", url])
            .arg("--cache-path")
            .arg(&cache)
            .env("FLICKR_API_KEY", KEY)
            .env("FLICKR_API_SECRET", SECRET)
            .env_remove("RUST_LOG");
        one_line_error(&c.output().unwrap())
    };
    let e = unreachable("http://127.0.0.1:9/services/rest/");
    assert!(e.contains("Connection refused"), "{e}");
    assert!(!e.contains(KEY), "{e}");
    let e = unreachable("ftp://127.0.0.1/services/rest/");
    assert!(e.contains("\"ftp://127.0.0.1/services/rest/\""), "{e}");
    assert!(e.contains("http:// or https://"), "{e}");

    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let e = one_line_error(&mirror_cmd(&emu, &file, USER, &[]).output().unwrap());
    assert!(e.contains("cache directory"), "{e}");
    assert!(e.contains("not a directory"), "{e}");

    // Missing arguments are named.
    let out = std::process::Command::new(bin("flickrfs"))
        .arg("mount")
        .output()
        .unwrap();
    let e = one_line_error(&out);
    assert!(e.contains("<USER>") && e.contains("<MOUNTPOINT>"), "{e}");

    for bad in [
        &["--fifo", "--lifo"][..],
        &["--image-only", "--info-only"],
        &["--info-level", "3"],
        &["--concurrency", "0"],
        &["--watch", "soon"],
    ] {
        let e = one_line_error(&mirror_cmd(&emu, &cache, USER, bad).output().unwrap());
        assert!(e.contains("error"), "{bad:?}: {e}");
    }
    assert_eq!(tree_files(&cache.join(USER)), snapshot, "cache untouched");
    check_cache(&cache, &exp, 1, 4).assert_complete(50, true, true);
}

#[test]
fn an_existing_cache_directory_keeps_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let emu = Emu::start(20, 41);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("shared");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o2775)).unwrap();
    let out = run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "1"]));
    let mode = std::fs::metadata(&cache).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o2775, "the owner's choice is kept");
    // Others can read it: said once, with what to do.
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("other users can read it").count(), 1, "{err}");
    // What flickrfs creates inside is private.
    let user = std::fs::metadata(cache.join(USER))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(user, 0o700);
    check_cache(&cache, &emu.expected(USER), 1, 4).assert_complete(20, true, true);
}

#[test]
fn verify_image_redownloads_a_damaged_file() {
    let emu = Emu::start(40, 37);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    run_ok(mirror_cmd(&emu, &cache, USER, &["--image-only"]));
    let exp = emu.expected(USER);
    let victim = exp.photos.iter().find(|p| p.ext == "jpg").unwrap();
    let path = photo_path(&cache, USER, &victim.id, "jpg", 4);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&path, &bytes).unwrap();
    emu.e().reset_stats();
    run_ok(mirror_cmd(
        &emu,
        &cache,
        USER,
        &["--image-only", "--verify-image"],
    ));
    check_cache(&cache, &exp, 0, 4).assert_complete(40, true, false);
    assert_eq!(
        emu.stats().image_gets,
        1,
        "only the damaged image is fetched again"
    );
}

/// A cache labelled by an older detector gets the new labels on the next run, with no API
/// call beyond the one that looks at page 1, and `search --locale` follows.
#[test]
fn new_language_labels_without_api_calls() {
    let emu = Emu::start(300, 71);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "2"]));
    let exp = emu.expected(USER);
    // Make it look like an older detector's cache: every label says `eng`, and the index
    // says its labels are of detector 1.
    let mut touched = 0;
    for p in &exp.photos {
        let path = photo_path(&cache, USER, &p.id, "json", 4);
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        if v["title"]["locale"] != "eng" {
            v["title"]["locale"] = "eng".into();
            touched += 1;
        }
        std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    }
    assert!(touched > 100, "{touched}");
    let db = rusqlite::Connection::open(cache.join(USER).join(".flickrfs/index.sqlite")).unwrap();
    db.execute(
        "UPDATE meta SET value = '1' WHERE key = 'labels_version'",
        [],
    )
    .unwrap();
    drop(db);
    emu.e().reset_stats();
    let out = run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "2"]));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("Language labels updated in"), "{log}");
    let s = emu.stats();
    assert_eq!(s.total_calls, 1, "only page 1 is looked at: {:?}", s.calls);
    assert_eq!(s.image_gets, 0);
    let mut relabelled = 0;
    for p in &exp.photos {
        let path = photo_path(&cache, USER, &p.id, "json", 4);
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let want = flickrfs::lang::PhotoLocales::detect(
            &p.title,
            &p.description,
            &p.comments.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        assert_eq!(v["title"]["locale"], want.title.to_string(), "{}", p.id);
        relabelled += (want.title.to_string() != "eng") as usize;
    }
    assert_eq!(relabelled, touched);
    check_cache(&cache, &exp, 2, 4).assert_complete(300, true, true);
}

/// Spawns a mirror whose stderr is watched: returns the child and a receiver of its lines.
fn watched(
    mut c: std::process::Command,
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    let mut child = c.stderr(std::process::Stdio::piped()).spawn().unwrap();
    let err = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Waits (bounded) for a line containing `what`; returns it.
fn wait_for_line(rx: &std::sync::mpsc::Receiver<String>, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if l.contains(what) => return l,
            Ok(_) => {}
            Err(e) => panic!("no line with {what:?}: {e}"),
        }
    }
}

#[test]
fn processes_sharing_a_key_share_one_budget_and_a_restart_gets_no_fresh_burst() {
    let emu = Emu::start(700, 47);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    // Both users' NSIDs first, so that the runs below need listing and comments only.
    for u in [USER, "commonsarchive"] {
        run_ok(mirror_cmd(
            &emu,
            &cache,
            u,
            &["--info-level", "0", "--limit", "1"],
        ));
    }
    emu.e().reset_stats();
    // A fresh budget for the runs below (the set-up spent from it).
    for e in std::fs::read_dir(&cache).unwrap().flatten() {
        if e.file_name()
            .to_string_lossy()
            .starts_with(".flickrfs-budget-")
        {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    // 60 calls an hour (one a minute once the burst is spent), level 2: each mirror alone
    // wants far more than 60 comments calls.
    let limited = |u: &str| {
        let mut c = mirror_cmd(&emu, &cache, u, &["--info-level", "2"]);
        let args: Vec<_> = c.get_args().map(|a| a.to_os_string()).collect();
        let mut d = std::process::Command::new(c.get_program());
        let mut skip = false;
        for a in args {
            if skip {
                skip = false;
                continue;
            }
            if a == "--rate-limit" {
                skip = true;
                continue;
            }
            d.arg(a);
        }
        d.args(["--rate-limit", "60"])
            .env("FLICKR_API_KEY", KEY)
            .env("FLICKR_API_SECRET", SECRET)
            .env_remove("RUST_LOG");
        c = d;
        watched(c)
    };
    let (mut a, ra) = limited(USER);
    let (mut b, rb) = limited("commonsarchive");
    let la = wait_for_line(&ra, "Waiting for the API rate limit");
    let lb = wait_for_line(&rb, "Waiting for the API rate limit");
    assert!(la.contains("of 60 allowed"), "{la}");
    assert!(lb.contains("every process using this key"), "{lb}");
    // Both wait now: together they stayed within the key's 60 (background work leaves a
    // quarter of the burst to a person's requests).
    let spent = emu.stats().total_calls;
    assert!((40..=60).contains(&spent), "{spent} calls");
    a.kill().unwrap();
    b.kill().unwrap();
    let _ = (a.wait(), b.wait());
    // A restart starts from the spent budget: it waits before its first call.
    let spent = emu.stats().total_calls;
    let (mut c, rc) = limited(USER);
    wait_for_line(&rc, "Waiting for the API rate limit");
    assert_eq!(emu.stats().total_calls, spent, "no fresh burst");
    c.kill().unwrap();
    let _ = c.wait();
}

/// `c` with `--rate-limit n` instead of the suite's unpaced default.
fn paced(c: std::process::Command, n: u32) -> std::process::Command {
    let args: Vec<_> = c.get_args().map(|a| a.to_os_string()).collect();
    let mut d = std::process::Command::new(c.get_program());
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
            continue;
        }
        if a == "--rate-limit" {
            skip = true;
            continue;
        }
        d.arg(a);
    }
    d.args(["--rate-limit", &n.to_string()])
        .env("FLICKR_API_KEY", KEY)
        .env("FLICKR_API_SECRET", SECRET)
        .env_remove("RUST_LOG");
    d
}

#[test]
fn throttled_comments_do_not_hold_back_the_images() {
    let emu = Emu::start(300, 89);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    let exp = emu.expected(USER);
    let with_comments = exp.photos.iter().filter(|p| !p.comments.is_empty()).count() as u64;
    // 60 calls an hour: the burst covers the listing and a few dozen comments calls, then one
    // call a minute. Far fewer than the commented photos.
    assert!(with_comments > 100, "{with_comments} commented photos");
    let (mut child, _lines) = watched(paced(
        mirror_cmd(&emu, &cache, USER, &["--info-level", "2"]),
        60,
    ));
    // Every image lands (md5 checked) while most comments still wait for the rate limit, the
    // videos' too: their files are named by getSizes, API calls that go before the comments
    // (asked as soon as the listing brings them), so the burst covers them.
    let photos: Vec<_> = exp.photos.iter().collect();
    let videos = videos(&exp);
    assert!(videos >= 5, "{videos} videos");
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let ok = photos
            .iter()
            .filter(|p| {
                std::fs::read(photo_path(&cache, USER, &p.id, &p.ext, 4))
                    .is_ok_and(|b| md5_hex(&b) == p.best_md5)
            })
            .count();
        if ok == photos.len() {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the mirror ended with {ok} of {} images",
            photos.len()
        );
        assert!(
            Instant::now() < deadline,
            "{ok} of {} images cached ({videos} videos), {} comments and {} getSizes calls made",
            photos.len(),
            emu.calls("flickr.photos.comments.getList"),
            emu.calls("flickr.photos.getSizes")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let comments = emu.calls("flickr.photos.comments.getList");
    assert!(
        comments < with_comments / 2,
        "{comments} of {with_comments} comments calls made: they were not throttled"
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "comments still pending"
    );
    child.kill().unwrap();
    let _ = child.wait();
    // Every image was downloaded once, and each video's file named by one getSizes call.
    assert!(emu.stats().image_gets_by_photo.values().all(|&n| n == 1));
    assert_eq!(emu.calls("flickr.photos.getSizes"), videos);
}

#[test]
fn images_go_on_past_more_failed_photos_than_the_queue_is_read_at_once() {
    // Files stand where the directories `0/` to `7/` would be: the image of every photo whose
    // hash starts with one of them fails. Comments are throttled (60 calls an hour), so each
    // such photo stays pending, at the head of the image queue. With one download at a time
    // the image pipeline reads its queue 68 photos at a time: once more photos than that have
    // failed, it must read past them to the images still to do, not wait for the comments.
    let emu = Emu::start(400, 7);
    let exp = emu.expected(USER);
    let blocked = |id: &str| hashed(id).as_bytes()[0] < b'8';
    let n_blocked = exp.photos.iter().filter(|p| blocked(&p.id)).count();
    assert!(n_blocked > 2 * 68, "{n_blocked} blocked photos");
    // Videos wait for getSizes, which the throttle paces too: they are not awaited here.
    let wanted: Vec<_> = exp
        .photos
        .iter()
        .filter(|p| !blocked(&p.id) && p.media != "video")
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    std::fs::create_dir_all(cache.join(USER)).unwrap();
    for d in '0'..='7' {
        std::fs::write(cache.join(USER).join(d.to_string()), b"in the way").unwrap();
    }
    let (mut child, _lines) = watched(paced(
        mirror_cmd(
            &emu,
            &cache,
            USER,
            &["--info-level", "2", "--concurrency", "1"],
        ),
        60,
    ));
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut left = wanted.clone();
    while !left.is_empty() {
        left.retain(|p| {
            std::fs::read(photo_path(&cache, USER, &p.id, &p.ext, 4))
                .map_or(true, |b| md5_hex(&b) != p.best_md5)
        });
        assert!(
            child.try_wait().unwrap().is_none(),
            "the mirror ended with {} of {} images left",
            left.len(),
            wanted.len()
        );
        assert!(
            Instant::now() < deadline,
            "{} of {} images left, {} comments calls made",
            left.len(),
            wanted.len(),
            emu.calls("flickr.photos.comments.getList")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    let _ = child.wait();
    // No photo was handed to the image pipeline twice.
    let gets = emu.stats().image_gets_by_photo;
    assert!(gets.values().all(|&n| n == 1), "{:?}", gets.values().max());
    assert!(gets.keys().all(|id| !blocked(id)));
}
