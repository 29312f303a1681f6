//! The `<md5>.json` info sidecar: rendered from the index, byte-identical for mirror and mount.
//!
//! Keys in this order: `title`, `description` (info level >= 1), `comments` (level 2), each a
//! label `{"content", "locale"}` (a comment then adds id, author, authorname, date,
//! permalink and its raw html); then extra keys (id, page URL, dates, media, image, and
//! `deleted_at` for a photo no longer on Flickr). Labels come from `lang::PhotoLocales`, the
//! same call the search index makes.
//!
//! A mount also answers for a sidecar whose comments are not fetched yet ([`Engine::sidecar_now`]):
//! never waiting on the API rate for them, it serves the photo's level-1 content flagged
//! `"comments_pending": true` (in memory, never in the store, which holds only complete
//! sidecars) until the comments arrive.

use super::{Engine, FetchError};
use crate::flickr::priority::with_patience;
use crate::lang::{Label, Locale, PhotoLocales};
use crate::photo::Photo;
use serde::Serialize;
use std::sync::Arc;

/// What a mount shows of a sidecar now.
#[derive(Debug)]
pub enum SidecarNow {
    /// On disk, complete at the level asked for: the row says where.
    Complete(Box<Photo>),
    /// Its comments are not fetched yet: these bytes stand in ([`render_pending`]).
    Pending(Vec<u8>),
}

impl Engine {
    /// The sidecar of `id` at `level` for a request a person waits for, without waiting on
    /// the API rate: complete when it is on disk or needs no call (rendered now), or when its
    /// comments call can go at once (a token is there, nobody else works on the photo,
    /// Flickr answers); else the pending stand-in, and the prefetcher brings the comments.
    pub async fn sidecar_now(
        self: &Arc<Self>,
        id: &str,
        level: i32,
    ) -> Result<SidecarNow, FetchError> {
        let row = self.photo_row(id)?;
        let fresh = row.info_level >= level && row.info_last_update == Some(row.last_update);
        if fresh && self.store.info_path(&row.id).exists() {
            return Ok(SidecarNow::Complete(Box::new(row)));
        }
        let comments_stale =
            row.comments.is_none() || row.info_last_update != Some(row.last_update);
        let needs_call = level >= 2 && comments_stale && row.count_comments > 0;
        if !needs_call {
            // A render from the index: no claim needed (the same bytes whoever writes them).
            self.cache_info(&row, level).await?;
            return Ok(SidecarNow::Complete(Box::new(self.photo_row(id)?)));
        }
        if self.claim(id) {
            let got = with_patience(std::time::Duration::ZERO, self.api.get_photo_comments(id));
            let got = got.await;
            let r = match got {
                Ok(comments) => {
                    self.flush_call_counts();
                    let mut with = row.clone();
                    self.index
                        .set_comments(id, &comments)
                        .map_err(FetchError::db)?;
                    with.comments = Some(comments);
                    // The comments are current: cache_info renders without another call.
                    with.info_last_update = Some(with.last_update);
                    self.cache_info(&with, level).await.map(|()| true)
                }
                Err(e) => {
                    tracing::debug!(
                        "Comments of photo {} not fetched now ({e}): serving the sidecar without them",
                        row.hash()
                    );
                    Ok(false)
                }
            };
            self.release(id);
            self.changed.notify_waiters();
            if r? {
                return Ok(SidecarNow::Complete(Box::new(self.photo_row(id)?)));
            }
        }
        Ok(SidecarNow::Pending(render_pending(&row, self.owner())))
    }

    fn photo_row(&self, id: &str) -> Result<Photo, FetchError> {
        self.index
            .photo(id)
            .map_err(FetchError::db)?
            .ok_or_else(|| "unknown photo".to_string().into())
    }
}

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
    /// A mount's stand-in while the comments are not fetched yet: level-1 content, and this.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    comments_pending: bool,
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
    render_as(row, level, owner, false)
}

/// The stand-in of a level-2 sidecar whose comments are not fetched yet: the level-1 sidecar
/// (title, description, the extra keys) with `"comments_pending": true` last. No `comments`
/// key: an empty list would say the photo has none.
pub fn render_pending(row: &Photo, owner: &str) -> Vec<u8> {
    render_as(row, 1, owner, true)
}

fn render_as(row: &Photo, level: i32, owner: &str, comments_pending: bool) -> Vec<u8> {
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
        comments_pending,
    };
    let mut out = serde_json::to_vec_pretty(&sidecar).unwrap_or_default();
    out.push(b'\n');
    out
}
