//! The `fuser::Filesystem` adapter: converts arguments, answers at once what `fs` knows
//! locally, spawns the rest onto the tokio runtime with its `Reply` (so no FUSE thread ever
//! waits on the network), and turns errors into errno (logged once, in `reply`). Decisions
//! about the tree live in `fs`; what stays here is FUSE itself: the capabilities negotiated at
//! `init`, open flags, kernel passthrough (`passthrough`), listings served by offset (`dirs`),
//! the attributes the kernel already holds, repeated in READDIRPLUS, and the xattr size
//! protocol (a size-0 probe gets the length, a short buffer ERANGE; `--no-xattr` answers
//! ENOSYS so that the kernel stops asking). Work spawned for a kernel request runs
//! [`bounded`]: as `foreground` (a person waits: first in the API queue, failing at once while
//! Flickr is down) and for at most the mount's `--fuse-wait`, after which it is answered EIO
//! (logged, counted in the status). fuser 0.18 answers FUSE_INTERRUPT itself with ENOSYS (the
//! kernel then sends no more), so an interrupted request ends by that bound, not at once.

mod dirs;
mod notify;
mod passthrough;
mod reply;

pub use notify::spawn_invalidator;

use crate::config;
use crate::flickr::breaker::foreground;
use crate::flickr::priority::with_patience;
use crate::fs::{Attr, DirEntry, FlickrFs, Kind, ROOT_INO};
use fuser::{
    CopyFileRangeFlags, Errno, FileAttr, FileHandle, Filesystem, FopenFlags, Generation, INodeNo,
    InitFlags, IoctlFlags, KernelConfig, LockOwner, OpenFlags, PollEvents, PollFlags, PollNotifier,
    ReplyAttr, ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyIoctl,
    ReplyLseek, ReplyOpen, ReplyPoll, ReplyStatfs, ReplyWrite, ReplyXattr, Request, WriteFlags,
};
use reply::{errno, file_attr, file_type, ttl};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct FuseAdapter {
    fs: Arc<FlickrFs>,
    rt: tokio::runtime::Handle,
    uid: u32,
    gid: u32,
    dirs: Arc<dirs::Listings>,
    passthrough: passthrough::Passthrough,
    /// The attributes last given to the kernel for inodes whose attributes are not cheap
    /// (sidecars, images of unknown size, the status file): READDIRPLUS repeats them rather
    /// than overwrite what the kernel holds with a placeholder.
    given: Arc<Mutex<HashMap<u64, Attr>>>,
    /// Answer xattr calls (else ENOSYS, and the kernel stops asking: `--no-xattr`).
    xattr: bool,
    /// The kernel sends no OPENDIR (it keeps every listing, see `init`): listings by inode.
    no_opendir: bool,
    by_ino: Arc<dirs::ByIno>,
    /// Listings the kernel must not keep (views, searches), read to their end: the
    /// invalidation thread makes the kernel forget them at once.
    volatile: std::sync::mpsc::Sender<u64>,
    volatile_rx: Mutex<Option<std::sync::mpsc::Receiver<u64>>>,
    /// The longest a request is held (`--fuse-wait`).
    wait: Duration,
}

/// Runs the work of a kernel request as a person's: first in the API queue, failing at once
/// while Flickr is down, waiting at most `wait` for the rate limit, and given `wait` in all,
/// past which it is answered with [`crate::fs::Error::timed_out`].
async fn bounded<T>(
    wait: Duration,
    what: impl FnOnce() -> String,
    work: impl std::future::Future<Output = crate::fs::Result<T>>,
) -> crate::fs::Result<T> {
    let work = with_patience(wait, tokio::time::timeout(wait, work));
    match foreground(work).await {
        Ok(r) => r,
        Err(_) => Err(crate::fs::Error::timed_out(&what(), wait)),
    }
}

impl FuseAdapter {
    pub fn new(fs: Arc<FlickrFs>, rt: tokio::runtime::Handle, xattr: bool) -> FuseAdapter {
        // SAFETY: getuid/getgid have no preconditions and cannot fail.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        let (tx, rx) = std::sync::mpsc::channel();
        FuseAdapter {
            fs,
            rt,
            uid,
            gid,
            dirs: Arc::new(dirs::Listings::default()),
            passthrough: passthrough::Passthrough::default(),
            given: Arc::new(Mutex::new(HashMap::new())),
            xattr,
            wait: config::FUSE_WAIT,
            no_opendir: false,
            by_ino: Arc::new(dirs::ByIno::default()),
            volatile: tx,
            volatile_rx: Mutex::new(Some(rx)),
        }
    }

