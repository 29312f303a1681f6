//! Deterministic stream generation: the three users, photo keys and ids, and every photo
//! derived on demand from (seed, key) (ids, dates, media, sizes, formats, byte lengths, texts),
//! plus the two generation switches the overlay may set on a photo: its replacement `variant`
//! (new secrets, new bytes) and a dimension `tie` (a PNG Original as large as Large 2048).
//! Nothing is stored here; what changed is kept by `overlay`.

use super::text::{self, Text};

/// A user of the emulated Flickr.
pub struct User {
    pub username: &'static str,
    pub nsid: &'static str,
    /// Ids are `ID_BASE + rank * ID_STRIDE + id_offset + slot` (slot 0..=3, see `Key`), so
    /// they never collide across users.
    pub id_offset: u64,
    /// Photo count at start; `None` = the configured `photos`.
    pub initial: Option<usize>,
}

pub const USERS: [User; 3] = [
    User {
        username: "manhhai",
        nsid: "13476480@N07",
        id_offset: 1,
        initial: None,
    },
    User {
        username: "commonsarchive",
        nsid: "8623220@N02",
        id_offset: 5,
        initial: Some(60),
    },
    User {
        username: "emptyuser",
        nsid: "99999999@N00",
        id_offset: 9,
        initial: Some(0),
    },
];

pub const ID_BASE: u64 = 50_000_000_000;
pub const ID_STRIDE: u64 = 13;
pub const EPOCH: i64 = 1_262_304_000; // 2010-01-01

pub fn initial_counts(photos: usize) -> [usize; 3] {
    let mut c = [0; 3];
    for (i, u) in USERS.iter().enumerate() {
        c[i] = u.initial.unwrap_or(photos);
    }
    c
}

pub fn user_by_name(name: &str) -> Option<usize> {
    USERS
        .iter()
        .position(|u| u.username.eq_ignore_ascii_case(name))
}

pub fn user_by_nsid(nsid: &str) -> Option<usize> {
    USERS.iter().position(|u| u.nsid == nsid)
}

/// Slots after a rank that photos made public late can take (ids `...+1..=3`).
pub const MAX_SLOT: u8 = 3;

/// Where a photo sits in its user's stream: slot 0 is the photo generated at `rank`; slots
/// 1..=MAX_SLOT are photos made public late, uploaded between rank and rank + 1. Ordering keys
/// of one user orders them by upload date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub user: usize,
    pub rank: u64,
    pub slot: u8,
}

impl Key {
    pub fn gen(user: usize, rank: u64) -> Key {
        Key {
            user,
            rank,
            slot: 0,
        }
    }
    pub fn id(self) -> u64 {
        ID_BASE + self.rank * ID_STRIDE + USERS[self.user].id_offset + self.slot as u64
    }
}

#[cfg(test)]
pub fn photo_id(user: usize, rank: u64) -> u64 {
    Key::gen(user, rank).id()
}

/// The key an id would have (whether or not such a photo exists).
pub fn key_of(id: &str) -> Option<Key> {
    let n: u64 = id.parse().ok()?;
    let rel = n.checked_sub(ID_BASE)?;
    let res = rel % ID_STRIDE;
    let user = USERS
        .iter()
        .position(|u| (u.id_offset..=u.id_offset + MAX_SLOT as u64).contains(&res))?;
    Some(Key {
        user,
        rank: rel / ID_STRIDE,
        slot: (res - USERS[user].id_offset) as u8,
    })
}

/// (user, rank) of a generated photo id, if rank is below the user's count.
#[cfg(test)]
pub fn locate(id: &str, counts: &[usize; 3]) -> Option<(usize, u64)> {
    let k = key_of(id)?;
    (k.slot == 0 && k.rank < counts[k.user] as u64).then_some((k.user, k.rank))
}

