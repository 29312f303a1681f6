//! What the kernel must forget when the index changes (whichever process changed it): the
//! change log (see `cache::db::changes`) turned into precise invalidations of names, listings,
//! attributes and bytes, so that the long timeouts of `attr` never serve a stale name, size or
//! byte. The adapter sends them (fuser's notifier) from a thread of its own.

use super::error::Result;
use super::inode::{dir_ino, image_ino, info_ino, ROOT_INO};
use super::FlickrFs;
use std::collections::HashSet;
use std::sync::atomic::Ordering;

/// One thing for the kernel to forget.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Inval {
    /// The name `name` in directory `parent` (positive or negative entry).
    Entry { parent: u64, name: String },
    /// The attributes and cached bytes of `ino` (for a directory: its cached listing).
    Inode(u64),
}

/// Where a mount stands in the change log.
#[derive(Clone, Copy, Debug)]
pub struct ChangeMark(i64);

/// Changes read per poll: a mirror indexing thousands of photos at once is followed in steps.
const BATCH: usize = 5_000;

/// Invalidations in the order they must be sent (files first, then names, then listings: a
/// listing that shows the change means everything before it was forgotten), without repeats.
#[derive(Default)]
struct Plan {
    files: Vec<Inval>,
    names: Vec<Inval>,
    dirs: Vec<Inval>,
    seen: HashSet<Inval>,
}

impl Plan {
    fn push(&mut self, i: Inval) {
        if self.seen.insert(i.clone()) {
            match &i {
                Inval::Entry { .. } => self.names.push(i),
                Inval::Inode(ino) if *ino == ROOT_INO || super::inode::is_dir(*ino) => {
                    self.dirs.push(i)
                }
                Inval::Inode(_) => self.files.push(i),
            }
        }
    }

    fn into_vec(self) -> Vec<Inval> {
        let mut v = self.files;
        v.extend(self.names);
        v.extend(self.dirs);
        v
    }
}

impl FlickrFs {
    /// The current end of the change log: what is already in the index needs no invalidation.
    pub fn change_mark(&self) -> Result<ChangeMark> {
        let mark = ChangeMark(self.engine.index.change_mark()?);
        self.kernel_told(mark);
        Ok(mark)
    }

    /// The kernel was told everything up to `mark` (shown in `.flickrfs/status`).
    pub fn kernel_told(&self, mark: ChangeMark) {
        self.told.store(mark.0, Ordering::SeqCst);
    }

    /// How far the kernel was told: (told, logged). Equal when it knows every change.
    pub fn changes_told(&self) -> (i64, i64) {
        let told = self.told.load(Ordering::SeqCst);
        (told, self.engine.index.change_mark().unwrap_or(told))
    }

    /// What the kernel must forget for the changes after `mark` (moved past them, unless the
    /// index could not be read: the next call tries again). After a gap in the log (this
    /// mount fell too far behind), `None`: forget everything.
    pub fn invalidations(&self, mark: &mut ChangeMark) -> Result<Option<Vec<Inval>>> {
        let batch = self.engine.index.changes_since(mark.0, BATCH)?;
        if batch.gap {
            mark.0 = batch.next;
            return Ok(None);
        }
        let mut plan = Plan::default();
        for ch in &batch.changes {
            let before = ch
                .before
                .as_ref()
                .map(|(id, ext)| (crate::photo::hash(id), ext));
            let now = ch
                .now
                .as_ref()
                .map(|(id, ext)| (crate::photo::hash(id), ext));
            // The row's own files: attributes and bytes (a size learned, a replacement, a
            // sidecar to render again).
            plan.push(Inval::Inode(image_ino(ch.rowid)));
            plan.push(Inval::Inode(info_ino(ch.rowid)));
            let same_name = matches!((&before, &now), (Some(b), Some(n)) if b == n);
            if same_name {
                continue;
            }
            // A name appeared, went or changed. Listings up the levels change (a directory
            // may have appeared or emptied); a name that went must go from the kernel (its
            // entry, and those of directories left empty). A new name needs no entry dropped:
            // this mount never lets the kernel keep a negative entry (ENOENT has no timeout).
            if let Some((hash, ext)) = &before {
                let removed = now.as_ref().is_none_or(|(h, _)| h != hash);
                self.forget_gone(&mut plan, hash, ext, removed)?;
            }
            if let Some((hash, _)) = &now {
                self.forget_listings(&mut plan, hash);
            }
        }
        mark.0 = batch.next;
        Ok(Some(plan.into_vec()))
    }

    /// The listings of every directory above the file `hash` (the root included).
    fn forget_listings(&self, plan: &mut Plan, hash: &str) {
        plan.push(Inval::Inode(ROOT_INO));
        for level in 1..=self.depth() as usize {
            plan.push(Inval::Inode(dir_ino(&hash[..level])));
        }
    }

    /// A file name that went (`ext`: the image's; `removed`: the whole row, sidecar too), and
    /// the directories it leaves empty.
    fn forget_gone(&self, plan: &mut Plan, hash: &str, ext: &str, removed: bool) -> Result<()> {
        let depth = self.depth() as usize;
        let leaf = dir_ino(&hash[..depth]);
        plan.push(Inval::Entry {
            parent: leaf,
            name: format!("{hash}.{ext}"),
        });
        if removed {
            plan.push(Inval::Entry {
                parent: leaf,
                name: format!("{hash}.json"),
            });
            for level in (1..=depth).rev() {
                if self.holds(&hash[..level])? {
                    break;
                }
                let parent = if level == 1 {
                    ROOT_INO
                } else {
                    dir_ino(&hash[..level - 1])
                };
                plan.push(Inval::Entry {
                    parent,
                    name: hash[level - 1..level].to_string(),
                });
            }
        }
        self.forget_listings(plan, hash);
        Ok(())
    }
}
