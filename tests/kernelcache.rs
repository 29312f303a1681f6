//! A mount the kernel remembers (long timeouts, listings kept between opens) that is never
//! stale: after growth, a deletion, a replacement and an edit of the live stream, the very
//! next `ls -l`, `stat` and `cat` through the mount show the new state, because the mount
//! tells the kernel exactly what changed (fuser's notifier, driven by the index's change log).

mod common;

use common::*;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const USER: &str = "manhhai";

fn status(mnt: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(mnt.join(".flickrfs/status")).unwrap()).unwrap()
}

/// Names in directory `dir`, read through the kernel (which may answer from its cache).
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Walks the whole tree as `ls -lR` would (every listing and every stat) and reads every
/// file, so that the kernel holds names, attributes, listings and bytes of everything.
fn walk_and_read(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        let md = std::fs::symlink_metadata(&p).unwrap();
        if md.is_dir() {
            walk_and_read(&p);
        } else if md.is_file() {
            std::fs::read(&p).unwrap();
        }
    }
}

/// Up the levels from `file` to `mnt`: each directory lists its child (the file, or a
/// directory that may be new), through the kernel's cached listings.
fn assert_listed_up_to(mnt: &Path, file: &Path) {
    let mut child = file;
    while let Some(d) = child.parent().filter(|d| d.starts_with(mnt)) {
        let name = child.file_name().unwrap().to_string_lossy().into_owned();
        assert!(names(d).contains(&name), "{name} not listed in {d:?}");
        child = d;
    }
}

fn sidecar(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn long_timeouts_never_show_a_stale_name_size_or_byte() {
    if !fuse_available() {
        return;
    }
    let emu = Emu::start(200, 1606);
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
        &["--info-level", "1", "--refresh", "1s", "--no-prefetch"],
    );
    let hashed_root: Vec<PathBuf> = "0123456789abcdef"
        .chars()
        .map(|c| mnt.join(c.to_string()))
        .filter(|p| p.exists())
        .collect();
    for d in &hashed_root {
        walk_and_read(d);
    }
    let path = |id: &str, ext: &str| photo_path(&mnt, "", id, ext, 4);
    // Every leaf directory, as listed before the changes.
    let listed_before: Vec<(PathBuf, Vec<String>)> = before
        .photos
        .iter()
        .map(|p| path(&p.id, &p.ext).parent().unwrap().to_path_buf())
        .map(|d| (d.clone(), names(&d)))
        .collect();

    let deleted = emu.delete(USER, 2, "middle");
    let replaced = emu.replace(USER, 2);
    let edited = emu.edit(USER, 2);
    emu.grow(USER, 3);
    let after = emu.expected(USER);
    let grown: Vec<&flickr_emulator::ExpectedPhoto> = after
        .photos
        .iter()
        .filter(|p| !before.photos.iter().any(|b| b.id == p.id))
        .collect();
    assert_eq!(grown.len(), 3);

    // Wait for the event: the mount's refresh swept the changes into the index (the
    // deletions are noted last, after every other change of the sweep) and the kernel was
    // told of every change logged.
    let start = Instant::now();
    loop {
        let s = status(&mnt);
        if s["photos_deleted"] == 2
            && s["photos_known"] == after.photos.len()
            && s["changes_told"] == s["changes_logged"]
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the mount never caught up: {s}\n{}",
            m.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // Growth: the very next listing of directories listed before shows the new photos, and
    // their stat and bytes are right.
    for p in &grown {
        let file = path(&p.id, &p.ext);
        assert_listed_up_to(&mnt, &file);
        let bytes = std::fs::read(&file).unwrap();
        assert_eq!(md5_hex(&bytes), p.best_md5, "grown {}", p.id);
        assert_eq!(std::fs::metadata(&file).unwrap().size(), bytes.len() as u64);
    }
    // Replacement: new size and new bytes, in `ls -l`, `stat` and `cat` alike.
    for id in &replaced {
        let p = after.photos.iter().find(|p| &p.id == id).unwrap();
        let file = path(id, &p.ext);
        let listed_size = std::fs::read_dir(file.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap())
            .find(|e| e.file_name() == file.file_name().unwrap())
            .map(|e| e.metadata().unwrap().size())
            .expect("replaced photo listed");
        let stat_size = std::fs::metadata(&file).unwrap().size();
        let bytes = std::fs::read(&file).unwrap();
        assert_eq!(
            md5_hex(&bytes),
            p.best_md5,
            "replaced {id}: old bytes served"
        );
        assert_eq!(
            stat_size,
            bytes.len() as u64,
            "replaced {id}: stale stat size"
        );
        assert_eq!(
            listed_size,
            bytes.len() as u64,
            "replaced {id}: stale ls -l size"
        );
    }
    // Edit: the sidecar shows the new texts, with its new size.
    for id in &edited {
        let p = after.photos.iter().find(|p| &p.id == id).unwrap();
        let file = path(id, "json");
        let size = std::fs::metadata(&file).unwrap().size();
        let bytes = std::fs::read(&file).unwrap();
        assert_eq!(size, bytes.len() as u64, "edited {id}: stale sidecar size");
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["title"]["content"], p.title.as_str(), "edited {id}: {v}");
        assert_eq!(v["description"]["content"], p.description.as_str());
    }
    // Deletion: kept (an archive outlives its source), its sidecar says so at once.
    for id in &deleted {
        let p = before.photos.iter().find(|p| &p.id == id).unwrap();
        let v = sidecar(&path(id, "json"));
        assert!(v["deleted_at"].is_i64(), "deleted {id}: {v}");
        let size = std::fs::metadata(path(id, "json")).unwrap().size();
        assert_eq!(size, std::fs::read(path(id, "json")).unwrap().len() as u64);
        assert_eq!(
            md5_hex(&std::fs::read(path(id, &p.ext)).unwrap()),
            p.best_md5
        );
    }
    // Directories listed before list again what they hold now.
    for (d, old) in &listed_before {
        let now = names(d);
        let grew = grown
            .iter()
            .any(|p| path(&p.id, &p.ext).parent() == Some(d.as_path()));
        let renamed = replaced.iter().any(|id| {
            let [b, a] = [&before, &after].map(|e| e.photos.iter().find(|p| &p.id == id).unwrap());
            b.ext != a.ext && path(id, &a.ext).parent() == Some(d.as_path())
        });
        if !grew && !renamed {
            assert_eq!(&now, old, "{d:?} listed differently");
        }
    }
    let stopped = m.stop();
    assert!(stopped.success(), "{stopped:?}\n{}", m.log());
}