fn key_rng(seed: u64, key: Key) -> Rng {
    if key.slot == 0 {
        Rng::new(&[seed, key.user as u64, key.rank])
    } else {
        Rng::new(&[seed, key.user as u64, key.rank, 0x1A7E, key.slot as u64])
    }
}

/// The first draws of a photo: secrets and upload date (cheap; listings sort and filter by it).
fn draw_head(rng: &mut Rng, key: Key) -> (String, String, i64) {
    let secret = format!("{:010x}", rng.next_u64() >> 24);
    let orig_secret = format!("{:010x}", rng.next_u64() >> 24);
    let base = EPOCH + key.rank as i64 * 3600;
    let date_upload = if key.slot == 0 {
        base + rng.below(600) as i64
    } else {
        // Between the photo at `rank` (at most +599 s) and the one at rank + 1 (+3600 s).
        base + 600 + (key.slot as i64 - 1) * 900 + rng.below(900) as i64
    };
    (secret, orig_secret, date_upload)
}

/// Upload date of the photo at `key`.
pub fn date_upload(seed: u64, key: Key) -> i64 {
    draw_head(&mut key_rng(seed, key), key).2
}

/// Secrets (shared, original) of the photo at `key` in replacement variant `variant`.
pub fn secrets(seed: u64, key: Key, variant: u32) -> (String, String) {
    if variant == 0 {
        let (s, o, _) = draw_head(&mut key_rng(seed, key), key);
        (s, o)
    } else {
        let mut r = Rng::new(&[seed, key.id(), 0x5EC, variant as u64]);
        (
            format!("{:010x}", r.next_u64() >> 24),
            format!("{:010x}", r.next_u64() >> 24),
        )
    }
}

/// Whether the photo at `key` is a video (cheap: the draws before it only).
pub fn is_video(seed: u64, key: Key) -> bool {
    let mut rng = key_rng(seed, key);
    draw_head(&mut rng, key);
    if rng.below(3) != 0 {
        rng.below(30 * 86_400);
    }
    rng.below(100) < 3
}

/// splitmix64 finaliser.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A small deterministic PRNG (splitmix64) keyed by a list of numbers.
pub struct Rng(u64);

impl Rng {
    pub fn new(parts: &[u64]) -> Rng {
        let mut s = 0x5EED_u64;
        for p in parts {
            s = mix(s ^ p);
        }
        Rng(s)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// True with probability p (p >= 1 always, p <= 0 or NaN never).
    pub fn chance(&mut self, p: f64) -> bool {
        let u = self.unit();
        p >= 1.0 || u < p
    }
}

/// Hash of a short string, for keying.
pub fn str_key(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01B3)
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    Gif,
    Mp4,
}

impl Format {
    pub fn ext(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::Gif => "gif",
            Format::Mp4 => "mp4",
        }
    }
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Gif => "image/gif",
            Format::Mp4 => "video/mp4",
        }
    }
}

/// Flickr's fixed sizes below the original: (extras key, getSizes label, url suffix, long
/// edge, square), smallest first.
const SIZE_KINDS: &[(&str, &str, &str, u32, bool)] = &[
    ("sq", "Square", "s", 75, true),
    ("t", "Thumbnail", "t", 100, false),
    ("q", "Large Square", "q", 150, true),
    ("s", "Small", "m", 240, false),
    ("n", "Small 320", "n", 320, false),
    ("z", "Medium 640", "z", 640, false),
    ("c", "Medium 800", "c", 800, false),
    ("l", "Large", "b", 1024, false),
    ("h", "Large 1600", "h", 1600, false),
    ("k", "Large 2048", "k", 2048, false),
    ("3k", "X-Large 3K", "3k", 3072, false),
    ("4k", "X-Large 4K", "4k", 4096, false),
    ("5k", "X-Large 5K", "5k", 5120, false),
    ("6k", "X-Large 6K", "6k", 6144, false),
];

