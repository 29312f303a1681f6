//! flickrfs: a Flickr user's public photostream as files, mirrored (`mirror`) or mounted (`mount`).
//!
//! Layers (data flows down, nothing calls up): `cli` -> `fuse` -> `fs` -> `sync` -> `index` /
//! `store` -> `flickr` -> `label`. `emulator` is a self-contained Flickr stand-in for tests,
//! the demo and benchmarks.

pub mod app;
pub mod cli;
pub mod demo;
pub mod emulator;
pub mod flickr;
pub mod fs;
pub mod fuse;
pub mod imageinfo;
pub mod index;
pub mod keys;
pub mod label;
pub mod logging;
pub mod mirror;
pub mod mount;
pub mod search;
pub mod search_cmd;
pub mod sidecar;
pub mod status;
pub mod store;
pub mod sync;
pub mod timefmt;
