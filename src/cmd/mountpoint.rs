//! Mountpoints, for `mount` and `unmount`: is a directory usable, what is mounted on it (from
//! `/proc/self/mountinfo`), and the clean-up of a stale flickrfs mount, the kind a killed mount
//! process leaves (every access answers `ENOTCONN`, "Transport endpoint is not connected").

use std::path::{Path, PathBuf};
use std::process::Command;

/// What mountinfo says of a flickrfs mount: type `fuse.flickrfs` when fusermount3 mounted it,
/// plain `fuse` when it was mounted directly (as root); the source is `flickrfs:<user>` either
/// way.
const FSTYPE: &str = "fuse.flickrfs";
const SOURCE_PREFIX: &str = "flickrfs:";

/// One mount in mountinfo.
#[derive(Debug, PartialEq, Eq)]
pub struct Mounted {
    pub fstype: String,
    pub source: String,
}

impl Mounted {
    pub fn is_flickrfs(&self) -> bool {
        self.fstype == FSTYPE
            || (self.fstype.starts_with("fuse") && self.source.starts_with(SOURCE_PREFIX))
    }
}

/// Fails with one line when the mountpoint or FUSE cannot be used. A stale flickrfs mount on
/// it is unmounted first (lazily when it must be); a stale mount of anything else is refused
/// with the command that clears it.
pub fn check(mnt: &Path) -> Result<PathBuf, String> {
    let here = std::fs::canonicalize(mnt).unwrap_or_else(|_| absolute(mnt));
    if is_mounted(&here) && is_stale(&here) {
        clear_stale(&here)?;
    }
    let meta = std::fs::metadata(mnt);
    let meta = meta.map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("mountpoint {} does not exist", mnt.display()),
        _ => format!("cannot use mountpoint {}: {e}", mnt.display()),
    })?;
    if !meta.is_dir() {
        return Err(format!("mountpoint {} is not a directory", mnt.display()));
    }
    let abs = std::fs::canonicalize(mnt)
        .map_err(|e| format!("cannot use mountpoint {}: {e}", mnt.display()))?;
    if is_mounted(&abs) {
        return Err(format!(
            "{} is already a mountpoint (unmount it with: flickrfs unmount {})",
            abs.display(),
            abs.display()
        ));
    }
    let mut entries = std::fs::read_dir(&abs)
        .map_err(|e| format!("cannot read mountpoint {}: {e}", abs.display()))?;
    if entries.next().is_some() {
        return Err(format!("mountpoint {} is not empty", abs.display()));
    }
    if !Path::new("/dev/fuse").exists() {
        return Err("/dev/fuse is missing: load the fuse kernel module (modprobe fuse)".into());
    }
    fusermount()?;
    Ok(abs)
}

/// Unmounts the flickrfs mount at `mnt` (live or stale): `fusermount3 -u`, and for a stale one
/// whose plain unmount fails, `fusermount3 -u -z`.
pub fn unmount(mnt: &Path) -> Result<PathBuf, String> {
    let abs = std::fs::canonicalize(mnt).unwrap_or_else(|_| absolute(mnt));
    let stale = is_stale(&abs);
    match mounted(&abs) {
        None => return Err(format!("{} is not mounted", abs.display())),
        Some(m) if stale && !m.is_flickrfs() => return Err(refusal(&abs, &m.fstype)),
        // Only ever a flickrfs mount: anything else (a tmpfs, a disk, /proc) is not ours, and
        // fusermount3 run as root would unmount it all the same.
        Some(m) if !m.is_flickrfs() => {
            return Err(format!(
                "{} is a {} mount (source {:?}), not a flickrfs mount: refusing to unmount it",
                abs.display(),
                m.fstype,
                m.source
            ))
        }
        Some(_) => {}
    }
    let tool = fusermount()?;
    if run(&tool, &["-u"], &abs) {
        return Ok(abs);
    }
    if stale && run(&tool, &["-u", "-z"], &abs) {
        return Ok(abs);
    }
    Err(format!("cannot unmount {} (is it busy?)", abs.display()))
}

/// True when a mount on `abs` has lost its process: the kernel answers `ENOTCONN`. Asked
/// with statfs, which always reaches the file system (a `stat` may be answered from the
/// kernel's attribute cache for minutes after the process died).
fn is_stale(abs: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(abs.as_os_str().as_bytes()) else {
        return false;
    };
    let mut buf = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: a valid NUL-terminated path and a buffer of the right type for the kernel to fill.
    let r = unsafe { libc::statvfs(c.as_ptr(), buf.as_mut_ptr()) };
    r != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOTCONN)
}