/// One downloadable file of a photo (an image size, or a video rendition).
#[derive(Clone, Debug)]
pub struct File {
    /// extras key (`url_<key>`): "sq".."6k", "o"; "" for video renditions.
    pub key: &'static str,
    pub label: &'static str,
    /// The `<name>` in `/img/<id>_<secret>_<name>.<ext>` or `/video/<id>_<secret>_<name>.mp4`.
    pub name: &'static str,
    pub width: u32,
    pub height: u32,
    pub format: Format,
    pub len: u64,
    pub video: bool,
}

/// A photo, fully derived from (seed, image_kb, key, variant, tie); `overlay` then applies
/// edits (texts, added comments, lastupdate).
#[derive(Clone, Debug)]
pub struct Photo {
    pub user: usize,
    pub id: u64,
    /// Replacement count: 0 = as first uploaded.
    pub variant: u32,
    pub secret: String,
    pub orig_secret: String,
    pub date_upload: i64,
    pub last_update: i64,
    pub video: bool,
    pub has_original: bool,
    /// Format of the "Original" size (jpg for videos: their original image is a frame).
    pub orig_format: Format,
    pub orig_width: u32,
    pub orig_height: u32,
    /// Image sizes smallest first (with "Original" last when present), then for videos
    /// "Site MP4" and "Video Original". The last file is the best.
    pub files: Vec<File>,
    pub title: Text,
    pub description: Text,
    pub comments: Vec<Text>,
    /// `datecreate` of each comment.
    pub comment_dates: Vec<i64>,
    pub seed: u64,
}

fn scale(w: u32, h: u32, edge: u32) -> (u32, u32) {
    let long = w.max(h) as u64;
    let s = |x: u32| ((x as u64 * edge as u64 + long / 2) / long).max(1) as u32;
    if w >= h {
        (edge, s(h))
    } else {
        (s(w), edge)
    }
}

impl Photo {
    /// The photo as first generated (variant 0, no tie).
    #[cfg(test)]
    pub fn generate(seed: u64, image_kb: usize, user: usize, rank: u64) -> Photo {
        Photo::generate_at(seed, image_kb, Key::gen(user, rank), 0, false)
    }

