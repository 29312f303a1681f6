//! The on-disk cache of one user: the hashed layout, atomic writes and crash leftovers.
//!
//! `<cache>/<username>/a/b/c/d/<md5>.<ext>` where `<md5>` is the lowercase hex MD5 of the photo
//! id and the directory levels are its first `depth` hex characters. A file only ever appears
//! complete under its final name: it is written to a hidden temp file in the same directory,
//! fsynced, then renamed (and the directory fsynced). Temp files left by a crash carry the
//! `TEMP_SUFFIX` and are removed by [`Store::clean_temp_files`] at start (a mount: once it is
//! up), unless their writer (named by pid, holding a lock) is still alive.

use super::writers::Writers;
use crate::photo;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Suffix of every temp file the store writes; nothing else in the tree ends with it.
pub const TEMP_SUFFIX: &str = ".flickrfs-tmp";
/// Suffix of a partial image download: kept across crashes and resumed with `Range`, so an
/// interrupted download never costs a second full one. Locked (flock) while being written.
pub const PART_SUFFIX: &str = ".flickrfs-part";
/// Name of the per-user metadata directory (index, logs) inside the user's cache directory.
pub const META_DIR: &str = ".flickrfs";

/// Where the partial download of `final_path` lives (beside it, hidden).
pub fn part_path(final_path: &Path) -> PathBuf {
    let name = final_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    final_path
        .parent()
        .unwrap_or(Path::new("."))
        .join(format!(".{name}{PART_SUFFIX}"))
}

/// Creates `dir` (and missing parents) with mode 0700. An existing directory keeps its mode:
/// the person who made it chose it (a group-shared 2775 archive stays shared); a warning says
/// so when others can read it. Fails when `dir` exists and is not a directory.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {
            if m.permissions().mode() & 0o007 != 0 {
                warn_world_readable(dir, m.permissions().mode());
            }
            Ok(())
        }
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "it exists and is not a directory",
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir),
        Err(e) => Err(e),
    }
}

/// Once per directory and process: a cache others can read exposes what it mirrors.
fn warn_world_readable(dir: &Path, mode: u32) {
    static WARNED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    if warned.iter().any(|d| d == dir) {
        return;
    }
    warned.push(dir.to_path_buf());
    tracing::warn!(
        "cache directory {} has mode {:o}: other users can read it (chmod o-rwx {} to keep it private)",
        dir.display(),
        mode & 0o7777,
        dir.display()
    );
}

/// One line for a cache directory that cannot be used: what is wrong and what to do.
pub fn describe_dir_error(dir: &Path, e: &io::Error) -> String {
    use std::os::unix::fs::MetadataExt;
    let d = dir.display();
    match e.kind() {
        io::ErrorKind::AlreadyExists | io::ErrorKind::NotADirectory => format!(
            "cannot use cache directory {d}: it (or a parent of it) is a file, not a directory; choose another --cache-path"
        ),
        io::ErrorKind::PermissionDenied => {
            // The nearest existing ancestor says whose it is.
            let owner = dir
                .ancestors()
                .find_map(|a| fs::metadata(a).ok().map(|m| (a.to_path_buf(), m.uid())));
            // SAFETY: geteuid has no preconditions and cannot fail.
            let me = unsafe { libc::geteuid() };
            match owner {
                Some((a, uid)) if uid != me => format!(
                    "cannot use cache directory {d}: {} belongs to uid {uid} and this is uid {me}; run as its owner or choose a --cache-path you own",
                    a.display()
                ),
                _ => format!(
                    "cannot use cache directory {d}: permission denied; check its permissions (ls -ld {d}) or choose another --cache-path"
                ),
            }
        }
        io::ErrorKind::ReadOnlyFilesystem => format!(
            "cannot use cache directory {d}: the file system is read-only; choose a --cache-path on a writable disk"
        ),
        _ => format!("cannot use cache directory {d}: {e}"),
    }
}

/// The cache directory of one user.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
    depth: usize,
    /// This process's writer marker (see [`Writers`]), shared by every clone.
    writers: Arc<Writers>,
}

