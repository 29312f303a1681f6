//! A live photostream against the emulator: photos deleted anywhere, made public in the middle,
//! edited, replaced, private (short pages), and originals tied with a derived size. After one
//! run the cache equals the stream (images by md5, sidecars by content, deleted photos kept and
//! flagged), within the listing budget; a second run with nothing changed costs one call.

mod common;

use common::*;
use std::collections::HashSet;

const USER: &str = "manhhai";

fn listing_calls(emu: &Emu) -> u64 {
    emu.calls("flickr.people.getPhotos")
}

fn sidecar(cache: &std::path::Path, id: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(photo_path(cache, USER, id, "json", 4)).unwrap()).unwrap()
}

/// Every deleted photo keeps its files and says when it was first missed.
fn assert_deleted_kept(cache: &std::path::Path, ids: &[String], exts: &[(String, String)]) {
    for id in ids {
        let v = sidecar(cache, id);
        assert!(v["deleted_at"].as_i64().is_some(), "{id}: {v}");
        let ext = &exts.iter().find(|(i, _)| i == id).unwrap().1;
        assert!(
            photo_path(cache, USER, id, ext, 4).exists(),
            "{id} image kept"
        );
    }
}

fn exts(exp: &flickr_emulator::Expected) -> Vec<(String, String)> {
    exp.photos
        .iter()
        .map(|p| (p.id.clone(), p.ext.clone()))
        .collect()
}

/// The first case: deletions and growth between two runs used to leave new photos
/// silently unfetched.
#[test]
fn deletions_and_growth_between_runs() {
    let emu = Emu::start(2000, 101);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "1"]));
    let before = exts(&emu.expected(USER));
    let deleted = emu.delete(USER, 50, "middle");
    emu.grow(USER, 520);
    emu.e().reset_stats();
    let out = run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "1"]));
    let exp = emu.expected(USER);
    assert_eq!(exp.photos.len(), 2470);
    check_cache(&cache, &exp, 1, 4).assert_complete(2470, true, true);
    assert_deleted_kept(&cache, &deleted, &before);
    // A sweep: every page once (windows overlap by a photo), plus page 1 that found the counts
    // disagreeing.
    let n = exp.listed_total as u64;
    assert!(
        listing_calls(&emu) <= n.div_ceil(500) + 2,
        "{} listing calls for {n} photos",
        listing_calls(&emu)
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("50 photos are no longer in the photostream"),
        "{log}"
    );
    // Nothing changed: one call.
    emu.e().reset_stats();
    run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "1"]));
    assert_eq!(emu.stats().total_calls, 1, "{:?}", emu.stats().calls);
    // status and search know the deleted ones.
    let status = || {
        let mut c = std::process::Command::new(bin("flickrfs"));
        c.args(["status", USER, "--json", "--cache-path"])
            .arg(&cache);
        c
    };
    let out = run_ok(status());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["photos_deleted"], 50, "{v}");
    assert_eq!(v[0]["photos_pending"], 0, "{v}");
    // --prune-deleted removes them, and only them.
    emu.e().reset_stats();
    run_ok(mirror_cmd(
        &emu,
        &cache,
        USER,
        &["--info-level", "1", "--prune-deleted"],
    ));
    assert_eq!(emu.stats().total_calls, 1);
    for id in &deleted {
        let ext = &before.iter().find(|(i, _)| i == id).unwrap().1;
        assert!(
            !photo_path(&cache, USER, id, ext, 4).exists(),
            "{id} pruned"
        );
        assert!(
            !photo_path(&cache, USER, id, "json", 4).exists(),
            "{id} pruned"
        );
    }
    check_cache(&cache, &exp, 1, 4).assert_complete(2470, true, true);
    let out = run_ok(status());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["photos_deleted"], 0, "{v}");
    assert_eq!(v[0]["photos_indexed"], 2470, "{v}");
}