/// Clears a stale mount at `abs` when it is flickrfs's.
fn clear_stale(abs: &Path) -> Result<(), String> {
    match mounted(abs) {
        Some(m) if m.is_flickrfs() => {
            tracing::info!(
                "{} is a stale flickrfs mount (its process is gone): unmounting it",
                abs.display()
            );
            unmount(abs).map(|_| ()).map_err(|e| {
                format!(
                    "{} is a stale flickrfs mount and {e}; try: fusermount3 -u -z {}",
                    abs.display(),
                    abs.display()
                )
            })
        }
        Some(m) => Err(refusal(abs, &m.fstype)),
        None => Err(format!(
            "cannot use mountpoint {}: {}",
            abs.display(),
            std::io::Error::from_raw_os_error(libc::ENOTCONN)
        )),
    }
}

/// The one line for a stale mount that is not flickrfs's: not ours to unmount.
fn refusal(abs: &Path, fstype: &str) -> String {
    let cmd = if fstype.starts_with("fuse") {
        "fusermount3 -u"
    } else {
        "umount"
    };
    format!(
        "{} is a stale {fstype} mount (not flickrfs); unmount it first with: {cmd} {}",
        abs.display(),
        abs.display()
    )
}

fn run(tool: &Path, args: &[&str], mnt: &Path) -> bool {
    Command::new(tool)
        .args(args)
        .arg(mnt)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `fusermount3` (or `fusermount`) from PATH.
fn fusermount() -> Result<PathBuf, String> {
    find_in_path("fusermount3")
        .or_else(|| find_in_path("fusermount"))
        .ok_or_else(|| "fusermount3 not found: install FUSE 3 (apt-get install fuse3)".into())
}

fn find_in_path(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(bin))
            .find(|c| c.is_file())
    })
}

/// `path` made absolute without touching it (a stale mountpoint cannot be stat'ed): its parent
/// canonicalized, its own name kept.
fn absolute(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match (abs.parent(), abs.file_name()) {
        (Some(parent), Some(name)) => std::fs::canonicalize(parent)
            .map(|p| p.join(name))
            .unwrap_or(abs.clone()),
        _ => abs,
    }
}

/// True when `path` (absolute) is a mountpoint per /proc/self/mountinfo.
pub fn is_mounted(path: &Path) -> bool {
    mounted(path).is_some()
}

/// What is mounted on `path` (absolute), the topmost mount when several are.
pub fn mounted(path: &Path) -> Option<Mounted> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mounted_in(&info, &path.to_string_lossy())
}

/// The last mount on `want` in a mountinfo text.
fn mounted_in(info: &str, want: &str) -> Option<Mounted> {
    info.lines()
        .rev()
        .filter(|l| {
            l.split(' ')
                .nth(4)
                .map(unescape_mountinfo)
                .is_some_and(|m| m == want)
        })
        .filter_map(|l| {
            let (_, after) = l.split_once(" - ")?;
            let mut f = after.split(' ');
            Some(Mounted {
                fstype: f.next()?.to_string(),
                source: unescape_mountinfo(f.next().unwrap_or("")),
            })
        })
        .next()
}

fn unescape_mountinfo(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "\
22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 22 0:35 / /tmp/a\\040b rw,nosuid,nodev - fuse.flickrfs flickrfs:manhhai ro,user_id=0
41 22 0:36 / /mnt/x rw - tmpfs tmpfs rw,size=2048k
42 41 0:37 / /mnt/x rw - fuse.sshfs host:/ rw
43 22 0:38 / /root/m ro - fuse flickrfs:manhhai ro,user_id=0
44 22 0:39 / /root/n rw - fuse /dev/fuse rw
";

    #[test]
    fn mountinfo_gives_the_topmost_mount_and_tells_flickrfs_apart() {
        let m = mounted_in(INFO, "/tmp/a b").unwrap();
        assert!(m.is_flickrfs(), "{m:?}");
        let m = mounted_in(INFO, "/mnt/x").unwrap();
        assert_eq!(m.fstype, "fuse.sshfs");
        assert!(!m.is_flickrfs());
        // Mounted directly by root: type plain fuse, the source says whose it is.
        assert!(mounted_in(INFO, "/root/m").unwrap().is_flickrfs());
        assert!(!mounted_in(INFO, "/root/n").unwrap().is_flickrfs());
        assert_eq!(mounted_in(INFO, "/mnt/y"), None);
    }

    #[test]
    fn a_stale_mount_of_another_file_system_is_refused_with_its_command() {
        let e = refusal(Path::new("/mnt/x"), "fuse.sshfs");
        assert_eq!(
            e,
            "/mnt/x is a stale fuse.sshfs mount (not flickrfs); unmount it first with: fusermount3 -u /mnt/x"
        );
        assert!(refusal(Path::new("/mnt/n"), "nfs4").ends_with("umount /mnt/n"));
    }
}