impl Store {
    /// Opens (creating with 0700) `<cache_path>/<username>`.
    pub fn open(cache_path: &Path, username: &str, depth: usize) -> io::Result<Store> {
        if username.is_empty() || username.contains('/') || username.starts_with('.') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unusable user name for a directory: {username:?}"),
            ));
        }
        ensure_private_dir(cache_path)?;
        let root = cache_path.join(username);
        ensure_private_dir(&root)?;
        ensure_private_dir(&root.join(META_DIR))?;
        let writers = Arc::new(Writers::new(&root.join(META_DIR)));
        Ok(Store {
            root,
            depth: depth.min(32),
            writers,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn depth(&self) -> usize {
        self.depth
    }

    pub fn meta_dir(&self) -> PathBuf {
        self.root.join(META_DIR)
    }

    /// Relative path of a photo file: `f/b/2/e/<hash>.<ext>`.
    pub fn rel_path(&self, photo_id: &str, ext: &str) -> PathBuf {
        PathBuf::from(photo::hashed_path(&photo::hash(photo_id), self.depth, ext))
    }

    pub fn image_path(&self, photo_id: &str, ext: &str) -> PathBuf {
        self.root.join(self.rel_path(photo_id, ext))
    }

    pub fn info_path(&self, photo_id: &str) -> PathBuf {
        self.root.join(self.rel_path(photo_id, "json"))
    }

    /// Creates the hashed directory of a final path.
    pub fn ensure_parent(&self, final_path: &Path) -> io::Result<()> {
        match final_path.parent() {
            Some(dir) => fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir),
            None => Ok(()),
        }
    }

    /// Opens a fresh temp file beside `final_path` (same directory, so the rename is atomic).
    pub fn temp_file(&self, final_path: &Path) -> io::Result<TempFile> {
        self.ensure_parent(final_path)?;
        let name = final_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dir = final_path.parent().unwrap_or(Path::new("."));
        self.writers.temp_opening()?;
        for attempt in 0..100u32 {
            let tmp = dir.join(format!(
                ".{name}.{}.{attempt}{TEMP_SUFFIX}",
                std::process::id()
            ));
            match OpenOptions::new()
                .write(true)
                .read(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
            {
                Ok(file) => {
                    let tmp = TempFile {
                        file,
                        path: tmp,
                        final_path: final_path.to_path_buf(),
                        done: false,
                        keep: false,
                        writers: Some(self.writers.clone()),
                    };
                    // Held until the file is closed: it tells a cleaner in another process
                    // that this temp file has a live writer (see `clean_temp_files`).
                    lock_exclusive(&tmp.file, false)?;
                    return Ok(tmp);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    self.writers.temp_closed(true);
                    return Err(e);
                }
            }
        }
        self.writers.temp_closed(true);
        Err(io::Error::other("could not create a temp file"))
    }

    /// Opens (or reopens, to resume) the partial download of `final_path`, holding an exclusive
    /// lock on it: a second writer, in this or another process (a mirror beside a mount), waits
    /// here until the first is done, then finds the final file or resumes what is left.
    /// Blocking: call it off the async workers.
    pub fn partial_file(&self, final_path: &Path) -> io::Result<TempFile> {
        use std::os::unix::fs::MetadataExt;
        use std::os::unix::io::AsRawFd;
        self.ensure_parent(final_path)?;
        let path = part_path(final_path);
        loop {
            let file = OpenOptions::new()
                .write(true)
                .read(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&path)?;
            // SAFETY: flock on a valid, owned descriptor.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
                return Err(io::Error::last_os_error());
            }
            // The holder may have renamed the file into place meanwhile: then our descriptor
            // is the final file, not a partial one. Start over on whatever the path is now.
            let ours = file.metadata()?;
            match fs::metadata(&path) {
                Ok(now) if now.ino() == ours.ino() && now.dev() == ours.dev() => {
                    return Ok(TempFile {
                        file,
                        path,
                        final_path: final_path.to_path_buf(),
                        done: false,
                        keep: true,
                        writers: None,
                    });
                }
                _ => continue,
            }
        }
    }

    /// Removes the partial download of `final_path` when nobody is writing it: the photo left
    /// the stream (deleted, or made private) after a kill cut its download, and nothing will
    /// resume it. A partial with a live writer is left to that writer, whose download then
    /// completes or fails as gone. True when one was removed.
    pub fn remove_abandoned_partial(&self, final_path: &Path) -> io::Result<bool> {
        let path = part_path(final_path);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        match lock_exclusive(&file, true) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(e),
        }
        // Under the lock, the name still holds this file unless it was renamed into place.
        if !is_now(&file, &path) {
            return Ok(false);
        }
        fs::remove_file(&path)?;
        Ok(true)
    }

    /// The partial download of `final_path` that a writer holds right now (another process,
    /// or another task of this one), opened read-only, so that a reader can follow it instead
    /// of waiting for its lock: `None` when there is none, or nobody holds it.
    pub fn partial_in_progress(&self, final_path: &Path) -> Option<File> {
        let file = File::open(part_path(final_path)).ok()?;
        is_held(&file).then_some(file)
    }

    /// Writes `bytes` to `final_path` atomically, with mtime `mtime` (unix seconds) when given.
    pub fn write_atomic(
        &self,
        final_path: &Path,
        bytes: &[u8],
        mtime: Option<i64>,
    ) -> io::Result<()> {
        let mut tmp = self.temp_file(final_path)?;
        tmp.file.write_all(bytes)?;
        tmp.commit(mtime)
    }

    /// Removes temp files left by a crash anywhere in the tree. Returns how many were removed.
    /// A temp file with a live writer (a mirror beside this mount, or this process's own
    /// sidecar writes) is left alone: its writer holds a lock on it, and its name carries the
    /// writer's pid, which must also be gone. The tree is walked only when a writer died
    /// since the last walk (see [`Writers`]): a start after clean exits reads a directory of
    /// markers, whatever the size of the stream.
    pub fn clean_temp_files(&self) -> io::Result<usize> {
        self.clean_temp_files_before(None)
    }

    /// [`Store::clean_temp_files`], sparing temp files written at or after `before` (the
    /// writes under way of a mount that cleans while it serves).
    pub fn clean_temp_files_before(&self, before: Option<SystemTime>) -> io::Result<usize> {
        let sweep = self.writers.sweep()?;
        if !sweep.needed {
            return Ok(0);
        }
        let (mut removed, mut spared) = (0, 0);
        walk(&self.root, &mut removed, &mut spared, before)?;
        // A dead writer's temp file spared for being recent stays a reason to walk again.
        if spared == 0 {
            self.writers.swept(sweep)?;
        }
        return Ok(removed);

        fn walk(
            dir: &Path,
            removed: &mut usize,
            spared: &mut usize,
            before: Option<SystemTime>,
        ) -> io::Result<()> {
            let entries = match fs::read_dir(dir) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                let ft = entry.file_type()?;
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if ft.is_dir() {
                    if name != META_DIR {
                        walk(&entry.path(), removed, spared, before)?;
                    }
                } else if name.ends_with(TEMP_SUFFIX) && is_orphan(&entry.path(), &name) {
                    let modified = match entry.metadata().and_then(|m| m.modified()) {
                        Ok(m) => m,
                        // Committed or dropped meanwhile.
                        Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(e),
                    };
                    if before.is_none_or(|b| modified < b) {
                        match fs::remove_file(entry.path()) {
                            Ok(()) => *removed += 1,
                            // Renamed into place or removed by its writer meanwhile.
                            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                            Err(e) => return Err(e),
                        }
                    } else {
                        *spared += 1;
                    }
                }
            }
            Ok(())
        }
    }

    /// This process is done writing to the cache: see [`Writers::retire`].
    pub fn retire(&self) {
        self.writers.retire();
    }
}

