//! The `status` command: what is mirrored, per user, read from each user's index (read-only,
//! so it works beside a running mirror or mount) and from the files on disk.

use crate::cache::{mirrored_users, open_index};
use crate::cmd::args::StatusArgs;
use crate::config::PER_PAGE;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Serialize)]
pub struct UserStatus {
    pub username: String,
    pub user_id: Option<String>,
    pub path: PathBuf,
    /// Photos in the stream at the last listing.
    pub photos_total: Option<u64>,
    pub photos_indexed: u64,
    pub images_cached: u64,
    pub infos_cached: u64,
    /// Photos listed but not yet processed as the last run wanted.
    pub photos_pending: u64,
    /// Photos deleted from Flickr, kept in the archive.
    pub photos_deleted: u64,
    /// Listing pages still to fetch: photos of the stream not indexed yet, in pages.
    pub pages_pending: u64,
    /// Bytes of every file under the user's directory (images, sidecars, index).
    pub bytes_on_disk: u64,
    /// Unix seconds of the end of the last completed run, if any.
    pub last_sync: Option<i64>,
    /// Calls made for this user by the runs that record them (mirror, mount).
    pub api_calls_last_hour: u64,
    /// What Flickr's limit counts: the calls of each API key used under this cache, by every
    /// process and every user, in the last hour. Keys are named by a digest, never shown.
    pub api_budget: Vec<KeyCalls>,
    /// Photos whose last attempt failed (and are still in the stream).
    pub photos_in_error: u64,
    /// Errors of every kind met in the last 24 hours: photos that failed, reads through a
    /// mount answered with an error, failed syncs, a full disk.
    pub errors: u64,
    /// The latest errors, newest first: `<time> photo <hash>: <message>`.
    pub recent_errors: Vec<String>,
}

/// The calls of one API key in the last hour.
#[derive(Debug, Serialize)]
pub struct KeyCalls {
    pub key: String,
    pub calls_last_hour: u64,
}

/// The key-wide figures of every budget file under `cache`.
fn api_budget(cache: &Path) -> Vec<KeyCalls> {
    crate::flickr::budget::budget_files(cache)
        .into_iter()
        .map(|(key, path)| KeyCalls {
            key,
            calls_last_hour: crate::flickr::budget::read_calls_last_hour(&path),
        })
        .collect()
}

/// One recorded error as a line: when, which photo (by its file name's hash), what.
pub fn error_line(e: &crate::cache::db::ErrorEvent) -> String {
    match &e.photo_id {
        Some(id) => format!(
            "{} photo {}: {}",
            format_time(e.at),
            crate::photo::hash(id),
            e.message
        ),
        None => format!("{} {}", format_time(e.at), e.message),
    }
}

/// Gathers the figures of one user.
pub fn gather(cache: &Path, user: &str) -> Result<UserStatus, String> {
    let (dir, index) = open_index(cache, user, false)?;
    let err = |e: rusqlite::Error| format!("cannot read the index of {user}: {e}");
    let counts = index.counts().map_err(err)?;
    let total = index
        .meta_i64("total")
        .map_err(err)?
        .map(|t| t.max(0) as u64);
    let recent_errors: Vec<String> = index
        .recent_errors(5)
        .map_err(err)?
        .iter()
        .map(error_line)
        .collect();
    Ok(UserStatus {
        username: index
            .meta("username")
            .map_err(err)?
            .unwrap_or_else(|| user.to_string()),
        user_id: index.meta("user_id").map_err(err)?,
        photos_total: total,
        photos_indexed: counts.photos_indexed,
        images_cached: counts.images_cached,
        infos_cached: counts.infos_cached,
        photos_pending: counts.pending,
        photos_deleted: counts.deleted,
        // Nothing once a listing pass has completed (private photos count in `total` but are
        // never listed: short pages must not look like pages to come).
        pages_pending: if index.meta("listing_done").map_err(err)?.as_deref() == Some("1") {
            0
        } else {
            total
                .unwrap_or(0)
                .saturating_sub(counts.photos_indexed - counts.deleted)
                .div_ceil(PER_PAGE as u64)
        },
        bytes_on_disk: dir_bytes(&dir),
        last_sync: index.meta_i64("last_sync").map_err(err)?,
        api_calls_last_hour: index.api_calls_last_hour().map_err(err)?,
        api_budget: api_budget(cache),
        photos_in_error: counts.errors,
        errors: index
            .errors_since(crate::cache::db::now() - 86_400)
            .map_err(err)?,
        recent_errors,
        path: dir,
    })
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => total += e.metadata().map(|m| m.len()).unwrap_or(0),
                _ => {}
            }
        }
    }
    total
}