/// Every kind of change at once, at level 2: one run reconciles it all.
#[test]
fn inserts_edits_replacements_deletions_and_short_pages_in_one_run() {
    let emu = Emu::start(1500, 103);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "2"]));
    let before = exts(&emu.expected(USER));
    let deleted = emu.delete(USER, 30, "random");
    let inserted = emu.insert(USER, 40);
    let edited = emu.edit(USER, 60);
    let replaced = emu.replace(USER, 25);
    emu.set_private(USER, 0.03);
    emu.grow(USER, 10);
    emu.e().reset_stats();
    run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "2"]));
    let exp = emu.expected(USER);
    let n = exp.photos.len();
    check_cache(&cache, &exp, 2, 4).assert_complete(n, true, true);
    assert_deleted_kept(&cache, &deleted, &before);
    for id in &inserted {
        assert!(exp.photos.iter().any(|p| &p.id == id));
    }
    // Comments keep Flickr's fields.
    for p in exp
        .photos
        .iter()
        .filter(|p| !p.comment_details.is_empty())
        .take(20)
    {
        let v = sidecar(&cache, &p.id);
        for (c, want) in v["comments"]
            .as_array()
            .unwrap()
            .iter()
            .zip(&p.comment_details)
        {
            assert_eq!(c["content"], want.text.as_str());
            assert_eq!(c["id"], want.id.as_str());
            assert_eq!(c["author"], want.author.as_str());
            assert_eq!(c["authorname"], want.authorname.as_str());
            assert_eq!(c["date"], want.datecreate);
            assert_eq!(c["permalink"], want.permalink.as_str());
            assert_eq!(c["html"], want.raw.as_str());
        }
    }
    // Listing within budget; per-photo calls only for what changed.
    let listed = exp.listed_total as u64;
    assert!(
        listing_calls(&emu) <= listed.div_ceil(500) + 2,
        "{} listing calls",
        listing_calls(&emu)
    );
    let touched: HashSet<&String> = edited.iter().chain(&replaced).chain(&inserted).collect();
    assert!(
        emu.calls("flickr.photos.comments.getList") <= touched.len() as u64 + 10,
        "comments calls: {}",
        emu.calls("flickr.photos.comments.getList")
    );
    // No placeholder saved, and nothing is fetched again next time.
    emu.e().reset_stats();
    run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "2"]));
    assert_eq!(emu.stats().total_calls, 1, "{:?}", emu.stats().calls);
    assert_eq!(emu.stats().image_gets, 0);
    // A forced sweep finds nothing more to do, and --verify-image converges.
    emu.e().reset_stats();
    run_ok(mirror_cmd(
        &emu,
        &cache,
        USER,
        &["--info-level", "2", "--rescan", "--verify-image"],
    ));
    assert_eq!(emu.stats().image_gets, 0);
    assert_eq!(emu.calls("flickr.photos.comments.getList"), 0);
    check_cache(&cache, &exp, 2, 4).assert_complete(n, true, true);
}

/// A photo replaced on Flickr before its image was fetched: its old URL now redirects to the
/// placeholder, which must never be saved; the run finds the new image itself.
#[test]
fn a_gone_url_is_never_saved_and_the_run_finds_the_new_image() {
    let emu = Emu::start(600, 107);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    // Lists everything (the URLs are in the index), fetches no image.
    run_ok(mirror_cmd(
        &emu,
        &cache,
        USER,
        &["--info-level", "1", "--info-only"],
    ));
    let exp = emu.expected(USER);
    let old: Vec<String> = exp.photos[550..555].iter().map(|p| p.id.clone()).collect();
    emu.control(&format!("/_replace?user={USER}&ids={}", old.join(",")));
    // Page 1 looks unchanged, so the old URLs are tried: each redirects to the placeholder.
    emu.e().reset_stats();
    let out = run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "1"]));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("image URLs are gone"), "{log}");
    for id in &old {
        assert_eq!(
            emu.stats().image_gets_by_photo.get(id),
            Some(&1),
            "{id}: the new image, once"
        );
    }
    let exp = emu.expected(USER);
    check_cache(&cache, &exp, 1, 4).assert_complete(600, true, true);
}

