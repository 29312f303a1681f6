//! The `search` command: runs a full-text query over one or every mirrored user's index and
//! prints, per hit, the title, the photo page URL and the cached files (or JSON with --json).

use crate::cache::db::search::{Hit, Match};
use crate::cache::{mirrored_users, open_index};
use crate::cmd::args::SearchArgs;
use crate::engine::sidecar::page_url;
use crate::lang::Locale;
use crate::photo;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Serialize)]
pub struct Found {
    pub user: String,
    pub id: String,
    pub title: String,
    pub url: String,
    /// The cached image, when it is on disk.
    pub image: Option<PathBuf>,
    /// The cached sidecar, when it is on disk.
    pub info: Option<PathBuf>,
    pub score: f64,
    pub matches: Vec<Match>,
    /// Deleted from Flickr: the archive keeps it, the URL no longer works.
    pub deleted: bool,
}

/// Where the files of a photo live under `user_dir`, at the depth the cache was built with.
pub fn locate(user_dir: &Path, depth: usize, photo_id: &str, ext: &str) -> PathBuf {
    user_dir.join(photo::hashed_path(&photo::hash(photo_id), depth, ext))
}

/// Searches every user in `users`; hits of all users merged, best first.
pub fn run_search(
    cache: &Path,
    users: &[String],
    query: &str,
    locale: Option<&str>,
    limit: usize,
) -> Result<(Vec<Found>, Vec<String>), String> {
    let locale = match locale {
        None => None,
        Some(l) => Some(
            Locale::from_string(l)
                .ok_or_else(|| {
                    format!("unknown locale {l:?} (use an ISO 639 code such as vie, fra or en-GB)")
                })?
                .to_string(),
        ),
    };
    let mut out = Vec::new();
    let mut broken = Vec::new();
    for user in users {
        // With several users, one user's unreadable index is said for that user, and the
        // others are still searched.
        let (dir, index) = match open_index(cache, user, true) {
            Ok(x) => x,
            Err(e) if users.len() > 1 => {
                broken.push(e);
                continue;
            }
            Err(e) => return Err(e),
        };
        let depth = index
            .meta_i64("depth")
            .ok()
            .flatten()
            .map(|d| d as usize)
            .unwrap_or(crate::config::DEFAULT_DEPTH as usize);
        let owner = index
            .meta("user_id")
            .ok()
            .flatten()
            .unwrap_or_else(|| user.clone());
        let hits: Vec<Hit> = match index.search(query, locale.as_deref(), limit) {
            Ok(h) => h,
            Err(e) if users.len() > 1 => {
                broken.push(format!("{user}: {e}"));
                continue;
            }
            Err(e) => return Err(e.to_string()),
        };
        for h in hits {
            let image = locate(&dir, depth, &h.id, &h.ext);
            let info = locate(&dir, depth, &h.id, "json");
            out.push(Found {
                user: user.clone(),
                url: page_url(&owner, &h.id),
                image: image.is_file().then_some(image),
                info: info.is_file().then_some(info),
                id: h.id,
                title: h.title,
                score: h.score,
                matches: h.matches,
                deleted: h.deleted,
            });
        }
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out.truncate(limit);
    Ok((out, broken))
}

fn render_text(found: &[Found], query: &str) -> String {
    if found.is_empty() {
        return format!("No photo matches {query:?}\n");
    }
    let mut out = String::new();
    for f in found {
        let title = if f.title.trim().is_empty() {
            "(untitled)"
        } else {
            f.title.trim()
        };
        let gone = if f.deleted {
            " (deleted from Flickr)"
        } else {
            ""
        };
        out.push_str(&format!("{title}{gone}\n  {}\n", f.url));
        match (&f.image, &f.info) {
            (None, None) => out.push_str("  (not cached yet)\n"),
            (image, info) => {
                for p in [image, info].into_iter().flatten() {
                    out.push_str(&format!("  {}\n", p.display()));
                }
            }
        }
        let matched: Vec<String> = f
            .matches
            .iter()
            .map(|m| format!("{} ({})", m.kind, m.locale))
            .collect();
        out.push_str(&format!("  matched: {}\n", matched.join(", ")));
    }
    out
}

/// Runs the command; returns the exit code (1 on an error, 0 otherwise, hits or not).
pub fn main(args: SearchArgs) -> i32 {
    let users = match &args.user {
        Some(u) => vec![u.clone()],
        None => mirrored_users(&args.cache_path),
    };
    if users.is_empty() {
        eprintln!(
            "flickrfs: error: no mirrored photostream in {}",
            args.cache_path.display()
        );
        return 1;
    }
    match run_search(
        &args.cache_path,
        &users,
        &args.query,
        args.locale.as_deref(),
        args.limit as usize,
    ) {
        Ok((found, broken)) => {
            for b in &broken {
                eprintln!("flickrfs: error: {b}");
            }
            if args.json {
                match serde_json::to_string_pretty(&found) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        eprintln!("flickrfs: error: {e}");
                        return 1;
                    }
                }
            } else {
                print!("{}", render_text(&found, &args.query));
            }
            i32::from(!broken.is_empty())
        }
        Err(e) => {
            eprintln!("flickrfs: error: {e}");
            1
        }
    }
}
