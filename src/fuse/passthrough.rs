//! Kernel passthrough of cached images (Linux 6.9+, needs CAP_SYS_ADMIN): reads of a cached
//! image then go straight to the backing file, without a trip through us. Owns the backing
//! ids (one per inode while any handle is open) and which handles use them.

use fuser::{BackingId, ReplyOpen};
use std::collections::HashMap;
use std::fs::File;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub(super) struct Passthrough {
    enabled: AtomicBool,
    seen: AtomicBool,
    /// Backing ids of images open in passthrough, with their open count.
    backing: Mutex<HashMap<u64, (Arc<BackingId>, usize)>>,
    /// Passthrough handles -> their inode.
    handles: Mutex<HashMap<u64, u64>>,
}

impl Passthrough {
    /// The kernel agreed to passthrough at `init`.
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::Relaxed);
    }

    /// Opens handle `fh` of image `ino` in passthrough mode, with the file `file` gives (the
    /// cached image, or `None` when it is not cached); `None` when the caller must serve reads.
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
        let mut backing = self.backing.lock().unwrap_or_else(|e| e.into_inner());
        let id = match backing.get_mut(&ino) {
            Some((id, n)) => {
                *n += 1;
                id.clone()
            }
            None => match reply.open_backing(&file()?) {
                Ok(id) => {
                    if !self.seen.swap(true, Ordering::Relaxed) {
                        tracing::debug!("cached images are read through kernel passthrough");
                    }
                    let id = Arc::new(id);
                    backing.insert(ino, (id.clone(), 1));
                    id
                }
                Err(e) => {
                    tracing::info!("kernel passthrough unavailable ({e}); serving reads");
                    self.enabled.store(false, Ordering::Relaxed);
                    return None;
                }
            },
        };
        self.handles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(fh, ino);
        Some(id)
    }

    /// Handle `fh` is closed: its inode's backing id goes with its last handle.
    pub fn release(&self, fh: u64) {
        let ino = self
            .handles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&fh);
        if let Some(ino) = ino {
            let mut backing = self.backing.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, n)) = backing.get_mut(&ino) {
                *n -= 1;
                if *n == 0 {
                    backing.remove(&ino);
                }
            }
        }
    }
}
