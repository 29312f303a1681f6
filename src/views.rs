//! Views for people: the one place that decides the names, directories and link targets of
//! `albums/`, `dates/` and `tags/`, for the mount's virtual directories and for the symlink
//! trees `mirror --views` writes into the cache alike (so the two can never disagree).
//!
//! Pure: no I/O. An entry is `<title> (<photo id>).<ext>` (the sidecar `… .json` beside it),
//! prefixed in an album by its zero-padded position; `/` and control characters are replaced,
//! a title is cut (UTF-8 safe) so that every name fits in 255 bytes, and an untitled photo is
//! named by its id. Links are relative: `../../../f/b/2/e/<hash>.jpg` from `dates/1965/03/`.

use std::collections::{BTreeMap, HashMap};

/// The longest file name Linux file systems take, in bytes.
pub const NAME_MAX: usize = 255;
/// Room kept for `.` and the longest extension (`json`, `webp`), so that an image and its
/// sidecar always share the same stem.
const EXT_ROOM: usize = 5;
/// The view directories, at the top of the mount and of a user's cache directory.
pub const ALBUMS: &str = "albums";
pub const DATES: &str = "dates";
pub const TAGS: &str = "tags";
pub const ROOTS: [&str; 3] = [ALBUMS, DATES, TAGS];
/// The date directory of photos whose date taken Flickr does not know.
pub const UNKNOWN_DATE: &str = "unknown";

/// `s` with `/` replaced by `_`, control characters (line breaks, tabs) by spaces, and the
/// surrounding white space trimmed.
pub fn clean(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| match c {
            '/' => '_',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    out.trim().to_string()
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The stem of a photo's entries after `prefix` (an album position or nothing):
/// `<title> (<id>)`, or `<id>` for an untitled photo, the title cut so that the whole name
/// with any extension fits in [`NAME_MAX`] bytes.
pub fn stem(prefix: &str, title: &str, id: &str) -> String {
    let title = clean(title);
    let room = NAME_MAX.saturating_sub(prefix.len() + EXT_ROOM + id.len() + 3);
    let title = cut(&title, room).trim_end();
    if title.is_empty() {
        format!("{prefix}{id}")
    } else {
        format!("{prefix}{title} ({id})")
    }
}

/// An entry's file name: the stem and the extension (`json` for the sidecar).
pub fn entry_name(prefix: &str, title: &str, id: &str, ext: &str) -> String {
    format!("{}.{ext}", stem(prefix, title, id))
}

/// The position prefix of the `pos`-th (0-based) photo of an album of `count`: `007 `.
pub fn album_prefix(pos: usize, count: usize) -> String {
    let width = count.to_string().len().max(3);
    format!("{:0width$} ", pos + 1)
}

/// The photo id an entry name carries (`… (<id>).<ext>`, or `<id>.<ext>` when untitled),
/// and its extension. The caller checks the name against the photo's real one.
pub fn parse_entry(name: &str) -> Option<(&str, &str)> {
    let (stem, ext) = name.rsplit_once('.')?;
    let id = match stem.strip_suffix(')') {
        Some(s) => &s[s.rfind('(')? + 1..],
        None => stem.rsplit(' ').next()?,
    };
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then_some((id, ext))
}

/// Album directory names, in the albums' order: the cleaned title, cut to fit; an empty title
/// is the album id; titles that collide are all told apart by ` (<album id>)`.
pub fn album_dirs(albums: &[(String, String)]) -> Vec<String> {
    let base: Vec<String> = albums
        .iter()
        .map(|(id, title)| {
            let t = clean(title);
            let t = cut(&t, NAME_MAX - id.len() - 3).trim_end().to_string();
            if t.is_empty() || t == "." || t == ".." {
                id.clone()
            } else {
                t
            }
        })
        .collect();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for b in &base {
        *seen.entry(b.as_str()).or_default() += 1;
    }
    base.iter()
        .zip(albums)
        .map(|(b, (id, _))| {
            if seen[b.as_str()] > 1 && b != id {
                format!("{b} ({id})")
            } else {
                b.clone()
            }
        })
        .collect()
}

/// A tag's directory name, or `None` for a tag that makes no name.
pub fn tag_dir(tag: &str) -> Option<String> {
    let t = clean(tag);
    let t = cut(&t, NAME_MAX).to_string();
    (!t.is_empty() && t != "." && t != "..").then_some(t)
}

/// Where a photo goes under `dates/`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DatePlace {
    Month(i32, u32),
    Year(i32),
    Unknown,
}

impl DatePlace {
    /// By date taken when Flickr has one (`datetakengranularity` 0 full and 4 month go by
    /// month, 6 year and 8 circa by year; `datetakenunknown` in `unknown/`), else by upload
    /// date (a photo indexed before dates taken were).
    pub fn of(taken: Option<&str>, granularity: i64, unknown: bool, date_upload: i64) -> Self {
        if unknown {
            return DatePlace::Unknown;
        }
        let text = match taken {
            Some(t) if !t.is_empty() => t.to_string(),
            _ => crate::timefmt::datetime(date_upload),
        };
        let year: Option<i32> = text.get(0..4).and_then(|y| y.parse().ok());
        let month: Option<u32> = text.get(5..7).and_then(|m| m.parse().ok());
        match (year, month) {
            (Some(y), _) if y <= 0 => DatePlace::Unknown,
            (Some(y), _) if granularity >= 6 => DatePlace::Year(y),
            (Some(y), Some(m)) if (1..=12).contains(&m) => DatePlace::Month(y, m),
            (Some(y), _) => DatePlace::Year(y),
            _ => DatePlace::Unknown,
        }
    }

    /// The directory under `dates/`: `1965/03`, `1965` or `unknown`.
    pub fn dir(&self) -> String {
        match self {
            DatePlace::Month(y, m) => format!("{y:04}/{m:02}"),
            DatePlace::Year(y) => format!("{y:04}"),
            DatePlace::Unknown => UNKNOWN_DATE.into(),
        }
    }
}

/// The target of a link in view directory `dir` (relative to the user's root, `dates/1965/03`)
/// to `file` (relative to the same root: the hashed path).
pub fn link_target(dir: &str, file: &str) -> String {
    let up = dir.split('/').filter(|c| !c.is_empty()).count();
    format!("{}{file}", "../".repeat(up))
}

/// A photo as the views see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewPhoto {
    pub rowid: i64,
    pub id: String,
    pub title: String,
    pub ext: String,
    pub date: DatePlace,
    /// Normalised tags (the `tags` extra split on spaces).
    pub tags: Vec<String>,
}

