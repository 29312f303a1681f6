//! The thin `fuser::Filesystem` adapter: converts arguments, spawns each call onto the tokio
//! runtime with its `Reply` (so no FUSE thread ever waits on the network), and maps errors to
//! errno. No logic lives here: it is all in `fs`.

use crate::fs::{Attr, DirEntry, FlickrFs, FsError, Kind};
use fuser::{
    BackingId, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo,
    InitFlags, KernelConfig, LockOwner, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory,
    ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr,
    Request, WriteFlags,
};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Attribute TTL of files whose size can change (sidecars, status, directories).
const SHORT_TTL: Duration = Duration::from_secs(1);
/// Attribute TTL of immutable images.
const LONG_TTL: Duration = Duration::from_secs(300);

pub struct FuseAdapter {
    fs: Arc<FlickrFs>,
    rt: tokio::runtime::Handle,
    uid: u32,
    gid: u32,
    /// Directory listings snapshotted at opendir, served by offset.
    dirs: Mutex<HashMap<u64, Arc<Vec<DirEntry>>>>,
    next_dir: AtomicU64,
    /// Kernel passthrough of cached images (Linux 6.9+, needs CAP_SYS_ADMIN): reads of a
    /// cached image then go straight to the backing file, without a trip through us.
    passthrough: AtomicBool,
    passthrough_seen: AtomicBool,
    /// Backing ids of images open in passthrough, with their open count (the kernel wants one
    /// id per inode for as long as any handle is open).
    backing: Mutex<HashMap<u64, (Arc<BackingId>, usize)>>,
    /// Passthrough handles -> their inode.
    pt_handles: Mutex<HashMap<u64, u64>>,
    /// The attributes last given to the kernel for inodes whose attributes are not cheap
    /// (sidecars, images of unknown size, the status file): READDIRPLUS repeats them rather
    /// than overwrite what the kernel holds with a placeholder.
    given: Arc<Mutex<HashMap<u64, Attr>>>,
}

impl FuseAdapter {
    pub fn new(fs: Arc<FlickrFs>, rt: tokio::runtime::Handle) -> FuseAdapter {
        // SAFETY: getuid/getgid have no preconditions and cannot fail.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        FuseAdapter {
            fs,
            rt,
            uid,
            gid,
            dirs: Mutex::new(HashMap::new()),
            next_dir: AtomicU64::new(1),
            passthrough: AtomicBool::new(false),
            passthrough_seen: AtomicBool::new(false),
            backing: Mutex::new(HashMap::new()),
            pt_handles: Mutex::new(HashMap::new()),
            given: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// What READDIRPLUS says of an entry. One whose attributes would cost a trip (a HEAD, a
    /// render) goes out with a zero TTL, so the kernel looks it up when it is used, and with
    /// the attributes the kernel last got for it, so that nothing it holds is overwritten.
    fn plus_attr(&self, e: &DirEntry) -> (FileAttr, Duration) {
        let (uid, gid) = (self.uid, self.gid);
        if let Some(a) = self.fs.entry_attr_now(e) {
            return (file_attr(&a, uid, gid), ttl(&a));
        }
        let known = self
            .given
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&e.ino)
            .cloned();
        let attr = match known {
            Some(a) => file_attr(&a, uid, gid),
            None => FileAttr {
                kind: file_type(e.kind),
                ..file_attr(&self.fs.dir_attr(e.ino), uid, gid)
            },
        };
        (attr, Duration::ZERO)
    }

    /// Opens a cached image in passthrough mode, or says why not (then the caller serves it).
    fn open_passthrough(&self, ino: u64, fh: u64, reply: &ReplyOpen) -> Option<Arc<BackingId>> {
        if !self.passthrough.load(Ordering::Relaxed) {
            return None;
        }
        let mut backing = self.backing.lock().unwrap_or_else(|e| e.into_inner());
        let id = match backing.get_mut(&ino) {
            Some((id, n)) => {
                *n += 1;
                id.clone()
            }
            None => {
                let file = self.fs.cached_image_file(ino)?;
                match reply.open_backing(&file) {
                    Ok(id) => {
                        if !self.passthrough_seen.swap(true, Ordering::Relaxed) {
                            tracing::debug!("cached images are read through kernel passthrough");
                        }
                        let id = Arc::new(id);
                        backing.insert(ino, (id.clone(), 1));
                        id
                    }
                    Err(e) => {
                        tracing::info!("kernel passthrough unavailable ({e}); serving reads");
                        self.passthrough.store(false, Ordering::Relaxed);
                        return None;
                    }
                }
            }
        };
        self.pt_handles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(fh, ino);
        Some(id)
    }
}

