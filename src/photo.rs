//! The domain: a photo's id, its hash and its place in the hashed tree (the one function every
//! layer uses), the file-extension rule, the best-size rule, and the one [`Photo`] type that
//! the listing produces and the index stores. Pure: no I/O, no other module of the crate.

use md5::{Digest, Md5};

/// Lowercase hex MD5 of a photo id: the file stem in the hashed tree.
pub fn hash(photo_id: &str) -> String {
    let digest = Md5::digest(photo_id.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hashed directory of `hash`, one level per hex character: `f/b/2/e` at depth 4, `""` at
/// depth 0.
pub fn hashed_dir(hash: &str, depth: usize) -> String {
    let mut out = String::with_capacity(depth * 2);
    for c in hash.chars().take(depth) {
        out.push(c);
        out.push('/');
    }
    out.pop();
    out
}

/// A photo file's path relative to the user's directory: `f/b/2/e/<hash>.<ext>`.
pub fn hashed_path(hash: &str, depth: usize, ext: &str) -> String {
    let dir = hashed_dir(hash, depth);
    if dir.is_empty() {
        format!("{hash}.{ext}")
    } else {
        format!("{dir}/{hash}.{ext}")
    }
}

/// One size of a photo, as a listing (`url_*` extras) or `flickr.photos.getSizes` names it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Size {
    pub label: String,
    pub width: u32,
    pub height: u32,
    /// The static file URL (`source` in getSizes, `url_*` in listings).
    pub url: String,
    pub media: String,
}

/// The highest resolution size; when any size is a video, the best video wins; among equal
/// dimensions the original file wins (a derived size of the same dimensions is a re-encoded
/// JPEG, and a PNG original would become a `.jpg`).
pub fn best_size(sizes: &[Size]) -> Option<&Size> {
    let videos = sizes.iter().any(|s| s.media == "video");
    sizes
        .iter()
        .filter(|s| !videos || s.media == "video")
        .filter(|s| !s.url.is_empty())
        .max_by_key(|s| {
            let original = s.label == "Original" || s.label == "Video Original";
            (s.width as u64 * s.height as u64, s.width, original)
        })
}

/// The extension a photo's image file gets: the real format of the best size.
pub fn image_ext(media: &str, best: Option<&Size>, original_format: Option<&str>) -> String {
    if media == "video" || best.is_some_and(|b| b.media == "video") {
        return "mp4".into();
    }
    if let Some(b) = best {
        let path = b.url.split(['?', '#']).next().unwrap_or("");
        if let Some((_, ext)) = path.rsplit_once('.') {
            let ext = ext.to_ascii_lowercase();
            if matches!(
                ext.as_str(),
                "jpg" | "jpeg" | "png" | "gif" | "mp4" | "webp"
            ) {
                return if ext == "jpeg" { "jpg".into() } else { ext };
            }
        }
        if b.label == "Original" {
            if let Some(f) = original_format {
                return f.to_ascii_lowercase();
            }
        }
    }
    "jpg".into()
}

/// One comment on a photo.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Comment {
    pub id: String,
    /// The author's NSID.
    pub author: String,
    pub author_name: String,
    /// Unix seconds.
    pub date_create: i64,
    /// Plain text: markup removed, entities decoded, line breaks kept.
    pub content: String,
    /// The comment's page on Flickr.
    #[serde(default)]
    pub permalink: String,
    /// The text exactly as Flickr returned it (HTML with entities).
    #[serde(default)]
    pub html: String,
}