/// The directories of `dates/` and `tags/` and which photos each holds, by number only (a
/// photo's rowid in the mount, its position in [`Catalog`]): a few bytes per photo and tag, so
/// that a mount of a million photos can hold it. Names are read when a directory is listed.
#[derive(Default)]
pub struct Groups {
    /// Directory path (from the user's root: `dates/1965/03`, `tags/saigon`) -> its photos'
    /// numbers, ascending once finished.
    dirs: BTreeMap<String, Vec<u32>>,
    /// Directory path -> names of its subdirectories, sorted.
    subdirs: BTreeMap<String, Vec<String>>,
}

impl Groups {
    /// Files photo `n` (taken at `date`, tagged `tags`) in its directories.
    pub fn add(&mut self, n: u32, date: &DatePlace, tags: &[String]) {
        self.dirs
            .entry(format!("{DATES}/{}", date.dir()))
            .or_default()
            .push(n);
        let mut dirs: Vec<String> = tags.iter().filter_map(|t| tag_dir(t)).collect();
        dirs.sort();
        dirs.dedup();
        for t in dirs {
            self.dirs.entry(format!("{TAGS}/{t}")).or_default().push(n);
        }
    }

    /// Sorts the members and derives the subdirectories: call once, after the last `add`.
    pub fn finish(mut self) -> Groups {
        for list in self.dirs.values_mut() {
            list.sort_unstable();
            list.dedup();
            list.shrink_to_fit();
        }
        let mut sets: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
        sets.insert(DATES.into(), Default::default());
        sets.insert(TAGS.into(), Default::default());
        for d in self.dirs.keys() {
            let mut path = d.as_str();
            while let Some((parent, name)) = path.rsplit_once('/') {
                sets.entry(parent.to_string())
                    .or_default()
                    .insert(name.to_string());
                path = parent;
            }
        }
        self.subdirs = sets
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().collect()))
            .collect();
        self
    }

    /// True when `path` is a directory of the views (`dates`, `tags` always are).
    pub fn is_dir(&self, path: &str) -> bool {
        self.dirs.contains_key(path) || self.subdirs.contains_key(path)
    }

    /// The subdirectories of `path`.
    pub fn subdirs(&self, path: &str) -> &[String] {
        self.subdirs.get(path).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The numbers of the photos directly in `path`, ascending.
    pub fn members(&self, path: &str) -> &[u32] {
        self.dirs.get(path).map(Vec::as_slice).unwrap_or(&[])
    }

    /// True when photo `n` is directly in `path`.
    pub fn contains(&self, path: &str, n: u32) -> bool {
        self.members(path).binary_search(&n).is_ok()
    }

    /// Every directory holding photos, with their numbers.
    pub fn dirs(&self) -> impl Iterator<Item = (&str, &[u32])> {
        self.dirs.iter().map(|(d, l)| (d.as_str(), l.as_slice()))
    }
}

