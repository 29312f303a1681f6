//! FlickrFs without a kernel, in the style of mountpoint-s3's reference tests: a cache and an
//! index built by hand, then lookups, attributes, listings, opens and reads through the same
//! calls the FUSE adapter makes. No network: the API URL points at a closed port, and nothing
//! here may need it.

use super::*;
use crate::cache::db::Index;
use crate::cache::files::Store;
use crate::engine::SyncOptions;
use crate::flickr::{ClientOptions, FlickrApi, FlickrUser};
use crate::photo::{self, Photo, Size};
use inode::README_NAME;

struct Fixture {
    fs: FlickrFs,
    photos: Vec<(Photo, Vec<u8>)>,
    _dir: tempfile::TempDir,
}

/// A cache of `n` photos at `depth`, every image cached, sidecars at `level` when given.
fn fixture(n: usize, depth: usize, level: Option<i32>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "someone", depth).unwrap();
    let index = Index::open(&store.meta_dir().join("index.sqlite")).unwrap();
    let mut photos = Vec::new();
    for i in 0..n {
        let id = format!("{}", 5_000_000 + i);
        let p = Photo {
            title: format!("Photo {i}"),
            description: "Chợ Bến Thành".into(),
            date_upload: 1_262_304_000 + i as i64,
            last_update: 1_262_304_000 + i as i64,
            date_taken: Some(format!("1960-0{}-15 10:00:00", 1 + i % 2)),
            tags: if i % 2 == 0 {
                "saigon hue".into()
            } else {
                String::new()
            },
            best: Some(Size {
                label: "Original".into(),
                width: 10,
                height: 10,
                url: format!("http://127.0.0.1:9/img/{id}_o.jpg"),
                media: "photo".into(),
            }),
            ..Photo::listed(id)
        };
        let bytes = format!("image bytes of {}", p.id)
            .repeat(100 + i)
            .into_bytes();
        store
            .write_atomic(&store.image_path(&p.id, "jpg"), &bytes, Some(p.date_upload))
            .unwrap();
        photos.push((p, bytes));
    }
    let listed: Vec<&Photo> = photos.iter().map(|(p, _)| p).collect();
    index.upsert_listed(&listed, 1).unwrap();
    for (p, bytes) in &photos {
        index.set_image_cached(&p.id, bytes.len() as u64).unwrap();
    }
    let opts = SyncOptions {
        info_level: level,
        ..SyncOptions::default()
    };
    let engine = offline_engine(store, index, opts);
    let fs = FlickrFs::new(
        engine,
        FsOptions {
            albums_max_age: std::time::Duration::from_secs(600),
            show_images: true,
            info_level: level,
        },
    );
    Fixture {
        fs,
        photos,
        _dir: dir,
    }
}

fn names(fs: &FlickrFs, ino: u64) -> Vec<String> {
    fs.readdir(ino)
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect()
}

