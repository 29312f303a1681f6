//! The views for people against the emulator: `albums/`, `dates/`, `tags/` in a real mount
//! (names, order, targets, bytes, extended attributes, call counts, find -L and rsync), and
//! the same trees written by `mirror --views` (equal to the mount's, replaced whole).

mod common;

use common::*;
use flickr_emulator::{Expected, Faults};
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

const USER: &str = "manhhai";

/// Every entry under `root/<view>` for the three views: relative path -> link target (`None`
/// for a directory). Never follows a link.
fn view_tree(root: &Path) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    let mut stack: Vec<String> = ["albums", "dates", "tags"].map(String::from).to_vec();
    while let Some(rel) = stack.pop() {
        for e in std::fs::read_dir(root.join(&rel)).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().into_string().expect("names are UTF-8");
            let path = format!("{rel}/{name}");
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(path.clone());
                out.insert(path, None);
            } else {
                assert!(ft.is_symlink(), "{path} is a link");
                let t = std::fs::read_link(e.path()).unwrap();
                out.insert(path, Some(t.to_string_lossy().into_owned()));
            }
        }
    }
    out
}

/// The photo id of an entry name: `… (<id>).<ext>` or `<id>.<ext>` (after an album prefix).
fn id_of(name: &str) -> String {
    let name = name.rsplit('/').next().unwrap();
    let stem = name.rsplit_once('.').unwrap().0;
    match stem.strip_suffix(')') {
        Some(s) => s[s.rfind('(').unwrap() + 1..].to_string(),
        None => stem.rsplit(' ').next().unwrap().to_string(),
    }
}

/// Album directory names as the issue asks: the title, and ` (<id>)` when titles collide.
fn album_names(exp: &Expected) -> Vec<String> {
    exp.sets
        .iter()
        .map(|s| {
            let dup = exp.sets.iter().filter(|o| o.title == s.title).count() > 1;
            if dup {
                format!("{} ({})", s.title, s.id)
            } else {
                s.title.clone()
            }
        })
        .collect()
}

fn expected_date_dir(p: &flickr_emulator::ExpectedPhoto) -> String {
    let (y, m) = (&p.date_taken[0..4], &p.date_taken[5..7]);
    if p.date_taken_unknown {
        "unknown".into()
    } else if p.date_taken_granularity >= 6 {
        y.to_string()
    } else {
        format!("{y}/{m}")
    }
}