    /// `variant` > 0: replaced that many times (new secrets, new byte length and bytes).
    /// `tie`: a still photo whose Original is a PNG exactly as large as its Large 2048.
    pub fn generate_at(seed: u64, image_kb: usize, key: Key, variant: u32, tie: bool) -> Photo {
        let user = key.user;
        let id = key.id();
        let mut rng = key_rng(seed, key);
        let (mut secret, mut orig_secret, date_upload) = draw_head(&mut rng, key);
        if variant > 0 {
            (secret, orig_secret) = secrets(seed, key, variant);
        }
        let last_update = date_upload
            + if rng.below(3) == 0 {
                0
            } else {
                rng.below(30 * 86_400) as i64
            };
        let video = rng.below(100) < 3;
        let no_original = rng.below(100) < 20;
        let mut has_original = video || !no_original;
        let f = rng.below(100);
        let mut orig_format = match f {
            _ if video => Format::Jpeg, // a video's "Original" is a jpg frame
            0..=4 => Format::Png,
            5..=6 => Format::Gif,
            _ => Format::Jpeg,
        };
        let (mut orig_width, mut orig_height) = if video {
            [(1280, 720), (1920, 1080), (1440, 1080), (1080, 1920)][rng.below(4) as usize]
        } else {
            let long = 3000 + rng.below(3001) as u32;
            let short = (long as f64 * (0.56 + 0.24 * rng.unit())) as u32;
            if rng.below(100) < 65 {
                (long, short)
            } else {
                (short, long)
            }
        };
        let cap = if has_original {
            u32::MAX
        } else {
            [1024, 1600, 2048][rng.below(3) as usize]
        };
        let mut best_len = ((image_kb.max(1) * 1024) as f64 * (0.5 + rng.unit())) as u64;
        if variant > 0 {
            let mut r = Rng::new(&[seed, id, 0x5EC, variant as u64, 1]);
            best_len = ((image_kb.max(1) * 1024) as f64 * (0.5 + r.unit())) as u64;
        }
        let best_len = best_len.max(512);
        let tie = tie && !video;
        if tie {
            // Scanned originals saved as PNG at exactly 2048 on the long edge: Flickr then
            // offers Large 2048 and Original with the same dimensions.
            has_original = true;
            orig_format = Format::Png;
            (orig_width, orig_height) = scale(orig_width, orig_height, 2048);
        }
        let cap = if tie { u32::MAX } else { cap };
        let orig_long = orig_width.max(orig_height);

        let mut files = Vec::new();
        for &(key, label, name, edge, square) in SIZE_KINDS {
            let too_big = if tie {
                edge > orig_long
            } else {
                edge >= orig_long
            };
            if !square && (too_big || edge > cap) {
                continue;
            }
            let (width, height) = if square {
                (edge, edge)
            } else {
                scale(orig_width, orig_height, edge)
            };
            files.push(File {
                key,
                label,
                name,
                width,
                height,
                format: Format::Jpeg,
                len: 0,
                video: false,
            });
        }
        if has_original {
            files.push(File {
                key: "o",
                label: "Original",
                name: "o",
                width: orig_width,
                height: orig_height,
                format: orig_format,
                len: 0,
                video: false,
            });
        }
        if video {
            let (sw, sh) = scale(orig_width, orig_height, 640);
            files.push(File {
                key: "",
                label: "Site MP4",
                name: "site",
                width: sw,
                height: sh,
                format: Format::Mp4,
                len: 0,
                video: true,
            });
            files.push(File {
                key: "",
                label: "Video Original",
                name: "orig",
                width: orig_width,
                height: orig_height,
                format: Format::Mp4,
                len: 0,
                video: true,
            });
        }
        // Byte lengths grow with the long edge; the best (last) file is the largest.
        let best_edge = files.last().map(|f| f.width.max(f.height)).unwrap_or(1) as u64;
        let n = files.len();
        for (i, f) in files.iter_mut().enumerate() {
            let edge = f.width.max(f.height) as u64;
            let mut len = best_len * edge / best_edge;
            if video && !f.video {
                len /= 2;
            }
            f.len = if i + 1 == n {
                best_len
            } else {
                len.clamp(256, best_len)
            };
        }

        let title = text::title(&mut rng);
        let description = text::description(&mut rng, title.lang);
        let comments = text::comments(&mut rng);
        let comment_dates = (0..comments.len() as i64)
            .map(|k| date_upload + 86_400 * (k + 1))
            .collect();
        Photo {
            user,
            id,
            variant,
            secret,
            orig_secret,
            date_upload,
            last_update,
            video,
            has_original,
            orig_format,
            orig_width,
            orig_height,
            files,
            title,
            description,
            comments,
            comment_dates,
            seed,
        }
    }

    pub fn best(&self) -> &File {
        // `files` always holds at least the two square sizes.
        &self.files[self.files.len() - 1]
    }

    pub fn image_files(&self) -> impl Iterator<Item = &File> {
        self.files.iter().filter(|f| !f.video)
    }

    pub fn secret_for(&self, f: &File) -> &str {
        if f.name == "o" {
            &self.orig_secret
        } else {
            &self.secret
        }
    }

    /// The URL path of a file: `/img/<id>_<secret>_<name>.<ext>` or `/video/...mp4`.
    pub fn path_of(&self, f: &File) -> String {
        let dir = if f.video { "video" } else { "img" };
        format!(
            "/{dir}/{}_{}_{}.{}",
            self.id,
            self.secret_for(f),
            f.name,
            f.format.ext()
        )
    }