fn errno(e: FsError) -> Errno {
    Errno::from_i32(e.0)
}

fn file_attr(a: &Attr, uid: u32, gid: u32) -> FileAttr {
    let t = crate::store::unix_time(a.mtime);
    FileAttr {
        ino: INodeNo(a.ino),
        size: a.size,
        blocks: a.size.div_ceil(512),
        atime: t,
        mtime: t,
        ctime: t,
        crtime: t,
        kind: file_type(a.kind),
        perm: a.perm,
        nlink: if a.kind == Kind::Dir { 2 } else { 1 },
        uid,
        gid,
        rdev: 0,
        blksize: 128 * 1024,
        flags: 0,
    }
}

fn remember(given: &Mutex<HashMap<u64, Attr>>, a: &Attr) {
    if a.kind != Kind::Dir {
        given
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(a.ino, a.clone());
    }
}

fn file_type(k: Kind) -> FileType {
    match k {
        Kind::Dir => FileType::Directory,
        Kind::File => FileType::RegularFile,
        Kind::Symlink => FileType::Symlink,
    }
}

fn ttl(a: &Attr) -> Duration {
    if a.stable {
        LONG_TTL
    } else {
        SHORT_TTL
    }
}

fn wants_write(flags: OpenFlags) -> bool {
    let acc = flags.0 & libc::O_ACCMODE;
    acc == libc::O_WRONLY
        || acc == libc::O_RDWR
        || flags.0 & (libc::O_TRUNC | libc::O_APPEND | libc::O_CREAT) != 0
}

impl Filesystem for FuseAdapter {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let Some(name) = name.to_str().map(str::to_owned) else {
            return reply.error(Errno::ENOENT);
        };
        if let Some(r) = self.fs.lookup_now(parent.0, &name) {
            return match r {
                Ok(a) => reply.entry(&ttl(&a), &file_attr(&a, self.uid, self.gid), Generation(0)),
                Err(e) => reply.error(errno(e)),
            };
        }
        let (fs, uid, gid, given) = (self.fs.clone(), self.uid, self.gid, self.given.clone());
        self.rt.spawn(async move {
            match fs.lookup(parent.0, &name).await {
                Ok(a) => {
                    remember(&given, &a);
                    reply.entry(&ttl(&a), &file_attr(&a, uid, gid), Generation(0))
                }
                Err(e) => reply.error(errno(e)),
            }
        });
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        if let Some(r) = self.fs.getattr_now(ino.0) {
            return match r {
                Ok(a) => reply.attr(&ttl(&a), &file_attr(&a, self.uid, self.gid)),
                Err(e) => reply.error(errno(e)),
            };
        }
        let (fs, uid, gid, given) = (self.fs.clone(), self.uid, self.gid, self.given.clone());
        self.rt.spawn(async move {
            match fs.getattr(ino.0).await {
                Ok(a) => {
                    remember(&given, &a);
                    reply.attr(&ttl(&a), &file_attr(&a, uid, gid))
                }
                Err(e) => reply.error(errno(e)),
            }
        });
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.fs.readlink(ino.0) {
            Ok(target) => reply.data(target.as_bytes()),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Bigger requests: 1 MiB reads instead of 128 KiB (fewer trips per image).
        let _ = config.add_capabilities(InitFlags::FUSE_MAX_PAGES);
        // Names and attributes in one trip: `ls -l`, `find` and rsync then skip a lookup per
        // entry.
        let _ = config.add_capabilities(InitFlags::FUSE_DO_READDIRPLUS);
        if let Err(max) = config.set_max_readahead(1 << 20) {
            let _ = config.set_max_readahead(max);
        }
        let _ = config.set_max_write(1 << 20);
        if config.add_capabilities(InitFlags::FUSE_PASSTHROUGH).is_ok()
            && config.set_max_stack_depth(2).is_ok()
        {
            self.passthrough.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.fs.readdir(ino.0) {
            Ok(entries) => {
                let fh = self.next_dir.fetch_add(1, Ordering::Relaxed);
                self.dirs
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(fh, Arc::new(entries));
                reply.opened(FileHandle(fh), FopenFlags::empty());
            }
            Err(e) => reply.error(errno(e)),
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
        let entries = self
            .dirs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&fh.0)
            .cloned();
        let Some(entries) = entries else {
            return reply.error(Errno::EBADF);
        };
        // Offsets: 1 = ".", 2 = "..", 3.. = entries.
        let mut i = offset;
        loop {
            let full = match i {
                0 => reply.add(ino, 1, FileType::Directory, "."),
                1 => reply.add(INodeNo(crate::fs::ROOT_INO), 2, FileType::Directory, ".."),
                _ => match entries.get((i - 2) as usize) {
                    Some(e) => reply.add(INodeNo(e.ino), i + 1, file_type(e.kind), &e.name),
                    None => break,
                },
            };
            if full {
                break;
            }
            i += 1;
        }
        reply.ok();
    }

    // ENOSYS, answered quietly: the kernel then stops asking (no flush or xattr trips on every
    // close and every `ls -l` entry).
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

    fn getxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _size: u32,
        reply: ReplyXattr,
    ) {
        reply.error(Errno::ENOSYS);
    }