/// Looks `path` up from the root, component by component, like the kernel.
fn walk(fs: &FlickrFs, rt: &tokio::runtime::Runtime, path: &str) -> Result<Attr> {
    let mut ino = ROOT_INO;
    let mut attr = fs.attr_now(ROOT_INO).unwrap()?;
    for part in path.split('/').filter(|p| !p.is_empty()) {
        attr = match fs.lookup_now(ino, part) {
            Some(r) => r?,
            None => rt.block_on(fs.lookup(ino, part))?,
        };
        ino = attr.ino;
    }
    Ok(attr)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// An engine of user "someone" (1@N01) whose API answers nothing: what these tests serve
/// must come from the index and the store.
fn offline_engine(store: Store, index: Index, opts: SyncOptions) -> Arc<Engine> {
    let api = FlickrApi::with_options(
        "k",
        "s",
        ClientOptions {
            api_url: "http://127.0.0.1:9/services/rest/".into(),
            // A call that slips through fails at once, not after a minute of retries.
            max_retries: 0,
            ..ClientOptions::default()
        },
    )
    .unwrap();
    let user = FlickrUser {
        user_id: "1@N01".into(),
        username: "someone".into(),
    };
    Engine::new(api, user, store, index, opts).unwrap()
}

#[test]
fn depth_4_tree_lookups_attributes_and_reads() {
    let f = fixture(20, 4, Some(1));
    let rt = rt();
    let root = names(&f.fs, ROOT_INO);
    assert_eq!(
        root[..5],
        [META_NAME, README_NAME, "albums", "dates", "tags"]
    );
    let mut firsts: Vec<String> = f.photos.iter().map(|(p, _)| p.hash()[..1].into()).collect();
    firsts.sort();
    firsts.dedup();
    assert_eq!(
        root[5..],
        firsts[..],
        "only levels that hold a photo are listed"
    );
    for (p, bytes) in &f.photos {
        let h = p.hash();
        let image = walk(&f.fs, &rt, &photo::hashed_path(&h, 4, "jpg")).unwrap();
        assert_eq!(image.kind, Kind::File);
        assert_eq!(image.size, bytes.len() as u64);
        assert_eq!(image.mtime, p.date_upload);
        assert!(image.stable);
        // Reads by offset, across the end.
        let (fh, keep) = f.fs.open(image.ino, false).unwrap();
        assert!(keep, "a cached image may stay in the page cache");
        let head = rt.block_on(f.fs.read(fh, 0, 7)).unwrap();
        assert_eq!(head, bytes[..7]);
        let tail = rt
            .block_on(f.fs.read(fh, bytes.len() as u64 - 3, 4096))
            .unwrap();
        assert_eq!(tail, bytes[bytes.len() - 3..]);
        assert!(rt
            .block_on(f.fs.read(fh, bytes.len() as u64 + 10, 10))
            .unwrap()
            .is_empty());
        f.fs.release(fh);
        // The sidecar is rendered on first look, and its size is exact.
        let json = walk(&f.fs, &rt, &photo::hashed_path(&h, 4, "json")).unwrap();
        let (fh, keep) = f.fs.open(json.ino, false).unwrap();
        assert!(!keep);
        let body = rt.block_on(f.fs.read(fh, 0, 1 << 20)).unwrap();
        assert_eq!(body.len() as u64, json.size);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["title"]["content"], p.title);
        assert_eq!(v["description"]["content"], "Chợ Bến Thành");
        assert!(v.get("comments").is_none(), "level 1 has no comments");
    }
    // Names that are not there.
    let h = f.photos[0].0.hash();
    let dir = photo::hashed_dir(&h, 4);
    for bad in [
        format!("{dir}/{h}.png"),
        format!("{dir}/{}.jpg", "0".repeat(32)),
        format!("{}/x", &h[..1]),
        h[..1].to_uppercase(),
        "g".into(),
    ] {
        let e = walk(&f.fs, &rt, &bad).unwrap_err();
        assert_eq!(e.errno(), libc::ENOENT, "{bad}");
    }
    // A file is not a directory.
    let image = walk(&f.fs, &rt, &photo::hashed_path(&h, 4, "jpg")).unwrap();
    assert_eq!(
        f.fs.lookup_now(image.ino, "x")
            .unwrap()
            .unwrap_err()
            .errno(),
        libc::ENOTDIR
    );
}

#[test]
fn depth_0_and_1_trees() {
    let f = fixture(5, 0, Some(0));
    let mut want: Vec<String> = f
        .photos
        .iter()
        .flat_map(|(p, _)| [format!("{}.jpg", p.hash()), format!("{}.json", p.hash())])
        .collect();
    want.sort();
    assert_eq!(names(&f.fs, ROOT_INO)[5..], want[..]);
    let rt = rt();
    for (p, bytes) in &f.photos {
        let a = walk(&f.fs, &rt, &format!("{}.jpg", p.hash())).unwrap();
        assert_eq!(a.size, bytes.len() as u64);
    }

    let f = fixture(40, 1, None);
    let root = names(&f.fs, ROOT_INO);
    assert!(root[5..].iter().all(|n| n.len() == 1));
    let (p, _) = &f.photos[3];
    let h = p.hash();
    let dir = walk(&f.fs, &rt, &h[..1]).unwrap();
    assert_eq!(dir.kind, Kind::Dir);
    let listed = names(&f.fs, dir.ino);
    assert!(listed.contains(&format!("{h}.jpg")));
    assert!(
        !listed.iter().any(|n| n.ends_with(".json")),
        "no sidecars with --image-only"
    );
    assert_eq!(
        walk(&f.fs, &rt, &format!("{}/{h}.json", &h[..1]))
            .unwrap_err()
            .errno(),
        libc::ENOENT
    );
}

