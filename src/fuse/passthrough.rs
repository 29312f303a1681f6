//! Kernel passthrough of cached images (Linux 6.9+, needs CAP_SYS_ADMIN): reads of a cached
//! image then go straight to the backing file, without a trip through us. Owns the backing
//! ids (one per inode while any handle is open), which handles use them, and the rule the
//! kernel enforces per inode: all of its open files are passthrough, or none is.

use fuser::{BackingId, ReplyOpen};
use std::collections::HashMap;
use std::fs::File;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub(super) struct Passthrough {
    enabled: AtomicBool,
    seen: AtomicBool,
    modes: Mutex<Modes<Arc<BackingId>>>,
}

impl Passthrough {
    /// The kernel agreed to passthrough at `init`.
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::Relaxed);
    }

    /// Opens handle `fh` of image `ino` in passthrough mode, with the file `file` gives (the
    /// cached image, or `None` when it is not cached); `None` when the caller must serve reads
    /// (through the page cache: the handle is then counted as such until its release).
    pub fn open(
        &self,
        ino: u64,
        fh: u64,
        reply: &ReplyOpen,
        file: impl FnOnce() -> Option<File>,
    ) -> Option<Arc<BackingId>> {
        if !self.enabled.load(Ordering::Relaxed) {
            return None;
        }
        let mut modes = self.modes.lock().unwrap_or_else(|e| e.into_inner());
        modes.open(ino, fh, || match reply.open_backing(&file()?) {
            Ok(id) => {
                if !self.seen.swap(true, Ordering::Relaxed) {
                    tracing::debug!("cached images are read through kernel passthrough");
                }
                Some(Arc::new(id))
            }
            Err(e) => {
                tracing::info!("kernel passthrough unavailable ({e}); serving reads");
                self.enabled.store(false, Ordering::Relaxed);
                None
            }
        })
    }

    /// Handle `fh` is closed: its inode's backing id goes with its last handle.
    pub fn release(&self, fh: u64) {
        self.modes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .release(fh);
    }
}

/// The open mode of every image open right now. The kernel keeps one io mode per inode: while
/// a file of it is open through the page cache (a handle opened before the image was cached),
/// a passthrough open of the same inode fails with `EIO` for the reader, and the other way
/// round. So an inode goes passthrough only when none of its handles is served by us, and
/// stays so (same backing id) while any of its passthrough handles is open. Our counts drop at
/// `release`, after the kernel's own: they never say "free" while the kernel says "busy".
struct Modes<B> {
    /// Backing ids of inodes open in passthrough, with their open count.
    backing: HashMap<u64, (B, usize)>,
    /// Inodes open through the page cache, with their open count.
    cached: HashMap<u64, usize>,
    /// Open handles: their inode, and whether they are passthrough.
    handles: HashMap<u64, (u64, bool)>,
}

impl<B> Default for Modes<B> {
    fn default() -> Self {
        Modes {
            backing: HashMap::new(),
            cached: HashMap::new(),
            handles: HashMap::new(),
        }
    }
}

impl<B: Clone> Modes<B> {
    /// Handle `fh` of `ino` opens: passthrough with the inode's backing (made by `make` when
    /// it has none; `None` when the image is not cached), or `None`: served by us.
    fn open(&mut self, ino: u64, fh: u64, make: impl FnOnce() -> Option<B>) -> Option<B> {
        if let Some((id, n)) = self.backing.get_mut(&ino) {
            *n += 1;
            let id = id.clone();
            self.handles.insert(fh, (ino, true));
            return Some(id);
        }
        let made = if self.cached.contains_key(&ino) {
            None
        } else {
            make()
        };
        match made {
            Some(id) => {
                self.backing.insert(ino, (id.clone(), 1));
                self.handles.insert(fh, (ino, true));
                Some(id)
            }
            None => {
                *self.cached.entry(ino).or_default() += 1;
                self.handles.insert(fh, (ino, false));
                None
            }
        }
    }

    fn release(&mut self, fh: u64) {
        let Some((ino, passthrough)) = self.handles.remove(&fh) else {
            return;
        };
        if passthrough {
            if let Some((_, n)) = self.backing.get_mut(&ino) {
                *n -= 1;
                if *n == 0 {
                    self.backing.remove(&ino);
                }
            }
        } else if let Some(n) = self.cached.get_mut(&ino) {
            *n -= 1;
            if *n == 0 {
                self.cached.remove(&ino);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Modes;

    #[test]
    fn an_inode_open_through_the_page_cache_is_not_opened_in_passthrough() {
        let mut m = Modes::<u32>::default();
        // Opened while uncached: served by us.
        assert_eq!(m.open(7, 1, || None), None);
        // Cached meanwhile: a second reader must not go passthrough (the kernel would EIO).
        assert_eq!(m.open(7, 2, || Some(70)), None);
        // Another inode is free to.
        assert_eq!(m.open(8, 3, || Some(80)), Some(80));
        m.release(1);
        assert_eq!(m.open(7, 4, || Some(71)), None, "handle 2 is still open");
        m.release(2);
        m.release(4);
        // Nothing served by us any more: passthrough, and later opens share its backing.
        assert_eq!(m.open(7, 5, || Some(72)), Some(72));
        assert_eq!(m.open(7, 6, || panic!("made twice")), Some(72));
        m.release(5);
        assert_eq!(m.open(7, 7, || panic!("made twice")), Some(72));
        m.release(6);
        m.release(7);
        m.release(3);
        assert!(m.backing.is_empty() && m.cached.is_empty() && m.handles.is_empty());
        // A release of an unknown handle is no fault.
        m.release(99);
        assert_eq!(m.open(7, 8, || Some(73)), Some(73));
    }
}
