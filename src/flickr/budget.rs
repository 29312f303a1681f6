//! One API budget per key, shared by every process that uses the key with the same cache
//! root: a mount and a mirror side by side, or a run started again, spend from the same
//! allowance, because Flickr's limit is per key and a key that goes over it is revoked.
//!
//! The state is a small file, `<cache>/.flickrfs-budget-<md5(key)[..16]>` (mode 0600; the key
//! itself never appears), read and replaced (rename) under an exclusive `flock` of
//! `<that>.lock` for each call:
//! the token bucket (tokens left, when last refilled) and the calls made in each of the last
//! 60 minutes. A call may go when a token is there and the calls of the last hour are under
//! the limit; a restart finds the bucket where the last process left it (no fresh burst).
//!
//! Priorities: work a person waits for ([`super::breaker::is_foreground`]) may take the last
//! tokens; background work leaves [`RESERVE`] of the burst to them, so a lookup in a mount
//! beside a busy prefetcher waits for at most one token's refill.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Share of the burst that background work leaves for foreground work.
pub const RESERVE: f64 = 0.25;
const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;

/// The shared budget of one key.
#[derive(Debug)]
pub struct SharedBudget {
    path: PathBuf,
    per_hour: u32,
    burst: u32,
}

/// What the file holds.
#[derive(Debug, Default, PartialEq)]
struct State {
    tokens: f64,
    last_ms: i64,
    /// (minute start in unix ms, calls in that minute), oldest first, within the last hour.
    minutes: Vec<(i64, u32)>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The file of `key` under `cache_root`.
pub fn budget_path(cache_root: &Path, key: &str) -> PathBuf {
    let digest = crate::photo::hash(key.trim());
    cache_root.join(format!(".flickrfs-budget-{}", &digest[..16]))
}

/// Every key's budget file under `cache_root`, with the short name that stands for the key
/// (a digest: the key itself never appears), sorted.
pub fn budget_files(cache_root: &Path) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(cache_root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let id = name.strip_prefix(".flickrfs-budget-")?;
            (id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| (id.to_string(), e.path()))
        })
        .collect();
    out.sort();
    out
}

/// Calls made with a key in the last hour, by every process, read from its budget file
/// without taking the lock or writing anything (the file is replaced by renames, so a read
/// sees one whole state). A missing or damaged file counts none.
pub fn read_calls_last_hour(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| State::parse(&t))
        .map(|s| s.calls_last_hour(now_ms()))
        .unwrap_or(0)
}

impl State {
    fn parse(text: &str) -> Option<State> {
        let mut lines = text.lines();
        let mut head = lines.next()?.split_whitespace();
        if head.next()? != "v1" {
            return None;
        }
        let tokens = head.next()?.parse().ok()?;
        let last_ms = head.next()?.parse().ok()?;
        let minutes = lines
            .filter_map(|l| {
                let (a, b) = l.split_once(' ')?;
                Some((a.parse().ok()?, b.parse().ok()?))
            })
            .collect();
        Some(State {
            tokens,
            last_ms,
            minutes,
        })
    }

    fn render(&self) -> String {
        let mut s = format!("v1 {:.4} {}\n", self.tokens, self.last_ms);
        for (m, n) in &self.minutes {
            s.push_str(&format!("{m} {n}\n"));
        }
        s
    }

    fn calls_last_hour(&self, now: i64) -> u64 {
        self.minutes
            .iter()
            .filter(|(m, _)| *m > now - HOUR_MS)
            .map(|(_, n)| *n as u64)
            .sum()
    }
}

impl SharedBudget {
    pub fn new(path: PathBuf, per_hour: u32, burst: u32) -> SharedBudget {
        let per_hour = per_hour.max(1);
        SharedBudget {
            path,
            per_hour,
            burst: burst.clamp(1, per_hour),
        }
    }

    fn rate_per_ms(&self) -> f64 {
        self.per_hour as f64 / HOUR_MS as f64
    }