/// Takes an exclusive flock on `file`; with `try_only`, fails with `WouldBlock` instead of
/// waiting when another descriptor holds it.
pub(crate) fn lock_exclusive(file: &File, try_only: bool) -> io::Result<()> {
    use std::os::unix::io::AsRawFd;
    let op = if try_only {
        libc::LOCK_EX | libc::LOCK_NB
    } else {
        libc::LOCK_EX
    };
    loop {
        // SAFETY: flock on a valid, owned descriptor.
        if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// True when a writer holds the lock of the file `file` is open on (see `partial_file`).
/// Takes and drops a shared lock to find out, never waiting.
pub fn is_held(file: &File) -> bool {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock on a valid, owned descriptor.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) } == 0 {
        // SAFETY: as above; drops the shared lock just taken.
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
        return false;
    }
    io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
}

/// True when `file` is the file now named `path` (a partial download renamed into place).
pub fn is_now(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}

/// True when the temp file at `path` (named `name`, `.<final>.<pid>.<n>.flickrfs-tmp`) has
/// no live writer: nobody holds its lock, and the pid in its name is not a running process.
fn is_orphan(path: &Path, name: &str) -> bool {
    let pid: Option<i32> = name
        .strip_suffix(TEMP_SUFFIX)
        .and_then(|s| s.rsplit('.').nth(1))
        .and_then(|p| p.parse().ok());
    if let Some(pid) = pid.filter(|p| *p > 0) {
        // SAFETY: signal 0 only checks that the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0
            || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        if alive {
            return false;
        }
    }
    match File::open(path) {
        Ok(f) => lock_exclusive(&f, true).is_ok(),
        Err(_) => false,
    }
}

