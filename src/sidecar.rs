//! The `<md5>.json` info sidecar: rendered from the index, byte-identical for mirror and mount.
//!
//! Keys in this order: `title`, `description` (info level >= 1), `comments` (level 2), each a
//! label `{"content", "locale"}`; then extra keys (id, page URL, dates, media, image).

use crate::index::PhotoRow;
use crate::label::Label;
use serde::Serialize;

#[derive(Serialize)]
struct Sidecar<'a> {
    title: Label,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<Label>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comments: Option<Vec<Label>>,
    id: &'a str,
    url: String,
    date_upload: i64,
    last_update: i64,
    media: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<ImageInfo<'a>>,
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
pub fn render(row: &PhotoRow, level: i32, owner: &str) -> Vec<u8> {
    let hash = crate::store::photo_hash(&row.id);
    let sidecar = Sidecar {
        title: Label::detect(&row.title),
        description: (level >= 1).then(|| Label::detect(&row.description)),
        comments: (level >= 2).then(|| {
            row.comments
                .as_deref()
                .unwrap_or_default()
                .iter()
                .map(|c| Label::detect(&c.content))
                .collect()
        }),
        id: &row.id,
        url: page_url(owner, &row.id),
        date_upload: row.date_upload,
        last_update: row.last_update,
        media: &row.media,
        image: match (&row.best_label, row.best_width, row.best_height) {
            (Some(label), Some(width), Some(height)) => Some(ImageInfo {
                file: format!("{hash}.{}", row.ext),
                label,
                width,
                height,
            }),
            _ => None,
        },
    };
    let mut out = serde_json::to_vec_pretty(&sidecar).unwrap_or_default();
    out.push(b'\n');
    out
}
