//! `flickrfs status` and `flickrfs search` against a mirror of the emulator, and the mount's
//! `.flickrfs/search/<query>/` directories of symlinks.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const USER: &str = "manhhai";
const NSID: &str = "13476480@N07";

fn flickrfs(cache: &Path, args: &[&str]) -> std::process::Output {
    Command::new(bin("flickrfs"))
        .arg(args[0])
        .arg("--cache-path")
        .arg(cache)
        .args(&args[1..])
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn json_of(cache: &Path, args: &[&str]) -> Value {
    let out = flickrfs(cache, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Lowercase, without Vietnamese (and French) marks, `đ` as `d`: what "accent-insensitive"
/// means, written independently of the FTS tokenizer.
fn fold(s: &str) -> String {
    const GROUPS: &[(&str, char)] = &[
        ("àáảãạăằắẳẵặâầấẩẫậä", 'a'),
        ("èéẻẽẹêềếểễệë", 'e'),
        ("ìíỉĩịîï", 'i'),
        ("òóỏõọôồốổỗộơờớởỡợö", 'o'),
        ("ùúủũụưừứửữựûü", 'u'),
        ("ỳýỷỹỵÿ", 'y'),
        ("đ", 'd'),
        ("ç", 'c'),
    ];
    s.to_lowercase()
        .chars()
        .map(|c| {
            GROUPS
                .iter()
                .find(|(g, _)| g.contains(c))
                .map(|(_, b)| *b)
                .unwrap_or(c)
        })
        .collect()
}

fn words(s: &str) -> BTreeSet<String> {
    fold(s)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

/// Texts of a photo as its sidecar labels them: (kind, locale, content).
fn sidecar_texts(path: &Path) -> Vec<(String, String, String)> {
    let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let label = |kind: &str, l: &Value| {
        (
            kind.to_string(),
            l["locale"].as_str().unwrap().to_string(),
            l["content"].as_str().unwrap().to_string(),
        )
    };
    let mut out = vec![
        label("title", &v["title"]),
        label("description", &v["description"]),
    ];
    for c in v["comments"].as_array().unwrap() {
        out.push(label("comment", c));
    }
    out
}

/// Ids of the photos with a text (in `locale`, if given) holding every word of `query`.
fn expected_hits(
    cache: &Path,
    exp: &flickr_emulator::Expected,
    query: &str,
    locale: Option<&str>,
) -> BTreeSet<String> {
    let want = words(query);
    exp.photos
        .iter()
        .filter(|p| {
            sidecar_texts(&photo_path(cache, USER, &p.id, "json", 4))
                .iter()
                .any(|(_, l, text)| {
                    locale.is_none_or(|want_l| l == want_l) && want.is_subset(&words(text))
                })
        })
        .map(|p| p.id.clone())
        .collect()
}

fn hit_ids(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect()
}

fn mirrored(photos: usize, seed: u64) -> (Emu, tempfile::TempDir) {
    let emu = Emu::start(photos, seed);
    let dir = tempfile::tempdir().unwrap();
    run_ok(mirror_cmd(
        &emu,
        &dir.path().join("c"),
        USER,
        &["--info-level", "2"],
    ));
    (emu, dir)
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let m = e.metadata().unwrap();
        total += if m.is_dir() {
            dir_bytes(&e.path())
        } else {
            m.len()
        };
    }
    total
}

#[test]
fn status_figures_equal_the_emulator_and_the_cache() {
    let (emu, dir) = mirrored(700, 41);
    let cache = dir.path().join("c");
    let exp = emu.expected(USER);
    let v = json_of(&cache, &["status", "--json"]);
    let all = v.as_array().unwrap();
    assert_eq!(all.len(), 1, "{v}");
    let s = &all[0];
    let root = cache.join(USER);
    let files = tree_files(&root);
    let images = files
        .iter()
        .filter(|p| !p.to_string_lossy().ends_with(".json"))
        .count() as u64;
    let infos = files.len() as u64 - images;
    assert_eq!(s["username"], USER);
    assert_eq!(s["user_id"], NSID);
    assert_eq!(s["photos_total"], 700);
    assert_eq!(s["photos_indexed"], 700);
    assert_eq!(s["images_cached"], images);
    assert_eq!(images, 700);
    assert_eq!(s["infos_cached"], infos);
    assert_eq!(s["photos_pending"], 0);
    assert_eq!(s["pages_pending"], 0);
    assert_eq!(s["errors"], 0);
    assert_eq!(s["bytes_on_disk"], dir_bytes(&root));
    // Every call is counted as it is made, before it is sent: one abandoned on the way (the
    // lister stopped at the end of a run) counts though Flickr never saw it, the safe side of
    // a rate budget. Never fewer than Flickr saw.
    let counted = s["api_calls_last_hour"].as_u64().unwrap();
    let seen = emu.stats().total_calls;
    assert!(
        (seen..=seen + 2).contains(&counted),
        "{counted} counted, {seen} seen"
    );
    // The key's budget, shared by every process and user of the key, says the same so far;
    // a run for another user (unknown to Flickr: it makes calls but no mirror) counts there
    // only.
    assert_eq!(s["api_budget"].as_array().unwrap().len(), 1, "{s}");
    assert_eq!(s["api_budget"][0]["calls_last_hour"], counted, "{s}");
    assert!(!s.to_string().contains(KEY), "the key itself never shows");
    let out = mirror_cmd(&emu, &cache, "nobody", &[]).output().unwrap();
    assert!(!out.status.success());
    let seen = emu.stats().total_calls;
    let v = json_of(&cache, &["status", "--json"]);
    let s = &v.as_array().unwrap()[0];
    assert_eq!(s["api_calls_last_hour"], counted, "{s}");
    let key_wide = s["api_budget"][0]["calls_last_hour"].as_u64().unwrap();
    assert!(
        key_wide > counted && (seen..=seen + 3).contains(&key_wide),
        "{key_wide} counted for the key, {counted} for the user, {seen} seen"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let last = s["last_sync"].as_i64().unwrap();
    assert!((now - 120..=now).contains(&last), "{last} vs {now}");
    assert_eq!(exp.photos.len(), 700);

    // The text form says the same, and one user can be asked for by name.
    let out = flickrfs(&cache, &["status", USER]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("photos in stream     700"), "{text}");
    assert!(text.contains("images cached        700"), "{text}");
    assert!(
        text.contains(&format!("key calls last hour  {key_wide} (key ")),
        "{text}"
    );

    // An unknown user is one clear line and a failure.
    let out = flickrfs(&cache, &["status", "nobody"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("no mirror of \"nobody\""), "{err}");
}

#[test]
fn status_of_a_partial_mirror_and_during_a_running_mirror() {
    let emu = Emu::start(1200, 43);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    run_ok(mirror_cmd(
        &emu,
        &cache,
        USER,
        &["--info-level", "1", "--limit", "50"],
    ));
    let v = json_of(&cache, &["status", USER, "--json"]);
    let s = &v[0];
    let indexed = s["photos_indexed"].as_u64().unwrap();
    assert_eq!(s["photos_total"], 1200);
    assert!((50..=1200).contains(&indexed), "{s}");
    assert_eq!(s["pages_pending"], (1200 - indexed).div_ceil(500), "{s}");
    assert_eq!(s["images_cached"], 50);
    assert_eq!(s["infos_cached"], 50);
    assert_eq!(s["photos_pending"], indexed - 50, "{s}");
    assert_eq!(s["api_calls_last_hour"], emu.stats().total_calls);

    // While a mirror runs (slowed down), status reads the WAL index beside it.
    emu.set_faults(flickr_emulator::Faults {
        latency_ms: 20,
        ..Default::default()
    });
    let mut child = mirror_cmd(&emu, &cache, USER, &["--info-level", "1"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mut seen = 0;
    while start.elapsed() < Duration::from_secs(60) {
        let v = json_of(&cache, &["status", "--json"]);
        let cached = v[0]["images_cached"].as_u64().unwrap();
        assert!((50..=1200).contains(&cached));
        if cached > 60 {
            seen = cached;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(seen > 60, "status never saw the running mirror progress");
    emu.set_faults(flickr_emulator::Faults::default());
    assert!(child.wait().unwrap().success());
    let v = json_of(&cache, &["status", "--json"]);
    assert_eq!(v[0]["images_cached"], 1200);
    assert_eq!(v[0]["photos_pending"], 0);
}

#[test]
fn search_is_accent_insensitive_ranked_and_filters_by_locale() {
    let (emu, dir) = mirrored(1000, 47);
    let cache = dir.path().join("c");
    let exp = emu.expected(USER);

    let want = expected_hits(&cache, &exp, "Nha rong", None);
    assert!(want.len() >= 3, "the corpus should hold Nhà rồng: {want:?}");
    for q in ["Nha rong", "Nhà rồng", "NHÀ RỒNG", "nha   rong"] {
        let v = json_of(&cache, &["search", q, "--json", "--limit", "1000"]);
        assert_eq!(hit_ids(&v), want, "query {q:?}");
    }
    // đ is a letter of its own: folded by hand.
    let want_d = expected_hits(&cache, &exp, "Đường", None);
    assert!(!want_d.is_empty());
    let v = json_of(&cache, &["search", "duong", "--json", "--limit", "1000"]);
    assert_eq!(hit_ids(&v), want_d);

    // Ranked: scores never increase; every hit names its files, its page, its title.
    let v = json_of(
        &cache,
        &[
            "search", "Nha rong", "--json", "--user", USER, "--limit", "1000",
        ],
    );
    let hits = v.as_array().unwrap();
    let scores: Vec<f64> = hits.iter().map(|h| h["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    for h in hits {
        let id = h["id"].as_str().unwrap();
        let p = exp.photos.iter().find(|p| p.id == id).unwrap();
        assert_eq!(h["title"], p.title.as_str());
        assert_eq!(
            h["url"],
            format!("https://www.flickr.com/photos/{NSID}/{id}/")
        );
        let image = h["image"].as_str().unwrap();
        assert_eq!(md5_hex(&std::fs::read(image).unwrap()), p.best_md5);
        assert!(h["info"].as_str().unwrap().ends_with(".json"));
    }
    // --limit keeps the best ones.
    let v = json_of(&cache, &["search", "Nha rong", "--json", "--limit", "2"]);
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[0]["id"], hits[0]["id"]);

    // Locale filter: only texts in that language count.
    for (q, locale) in [("marché", "fra"), ("xưa", "vie"), ("the", "eng")] {
        let want = expected_hits(&cache, &exp, q, Some(locale));
        assert!(!want.is_empty(), "{q} in {locale}");
        let v = json_of(
            &cache,
            &["search", q, "--locale", locale, "--json", "--limit", "1000"],
        );
        assert_eq!(hit_ids(&v), want, "{q} --locale {locale}");
        for h in v.as_array().unwrap() {
            for m in h["matches"].as_array().unwrap() {
                assert_eq!(m["locale"], locale, "{h}");
            }
        }
        let other = if locale == "eng" { "vie" } else { "eng" };
        let v = json_of(
            &cache,
            &["search", q, "--locale", other, "--json", "--limit", "1000"],
        );
        assert_eq!(
            hit_ids(&v),
            expected_hits(&cache, &exp, q, Some(other)),
            "{q} --locale {other}"
        );
    }
    // ISO 639-1 works too.
    let v = json_of(&cache, &["search", "marché", "--locale", "fr", "--json"]);
    assert!(!v.as_array().unwrap().is_empty());
    let out = flickrfs(&cache, &["search", "x", "--locale", "zz-top-9"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown locale"));

    // Text output: title, page URL, file paths.
    let out = flickrfs(&cache, &["search", "Nha rong", "--limit", "1"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("https://www.flickr.com/photos/{NSID}/")));
    assert!(
        text.contains(&cache.join(USER).display().to_string()),
        "{text}"
    );
}

#[test]
fn search_treats_fts_syntax_as_text_never_crashing() {
    let (_emu, dir) = mirrored(300, 53);
    let cache = dir.path().join("c");
    for q in [
        "\"",
        "AND(",
        "(",
        ")",
        "*",
        "\"unbalanced",
        "NEAR(a b",
        "title:saigon",
        "a OR",
        "-x",
        "^",
        "'",
        "{a b}",
        "NOT",
        "AND",
        "\\",
        ":",
        "a\"b",
        "",
    ] {
        let out = flickrfs(&cache, &["search", "--json", "--", q]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{q:?}: {err}");
        match out.status.code() {
            Some(0) => {
                let v: Value = serde_json::from_slice(&out.stdout).unwrap();
                assert!(v.is_array(), "{q:?}");
            }
            Some(1) => {
                assert_eq!(err.trim().lines().count(), 1, "{q:?}: {err}");
                assert!(err.starts_with("flickrfs: error: "), "{q:?}: {err}");
            }
            c => panic!("{q:?}: exit {c:?}: {err}"),
        }
    }
    // Words that are FTS operators are searched literally.
    let out = flickrfs(&cache, &["search", "\"", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    // `title:saigon` is not a column filter but the words "title saigon", next to each other.
    let v = json_of(
        &cache,
        &["search", "title:saigon", "--json", "--limit", "1000"],
    );
    let v2 = json_of(
        &cache,
        &["search", "title saigon", "--json", "--limit", "1000"],
    );
    assert!(hit_ids(&v).is_subset(&hit_ids(&v2)));
    let v = json_of(&cache, &["search", "AND", "--json", "--limit", "1000"]);
    let v2 = json_of(&cache, &["search", "and", "--json", "--limit", "1000"]);
    assert_eq!(hit_ids(&v), hit_ids(&v2));
    assert!(
        !hit_ids(&v).is_empty(),
        "English texts hold the word \"and\""
    );
    // Nothing mirrored under another cache: a clear error.
    let empty = tempfile::tempdir().unwrap();
    let out = flickrfs(empty.path(), &["search", "saigon"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no mirrored photostream"));
}

#[test]
fn mount_search_directory_lists_links_that_resolve() {
    if !fuse_available() {
        return;
    }
    let (emu, dir) = mirrored(600, 59);
    let cache = dir.path().join("c");
    let exp = emu.expected(USER);
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mut m = Mount::start(&emu, &cache, &mnt, USER, &["--no-prefetch"]);
    let search_root = mnt.join(".flickrfs").join("search");
    assert!(search_root.is_dir());

    let q = "Nha rong";
    let want = expected_hits(&cache, &exp, q, None);
    assert!(!want.is_empty());
    let qdir = search_root.join(q);
    let mut names = BTreeSet::new();
    for e in std::fs::read_dir(&qdir).unwrap() {
        let e = e.unwrap();
        assert!(e.file_type().unwrap().is_symlink());
        names.insert(e.file_name().to_string_lossy().to_string());
    }
    let mut want_names = BTreeSet::new();
    for id in &want {
        let p = exp.photos.iter().find(|p| &p.id == id).unwrap();
        want_names.insert(format!("{}.{}", hashed(id), p.ext));
        want_names.insert(format!("{}.json", hashed(id)));
    }
    assert_eq!(names, want_names);
    for id in &want {
        let p = exp.photos.iter().find(|p| &p.id == id).unwrap();
        let h = hashed(id);
        let link = qdir.join(format!("{h}.{}", p.ext));
        let target = std::fs::read_link(&link).unwrap();
        assert_eq!(
            target.to_string_lossy(),
            format!(
                "../../../{}/{}/{}/{}/{h}.{}",
                &h[0..1],
                &h[1..2],
                &h[2..3],
                &h[3..4],
                p.ext
            )
        );
        assert_eq!(md5_hex(&std::fs::read(&link).unwrap()), p.best_md5);
        let info: Value =
            serde_json::from_slice(&std::fs::read(qdir.join(format!("{h}.json"))).unwrap())
                .unwrap();
        assert_eq!(info["title"]["content"], p.title.as_str());
    }
    // The accented form is the same search; a query without words has no directory.
    let accented: BTreeSet<String> = std::fs::read_dir(search_root.join("Nhà rồng"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(accented, want_names);
    assert!(!search_root.join("\"").exists());
    assert!(search_root.join("AND(").is_dir());
    // Past searches are listed; writes are refused.
    let listed: BTreeSet<String> = std::fs::read_dir(&search_root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(
        listed.contains(q) && listed.contains("Nhà rồng"),
        "{listed:?}"
    );
    let err = std::fs::create_dir(search_root.join("x/y")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{err}");
    let stopped = m.stop();
    assert!(stopped.success(), "{stopped:?}\n{}", m.log());
}

/// Resident memory of a process, in bytes.
fn rss_of(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    kb * 1024
}

/// Any number of names looked up under `.flickrfs/search/` keeps the mount's memory bounded:
/// 10,000 distinct names of one common word (each a directory of hundreds of hits, about
/// 100 KB if all were kept) leave the RSS where 1,000 did, the listing holds a bounded number
/// of them, and a dropped name is searched again when looked up.
#[test]
fn ten_thousand_search_names_keep_the_mount_bounded() {
    if !fuse_available() {
        return;
    }
    let (emu, dir) = mirrored(600, 61);
    let cache = dir.path().join("c");
    let exp = emu.expected(USER);
    let mnt = dir.path().join("mnt");
    // The most common word of the titles: many hits for every name.
    let mut freq = std::collections::BTreeMap::<String, usize>::new();
    for p in &exp.photos {
        for w in words(&p.title) {
            if w.chars().count() >= 4 && w.chars().all(char::is_alphabetic) {
                *freq.entry(w).or_default() += 1;
            }
        }
    }
    let (word, n) = freq.into_iter().max_by_key(|(_, n)| *n).unwrap();
    assert!(n >= 50, "{word}: {n}");
    let mut m = Mount::start(&emu, &cache, &mnt, USER, &["--no-prefetch"]);
    let pid = m.child.as_ref().unwrap().id();
    let root = mnt.join(".flickrfs").join("search");
    // Names differ by spaces around the word: the same search, a different directory.
    let name = |i: usize| format!("{}{word}{}", " ".repeat(i % 100), " ".repeat(i / 100));
    let hits = std::fs::read_dir(root.join(name(0))).unwrap().count();
    assert!(hits >= 100, "{hits} entries for {word:?}");
    let mut rss_1000 = 0;
    for i in 0..10_000 {
        let meta = std::fs::metadata(root.join(name(i))).unwrap();
        assert!(meta.is_dir());
        if i == 999 {
            rss_1000 = rss_of(pid);
        }
    }
    let rss_10000 = rss_of(pid);
    assert!(
        rss_10000 < rss_1000 + (16 << 20),
        "RSS grew from {rss_1000} to {rss_10000} bytes over 9,000 more names"
    );
    let listed = std::fs::read_dir(&root).unwrap().count();
    assert!((1..=4096).contains(&listed), "{listed} search directories");
    // The newest name is listed; the first (dropped) is searched again when looked up.
    let again = std::fs::read_dir(root.join(name(0))).unwrap().count();
    assert_eq!(again, hits);
    let stopped = m.stop();
    assert!(stopped.success(), "{stopped:?}\n{}", m.log());
}

#[test]
fn status_counts_failed_runs_and_one_broken_index_spoils_only_its_user() {
    let (emu, dir) = mirrored(60, 43);
    let cache = dir.path().join("c");
    let other = "commonsarchive";
    run_ok(mirror_cmd(&emu, &cache, other, &["--info-level", "1"]));
    // A run that fails (a revoked key) is counted, with its cause, and no photo is blamed.
    let mut c = mirror_cmd(&emu, &cache, USER, &[]);
    c.env("FLICKR_API_KEY", "revoked-key");
    assert!(!c.output().unwrap().status.success());
    let v = json_of(&cache, &["status", USER, "--json"]);
    assert_eq!(v[0]["errors"], 1, "{v}");
    assert_eq!(v[0]["photos_in_error"], 0, "{v}");
    let line = v[0]["recent_errors"][0].as_str().unwrap();
    assert!(line.contains("Invalid API Key"), "{line}");
    assert!(line.contains(" UTC "), "when it happened: {line}");

    // The other user's index is damaged: that user says so, this one still shows.
    let meta = cache.join(other).join(".flickrfs");
    for f in ["index.sqlite-wal", "index.sqlite-shm"] {
        let _ = std::fs::remove_file(meta.join(f));
    }
    std::fs::write(meta.join("index.sqlite"), vec![b'x'; 8192]).unwrap();
    let out = flickrfs(&cache, &["status", "--json"]);
    assert!(!out.status.success(), "a broken index is an error");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let by_user = |u: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|s| s["username"] == u)
            .cloned()
            .unwrap_or_else(|| panic!("{u} missing: {v}"))
    };
    assert_eq!(by_user(USER)["photos_indexed"], 60);
    assert!(by_user(other)["error"].as_str().unwrap().contains(other));
    let text = flickrfs(&cache, &["status"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("photos indexed"), "{text}");
    assert!(text.contains(&format!("{other}  error:")), "{text}");

    // Search too: the good user's photos are still found.
    let exp = emu.expected(USER);
    let word = exp
        .photos
        .iter()
        .flat_map(|p| p.title.split_whitespace())
        .find(|w| w.chars().count() >= 4 && w.chars().all(char::is_alphanumeric))
        .unwrap()
        .to_string();
    let out = flickrfs(&cache, &["search", &word, "--json"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(other), "{err}");
    let hits: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!hits.as_array().unwrap().is_empty(), "{word}");
    assert!(hits.as_array().unwrap().iter().all(|h| h["user"] == USER));
}
