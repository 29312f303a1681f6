//! The file system's error: an errno for the kernel, with the cause kept (what failed, on which
//! photo, and why) and the level it deserves in the log. Only the FUSE adapter turns it into a
//! reply, and logs it there, once (the mountpoint-s3 `fs::Error` pattern): nothing below
//! maps a cause to `EIO` and drops it.

use std::fmt;
use tracing::Level;

/// A failed file system operation.
#[derive(Debug)]
pub struct Error {
    errno: i32,
    message: String,
    level: Level,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An answer, not a fault (`ENOENT` of a name that is not there, `EISDIR`...): logged at
    /// debug level only.
    pub fn answer(errno: i32) -> Error {
        Error {
            errno,
            message: errno_name(errno).into(),
            level: Level::DEBUG,
            source: None,
        }
    }

    /// No such file or directory.
    pub fn not_found() -> Error {
        Error::answer(libc::ENOENT)
    }

    /// A real failure (`EIO` unless said otherwise), logged as a warning with its cause.
    pub fn io(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Error {
        Error {
            errno: libc::EIO,
            message: message.into(),
            level: Level::WARN,
            source: Some(source.into()),
        }
    }

    /// A failed fetch of a photo: `ENOSPC` when the backing cache's disk is full (the reader
    /// gets an answer, not a hang), else `EIO`.
    pub fn fetch(message: impl Into<String>, e: crate::engine::FetchError) -> Error {
        let errno = if e.is_no_space() {
            libc::ENOSPC
        } else {
            libc::EIO
        };
        // While Flickr is not answering, every uncached file fails at once: the breaker said
        // so once; each file's EIO is a detail.
        let quiet = crate::flickr::breaker::is_foreground()
            && crate::flickr::breaker::breaker().open_for().is_some();
        let mut err = Error::io(message, e).with_errno(errno);
        if quiet {
            err.level = Level::DEBUG;
        }
        err
    }

    /// A request a person waits for that took longer than the mount's bound (`--fuse-wait`):
    /// answered `EIO` rather than held (a fetch under way goes on in the background).
    pub fn timed_out(what: &str, bound: std::time::Duration) -> Error {
        Error {
            errno: libc::EIO,
            message: format!(
                "{what}: no answer within {}s (Flickr slow or the API rate limit spent); what was asked goes on in the background, try again later (mount --fuse-wait sets this bound)",
                bound.as_secs_f64()
            ),
            level: Level::WARN,
            source: None,
        }
    }

    /// The same error with another errno (`ENOSPC` for a full disk, say).
    pub fn with_errno(mut self, errno: i32) -> Error {
        self.errno = errno;
        self
    }

    pub fn errno(&self) -> i32 {
        self.errno
    }

    /// The level the adapter logs this error at.
    pub fn level(&self) -> Level {
        self.level
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(s) = &self.source {
            write!(f, ": {s}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// An index failure on the way to answering a request.
impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        Error::io("cannot read the index", e)
    }
}

fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::ENOENT => "no such file or directory",
        libc::EROFS => "read-only file system",
        libc::ENOTDIR => "not a directory",
        libc::EISDIR => "is a directory",
        libc::EBADF => "bad file handle",
        libc::ELOOP => "a symbolic link",
        libc::EINVAL => "invalid argument",
        libc::ENOSPC => "no space left",
        libc::ENODATA => "no such attribute",
        libc::EOPNOTSUPP => "not supported",
        _ => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_kept_until_the_reply() {
        let e = Error::io(
            "size of photo 0a1b",
            std::io::Error::other("connection refused"),
        );
        assert_eq!(e.errno(), libc::EIO);
        assert_eq!(e.level(), Level::WARN);
        assert_eq!(e.to_string(), "size of photo 0a1b: connection refused");
        assert!(std::error::Error::source(&e).is_some());
        let full = e.with_errno(libc::ENOSPC);
        assert_eq!(full.errno(), libc::ENOSPC);
        let n = Error::not_found();
        assert_eq!((n.errno(), n.level()), (libc::ENOENT, Level::DEBUG));
    }
}