/// A photo: what Flickr's listing says of it, and (once indexed) what the cache holds of it.
/// The listing fills the first part and leaves the cache state at its defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Photo {
    pub id: String,
    /// Position counted from the oldest photo (0 = oldest); see `engine::planner`.
    pub rank: i64,
    pub secret: String,
    pub server: String,
    pub title: String,
    pub description: String,
    pub date_upload: i64,
    pub last_update: i64,
    pub media: String,
    pub original_format: Option<String>,
    pub count_comments: u32,
    /// The best size known: from the listing's `url_*` extras, or from getSizes.
    pub best: Option<Size>,
    /// The image file's extension (see [`image_ext`]).
    pub ext: String,
    /// Exact byte size of the image, once known (download or HEAD).
    pub image_size: Option<u64>,
    pub image_cached: bool,
    /// Info level of the sidecar on disk, -1 when none.
    pub info_level: i32,
    pub info_last_update: Option<i64>,
    /// Comments as fetched, once fetched.
    pub comments: Option<Vec<Comment>>,
    pub error: Option<String>,
    /// When a sweep of the stream first missed it (unix seconds): deleted (or made private)
    /// on Flickr, kept in the archive.
    pub deleted_at: Option<i64>,
    /// `datetaken` as Flickr sends it (`YYYY-MM-DD HH:MM:SS`), when the listing carried it.
    pub date_taken: Option<String>,
    /// `datetakengranularity`: 0 full, 4 month, 6 year, 8 circa.
    pub taken_granularity: i64,
    /// `datetakenunknown`: Flickr filled the date in (from the upload).
    pub taken_unknown: bool,
    /// Normalised tags, space-separated (the `tags` extra).
    pub tags: String,
}

impl Photo {
    /// A photo as a listing names it: nothing cached yet.
    pub fn listed(id: String) -> Photo {
        Photo {
            id,
            rank: 0,
            secret: String::new(),
            server: String::new(),
            title: String::new(),
            description: String::new(),
            date_upload: 0,
            last_update: 0,
            media: "photo".into(),
            original_format: None,
            count_comments: 0,
            best: None,
            ext: "jpg".into(),
            image_size: None,
            image_cached: false,
            info_level: -1,
            info_last_update: None,
            comments: None,
            error: None,
            deleted_at: None,
            date_taken: None,
            taken_granularity: 0,
            taken_unknown: false,
            tags: String::new(),
        }
    }

    /// The hash of its id (its file stem).
    pub fn hash(&self) -> String {
        hash(&self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_paths() {
        assert_eq!(hash("abc"), "900150983cd24fb0d6963f7d28e17f72");
        let h = hash("51234567890");
        assert_eq!(h.len(), 32);
        assert_eq!(hashed_dir(&h, 0), "");
        assert_eq!(hashed_dir(&h, 2), format!("{}/{}", &h[0..1], &h[1..2]));
        assert_eq!(
            hashed_path(&h, 4, "jpg"),
            format!(
                "{}/{}/{}/{}/{h}.jpg",
                &h[0..1],
                &h[1..2],
                &h[2..3],
                &h[3..4]
            )
        );
        assert_eq!(hashed_path(&h, 0, "json"), format!("{h}.json"));
    }

    #[test]
    fn the_original_wins_a_tie_of_dimensions() {
        let size = |label: &str, w: u32| Size {
            label: label.into(),
            width: w,
            height: w,
            url: format!("http://x/{label}"),
            media: "photo".into(),
        };
        let sizes = [
            size("Original", 2048),
            size("Large 2048", 2048),
            size("Large", 1024),
        ];
        assert_eq!(best_size(&sizes).unwrap().label, "Original");
        let sizes = [size("Large 2048", 2048), size("Original", 2048)];
        assert_eq!(best_size(&sizes).unwrap().label, "Original");
        let sizes = [size("Original", 1024), size("Large 2048", 2048)];
        assert_eq!(best_size(&sizes).unwrap().label, "Large 2048");
    }

    #[test]
    fn extensions() {
        let size = |label: &str, url: &str, media: &str| Size {
            label: label.into(),
            width: 1,
            height: 1,
            url: url.into(),
            media: media.into(),
        };
        assert_eq!(image_ext("video", None, None), "mp4");
        let o = size("Original", "http://x/1_o.png", "photo");
        assert_eq!(image_ext("photo", Some(&o), Some("png")), "png");
        let o = size("Original", "http://x/1_o", "photo");
        assert_eq!(image_ext("photo", Some(&o), Some("GIF")), "gif");
        let l = size("Large", "http://x/1_b.jpeg?x=1", "photo");
        assert_eq!(image_ext("photo", Some(&l), Some("png")), "jpg");
        assert_eq!(image_ext("photo", None, None), "jpg");
    }
}
