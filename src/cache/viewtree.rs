//! The views as symlink trees in the cache (`mirror --views`): `<user>/albums`, `dates` and
//! `tags`, each replaced whole. A tree is built beside the old one (in `.flickrfs/`, on the
//! same file system), then swapped in with one `renameat2(RENAME_EXCHANGE)` and the old one
//! removed: a reader sees the old tree or the new one, never a half-built one, and a run
//! interrupted before the swap leaves the old tree as it was (its leftover is removed by the
//! next run). Names and targets come from `crate::views`; this module only writes them.

use super::files::META_DIR;
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Where view `name` is built before the swap (and where the old one goes after it).
pub fn building_path(user_dir: &Path, name: &str) -> PathBuf {
    user_dir
        .join(META_DIR)
        .join(format!("views-building-{name}"))
}

/// Replaces `<user_dir>/<name>` whole by a tree of `dirs` (paths under it, possibly empty)
/// and `links` (path under it, target).
pub fn replace(
    user_dir: &Path,
    name: &str,
    dirs: &[String],
    links: &[(String, String)],
) -> io::Result<()> {
    let tmp = building_path(user_dir, name);
    remove_any(&tmp)?;
    std::fs::create_dir_all(&tmp)?;
    for d in dirs {
        std::fs::create_dir_all(tmp.join(d))?;
    }
    for (path, target) in links {
        let at = tmp.join(path);
        if let Some(parent) = at.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::os::unix::fs::symlink(target, &at)?;
    }
    // The new tree's entries reach the disk before it takes the old one's place.
    std::fs::File::open(&tmp)?.sync_all()?;
    let dest = user_dir.join(name);
    if std::fs::symlink_metadata(&dest).is_ok() {
        exchange(&tmp, &dest)?;
        remove_any(&tmp)?;
    } else {
        std::fs::rename(&tmp, &dest)?;
    }
    std::fs::File::open(user_dir)?.sync_all()
}

/// Swaps two paths atomically.
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    let ca = CString::new(a.as_os_str().as_bytes())?;
    let cb = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both are valid NUL-terminated paths that outlive the call.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn remove_any(p: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(p) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p),
        Ok(_) => std::fs::remove_file(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(root: &Path) -> Vec<(String, Option<String>)> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let e = e.unwrap();
                let rel = e.path().strip_prefix(root).unwrap().display().to_string();
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                    out.push((rel, None));
                } else {
                    let t = std::fs::read_link(e.path()).unwrap();
                    out.push((rel, Some(t.display().to_string())));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn trees_are_replaced_whole_and_leftovers_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path();
        std::fs::create_dir_all(user.join(META_DIR)).unwrap();
        let l = |p: &str, t: &str| (p.to_string(), t.to_string());
        replace(
            user,
            "tags",
            &[],
            &[
                l("a/x (1).jpg", "../../1.jpg"),
                l("b/y (2).jpg", "../../2.jpg"),
            ],
        )
        .unwrap();
        let first = listing(&user.join("tags"));
        assert_eq!(first.len(), 4);
        // A run that died while building left a half tree: the old view is untouched by it,
        // and the next run removes it.
        let half = building_path(user, "tags");
        std::fs::create_dir_all(half.join("a")).unwrap();
        std::os::unix::fs::symlink("../../9.jpg", half.join("a/z (9).jpg")).unwrap();
        assert_eq!(listing(&user.join("tags")), first);
        replace(
            user,
            "tags",
            &["empty".into()],
            &[l("a/x (1).jpg", "../../1.jpg")],
        )
        .unwrap();
        assert_eq!(
            listing(&user.join("tags")),
            vec![
                ("a".to_string(), None),
                ("a/x (1).jpg".to_string(), Some("../../1.jpg".to_string())),
                ("empty".to_string(), None),
            ],
            "stale links and directories are gone"
        );
        assert!(!half.exists());
    }
}