/// A download that starts over from zero (the host ignores the retry's `Range` and sends the
/// whole file) while two readers follow it: one from before, one (bypassing the page cache)
/// that starts just as the partial file is cut. Both get the whole, correct file: the cut is
/// visible to readers, and no read returns fewer bytes than the file will have.
#[test]
fn a_reader_following_a_download_that_restarts_gets_the_whole_file() {
    if !fuse_available() {
        return;
    }
    let emu = Emu::start_with(flickr_emulator::EmulatorConfig {
        photos: 3,
        seed: 1614,
        image_kb: 1024,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    let mnt = dir.path().join("mnt");
    let mut m = Mount::start(
        &emu,
        &cache,
        &mnt,
        USER,
        &["--wait-index", "--no-prefetch", "--image-only"],
    );
    let exp = emu.expected(USER);
    let p = exp.photos[0].clone();
    let file = photo_path(&mnt, "", &p.id, &p.ext, 4);
    assert_eq!(std::fs::metadata(&file).unwrap().size(), p.best_bytes);
    // The first GET breaks at half; the retry's Range is ignored (200, the whole file: the
    // download starts over) and its body trickles, 64 KiB every 300 ms.
    emu.set_faults(flickr_emulator::Faults {
        drop_next: 1,
        ignore_range: true,
        trickle_ms: 300,
        ..Default::default()
    });
    let f = file.clone();
    let first = std::thread::spawn(move || std::fs::read(f).unwrap());
    // Wait for the event: the partial file, once longer than zero, cut to zero.
    let hash = hashed(&p.id);
    let partial = || {
        temp_files(&cache)
            .into_iter()
            .find(|t| t.to_string_lossy().contains(&hash))
            .and_then(|t| std::fs::metadata(cache.join(t)).ok())
            .map(|md| md.len())
    };
    let start = Instant::now();
    let mut grown = false;
    loop {
        match partial() {
            Some(n) if n > 0 => grown = true,
            Some(0) if grown => break,
            _ => {}
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the download never restarted\n{}",
            m.log()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    // A second reader, at once, past the page cache (every read reaches the mount).
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    // In 64 KiB reads: the first ones ask for bytes the download had before it was cut.
    let mut second = Vec::new();
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(&file)
        .unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        second.extend_from_slice(&buf[..n]);
    }
    drop(f);
    let first = first.join().unwrap();
    assert_eq!(first.len() as u64, p.best_bytes, "first reader: short file");
    assert_eq!(md5_hex(&first), p.best_md5, "first reader");
    assert_eq!(
        second.len() as u64,
        p.best_bytes,
        "second reader: short file"
    );
    assert_eq!(md5_hex(&second), p.best_md5, "second reader");
    let stats = emu.stats();
    assert_eq!(stats.range_gets, 0, "the Range was ignored");
    assert!(stats.faults_injected >= 1, "the first GET was dropped");
    let stopped = m.stop();
    assert!(stopped.success(), "{stopped}: {}", m.log());
}

/// Another process (a `mirror` on the same cache) indexes new photos while a mount that has
/// listed everything (and would keep those listings for an hour) runs without refreshing on
/// its own: the mount reads the index's change log, tells the kernel, and the very next
/// listings show the new photos, with their bytes.
#[test]
fn photos_another_process_indexes_appear_in_listings_the_kernel_kept() {
    if !fuse_available() {
        return;
    }
    let emu = Emu::start(150, 1607);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "1"]));
    let mnt = dir.path().join("mnt");
    let mut m = Mount::start(
        &emu,
        &cache,
        &mnt,
        USER,
        &["--info-level", "1", "--refresh", "1h", "--no-prefetch"],
    );
    for c in "0123456789abcdef".chars() {
        let d = mnt.join(c.to_string());
        if d.exists() {
            walk_and_read(&d);
        }
    }
    let before = emu.expected(USER);
    emu.grow(USER, 4);
    run_ok(mirror_cmd(&emu, &cache, USER, &["--info-level", "1"]));
    let after = emu.expected(USER);
    let start = Instant::now();
    loop {
        let s = status(&mnt);
        if s["photos_known"] == after.photos.len() && s["changes_told"] == s["changes_logged"] {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the mount never saw the mirror's photos: {s}\n{}",
            m.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for p in after
        .photos
        .iter()
        .filter(|p| !before.photos.iter().any(|b| b.id == p.id))
    {
        let file = photo_path(&mnt, "", &p.id, &p.ext, 4);
        assert_listed_up_to(&mnt, &file);
        assert_eq!(md5_hex(&std::fs::read(&file).unwrap()), p.best_md5);
        let v = sidecar(&photo_path(&mnt, "", &p.id, "json", 4));
        assert_eq!(v["title"]["content"], p.title.as_str());
    }
    let stopped = m.stop();
    assert!(stopped.success(), "{stopped:?}\n{}", m.log());
}
