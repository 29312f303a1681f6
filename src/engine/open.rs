//! Which cache a run works in: resolves what the user typed (a username in any case, an NSID,
//! a photostream URL) to one directory per Flickr user, opens its store and index, and sets a
//! damaged index aside when asked to rebuild it.
//!
//! A name resolved before is found in the cache root's indexes (username, NSID, or a form typed
//! before), so it costs no API call. Anything else is asked of Flickr first: nothing is created
//! in the cache until Flickr has confirmed that the user exists. The directory is then named
//! by the username Flickr returns (or the NSID when it has none).

use super::SyncError;
use crate::cache::db::{self, Index};
use crate::cache::files::Store;
use crate::cache::users;
use crate::flickr::{is_nsid, FlickrApi, FlickrUser};
use std::path::{Path, PathBuf};

/// Resolves `typed` and opens its store and index. With `rebuild`, the index is set aside
/// (`index.sqlite.corrupt-<unix time>`) and a fresh one is created: the next run adopts the
/// files already on disk.
pub async fn open_user(
    api: &FlickrApi,
    cache_path: &Path,
    typed: &str,
    depth: usize,
    rebuild: bool,
) -> Result<(FlickrUser, Store, Index), SyncError> {
    let typed = typed.trim();
    if !rebuild {
        let found = users::find(cache_path, typed)
            .or_else(|| url_nsid(typed).and_then(|id| users::find_by_id(cache_path, id)));
        if let Some(m) = found {
            return open_dir(cache_path, &m.dir, typed, depth, None, false);
        }
    }
    let u = api.find_user(typed).await?;
    let dir = match users::find_by_id(cache_path, &u.user_id) {
        Some(m) => m.dir,
        // A damaged index cannot say whose it is: its directory name must.
        None => users::mirrors(cache_path)
            .into_iter()
            .find(|m| m.owner.is_err() && (m.answers_to(&u.username) || m.answers_to(typed)))
            .map(|m| m.dir)
            .unwrap_or_else(|| dir_name(&u)),
    };
    open_dir(cache_path, &dir, typed, depth, Some(u), rebuild)
}

fn open_dir(
    cache_path: &Path,
    dir: &str,
    typed: &str,
    depth: usize,
    resolved: Option<FlickrUser>,
    rebuild: bool,
) -> Result<(FlickrUser, Store, Index), SyncError> {
    let store = Store::open(cache_path, dir, depth)
        .map_err(|e| SyncError::Io(crate::cache::files::describe_dir_error(cache_path, &e)))?;
    let path = store.meta_dir().join("index.sqlite");
    if rebuild {
        if let Some(aside) = set_aside(&path)? {
            tracing::warn!(
                "Rebuilding the index of {typed}; the old one is kept as {}",
                aside.display()
            );
        }
    }
    let damaged = |e: rusqlite::Error| damaged(typed, &path, e);
    let index = Index::open(&path).map_err(damaged)?;
    let user = match resolved {
        Some(u) => {
            if let Some(other) = index.meta("user_id").map_err(damaged)? {
                if other != u.user_id {
                    return Err(SyncError::Io(format!(
                        "{} holds the mirror of another Flickr user ({other}, not {}); use another --cache-path",
                        store.root().display(),
                        u.user_id
                    )));
                }
            }
            index.set_meta("user_id", &u.user_id)?;
            index.set_meta("username", &u.username)?;
            u
        }
        None => FlickrUser {
            user_id: index.meta("user_id").map_err(damaged)?.unwrap_or_default(),
            username: index.meta("username").map_err(damaged)?.unwrap_or_default(),
        },
    };
    check_depth(&index, depth).map_err(|e| match e {
        SyncError::Index(e) => damaged(e),
        e => e,
    })?;
    users::remember_alias(&index, typed)?;
    Ok((user, store, index))
}

/// The fatal error of an index SQLite calls damaged, else the plain index error.
pub(crate) fn damaged(typed: &str, path: &Path, e: rusqlite::Error) -> SyncError {
    if db::is_damaged(&e) {
        SyncError::Damaged {
            user: typed.to_string(),
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    } else {
        SyncError::Index(e)
    }
}

/// Moves the index (and its WAL and shared-memory files, which belong to it) aside. Returns
/// where the index went, or `None` when there was none.
fn set_aside(path: &Path) -> Result<Option<PathBuf>, SyncError> {
    if !path.exists() {
        return Ok(None);
    }
    let aside = path.with_extension(format!("sqlite.corrupt-{}", super::now_secs()));
    let io =
        |e: std::io::Error| SyncError::Io(format!("cannot move {} aside: {e}", path.display()));
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", path.display()));
        if side.exists() {
            std::fs::rename(&side, format!("{}{suffix}", aside.display())).map_err(io)?;
        }
    }
    std::fs::rename(path, &aside).map_err(io)?;
    Ok(Some(aside))
}

/// A cache keeps the directory depth it was built with: files under another depth would be
/// invisible, and everything would be downloaded again.
fn check_depth(index: &Index, depth: usize) -> Result<(), SyncError> {
    match index.meta_i64("depth")? {
        Some(d) if d as usize != depth => Err(SyncError::Io(format!(
            "this cache was built with --cache-directory-depth {d}; use that (or another --cache-path)"
        ))),
        Some(_) => Ok(()),
        None => Ok(index.set_meta("depth", &depth.to_string())?),
    }
}

/// The NSID in a photostream URL (`https://www.flickr.com/photos/12345678@N07/...`), if any.
fn url_nsid(typed: &str) -> Option<&str> {
    let (_, rest) = typed.split_once("/photos/")?;
    let who = rest.split('/').next()?;
    is_nsid(who).then_some(who)
}

/// The directory of a user: the username Flickr returned (or the NSID when it has none).
fn dir_name(u: &FlickrUser) -> String {
    let name = if u.username.trim().is_empty() {
        &u.user_id
    } else {
        &u.username
    };
    let name = name.replace('/', "_");
    match name.strip_prefix('.') {
        Some(rest) => format!("_{rest}"),
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nsids_in_urls_and_directory_names() {
        assert_eq!(
            url_nsid("https://www.flickr.com/photos/13476480@N07/"),
            Some("13476480@N07")
        );
        assert_eq!(
            url_nsid("flickr.com/photos/13476480@N07"),
            Some("13476480@N07")
        );
        assert_eq!(url_nsid("https://www.flickr.com/photos/manhhai/"), None);
        assert_eq!(url_nsid("13476480@N07"), None);
        let u = |id: &str, name: &str| FlickrUser {
            user_id: id.into(),
            username: name.into(),
        };
        assert_eq!(dir_name(&u("1@N01", "ManhHai")), "ManhHai");
        assert_eq!(dir_name(&u("1@N01", " ")), "1@N01");
        assert_eq!(dir_name(&u("1@N01", "a/b")), "a_b");
        assert_eq!(dir_name(&u("1@N01", ".x")), "_x");
    }
}
