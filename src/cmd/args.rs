//! Command-line surface: clap definitions for `flickrfs` and `mirror_flickr` (defaults from
//! `config`), one-line usage errors, and the engine options the flags ask for.

use crate::config;
use crate::engine::Order;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// Options shared by `mirror` and `mount`.
#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// Cache directory (created 0700); holds flickr_keys and one directory per user.
    #[arg(long, value_name = "DIR", default_value_os_t = default_cache_path())]
    pub cache_path: PathBuf,
    /// Flickr API key (visible in `ps`: prefer FLICKR_API_KEY or --save-api-keys).
    #[arg(long, value_name = "KEY")]
    pub consumer_key: Option<String>,
    /// Flickr API secret (visible in `ps`: prefer FLICKR_API_SECRET or --save-api-keys).
    #[arg(long, value_name = "SECRET")]
    pub consumer_secret: Option<String>,
    /// Save the keys in use to <cache-path>/flickr_keys (mode 0600).
    #[arg(long)]
    pub save_api_keys: bool,
    /// Log level: 0 errors, 1 warnings, 2 progress (default), 3 debug, 4 trace.
    #[arg(long, value_name = "LEVEL", value_parser = clap::value_parser!(u8).range(0..=4))]
    pub debug: Option<u8>,
    /// Oldest photos first.
    #[arg(long, conflicts_with = "lifo")]
    pub fifo: bool,
    /// Newest photos first (the default).
    #[arg(long)]
    pub lifo: bool,
    /// Images only: no info sidecars and no info API calls.
    #[arg(long, conflicts_with = "info_only")]
    pub image_only: bool,
    /// Info sidecars only: no image downloads.
    #[arg(long)]
    pub info_only: bool,
    /// Info sidecar detail: 0 title, 1 + description, 2 + comments (one API call per
    /// commented photo).
    #[arg(long, value_name = "N", default_value_t = config::DEFAULT_INFO_LEVEL, value_parser = clap::value_parser!(i32).range(0..=2))]
    pub info_level: i32,
    /// Check cached images (length, header, dimensions) and download bad ones again.
    #[arg(long)]
    pub verify_image: bool,
    /// Flickr REST endpoint (for the built-in emulator).
    #[arg(long, value_name = "URL", env = "FLICKR_API_URL")]
    pub api_url: Option<String>,
    /// Directory levels of the hashed tree (one hex character each).
    #[arg(long, value_name = "N", default_value_t = config::DEFAULT_DEPTH, value_parser = clap::value_parser!(u8).range(0..=8))]
    pub cache_directory_depth: u8,
    /// Concurrent image downloads.
    #[arg(long, value_name = "N", default_value_t = config::DEFAULT_CONCURRENCY, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Sweep the whole photostream in this run (finds deletions, photos made public in the
    /// middle, edits and replacements), whatever page 1 says.
    #[arg(long)]
    pub rescan: bool,
    /// Sweep the whole photostream when the last sweep is older than this (e.g. 12h, 1d, 7d).
    #[arg(long, value_name = "INTERVAL", default_value = config::DEFAULT_RESCAN_AFTER, value_parser = parse_interval)]
    pub rescan_after: Duration,
    /// API calls allowed per hour (Flickr allows about 3,600 per key).
    #[arg(long, value_name = "CALLS", default_value_t = config::DEFAULT_RATE_LIMIT, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit: u32,
}

impl CommonArgs {
    pub fn order(&self) -> Order {
        if self.fifo {
            Order::Fifo
        } else {
            Order::Lifo
        }
    }

    pub fn info_level(&self) -> Option<i32> {
        (!self.image_only).then_some(self.info_level)
    }

    /// The engine options these flags ask for (the mirror adds its own: limit, re-checks).
    pub fn sync_options(&self) -> crate::engine::SyncOptions {
        crate::engine::SyncOptions {
            order: self.order(),
            want_image: !self.info_only,
            info_level: self.info_level(),
            concurrency: self.concurrency as usize,
            verify_image: self.verify_image,
            rescan: self.rescan,
            rescan_after: self.rescan_after,
            ..crate::engine::SyncOptions::default()
        }
    }
}