    /// The longest a request is held (`--fuse-wait`).
    pub fn with_wait(mut self, wait: Duration) -> FuseAdapter {
        self.wait = wait;
        self
    }

    /// Where the listings the kernel must forget at once arrive (for `spawn_invalidator`);
    /// taken once, before the adapter goes to the session.
    pub fn volatile_listings(&self) -> Option<std::sync::mpsc::Receiver<u64>> {
        self.volatile_rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// The listing of open directory `fh`, read now if the open left it for later; without
    /// OPENDIR, by inode. `None`: it needs the network first (see `listing_later`).
    fn listing(&self, ino: u64, fh: u64, offset: u64) -> Option<Result<Arc<Vec<DirEntry>>, Errno>> {
        if self.no_opendir {
            if offset == 0 && self.fs.readdir_needs_network(ino) {
                return None;
            }
            return Some(
                self.by_ino
                    .get(ino, offset, || self.fs.readdir(ino))
                    .map_err(|e| errno(&self.fs, e)),
            );
        }
        Some(match self.dirs.get(fh, || self.fs.readdir(ino)) {
            None => Err(Errno::EBADF),
            Some(Ok(l)) => Ok(l),
            Some(Err(e)) => Err(errno(&self.fs, e)),
        })
    }

    /// A listing served to its end (`served` 0): dropped, and one the kernel must not keep
    /// (a view, a search) is forgotten by the kernel at once, so that the next open reads it
    /// anew (what a handle per open gave).
    fn served(&self, ino: u64, served: usize) {
        if self.no_opendir && served == 0 {
            self.by_ino.done(ino);
            if !self.fs.listing_cacheable(ino) {
                let _ = self.volatile.send(ino);
            }
        }
    }
}

/// What READDIRPLUS says of an entry. One whose attributes would cost a trip (a HEAD, a
/// render) goes out with a zero TTL, so the kernel looks it up when it is used, and with the
/// attributes the kernel last got for it, so that nothing it holds is overwritten.
fn plus_attr(
    fs: &FlickrFs,
    given: &Mutex<HashMap<u64, Attr>>,
    (uid, gid): (u32, u32),
    e: &DirEntry,
) -> (FileAttr, Duration) {
    if let Some(a) = fs.entry_attr_now(e) {
        return (file_attr(&a, uid, gid), ttl(&a));
    }
    let known = given
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&e.ino)
        .cloned();
    let attr = match known {
        Some(a) => file_attr(&a, uid, gid),
        None => FileAttr {
            kind: file_type(e.kind),
            ..file_attr(&fs.dir_attr(e.ino), uid, gid)
        },
    };
    (attr, Duration::ZERO)
}

/// Fills a READDIRPLUS reply from `offset`; returns how many lines went in (0: the end).
fn fill_plus(
    fs: &FlickrFs,
    given: &Mutex<HashMap<u64, Attr>>,
    ids: (u32, u32),
    ino: u64,
    entries: &[DirEntry],
    offset: u64,
    reply: &mut ReplyDirectoryPlus,
) -> usize {
    let dot = file_attr(&fs.dir_attr(ino), ids.0, ids.1);
    let dotdot = file_attr(&fs.dir_attr(ROOT_INO), ids.0, ids.1);
    dirs::serve(ino, entries, offset, |l| {
        let (attr, ttl) = match l.entry {
            Some(e) => plus_attr(fs, given, ids, e),
            None if l.name == "." => (dot, Duration::ZERO),
            None => (dotdot, Duration::ZERO),
        };
        reply.add(INodeNo(l.ino), l.next, l.name, &ttl, &attr, Generation(0))
    })
}

/// Fills a READDIR reply from `offset`; returns how many lines went in (0: the end).
fn fill(ino: u64, entries: &[DirEntry], offset: u64, reply: &mut ReplyDirectory) -> usize {
    dirs::serve(ino, entries, offset, |l| {
        reply.add(INodeNo(l.ino), l.next, file_type(l.kind), l.name)
    })
}