fn getfattr(path: &Path, name: &str) -> String {
    let out = Command::new("getfattr")
        .args(["--only-values", "-n", name])
        .arg(path)
        .output()
        .expect("getfattr is installed (apt-get install attr)");
    assert!(out.status.success(), "getfattr -n {name}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn mounted_views_match_the_emulator() {
    if !fuse_available() {
        return;
    }
    let emu = Emu::start(300, 41);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let mnt = dir.path().join("mnt");
    let _m = Mount::start(&emu, &cache, &mnt, USER, &["--no-prefetch", "--wait-index"]);
    let exp = emu.expected(USER);
    let photos: BTreeMap<&str, &flickr_emulator::ExpectedPhoto> =
        exp.photos.iter().map(|p| (p.id.as_str(), p)).collect();
    let sets = |e: &Emu| e.calls("flickr.photosets.getList");
    let set_photos = |e: &Emu| e.calls("flickr.photosets.getPhotos");

    // The root shows the views and README.txt; nothing about albums is fetched before a look.
    let root: BTreeSet<String> = std::fs::read_dir(&mnt)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    for name in ["albums", "dates", "tags", "README.txt", ".flickrfs"] {
        assert!(root.contains(name), "{name} in {root:?}");
    }
    let readme = std::fs::read_to_string(mnt.join("README.txt")).unwrap();
    assert!(readme.contains("albums/") && readme.contains("dates/") && readme.contains("tags/"));
    std::fs::metadata(mnt.join("albums")).unwrap();
    assert_eq!(
        (sets(&emu), set_photos(&emu)),
        (0, 0),
        "a stat fetches nothing"
    );

    // albums/: every set, duplicate titles told apart; one getList call for <= 500 sets.
    let got: BTreeSet<String> = std::fs::read_dir(mnt.join("albums"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let names = album_names(&exp);
    assert!(exp.sets.len() >= 3, "the emulator has sets");
    assert!(names.iter().any(|n| n.ends_with(')')), "a duplicate title");
    assert_eq!(got, names.iter().cloned().collect::<BTreeSet<_>>());
    assert_eq!((sets(&emu), set_photos(&emu)), (1, 0));

    // An album: entries in the set's order by name, resolving to the right bytes.
    let (set, name) = (&exp.sets[0], &names[0]);
    let album = mnt.join("albums").join(name);
    let mut entries: Vec<String> = std::fs::read_dir(&album)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    entries.sort();
    assert_eq!(entries.len(), 2 * set.photos.len());
    let images: Vec<&String> = entries.iter().filter(|n| !n.ends_with(".json")).collect();
    let ids: Vec<String> = images.iter().map(|n| id_of(n)).collect();
    assert_eq!(ids, set.photos, "set order");
    for (i, n) in images.iter().enumerate() {
        let p = photos[ids[i].as_str()];
        assert!(n.starts_with(&format!("{:03} ", i + 1)), "{n}");
        assert!(n.ends_with(&format!(".{}", p.ext)), "{n}");
        let path = album.join(n);
        let link = std::fs::read_link(&path).unwrap();
        let want = Path::new("../..").join(photo_path(Path::new(""), "", &p.id, &p.ext, 4));
        assert_eq!(link, want, "relative target of {n}");
        assert_eq!(md5_hex(&std::fs::read(&path).unwrap()), p.best_md5, "{n}");
    }
    assert_eq!((sets(&emu), set_photos(&emu)), (1, 1));
    // Every album looked at: exactly ceil(sets/500) + ceil(size/500) per album.
    let tree = view_tree(&mnt);
    let per_album: u64 = exp
        .sets
        .iter()
        .map(|s| s.photos.len().div_ceil(500) as u64)
        .sum();
    assert_eq!((sets(&emu), set_photos(&emu)), (1, per_album));
    for (s, n) in exp.sets.iter().zip(&names) {
        let in_album: Vec<String> = tree
            .range(format!("albums/{n}/")..)
            .take_while(|(k, _)| k.starts_with(&format!("albums/{n}/")))
            .filter(|(k, _)| !k.ends_with(".json"))
            .map(|(k, _)| id_of(k))
            .collect();
        assert_eq!(in_album, s.photos, "{n}");
    }

    // dates/ and tags/ hold every photo where the emulator says, image and sidecar.
    let mut by_date: BTreeMap<String, String> = BTreeMap::new();
    let mut by_tag: BTreeSet<(String, String)> = BTreeSet::new();
    for (path, target) in &tree {
        let Some(target) = target else { continue };
        let (dir, name) = path.rsplit_once('/').unwrap();
        let id = id_of(name);
        let p = photos[id.as_str()];
        let ext = if name.ends_with(".json") {
            "json"
        } else {
            &p.ext
        };
        let up = "../".repeat(dir.matches('/').count() + 1);
        let want = format!(
            "{up}{}",
            photo_path(Path::new(""), "", &p.id, ext, 4).display()
        );
        assert_eq!(target, &want, "{path}");
        if let Some(d) = dir.strip_prefix("dates/") {
            if ext != "json" {
                assert!(by_date.insert(id.clone(), d.to_string()).is_none());
            }
        } else if let Some(t) = dir.strip_prefix("tags/") {
            by_tag.insert((t.to_string(), id.clone()));
        }
    }
    let want_dates: BTreeMap<String, String> = exp
        .photos
        .iter()
        .map(|p| (p.id.clone(), expected_date_dir(p)))
        .collect();
    assert_eq!(by_date, want_dates);
    assert!(by_date.values().any(|d| d == "unknown"));
    assert!(by_date.values().any(|d| d.len() == 4), "a year-only date");
    let want_tags: BTreeSet<(String, String)> = exp
        .photos
        .iter()
        .flat_map(|p| p.tags.iter().map(|t| (t.clone(), p.id.clone())))
        .collect();
    assert!(!want_tags.is_empty());
    assert_eq!(by_tag, want_tags);

    // Names a person can read, valid whatever the title.
    let name_of = |id: &str| {
        tree.iter()
            .filter(|(k, t)| t.is_some() && k.starts_with("dates/") && !k.ends_with(".json"))
            .map(|(k, _)| k.rsplit_once('/').unwrap().1.to_string())
            .find(|n| id_of(n) == id)
            .unwrap()
    };
    let slash = exp
        .photos
        .iter()
        .find(|p| p.title.contains('/'))
        .expect("a title with a slash");
    let n = name_of(&slash.id);
    assert_eq!(
        n,
        format!(
            "{} ({}).{}",
            slash.title.replace('/', "_"),
            slash.id,
            slash.ext
        )
    );
    let long = exp
        .photos
        .iter()
        .find(|p| p.title.len() >= 300)
        .expect("a 300-byte title");
    let n = name_of(&long.id);
    assert!(n.len() <= 255, "{} bytes", n.len());
    assert!(long.title.starts_with(n.rsplit_once(" (").unwrap().0));
    assert!(n.ends_with(&format!(" ({}).{}", long.id, long.ext)));
    if let Some(untitled) = exp.photos.iter().find(|p| p.title.trim().is_empty()) {
        assert_eq!(
            name_of(&untitled.id),
            format!("{}.{}", untitled.id, untitled.ext)
        );
    }

    // Extended attributes, through a view's link and on the hashed file.
    let p = photos[set.photos[0].as_str()];
    let via_album = album.join(images[0]);
    let hashed = photo_path(&mnt, "", &p.id, &p.ext, 4);
    for f in [&via_album, &hashed, &photo_path(&mnt, "", &p.id, "json", 4)] {
        assert_eq!(
            getfattr(f, "user.xdg.origin.url"),
            format!("https://www.flickr.com/photos/{USER}/{}/", p.id)
        );
        assert_eq!(getfattr(f, "user.flickr.id"), p.id);
        assert_eq!(getfattr(f, "user.flickr.title"), p.title);
        assert!(getfattr(f, "user.xdg.comment").starts_with(&p.title));
    }
    let tagged = exp.photos.iter().find(|p| p.tags.len() >= 2).unwrap();
    assert_eq!(
        getfattr(
            &photo_path(&mnt, "", &tagged.id, &tagged.ext, 4),
            "user.xdg.tags"
        ),
        tagged.tags.join(",")
    );
    let dump = Command::new("getfattr")
        .arg("-d")
        .arg(&via_album)
        .output()
        .unwrap();
    let dump = String::from_utf8_lossy(&dump.stdout);
    for name in [
        "user.xdg.origin.url",
        "user.xdg.comment",
        "user.flickr.id",
        "user.flickr.title",
    ] {
        assert!(dump.contains(name), "{name} in {dump}");
    }
    // An attribute that is not there, and a buffer too small (size probe, then ERANGE).
    let none = Command::new("getfattr")
        .args(["-n", "user.nothing"])
        .arg(&hashed)
        .output()
        .unwrap();
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("No such attribute"));
    let c = std::ffi::CString::new(hashed.as_os_str().as_encoded_bytes()).unwrap();
    let n = std::ffi::CString::new("user.flickr.id").unwrap();
    let mut buf = [0u8; 4];
    // SAFETY: valid paths and a buffer of the size given.
    let need = unsafe { libc::getxattr(c.as_ptr(), n.as_ptr(), std::ptr::null_mut(), 0) };
    assert_eq!(need, p.id.len() as isize);
    let r = unsafe { libc::getxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), 4) };
    assert_eq!(r, -1);
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::ERANGE)
    );
    // Names outside `user.` (what `ls -l` asks of every entry): not supported, on a file and
    // on a directory, through the kernel, so that `ls` stops asking; `user.` ones stay
    // "no such attribute".
    let parent =
        std::ffi::CString::new(hashed.parent().unwrap().as_os_str().as_encoded_bytes()).unwrap();
    for (path, name, want) in [
        (&c, "security.selinux", libc::EOPNOTSUPP),
        (&c, "system.posix_acl_access", libc::EOPNOTSUPP),
        (&parent, "system.posix_acl_default", libc::EOPNOTSUPP),
        (&parent, "security.selinux", libc::EOPNOTSUPP),
        (&c, "user.nothing", libc::ENODATA),
    ] {
        let n = std::ffi::CString::new(name).unwrap();
        // SAFETY: valid paths and a buffer of the size given.
        let r = unsafe { libc::getxattr(path.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), 4) };
        let e = std::io::Error::last_os_error().raw_os_error();
        assert_eq!((r, e), (-1, Some(want)), "{name}");
    }
    // ... and `ls -l` takes that answer in its stride: no error, no ACL mark.
    let ls = Command::new("ls")
        .args(["-lR", "albums"])
        .arg(hashed.parent().unwrap())
        .current_dir(&mnt)
        .output()
        .unwrap();
    assert!(
        ls.status.success() && ls.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&ls.stderr)
    );
    let out = String::from_utf8_lossy(&ls.stdout);
    assert!(out
        .lines()
        .all(|l| !l.split(' ').next().unwrap().ends_with('+')));
    let file = hashed.file_name().unwrap().to_string_lossy().into_owned();
    assert!(out.contains(&file), "{file} in {out}");

    // find -L over the views: no loop, every link a file.
    let find = Command::new("find")
        .arg("-L")
        .args(["albums", "dates", "tags"])
        .args(["-type", "f"])
        .current_dir(&mnt)
        .output()
        .unwrap();
    assert!(
        find.status.success(),
        "{}",
        String::from_utf8_lossy(&find.stderr)
    );
    let links = tree.values().filter(|t| t.is_some()).count();
    assert_eq!(String::from_utf8_lossy(&find.stdout).lines().count(), links);

    // rsync -a of the whole mount: the views arrive as links, not as second copies.
    let dst = dir.path().join("copy");
    let out = Command::new("rsync")
        .arg("-a")
        .arg(format!("{}/", mnt.display()))
        .arg(&dst)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(view_tree(&dst), tree);
    let mut regular = 0;
    let mut stack = vec![dst.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() && !e.path().starts_with(dst.join(".flickrfs")) {
                regular += 1;
            }
        }
    }
    assert_eq!(
        regular,
        2 * exp.photos.len() + 1,
        "images, sidecars and README.txt"
    );
}