/// The `dates/` and `tags/` views of a set of photos held whole (what `mirror --views`
/// writes): the photos, and their [`Groups`] by position.
#[derive(Default)]
pub struct Catalog {
    pub photos: Vec<ViewPhoto>,
    groups: Groups,
}

impl Catalog {
    pub fn build(photos: Vec<ViewPhoto>) -> Catalog {
        let mut groups = Groups::default();
        for (i, p) in photos.iter().enumerate() {
            groups.add(i as u32, &p.date, &p.tags);
        }
        Catalog {
            photos,
            groups: groups.finish(),
        }
    }

    pub fn groups(&self) -> &Groups {
        &self.groups
    }

    /// Every directory holding photos, with its photos.
    pub fn dirs(&self) -> impl Iterator<Item = (&str, impl Iterator<Item = &ViewPhoto>)> {
        self.groups
            .dirs()
            .map(move |(d, l)| (d, l.iter().map(move |&i| &self.photos[i as usize])))
    }
}

/// Every link of a set of views, as (path of the link from the user's root, target): what
/// `mirror --views` writes. `albums` are (directory name, photos in the album's order).
/// `images`/`infos` say which entries exist (an image, its sidecar); `depth` is the hashed
/// tree's.
pub fn links(
    catalog: &Catalog,
    albums: &[(String, Vec<ViewPhoto>)],
    depth: usize,
    images: bool,
    infos: bool,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut add = |dir: &str, prefix: &str, p: &ViewPhoto| {
        let hash = crate::photo::hash(&p.id);
        let mut exts = Vec::new();
        if images {
            exts.push(p.ext.as_str());
        }
        if infos {
            exts.push("json");
        }
        for ext in exts {
            let file = crate::photo::hashed_path(&hash, depth, ext);
            out.push((
                format!("{dir}/{}", entry_name(prefix, &p.title, &p.id, ext)),
                link_target(dir, &file),
            ));
        }
    };
    for (name, photos) in albums {
        let dir = format!("{ALBUMS}/{name}");
        for (i, p) in photos.iter().enumerate() {
            add(&dir, &album_prefix(i, photos.len()), p);
        }
    }
    for (dir, photos) in catalog.dirs() {
        for p in photos {
            add(dir, "", p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo(id: &str, title: &str, date: DatePlace, tags: &[&str]) -> ViewPhoto {
        ViewPhoto {
            rowid: id.parse().unwrap(),
            id: id.into(),
            title: title.into(),
            ext: "jpg".into(),
            date,
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn names_are_readable_valid_and_carry_the_id() {
        assert_eq!(entry_name("", "Chợ Lớn", "42", "jpg"), "Chợ Lớn (42).jpg");
        assert_eq!(entry_name("", "", "42", "json"), "42.json");
        assert_eq!(entry_name("", "  \n ", "42", "jpg"), "42.jpg");
        assert_eq!(
            entry_name("", "Sài Gòn 1965/66\tà", "7", "jpg"),
            "Sài Gòn 1965_66 à (7).jpg"
        );
        // 300 bytes of UTF-8 (3-byte characters): cut on a character boundary.
        let long = "ễ".repeat(100);
        for prefix in ["", "0001 "] {
            let n = entry_name(prefix, &long, "51234567890", "json");
            assert!(n.len() <= NAME_MAX, "{}", n.len());
            assert!(n.len() > NAME_MAX - 8);
            assert!(n.ends_with(" (51234567890).json"));
            let img = entry_name(prefix, &long, "51234567890", "webp");
            assert_eq!(img.trim_end_matches(".webp"), n.trim_end_matches(".json"));
        }
        assert_eq!(parse_entry("Chợ Lớn (42).jpg"), Some(("42", "jpg")));
        assert_eq!(parse_entry("a (1) (42).json"), Some(("42", "json")));
        assert_eq!(parse_entry("42.jpg"), Some(("42", "jpg")));
        assert_eq!(parse_entry("007 42.jpg"), Some(("42", "jpg")));
        assert_eq!(parse_entry("007 Huế (42).jpg"), Some(("42", "jpg")));
        assert_eq!(parse_entry("Huế (x).jpg"), None);
        assert_eq!(parse_entry("noext"), None);
        assert_eq!(album_prefix(6, 40), "007 ");
        assert_eq!(album_prefix(6, 1200), "0007 ");
    }

    #[test]
    fn album_titles_are_told_apart() {
        let a = |id: &str, t: &str| (id.to_string(), t.to_string());
        let dirs = album_dirs(&[
            a("1", "Sài Gòn"),
            a("2", "Huế"),
            a("3", "Sài Gòn"),
            a("4", ""),
            a("5", "a/b"),
            a("6", ".."),
        ]);
        assert_eq!(
            dirs,
            ["Sài Gòn (1)", "Huế", "Sài Gòn (3)", "4", "a_b", "6"].map(String::from)
        );
    }

    #[test]
    fn dates_honour_granularity() {
        let up = 1_262_304_000; // 2010-01-01
        let of = DatePlace::of;
        assert_eq!(
            of(Some("1965-03-12 10:00:00"), 0, false, up),
            DatePlace::Month(1965, 3)
        );
        assert_eq!(
            of(Some("1965-03-01 00:00:00"), 4, false, up),
            DatePlace::Month(1965, 3)
        );
        assert_eq!(
            of(Some("1965-01-01 00:00:00"), 6, false, up),
            DatePlace::Year(1965)
        );
        assert_eq!(
            of(Some("1965-01-01 00:00:00"), 8, false, up),
            DatePlace::Year(1965)
        );
        assert_eq!(
            of(Some("2010-01-01 00:00:00"), 0, true, up),
            DatePlace::Unknown
        );
        assert_eq!(of(None, 0, false, up), DatePlace::Month(2010, 1));
        assert_eq!(of(Some("garbage"), 0, false, up), DatePlace::Unknown);
        assert_eq!(DatePlace::Month(1965, 3).dir(), "1965/03");
        assert_eq!(DatePlace::Year(1965).dir(), "1965");
        assert_eq!(link_target("dates/1965/03", "a/b.jpg"), "../../../a/b.jpg");
        assert_eq!(link_target("albums/x", "a/b.jpg"), "../../a/b.jpg");
    }

    #[test]
    fn catalog_groups_by_date_and_tag() {
        let c = Catalog::build(vec![
            photo("1", "b", DatePlace::Month(1965, 3), &["saigon", "hue"]),
            photo("2", "a", DatePlace::Month(1965, 3), &[]),
            photo("3", "c", DatePlace::Year(1965), &["saigon", "a/b"]),
            photo("4", "", DatePlace::Unknown, &["saigon", "saigon"]),
        ]);
        let g = c.groups();
        assert_eq!(g.subdirs("dates"), ["1965", "unknown"]);
        assert_eq!(g.subdirs("dates/1965"), ["03"]);
        assert_eq!(g.subdirs("tags"), ["a_b", "hue", "saigon"]);
        // Members by position, ascending, each once (photo 4 is tagged saigon twice).
        assert_eq!(g.members("dates/1965/03"), [0, 1]);
        assert_eq!(g.members("dates/1965"), [2]);
        assert_eq!(g.members("tags/saigon"), [0, 2, 3]);
        assert_eq!(g.members("tags/nothing"), [0u32; 0]);
        assert!(g.is_dir("dates") && g.is_dir("dates/1965") && !g.is_dir("dates/1966"));
        assert!(g.contains("tags/hue", 0));
        assert!(!g.contains("tags/hue", 2));
        let l = links(
            &c,
            &[("Huế".into(), vec![c.photos[2].clone()])],
            4,
            true,
            true,
        );
        let h = crate::photo::hash("3");
        let target = format!("../../{}", crate::photo::hashed_path(&h, 4, "jpg"));
        assert!(l.contains(&("albums/Huế/001 c (3).jpg".to_string(), target)));
        // The album's photo, then 4 photos by date and 5 links by tag, image and sidecar each.
        assert_eq!(l.len(), 2 * (1 + 4 + 1 + 1 + 3));
    }
}
