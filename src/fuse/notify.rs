//! The kernel told what to forget: a thread of its own polls the index's change log (through
//! `fs`, which decides what to invalidate) and sends fuser's notifications. Never on a FUSE
//! thread: an invalidation may wait for a lock that a request in flight holds, and that
//! request needs a FUSE thread (or a task) to be answered.

use crate::fs::{ChangeMark, FlickrFs, Inval, ROOT_INO};
use fuser::{INodeNo, Notifier};
use std::ffi::OsStr;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Starts the thread; it follows the change log from `mark` every `every`, and forgets at
/// once the listings that arrive on `volatile` (views and searches read to their end), until
/// the mount goes away.
pub fn spawn_invalidator(
    fs: Arc<FlickrFs>,
    notifier: Notifier,
    mut mark: ChangeMark,
    every: Duration,
    volatile: Receiver<u64>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("flickrfs-inval".into())
        .spawn(move || {
            let mut next = Instant::now() + every;
            loop {
                let wait = next.saturating_duration_since(Instant::now());
                match volatile.recv_timeout(wait) {
                    Ok(ino) => {
                        if !tell(&notifier, &[Inval::Inode(ino)]) {
                            return;
                        }
                        continue;
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    // The adapter is gone: the mount is ending.
                    Err(RecvTimeoutError::Disconnected) => std::thread::sleep(wait),
                }
                next = Instant::now() + every;
                let list = match fs.invalidations(&mut mark) {
                    Ok(Some(list)) => list,
                    Ok(None) => {
                        tracing::warn!(
                            "fell behind the index's change log: forgetting the whole tree"
                        );
                        everything()
                    }
                    Err(e) => {
                        tracing::debug!("cannot read the change log: {e}");
                        continue;
                    }
                };
                if !tell(&notifier, &list) {
                    return;
                }
                fs.kernel_told(mark);
            }
        })
}

/// Sends `list`; false once the mount is gone.
fn tell(notifier: &Notifier, list: &[Inval]) -> bool {
    for i in list {
        if let Err(e) = send(notifier, i) {
            if matches!(e.raw_os_error(), Some(libc::ENODEV | libc::EBADF)) {
                return false; // unmounted
            }
            tracing::debug!("invalidation {i:?} refused: {e}");
        }
    }
    true
}

fn send(n: &Notifier, i: &Inval) -> std::io::Result<()> {
    match i {
        Inval::Entry { parent, name } => n.inval_entry(INodeNo(*parent), OsStr::new(name)),
        Inval::Inode(ino) => n.inval_inode(INodeNo(*ino), 0, 0),
    }
}

/// Every name of the root's hashed levels (dropping a directory's entry drops everything the
/// kernel holds below it) and the root's listing.
fn everything() -> Vec<Inval> {
    let mut v: Vec<Inval> = "0123456789abcdef"
        .chars()
        .map(|c| Inval::Entry {
            parent: ROOT_INO,
            name: c.to_string(),
        })
        .collect();
    v.push(Inval::Inode(ROOT_INO));
    v
}
