//! The users of a cache root: which directories are mirrors (they hold an index that names the
//! Flickr user), and which mirror a name typed on the command line means, whatever its case or
//! form (username, NSID, or a photostream URL resolved before), without asking Flickr.
//!
//! A directory is a mirror only when its index records `user_id`: a directory some failed run
//! of an older version left behind (`<cache>/nosuchuser/.flickrfs/index.sqlite` with no user) is
//! not one. An index that cannot be read at all is still reported, so that `status` and the
//! mirror can say it is damaged rather than ignore it.

use super::db::Index;
use super::index_path;
use std::path::Path;

/// Meta key of the index: every form the user was typed as (lowercased, JSON array), so a URL
/// or an NSID typed once costs no lookup on the next run either.
pub const ALIASES_KEY: &str = "aliases";

/// One user directory of the cache root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mirror {
    /// The directory name under the cache root.
    pub dir: String,
    /// What its index says, or why it could not be read.
    pub owner: Result<Owner, String>,
}

/// The Flickr user an index belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub user_id: String,
    pub username: String,
    pub aliases: Vec<String>,
}

impl Mirror {
    /// True when `typed` (trimmed, any case) names this mirror: its username, its NSID, a form
    /// it was typed as before, or (for an index that cannot be read) its directory name.
    pub fn answers_to(&self, typed: &str) -> bool {
        let t = typed.trim().to_lowercase();
        match &self.owner {
            Ok(o) => {
                o.username.to_lowercase() == t
                    || o.user_id.to_lowercase() == t
                    || o.aliases.contains(&t)
            }
            Err(_) => self.dir.to_lowercase() == t,
        }
    }
}

/// Reads the owner of the index at `path` (read-only). `Ok(None)`: an index with no user.
pub fn read_owner(path: &Path) -> Result<Option<Owner>, String> {
    let index = Index::open_read_only(path).map_err(|e| e.to_string())?;
    let get = |k: &str| index.meta(k).map_err(|e| e.to_string());
    let Some(user_id) = get("user_id")? else {
        return Ok(None);
    };
    let aliases = get(ALIASES_KEY)?
        .and_then(|a| serde_json::from_str::<Vec<String>>(&a).ok())
        .unwrap_or_default();
    Ok(Some(Owner {
        user_id,
        username: get("username")?.unwrap_or_default(),
        aliases,
    }))
}

/// Every mirror under `cache`, sorted by directory name.
pub fn mirrors(cache: &Path) -> Vec<Mirror> {
    let mut out: Vec<Mirror> = std::fs::read_dir(cache)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let dir = e.file_name().into_string().ok()?;
            let path = index_path(&e.path());
            if !path.is_file() {
                return None;
            }
            match read_owner(&path) {
                Ok(Some(o)) => Some(Mirror { dir, owner: Ok(o) }),
                Ok(None) => None,
                Err(e) => Some(Mirror { dir, owner: Err(e) }),
            }
        })
        .collect();
    out.sort_by(|a, b| a.dir.cmp(&b.dir));
    out
}

/// The mirror that `typed` names, if any (an exact directory name first).
pub fn find(cache: &Path, typed: &str) -> Option<Mirror> {
    let all = mirrors(cache);
    let exact = all
        .iter()
        .position(|m| m.dir == typed.trim() && m.answers_to(typed));
    match exact {
        Some(i) => Some(all[i].clone()),
        None => all.into_iter().find(|m| m.answers_to(typed)),
    }
}

/// The mirror of the Flickr user `user_id`, if any.
pub fn find_by_id(cache: &Path, user_id: &str) -> Option<Mirror> {
    mirrors(cache)
        .into_iter()
        .find(|m| m.owner.as_ref().is_ok_and(|o| o.user_id == user_id))
}

/// Adds `typed` (lowercased) to the aliases of `index` when it is not already a name of it.
pub fn remember_alias(index: &Index, typed: &str) -> rusqlite::Result<()> {
    let t = typed.trim().to_lowercase();
    let name = index.meta("username")?.unwrap_or_default().to_lowercase();
    let id = index.meta("user_id")?.unwrap_or_default().to_lowercase();
    if t.is_empty() || t == name || t == id {
        return Ok(());
    }
    let mut aliases: Vec<String> = index
        .meta(ALIASES_KEY)?
        .and_then(|a| serde_json::from_str(&a).ok())
        .unwrap_or_default();
    if aliases.contains(&t) {
        return Ok(());
    }
    aliases.push(t);
    let json = serde_json::to_string(&aliases).unwrap_or_else(|_| "[]".into());
    index.set_meta(ALIASES_KEY, &json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make(cache: &Path, dir: &str, meta: &[(&str, &str)]) {
        let d = cache.join(dir).join(super::super::files::META_DIR);
        std::fs::create_dir_all(&d).unwrap();
        let idx = Index::open(&d.join("index.sqlite")).unwrap();
        for (k, v) in meta {
            idx.set_meta(k, v).unwrap();
        }
    }

    #[test]
    fn only_directories_whose_index_names_a_user_are_mirrors() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path();
        make(
            cache,
            "manhhai",
            &[("user_id", "13476480@N07"), ("username", "manhhai")],
        );
        make(cache, "nosuchuser", &[]); // what a failed run of an older version left
        std::fs::create_dir_all(cache.join("empty")).unwrap();
        let dirs: Vec<String> = mirrors(cache).into_iter().map(|m| m.dir).collect();
        assert_eq!(dirs, ["manhhai"]);
        for typed in [
            "manhhai",
            "ManhHai",
            " MANHHAI ",
            "13476480@N07",
            "13476480@n07",
        ] {
            assert_eq!(
                find(cache, typed).map(|m| m.dir).as_deref(),
                Some("manhhai"),
                "{typed}"
            );
        }
        assert!(find(cache, "nosuchuser").is_none());
        assert!(find(cache, "someone").is_none());
    }

    #[test]
    fn aliases_are_remembered_once_and_found() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path();
        make(
            cache,
            "manhhai",
            &[("user_id", "13476480@N07"), ("username", "manhhai")],
        );
        let idx = Index::open(&index_path(&cache.join("manhhai"))).unwrap();
        let url = "https://www.flickr.com/photos/13476480@N07/";
        remember_alias(&idx, url).unwrap();
        remember_alias(&idx, url).unwrap();
        remember_alias(&idx, "MANHHAI").unwrap(); // its own name: not an alias
        assert_eq!(
            idx.meta(ALIASES_KEY).unwrap().as_deref(),
            Some(r#"["https://www.flickr.com/photos/13476480@n07/"]"#)
        );
        assert_eq!(find(cache, url).map(|m| m.dir).as_deref(), Some("manhhai"));
        assert_eq!(
            find_by_id(cache, "13476480@N07").map(|m| m.dir).as_deref(),
            Some("manhhai")
        );
    }

    #[test]
    fn an_unreadable_index_is_reported_under_its_directory_name() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path();
        let meta = cache.join("Broken").join(super::super::files::META_DIR);
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("index.sqlite"),
            b"this is not a database, not at all",
        )
        .unwrap();
        let all = mirrors(cache);
        assert_eq!(all.len(), 1);
        assert!(all[0].owner.is_err());
        assert_eq!(
            find(cache, "broken").map(|m| m.dir).as_deref(),
            Some("Broken")
        );
    }
}