    /// Runs `f` on the state under the budget's lock, writing back what it leaves. The lock
    /// is a file of its own (`<budget>.lock`), and the state is replaced by a rename: a
    /// process killed at any moment leaves the old state or the new one, never half of one.
    fn with_state<T>(&self, f: impl FnOnce(&mut State, i64) -> T) -> std::io::Result<T> {
        let mut lock_path = self.path.clone().into_os_string();
        lock_path.push(".lock");
        let lock = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)?;
        // Released when `lock` closes, at the end of this function.
        lock_exclusive(&lock)?;
        let text = match File::open(&self.path) {
            Ok(mut file) => {
                let mut text = String::new();
                file.read_to_string(&mut text)?;
                text
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        let now = now_ms();
        let mut state = State::parse(&text).unwrap_or(State {
            tokens: self.burst as f64,
            last_ms: now,
            minutes: Vec::new(),
        });
        // Refill since the last writer (a clock that went back refills nothing).
        let elapsed = (now - state.last_ms).max(0) as f64;
        state.tokens = (state.tokens + elapsed * self.rate_per_ms()).min(self.burst as f64);
        state.last_ms = now.max(state.last_ms);
        state.minutes.retain(|(m, _)| *m > now - HOUR_MS);
        let out = f(&mut state, now);
        // One name for every writer: only the lock holder writes it, so a file left by a
        // process killed here is simply overwritten by the next writer, never piled up.
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(state.render().as_bytes())?;
        drop(file);
        std::fs::rename(&tmp, &self.path)?;
        Ok(out)
    }

    /// Takes a token for a call, or says how long to wait before asking again.
    /// `foreground`: may take the reserve.
    pub fn try_take(&self, foreground: bool) -> std::io::Result<Result<(), Duration>> {
        let reserve = if foreground {
            0.0
        } else {
            (self.burst as f64 * RESERVE).floor()
        };
        let per_hour = self.per_hour as u64;
        let rate = self.rate_per_ms();
        self.with_state(|s, now| {
            let hour = s.calls_last_hour(now);
            if hour >= per_hour {
                // The hour is spent: wait until its oldest minute leaves the window.
                let oldest = s.minutes.first().map(|(m, _)| *m).unwrap_or(now);
                let wait = (oldest + HOUR_MS - now).max(1000);
                return Err(Duration::from_millis(wait as u64));
            }
            if s.tokens >= 1.0 + reserve {
                s.tokens -= 1.0;
                let minute = now - now.rem_euclid(MINUTE_MS);
                match s.minutes.last_mut() {
                    Some((m, n)) if *m == minute => *n += 1,
                    _ => s.minutes.push((minute, 1)),
                }
                Ok(())
            } else {
                let missing = 1.0 + reserve - s.tokens;
                Err(Duration::from_millis(
                    ((missing / rate).ceil() as u64).max(1),
                ))
            }
        })
    }

    /// Calls made with this key in the last hour, by every process.
    pub fn calls_last_hour(&self) -> std::io::Result<u64> {
        self.with_state(|s, now| s.calls_last_hour(now))
    }

    pub fn per_hour(&self) -> u32 {
        self.per_hour
    }
}

/// Takes an exclusive `flock` on `f` (waiting for it), released when `f` is closed.
fn lock_exclusive(f: &File) -> std::io::Result<()> {
    loop {
        // SAFETY: a valid open file descriptor; flock has no other preconditions.
        let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
        if r == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_processes_share_one_bucket_and_a_restart_gets_no_fresh_burst() {
        let dir = tempfile::tempdir().unwrap();
        let path = budget_path(dir.path(), "0123456789abcdef");
        assert!(!path.to_string_lossy().contains("0123456789abcdef"));
        // 3,600 an hour (one a second), burst 8: the reserve is 2.
        let a = SharedBudget::new(path.clone(), 3600, 8);
        let b = SharedBudget::new(path.clone(), 3600, 8);
        let mut taken = 0;
        for i in 0..20 {
            let who = if i % 2 == 0 { &a } else { &b };
            if who.try_take(false).unwrap().is_ok() {
                taken += 1;
            }
        }
        assert_eq!(taken, 6, "background leaves the reserve, across both");
        assert!(
            a.try_take(true).unwrap().is_ok(),
            "the reserve is the foreground's"
        );
        assert!(b.try_take(true).unwrap().is_ok());
        let wait = a.try_take(true).unwrap().unwrap_err();
        assert!(wait <= Duration::from_millis(1000), "{wait:?}");
        assert_eq!(a.calls_last_hour().unwrap(), 8);
        // A new process (a restart) sees the same spent bucket.
        let c = SharedBudget::new(path.clone(), 3600, 8);
        assert!(c.try_take(true).unwrap().is_err());
        assert_eq!(c.calls_last_hour().unwrap(), 8);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn the_hour_cap_holds_whatever_the_bucket_says() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b");
        // A huge refill rate, but 5 calls an hour at most.
        let now = now_ms();
        let state = State {
            tokens: 5.0,
            last_ms: now,
            minutes: vec![(now - 30 * MINUTE_MS, 4)],
        };
        std::fs::write(&path, state.render()).unwrap();
        let b = SharedBudget::new(path, 5, 5);
        assert!(b.try_take(true).unwrap().is_ok());
        let wait = b.try_take(true).unwrap().unwrap_err();
        assert!(
            wait > Duration::from_secs(29 * 60) && wait <= Duration::from_secs(30 * 60),
            "{wait:?}"
        );
    }

    #[test]
    fn a_writer_killed_mid_write_leaves_nothing_that_piles_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b");
        let b = SharedBudget::new(path.clone(), 3600, 4);
        assert!(b.try_take(true).unwrap().is_ok());
        // What a process killed between writing and renaming leaves behind.
        std::fs::write(dir.path().join("b.tmp"), "v1 half").unwrap();
        assert!(b.try_take(true).unwrap().is_ok());
        assert_eq!(b.calls_last_hour().unwrap(), 2);
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["b", "b.lock"]);
    }

    #[test]
    fn a_damaged_file_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b");
        std::fs::write(&path, "garbage\n1 2 3").unwrap();
        let b = SharedBudget::new(path, 3600, 2);
        assert!(b.try_take(true).unwrap().is_ok());
        assert_eq!(b.calls_last_hour().unwrap(), 1);
        assert_eq!(
            State::parse(&State::parse("v1 1.5 10\n0 3\n").unwrap().render()),
            State::parse("v1 1.5 10\n0 3\n")
        );
    }
}
