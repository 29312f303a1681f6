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

use super::scheduler::Lane;
use super::{Engine, FetchError};
use crate::flickr::priority::{boost, is_boostable, opportunistic, with_patience};
use crate::lang::{Label, Locale, PhotoLocales};
use crate::photo::Photo;
use serde::Serialize;
use std::sync::Arc;

/// How long a sidecar request waits for the prefetcher working on the same photo (its image
/// and comments, done in a moment unless the rate holds it) before the stand-in is served.
const CLAIM_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// What a mount shows of a sidecar now.
#[derive(Debug)]
pub enum SidecarNow {
    /// On disk, complete at the level asked for: the row says where.
    Complete(Box<Photo>),
    /// Complete, rendered now: these bytes, being written to the store.
    Rendered(Vec<u8>),
    /// Its comments are not fetched yet: these bytes stand in ([`render_pending`]).
    Pending(Vec<u8>),
}

impl Engine {
    /// The sidecar of `id` at `level` for a request a person waits for, without waiting on
    /// the API rate: complete when it is on disk or needs no call (rendered now), or when its
    /// comments call can go at once (a token beyond the foreground reserve is there, nobody
    /// else works on the photo for more than [`CLAIM_WAIT`], Flickr answers); else the
    /// pending stand-in, and the prefetcher brings the comments.
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
            // A render from the index, served now and written to the store behind the answer
            // (no claim needed: the same bytes whoever writes them).
            let bytes = render(&row, level, self.owner());
            let engine = self.clone();
            tokio::spawn(async move {
                if let Err(e) = engine.cache_info(&row, level).await {
                    tracing::debug!("Sidecar of photo {}: {e}", row.hash());
                }
            });
            return Ok(SidecarNow::Rendered(bytes));
        }
        if self.claim_within(id, level, CLAIM_WAIT).await? {
            // Whoever held the photo before may have just made it complete.
            let now = self.photo_row(id)?;
            if now.info_level >= level
                && now.info_last_update == Some(now.last_update)
                && self.store.info_path(id).exists()
            {
                self.release(id, Lane::Api);
                return Ok(SidecarNow::Complete(Box::new(now)));
            }
            // Only a token that is there now, and not one of the reserve a `stat` with no other
            // answer (a video's size) needs: this one can be answered pending.
            let call = opportunistic(self.api.get_photo_comments(id));
            let got = with_patience(std::time::Duration::ZERO, call);
            let got = got.await;
            match got {
                Ok(comments) => {
                    self.flush_call_counts();
                    let mut with = row.clone();
                    let saved = self.index.set_comments(id, &comments);
                    with.comments = Some(comments);
                    // The comments are current: cache_info renders without another call.
                    with.info_last_update = Some(with.last_update);
                    let bytes = render(&with, level, self.owner());
                    // Written behind the answer, the photo claimed until it is (else the
                    // prefetcher would fetch the comments again).
                    let engine = self.clone();
                    tokio::spawn(async move {
                        if let Err(e) = engine.cache_info(&with, level).await {
                            tracing::debug!("Sidecar of photo {}: {e}", with.hash());
                        }
                        engine.release(&with.id, Lane::Api);
                        engine.changed.notify_waiters();
                    });
                    saved.map_err(FetchError::db)?;
                    return Ok(SidecarNow::Rendered(bytes));
                }
                Err(e) => {
                    tracing::debug!(
                        "Comments of photo {} not fetched now ({e}): serving the sidecar without them",
                        row.hash()
                    );
                    self.release(id, Lane::Api);
                    self.changed.notify_waiters();
                }
            }
        }
        // Made complete meanwhile by whoever held the photo.
        let now = self.photo_row(id)?;
        if now.info_level >= level
            && now.info_last_update == Some(now.last_update)
            && self.store.info_path(id).exists()
        {
            return Ok(SidecarNow::Complete(Box::new(now)));
        }
        Ok(SidecarNow::Pending(render_pending(&row, self.owner())))
    }

    /// Claims `id`'s API lane, waiting at most `patience` for whoever holds it: the
    /// prefetcher (maybe waiting for the rate limit, or for a worker before it even started:
    /// its calls are promoted meanwhile) or another reader's sidecar being written. False when
    /// that was not enough, or when the sidecar became complete meanwhile (then nothing is
    /// claimed; the caller looks again). Image downloads claim the other lane: never waited on.
    async fn claim_within(
        &self,
        id: &str,
        level: i32,
        patience: std::time::Duration,
    ) -> Result<bool, FetchError> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let notified = self.changed.notified();
            if self.claim(id, Lane::Api) {
                return Ok(true);
            }
            let row = self.photo_row(id)?;
            let fresh = row.info_level >= level && row.info_last_update == Some(row.last_update);
            if fresh || tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
            // The prefetcher's calls for it go first now.
            if is_boostable(id) {
                boost(id);
            }
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(std::time::Duration::from_millis(50)) => {}
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
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
