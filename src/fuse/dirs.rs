//! Directory listings for the kernel: a listing is snapshotted at `opendir` (or, for one the
//! kernel keeps between opens, at the first READDIR; or, when the kernel sends no OPENDIR, by
//! inode at the READDIR of offset 0) and served by
//! offset to READDIR and READDIRPLUS alike, through one replier (offsets 1 `.`, 2 `..`, then
//! the entries), so the two can never disagree.

use crate::fs::{DirEntry, Kind, ROOT_INO};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One line of a listing as the kernel sees it.
pub(super) struct Line<'a> {
    pub ino: u64,
    /// The offset of the next line.
    pub next: u64,
    pub kind: Kind,
    pub name: &'a str,
    /// The entry, for lines other than `.` and `..`.
    pub entry: Option<&'a DirEntry>,
}

/// Listings of open directories, by handle. A listing the kernel keeps between opens is
/// read at the first READDIR (`None` until then): an `opendir` answered from the kernel's
/// cache then costs nothing.
#[derive(Default)]
pub(super) struct Listings {
    open: Mutex<HashMap<u64, Option<Arc<Vec<DirEntry>>>>>,
    next: AtomicU64,
}

impl Listings {
    pub fn insert(&self, entries: Option<Vec<DirEntry>>) -> u64 {
        let fh = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(fh, entries.map(Arc::new));
        fh
    }

    /// The listing of handle `fh` (`None`: no such handle), reading it with `list` if the
    /// open did not.
    pub fn get<E>(
        &self,
        fh: u64,
        list: impl FnOnce() -> Result<Vec<DirEntry>, E>,
    ) -> Option<Result<Arc<Vec<DirEntry>>, E>> {
        if let Some(l) = self.open.lock().unwrap_or_else(|e| e.into_inner()).get(&fh) {
            if let Some(l) = l {
                return Some(Ok(l.clone()));
            }
        } else {
            return None;
        }
        let l = match list() {
            Ok(l) => Arc::new(l),
            Err(e) => return Some(Err(e)),
        };
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let slot = open.get_mut(&fh)?;
        Some(Ok(slot.get_or_insert(l).clone()))
    }

    pub fn remove(&self, fh: u64) {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&fh);
    }
}

/// Listings read without an open handle (the kernel skips OPENDIR, see the adapter's
/// `init`), by inode: read at offset 0, reused for the offsets that follow, dropped at the end
/// (a listing abandoned midway goes with the least recently used, past [`BY_INO_KEPT`]).
pub(super) struct ByIno {
    map: Mutex<lru::LruCache<u64, Arc<Vec<DirEntry>>>>,
}

/// Listings in progress kept at once (one per directory being read).
const BY_INO_KEPT: usize = 256;

impl Default for ByIno {
    fn default() -> ByIno {
        ByIno {
            map: Mutex::new(lru::LruCache::new(
                std::num::NonZeroUsize::new(BY_INO_KEPT).expect("not zero"),
            )),
        }
    }
}

impl ByIno {
    /// The listing of `ino` for a read at `offset`: read anew at offset 0 (or when none is
    /// kept), else the one the read at 0 got.
    pub fn get<E>(
        &self,
        ino: u64,
        offset: u64,
        list: impl FnOnce() -> Result<Vec<DirEntry>, E>,
    ) -> Result<Arc<Vec<DirEntry>>, E> {
        if offset > 0 {
            if let Some(l) = self.lock().get(&ino) {
                return Ok(l.clone());
            }
        }
        let l = Arc::new(list()?);
        self.put(ino, l.clone());
        Ok(l)
    }

    pub fn put(&self, ino: u64, l: Arc<Vec<DirEntry>>) {
        self.lock().put(ino, l);
    }

    /// The listing of `ino` was read to its end.
    pub fn done(&self, ino: u64) {
        self.lock().pop(&ino);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, lru::LruCache<u64, Arc<Vec<DirEntry>>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Feeds the lines of directory `ino` from `offset` to `add` until it says the reply is full.
pub(super) fn serve(
    ino: u64,
    entries: &[DirEntry],
    offset: u64,
    mut add: impl FnMut(Line<'_>) -> bool,
) -> usize {
    let mut i = offset;
    let mut served = 0;
    loop {
        let line = match i {
            0 => Line {
                ino,
                next: 1,
                kind: Kind::Dir,
                name: ".",
                entry: None,
            },
            1 => Line {
                ino: ROOT_INO,
                next: 2,
                kind: Kind::Dir,
                name: "..",
                entry: None,
            },
            _ => match entries.get((i - 2) as usize) {
                Some(e) => Line {
                    ino: e.ino,
                    next: i + 1,
                    kind: e.kind,
                    name: &e.name,
                    entry: Some(e),
                },
                None => break,
            },
        };
        if add(line) {
            break;
        }
        served += 1;
        i += 1;
    }
    served
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(entries: &[DirEntry], offset: u64, room: usize) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        serve(7, entries, offset, |l| {
            if out.len() == room {
                return true;
            }
            out.push((l.name.to_string(), l.next));
            false
        });
        out
    }

    #[test]
    fn offsets_resume_where_the_last_reply_stopped() {
        let entries: Vec<DirEntry> = ["a", "b", "c"]
            .iter()
            .enumerate()
            .map(|(i, n)| DirEntry {
                ino: 100 + i as u64,
                kind: Kind::File,
                name: n.to_string(),
            })
            .collect();
        let first = names(&entries, 0, 3);
        assert_eq!(
            first,
            vec![(".".into(), 1), ("..".into(), 2), ("a".into(), 3)]
        );
        // The kernel asks again from the last offset it got.
        let rest = names(&entries, first.last().unwrap().1, 10);
        assert_eq!(rest, vec![("b".into(), 4), ("c".into(), 5)]);
        assert!(names(&entries, 5, 10).is_empty(), "past the end");
        // A rewind starts over.
        assert_eq!(names(&entries, 0, 10).len(), 5);
        let l = Listings::default();
        let none = || -> Result<Vec<DirEntry>, ()> { panic!("listed already") };
        let fh = l.insert(Some(entries.clone()));
        assert_eq!(l.get(fh, none).unwrap().unwrap().len(), 3);
        l.remove(fh);
        assert!(l.get(fh, none).is_none());
        // A lazy listing is read once, at the first READDIR.
        let fh = l.insert(None);
        let list = || Ok::<_, ()>(entries.clone());
        assert_eq!(l.get(fh, list).unwrap().unwrap().len(), 3);
        assert_eq!(l.get(fh, none).unwrap().unwrap().len(), 3);
        // Without handles: read at offset 0, reused after, read again once done.
        let b = ByIno::default();
        assert_eq!(b.get(7, 0, list).unwrap().len(), 3);
        assert_eq!(b.get(7, 4, none).unwrap().len(), 3);
        b.done(7);
        assert_eq!(b.get(7, 4, list).unwrap().len(), 3);
    }
}