fn remember(given: &Mutex<HashMap<u64, Attr>>, a: &Attr) {
    if a.kind != Kind::Dir {
        given
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(a.ino, a.clone());
    }
}

/// The xattr size protocol: size 0 asks for the length, a buffer too small gets ERANGE.
fn xattr_reply(
    fs: &Arc<FlickrFs>,
    value: crate::fs::Result<Vec<u8>>,
    size: u32,
    reply: ReplyXattr,
) {
    match value {
        Ok(v) if size == 0 => reply.size(v.len() as u32),
        Ok(v) if v.len() > size as usize => reply.error(Errno::from_i32(libc::ERANGE)),
        Ok(v) => reply.data(&v),
        Err(e) => reply.error(errno(fs, e)),
    }
}

fn wants_write(flags: OpenFlags) -> bool {
    let acc = flags.0 & libc::O_ACCMODE;
    acc == libc::O_WRONLY
        || acc == libc::O_RDWR
        || flags.0 & (libc::O_TRUNC | libc::O_APPEND | libc::O_CREAT) != 0
}

impl Filesystem for FuseAdapter {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Bigger requests: 1 MiB reads instead of 128 KiB (fewer trips per image).
        let _ = config.add_capabilities(InitFlags::FUSE_MAX_PAGES);
        // Names and attributes in one trip: `ls -l`, `find` and rsync then skip a lookup per
        // entry.
        let _ = config.add_capabilities(InitFlags::FUSE_DO_READDIRPLUS);
        // No FUSE_POSIX_ACL: the files have no ACLs, and `system.posix_acl_*` is answered
        // "not supported" (`fs::xattr`), after which `ls -l` asks no more on this mount. With
        // the capability the kernel would keep a "no ACL" per inode, but only after asking
        // once for every entry (and twice for every directory) of a first walk, and it must
        // not be told "not supported" (its permission checks would fail on that answer).
        // No OPENDIR/RELEASEDIR: two round trips per directory of every walk, the largest cost
        // left on a second `ls -lR` of the hashed tree (as many directories as photos at
        // depth 4). The kernel then keeps every listing: those that change are forgotten when
        // they do (`notify`), views and searches as soon as they are read (`served`).
        self.no_opendir = config
            .add_capabilities(InitFlags::FUSE_NO_OPENDIR_SUPPORT)
            .is_ok();
        if let Err(max) = config.set_max_readahead(config::FUSE_MAX_READ) {
            let _ = config.set_max_readahead(max);
        }
        let _ = config.set_max_write(config::FUSE_MAX_READ);
        if config.add_capabilities(InitFlags::FUSE_PASSTHROUGH).is_ok()
            && config.set_max_stack_depth(2).is_ok()
        {
            self.passthrough.enable();
        }
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let Some(name) = name.to_str().map(str::to_owned) else {
            return reply.error(Errno::ENOENT);
        };
        if let Some(r) = self.fs.lookup_now(parent.0, &name) {
            return match r {
                Ok(a) => reply.entry(&ttl(&a), &file_attr(&a, self.uid, self.gid), Generation(0)),
                Err(e) => reply.error(errno(&self.fs, e)),
            };
        }
        let (fs, uid, gid, given) = (self.fs.clone(), self.uid, self.gid, self.given.clone());
        let wait = self.wait;
        self.rt.spawn(async move {
            let what = || format!("lookup of {name}");
            match bounded(wait, what, fs.lookup(parent.0, &name)).await {
                Ok(a) => {
                    remember(&given, &a);
                    reply.entry(&ttl(&a), &file_attr(&a, uid, gid), Generation(0))
                }
                Err(e) => reply.error(errno(&fs, e)),
            }
        });
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        if let Some(r) = self.fs.attr_now(ino.0) {
            return match r {
                Ok(a) => reply.attr(&ttl(&a), &file_attr(&a, self.uid, self.gid)),
                Err(e) => reply.error(errno(&self.fs, e)),
            };
        }
        let (fs, uid, gid, given) = (self.fs.clone(), self.uid, self.gid, self.given.clone());
        let wait = self.wait;
        self.rt.spawn(async move {
            let what = || format!("stat of inode {}", ino.0);
            match bounded(wait, what, fs.getattr(ino.0)).await {
                Ok(a) => {
                    remember(&given, &a);
                    reply.attr(&ttl(&a), &file_attr(&a, uid, gid))
                }
                Err(e) => reply.error(errno(&fs, e)),
            }
        });
    }

    // The kernel dropped the inode: the attributes it was given go too (the map holds only
    // what the kernel holds).
    fn forget(&self, _req: &Request, ino: INodeNo, _nlookup: u64) {
        self.given
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&ino.0);
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.fs.readlink(ino.0) {
            Ok(target) => reply.data(target.as_bytes()),
            Err(e) => reply.error(errno(&self.fs, e)),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        if self.no_opendir {
            // The kernel then opens every directory itself, keeping its listing
            // (FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR), and never asks again.
            return reply.error(Errno::ENOSYS);
        }
        if self.fs.readdir_needs_network(ino.0) {
            let (fs, dirs, wait) = (self.fs.clone(), self.dirs.clone(), self.wait);
            self.rt.spawn(async move {
                let what = || format!("listing of inode {}", ino.0);
                match bounded(wait, what, fs.readdir_async(ino.0)).await {
                    Ok(entries) => {
                        reply.opened(FileHandle(dirs.insert(Some(entries))), FopenFlags::empty())
                    }
                    Err(e) => reply.error(errno(&fs, e)),
                }
            });
            return;
        }
        if self.fs.listing_cacheable(ino.0) {
            // The kernel keeps the listing between opens (and READDIR reads it only when the
            // kernel has none): `notify` tells it when a listing changes.
            let fh = self.dirs.insert(None);
            return reply.opened(
                FileHandle(fh),
                FopenFlags::FOPEN_CACHE_DIR | FopenFlags::FOPEN_KEEP_CACHE,
            );
        }
        match self.fs.readdir(ino.0) {
            Ok(entries) => {
                let fh = self.dirs.insert(Some(entries));
                reply.opened(FileHandle(fh), FopenFlags::empty());
            }
            Err(e) => reply.error(errno(&self.fs, e)),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let entries = match self.listing(ino.0, fh.0, offset) {
            Some(Ok(l)) => l,
            Some(Err(e)) => return reply.error(e),
            None => {
                // A view to fetch first (no OPENDIR did it): answered from a task.
                let (fs, by_ino, volatile) =
                    (self.fs.clone(), self.by_ino.clone(), self.volatile.clone());
                let wait = self.wait;
                self.rt.spawn(async move {
                    let what = || format!("listing of inode {}", ino.0);
                    match bounded(wait, what, fs.readdir_async(ino.0)).await {
                        Ok(l) => {
                            let l = Arc::new(l);
                            by_ino.put(ino.0, l.clone());
                            if fill(ino.0, &l, offset, &mut reply) == 0 {
                                by_ino.done(ino.0);
                                let _ = volatile.send(ino.0);
                            }
                            reply.ok()
                        }
                        Err(e) => reply.error(errno(&fs, e)),
                    }
                });
                return;
            }
        };
        let n = fill(ino.0, &entries, offset, &mut reply);
        reply.ok();
        self.served(ino.0, n);
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        let ids = (self.uid, self.gid);
        let entries = match self.listing(ino.0, fh.0, offset) {
            Some(Ok(l)) => l,
            Some(Err(e)) => return reply.error(e),
            None => {
                let (fs, by_ino, volatile, given) = (
                    self.fs.clone(),
                    self.by_ino.clone(),
                    self.volatile.clone(),
                    self.given.clone(),
                );
                let wait = self.wait;
                self.rt.spawn(async move {
                    let what = || format!("listing of inode {}", ino.0);
                    match bounded(wait, what, fs.readdir_async(ino.0)).await {
                        Ok(l) => {
                            let l = Arc::new(l);
                            by_ino.put(ino.0, l.clone());
                            if fill_plus(&fs, &given, ids, ino.0, &l, offset, &mut reply) == 0 {
                                by_ino.done(ino.0);
                                let _ = volatile.send(ino.0);
                            }
                            reply.ok()
                        }
                        Err(e) => reply.error(errno(&fs, e)),
                    }
                });
                return;
            }
        };
        let n = fill_plus(
            &self.fs,
            &self.given,
            ids,
            ino.0,
            &entries,
            offset,
            &mut reply,
        );
        reply.ok();
        self.served(ino.0, n);
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.dirs.remove(fh.0);
        reply.ok();
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        match self.fs.open(ino.0, wants_write(flags)) {
            Ok((fh, keep)) => {
                if keep {
                    let file = || self.fs.cached_image_file(ino.0);
                    if let Some(id) = self.passthrough.open(ino.0, fh, &reply, file) {
                        return reply.opened_passthrough(FileHandle(fh), FopenFlags::empty(), &id);
                    }
                }
                let f = if keep {
                    FopenFlags::FOPEN_KEEP_CACHE
                } else {
                    FopenFlags::FOPEN_DIRECT_IO
                };
                reply.opened(FileHandle(fh), f)
            }
            Err(e) => reply.error(errno(&self.fs, e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let (fs, wait) = (self.fs.clone(), self.wait);
        self.rt.spawn(async move {
            let what = || format!("read of inode {}", ino.0);
            match bounded(wait, what, fs.read(fh.0, offset, size)).await {
                Ok(data) => reply.data(&data),
                Err(e) => reply.error(errno(&fs, e)),
            }
        });
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.fs.release(fh.0);
        self.passthrough.release(fh.0);
        reply.ok();
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        _data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        reply.error(Errno::EROFS);
    }

    // ENOSYS, answered quietly: the kernel then stops asking (no flush trip on every close).
    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::ENOSYS);
    }

    // With `--no-xattr`, ENOSYS: the kernel then stops asking (no xattr trip on every `ls -l`
    // entry). Otherwise the names `ls -l` asks of every entry (security.*, ACLs) get
    // EOPNOTSUPP from memory, which `ls` remembers for the mount (`fs::xattr`).
    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        if !self.xattr {
            return reply.error(Errno::ENOSYS);
        }
        let Some(name) = name.to_str() else {
            // Not one of ours, in the user namespace or (like any other namespace) unserved.
            let user = name.as_encoded_bytes().starts_with(b"user.");
            return reply.error(Errno::from_i32(if user {
                libc::ENODATA
            } else {
                libc::EOPNOTSUPP
            }));
        };
        xattr_reply(&self.fs, self.fs.getxattr(ino.0, name), size, reply);
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        if !self.xattr {
            return reply.error(Errno::ENOSYS);
        }
        xattr_reply(&self.fs, self.fs.listxattr(ino.0), size, reply);
    }

    // What fuser would answer with a WARN per call (`[Not Implemented] ...`, three lines for
    // every `open()` from Python or `file`), answered quietly. ioctl: ENOTTY, what a file
    // without ioctls says (the kernel asks again each time, so a warning would repeat). fsync:
    // nothing of a read-only file is unwritten. poll, lseek and copy_file_range: ENOSYS, which
    // the kernel remembers, falling back to its own generic versions.
    fn ioctl(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _flags: IoctlFlags,
        _cmd: u32,
        _in_data: &[u8],
        _out_size: u32,
        reply: ReplyIoctl,
    ) {
        reply.error(Errno::ENOTTY);
    }

    fn fsync(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _d: bool, reply: ReplyEmpty) {
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _d: bool,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn poll(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _ph: PollNotifier,
        _events: PollEvents,
        _flags: PollFlags,
        reply: ReplyPoll,
    ) {
        reply.error(Errno::ENOSYS);
    }

    fn lseek(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: i64,
        _whence: i32,
        reply: ReplyLseek,
    ) {
        reply.error(Errno::ENOSYS);
    }

    fn copy_file_range(
        &self,
        _req: &Request,
        _ino_in: INodeNo,
        _fh_in: FileHandle,
        _offset_in: u64,
        _ino_out: INodeNo,
        _fh_out: FileHandle,
        _offset_out: u64,
        _len: u64,
        _flags: CopyFileRangeFlags,
        reply: ReplyWrite,
    ) {
        reply.error(Errno::ENOSYS);
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let s = self.fs.statfs();
        reply.statfs(s.blocks, 0, 0, s.files, 0, 4096, 255, 4096);
    }
}