/// Originals as large as a derived size win (a PNG stays a PNG), and private photos leave
/// short pages that the mirror neither trips on nor re-lists forever.
#[test]
fn ties_and_short_pages() {
    let emu = Emu::start(1200, 109);
    emu.control(&format!("/_ties?user={USER}&rate=0.3"));
    emu.set_private(USER, 0.05);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "0"]));
    let exp = emu.expected(USER);
    assert!(exp.photos.iter().filter(|p| p.ext == "png").count() > 50);
    check_cache(&cache, &exp, 0, 4).assert_complete(exp.photos.len(), true, true);
    assert!(listing_calls(&emu) <= (exp.listed_total as u64).div_ceil(500) + 1);
    // Short pages are not pages to come.
    let mut status = std::process::Command::new(bin("flickrfs"));
    status
        .args(["status", USER, "--json", "--cache-path"])
        .arg(&cache);
    let v: serde_json::Value = serde_json::from_slice(&run_ok(status).stdout).unwrap();
    assert_eq!(v[0]["pages_pending"], 0, "{v}");
    assert_eq!(v[0]["photos_total"], exp.listed_total, "{v}");
    emu.e().reset_stats();
    run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "0"]));
    assert_eq!(emu.stats().total_calls, 1, "{:?}", emu.stats().calls);
}

/// Through a mount: new, inserted and edited photos show without a remount (`--refresh`),
/// deleted ones stay while cached, and the placeholder is never served.
#[test]
fn a_mount_follows_the_live_stream() {
    if !fuse_available() {
        return;
    }
    let emu = Emu::start(400, 113);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "1"]));
    let before = emu.expected(USER);
    let mnt = dir.path().join("mnt");
    let mut m = Mount::start(
        &emu,
        &cache,
        &mnt,
        USER,
        &["--info-level", "1", "--refresh", "1s"],
    );
    let deleted = emu.delete(USER, 5, "middle");
    let inserted = emu.insert(USER, 7);
    let edited = emu.edit(USER, 6);
    emu.grow(USER, 3);
    let exp = emu.expected(USER);
    // Wait (for the event, with a generous bound) until every current photo is in the tree.
    let start = std::time::Instant::now();
    let names = |p: &flickr_emulator::ExpectedPhoto| photo_path(&mnt, "", &p.id, &p.ext, 4);
    while !exp.photos.iter().all(|p| names(p).exists()) {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "new photos never appeared in the mount\n{}",
            m.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    for p in exp.photos.iter().filter(|p| inserted.contains(&p.id)) {
        let bytes = std::fs::read(names(p)).unwrap();
        assert_eq!(md5_hex(&bytes), p.best_md5, "inserted {}", p.id);
    }
    // Edited sidecars show the new texts (the sweep that found the inserts saw the edits).
    let start = std::time::Instant::now();
    for p in exp.photos.iter().filter(|p| edited.contains(&p.id)) {
        let path = photo_path(&mnt, "", &p.id, "json", 4);
        loop {
            let v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            if v["title"]["content"] == p.title.as_str()
                && v["description"]["content"] == p.description.as_str()
            {
                break;
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(60),
                "edit of {} never showed: {v}",
                p.id
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    // Deleted photos stay readable (cached), flagged in their sidecar.
    for id in &deleted {
        let p = before.photos.iter().find(|p| &p.id == id).unwrap();
        let bytes = std::fs::read(photo_path(&mnt, "", id, &p.ext, 4)).unwrap();
        assert_eq!(md5_hex(&bytes), p.best_md5);
    }
    assert_eq!(
        emu.stats().placeholder_gets,
        0,
        "the placeholder was fetched"
    );
    let stopped = m.stop();
    assert!(stopped.success(), "{stopped:?}\n{}", m.log());
}