/// `2026-11-22 21:05:00 UTC` from unix seconds.
pub fn format_time(secs: i64) -> String {
    format!("{} UTC", crate::timefmt::datetime(secs))
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn render_text(s: &UserStatus) -> String {
    let total = s
        .photos_total
        .map(|t| t.to_string())
        .unwrap_or_else(|| "unknown".into());
    let mut out = format!(
        "{} ({})  {}\n",
        s.username,
        s.user_id.as_deref().unwrap_or("?"),
        s.path.display()
    );
    let lines = [
        ("photos in stream", total),
        ("photos indexed", s.photos_indexed.to_string()),
        ("images cached", s.images_cached.to_string()),
        ("infos cached", s.infos_cached.to_string()),
        ("photos pending", s.photos_pending.to_string()),
        ("photos deleted", s.photos_deleted.to_string()),
        ("pages pending", s.pages_pending.to_string()),
        (
            "bytes on disk",
            format!("{} ({})", s.bytes_on_disk, human_bytes(s.bytes_on_disk)),
        ),
        (
            "last sync",
            s.last_sync
                .map(format_time)
                .unwrap_or_else(|| "never completed".into()),
        ),
        ("API calls last hour", s.api_calls_last_hour.to_string()),
        ("photos in error", s.photos_in_error.to_string()),
        ("errors last 24h", s.errors.to_string()),
    ];
    for (k, v) in lines {
        out.push_str(&format!("  {k:<20} {v}\n"));
    }
    for b in &s.api_budget {
        out.push_str(&format!(
            "  {:<20} {} (key {}, every user and process)\n",
            "key calls last hour", b.calls_last_hour, b.key
        ));
    }
    for e in &s.recent_errors {
        out.push_str(&format!("  ! {e}\n"));
    }
    out
}

/// Runs the command; returns the exit code.
pub fn main(args: StatusArgs) -> i32 {
    match run(&args) {
        Ok(Status { out, failed }) => {
            print!("{out}");
            if failed > 0 {
                eprintln!(
                    "flickrfs: error: the index of {failed} user(s) could not be read (see above)"
                );
                1
            } else {
                0
            }
        }
        Err(e) => {
            eprintln!("flickrfs: error: {e}");
            1
        }
    }
}

fn run(args: &StatusArgs) -> Result<Status, String> {
    let users = match &args.user {
        Some(u) => vec![u.clone()],
        None => mirrored_users(&args.cache_path),
    };
    // One user's unreadable index is that user's line; the others still show.
    let all: Vec<(String, Result<UserStatus, String>)> = users
        .iter()
        .map(|u| (u.clone(), gather(&args.cache_path, u)))
        .collect();
    let failed = all.iter().filter(|(_, r)| r.is_err()).count();
    if args.user.is_some() && failed == 1 {
        if let Some((_, Err(e))) = all.into_iter().next() {
            return Err(e);
        }
        unreachable!("one user asked, one failure");
    }
    let out = if args.json {
        let docs: Vec<serde_json::Value> = all
            .iter()
            .map(|(u, r)| match r {
                Ok(s) => serde_json::to_value(s).unwrap_or_default(),
                Err(e) => serde_json::json!({ "username": u, "error": e }),
            })
            .collect();
        let mut s = serde_json::to_string_pretty(&docs).map_err(|e| e.to_string())?;
        s.push('\n');
        s
    } else if all.is_empty() {
        format!("No mirrored photostream in {}\n", args.cache_path.display())
    } else {
        all.iter()
            .map(|(u, r)| match r {
                Ok(s) => render_text(s),
                Err(e) => format!("{u}  error: {e}\n"),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    Ok(Status { out, failed })
}

/// What `status` prints, and how many users could not be read (exit 1 when any).
struct Status {
    out: String,
    failed: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_sizes() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(1_795_387_221), "2026-11-22 22:40:21 UTC");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }
}