/// A temp file that becomes `final_path` on [`TempFile::commit`] and disappears when dropped
/// uncommitted (a partial download stays, to be resumed, unless [`TempFile::discard`]ed).
#[derive(Debug)]
pub struct TempFile {
    pub file: File,
    path: PathBuf,
    final_path: PathBuf,
    done: bool,
    keep: bool,
    /// Set for a temp file (not a partial download): told when the file is gone.
    writers: Option<Arc<Writers>>,
}

impl TempFile {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Current length of what was written so far.
    pub fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    pub fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Drops the temp file and what it holds (a bad download must not be resumed).
    pub fn discard(mut self) {
        self.keep = false;
    }

    /// fsync, set mtime, rename over the final name, fsync the directory. On a full disk
    /// (`ENOSPC`) even a partial download is removed: the space is wanted back, and nothing
    /// half-written may stay behind.
    pub fn commit(mut self, mtime: Option<i64>) -> io::Result<()> {
        let synced = (|| {
            if let Some(secs) = mtime {
                self.file.set_modified(unix_time(secs))?;
            }
            self.file.sync_all()?;
            fs::rename(&self.path, &self.final_path)
        })();
        if let Err(e) = synced {
            if e.raw_os_error() == Some(libc::ENOSPC) {
                self.keep = false;
            }
            return Err(e);
        }
        self.done = true;
        if let Some(dir) = self.final_path.parent() {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // A partial download stays to be resumed, unless it holds nothing (a task cancelled
        // at shutdown between opening it and its first byte): an empty one is clutter.
        let empty = self.keep && self.file.metadata().map(|m| m.len() == 0).unwrap_or(false);
        let mut removed = true;
        if !self.done && (!self.keep || empty) {
            if let Err(e) = fs::remove_file(&self.path) {
                removed = e.kind() == io::ErrorKind::NotFound;
            }
        }
        if let Some(w) = &self.writers {
            w.temp_closed(removed);
        }
    }
}

/// Unix seconds to a `SystemTime` (negative values clamp to the epoch).
pub fn unix_time(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn partial_downloads_survive_drops_and_cleaning_and_are_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "u", 2).unwrap();
        let fin = store.image_path("42", "jpg");
        // Dropped before its first byte (a task cancelled at shutdown): nothing stays.
        drop(store.partial_file(&fin).unwrap());
        assert!(!part_path(&fin).exists());
        let mut t = store.partial_file(&fin).unwrap();
        t.file.write_all(b"half").unwrap();
        drop(t); // a failed attempt (or a crash): the prefix stays for a resume
        assert_eq!(store.clean_temp_files().unwrap(), 0);
        let t = store.partial_file(&fin).unwrap();
        assert_eq!(t.len().unwrap(), 4);
        // A second writer waits for the first one's lock, then sees the final file.
        let (store2, fin2) = (store.clone(), fin.clone());
        let waiter = std::thread::spawn(move || {
            let t2 = store2.partial_file(&fin2).unwrap();
            let done = fin2.exists();
            t2.discard();
            done
        });
        std::thread::sleep(Duration::from_millis(100));
        let mut t = t;
        io::Seek::seek(&mut t.file, io::SeekFrom::End(0)).unwrap();
        t.file.write_all(b" and the rest").unwrap();
        t.commit(None).unwrap();
        assert!(waiter.join().unwrap(), "the waiter ran before the commit");
        assert_eq!(fs::read(&fin).unwrap(), b"half and the rest");
        assert!(!part_path(&fin).exists());
    }

    #[test]
    fn hash_and_layout() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cache");
        let store = Store::open(&dir, "manhhai", 4).unwrap();
        // md5("51234567890")
        let h = crate::photo::hash("51234567890");
        assert_eq!(h.len(), 32);
        let p = store.rel_path("51234567890", "jpg");
        let expect: PathBuf = [&h[0..1], &h[1..2], &h[2..3], &h[3..4]]
            .iter()
            .collect::<PathBuf>()
            .join(format!("{h}.jpg"));
        assert_eq!(p, expect);
        let meta = fs::metadata(store.root()).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o700);
        assert_eq!(
            fs::metadata(&dir).unwrap().mode() & 0o777,
            0o700,
            "a cache dir flickrfs creates is 0700"
        );
        // An existing one keeps the mode its owner gave it.
        let shared = tmp.path().join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o2775)).unwrap();
        Store::open(&shared, "manhhai", 4).unwrap();
        assert_eq!(fs::metadata(&shared).unwrap().mode() & 0o7777, 0o2775);
        // A file where the cache should be is refused.
        let file = tmp.path().join("file");
        fs::write(&file, b"x").unwrap();
        let e = Store::open(&file, "manhhai", 4).unwrap_err();
        assert!(describe_dir_error(&file, &e).contains("not a directory"));
    }

    #[test]
    fn atomic_write_sets_mtime_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "u", 2).unwrap();
        let path = store.image_path("42", "jpg");
        store
            .write_atomic(&path, b"hello", Some(1_300_000_000))
            .unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"hello");
        assert_eq!(fs::metadata(&path).unwrap().mtime(), 1_300_000_000);
        assert_eq!(store.clean_temp_files().unwrap(), 0);
    }

    #[test]
    fn dropped_temp_vanishes_and_leftovers_are_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "u", 3).unwrap();
        let path = store.image_path("7", "png");
        {
            let mut t = store.temp_file(&path).unwrap();
            t.file.write_all(b"partial").unwrap();
        }
        assert!(!path.exists());
        // A live writer's temp file (this process's, locked) is left alone.
        let live = store.temp_file(&path).unwrap();
        assert_eq!(store.clean_temp_files().unwrap(), 0);
        assert!(live.path().exists());
        // A dead writer's (a pid that has exited, no lock) is removed.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let leftover = path.with_file_name(format!(".{name}.{dead}.0{TEMP_SUFFIX}"));
        fs::write(&leftover, b"half").unwrap();
        // No writer died since the last walk (its marker would say so): no walk at all,
        // whatever the tree holds.
        assert_eq!(store.clean_temp_files().unwrap(), 0);
        assert!(leftover.exists());
        // The dead writer's marker, as a crash leaves it: nobody holds its lock.
        let marker = store.meta_dir().join("writers").join(format!("{dead}-1"));
        fs::write(&marker, b"").unwrap();
        // A mount cleaning while it serves spares what was written since it started, and
        // keeps the marker for a later walk.
        let started = SystemTime::now() - Duration::from_secs(3600);
        assert_eq!(store.clean_temp_files_before(Some(started)).unwrap(), 0);
        assert!(leftover.exists() && marker.exists());
        assert_eq!(store.clean_temp_files().unwrap(), 1);
        assert!(!leftover.exists() && !marker.exists());
        assert!(live.path().exists());
        // Unlocked but its pid alive (between its creation and its lock): left alone too.
        fs::write(&marker, b"").unwrap();
        let racing = path.with_file_name(format!(".{name}.{}.9{TEMP_SUFFIX}", std::process::id()));
        fs::write(&racing, b"").unwrap();
        assert_eq!(store.clean_temp_files().unwrap(), 0);
    }

    #[test]
    fn bad_usernames_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Store::open(dir.path(), "../x", 4).is_err());
        assert!(Store::open(dir.path(), ".flickrfs", 4).is_err());
    }
}