/// `flickrfs mirror` and `mirror_flickr`.
#[derive(Args, Debug, Clone)]
pub struct MirrorArgs {
    /// Flickr user: username, NSID (12345678@N07) or photostream URL.
    #[arg(long, short = 'u', value_name = "USER")]
    pub username: String,
    #[command(flatten)]
    pub common: CommonArgs,
    /// Process at most N photos in this run.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Keep mirroring: look for new photos every INTERVAL (e.g. 30s, 10m, 1h) until stopped.
    #[arg(long, value_name = "INTERVAL", value_parser = parse_interval)]
    pub watch: Option<Duration>,
    /// Remove the files of photos deleted from Flickr (by default they are kept and their
    /// sidecars say `deleted_at`).
    #[arg(long)]
    pub prune_deleted: bool,
    /// Seconds after which a run looks at page 1 again for photos added while it ran.
    #[arg(long, hide = true, value_name = "SECS", default_value_t = config::RECHECK_AFTER.as_secs())]
    pub recheck_after: u64,
    /// Rebuild a damaged index from the files on disk and one listing: the old index is kept
    /// aside as index.sqlite.corrupt-<time>, and no cached image is downloaded again.
    #[arg(long)]
    pub rebuild_index: bool,
    /// Also (re)build the views as symlink trees in the cache: <user>/albums/<album>/,
    /// dates/<YYYY>/<MM>/ and tags/<tag>/, each replaced whole (albums cost
    /// ceil(albums/500) + ceil(size/500) calls per album).
    #[arg(long)]
    pub views: bool,
}

/// `flickrfs mount`.
#[derive(Args, Debug, Clone)]
pub struct MountArgs {
    /// Flickr user: username, NSID (12345678@N07) or photostream URL.
    pub user: String,
    /// An existing empty directory.
    pub mountpoint: PathBuf,
    #[command(flatten)]
    pub common: CommonArgs,
    /// Do not mirror in the background: fetch only what is read.
    #[arg(long)]
    pub no_prefetch: bool,
    /// HEAD requests (not API calls) kept in flight to learn the exact sizes of images not
    /// cached yet, in the background, and for a directory being listed (0: none in the
    /// background; a listing then still probes its entries together).
    #[arg(long, value_name = "N", default_value_t = config::DEFAULT_PROBE_CONCURRENCY, value_parser = clap::value_parser!(u16).range(0..=256))]
    pub probe_concurrency: u16,
    /// How often to look for new photos (e.g. 30s, 10m, 1h).
    #[arg(long, value_name = "INTERVAL", default_value = config::DEFAULT_REFRESH, value_parser = parse_interval)]
    pub refresh: Duration,
    /// List the whole photostream before mounting.
    #[arg(long)]
    pub wait_index: bool,
    /// The longest a file request waits for Flickr (the API rate limit, a download's first
    /// bytes): past it, it fails with EIO (logged, and counted in the status) instead of
    /// hanging the program that asked. E.g. 5s, 30s.
    #[arg(long, value_name = "INTERVAL", default_value = config::DEFAULT_FUSE_WAIT, value_parser = parse_interval)]
    pub fuse_wait: Duration,
    /// Let other users see the mount (needs user_allow_other in /etc/fuse.conf unless root).
    #[arg(long)]
    pub allow_other: bool,
    /// Run in the background once mounted (default: stay in the foreground).
    #[arg(long)]
    pub daemon: bool,
    /// No extended attributes (user.xdg.*, user.flickr.*): the kernel then stops asking for
    /// attributes on every `ls -l` entry.
    #[arg(long)]
    pub no_xattr: bool,
    /// Threads answering the kernel's requests (each lookup, read or listing holds one while
    /// it waits for the index or the disk).
    #[arg(long, value_name = "N", default_value_t = config::FUSE_THREADS as u64, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub fuse_threads: u64,
    /// Async worker threads (downloads, API calls, prefetching); default: one per core.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=256))]
    pub workers: Option<u64>,
}

/// `flickrfs unmount`.
#[derive(Args, Debug, Clone)]
pub struct UnmountArgs {
    pub mountpoint: PathBuf,
}