    fn listxattr(&self, _req: &Request, _ino: INodeNo, _size: u32, reply: ReplyXattr) {
        reply.error(Errno::ENOSYS);
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        let entries = self
            .dirs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&fh.0)
            .cloned();
        let Some(entries) = entries else {
            return reply.error(Errno::EBADF);
        };
        let (uid, gid) = (self.uid, self.gid);
        let dot = file_attr(&self.fs.dir_attr(ino.0), uid, gid);
        let dotdot = file_attr(&self.fs.dir_attr(crate::fs::ROOT_INO), uid, gid);
        let mut i = offset;
        loop {
            let full = match i {
                0 => reply.add(ino, 1, ".", &Duration::ZERO, &dot, Generation(0)),
                1 => reply.add(
                    INodeNo(crate::fs::ROOT_INO),
                    2,
                    "..",
                    &Duration::ZERO,
                    &dotdot,
                    Generation(0),
                ),
                _ => match entries.get((i - 2) as usize) {
                    Some(e) => {
                        let (attr, ttl) = self.plus_attr(e);
                        reply.add(INodeNo(e.ino), i + 1, &e.name, &ttl, &attr, Generation(0))
                    }
                    None => break,
                },
            };
            if full {
                break;
            }
            i += 1;
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.dirs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&fh.0);
        reply.ok();
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        match self.fs.open(ino.0, wants_write(flags)) {
            Ok((fh, keep)) => {
                if keep {
                    if let Some(id) = self.open_passthrough(ino.0, fh, &reply) {
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
            Err(e) => reply.error(errno(e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let fs = self.fs.clone();
        self.rt.spawn(async move {
            match fs.read(fh.0, offset, size).await {
                Ok(data) => reply.data(&data),
                Err(e) => reply.error(errno(e)),
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
        let pt = self
            .pt_handles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&fh.0);
        if let Some(ino) = pt {
            let mut backing = self.backing.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, n)) = backing.get_mut(&ino) {
                *n -= 1;
                if *n == 0 {
                    backing.remove(&ino);
                }
            }
        }
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

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let counts = self.fs.engine.index.counts().unwrap_or_default();
        let blocks = counts.image_bytes.div_ceil(4096);
        reply.statfs(blocks, 0, 0, counts.photos_indexed * 2, 0, 4096, 255, 4096);
    }
}