    /// The file a URL path names, if the secret and extension match.
    pub fn file_for_path(&self, video: bool, secret: &str, name: &str, ext: &str) -> Option<&File> {
        let f = self
            .files
            .iter()
            .find(|f| f.video == video && f.name == name)?;
        (self.secret_for(f) == secret && f.format.ext() == ext).then_some(f)
    }

    /// The key that seeds the file's bytes.
    pub fn byte_key(&self, f: &File) -> u64 {
        let v = f.video as u64 ^ ((self.variant as u64) << 8);
        mix(self.seed ^ mix(self.id ^ mix(str_key(f.name) ^ v)))
    }

    pub fn username(&self) -> &'static str {
        USERS[self.user].username
    }

    pub fn nsid(&self) -> &'static str {
        USERS[self.user].nsid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_roundtrip_and_are_unique_across_users() {
        let counts = [100, 60, 0];
        for u in 0..2 {
            for r in [0u64, 1, 59] {
                let id = photo_id(u, r).to_string();
                assert_eq!(locate(&id, &counts), Some((u, r)));
            }
        }
        assert_eq!(locate(&photo_id(2, 0).to_string(), &counts), None);
        assert_eq!(locate("abc", &counts), None);
        assert_eq!(locate("12", &counts), None);
        for slot in 1..=MAX_SLOT {
            let k = Key {
                user: 1,
                rank: 7,
                slot,
            };
            assert_eq!(key_of(&k.id().to_string()), Some(k));
            assert_eq!(locate(&k.id().to_string(), &counts), None);
        }
    }

    #[test]
    fn inserted_dates_fall_between_ranks_and_cheap_draws_agree() {
        for r in 0..50u64 {
            let lo = Photo::generate(1, 24, 0, r).date_upload;
            let hi = Photo::generate(1, 24, 0, r + 1).date_upload;
            let mut prev = lo;
            for slot in 1..=MAX_SLOT {
                let k = Key {
                    user: 0,
                    rank: r,
                    slot,
                };
                let p = Photo::generate_at(1, 24, k, 0, false);
                assert!(prev < p.date_upload && p.date_upload < hi);
                assert_eq!(date_upload(1, k), p.date_upload);
                assert_eq!(is_video(1, k), p.video);
                prev = p.date_upload;
            }
            let k = Key::gen(0, r);
            assert_eq!(is_video(1, k), Photo::generate(1, 24, 0, r).video);
        }
    }

    #[test]
    fn variants_and_ties() {
        let k = Key::gen(0, 3);
        let a = Photo::generate_at(1, 24, k, 0, false);
        let b = Photo::generate_at(1, 24, k, 1, false);
        assert_ne!(a.secret, b.secret);
        assert_eq!(a.title, b.title);
        assert_eq!(secrets(1, k, 1), (b.secret.clone(), b.orig_secret.clone()));
        assert_eq!(secrets(1, k, 0), (a.secret.clone(), a.orig_secret.clone()));
        for r in 0..40 {
            let p = Photo::generate_at(1, 24, Key::gen(0, r), 0, true);
            if p.video {
                continue;
            }
            let best = p.best();
            assert_eq!((best.name, best.format), ("o", Format::Png));
            let k = p.files.iter().find(|f| f.key == "k").unwrap();
            assert_eq!((k.width, k.height), (best.width, best.height));
        }
    }

    #[test]
    fn best_is_largest_and_dates_ordered() {
        for r in 0..300 {
            let p = Photo::generate(1, 24, 0, r);
            assert!(p.last_update >= p.date_upload);
            let best = p.best().len;
            assert!(p.files.iter().all(|f| f.len <= best));
            assert_eq!(p.has_original, p.files.iter().any(|f| f.name == "o"));
        }
    }

    use crate::timefmt::datetime;

    #[test]
    fn datetime_formats() {
        assert_eq!(datetime(1_262_304_000), "2010-01-01 00:00:00");
        assert_eq!(datetime(951_782_400 + 3661), "2000-02-29 01:01:01");
    }
}
