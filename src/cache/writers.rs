//! Which processes write temp files into one user's cache, so that a start need not walk the
//! whole tree for crash leftovers (tens of thousands of directories at 100k photos, read cold
//! after a reboot while the mount answers its first requests; and again at every mirror pass).
//!
//! A process that opens a temp file first makes a marker of its own,
//! `.flickrfs/writers/<pid>-<nanos>`, and holds an exclusive lock on it for as long as it
//! lives. When it ends with none of its temp files left, it removes the marker
//! ([`Writers::retire`]). A marker nobody holds is a writer that died (or ended with temp files
//! it could not remove): only then, or on a cache that has never been swept whole since markers
//! exist (one written by an older flickrfs), is the tree walked; the walk's dead markers go with
//! it.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// The directory of the markers, inside the user's metadata directory.
const DIR: &str = "writers";
/// Present once the tree has been walked whole since markers exist: temp files older than it
/// all had a marker.
const SWEPT: &str = "swept";

/// This process's marker in one user's cache, and what it has open there.
#[derive(Debug)]
pub struct Writers {
    dir: PathBuf,
    /// The marker and the descriptor that holds its lock, once a temp file was opened.
    own: Mutex<Option<(PathBuf, File)>>,
    /// Temp files of this process that exist now (opened, not yet renamed or removed).
    open_temps: AtomicUsize,
    /// A temp file could not be removed: the marker must outlive this process.
    stranded: AtomicBool,
}

/// What a cleaner found: whether the tree needs walking, and the dead markers the walk will
/// answer for.
#[derive(Debug)]
pub struct Sweep {
    pub needed: bool,
    dead: Vec<PathBuf>,
}

impl Writers {
    /// The markers of the cache whose metadata directory is `meta_dir` (nothing is read or
    /// written yet).
    pub fn new(meta_dir: &Path) -> Writers {
        Writers {
            dir: meta_dir.join(DIR),
            own: Mutex::new(None),
            open_temps: AtomicUsize::new(0),
            stranded: AtomicBool::new(false),
        }
    }

    /// A temp file is about to be opened: makes and locks this process's marker first (once).
    pub fn temp_opening(&self) -> io::Result<()> {
        let mut own = self.own.lock().unwrap_or_else(|e| e.into_inner());
        if own.is_none() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.dir)?;
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let name = format!("{}-{nanos}", std::process::id());
            // Made under a hidden name and locked before it is named: a cleaner never sees it
            // unlocked (it would take it for a dead writer's).
            let hidden = self.dir.join(format!(".{name}"));
            let path = self.dir.join(name);
            let file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&hidden)?;
            if !try_lock(&file)? {
                return Err(io::Error::other(format!(
                    "the writer marker {} is held by another process",
                    hidden.display()
                )));
            }
            fs::rename(&hidden, &path)?;
            *own = Some((path, file));
        }
        self.open_temps.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// A temp file of this process is gone (renamed into place or removed), or not: `removed`
    /// is false when it could not be removed, and then the marker stays after this process.
    pub fn temp_closed(&self, removed: bool) {
        if !removed {
            self.stranded.store(true, Ordering::SeqCst);
        }
        self.open_temps.fetch_sub(1, Ordering::SeqCst);
    }

    /// This process is done writing: its marker goes, unless a temp file of it may be left
    /// (one still open, or one that could not be removed), which the next start then sweeps.
    pub fn retire(&self) {
        let mut own = self.own.lock().unwrap_or_else(|e| e.into_inner());
        if self.open_temps.load(Ordering::SeqCst) > 0 || self.stranded.load(Ordering::SeqCst) {
            return;
        }
        if let Some((path, _file)) = own.take() {
            let _ = fs::remove_file(path);
        }
    }

    /// Whether the tree needs a walk for leftovers: a marker nobody holds, or no whole walk yet.
    pub fn sweep(&self) -> io::Result<Sweep> {
        let mut dead = Vec::new();
        let mut swept = false;
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Sweep { needed: true, dead })
            }
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            if name == SWEPT {
                swept = true;
                continue;
            }
            // A marker being made (see `temp_opening`).
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            let file = match File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            // Taken only to look: dropped with `file` at once.
            if try_lock(&file)? {
                dead.push(path);
            }
        }
        Ok(Sweep {
            needed: !swept || !dead.is_empty(),
            dead,
        })
    }

    /// The walk that `sweep` asked for is done: its dead markers go, and the cache is marked
    /// swept whole.
    pub fn swept(&self, sweep: Sweep) -> io::Result<()> {
        for path in sweep.dead {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        let mark = self.dir.join(SWEPT);
        if !mark.exists() {
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&mark)?;
        }
        Ok(())
    }
}

/// Takes the exclusive lock of `file` without waiting: false when another holds it.
fn try_lock(file: &File) -> io::Result<bool> {
    match super::files::lock_exclusive(file, true) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_cache_is_swept_once_then_only_for_a_dead_writer() {
        let dir = tempfile::tempdir().unwrap();
        let w = Writers::new(dir.path());
        let s = w.sweep().unwrap();
        assert!(s.needed, "never swept whole");
        w.swept(s).unwrap();
        assert!(!w.sweep().unwrap().needed);
        // A live writer (this one) is no reason to walk, from this or another handle.
        w.temp_opening().unwrap();
        assert!(!w.sweep().unwrap().needed);
        assert!(!Writers::new(dir.path()).sweep().unwrap().needed);
        // It ends with a temp file open: its marker stays, and counts as dead once unlocked.
        w.retire();
        let marker = w.own.lock().unwrap().as_ref().unwrap().0.clone();
        assert!(marker.exists());
        drop(w.own.lock().unwrap().take());
        let s = w.sweep().unwrap();
        assert!(s.needed);
        assert_eq!(s.dead, vec![marker.clone()]);
        w.swept(s).unwrap();
        assert!(!marker.exists());
        assert!(!w.sweep().unwrap().needed);
    }

    #[test]
    fn a_writer_that_closed_every_temp_file_leaves_no_marker() {
        let dir = tempfile::tempdir().unwrap();
        let w = Writers::new(dir.path());
        w.swept(w.sweep().unwrap()).unwrap();
        w.temp_opening().unwrap();
        w.temp_opening().unwrap();
        w.temp_closed(true);
        w.temp_closed(true);
        w.retire();
        assert_eq!(fs::read_dir(dir.path().join(DIR)).unwrap().count(), 1);
        assert!(!w.sweep().unwrap().needed);
        // One it could not remove keeps the marker.
        w.temp_opening().unwrap();
        w.temp_closed(false);
        w.retire();
        assert_eq!(fs::read_dir(dir.path().join(DIR)).unwrap().count(), 2);
    }
}
