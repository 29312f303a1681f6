//! flickrfs: a Flickr user's public photostream as files, mirrored (`mirror`) or mounted
//! (`mount`), both filling the same on-disk cache.
//!
//! Layers, top to bottom; a module calls only modules below it, never up or in circles:
//!
//! ```text
//! cmd      one file per command, the clap arguments and the bootstrap (runtime, keys, client)
//! fuse     the fuser adapter: argument conversion, replies, passthrough, errno, logging once
//! fs       FlickrFs without a kernel: inodes, the in-memory tree, attributes, handles, views
//! engine   shared by mount and mirror: listing, planner, scheduler, fetch, download, sidecar
//! cache    the files (atomic writes, partial files, cleanup) and the index (db/: SQLite)
//! flickr   the REST client: typed errors, lenient parsing, retries, rate limit, counters
//! lang     language detection and labels;  photo  the domain types and the hashed path
//! config   every default and tunable;  retry  back-off with jitter;  timefmt  dates as text
//! views    names, directories and link targets of albums/, dates/ and tags/ (pure)
//! ```
//!
//! The Flickr emulator used by the tests, the demo and the benchmarks is its own crate
//! (`crates/flickr-emulator`), linked only with the default `demo` feature.

pub mod cache;
pub mod cmd;
pub mod config;
pub mod engine;
pub mod flickr;
pub mod fs;
pub mod fuse;
pub mod lang;
pub mod photo;
pub mod retry;
pub mod timefmt;
pub mod views;
