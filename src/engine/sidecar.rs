//! The `<md5>.json` info sidecar: rendered from the index, byte-identical for mirror and mount.
//!
//! Keys in this order: `title`, `description` (info level >= 1), `comments` (level 2), each a
//! label `{"content", "locale"}` (a comment then adds id, author, authorname, date,
//! permalink and its raw html); then extra keys (id, page URL, dates, media, image, and
//! `deleted_at` for a photo no longer on Flickr). Labels come from `lang::PhotoLocales`, the
//! same call the search index makes.

use crate::lang::{Label, Locale, PhotoLocales};
use crate::photo::Photo;
use serde::Serialize;

#[derive(Serialize)]
struct Sidecar<'a> {
    title: Label,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<Label>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comments: Option<Vec<CommentOut<'a>>>,
    id: &'a str,
    url: String,
    date_upload: i64,
    last_update: i64,
    media: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<ImageInfo<'a>>,
    /// When a sweep first missed the photo on Flickr (it is kept in the archive).
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted_at: Option<i64>,
}

/// A comment: its text and language first (the seed format), then who and when, and the text
/// exactly as Flickr sent it (HTML with entities; `content` is its plain text).
#[derive(Serialize)]
struct CommentOut<'a> {
    content: &'a str,
    locale: Locale,
    id: &'a str,
    author: &'a str,
    authorname: &'a str,
    date: i64,
    permalink: &'a str,
    html: &'a str,
}

#[derive(Serialize)]
struct ImageInfo<'a> {
    file: String,
    label: &'a str,
    width: u32,
    height: u32,
}

/// The photo page URL of a photo.
pub fn page_url(username_or_nsid: &str, photo_id: &str) -> String {
    format!("https://www.flickr.com/photos/{username_or_nsid}/{photo_id}/")
}

/// Renders the sidecar of `row` at `level` (0..=2). `owner` names the photostream in URLs.
pub fn render(row: &Photo, level: i32, owner: &str) -> Vec<u8> {
    let hash = crate::photo::hash(&row.id);
    let comments = row.comments.as_deref().unwrap_or_default();
    let texts: Vec<&str> = comments.iter().map(|c| c.content.as_str()).collect();
    let locales = PhotoLocales::detect(&row.title, &row.description, &texts);
    let sidecar = Sidecar {
        title: Label::new(&row.title, locales.title),
        description: (level >= 1).then(|| Label::new(&row.description, locales.description)),
        comments: (level >= 2).then(|| {
            comments
                .iter()
                .zip(locales.comments)
                .map(|(c, locale)| CommentOut {
                    content: &c.content,
                    locale,
                    id: &c.id,
                    author: &c.author,
                    authorname: &c.author_name,
                    date: c.date_create,
                    permalink: &c.permalink,
                    html: &c.html,
                })
                .collect()
        }),
        id: &row.id,
        url: page_url(owner, &row.id),
        date_upload: row.date_upload,
        last_update: row.last_update,
        media: &row.media,
        image: row.best.as_ref().map(|b| ImageInfo {
            file: format!("{hash}.{}", row.ext),
            label: &b.label,
            width: b.width,
            height: b.height,
        }),
        deleted_at: row.deleted_at,
    };
    let mut out = serde_json::to_vec_pretty(&sidecar).unwrap_or_default();
    out.push(b'\n');
    out
}