fn tree_inode(dir: &Path) -> u64 {
    std::fs::metadata(dir).unwrap().ino()
}

#[test]
fn mirror_views_match_the_mount_and_survive_an_interrupted_rebuild() {
    if !fuse_available() {
        return;
    }
    let emu = Emu::start(300, 5);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let user_dir = cache.join(USER);
    run_ok(mirror_cmd(&emu, &cache, USER, &["--views"]));
    let exp = emu.expected(USER);
    let per_album: u64 = exp
        .sets
        .iter()
        .map(|s| s.photos.len().div_ceil(500) as u64)
        .sum();
    assert_eq!(emu.calls("flickr.photosets.getList"), 1);
    assert_eq!(emu.calls("flickr.photosets.getPhotos"), per_album);
    let written = view_tree(&user_dir);
    assert!(written.len() > 4 * exp.photos.len());
    // Every link resolves into the cache, to the right bytes.
    for (path, target) in &written {
        if target.is_some() && path.ends_with(".jpg") {
            let id = id_of(path);
            let p = exp.photos.iter().find(|p| p.id == id).expect(path);
            assert_eq!(
                md5_hex(&std::fs::read(user_dir.join(path)).unwrap()),
                p.best_md5
            );
        }
    }

    // The mount shows exactly the same trees.
    let mnt = dir.path().join("mnt");
    let mut m = Mount::start(&emu, &cache, &mnt, USER, &["--no-prefetch"]);
    assert_eq!(view_tree(&mnt), written);
    m.stop();

    // A rebuild killed while it fetches (before any tree is written) leaves every view as it
    // was: same directories, same links. Every REST call now takes at least 2 s, so the kill
    // lands while the album list is still being answered.
    let before: Vec<u64> = ["albums", "dates", "tags"]
        .iter()
        .map(|v| tree_inode(&user_dir.join(v)))
        .collect();
    let leftover = user_dir.join(".flickrfs/views-building-tags");
    std::fs::create_dir_all(leftover.join("half")).unwrap();
    std::os::unix::fs::symlink("../../x.jpg", leftover.join("half/x (1).jpg")).unwrap();
    emu.set_faults(Faults {
        latency_ms: 2000,
        ..Faults::default()
    });
    let lists = emu.calls("flickr.photosets.getList");
    let mut child = mirror_cmd(&emu, &cache, USER, &["--views"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    while emu.calls("flickr.photosets.getList") == lists {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the mirror ended early"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(view_tree(&user_dir), written, "the old views are intact");
    let after: Vec<u64> = ["albums", "dates", "tags"]
        .iter()
        .map(|v| tree_inode(&user_dir.join(v)))
        .collect();
    assert_eq!(after, before, "no view was swapped");

    // The next run rebuilds every view whole, without the leftover, and removes stale links.
    emu.set_faults(Faults::default());
    let deleted = emu.delete(USER, 5, "random");
    run_ok(mirror_cmd(&emu, &cache, USER, &["--views", "--rescan"]));
    assert!(!leftover.exists());
    let rebuilt = view_tree(&user_dir);
    assert!(!rebuilt.keys().any(|k| k.contains("half")));
    for (v, ino) in ["albums", "dates", "tags"].iter().zip(&before) {
        assert_ne!(tree_inode(&user_dir.join(v)), *ino, "{v} was replaced");
    }
    // Deleted photos stay in the archive (dates, tags) but leave the albums, as on Flickr.
    let exp = emu.expected(USER);
    for id in &deleted {
        assert!(!rebuilt
            .iter()
            .any(|(k, t)| t.is_some() && k.starts_with("albums/") && id_of(k) == *id));
    }
    let album_links = rebuilt
        .iter()
        .filter(|(k, t)| k.starts_with("albums/") && t.is_some())
        .count();
    assert_eq!(
        album_links,
        2 * exp.sets.iter().map(|s| s.photos.len()).sum::<usize>()
    );
    let mut m = Mount::start(&emu, &cache, &mnt, USER, &["--no-prefetch"]);
    assert_eq!(view_tree(&mnt), rebuilt);
    m.stop();
}