/// `flickrfs status`.
#[derive(Args, Debug, Clone)]
pub struct StatusArgs {
    /// One user (default: every user mirrored under the cache path).
    pub user: Option<String>,
    /// Cache directory.
    #[arg(long, value_name = "DIR", default_value_os_t = default_cache_path())]
    pub cache_path: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `flickrfs search`.
#[derive(Args, Debug, Clone)]
pub struct SearchArgs {
    /// Words to find in titles, descriptions and comments (accents optional; `word*` for a
    /// prefix).
    pub query: String,
    /// Search this user only (default: every user mirrored under the cache path).
    #[arg(long)]
    pub user: Option<String>,
    /// Only texts in this language (ISO 639: vie, fra, eng, or vi, fr, en).
    #[arg(long, value_name = "LOCALE")]
    pub locale: Option<String>,
    /// Cache directory.
    #[arg(long, value_name = "DIR", default_value_os_t = default_cache_path())]
    pub cache_path: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// At most this many photos.
    #[arg(long, value_name = "N", default_value_t = config::SEARCH_DEFAULT_LIMIT, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
}

/// `flickrfs demo`.
#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// An existing empty directory.
    pub mountpoint: PathBuf,
    /// Photos in the emulated stream.
    #[arg(long, default_value_t = 300)]
    pub photos: usize,
    /// Cache directory (default: a fresh temporary one, removed at exit).
    #[arg(long, value_name = "DIR")]
    pub cache_path: Option<PathBuf>,
}

/// `flickrfs` commands.
#[derive(Parser, Debug)]
#[command(
    name = "flickrfs",
    version,
    about = "A Flickr photostream as files: mirror it, or mount it read-only"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Mirror a photostream into the cache (resumable; --watch keeps it up to date).
    Mirror(MirrorArgs),
    /// Mount a photostream read-only (foreground; --daemon for background).
    Mount(MountArgs),
    /// Unmount a flickrfs mount.
    Unmount(UnmountArgs),
    /// What is mirrored: photos, images, infos, bytes, last sync, API calls, errors.
    Status(StatusArgs),
    /// Full-text search of titles, descriptions and comments (accent-insensitive).
    Search(SearchArgs),
    /// Mount an emulated photostream: the offline quick start.
    #[cfg(feature = "demo")]
    Demo(DemoArgs),
    /// Run the built-in Flickr emulator on 127.0.0.1 (tests, demo, benchmarks).
    #[cfg(feature = "demo")]
    Emulator(flickr_emulator::EmulatorArgs),
    /// Write a synthetic index of N photos (benchmarks of big streams).
    #[command(hide = true)]
    SynthIndex(SynthArgs),
}

/// `flickrfs synth-index`: a big cache in seconds, for benchmarks (hidden).
#[derive(Args, Debug)]
pub struct SynthArgs {
    /// Cache directory (as for mount).
    #[arg(long, value_name = "DIR")]
    pub cache_path: PathBuf,
    /// User name the cache is for (a mount finds it by this name, without an API call).
    #[arg(long)]
    pub username: String,
    /// Photos to index.
    #[arg(long)]
    pub photos: u64,
    /// Also write every photo's 1-byte image file into the hashed tree.
    #[arg(long)]
    pub files: bool,
    /// Directory levels of the hashed tree.
    #[arg(long, value_name = "N", default_value_t = config::DEFAULT_DEPTH, value_parser = clap::value_parser!(u8).range(0..=8))]
    pub cache_directory_depth: u8,
}

/// The classic `mirror_flickr` command line.
#[derive(Parser, Debug)]
#[command(
    name = "mirror_flickr",
    version,
    about = "Mirror a Flickr photostream into a local cache"
)]
pub struct ClassicCli {
    #[command(flatten)]
    pub args: MirrorArgs,
}

pub fn default_cache_path() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".flickr")
}

/// "90", "30s", "10m", "2h", "1d".
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid interval {s:?} (use e.g. 30s, 10m, 1h)"))?;
    let secs = match unit {
        "s" | "sec" => n,
        "m" | "min" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return Err(format!("invalid interval {s:?} (use e.g. 30s, 10m, 1h)")),
    };
    if secs == 0 {
        return Err("the interval must be at least 1s".into());
    }
    Ok(Duration::from_secs(secs))
}