#[test]
fn meta_files_and_refusals() {
    let f = fixture(3, 2, Some(1));
    let rt = rt();
    assert_eq!(
        names(&f.fs, ROOT_INO + 1),
        [STATUS_NAME.to_string(), SEARCH_NAME.to_string()]
    );
    let status = walk(&f.fs, &rt, ".flickrfs/status").unwrap();
    let (fh, _) = f.fs.open(status.ino, false).unwrap();
    let doc: serde_json::Value =
        serde_json::from_slice(&rt.block_on(f.fs.read(fh, 0, 1 << 20)).unwrap()).unwrap();
    assert_eq!(doc["images_cached"], 3);
    assert_eq!(doc["photos_known"], 3);
    assert_eq!(doc["api_calls"], 0);
    // Read-only, and directories are not files.
    let e = f.fs.open(status.ino, true).unwrap_err();
    assert_eq!(e.errno(), libc::EROFS);
    assert_eq!(
        f.fs.open(ROOT_INO, false).unwrap_err().errno(),
        libc::EISDIR
    );
    // A search directory holds relative links into the hashed tree.
    let hits = walk(&f.fs, &rt, ".flickrfs/search/Photo 1").unwrap();
    let links = f.fs.readdir(hits.ino).unwrap();
    let h = f.photos[1].0.hash();
    let link = links
        .iter()
        .find(|e| e.name == format!("{h}.jpg"))
        .expect("the photo titled 'Photo 1' is a hit");
    assert_eq!(link.kind, Kind::Symlink);
    assert_eq!(
        f.fs.readlink(link.ino).unwrap(),
        format!("../../../{}", photo::hashed_path(&h, 2, "jpg"))
    );
}

#[test]
fn views_by_date_and_tag_and_extended_attributes() {
    let f = fixture(6, 2, Some(1));
    let rt = rt();
    assert_eq!(names(&f.fs, inode::DATES_INO), ["1960"]);
    assert_eq!(names(&f.fs, inode::TAGS_INO), ["hue", "saigon"]);
    let jan = walk(&f.fs, &rt, "dates/1960/01").unwrap();
    let want: Vec<String> = [0, 2, 4]
        .iter()
        .flat_map(|&i| {
            let p = &f.photos[i].0;
            [
                format!("Photo {i} ({}).jpg", p.id),
                format!("Photo {i} ({}).json", p.id),
            ]
        })
        .collect();
    assert_eq!(names(&f.fs, jan.ino), want);
    assert_eq!(
        names(&f.fs, walk(&f.fs, &rt, "tags/saigon").unwrap().ino),
        want
    );
    let p = &f.photos[2].0;
    let h = p.hash();
    let link = walk(
        &f.fs,
        &rt,
        &format!("dates/1960/01/Photo 2 ({}).json", p.id),
    )
    .unwrap();
    assert_eq!(link.kind, Kind::Symlink);
    let target = f.fs.readlink(link.ino).unwrap();
    assert_eq!(
        target,
        format!("../../../{}", photo::hashed_path(&h, 2, "json"))
    );
    assert_eq!(link.size, target.len() as u64);
    // Names are checked whole: the id alone, another photo's month or a wrong title miss.
    for bad in [
        format!("dates/1960/02/Photo 2 ({}).jpg", p.id),
        format!("dates/1960/01/Photo 3 ({}).jpg", p.id),
        format!("dates/1960/01/{}.jpg", p.id),
        "dates/1961".to_string(),
    ] {
        assert_eq!(
            walk(&f.fs, &rt, &bad).unwrap_err().errno(),
            libc::ENOENT,
            "{bad}"
        );
    }
    // The album list needs the network: the adapter takes the async path.
    assert!(f.fs.readdir_needs_network(inode::ALBUMS_INO));
    assert!(!f.fs.readdir_needs_network(inode::DATES_INO));
    let readme = walk(&f.fs, &rt, README_NAME).unwrap();
    let (fh, _) = f.fs.open(readme.ino, false).unwrap();
    let text = rt.block_on(f.fs.read(fh, 0, 1 << 16)).unwrap();
    assert_eq!(text.len() as u64, readme.size);
    assert!(String::from_utf8(text).unwrap().contains("albums/"));
    // Extended attributes of the image.
    let img = walk(&f.fs, &rt, &photo::hashed_path(&h, 2, "jpg")).unwrap();
    let get = |n: &str| {
        f.fs.getxattr(img.ino, n)
            .map(|v| String::from_utf8(v).unwrap())
    };
    assert_eq!(get("user.flickr.id").unwrap(), p.id);
    assert_eq!(get("user.flickr.title").unwrap(), "Photo 2");
    assert_eq!(get("user.xdg.tags").unwrap(), "saigon,hue");
    assert_eq!(get("user.xdg.comment").unwrap(), "Photo 2\n\nChợ Bến Thành");
    assert_eq!(
        get("user.xdg.origin.url").unwrap(),
        format!("https://www.flickr.com/photos/someone/{}/", p.id)
    );
    assert_eq!(get("user.other").unwrap_err().errno(), libc::ENODATA);
    // Other namespaces are not served at all (`ls -l` then stops asking).
    for other in [
        "security.selinux",
        "system.posix_acl_access",
        "system.posix_acl_default",
        "trusted.x",
    ] {
        assert_eq!(get(other).unwrap_err().errno(), libc::EOPNOTSUPP, "{other}");
    }
    let list = f.fs.listxattr(img.ino).unwrap();
    assert_eq!(
        list,
        b"user.xdg.origin.url\0user.xdg.comment\0user.xdg.tags\0user.flickr.id\0user.flickr.title\0"
    );
    // No tags: no user.xdg.tags.
    let odd = walk(
        &f.fs,
        &rt,
        &photo::hashed_path(&f.photos[1].0.hash(), 2, "json"),
    )
    .unwrap();
    assert_eq!(
        f.fs.getxattr(odd.ino, "user.xdg.tags").unwrap_err().errno(),
        libc::ENODATA
    );
    assert!(f.fs.listxattr(ROOT_INO).unwrap().is_empty());
}

