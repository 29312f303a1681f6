//! Conversions for replies: our attributes as fuser's, their TTLs, and errors as errno, logged
//! here once at the level the error carries (never below, never twice).

use crate::config;
use crate::fs::{Attr, Error, FlickrFs, Kind};
use fuser::{Errno, FileAttr, FileType, INodeNo};
use std::sync::Arc;
use std::time::Duration;

/// The errno for `e`, after logging it once with its cause. A warning or an error (not an
/// ENOENT, not a refused write) is also counted in the index, for `status`.
pub(super) fn errno(fs: &Arc<FlickrFs>, e: Error) -> Errno {
    match e.level() {
        tracing::Level::ERROR => tracing::error!("{e}"),
        tracing::Level::WARN => tracing::warn!("{e}"),
        tracing::Level::INFO => tracing::info!("{e}"),
        _ => tracing::debug!("{e}"),
    }
    if matches!(e.level(), tracing::Level::ERROR | tracing::Level::WARN) {
        fs.engine.note_failure(None, &format!("mount: {e}"));
    }
    Errno::from_i32(e.errno())
}

pub(super) fn file_attr(a: &Attr, uid: u32, gid: u32) -> FileAttr {
    let t = crate::cache::files::unix_time(a.mtime);
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

pub(super) fn file_type(k: Kind) -> FileType {
    match k {
        Kind::Dir => FileType::Directory,
        Kind::File => FileType::RegularFile,
        Kind::Symlink => FileType::Symlink,
    }
}

/// How long the kernel may keep `a`. A file whose attributes may change without the index
/// saying so (a sidecar's stand-in while its comments are on their way, the status file) is
/// not kept at all: its reads bypass the page cache (direct I/O) and may already serve the
/// whole sidecar, and a `stat` after such a read must agree with it.
pub(super) fn ttl(a: &Attr) -> Duration {
    if a.stable {
        config::FUSE_LONG_TTL
    } else if a.kind == Kind::File {
        Duration::ZERO
    } else {
        config::FUSE_SHORT_TTL
    }
}