/// Parses `args` like clap would, but prints a usage error as one line (`flickrfs: error: ...`)
/// and exits 2; help and version print normally and exit 0.
pub fn parse_or_exit<P: Parser>(name: &str) -> P {
    match P::try_parse() {
        Ok(p) => p,
        Err(e) => {
            use clap::error::ErrorKind;
            match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    std::process::exit(
                        if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                            2
                        } else {
                            0
                        },
                    );
                }
                _ => {
                    eprintln!(
                        "{name}: error: {} (see {name} --help)",
                        one_line(&e.render().to_string())
                    );
                    std::process::exit(2);
                }
            }
        }
    }
}

/// clap's usage error as one line. A first line ending in `:` is followed by what it is about
/// (the missing arguments, each indented on a line of its own): those join it, so that the
/// line names them.
fn one_line(rendered: &str) -> String {
    let mut lines = rendered.lines().skip_while(|l| l.trim().is_empty());
    let first = lines
        .next()
        .unwrap_or("invalid arguments")
        .trim()
        .trim_start_matches("error: ")
        .to_string();
    if !first.ends_with(':') {
        return first;
    }
    let what: Vec<&str> = lines
        .take_while(|l| l.starts_with(char::is_whitespace) && !l.trim().is_empty())
        .map(str::trim)
        .collect();
    format!("{first} {}", what.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_argument_is_named() {
        let e = Cli::try_parse_from(["flickrfs", "mount"]).unwrap_err();
        let line = one_line(&e.render().to_string());
        assert!(line.contains("<USER>"), "{line}");
        assert!(line.contains("<MOUNTPOINT>"), "{line}");
        assert!(!line.contains('\n'));
        let e = Cli::try_parse_from(["flickrfs", "mirror", "--bogus"]).unwrap_err();
        let line = one_line(&e.render().to_string());
        assert!(line.contains("--bogus"), "{line}");
    }

    #[test]
    fn thread_counts_are_set_and_checked() {
        let cli = Cli::try_parse_from([
            "flickrfs",
            "mount",
            "u",
            "/m",
            "--fuse-threads",
            "8",
            "--workers",
            "3",
        ])
        .unwrap();
        let Command::Mount(m) = cli.command else {
            panic!("not a mount")
        };
        assert_eq!((m.fuse_threads, m.workers), (8, Some(3)));
        let cli = Cli::try_parse_from(["flickrfs", "mount", "u", "/m"]).unwrap();
        let Command::Mount(m) = cli.command else {
            panic!("not a mount")
        };
        assert_eq!(m.fuse_threads, config::FUSE_THREADS as u64);
        assert_eq!(m.workers, None);
        let e = Cli::try_parse_from(["flickrfs", "mount", "u", "/m", "--fuse-threads", "0"])
            .unwrap_err();
        let line = one_line(&e.render().to_string());
        assert!(line.contains("--fuse-threads"), "{line}");
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_interval("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_interval("1h").unwrap(), Duration::from_secs(3600));
        assert!(parse_interval("0").is_err());
        assert!(parse_interval("ten").is_err());
        assert!(parse_interval("5y").is_err());
    }

    #[test]
    fn conflicting_flags_are_refused() {
        let r =
            ClassicCli::try_parse_from(["mirror_flickr", "--username", "u", "--fifo", "--lifo"]);
        assert!(r.is_err());
        let r = ClassicCli::try_parse_from([
            "mirror_flickr",
            "--username",
            "u",
            "--image-only",
            "--info-only",
        ]);
        assert!(r.is_err());
        let r =
            ClassicCli::try_parse_from(["mirror_flickr", "--username", "u", "--info-level", "3"]);
        assert!(r.is_err());
        let ok =
            ClassicCli::try_parse_from(["mirror_flickr", "--username", "u", "--fifo"]).unwrap();
        assert_eq!(ok.args.common.order(), Order::Fifo);
    }
}