/// A mount over a big index answers `stat` of a known photo at once, without reading the
/// index whole: the work SQLite does for it (its own instruction count) is a sliver of what
/// one pass over every row costs. Not timed: counted.
#[test]
fn a_big_index_answers_stat_without_a_scan() {
    const N: u64 = 50_000;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "someone", 4).unwrap();
    let index = Index::open(&store.meta_dir().join("index.sqlite")).unwrap();
    index.insert_synthetic(N, "1@N01", "someone").unwrap();
    // What one pass over every row costs, for scale.
    let before = index.steps();
    assert_eq!(index.counts().unwrap().photos_indexed, N);
    let scan = index.steps() - before;
    assert!(scan >= N / 50, "a pass over {N} rows costs {scan} ticks");
    let engine = offline_engine(store, index, SyncOptions::default());
    let start = engine.index.steps();
    let fs = FlickrFs::new(
        engine.clone(),
        FsOptions {
            show_images: true,
            info_level: None,
            albums_max_age: std::time::Duration::from_secs(600),
        },
    );
    let rt = rt();
    let id = crate::cache::db::synth::photo_id(N / 2);
    let path = photo::hashed_path(&photo::hash(&id), 4, "jpg");
    let attr = walk(&fs, &rt, &path).unwrap();
    assert_eq!(attr.kind, Kind::File);
    assert_eq!(attr.size, crate::cache::db::synth::IMAGE_SIZE);
    let used = engine.index.steps() - start;
    assert!(
        used * 20 < scan,
        "stat of one photo cost {used} ticks, a pass over the index {scan}"
    );
    // Its directory lists it, and a name that is not there is not found.
    let leaf = walk(&fs, &rt, &path[..7]).unwrap();
    assert!(names(&fs, leaf.ino).contains(&path[8..].to_string()));
    let h = photo::hash(&id);
    let missing = format!("{}/{}{}.jpg", &path[..7], &h[..4], "0".repeat(28));
    assert_eq!(walk(&fs, &rt, &missing).unwrap_err().errno(), libc::ENOENT);
}

#[test]
fn a_sidecar_whose_comments_are_not_fetched_is_served_at_once_flagged_pending() {
    let f = fixture(2, 2, Some(2));
    let rt = rt();
    // Photo 0 has comments on Flickr, not fetched yet, and Flickr does not answer; photo 1
    // has none (its level-2 sidecar needs no call).
    let mut p = f.photos[0].0.clone();
    p.count_comments = 3;
    f.fs.engine.index.upsert_listed(&[&p], 1).unwrap();
    let path = photo::hashed_path(&p.hash(), 2, "json");
    for _ in 0..2 {
        let json = walk(&f.fs, &rt, &path).unwrap();
        assert!(!json.stable);
        let (fh, _) = f.fs.open(json.ino, false).unwrap();
        let body = rt.block_on(f.fs.read(fh, 0, 1 << 20)).unwrap();
        // Read in two pieces too: the same stand-in, not a file.
        let piece = rt.block_on(f.fs.read(fh, 5, 10)).unwrap();
        assert_eq!(piece, body[5..15]);
        f.fs.release(fh);
        assert_eq!(body.len() as u64, json.size, "stat and read agree");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["title"]["content"], p.title);
        assert_eq!(v["description"]["content"], "Chợ Bến Thành");
        assert!(v.get("comments").is_none(), "no comments claimed: {v}");
        assert_eq!(v["comments_pending"], true);
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(
            text.ends_with("  \"comments_pending\": true\n}\n"),
            "after the format's keys: {text}"
        );
    }
    assert!(
        !f.fs.engine.store.info_path(&p.id).exists(),
        "the store holds complete sidecars only"
    );
    assert_eq!(f.fs.pending_sidecars().len(), 1);
    // No comments on Flickr: complete at once, written to the store.
    let q = &f.photos[1].0;
    let json = walk(&f.fs, &rt, &photo::hashed_path(&q.hash(), 2, "json")).unwrap();
    let (fh, _) = f.fs.open(json.ino, false).unwrap();
    let body = rt.block_on(f.fs.read(fh, 0, 1 << 20)).unwrap();
    assert_eq!(body.len() as u64, json.size);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["comments"], serde_json::json!([]));
    assert!(v.get("comments_pending").is_none());
    // Served at once, written to the store behind the answer.
    let stored = f.fs.engine.store.info_path(&q.id);
    rt.block_on(async {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        while !stored.exists() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    });
    assert_eq!(std::fs::read(&stored).unwrap(), body);
    assert_eq!(
        f.fs.pending_sidecars().len(),
        1,
        "a complete one is not pending"
    );
}

/// The change log turned into invalidations: a size learned drops only the photo's files; a
/// new photo drops the listings above it (no entry: negative ones are never kept); a removed
/// photo drops its names and the directories it leaves empty, then the listings.
#[test]
fn index_changes_become_precise_invalidations() {
    use super::notify::Inval;
    let f = fixture(3, 2, Some(1));
    let fs = &f.fs;
    let mut mark = fs.change_mark().unwrap();
    assert_eq!(fs.invalidations(&mut mark).unwrap(), Some(vec![]));
    let (p, bytes) = &f.photos[0];
    let rowid = fs
        .engine
        .index
        .tree_find(&photo::hash(&p.id))
        .unwrap()
        .unwrap()
        .0;
    fs.engine
        .index
        .set_image_cached(&p.id, bytes.len() as u64 + 1)
        .unwrap();
    let got = fs.invalidations(&mut mark).unwrap().unwrap();
    assert_eq!(
        got,
        vec![
            Inval::Inode(inode::image_ino(rowid)),
            Inval::Inode(inode::info_ino(rowid))
        ]
    );
    // A new photo.
    let new = Photo::listed("9999999".into());
    fs.engine.index.upsert_listed(&[&new], 2).unwrap();
    let h = photo::hash(&new.id);
    let got = fs.invalidations(&mut mark).unwrap().unwrap();
    assert!(got.contains(&Inval::Inode(ROOT_INO)), "{got:?}");
    assert!(got.contains(&Inval::Inode(inode::dir_ino(&h[..1]))));
    assert!(got.contains(&Inval::Inode(inode::dir_ino(&h[..2]))));
    assert!(
        !got.iter().any(|i| matches!(i, Inval::Entry { .. })),
        "{got:?}"
    );
    // The same photo removed (a pruned deletion): its names and its now empty directories.
    fs.engine
        .index
        .conn()
        .execute("DELETE FROM photos WHERE id = ?1", [&new.id])
        .unwrap();
    let got = fs.invalidations(&mut mark).unwrap().unwrap();
    let leaf = inode::dir_ino(&h[..2]);
    assert!(got.contains(&Inval::Entry {
        parent: leaf,
        name: format!("{h}.jpg")
    }));
    assert!(got.contains(&Inval::Entry {
        parent: leaf,
        name: format!("{h}.json")
    }));
    let holds = |p: &str| fs.engine.index.tree_holds(p).unwrap();
    assert_eq!(
        got.contains(&Inval::Entry {
            parent: inode::dir_ino(&h[..1]),
            name: h[1..2].to_string()
        }),
        !holds(&h[..2])
    );
    assert_eq!(
        got.contains(&Inval::Entry {
            parent: ROOT_INO,
            name: h[..1].to_string()
        }),
        !holds(&h[..1])
    );
    // Files first, then names, then listings.
    let first_dir = got
        .iter()
        .position(|i| *i == Inval::Inode(ROOT_INO))
        .unwrap();
    assert!(got[first_dir..]
        .iter()
        .all(|i| matches!(i, Inval::Inode(_))));
}
